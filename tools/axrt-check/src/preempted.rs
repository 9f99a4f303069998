// SPDX-License-Identifier: GPL-2.0-only
//
// preempted.rs - tests/vm/budget_preempted.sh's checks: a budgeted VM whose CPUs a better VM
// keeps taking away still gets min(budget, what the better VM leaves) of CPU time. The script
// runs a priority-10 VM of periodic threads next to a priority-200 VM of hogs with a budget,
// and snapshots both cgroups' CPU time around a window; scx_axrt's window events (--events)
// give what the BPF tier charged per period, hence its precision.

//! A budget that holds while a better VM preempts the budgeted one.

use std::path::PathBuf;

use crate::cgroup::{self, Window};
use crate::data::{self, Error};
use crate::verdict::{require, Verdicts};

/// The precision for a budget under preemption: within 2 % of the budget.
const TOL_OF_BUDGET: f64 = 0.02;

/// Arguments of `axrt-check preempted`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The case's name (for the notes and check names)
    #[arg(long)]
    case: String,
    /// cg-snapshot files at the window's start and end
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    window: Vec<PathBuf>,
    /// The better VM's cgroup, as in the snapshots
    #[arg(long)]
    better: String,
    /// The root cgroup as in the snapshots ("."): everything that ran, the host's own tasks
    /// (better than the budgeted VM too) included
    #[arg(long)]
    all: String,
    /// The budgeted VM's cgroup, as in the snapshots
    #[arg(long)]
    budgeted: String,
    /// The budgeted VM's name in scx_axrt's statistics and events
    #[arg(long)]
    budgeted_vm: String,
    /// Its budget, % of one CPU (quota over period)
    #[arg(long)]
    budget_pct: f64,
    /// CPUs of the machine
    #[arg(long)]
    cpus: u32,
    /// scx_axrt's log (--stats --json)
    #[arg(long)]
    stats: PathBuf,
    /// scx_axrt's events (--events): their window events give the budget's precision over the
    /// whole run (pass them with one case only)
    #[arg(long)]
    events: Option<PathBuf>,
    /// The quota, µs (to read each window's overshoot)
    #[arg(long)]
    quota_us: u64,
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    let w = Window::load(&a.window);
    let better = cgroup::share(&w, &a.better);
    let budgeted = cgroup::share(&w, &a.budgeted);
    // Everything but the budgeted VM: the better VM and the host's tasks, all of which preempt it.
    let others = cgroup::share(&w, &a.all).and_then(|all| Ok(all - budgeted.clone()?));
    let throttles = data::run_group(&a.stats, &a.budgeted_vm).map(|g| g.throttles);
    let supplies = a.events.as_ref().map(|p| {
        data::events(p).map(|ev| {
            data::of_kind(&ev, "window")
                .filter(|e| e["vm"].as_str() == Some(a.budgeted_vm.as_str()))
                .filter_map(|e| e["supply_ns"].as_u64())
                .collect::<Vec<u64>>()
        })
    });
    judge(
        a,
        &better,
        &others,
        &budgeted,
        &throttles,
        &supplies.map(|s| s.map(|s| overshoots(&s, a.quota_us * 1000, a.cpus))),
    )
}

/// Per window in which the budget was used up, by how much the supply passed the quota, µs per
/// CPU (the policy's ε: a throttle lands late on each CPU the VM runs on). Windows that did
/// not use the budget up are left out.
fn overshoots(supplies: &[u64], quota_ns: u64, cpus: u32) -> Vec<f64> {
    supplies
        .iter()
        .filter(|s| **s >= quota_ns)
        .map(|s| (s - quota_ns) as f64 / 1000.0 / cpus.max(1) as f64)
        .collect()
}

/// How far from the budget what better tasks leave must be for min(budget, left) over the
/// window to be the VM's due, as a share of the budget. The due is really the sum over periods
/// of min(budget, left in that period), which is less than min(budget, left over the window)
/// when the periods' leftovers fall on both sides of the budget; the better VM's periodic load
/// varies by a few per cent per period under emulation, so a tenth of the budget keeps every
/// period on one side.
const CLEAR_OF_BUDGET: f64 = 0.10;

/// What the budgeted VM is due: its budget, or what better tasks leave of the machine.
fn due(budget_pct: f64, cpus: u32, others_pct: f64) -> f64 {
    budget_pct.min(left(cpus, others_pct))
}

/// What better tasks leave of the machine, % of a CPU.
fn left(cpus: u32, others_pct: f64) -> f64 {
    cpus as f64 * 100.0 - others_pct
}

fn judge(
    a: &Args,
    better: &Result<f64, Error>,
    others: &Result<f64, Error>,
    budgeted: &Result<f64, Error>,
    throttles: &Result<u64, Error>,
    eps: &Option<Result<Vec<f64>, Error>>,
) -> Verdicts {
    let mut v = Verdicts::default();
    let tol = TOL_OF_BUDGET * a.budget_pct;
    let eps_text = match eps {
        None => String::new(),
        Some(Ok(e)) if !e.is_empty() => {
            let mut s = e.clone();
            s.sort_by(f64::total_cmp);
            format!(
                "; over the whole run {} windows used the budget up, their overshoot past the \
                 quota per CPU p50 {:.0} us, max {:.0} us",
                s.len(),
                s[s.len() / 2],
                s[s.len() - 1]
            )
        }
        Some(Ok(_)) => "; no window used the budget up".into(),
        Some(Err(e)) => format!("; no window events ({e})"),
    };
    let case = &a.case;
    v.note(format!(
        "{case}: better VM {} % of a CPU (all but the budgeted VM {} %), budgeted VM {} % \
         (budget {} %){eps_text}",
        cgroup::shown(better),
        cgroup::shown(others),
        cgroup::shown(budgeted),
        cgroup::pct(a.budget_pct)
    ));
    // Setup in force: the budget bound the VM (it was throttled, at least once per two
    // periods of the window would do; once is enough to show the rule matched) and the better
    // VM ran.
    v.check(
        format!(
            "{case}: the budgeted VM was throttled by its budget (throttles {})",
            throttles.as_ref().map_or("none".into(), u64::to_string)
        ),
        match throttles {
            Ok(t) => require(*t > 0, || "no throttle".into()),
            Err(e) => Err(e.clone()),
        },
    );
    // Setup in force: what is left is clearly on one side of the budget (see CLEAR_OF_BUDGET).
    v.check(
        format!(
            "{case}: what better tasks leave is at least {} % of a CPU away from the budget \
             (left {} %)",
            cgroup::pct(CLEAR_OF_BUDGET * a.budget_pct),
            others
                .as_ref()
                .map_or("none".into(), |o| cgroup::pct(left(a.cpus, *o)))
        ),
        match others {
            Ok(o) => {
                let gap = (left(a.cpus, *o) - a.budget_pct).abs();
                require(gap >= CLEAR_OF_BUDGET * a.budget_pct, || {
                    format!("{} % from the budget", cgroup::pct(gap))
                })
            }
            Err(e) => Err(e.clone()),
        },
    );
    let want = others
        .as_ref()
        .map(|b| due(a.budget_pct, a.cpus, *b))
        .map_err(Clone::clone);
    v.check(
        format!(
            "{case}: the budgeted VM gets min(budget, what better tasks leave) +-{} % of a CPU \
             under preemption (got {} %, want {})",
            cgroup::pct(tol),
            cgroup::shown(budgeted),
            want.as_ref().map_or("none".into(), |w| cgroup::pct(*w))
        ),
        match (budgeted, &want) {
            (Ok(b), Ok(w)) => require(cgroup::within(*b, *w, tol), || {
                format!(
                    "{} % is not within {} of {} %",
                    cgroup::pct(*b),
                    cgroup::pct(tol),
                    cgroup::pct(*w)
                )
            }),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        },
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Args {
        Args {
            case: "c".into(),
            window: vec![],
            better: "rt".into(),
            all: ".".into(),
            budgeted: "batch".into(),
            budgeted_vm: "batch".into(),
            budget_pct: 100.0,
            cpus: 2,
            stats: PathBuf::new(),
            events: None,
            quota_us: 100_000,
        }
    }

    #[test]
    fn the_due_share_is_the_budget_or_what_is_left() {
        assert_eq!(due(100.0, 2, 60.0), 100.0);
        assert_eq!(due(100.0, 2, 150.0), 50.0);
    }

    #[test]
    fn a_budget_short_under_preemption_fails() {
        let ok = judge(
            &args(),
            &Ok(60.0),
            &Ok(62.0),
            &Ok(98.5),
            &Ok(40),
            &Some(Ok(vec![300.0])),
        );
        assert_eq!(ok.failed(), 0, "{:?}", ok.lines);
        // Better tasks take 150 % of the two CPUs: 50 % is left, less than the budget.
        let left = judge(&args(), &Ok(140.0), &Ok(150.0), &Ok(49.5), &Ok(40), &None);
        assert_eq!(left.failed(), 0, "{:?}", left.lines);
        let over = judge(&args(), &Ok(140.0), &Ok(150.0), &Ok(55.0), &Ok(40), &None);
        assert_eq!(over.failed(), 1, "{:?}", over.lines);
        let short = judge(&args(), &Ok(60.0), &Ok(62.0), &Ok(88.8), &Ok(40), &None);
        assert_eq!(
            short.names().1,
            [
                "c: the budgeted VM gets min(budget, what better tasks leave) +-2.0 % of a CPU \
              under preemption (got 88.8 %, want 100.0)"
            ]
        );
        let unbound = judge(&args(), &Ok(60.0), &Ok(62.0), &Ok(100.0), &Ok(0), &None);
        assert_eq!(unbound.failed(), 1);
        // 95 % left: periods on both sides of the budget would blur the due share.
        let blurred = judge(&args(), &Ok(100.0), &Ok(105.0), &Ok(92.5), &Ok(40), &None);
        assert_eq!(
            blurred.names().1,
            [
                "c: what better tasks leave is at least 10.0 % of a CPU away from the budget \
              (left 95.0 %)",
                "c: the budgeted VM gets min(budget, what better tasks leave) +-2.0 % of a CPU \
              under preemption (got 92.5 %, want 95.0)"
            ]
        );
    }

    #[test]
    fn overshoots_are_per_cpu_and_only_of_used_up_windows() {
        let q = 100_000_000;
        assert_eq!(
            overshoots(&[q + 1_000_000, q - 5, q], q, 2),
            vec![500.0, 0.0]
        );
    }
}
