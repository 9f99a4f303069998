// SPDX-License-Identifier: GPL-2.0-only
//
// The suite's outputs: the JSON document with every figure, the markdown table (one row per
// figure, one column per scheduler) and the three-panel SVG (real-time miss ratio, budget
// error, hog work against its budget).

use std::fmt::Write as _;

use axrt_vmload::cli::Workload::{Hog, Periodic};
use serde::Serialize;

use crate::mode::Mode;
use crate::outcome::{RunOutcome, VmOutcome};
use crate::scenario::{Role, Scenario};
use axrt_plot::{self as plot, Chart};

/// Everything a suite run measured (results.json).
#[derive(Debug, Serialize)]
pub struct Results {
    /// CPUs of the machine.
    pub cpus: u32,
    /// Kernel release it ran on.
    pub kernel: String,
    /// Period of the periodic vCPUs, µs.
    pub period_us: u64,
    /// Budget period (cpu.max and scx_axrt), µs.
    pub budget_period_us: u64,
    /// Length of each run, s.
    pub duration_s: f64,
    /// Hog iterations per CPU-second of a hog VM alone, by its vCPU count.
    pub hog_rates: std::collections::BTreeMap<u32, f64>,
    /// Modes in the order they ran within each scenario.
    pub modes: Vec<Mode>,
    /// One entry per scenario and mode.
    pub runs: Vec<RunOutcome>,
}

impl Results {
    /// The run of scenario `id` under `mode`.
    pub fn run(&self, id: u8, mode: Mode) -> Option<&RunOutcome> {
        self.runs
            .iter()
            .find(|r| r.scenario == id && r.mode == mode)
    }
}

fn pct(v: f64) -> String {
    if v != 0.0 && v.abs() < 1.0 {
        format!("{v:.2} %")
    } else {
        format!("{v:.1} %")
    }
}

/// A table row: its label and how to read the figure from a run.
type Row<'a> = (String, Box<dyn Fn(&RunOutcome) -> Option<String> + 'a>);

/// The rows of scenario `s`: misses of periodic VMs (and the real-time VM's p99), the share of
/// budgeted VMs and hogs, a hog's work against its budget, the largest budget error when there
/// are several budgets, and the total CPU used when demand exceeds the machine.
fn rows<'a>(s: &'a Scenario, cpus: u32) -> Vec<Row<'a>> {
    let mut rows: Vec<Row> = Vec::new();
    let fig = move |name: &'a str, f: fn(&VmOutcome) -> Option<String>| {
        Box::new(move |r: &RunOutcome| r.vm(name).and_then(f))
            as Box<dyn Fn(&RunOutcome) -> Option<String> + 'a>
    };
    for vm in &s.vms {
        let n = vm.name.as_str();
        if vm.workload == Periodic {
            rows.push((
                format!("{n}: deadline misses"),
                fig(n, |v| v.miss_ratio.map(|m| pct(100.0 * m))),
            ));
            if vm.role == Role::Realtime {
                rows.push((
                    format!("{n}: p99 response"),
                    fig(n, |v| v.p99_us.map(|p| format!("{:.1} ms", p / 1000.0))),
                ));
            }
        }
        if let Some(b) = vm.budget_pct {
            rows.push((
                format!("{n}: CPU share (budget {b} %)"),
                fig(n, |v| Some(pct(v.share_pct))),
            ));
        } else if vm.workload != Periodic {
            rows.push((
                format!("{n}: CPU share"),
                fig(n, |v| Some(pct(v.share_pct))),
            ));
        }
        if vm.workload == Hog && vm.budget_pct.is_some() {
            rows.push((
                format!("{n}: work vs budget"),
                fig(n, |v| v.work_vs_budget.map(|w| pct(100.0 * w))),
            ));
        }
    }
    if s.vms.iter().filter(|v| v.budget_pct.is_some()).count() > 1 {
        rows.push((
            "largest budget error".into(),
            Box::new(|r: &RunOutcome| r.max_share_error().map(|e| format!("{e:.1} pts"))),
        ));
    }
    // With only periodic VMs, demand is finite: show how much of an overload was served.
    if s.demand_pct(cpus) > 100.0 && s.vms.iter().all(|v| v.workload == Periodic) {
        rows.push((
            "all VMs: CPU used".into(),
            Box::new(|r: &RunOutcome| {
                (!r.vms.is_empty()).then(|| pct(r.vms.iter().map(|v| v.share_pct).sum()))
            }),
        ));
    }
    rows
}

/// The markdown table: one row per figure, one column per mode.
pub fn markdown(results: &Results, scenarios: &[Scenario]) -> String {
    let mut t = String::from("| scenario | figure |");
    for m in &results.modes {
        let _ = write!(t, " {} |", m.label());
    }
    t += "\n|---|---|";
    t += &"---|".repeat(results.modes.len());
    t += "\n";
    for s in scenarios {
        for (i, (label, read)) in rows(s, results.cpus).iter().enumerate() {
            let head = if i == 0 {
                format!("{}. {}", s.id, s.title)
            } else {
                String::new()
            };
            let _ = write!(t, "| {head} | {label} |");
            for &m in &results.modes {
                let cell = match results.run(s.id, m) {
                    Some(r) if r.error.is_some() => "failed".to_string(),
                    Some(r) => read(r).unwrap_or_else(|| "–".into()),
                    None => "n/a".into(),
                };
                let _ = write!(t, " {cell} |");
            }
            t += "\n";
        }
    }
    let failed: Vec<String> = results
        .runs
        .iter()
        .filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}/{}: {e}", r.scenario, r.mode.name()))
        })
        .collect();
    let repeated: Vec<String> = results
        .runs
        .iter()
        .filter_map(|r| {
            r.repeated_after
                .as_ref()
                .map(|e| format!("{}/{} ({e})", r.scenario, r.mode.name()))
        })
        .collect();
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "none".to_string()
        } else {
            v.join("; ")
        }
    };
    let _ = writeln!(
        t,
        "\n{}. Failed runs: {}. Runs repeated after a micro-VM fault of the emulated CPU: {}.",
        setting(results),
        list(failed),
        list(repeated)
    );
    t
}

/// scx_axrt's own statistics over each of its runs, in its own table format: per VM the CPU
/// used (% of one CPU), throttles and replenishments, misses, reserve grants and wakeup latency.
pub fn scx_axrt_tables(results: &Results, scenarios: &[Scenario]) -> String {
    let mut t = String::new();
    for s in scenarios {
        let Some(r) = results.run(s.id, Mode::Axrt) else {
            continue;
        };
        match &r.scx_axrt {
            Some(totals) => {
                let _ = writeln!(
                    t,
                    "scx_axrt's statistics of scenario {} ({}), as it printed them when it stopped:",
                    s.id, s.title
                );
                t += &totals.format_table();
            }
            None => {
                let _ = writeln!(t, "scenario {}: scx_axrt printed no statistics", s.id);
            }
        }
        t += "\n";
    }
    t
}

/// One line saying where and how the suite ran.
fn setting(results: &Results) -> String {
    format!(
        "{} CPUs, kernel {}; periods {} ms, budget period {} ms, {} s per run; shares in % of the \
         whole machine",
        results.cpus,
        results.kernel,
        results.period_us as f64 / 1000.0,
        results.budget_period_us as f64 / 1000.0,
        results.duration_s
    )
}

/// The three panels: the real-time VMs' miss ratio (scenarios 1 and 3), every budgeted VM's
/// share against its budget, and the scenario-1 hog's work against its budget.
pub fn picture(results: &Results, scenarios: &[Scenario]) -> String {
    // One group per mode, its values from `read`.
    let per_mode = |read: &dyn Fn(Mode) -> Vec<Option<f64>>| {
        results
            .modes
            .iter()
            .map(|&m| (m.label().to_string(), read(m)))
            .collect::<Vec<_>>()
    };
    let rt_miss = |id: u8, m: Mode| {
        let rt = results
            .run(id, m)?
            .vms
            .iter()
            .find(|v| v.role == Role::Realtime)?;
        rt.miss_ratio.map(|r| 100.0 * r)
    };
    let misses = Chart {
        title: "real-time VM: deadline misses".into(),
        unit: "%",
        series: vec!["1: next to a hog".into(), "3: 150 % demand".into()],
        groups: per_mode(&|m| vec![rt_miss(1, m), rt_miss(3, m)]),
        reference: None,
        y_max: None,
    };
    // Every budgeted VM of the scenarios that ran: its share against its budget.
    let budgeted: Vec<(u8, String)> = scenarios
        .iter()
        .filter(|s| results.runs.iter().any(|r| r.scenario == s.id))
        .flat_map(|s| {
            s.vms
                .iter()
                .filter(|v| v.budget_pct.is_some())
                .map(|v| (s.id, v.name.clone()))
        })
        .collect();
    let budget = Chart {
        title: "budgeted VMs: CPU share / budget".into(),
        unit: "%",
        series: budgeted.iter().map(|(_, n)| n.clone()).collect(),
        groups: per_mode(&|m| {
            budgeted
                .iter()
                .map(|(id, n)| {
                    let v = results.run(*id, m)?.vm(n)?;
                    Some(100.0 * v.share_pct / v.budget_pct?)
                })
                .collect()
        }),
        reference: Some(100.0),
        y_max: None,
    };
    let hog = Chart {
        title: "1: hog work vs its budget".into(),
        unit: "%",
        series: vec!["work / budget".into()],
        groups: per_mode(&|m| {
            let work = results
                .run(1, m)
                .and_then(|r| r.vms.iter().find_map(|v| v.work_vs_budget));
            vec![work.map(|w| 100.0 * w)]
        }),
        reference: Some(100.0),
        y_max: None,
    };
    plot::svg(
        &[misses, budget, hog],
        &format!(
            "axrt-validate, KVM vCPUs (axrt-vmload): {}",
            setting(results)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::VmOutcome;
    use crate::scenario;

    fn vm(name: &str, role: Role, share: f64, budget: Option<f64>, miss: Option<f64>) -> VmOutcome {
        VmOutcome {
            name: name.into(),
            role,
            workload: if miss.is_some() { "periodic" } else { "hog" }.into(),
            budget_pct: budget,
            share_pct: share,
            share_error_pct: budget.map(|b| share - b),
            released: 100,
            jobs: 100,
            misses: 0,
            miss_ratio: miss,
            p99_us: miss.map(|_| 4200.0),
            work: 0,
            work_vs_budget: budget.filter(|_| miss.is_none()).map(|_| 0.97),
        }
    }

    fn results() -> Results {
        let run = |mode, rt_miss: f64| RunOutcome {
            scenario: 1,
            mode,
            vms: vec![
                vm("s1-rt", Role::Realtime, 31.0, None, Some(rt_miss)),
                vm("s1-hog", Role::Other, 49.5, Some(50.0), None),
            ],
            scx_axrt: None,
            error: None,
            repeated_after: None,
        };
        Results {
            cpus: 2,
            kernel: "7.2".into(),
            period_us: 10_000,
            budget_period_us: 100_000,
            duration_s: 6.0,
            hog_rates: Default::default(),
            modes: vec![Mode::Default, Mode::Fifo, Mode::Axrt],
            runs: vec![
                run(Mode::Default, 0.126),
                RunOutcome::failed(1, Mode::Fifo, "boom".into()),
                run(Mode::Axrt, 0.0),
            ],
        }
    }

    #[test]
    fn table_has_a_row_per_figure_and_a_column_per_mode() {
        let s = scenario::all(2);
        let t = markdown(&results(), &s[..1]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| scenario | figure | default | SCHED_FIFO | scx_axrt |"
        );
        assert!(t.contains("| 1. real-time VM next to a hog VM | s1-rt: deadline misses | 12.6 % | failed | 0.0 % |"));
        assert!(t.contains("| s1-rt: p99 response | 4.2 ms | failed | 4.2 ms |"));
        assert!(t.contains("| s1-hog: CPU share (budget 50 %) | 49.5 % | failed | 49.5 % |"));
        assert!(t.contains("| s1-hog: work vs budget | 97.0 % | failed | 97.0 % |"));
        assert!(t.contains("Failed runs: 1/fifo: boom."));
        // Every table row has one cell per mode.
        for l in lines.iter().filter(|l| l.starts_with('|')) {
            assert_eq!(l.matches('|').count(), 6, "{l}");
        }
    }

    #[test]
    fn picture_has_the_three_panels() {
        let svg = picture(&results(), &scenario::all(2));
        for title in [
            "deadline misses",
            "budgeted VMs: CPU share / budget",
            "hog work vs its budget",
        ] {
            assert!(svg.contains(title), "{title}");
        }
        assert!(svg.contains(">13%<")); // scenario 1's default miss ratio
    }
}
