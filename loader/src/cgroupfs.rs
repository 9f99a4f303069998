// SPDX-License-Identifier: GPL-2.0-only
//
// cgroupfs.rs - what the loader reads from cgroup2 directories itself: a cgroup's id (the
// directory's inode number, the kernel's kn->id) and its cpu.max.

//! Small cgroupfs readers.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{ensure, Context, Result};

/// The cgroup id of a cgroup2 directory: its inode number (what the kernel's kn->id is).
pub fn cgroup_id(dir: &Path) -> Result<u64> {
    let md = fs::metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?;
    ensure!(md.is_dir(), "{} is not a cgroup directory", dir.display());
    Ok(md.ino())
}

/// Parses a cgroup's `cpu.max` ("max 100000" or "30000 100000", in us) into (quota, period)
/// in ns; `None` for "max".
pub fn parse_cpu_max(text: &str) -> Result<Option<(u64, u64)>> {
    let mut it = text.split_whitespace();
    let quota = it.next().context("empty cpu.max")?;
    let period: u64 = match it.next() {
        Some(p) => p
            .parse()
            .with_context(|| format!("bad cpu.max period {p:?}"))?,
        None => 100_000,
    };
    if quota == "max" {
        return Ok(None);
    }
    let quota: u64 = quota
        .parse()
        .with_context(|| format!("bad cpu.max quota {quota:?}"))?;
    ensure!(period > 0, "cpu.max period is 0");
    Ok(Some((quota * 1000, period * 1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_is_parsed() {
        assert_eq!(parse_cpu_max("max 100000\n").unwrap(), None);
        assert_eq!(
            parse_cpu_max("30000 100000\n").unwrap(),
            Some((30_000_000, 100_000_000))
        );
        assert!(parse_cpu_max("").is_err());
        assert!(parse_cpu_max("x 1").is_err());
    }
}
