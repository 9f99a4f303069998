// SPDX-License-Identifier: GPL-2.0-only
//
// What the numbers say, in sentences: per scenario, scx_axrt's figures against the other
// schedulers' of the same run. Each sentence is chosen by the figures it quotes: where a figure
// does not support the claim a scheduler is meant to make good (fewer misses, a budget held,
// misses pushed to the lowest priority), the sentence says what happened instead. So the text
// under the table is true of the table.

use crate::mode::Mode;
use crate::outcome::{RunOutcome, VmOutcome};
use crate::report::Results;
use crate::scenario::{Role, Scenario};

/// How far a VM's share may be from its budget and still "hold" it, in points of the machine:
/// the tests' tolerance under emulation (POLICY's bound is 0.5 ms per CPU per period, 0.5 points
/// with 100 ms periods, on hardware).
pub const BUDGET_TOLERANCE_PTS: f64 = 2.0;
/// A machine this busy (% of all CPUs) counts as fully used: under emulation a saturated
/// machine measures 97-99 %, an unsaturated one in the scenarios here at most 85 %.
const FULL_PCT: f64 = 95.0;

/// The sentences for every scenario that ran under scx_axrt, in scenario order.
pub fn sentences(results: &Results, scenarios: &[Scenario]) -> Vec<String> {
    let mut out = Vec::new();
    for s in scenarios {
        let Some(axrt) = results.run(s.id, Mode::Axrt) else {
            continue;
        };
        if let Some(e) = &axrt.error {
            out.push(format!("{}: the scx_axrt run failed ({e})", s.id));
            continue;
        }
        let others = |name: &str| {
            results
                .modes
                .iter()
                .filter(|&&m| m != Mode::Axrt)
                .filter_map(|&m| Some((m, results.run(s.id, m)?.vm(name)?)))
                .collect::<Vec<_>>()
        };
        for vm in s.vms.iter().filter(|v| v.role == Role::Realtime) {
            if let Some(a) = axrt.vm(&vm.name) {
                out.extend(misses(s, a, &others(&vm.name)));
            }
        }
        for vm in s.vms.iter().filter(|v| v.budget_pct.is_some()) {
            if let Some(a) = axrt.vm(&vm.name) {
                out.push(budget(s, a, axrt, &others(&vm.name)));
            }
        }
        // With only periodic VMs demand is finite: an overload says who takes the misses.
        if s.demand_pct(results.cpus) > 100.0 && s.vms.iter().all(|v| v.load_pct > 0.0) {
            let default = results.run(s.id, Mode::Default);
            if let Some(line) = overload(s, results.cpus, axrt, default) {
                out.push(line);
            }
        }
    }
    out
}

fn pct(x: f64) -> String {
    if x != 0.0 && x.abs() < 1.0 {
        format!("{x:.2} %")
    } else {
        format!("{x:.1} %")
    }
}

fn miss_pct(v: &VmOutcome) -> Option<f64> {
    v.miss_ratio.map(|m| 100.0 * m)
}

/// The real-time VM's misses and p99 under scx_axrt against every other mode.
fn misses(s: &Scenario, a: &VmOutcome, others: &[(Mode, &VmOutcome)]) -> Vec<String> {
    let Some(mine) = miss_pct(a) else {
        return Vec::new();
    };
    let list: Vec<String> = others
        .iter()
        .filter_map(|(m, v)| Some(format!("{} under {}", pct(miss_pct(v)?), m.label())))
        .collect();
    let mut line = format!(
        "{}: the real-time VM ({}) missed {} of its deadlines under scx_axrt",
        s.id,
        a.name,
        pct(mine)
    );
    if !list.is_empty() {
        line += &format!(", against {}", list.join(", "));
    }
    if let Some(d) = others
        .iter()
        .find(|(m, _)| *m == Mode::Default)
        .and_then(|(_, v)| miss_pct(v))
    {
        line += &if mine < d && mine == 0.0 {
            "; none missed, where the default scheduler missed some".to_string()
        } else if mine < d {
            format!("; {:.0}x fewer than the default scheduler", d / mine)
        } else if mine == d && d == 0.0 {
            "; none missed under the default scheduler either".to_string()
        } else if mine == d {
            "; no fewer than the default scheduler".to_string()
        } else {
            "; MORE than the default scheduler".to_string()
        };
    }
    let mut lines = vec![line];
    if let Some(p) = a.p99_us {
        let rest: Vec<String> = others
            .iter()
            .filter_map(|(m, v)| Some(format!("{:.1} ms ({})", v.p99_us? / 1000.0, m.label())))
            .collect();
        lines.push(format!(
            "{}: its worst vCPU's p99 response was {:.1} ms under scx_axrt{}",
            s.id,
            p / 1000.0,
            if rest.is_empty() {
                String::new()
            } else {
                format!(", {}", rest.join(", "))
            }
        ));
    }
    lines
}

/// A budgeted VM's share under scx_axrt against its budget (and the other modes' shares).
fn budget(s: &Scenario, a: &VmOutcome, run: &RunOutcome, others: &[(Mode, &VmOutcome)]) -> String {
    let b = a.budget_pct.unwrap_or_default();
    let err = a.share_pct - b;
    let used: f64 = run.vms.iter().map(|v| v.share_pct).sum();
    let verdict = if err.abs() <= BUDGET_TOLERANCE_PTS {
        format!(
            "scx_axrt held it to its budget of {} (within ±{BUDGET_TOLERANCE_PTS} points)",
            pct(b)
        )
    } else if err > 0.0 {
        format!("{:.1} points ABOVE its budget of {}", err, pct(b))
    } else if used >= FULL_PCT {
        format!(
            "{:.1} points below its budget of {}, with the machine fully used ({}): a budget is \
             a ceiling, and better priorities came first",
            -err,
            pct(b),
            pct(used)
        )
    } else {
        format!(
            "{:.1} points SHORT of its budget of {} although the machine was not fully used ({} \
             of it busy)",
            -err,
            pct(b),
            pct(used)
        )
    };
    let rest: Vec<String> = others
        .iter()
        .map(|(m, v)| format!("{} under {}", pct(v.share_pct), m.label()))
        .collect();
    format!(
        "{}: {} got {} of the machine under scx_axrt, {verdict}{}",
        s.id,
        a.name,
        pct(a.share_pct),
        if rest.is_empty() {
            String::new()
        } else {
            format!("; it got {}", rest.join(", "))
        }
    )
}

/// Under overload: whether scx_axrt's misses fell on the lowest priority, against the default
/// scheduler's.
fn overload(
    s: &Scenario,
    cpus: u32,
    axrt: &RunOutcome,
    default: Option<&RunOutcome>,
) -> Option<String> {
    let periodic: Vec<_> = s.vms.iter().filter(|v| v.load_pct > 0.0).collect();
    let lowest = periodic.iter().max_by_key(|v| v.priority)?;
    let figures = |r: &RunOutcome| -> Option<Vec<(String, f64)>> {
        periodic
            .iter()
            .map(|v| Some((v.name.clone(), miss_pct(r.vm(&v.name)?)?)))
            .collect()
    };
    let show = |f: &[(String, f64)]| {
        f.iter()
            .map(|(n, m)| format!("{n} {}", pct(*m)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mine = figures(axrt)?;
    let low = mine.iter().find(|(n, _)| *n == lowest.name)?.1;
    let worst_other = mine
        .iter()
        .filter(|(n, _)| *n != lowest.name)
        .map(|(_, m)| *m)
        .fold(0.0, f64::max);
    let mut line = if low > worst_other {
        format!(
            "{}: at {:.0} % demand the misses fell on the lowest priority ({}) under scx_axrt: {}",
            s.id,
            s.demand_pct(cpus),
            lowest.name,
            show(&mine)
        )
    } else {
        format!(
            "{}: the misses did NOT fall on the lowest priority ({}) under scx_axrt: {}",
            s.id,
            lowest.name,
            show(&mine)
        )
    };
    if let Some(d) = default.and_then(figures) {
        line += &format!("; the default scheduler: {}", show(&d));
    }
    Some(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    fn vm(name: &str, share: f64, budget: Option<f64>, miss: Option<f64>) -> VmOutcome {
        VmOutcome {
            name: name.into(),
            role: if name.ends_with("-rt") {
                Role::Realtime
            } else {
                Role::Other
            },
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
            work_vs_budget: None,
        }
    }

    fn results(runs: Vec<RunOutcome>) -> Results {
        Results {
            cpus: 2,
            kernel: "7.2".into(),
            period_us: 10_000,
            budget_period_us: 100_000,
            duration_s: 6.0,
            hog_rates: Default::default(),
            modes: vec![Mode::Default, Mode::Axrt],
            runs,
        }
    }

    fn run1(mode: Mode, rt_miss: f64, hog_share: f64) -> RunOutcome {
        RunOutcome {
            scenario: 1,
            mode,
            vms: vec![
                vm("s1-rt", 30.0, None, Some(rt_miss)),
                vm("s1-hog", hog_share, Some(50.0), None),
            ],
            scx_axrt: None,
            error: None,
            repeated_after: None,
        }
    }

    #[test]
    fn a_budget_held_and_fewer_misses_are_said_so() {
        let r = results(vec![
            run1(Mode::Default, 0.04, 69.0),
            run1(Mode::Axrt, 0.01, 49.6),
        ]);
        let text = sentences(&r, &scenario::all(2)[..1]).join("\n");
        assert!(text.contains("missed 1.0 % of its deadlines under scx_axrt, against 4.0 % under default; 4x fewer"), "{text}");
        assert!(text.contains("s1-hog got 49.6 % of the machine under scx_axrt, scx_axrt held it to its budget of 50.0 %"), "{text}");
    }

    #[test]
    fn a_budget_missed_or_more_misses_are_not_hidden() {
        // 30 + 44 = 74 % busy: the hog could have had its 50 %.
        let r = results(vec![
            run1(Mode::Default, 0.01, 69.0),
            run1(Mode::Axrt, 0.02, 44.0),
        ]);
        let text = sentences(&r, &scenario::all(2)[..1]).join("\n");
        assert!(text.contains("MORE than the default scheduler"), "{text}");
        assert!(text.contains("6.0 points SHORT of its budget of 50.0 % although the machine was not fully used (74.0 % of it busy)"), "{text}");
        assert!(!text.contains("held it"), "{text}");
    }

    #[test]
    fn overload_misses_are_checked_against_the_lowest_priority() {
        let run3 = |mode, rt, web, batch| RunOutcome {
            scenario: 3,
            mode,
            vms: vec![
                vm("s3-rt", 60.0, None, Some(rt)),
                vm("s3-web", 30.0, None, Some(web)),
                vm("s3-batch", 10.0, Some(25.0), Some(batch)),
            ],
            scx_axrt: None,
            error: None,
            repeated_after: None,
        };
        let s = &scenario::all(2)[2..];
        let good = results(vec![
            run3(Mode::Default, 0.1, 1.0, 1.0),
            run3(Mode::Axrt, 0.0, 0.01, 1.0),
        ]);
        let text = sentences(&good, s).join("\n");
        assert!(
            text.contains("the misses fell on the lowest priority (s3-batch)"),
            "{text}"
        );
        assert!(
            text.contains("the default scheduler: s3-rt 10.0 %"),
            "{text}"
        );
        let bad = results(vec![run3(Mode::Axrt, 0.5, 0.01, 0.2)]);
        let text = sentences(&bad, s).join("\n");
        assert!(
            text.contains("did NOT fall on the lowest priority"),
            "{text}"
        );
    }
}
