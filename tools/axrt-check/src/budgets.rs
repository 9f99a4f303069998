// SPDX-License-Identifier: GPL-2.0-only
//
// budgets.rs - tests/vm/budgets.sh's checks (issue 4 b): a cgroup with cpu.max 30000/100000 and
// a VM with a configured budget of 20 ms per 100 ms, both running more hogs than their budget
// allows next to an unbudgeted hog group at the same priority, get their budgets, and their
// throttles are counted.

//! Per-VM budgets: shares over a window and throttle counts.

use std::path::PathBuf;

use scx_axrt::stats::Report;

use crate::cgroup::{self, Window};
use crate::data::{self, Error};
use crate::verdict::{require, Verdicts};

/// The groups of the scenario (tests/vm/budgets.sh creates them).
const CAPPED: &str = "axrt-budget/capped";
const BUDGETED: &str = "axrt-budget/budgeted";
const HOG: &str = "axrt-budget/hog";
/// The configured VM's name in scx_axrt's reports.
const BUDGETED_VM: &str = "budgeted";
/// Budgets in % of one CPU: cpu.max "30000 100000", and the configuration's 20000 per 100000.
const CAPPED_PCT: f64 = 30.0;
const BUDGETED_PCT: f64 = 20.0;
/// Both budgets' period, µs.
const PERIOD_US: u64 = 100_000;
/// A budget is enforced per period, so over a window of many periods a throttled group's share
/// is its quota over its period; the window's two edges cut at most one period's quota each
/// (0.6 points over 10 s), and under emulation the host's steal of a vCPU counts as the
/// running task's time. +-2 points of one CPU covers both.
const TOL_PCT: f64 = 2.0;

/// Arguments of `axrt-check budgets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshots (cg-snapshot of capped, budgeted, hog) around the default scheduler's window
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    default_window: Vec<PathBuf>,
    /// Snapshots around the window under scx_axrt
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    window: Vec<PathBuf>,
    /// scx_axrt's log (--stats 1 --json)
    #[arg(long)]
    stats: PathBuf,
    /// The cpu.max cgroup's group in the reports: "cgroup:<its inode>"
    #[arg(long)]
    capped_group: String,
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    judge(
        &Window::load(&a.default_window),
        &Window::load(&a.window),
        &data::interval_reports(&a.stats),
        &a.capped_group,
    )
}

fn judge(
    default: &Result<Window, Error>,
    w: &Result<Window, Error>,
    reports: &Result<Vec<Report>, Error>,
    capped_group: &str,
) -> Verdicts {
    let mut v = Verdicts::default();
    let [dc, db, dh] = [CAPPED, BUDGETED, HOG].map(|g| cgroup::shown(&cgroup::share(default, g)));
    v.note(format!(
        "default scheduler: capped {dc}%, budgeted(no budget there) {db}%, hog {dh}%"
    ));
    let [capped, budgeted, hog] = [CAPPED, BUDGETED, HOG].map(|g| cgroup::share(w, g));
    let [sc, sb, sh] = [&capped, &budgeted, &hog].map(cgroup::shown);
    v.note(format!(
        "scx_axrt: capped {sc}% (cpu.max 30%), budgeted {sb}% (config 20%), hog {sh}%"
    ));
    let budget = |s: &Result<f64, Error>, target: f64| {
        s.clone().and_then(|x| {
            require(cgroup::within(x, target, TOL_PCT), || {
                format!("{x:.1}% is more than {TOL_PCT} points from {target}%")
            })
        })
    };
    v.check(
        format!("cpu.max 30000/100000 VM gets 30% +-2% of a CPU under scx_axrt (got {sc}%)"),
        budget(&capped, CAPPED_PCT),
    );
    v.check(
        format!("config-budgeted VM gets 20% +-2% of a CPU under scx_axrt (got {sb}%)"),
        budget(&budgeted, BUDGETED_PCT),
    );
    // The hog group has no budget and the same priority: it takes what the budgets leave.
    let more = match (&capped, &budgeted, &hog) {
        (Ok(c), Ok(b), Ok(h)) => require(h > &(c + b), || format!("{h:.1}% <= {c:.1}% + {b:.1}%")),
        _ => Err("a share is missing".into()),
    };
    v.check(
        format!("the competing unbudgeted hog group gets more than both budgeted VMs together (got {sh}%)"),
        more,
    );

    // A throttled group runs out of budget once per period: at least one throttle per two
    // periods of the window leaves room for periods the emulated machine stalled through.
    let periods = w.as_ref().map(|w| w.wall_us() / PERIOD_US).ok();
    let throttles = |group: &str| {
        reports
            .as_ref()
            .map(|r| data::group_sum(r, group, |g| g.throttles))
            .map_err(Clone::clone)
    };
    let (tc, tb) = (throttles(capped_group), throttles(BUDGETED_VM));
    let shown = |t: &Result<u64, Error>| t.as_ref().map_or("none".to_string(), u64::to_string);
    v.note(format!(
        "throttles over the run ({} periods in the window): capped {}, budgeted {}",
        periods.map_or("?".into(), |p| p.to_string()),
        shown(&tc),
        shown(&tb)
    ));
    let counted = |t: &Result<u64, Error>| match (t, periods) {
        (Ok(t), Some(p)) => require(*t >= p / 2, || {
            format!("{t} < {} (half of {p} periods)", p / 2)
        }),
        (Err(e), _) => Err(e.clone()),
        (_, None) => Err("the window was not measured".into()),
    };
    v.check(
        format!(
            "throttles of the cpu.max VM are counted (>= one per two periods, got {})",
            shown(&tc)
        ),
        counted(&tc),
    );
    v.check(
        format!(
            "throttles of the configured VM are counted (>= one per two periods, got {})",
            shown(&tb)
        ),
        counted(&tb),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::tests::window;
    use crate::data::fixtures;

    fn reports(capped: u64, budgeted: u64) -> Result<Vec<Report>, Error> {
        let mut r = fixtures::report("cgroup:42", |g| g.throttles = capped);
        r.groups
            .extend(fixtures::report(BUDGETED_VM, |g| g.throttles = budgeted).groups);
        Ok(vec![r])
    }

    #[test]
    fn budgets_held_and_throttles_counted_pass() {
        let w = Ok(window(
            10_000_000,
            &[
                (CAPPED, 3_100_000),
                (BUDGETED, 1_900_000),
                (HOG, 14_000_000),
            ],
        ));
        let v = judge(&w, &w, &reports(60, 55), "cgroup:42");
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert_eq!(
            v.outcome("cpu.max 30000/100000 VM gets 30% +-2% of a CPU under scx_axrt (got 31.0%)"),
            Some(Ok(()))
        );
    }

    #[test]
    fn a_budget_overrun_a_starved_hog_and_few_throttles_fail() {
        let w = Ok(window(
            10_000_000,
            &[(CAPPED, 3_300_000), (BUDGETED, 2_000_000), (HOG, 4_000_000)],
        ));
        let v = judge(&w, &w, &reports(49, 50), "cgroup:42");
        let (_, failed) = v.names();
        assert_eq!(
            failed,
            [
                "cpu.max 30000/100000 VM gets 30% +-2% of a CPU under scx_axrt (got 33.0%)",
                "the competing unbudgeted hog group gets more than both budgeted VMs together (got 40.0%)",
                "throttles of the cpu.max VM are counted (>= one per two periods, got 49)",
            ]
        );
    }

    #[test]
    fn missing_data_fails_every_check_under_its_name() {
        let w: Result<Window, Error> = Err("no snapshot".into());
        let v = judge(&w, &w, &Err("no log".into()), "cgroup:42");
        assert_eq!(v.failed(), 5);
        assert!(v
            .outcome("config-budgeted VM gets 20% +-2% of a CPU under scx_axrt (got none%)")
            .is_some());
    }
}
