// SPDX-License-Identifier: GPL-2.0-only
//
// Response-time statistics: nearest-rank percentiles over the samples a vCPU thread recorded,
// and the CPU share arithmetic.

use serde::{Deserialize, Serialize};

/// The nearest-rank `p`-th percentile (0 < p <= 100) of ascending `sorted` samples: the
/// smallest sample that at least p% of the samples do not exceed. `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50/p99/max of a set of durations, in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Summary {
    /// Summarises samples given in nanoseconds (sorted in place); `None` when there are none.
    pub fn of_ns(samples: &mut [u64]) -> Option<Summary> {
        samples.sort_unstable();
        let us = |v: Option<u64>| v.map(|ns| ns as f64 / 1000.0);
        Some(Summary {
            p50_us: us(percentile(samples, 50.0))?,
            p99_us: us(percentile(samples, 99.0))?,
            max_us: us(samples.last().copied())?,
        })
    }
}

/// CPU share in percent of one CPU: `cpu_ns` of CPU time used over `wall_ns` of wall time.
pub fn cpu_share_pct(cpu_ns: u64, wall_ns: u64) -> f64 {
    if wall_ns == 0 {
        0.0
    } else {
        100.0 * cpu_ns as f64 / wall_ns as f64
    }
}

/// Fraction of `jobs` that missed their deadline (0 when there were no jobs).
pub fn miss_ratio(misses: u64, jobs: u64) -> f64 {
    if jobs == 0 {
        0.0
    } else {
        misses as f64 / jobs as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.1), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2], 50.0), Some(1));
        assert_eq!(percentile(&[], 50.0), None);
        // 10 samples: p99 is the largest, p50 the fifth.
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(percentile(&v, 99.0), Some(10));
        assert_eq!(percentile(&v, 50.0), Some(5));
    }

    #[test]
    fn summary_sorts_and_converts() {
        let mut v = vec![3000, 1000, 2000];
        let s = Summary::of_ns(&mut v).unwrap();
        assert_eq!(
            s,
            Summary {
                p50_us: 2.0,
                p99_us: 3.0,
                max_us: 3.0
            }
        );
        assert_eq!(Summary::of_ns(&mut []), None);
    }

    #[test]
    fn shares_and_ratios() {
        assert_eq!(cpu_share_pct(3, 10), 30.0);
        assert_eq!(cpu_share_pct(3, 0), 0.0);
        assert_eq!(miss_ratio(1, 4), 0.25);
        assert_eq!(miss_ratio(0, 0), 0.0);
    }
}
