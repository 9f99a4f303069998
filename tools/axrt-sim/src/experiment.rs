// SPDX-License-Identifier: GPL-2.0-only
//
// experiment.rs - the seed's experiment (seed 003: "at 150 % load the joint RR + EDF/WFQ
// scheduler cuts scheduling overhead by ~10 % and raises CPU utilisation by ~20 % against
// round robin"), stated so that it can be checked:
//
// * the machine: one CPU; the workload, an rt-app file written out with the results: two
//   latency-sensitive threads ("ls": 0.5 ms of work every 10 ms, deadline 5 ms from an
//   axrt.toml [[task]] rule) and four CPU-bound threads ("cb": C ms every 100 ms, deadline the
//   period), with absolute timers so the offered load really is 10 % + 4 C % whatever happens:
//   C = 22.5 ms gives 100 %, C = 35 ms gives 150 %;
// * the terms: busy time is ~100 % under every scheduler once demand exceeds the CPU, so
//   "utilisation" is measured as goodput (work of jobs that met their deadline, % of the CPU);
//   "overhead" is the modelled scheduler time (decisions and switches, % of the CPU);
// * two ways of treating late jobs: run to completion (the default: a late job still delays
//   the next ones) and aborted at the deadline (`--abort-late`, as SimSo does by default).
//
// The report gives every figure and the two ratios the seed names, whatever they turn out to be.

//! The seed's RR-versus-joint experiment.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use scx_axrt::config::Config;

use crate::engine::{self, Options, Overhead};
use crate::metrics::{self, quantile, RunResult, Summary};
use crate::output;
use crate::scenario::{Scenario, MS};
use crate::sched;
use crate::workload::Workload;

/// The schedulers compared (round robin and joint are the seed's; the others give context).
pub const SCHEDULERS: [&str; 5] = ["rr", "joint", "fair", "edf", "axrt"];

/// The configuration: the two classes as VMs, the latency-sensitive threads' contract.
pub const CONFIG: &str = r#"# The seed experiment's classes (axrt-sim seed).
[[vm]]
name = "ls"
cgroup = "seed/ls"
priority = 10

[[vm]]
name = "cb"
cgroup = "seed/cb"
priority = 100

[[task]]
vm = "ls"
comm = "ls"
period_us = 10000
deadline_us = 5000
wcet_us = 500
"#;

/// The workload with CPU-bound jobs of `cb_us` per 100 ms, for `seconds`.
pub fn workload_json(cb_us: u64, seconds: u64) -> String {
    format!(
        r#"{{
  "global": {{ "duration": {seconds}, "calibration": "CPU0", "default_policy": "SCHED_OTHER",
              "logdir": "./", "log_basename": "seed" }},
  "tasks": {{
    "ls": {{ "instance": 2, "taskgroup": "/seed/ls", "delay": 0,
            "run": 500, "timer": {{ "ref": "unique", "period": 10000, "mode": "absolute" }} }},
    "cb": {{ "instance": 4, "taskgroup": "/seed/cb", "delay": 1000,
            "run": {cb_us}, "timer": {{ "ref": "unique", "period": 100000, "mode": "absolute" }} }}
  }}
}}
"#
    )
}

/// Figures of one run for the report.
struct Line {
    load: u32,
    abort: bool,
    s: Summary,
    ls_miss: f64,
    cb_miss: f64,
    ls_p99: f64,
    switches_per_s: f64,
}

fn class_figures(sc: &Scenario, r: &RunResult, vm: &str) -> (f64, Vec<u64>) {
    let jobs: Vec<_> = r
        .jobs
        .iter()
        .filter(|j| sc.vm_name(sc.threads[j.thread].vm) == vm)
        .collect();
    let miss = jobs.iter().filter(|j| j.missed()).count() as f64 / jobs.len().max(1) as f64;
    let mut resp: Vec<u64> = jobs.iter().filter_map(|j| j.response()).collect();
    resp.sort_unstable();
    (miss, resp)
}

/// Runs the experiment, writes its files under `out` and returns the report (markdown).
pub fn run(out: &Path, seconds: u64, overhead: Overhead) -> Result<String> {
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("seed.toml"), CONFIG)?;
    let config = Config::parse(CONFIG, "seed.toml", 1)?;
    let mut lines = Vec::new();
    for (load, cb_us) in [(100u32, 22_500u64), (150, 35_000)] {
        let text = workload_json(cb_us, seconds);
        let file = format!("seed-{load}.json");
        std::fs::write(out.join(&file), &text)?;
        let w = Workload::parse(&text, &file)?;
        let sc = Scenario::build(&w, &config, 1, None, 1.0)?;
        for abort in [false, true] {
            let mut runs = Vec::new();
            for name in SCHEDULERS {
                let opt = Options {
                    overhead,
                    abort_late: abort,
                    logs: false,
                    events: false,
                };
                let r = engine::run(&sc, sched::build(name, &sc)?, opt);
                let s = metrics::summarize(&sc, &r);
                let (ls_miss, ls_resp) = class_figures(&sc, &r, "ls");
                let (cb_miss, _) = class_figures(&sc, &r, "cb");
                lines.push(Line {
                    load,
                    abort,
                    ls_miss,
                    cb_miss,
                    ls_p99: quantile(&ls_resp, 0.99) as f64 / MS as f64,
                    switches_per_s: s.switches as f64 / seconds as f64,
                    s,
                });
                runs.push(r);
            }
            let tag = if abort { "abort" } else { "complete" };
            let title = format!("seed experiment, {load} % load, late jobs {tag}d");
            std::fs::write(
                out.join(format!("response-{load}-{tag}.svg")),
                output::response_svg(&title, &runs),
            )?;
            for r in &runs {
                std::fs::write(
                    out.join(format!("jobs-{load}-{tag}-{}.csv", r.sched)),
                    output::jobs_csv(&sc, r),
                )?;
            }
        }
    }
    let report = report(&lines, seconds, overhead);
    std::fs::write(out.join("report.md"), &report)?;
    Ok(report)
}

fn report(lines: &[Line], seconds: u64, o: Overhead) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "1 CPU, {seconds} s simulated per run, overhead model {} ns per decision and {} ns per switch.\n",
        o.decision, o.switch
    );
    s.push_str("| load | late jobs | scheduler | ls misses | cb misses | ls p99 response | goodput | busy | overhead | switches/s |\n");
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for l in lines {
        let _ = writeln!(
            s,
            "| {} % | {} | {} | {:.1} % | {:.1} % | {:.2} ms | {:.1} % | {:.1} % | {:.3} % | {:.0} |",
            l.load,
            if l.abort { "aborted" } else { "completed" },
            l.s.sched,
            100.0 * l.ls_miss,
            100.0 * l.cb_miss,
            l.ls_p99,
            l.s.goodput_pct,
            l.s.busy_pct,
            l.s.overhead_pct,
            l.switches_per_s
        );
    }
    s.push('\n');
    for load in [100, 150] {
        for abort in [false, true] {
            let find = |name: &str| {
                lines
                    .iter()
                    .find(|l| l.load == load && l.abort == abort && l.s.sched == name)
            };
            if let (Some(rr), Some(j)) = (find("rr"), find("joint")) {
                let _ = writeln!(
                    s,
                    "- {load} % load, late jobs {}: joint / rr overhead {:.2}x ({:.3} % vs {:.3} %), goodput {:.2}x ({:.1} % vs {:.1} %)",
                    if abort { "aborted" } else { "completed" },
                    j.s.overhead_pct / rr.s.overhead_pct.max(1e-12),
                    j.s.overhead_pct,
                    rr.s.overhead_pct,
                    j.s.goodput_pct / rr.s.goodput_pct.max(1e-12),
                    j.s.goodput_pct,
                    rr.s.goodput_pct
                );
            }
        }
    }
    s
}
