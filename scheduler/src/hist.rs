//! Log2 histograms: bucket 0 holds the value 0, bucket `k` (`1..BUCKETS-1`) holds
//! `[2^(k-1), 2^k)`, and the last bucket everything from `2^(BUCKETS-2)` (about 1.07 s) up.
//! Fixed size, no allocation; used for response times and wakeup latencies. This is also the
//! layout of the BPF tier's histograms (`AXRT_LAT_BUCKETS` in bpf/intf.h, checked equal by a
//! loader test), and [`quantile_bucket`] / [`bucket_bound`] read both.

use crate::types::Time;

/// Number of buckets of a [`Log2Hist`] (and of the BPF tier's histograms).
pub const BUCKETS: usize = 32;

/// The bucket holding the `permille`/1000 quantile of the values counted in `counts` (bucket
/// `i` holding `counts[i]` values), `None` if it counts none.
pub fn quantile_bucket(counts: &[u64], permille: u32) -> Option<usize> {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = (total * u64::from(permille.min(1000)))
        .div_ceil(1000)
        .max(1);
    let mut seen = 0;
    for (b, &c) in counts.iter().enumerate() {
        seen += c;
        if seen >= rank {
            return Some(b);
        }
    }
    Some(counts.len() - 1)
}

/// The bound every value of bucket `b` is below: `2^b` (1 for bucket 0). For the last bucket,
/// which is open, `2^(BUCKETS-1)`: the values it holds are at least half that.
pub const fn bucket_bound(b: usize) -> Time {
    if b >= BUCKETS - 1 {
        1 << (BUCKETS - 1)
    } else {
        1 << b
    }
}

/// A histogram of nanosecond values with power-of-two buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Log2Hist {
    counts: [u64; BUCKETS],
    total: u64,
    max: Time,
}

impl Default for Log2Hist {
    fn default() -> Self {
        Log2Hist {
            counts: [0; BUCKETS],
            total: 0,
            max: 0,
        }
    }
}

impl Log2Hist {
    /// The bucket a value falls in.
    #[inline]
    pub const fn bucket_of(v: Time) -> usize {
        let b = (64 - v.leading_zeros()) as usize;
        if b < BUCKETS {
            b
        } else {
            BUCKETS - 1
        }
    }

    /// The smallest and largest value of bucket `b` (both inclusive).
    pub const fn bucket_range(b: usize) -> (Time, Time) {
        match b {
            0 => (0, 0),
            _ if b >= BUCKETS - 1 => (1 << (BUCKETS - 2), Time::MAX),
            _ => (1 << (b - 1), (1 << b) - 1),
        }
    }

    /// Records one value.
    #[inline]
    pub fn record(&mut self, v: Time) {
        self.counts[Self::bucket_of(v)] += 1;
        self.total += 1;
        self.max = self.max.max(v);
    }

    /// Number of values in bucket `b`.
    pub fn bucket(&self, b: usize) -> u64 {
        self.counts.get(b).copied().unwrap_or(0)
    }

    /// All bucket counts.
    pub fn buckets(&self) -> &[u64; BUCKETS] {
        &self.counts
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The largest value recorded (0 if none).
    pub fn max(&self) -> Time {
        self.max
    }

    /// An upper bound of the `permille`/1000 quantile: the top of the bucket holding it, or
    /// the largest value recorded if that is smaller (`None` if empty).
    pub fn quantile_upper(&self, permille: u32) -> Option<Time> {
        quantile_bucket(&self.counts, permille).map(|b| Self::bucket_range(b).1.min(self.max))
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Log2Hist) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges() {
        assert_eq!(Log2Hist::bucket_of(0), 0);
        assert_eq!(Log2Hist::bucket_of(1), 1);
        assert_eq!(Log2Hist::bucket_of(2), 2);
        assert_eq!(Log2Hist::bucket_of(3), 2);
        assert_eq!(Log2Hist::bucket_of(4), 3);
        assert_eq!(Log2Hist::bucket_of(1023), 10);
        assert_eq!(Log2Hist::bucket_of(1024), 11);
        assert_eq!(Log2Hist::bucket_of(Time::MAX), BUCKETS - 1);
        assert_eq!(Log2Hist::bucket_of(1 << 30), BUCKETS - 1);
        assert_eq!(Log2Hist::bucket_of((1 << 30) - 1), BUCKETS - 2);
        for b in 0..BUCKETS {
            let (lo, hi) = Log2Hist::bucket_range(b);
            assert_eq!(Log2Hist::bucket_of(lo), b);
            assert_eq!(Log2Hist::bucket_of(hi), b);
            if b > 0 {
                assert_eq!(Log2Hist::bucket_of(lo - 1), b - 1);
            }
            if b < BUCKETS - 1 {
                assert_eq!(bucket_bound(b), hi + 1);
            }
        }
    }

    #[test]
    fn record_count_quantile_merge() {
        let mut h = Log2Hist::default();
        assert_eq!(h.quantile_upper(500), None);
        for v in [0, 1, 5, 6, 7, 1000, 1_000_000] {
            h.record(v);
        }
        assert_eq!(h.count(), 7);
        assert_eq!(h.bucket(3), 3); // 5, 6, 7
        assert_eq!(h.bucket(10), 1); // 1000
        assert_eq!(h.max(), 1_000_000);
        assert_eq!(h.quantile_upper(500), Some(7));
        assert_eq!(h.quantile_upper(1000), Some(1_000_000));
        let mut g = Log2Hist::default();
        g.record(6);
        g.merge(&h);
        assert_eq!(g.count(), 8);
        assert_eq!(g.bucket(3), 4);
    }

    #[test]
    fn quantiles_of_bare_counts() {
        let mut counts = [0u64; BUCKETS];
        assert_eq!(quantile_bucket(&counts, 990), None);
        counts[10] = 98; // [512, 1024)
        counts[21] = 2; // [1 Mi, 2 Mi)
        assert_eq!(quantile_bucket(&counts, 500), Some(10));
        assert_eq!(quantile_bucket(&counts, 980), Some(10));
        assert_eq!(quantile_bucket(&counts, 990), Some(21));
        assert_eq!(bucket_bound(10), 1024);
        assert_eq!(bucket_bound(21), 2 << 20);
    }
}
