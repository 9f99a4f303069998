//! Log2 histograms: bucket 0 holds the value 0, bucket `k` (1..=64) holds `[2^(k-1), 2^k)`.
//! Fixed size, no allocation; used for response times and wakeup latencies.

use crate::types::Time;

/// Number of buckets of a [`Log2Hist`].
pub const BUCKETS: usize = 65;

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
        (64 - v.leading_zeros()) as usize
    }

    /// The smallest and largest value of bucket `b` (both inclusive).
    pub const fn bucket_range(b: usize) -> (Time, Time) {
        match b {
            0 => (0, 0),
            64 => (1 << 63, Time::MAX),
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

    /// An upper bound of the `permille`/1000 quantile: the top of the bucket holding it
    /// (`None` if empty).
    pub fn quantile_upper(&self, permille: u32) -> Option<Time> {
        if self.total == 0 {
            return None;
        }
        let rank = (self.total * u64::from(permille.min(1000)))
            .div_ceil(1000)
            .max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::bucket_range(b).1.min(self.max));
            }
        }
        Some(self.max)
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
        assert_eq!(Log2Hist::bucket_of(Time::MAX), 64);
        for b in 0..BUCKETS {
            let (lo, hi) = Log2Hist::bucket_range(b);
            assert_eq!(Log2Hist::bucket_of(lo), b);
            assert_eq!(Log2Hist::bucket_of(hi), b);
            if b > 0 {
                assert_eq!(Log2Hist::bucket_of(lo - 1), b - 1);
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
}
