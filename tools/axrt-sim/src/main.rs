// SPDX-License-Identifier: GPL-2.0-only
//
// main.rs - the axrt-sim command line: `run` (a workload under the chosen schedulers),
// `seed` (the seed's RR-versus-joint experiment), `crosscheck` (a real run against the
// simulation), `replay` (a real run's events through the AxRT system), `bpf-stats` and `fit` (the overhead model from BPF program statistics) and
// `place` (rt-app's threads into their taskgroup cgroups, in the test VM).

//! `axrt-sim`: the AxRT policies on rt-app workloads, in virtual time.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use axrt_sim::engine::{Options, Overhead};
use axrt_sim::scenario::{Scenario, MS};
use axrt_sim::workload::Workload;
use axrt_sim::{crosscheck, experiment, metrics, output, overhead, place, replay, sched};
use scx_axrt::config::Config;

#[derive(Parser)]
#[command(name = "axrt-sim", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Runs a workload under each scheduler and prints the summary and VM shares.
    Run(RunArgs),
    /// The seed's experiment: round robin against the joint policy at 100 % and 150 % load.
    Seed {
        /// Where to write the tables, CSV files and plots.
        #[arg(long, default_value = "target/axrt-sim/seed")]
        out: PathBuf,
        /// Simulated seconds per run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Compares a real run (rt-app logs and VM CPU usage) with the AxRT system's simulation
    /// of the same files; prints the table and PASS/FAIL lines, exits 1 on a failure.
    Crosscheck(crosscheck::Args),
    /// Replays a scx_axrt run (its --events file, axrt.toml and --stats totals) through the
    /// AxRT system and compares throttles, windows and misses per budgeted VM; prints the
    /// table and PASS/FAIL lines, exits 1 on a failure.
    Replay(replay::Args),
    /// Prints the run-time statistics of the loaded BPF programs (needs
    /// kernel.bpf_stats_enabled=1) as JSON.
    BpfStats {
        /// Only programs whose name starts with this.
        #[arg(long, default_value = "axrt_")]
        prefix: String,
    },
    /// Fits the overhead model from two `bpf-stats` snapshots taken around a run.
    Fit {
        /// The snapshot before.
        before: PathBuf,
        /// The snapshot after.
        after: PathBuf,
    },
    /// Moves the threads of rt-app process PID into their tasks' taskgroup cgroups (threaded
    /// cgroups below a common parent) and prints when it was done.
    Place(place::Args),
    /// Prints every thread's CPU time so far (/proc/*/task/*/schedstat, ns) as JSON: two
    /// snapshots around a run give the host threads' CPU to `crosscheck`.
    CpuSnapshot,
}

/// The overhead model's parameters.
#[derive(Args, Clone, Copy)]
struct ModelArgs {
    /// Cost of one scheduler call, ns (default: fitted in the x86_64 test VM).
    #[arg(long, default_value_t = overhead::FITTED.decision)]
    decision_ns: u64,
    /// Cost of one context switch, ns (default: fitted in the x86_64 test VM).
    #[arg(long, default_value_t = overhead::FITTED.switch)]
    switch_ns: u64,
}

impl ModelArgs {
    fn overhead(self) -> Overhead {
        Overhead {
            decision: self.decision_ns,
            switch: self.switch_ns,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    /// The rt-app workload (JSON).
    workload: PathBuf,
    /// The scx_axrt configuration (axrt.toml); without it every thread is in the host group.
    #[arg(short, long)]
    config: Option<PathBuf>,
    /// CPUs.
    #[arg(long, default_value_t = 2)]
    cpus: usize,
    /// Schedulers, comma-separated, or "all" (fifo, rr, fair, edf, joint, rt, axrt).
    #[arg(long, default_value = "all")]
    sched: String,
    /// Simulated time in ms (default: the workload's global.duration).
    #[arg(long)]
    duration_ms: Option<u64>,
    /// Multiplies every `run` event's work (a CPU slower than calibrated: > 1).
    #[arg(long, default_value_t = 1.0)]
    work_scale: f64,
    /// Drop the rest of a job's work at its deadline (default: late jobs run to completion).
    #[arg(long)]
    abort_late: bool,
    /// Where to write summary.md, shares.md, response.svg and per scheduler jobs.csv, the
    /// rt-app logs (logs/) and, with --events, events.csv.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Also write every event (events.csv; large for long runs).
    #[arg(long)]
    events: bool,
    #[command(flatten)]
    model: ModelArgs,
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("axrt-sim: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode> {
    match Cli::parse().cmd {
        Cmd::Run(a) => run(a).map(|_| ExitCode::SUCCESS),
        Cmd::Seed {
            out,
            seconds,
            model,
        } => {
            let report = experiment::run(&out, seconds, model.overhead())?;
            print!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Crosscheck(a) => crosscheck::run(&a),
        Cmd::Replay(a) => replay::run(&a),
        Cmd::BpfStats { prefix } => {
            println!("{}", overhead::snapshot_json(&prefix)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Fit { before, after } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let fit = overhead::fit(&read(&before)?, &read(&after)?)?;
            print!("{fit}");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Place(a) => place::run(&a).map(|_| ExitCode::SUCCESS),
        Cmd::CpuSnapshot => {
            println!("{}", serde_json::to_string(&place::cpu_snapshot()?)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Loads the workload and the configuration for `cpus` CPUs (errors name file, line, field).
fn load(workload: &Path, config: Option<&PathBuf>, cpus: usize) -> Result<(Workload, Config)> {
    let w = Workload::load(workload)?;
    let c = match config {
        Some(p) => Config::load(p, cpus)?,
        None => Config::host_only(cpus),
    };
    Ok((w, c))
}

fn run(a: RunArgs) -> Result<()> {
    let (w, c) = load(&a.workload, a.config.as_ref(), a.cpus)?;
    let sc = Scenario::build(&w, &c, a.cpus, a.duration_ms.map(|d| d * MS), a.work_scale)?;
    let names: Vec<&str> = if a.sched == "all" {
        sched::SCHEDULERS.to_vec()
    } else {
        a.sched.split(',').map(str::trim).collect()
    };
    let opt = Options {
        overhead: a.model.overhead(),
        abort_late: a.abort_late,
        logs: a.out.is_some(),
        events: a.events,
    };
    let mut runs = Vec::new();
    let mut summaries = Vec::new();
    for name in names {
        let r = axrt_sim::engine::run(&sc, sched::build(name, &sc)?, opt);
        summaries.push(metrics::summarize(&sc, &r));
        runs.push(r);
    }
    let table = output::summary_table(&summaries);
    let shares = output::share_table(&summaries);
    println!(
        "{} threads on {} CPUs, {} ms simulated; overhead model: {} ns per decision, {} ns per switch\n",
        sc.threads.len(),
        sc.cpus,
        sc.duration / MS,
        opt.overhead.decision,
        opt.overhead.switch
    );
    println!("{table}\n{shares}");
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("summary.md"), &table)?;
        std::fs::write(dir.join("shares.md"), &shares)?;
        let title = format!("{}: response times", a.workload.display());
        std::fs::write(
            dir.join("response.svg"),
            output::response_svg(&title, &runs),
        )?;
        for r in &runs {
            let d = dir.join(&r.sched);
            output::write_logs(&d.join("logs"), &sc, r)?;
            std::fs::write(d.join("jobs.csv"), output::jobs_csv(&sc, r))?;
            if a.events {
                std::fs::write(d.join("events.csv"), output::events_csv(&sc, r))?;
            }
        }
        println!("written to {}", dir.display());
    }
    Ok(())
}
