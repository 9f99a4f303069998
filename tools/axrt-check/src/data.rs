// SPDX-License-Identifier: GPL-2.0-only
//
// data.rs - reading what the test scripts collect, with the producers' own types where they
// have them: scx_axrt's --stats --json reports (one JSON object per line in its log), its
// --events JSON lines, axrt-vmload's --json document, and other tools' JSON results. Errors are
// one line naming the file: they become the reason of the checks that needed the data.

//! Readers for scx_axrt logs and events, axrt-vmload reports and JSON results.

use std::path::Path;

use axrt_vmload::report::{RunReport, VcpuReport};
use scx_axrt::stats::{GroupReport, Report, TaskReport, SCOPE_RUN};
use serde_json::Value;

/// A reader's error: one line naming the file.
pub type Error = String;

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every statistics report in a scx_axrt log (the lines that are JSON objects), the run's
/// totals included, in order.
pub fn all_reports(path: &Path) -> Result<Vec<Report>, Error> {
    parse_reports(&read(path)?, &path.display().to_string())
}

/// The reports of a log's text; `file` names it in errors.
pub fn parse_reports(text: &str, file: &str) -> Result<Vec<Report>, Error> {
    // A log read while scx_axrt runs may end in a line it is still writing: only whole lines.
    let whole = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    whole
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with('{'))
        .map(|(n, l)| {
            serde_json::from_str(l)
                .map_err(|e| format!("{file}:{}: not a stats report: {e}", n + 1))
        })
        .collect()
}

/// The reports over one --stats interval (not the run's totals) among `reports`.
pub fn intervals(reports: &[Report]) -> impl Iterator<Item = &Report> {
    reports.iter().filter(|r| r.scope != SCOPE_RUN)
}

/// The interval reports of a scx_axrt log.
pub fn interval_reports(path: &Path) -> Result<Vec<Report>, Error> {
    Ok(intervals(&all_reports(path)?).cloned().collect())
}

/// The groups named `name` in `reports`.
pub fn groups<'a>(reports: &'a [Report], name: &'a str) -> impl Iterator<Item = &'a GroupReport> {
    reports
        .iter()
        .flat_map(|r| &r.groups)
        .filter(move |g| g.name == name)
}

/// The sum of `f` of group `name` over `reports` (0 when it never appears).
pub fn group_sum(reports: &[Report], name: &str, f: impl Fn(&GroupReport) -> u64) -> u64 {
    groups(reports, name).map(f).sum()
}

/// Group `name` in the run's totals (the last report of scope "run") of a scx_axrt log.
pub fn run_group(path: &Path, name: &str) -> Result<GroupReport, Error> {
    let reports = all_reports(path)?;
    let run = reports
        .iter()
        .rev()
        .find(|r| r.scope == SCOPE_RUN)
        .ok_or_else(|| format!("{}: no run totals", path.display()))?;
    run.groups
        .iter()
        .find(|g| g.name == name)
        .cloned()
        .ok_or_else(|| format!("{}: no group '{name}' in the run totals", path.display()))
}

/// The largest `f` of group `name` over `reports` (0 when it never appears).
pub fn group_max(reports: &[Report], name: &str, f: impl Fn(&GroupReport) -> f64) -> f64 {
    groups(reports, name).map(f).fold(0.0, f64::max)
}

/// The sum of `f` of the thread named `name` (`VM/comm`) over `reports`.
pub fn task_sum(reports: &[Report], name: &str, f: impl Fn(&TaskReport) -> u64) -> u64 {
    reports
        .iter()
        .flat_map(|r| &r.tasks)
        .filter(|t| t.name == name)
        .map(f)
        .sum()
}

/// A JSON document.
pub fn json(path: &Path) -> Result<Value, Error> {
    serde_json::from_str(&read(path)?).map_err(|e| format!("{}: not JSON: {e}", path.display()))
}

/// The events of a scx_axrt --events file (JSON lines; blank lines are skipped).
pub fn events(path: &Path) -> Result<Vec<Value>, Error> {
    parse_events(&read(path)?, &path.display().to_string())
}

/// The events of an --events file's text; `file` names it in errors.
pub fn parse_events(text: &str, file: &str) -> Result<Vec<Value>, Error> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            serde_json::from_str(l).map_err(|e| format!("{file}:{}: not JSON: {e}", n + 1))
        })
        .collect()
}

/// The events of kind `kind`.
pub fn of_kind<'a>(events: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    events.iter().filter(move |e| e["kind"] == kind)
}

/// axrt-vmload's --json document.
pub fn vmload(path: &Path) -> Result<RunReport, Error> {
    serde_json::from_str(&read(path)?)
        .map_err(|e| format!("{}: not an axrt-vmload report: {e}", path.display()))
}

/// vCPU `index` of VM `vm` in a report.
pub fn vcpu<'a>(report: &'a RunReport, vm: &str, index: u32) -> Option<&'a VcpuReport> {
    report
        .vms
        .iter()
        .filter(|v| v.name == vm)
        .flat_map(|v| &v.vcpus)
        .find(|c| c.vcpu == index)
}

#[cfg(test)]
pub mod fixtures {
    //! Small documents in the producers' formats, for the checks' tests.

    use axrt_vmload::report::{RunReport, VcpuReport, VmReport};
    use scx_axrt::stats::{GroupReport, Report, TaskReport};

    /// A report with one group `name` whose counters `set` fills in.
    pub fn report(name: &str, set: impl Fn(&mut GroupReport)) -> Report {
        let mut g = GroupReport {
            name: name.into(),
            ..Default::default()
        };
        set(&mut g);
        Report {
            interval_s: 1.0,
            scope: "interval".into(),
            groups: vec![g],
            tasks: vec![],
        }
    }

    /// A report with one thread `name` and its job counters.
    pub fn task_report(name: &str, jobs: u64, misses: u64, overruns: u64) -> Report {
        Report {
            interval_s: 0.2,
            scope: "interval".into(),
            groups: vec![],
            tasks: vec![TaskReport {
                name: name.into(),
                jobs,
                misses,
                wcet_overruns: overruns,
                ..Default::default()
            }],
        }
    }

    /// The reports as scx_axrt prints them with --json, with non-JSON lines between.
    pub fn log(reports: &[Report]) -> String {
        let mut s = String::from("scx_axrt: active\n");
        for r in reports {
            s.push_str(&serde_json::to_string(r).unwrap());
            s.push('\n');
        }
        s.push_str("scx_axrt: exited: user\n");
        s
    }

    /// A vCPU's results: `jobs`, `work`, `yields`, `share` % of a CPU.
    pub fn vcpu(vm: &str, i: u32, jobs: u64, work: u64, yields: u64, share: f64) -> VcpuReport {
        VcpuReport {
            vm: vm.into(),
            vcpu: i,
            tid: 100 + i as i32,
            workload: "periodic".into(),
            jobs,
            misses: 0,
            miss_ratio: 0.0,
            response: None,
            cpu_share_pct: share,
            cpu_s: 0.0,
            wall_s: 0.0,
            work,
            yields,
            pauses: 0,
            io_exits: 0,
            halts: 0,
            missed_at_ms: vec![],
        }
    }

    /// An axrt-vmload report of VMs given as (name, vCPUs).
    pub fn vmload(duration_s: f64, vms: Vec<(&str, Vec<VcpuReport>)>) -> RunReport {
        let doc = serde_json::json!({
            "tool": "axrt-vmload", "version": "0", "duration_s": duration_s,
            "yield_mode": "pause", "hypercall_insn": "vmcall",
            "calibration": { "iters_per_us": 100.0, "exit_overhead_us": 5.0, "tsc_per_us": 2000.0 },
            "vms": [], "errors": []
        });
        let mut r: RunReport = serde_json::from_value(doc).expect("a report's shape");
        r.vms = vms
            .into_iter()
            .map(|(name, vcpus)| VmReport {
                name: name.into(),
                pid: 1,
                cgroup: None,
                workload: "periodic".into(),
                period_us: None,
                load_pct: None,
                spin_iterations: 0,
                fifo_priority: None,
                stopped_by_signal: None,
                vcpus,
            })
            .collect();
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_the_json_lines_and_the_run_totals_are_not_an_interval() {
        let mut run = fixtures::report("a", |g| g.throttles = 100);
        run.scope = "run".into();
        let text = fixtures::log(&[
            fixtures::report("a", |g| g.throttles = 3),
            fixtures::report("a", |g| g.throttles = 4),
            run,
        ]);
        let all = parse_reports(&text, "log").unwrap();
        assert_eq!(all.len(), 3);
        let iv: Vec<Report> = intervals(&all).cloned().collect();
        assert_eq!(group_sum(&iv, "a", |g| g.throttles), 7);
        assert_eq!(group_sum(&iv, "b", |g| g.throttles), 0);
        assert!(parse_reports("{oops\n", "log")
            .unwrap_err()
            .starts_with("log:1: "));
        assert_eq!(
            parse_reports(&(text.clone() + "{\"interval_s\":"), "log"),
            Ok(all)
        );
    }

    #[test]
    fn the_run_group_is_read_from_the_run_totals() {
        let dir = std::env::temp_dir().join(format!("axrt-check-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("scx.log");
        let mut run = fixtures::report("a", |g| g.throttles = 100);
        run.scope = "run".into();
        std::fs::write(
            &log,
            fixtures::log(&[fixtures::report("a", |g| g.throttles = 3), run]),
        )
        .unwrap();
        assert_eq!(run_group(&log, "a").map(|g| g.throttles), Ok(100));
        assert!(run_group(&log, "b").unwrap_err().contains("no group 'b'"));
        std::fs::write(&log, fixtures::log(&[fixtures::report("a", |_| ())])).unwrap();
        assert!(run_group(&log, "a").unwrap_err().contains("no run totals"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn events_are_json_lines_and_a_bad_line_is_named() {
        let ev = parse_events("{\"kind\":\"miss\"}\n\n{\"kind\":\"throttle\"}\n", "ev").unwrap();
        assert_eq!(of_kind(&ev, "miss").count(), 1);
        assert_eq!(
            parse_events("{}\nnope\n", "ev")
                .unwrap_err()
                .split(' ')
                .next(),
            Some("ev:2:")
        );
    }
}
