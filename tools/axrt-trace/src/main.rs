// SPDX-License-Identifier: GPL-2.0-only
//
// main.rs - the axrt-trace command: record (summary or trace mode) and print the table, or
// `check`, the assertions the VM tests make about a recording.

//! `axrt-trace`: how every KVM vCPU thread was treated.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use axrt_trace::check::{self, Verdicts};
use axrt_trace::decisions::EVENTS_SOCKET;
use axrt_trace::record::{record, RecordOpts};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Aggregate in the kernel; nothing goes through the ring (safe to leave on).
    Summary,
    /// Also stream every state change of the chosen VMs (for --perfetto).
    Trace,
}

#[derive(Parser, Debug)]
#[command(
    name = "axrt-trace",
    version,
    about = "How every KVM vCPU thread was treated: states, exits, waits, preemptors and scx_axrt's decisions"
)]
struct Cli {
    #[command(subcommand)]
    check: Option<Check>,
    /// summary or trace.
    #[arg(long, value_enum, default_value = "summary")]
    mode: Mode,
    /// Stop after this many seconds (default: at Ctrl-C / SIGTERM).
    #[arg(long)]
    duration_s: Option<f64>,
    /// How often the maps are read and the progress line printed, s.
    #[arg(long, default_value_t = 1.0)]
    interval_s: f64,
    /// Trace mode: only this VM (repeatable; default: all).
    #[arg(long = "vm")]
    vms: Vec<String>,
    /// scx_axrt's configuration: VMs are named like scx_axrt names them.
    #[arg(long, short = 'c')]
    config: Option<PathBuf>,
    /// Write the summary as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Trace mode: write a Perfetto trace (open it in ui.perfetto.dev).
    #[arg(long)]
    perfetto: Option<PathBuf>,
    /// Write SVG plots (latency CDFs per VM, state breakdown).
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No progress line.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Trace mode: ring buffer size, MiB.
    #[arg(long, default_value_t = 16)]
    ring_mb: u32,
    /// scx_axrt's event socket.
    #[arg(long, default_value = EVENTS_SOCKET)]
    events_socket: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Check {
    /// Assertions about a recording (the VM tests'); PASS/FAIL lines, exit 1 on a failure.
    Check {
        /// The recording's --json.
        #[arg(long)]
        summary: PathBuf,
        /// axrt-vmload's --json of the same run: exits against the guest's own.
        #[arg(long)]
        vmload: Option<PathBuf>,
        /// `perf kvm stat report` output of the same run: exits per reason.
        #[arg(long)]
        perf_report: Option<PathBuf>,
        /// `perf stat -x,` counts of kvm:kvm_exit of the same run: all, then --perf-stat-reasons.
        #[arg(long)]
        perf_stat: Option<PathBuf>,
        /// The exit reasons of --perf-stat's filtered counts, in order (comma-separated).
        #[arg(long, value_delimiter = ',')]
        perf_stat_reasons: Vec<String>,
        /// VM whose vCPUs waited behind a hog: runnable wait against run_delay.
        #[arg(long)]
        wait_vm: Option<String>,
        /// ... waiting at least this % of the time.
        #[arg(long, default_value_t = 20.0)]
        min_wait_pct: f64,
        /// ... matching run_delay within this %.
        #[arg(long, default_value_t = 5.0)]
        wait_tolerance_pct: f64,
        /// VM whose vCPUs halt with duty --duty-pct: halted about (1 - duty).
        #[arg(long)]
        halt_vm: Option<String>,
        /// ... its duty, %.
        #[arg(long, default_value_t = 30.0)]
        duty_pct: f64,
        /// ... tolerance, points.
        #[arg(long, default_value_t = 8.0)]
        halt_tolerance_pts: f64,
        /// Trace mode: nothing was dropped.
        #[arg(long)]
        no_drops: bool,
        /// A Perfetto trace of the same recording, decoded with Perfetto's own schema.
        #[arg(long)]
        perfetto: Option<PathBuf>,
        /// ... whose VM was throttled by scx_axrt: throttles and waits on one timeline.
        #[arg(long)]
        throttled_vm: Option<String>,
    },
}

fn run_check(c: Check) -> anyhow::Result<Verdicts> {
    let Check::Check {
        summary,
        vmload,
        perf_report,
        perf_stat,
        perf_stat_reasons,
        wait_vm,
        min_wait_pct,
        wait_tolerance_pct,
        halt_vm,
        duty_pct,
        halt_tolerance_pts,
        no_drops,
        perfetto,
        throttled_vm,
    } = c;
    let s = check::load_summary(&summary)?;
    let mut v = Verdicts::default();
    if let Some(p) = vmload {
        check::exits(&s, &p, &mut v)?;
    }
    if let Some(p) = perf_report {
        check::perf(&s, &p, &mut v)?;
    }
    if let Some(p) = perf_stat {
        check::perf_stat(&s, &p, &perf_stat_reasons, &mut v)?;
    }
    if let Some(vm) = wait_vm {
        check::waits(&s, &vm, min_wait_pct, wait_tolerance_pct, &mut v);
    }
    if let Some(vm) = halt_vm {
        check::halted(&s, &vm, duty_pct, halt_tolerance_pts, &mut v);
    }
    if no_drops {
        check::no_drops(&s, &mut v);
    }
    if let Some(p) = perfetto {
        perfetto_checks(&s, &p, throttled_vm.as_deref(), &mut v)?;
    }
    Ok(v)
}

#[cfg(feature = "perfetto-check")]
fn perfetto_checks(
    s: &axrt_trace::model::Summary,
    p: &std::path::Path,
    throttled: Option<&str>,
    v: &mut Verdicts,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(p)?;
    let t = axrt_trace::perfetto_check::Decoded::parse(&bytes)?;
    t.matches_summary(s, v);
    if let Some(vm) = throttled {
        t.throttles_and_waits(s, vm, v);
    }
    Ok(())
}

#[cfg(not(feature = "perfetto-check"))]
fn perfetto_checks(
    _: &axrt_trace::model::Summary,
    _: &std::path::Path,
    _: Option<&str>,
    _: &mut Verdicts,
) -> anyhow::Result<()> {
    anyhow::bail!("this axrt-trace is built without the perfetto-check feature")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(c) = cli.check {
        return match run_check(c) {
            Ok(v) => {
                for l in &v.lines {
                    println!("{l}");
                }
                if v.failed == 0 {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("axrt-trace: check: {e:#}");
                ExitCode::from(2)
            }
        };
    }
    if cli.perfetto.is_some() && cli.mode != Mode::Trace {
        eprintln!("axrt-trace: --perfetto needs --mode trace (summary mode streams nothing)");
        return ExitCode::from(2);
    }
    if cli.interval_s <= 0.0 || cli.duration_s.is_some_and(|d| d <= 0.0) {
        eprintln!("axrt-trace: --interval-s and --duration-s must be positive");
        return ExitCode::from(2);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("axrt-trace: cannot install the SIGINT/SIGTERM handler: {e}");
        return ExitCode::FAILURE;
    }
    let opts = RecordOpts {
        trace: cli.mode == Mode::Trace,
        duration: cli.duration_s.map(Duration::from_secs_f64),
        interval: Duration::from_secs_f64(cli.interval_s),
        vms: cli.vms,
        config: cli.config,
        json: cli.json,
        perfetto: cli.perfetto,
        svg: cli.svg,
        quiet: cli.quiet,
        ring_mb: cli.ring_mb,
        events_socket: cli.events_socket,
    };
    match record(&opts, stop) {
        Ok(s) => {
            print!("{}", axrt_trace::report::table(&s));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("axrt-trace: {e:#}");
            ExitCode::FAILURE
        }
    }
}
