// SPDX-License-Identifier: GPL-2.0-only
//
// hist.rs - the latency histograms of the BPF side (intf.h: exact below 16 ns, then 16
// log-linear buckets per power of two): bucket bounds, merging, percentiles and CDF points.
// A percentile is the upper bound of its bucket (at most 1/16 above the true value), capped
// at the exact maximum, so it never understates a latency.

use serde::{Deserialize, Serialize};

use crate::bpf_intf;

/// Buckets per histogram.
pub const BUCKETS: usize = bpf_intf::AXRT_HIST_BUCKETS as usize;
const SUB_BITS: u32 = bpf_intf::AXRT_HIST_SUB_BITS;
const SUB: u64 = 1 << SUB_BITS;

/// The bucket of `v` ns, as trace.bpf.c computes it.
pub fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let m = 63 - v.leading_zeros();
    if m > bpf_intf::AXRT_HIST_MAX_MSB {
        return BUCKETS - 1;
    }
    let b = (m - SUB_BITS + 1) as u64 * SUB + ((v >> (m - SUB_BITS)) & (SUB - 1));
    (b as usize).min(BUCKETS - 1)
}

/// The largest value of bucket `b`, ns (the last bucket has no bound: u64::MAX).
pub fn bucket_upper(b: usize) -> u64 {
    if b as u64 >= SUB {
        if b == BUCKETS - 1 {
            return u64::MAX;
        }
        let octave = b as u64 / SUB - 1; // the msb is octave + SUB_BITS
        let m = octave as u32 + SUB_BITS;
        let sub = b as u64 % SUB;
        let low = (1u64 << m) + (sub << (m - SUB_BITS));
        low + (1u64 << (m - SUB_BITS)) - 1
    } else {
        b as u64
    }
}

/// One latency distribution.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hist {
    /// Samples.
    pub count: u64,
    /// Their sum, ns.
    pub sum_ns: u64,
    /// The largest, ns.
    pub max_ns: u64,
    /// Samples per bucket (empty when there are none).
    #[serde(skip)]
    pub buckets: Vec<u64>,
}

/// Percentiles of a distribution, µs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest sample.
    pub max_us: f64,
}

impl Hist {
    /// A histogram of the BPF map's layout.
    pub fn from_raw(count: u64, sum_ns: u64, max_ns: u64, buckets: &[u64]) -> Self {
        Hist {
            count,
            sum_ns,
            max_ns,
            buckets: buckets.to_vec(),
        }
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &Hist) {
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum_ns += other.sum_ns;
        self.max_ns = self.max_ns.max(other.max_ns);
    }

    /// The value at quantile `q` (0..=1), ns: the upper bound of the bucket where the
    /// cumulative count reaches ceil(q * n), capped at the maximum.
    pub fn quantile_ns(&self, q: f64) -> u64 {
        let n: u64 = self.buckets.iter().sum();
        if n == 0 {
            return 0;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (b, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return bucket_upper(b).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// p50/p99/p99.9/max and the mean, µs.
    pub fn percentiles(&self) -> Percentiles {
        let us = |ns: u64| ns as f64 / 1000.0;
        Percentiles {
            count: self.count,
            mean_us: if self.count > 0 {
                self.sum_ns as f64 / self.count as f64 / 1000.0
            } else {
                0.0
            },
            p50_us: us(self.quantile_ns(0.50)),
            p99_us: us(self.quantile_ns(0.99)),
            p999_us: us(self.quantile_ns(0.999)),
            max_us: us(self.max_ns),
        }
    }

    /// The CDF as (upper bound in µs, % of samples at or below it), one point per
    /// non-empty bucket.
    pub fn cdf_us(&self) -> Vec<(f64, f64)> {
        let n: u64 = self.buckets.iter().sum();
        let mut seen = 0;
        let mut out = Vec::new();
        for (b, &c) in self.buckets.iter().enumerate() {
            if c == 0 {
                continue;
            }
            seen += c;
            let x = bucket_upper(b).min(self.max_ns) as f64 / 1000.0;
            out.push((x, 100.0 * seen as f64 / n as f64));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_then_log_linear() {
        for v in 0..16 {
            assert_eq!(bucket_of(v), v as usize);
            assert_eq!(bucket_upper(v as usize), v);
        }
        // Every value lies in its bucket, and bucket bounds are contiguous.
        let mut prev_upper = 15;
        for b in 16..BUCKETS - 1 {
            let up = bucket_upper(b);
            assert_eq!(bucket_of(prev_upper + 1), b, "bucket {b}");
            assert_eq!(bucket_of(up), b);
            // Width at most 1/16 of the bucket's lower bound.
            assert!((up - prev_upper) * 16 <= prev_upper + 1, "bucket {b}");
            prev_upper = up;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        assert_eq!(bucket_of(1 << 40), BUCKETS - 1);
    }

    #[test]
    fn percentiles_are_upper_bounds_capped_at_the_maximum() {
        let mut h = Hist {
            buckets: vec![0; BUCKETS],
            ..Hist::default()
        };
        // 1000 samples: 990 of 10 us, 9 of 1 ms, 1 of 5 ms.
        for (v, n) in [(10_000u64, 990u64), (1_000_000, 9), (5_000_000, 1)] {
            h.buckets[bucket_of(v)] += n;
            h.count += n;
            h.sum_ns += v * n;
            h.max_ns = h.max_ns.max(v);
        }
        let p = h.percentiles();
        assert!(p.p50_us >= 10.0 && p.p50_us <= 10.0 * 17.0 / 16.0, "{p:?}");
        assert!(p.p99_us >= 10.0 && p.p99_us <= 10.7, "{p:?}");
        assert!(p.p999_us >= 1000.0 && p.p999_us <= 1063.0, "{p:?}");
        assert_eq!(p.max_us, 5000.0);
        let cdf = h.cdf_us();
        assert_eq!(cdf.len(), 3);
        assert_eq!(cdf[2], (5000.0, 100.0));
        let mut two = h.clone();
        two.merge(&h);
        assert_eq!(two.count, 2000);
        assert_eq!(two.percentiles().p999_us, p.p999_us);
    }
}
