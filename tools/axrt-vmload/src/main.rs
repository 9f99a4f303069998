// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-vmload: KVM micro-guest workload generator. Entry point: parses the command line, runs
// the VMs (x86_64 hosts only), prints the per-vCPU table and writes the JSON document. Exit
// status 0 done, 1 runtime failure, 2 usage error; errors are one line on stderr.

use std::process::exit;

use clap::error::ErrorKind;
use clap::Parser;

use axrt_vmload::{cli, guest_code};
#[cfg(target_arch = "x86_64")]
use axrt_vmload::{launcher, report};

fn usage_error(message: &str) -> ! {
    eprintln!("axrt-vmload: {message} (see --help)");
    exit(2)
}

fn main() {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            exit(0)
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("bad arguments");
            usage_error(first.trim_start_matches("error: "))
        }
    };
    if let Some(w) = cli.show_guest {
        let program = match w {
            cli::Workload::Periodic => guest_code::PERIODIC,
            cli::Workload::Hog => guest_code::HOG,
            cli::Workload::Halt => guest_code::HALT,
            cli::Workload::Lock => guest_code::LOCK,
        };
        print!("{}", guest_code::listing(program));
        exit(0)
    }
    let plan = cli.plan().unwrap_or_else(|e| usage_error(&e));
    exit(run(&plan))
}

#[cfg(target_arch = "x86_64")]
fn run(plan: &cli::RunPlan) -> i32 {
    let report = match launcher::run(plan) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("axrt-vmload: {e:#}");
            return 1;
        }
    };
    if !report.vms.is_empty() {
        print!("{}", report::table(&report));
    }
    let mut status = 0;
    for e in &report.errors {
        eprintln!("axrt-vmload: {e}");
        status = 1;
    }
    if let Some(path) = &plan.json {
        let json = serde_json::to_string_pretty(&report).expect("the report serialises");
        if let Err(e) = std::fs::write(path, json + "\n") {
            eprintln!("axrt-vmload: {}: {e}", path.display());
            status = 1;
        }
    }
    status
}

#[cfg(not(target_arch = "x86_64"))]
fn run(_plan: &cli::RunPlan) -> i32 {
    eprintln!("axrt-vmload: needs an x86_64 host (its guests are x86 real-mode code)");
    1
}
