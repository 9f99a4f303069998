// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-check: the VM tests' checks. A test script (tests/vm/*.sh) starts the processes and
// collects their data into files; `axrt-check TEST ...` reads them, computes the figures,
// compares them with the thresholds (here, each with the reason it has), and prints the notes
// and one `PASS: name` / `FAIL: name: why` line per check, appending the PASS/FAIL lines to
// $AXRT_OUT/results as the scripts' own checks do. Two helpers serve the scripts' data
// collection: `cg-snapshot` (cgroup CPU time at a moment) and `has-tasks` (a condition to wait
// for). Exit status: 0 every check passed, 1 one failed, 2 bad arguments.

mod background;
mod boosts;
mod budgets;
mod cgroup;
mod data;
mod deadlines;
mod preempted;
mod priority;
mod reserve;
mod validate;
mod verdict;
mod vmload;
mod workcons;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use verdict::Verdicts;

/// Command-line options (see `--help`).
#[derive(Debug, Parser)]
#[command(
    name = "axrt-check",
    version,
    about = "The scx_axrt VM tests' checks over the data the test scripts collect"
)]
struct Cli {
    /// Append the PASS/FAIL lines here (default: $AXRT_OUT/results when AXRT_OUT is set)
    #[arg(long, global = true, value_name = "FILE")]
    results: Option<PathBuf>,
    /// Append the notes (measured figures) here
    #[arg(long, global = true, value_name = "FILE")]
    notes: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Prints the CPU time (cpu.stat usage_usec) of cgroups and the monotonic time, as JSON
    CgSnapshot {
        /// The cgroup2 mount
        #[arg(long, default_value = "/sys/fs/cgroup")]
        root: PathBuf,
        /// Cgroups, as paths below the root
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Exits 0 when the last --stats report of a scx_axrt log lists every named thread
    HasTasks {
        /// scx_axrt's log (--stats --json)
        #[arg(long)]
        stats: PathBuf,
        /// Thread names, VM/comm
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// tests/vm/budgets.sh: per-VM budgets and throttles
    Budgets(budgets::Args),
    /// tests/vm/background.sh: the background overrun mode
    Background(background::Args),
    /// tests/vm/reserve.sh: the starvation reserve
    Reserve(reserve::Args),
    /// tests/vm/priority.sh: a high-priority periodic thread's wakeup latency next to hogs
    Priority(priority::Args),
    /// tests/vm/deadlines.sh: jobs, misses, WCET overruns, supply misses, the event stream
    Deadlines(deadlines::Args),
    /// tests/vm/vmload.sh: axrt-vmload's micro-VMs
    Vmload(vmload::Args),
    /// tests/vm/validate.sh: the validation suite's results.json
    Validate(validate::Args),
    /// tests/vm/boosts.sh: directed yields, lock chains, deadlocks, the PI-futex benchmark
    Boosts(boosts::Args),
    /// tests/vm/workcons.sh: no CPU idles while a runnable task allowed there waits
    Workcons(workcons::Args),
    /// tests/vm/budget_preempted.sh: a budget that holds while a better VM preempts
    Preempted(preempted::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (prefix, v): (&str, Verdicts) = match &cli.cmd {
        Cmd::CgSnapshot { root, groups } => {
            return match cgroup::take(root, groups) {
                Ok(s) => {
                    println!(
                        "{}",
                        serde_json::to_string(&s).expect("a snapshot serialises")
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("axrt-check: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Cmd::HasTasks { stats, names } => return has_tasks(stats, names),
        Cmd::Budgets(a) => ("budgets", budgets::run(a)),
        Cmd::Background(a) => ("background", background::run(a)),
        Cmd::Reserve(a) => ("reserve", reserve::run(a)),
        Cmd::Priority(a) => ("priority", priority::run(a)),
        Cmd::Deadlines(a) => ("deadlines", deadlines::run(a)),
        Cmd::Vmload(a) => ("vmload", vmload::run(a)),
        Cmd::Validate(a) => ("validate", validate::run(a)),
        Cmd::Boosts(a) => ("boosts", boosts::run(a)),
        Cmd::Workcons(a) => ("workcons", workcons::run(a)),
        Cmd::Preempted(a) => ("preempted", preempted::run(a)),
    };
    let results = cli
        .results
        .or_else(|| std::env::var_os("AXRT_OUT").map(|d| Path::new(&d).join("results")));
    if let Err(e) = v.emit(prefix, results.as_deref(), cli.notes.as_deref()) {
        eprintln!("axrt-check: writing the results: {e}");
        return ExitCode::from(2);
    }
    if v.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `has-tasks`: whether the last interval report lists every name.
fn has_tasks(stats: &Path, names: &[String]) -> ExitCode {
    let last = data::interval_reports(stats)
        .ok()
        .and_then(|r| r.last().cloned());
    let listed = last.is_some_and(|r| names.iter().all(|n| r.tasks.iter().any(|t| &t.name == n)));
    if listed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
