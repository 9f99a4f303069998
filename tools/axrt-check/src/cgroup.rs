// SPDX-License-Identifier: GPL-2.0-only
//
// cgroup.rs - CPU shares of cgroups over a measurement window. `axrt-check cg-snapshot` reads
// the groups' cpu.stat usage_usec with the monotonic time of the reading into a small JSON
// file; the script takes one snapshot, lets the window pass (sleep: the window is the
// measurement), takes another, and a check turns the two into shares.

//! Cgroup CPU-time snapshots and the shares between two of them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::Error;

/// CPU time of some cgroups at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// CLOCK_MONOTONIC at the reading, µs.
    pub at_us: u64,
    /// cpu.stat usage_usec of each group, by its path below the cgroup2 root.
    pub usage_usec: BTreeMap<String, u64>,
}

/// CLOCK_MONOTONIC, µs.
fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given and nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_MONOTONIC is always there");
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

/// usage_usec of a cpu.stat file's text.
pub fn parse_usage(cpu_stat: &str) -> Option<u64> {
    cpu_stat
        .lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// Reads the groups' CPU time below `root` (the cgroup2 mount) now.
pub fn take(root: &Path, groups: &[String]) -> Result<Snapshot> {
    let at_us = monotonic_us();
    let mut usage_usec = BTreeMap::new();
    for g in groups {
        let path = root.join(g).join("cpu.stat");
        let text = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
        let Some(u) = parse_usage(&text) else {
            bail!("{}: no usage_usec line", path.display());
        };
        usage_usec.insert(g.clone(), u);
    }
    Ok(Snapshot { at_us, usage_usec })
}

/// A snapshot written by `cg-snapshot`.
pub fn load(path: &Path) -> Result<Snapshot, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: not a cg-snapshot: {e}", path.display()))
}

/// Two snapshots: the start and the end of a window.
#[derive(Debug, Clone)]
pub struct Window {
    /// At the start.
    pub before: Snapshot,
    /// At the end.
    pub after: Snapshot,
}

impl Window {
    /// The window of two snapshot files (`paths`: before, after).
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Window, Error> {
        let [b, a] = paths else {
            return Err(format!("a window is two snapshots, got {}", paths.len()));
        };
        Ok(Window {
            before: load(b.as_ref())?,
            after: load(a.as_ref())?,
        })
    }

    /// Length of the window, µs.
    pub fn wall_us(&self) -> u64 {
        self.after.at_us.saturating_sub(self.before.at_us)
    }

    /// CPU time `group` used over the window, µs.
    pub fn usage_us(&self, group: &str) -> Result<u64, Error> {
        let get = |s: &Snapshot| {
            s.usage_usec
                .get(group)
                .copied()
                .ok_or_else(|| format!("no usage of {group} in the snapshot"))
        };
        Ok(get(&self.after)?.saturating_sub(get(&self.before)?))
    }

    /// `group`'s CPU share over the window in % of one CPU, to one decimal: the figure the
    /// checks show is the one they compare.
    pub fn share_pct(&self, group: &str) -> Result<f64, Error> {
        let wall = self.wall_us();
        if wall == 0 {
            return Err("the window has no length".into());
        }
        Ok(round1(100.0 * self.usage_us(group)? as f64 / wall as f64))
    }
}

/// `group`'s share over a window that may not have been read.
pub fn share(w: &Result<Window, Error>, group: &str) -> Result<f64, Error> {
    w.as_ref()
        .map_err(Clone::clone)
        .and_then(|w| w.share_pct(group))
}

/// A share as the check names show it: one decimal, or "none".
pub fn shown(s: &Result<f64, Error>) -> String {
    s.as_ref().map_or_else(|_| "none".to_string(), |x| pct(*x))
}

/// `x` to one decimal.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A share as the checks show it: one decimal.
pub fn pct(x: f64) -> String {
    format!("{x:.1}")
}

/// `x` is within `tol` of `target`.
pub fn within(x: f64, target: f64, tol: f64) -> bool {
    (x - target).abs() <= tol + 1e-9
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A window of `wall_us` in which each group used the given µs.
    pub fn window(wall_us: u64, used: &[(&str, u64)]) -> Window {
        let snap = |at_us, f: &dyn Fn(u64) -> u64| Snapshot {
            at_us,
            usage_usec: used.iter().map(|(g, u)| (g.to_string(), f(*u))).collect(),
        };
        Window {
            before: snap(1_000, &|_| 500),
            after: snap(1_000 + wall_us, &|u| 500 + u),
        }
    }

    #[test]
    fn shares_are_cpu_time_over_wall_time_to_one_decimal() {
        let w = window(10_000_000, &[("a", 3_012_000), ("b", 0)]);
        assert_eq!(w.share_pct("a"), Ok(30.1));
        assert_eq!(w.share_pct("b"), Ok(0.0));
        assert!(w.share_pct("c").is_err());
        assert_eq!(w.usage_us("a"), Ok(3_012_000));
        assert!(window(0, &[("a", 1)]).share_pct("a").is_err());
    }

    #[test]
    fn cpu_stat_usage_is_read_and_within_is_inclusive() {
        assert_eq!(parse_usage("usage_usec 1234\nuser_usec 1000\n"), Some(1234));
        assert_eq!(parse_usage("user_usec 1000\n"), None);
        assert!(within(12.0, 10.0, 2.0) && within(8.0, 10.0, 2.0));
        assert!(!within(12.1, 10.0, 2.0));
    }

    #[test]
    fn a_snapshot_of_real_files_reads_back() {
        let dir = std::env::temp_dir().join(format!("axrt-check-cg-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("g/h")).unwrap();
        std::fs::write(dir.join("g/h/cpu.stat"), "usage_usec 77\nuser_usec 70\n").unwrap();
        let s = take(&dir, &["g/h".into()]).unwrap();
        assert_eq!(s.usage_usec["g/h"], 77);
        assert!(take(&dir, &["nope".into()]).is_err());
        let f = dir.join("s.json");
        std::fs::write(&f, serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(load(&f), Ok(s));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
