// SPDX-License-Identifier: GPL-2.0-only
//
// main.rs - entry point of scx_axrt: parse the command line, refuse early when sched_ext is
// missing or taken, then load the BPF tier and keep it attached until SIGINT/SIGTERM or until
// the kernel ends it, reloading when the kernel asks for a restart.

//! `scx_axrt`: the user-space tier of the AxRT sched_ext scheduler.

mod bpf_intf;
mod bpf_skel;
mod cli;
mod exit;
mod logger;
mod preflight;
mod sched;

use std::io::Write;
use std::mem::MaybeUninit;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use clap::Parser;

use crate::cli::Opts;
use crate::sched::{Scheduler, OPS_NAME};

fn main() -> ExitCode {
    let opts = Opts::parse();
    logger::init(opts.verbose);

    if let Err(refusal) = preflight::check(Path::new(preflight::SYSFS_ROOT)) {
        eprintln!("{refusal}");
        return ExitCode::FAILURE;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("scx_axrt: cannot install the SIGINT/SIGTERM handler: {e}; nothing was loaded");
        return ExitCode::FAILURE;
    }

    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = match Scheduler::load(&opts, &mut open_object) {
            Ok(sched) => sched,
            Err(e) => {
                eprintln!("scx_axrt: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        announce(&opts);

        let info = match sched.run(&stop) {
            Ok(info) => info,
            Err(e) => {
                eprintln!("scx_axrt: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        drop(sched);

        if info.restart && !stop.load(Ordering::Relaxed) {
            println!("scx_axrt: restarting: {}", info.describe());
            continue;
        }
        if let Some(dump) = &info.dump {
            eprintln!("scx_axrt: kernel debug dump follows\n{}", dump.trim_end());
        }
        if info.is_empty() {
            println!("scx_axrt: exited: detached (the kernel recorded no exit reason)");
        } else {
            println!("scx_axrt: exited: {}", info.describe());
        }
        let _ = std::io::stdout().flush();
        return ExitCode::from(info.status());
    }
}

/// Prints the line that says the scheduler is in charge (tests wait for it), and flushes it.
fn announce(opts: &Opts) {
    let read = |path: String| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let ops = read(format!("{}/root/ops", preflight::SYSFS_ROOT)).unwrap_or(OPS_NAME.into());
    let kernel = read("/proc/sys/kernel/osrelease".into()).unwrap_or("unknown".into());
    println!("scx_axrt: active (ops {ops}, kernel {kernel})");
    if opts.verbose {
        eprintln!("scx_axrt: slice {} us", opts.slice_us);
    }
    let _ = std::io::stdout().flush();
}
