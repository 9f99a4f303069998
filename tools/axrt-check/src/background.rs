// SPDX-License-Identifier: GPL-2.0-only
//
// background.rs - tests/vm/background.sh's checks (issue 4 c): a VM with a 10% budget in
// background overrun mode uses idle CPUs beyond its budget when alone and gets exactly its
// budget next to a saturating hog group; a throttle-mode VM with the same budget stays at it
// even alone.

//! The background overrun mode: shares over three windows.

use std::path::PathBuf;

use crate::cgroup::{self, Window};
use crate::data::Error;
use crate::verdict::{require, Verdicts};

/// The scenario's cgroups (tests/vm/background.sh).
const BG: &str = "axrt-bg/bg";
const THR: &str = "axrt-bg/thr";
/// Both VMs' budget: 10000 µs per 100000 µs, in % of one CPU.
const BUDGET_PCT: f64 = 10.0;
/// Budget enforcement per 100 ms period over 100 periods, with the emulated CPU's steal
/// counted as the task's time: +-2 points of one CPU (as in tests/vm/budgets.sh).
const TOL_PCT: f64 = 2.0;
/// Alone, a background VM may take whatever is idle, but under emulation the host decides how
/// much CPU the guest's vCPUs really get: the bound is only "far beyond the budget", 3x.
const ALONE_MIN_PCT: f64 = 3.0 * BUDGET_PCT;

/// Arguments of `axrt-check background`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshots of the background VM's cgroup around its window alone
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    bg_alone: Vec<PathBuf>,
    /// ... around its window next to the hog group
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    bg_busy: Vec<PathBuf>,
    /// Snapshots of the throttle-mode VM's cgroup around its window alone
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    thr_alone: Vec<PathBuf>,
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    judge(
        &Window::load(&a.bg_alone),
        &Window::load(&a.bg_busy),
        &Window::load(&a.thr_alone),
    )
}

fn judge(
    bg_alone: &Result<Window, Error>,
    bg_busy: &Result<Window, Error>,
    thr_alone: &Result<Window, Error>,
) -> Verdicts {
    let mut v = Verdicts::default();
    let alone = cgroup::share(bg_alone, BG);
    let busy = cgroup::share(bg_busy, BG);
    let thr = cgroup::share(thr_alone, THR);
    let [sa, sb, st] = [&alone, &busy, &thr].map(cgroup::shown);
    v.note(format!(
        "bg alone {sa}%, bg next to a hog {sb}%, throttle-mode alone {st}% (budget 10%)"
    ));
    v.check(
        format!("a background VM alone uses idle CPUs far beyond its 10% budget (got {sa}%, want > 30%)"),
        alone.and_then(|x| require(x > ALONE_MIN_PCT, || format!("{x:.1}% <= {ALONE_MIN_PCT}%"))),
    );
    let at_budget = |s: Result<f64, Error>| {
        s.and_then(|x| {
            require(cgroup::within(x, BUDGET_PCT, TOL_PCT), || {
                format!("{x:.1}% is more than {TOL_PCT} points from {BUDGET_PCT}%")
            })
        })
    };
    v.check(
        format!("a background VM next to a saturating hog gets its 10% budget +-2% (got {sb}%)"),
        at_budget(busy),
    );
    v.check(
        format!("a throttle-mode VM alone stays at its 10% budget +-2% (got {st}%)"),
        at_budget(thr),
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::tests::window;

    #[test]
    fn background_beyond_budget_alone_and_at_budget_otherwise_passes() {
        let v = judge(
            &Ok(window(10_000_000, &[(BG, 9_000_000)])),
            &Ok(window(10_000_000, &[(BG, 1_150_000)])),
            &Ok(window(10_000_000, &[(THR, 980_000)])),
        );
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
    }

    #[test]
    fn a_capped_background_vm_and_a_leaking_throttle_fail() {
        let v = judge(
            &Ok(window(10_000_000, &[(BG, 1_000_000)])),
            &Ok(window(10_000_000, &[(BG, 1_000_000)])),
            &Ok(window(10_000_000, &[(THR, 2_500_000)])),
        );
        let (pass, fail) = v.names();
        assert_eq!(
            pass,
            ["a background VM next to a saturating hog gets its 10% budget +-2% (got 10.0%)"]
        );
        assert_eq!(
            fail,
            [
                "a background VM alone uses idle CPUs far beyond its 10% budget (got 10.0%, want > 30%)",
                "a throttle-mode VM alone stays at its 10% budget +-2% (got 25.0%)"
            ]
        );
    }
}
