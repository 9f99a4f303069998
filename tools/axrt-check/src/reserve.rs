// SPDX-License-Identifier: GPL-2.0-only
//
// reserve.rs - tests/vm/reserve.sh's checks on the starvation reserve (issue 4 d): a
// priority-255 task next to a saturating priority-0 load still runs, its CPU time is the
// reserve's (a slice per reserve period, not a leak of priority), and the grants are counted.

//! The starvation reserve: the starved group's CPU time and its reserve grants.

use std::path::PathBuf;

use scx_axrt::stats::Report;

use crate::cgroup::{self, Window};
use crate::data::{self, Error};
use crate::verdict::{require, Verdicts};

/// The starved cgroup and its VM (tests/vm/reserve.sh).
const LOW: &str = "axrt-res/low";
const LOW_VM: &str = "low";
/// One reserve slice (5 ms, the default) per reserve period (reserve_ms = 1000) is 0.5% of a
/// CPU; 10% is far beyond what the reserve gives and far below what a priority leak
/// (sharing a CPU with the hogs) would.
const MAX_PCT: f64 = 10.0;

/// Arguments of `axrt-check reserve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Snapshots of the low-priority cgroup around the window
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    window: Vec<PathBuf>,
    /// scx_axrt's log (--stats 1 --json)
    #[arg(long)]
    stats: PathBuf,
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    judge(&Window::load(&a.window), &data::interval_reports(&a.stats))
}

fn judge(w: &Result<Window, Error>, reports: &Result<Vec<Report>, Error>) -> Verdicts {
    let mut v = Verdicts::default();
    let used = w
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|w| w.usage_us(LOW));
    let share = cgroup::share(w, LOW);
    let grants = reports
        .as_ref()
        .map(|r| data::group_sum(r, LOW_VM, |g| g.reserve_grants))
        .map_err(Clone::clone);
    // The reserve gives one slice per reserve period (1 s): at least one grant per two seconds
    // of the window leaves room for periods the emulated machine stalled through.
    let secs = w
        .as_ref()
        .map(|w| (w.wall_us() as f64 / 1e6).round() as u64)
        .map_err(Clone::clone);
    let shown = |x: &Result<u64, Error>| x.as_ref().map_or("none".to_string(), u64::to_string);
    let s = cgroup::shown(&share);
    v.note(format!(
        "lowest-priority task under a saturating priority-0 load: {s}% of a CPU, {} reserve grants in {}s",
        shown(&grants),
        shown(&secs)
    ));
    v.check(
        format!(
            "the lowest-priority task keeps running under saturating high-priority load (got {} us)",
            shown(&used)
        ),
        used.and_then(|u| require(u > 0, || "it got no CPU time".into())),
    );
    v.check(
        format!("its CPU time comes from the reserve, not a priority leak (got {s}%, want < 10%)"),
        share.and_then(|x| require(x < MAX_PCT, || format!("{x:.1}% >= {MAX_PCT}%"))),
    );
    let want = secs.as_ref().map(|s| s / 2).map_err(Clone::clone);
    v.check(
        format!(
            "reserve grants are counted for it (got {}, want >= {})",
            shown(&grants),
            shown(&want)
        ),
        match (grants, want) {
            (Ok(g), Ok(w)) => require(g >= w, || format!("{g} < {w}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
    );
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::tests::window;
    use crate::data::fixtures;

    fn grants(n: u64) -> Result<Vec<Report>, Error> {
        Ok((0..n)
            .map(|_| fixtures::report(LOW_VM, |g| g.reserve_grants = 1))
            .collect())
    }

    #[test]
    fn a_reserve_trickle_with_grants_passes() {
        let v = judge(&Ok(window(10_020_000, &[(LOW, 40_000)])), &grants(10));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert!(v
            .outcome("reserve grants are counted for it (got 10, want >= 5)")
            .is_some());
    }

    #[test]
    fn starvation_a_leak_and_no_grants_fail() {
        let starved = judge(&Ok(window(10_000_000, &[(LOW, 0)])), &grants(0));
        let (pass, fail) = starved.names();
        assert_eq!(
            pass,
            ["its CPU time comes from the reserve, not a priority leak (got 0.0%, want < 10%)"]
        );
        assert_eq!(fail.len(), 2);
        let leak = judge(&Ok(window(10_000_000, &[(LOW, 3_000_000)])), &grants(10));
        assert_eq!(
            leak.names().1,
            ["its CPU time comes from the reserve, not a priority leak (got 30.0%, want < 10%)"]
        );
    }
}
