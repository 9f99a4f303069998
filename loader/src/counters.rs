// SPDX-License-Identifier: GPL-2.0-only
//
// counters.rs - the BPF tier's counters as Rust records: a group's (`GroupStats`), a thread's
// (`TaskStats`) and the names of the global ones. Their fields are intf.h's lists
// (AXRT_GROUP_COUNTERS, AXRT_TASK_COUNTERS, AXRT_STATS, expanded by the macros build.rs
// generates), so a counter added there appears here, in every sum and difference, and in the
// statistics reports, with no edit of this file. Histograms use the policy crate's layout and
// quantile (axrt_policy::hist).

//! Counter records read from the BPF maps, with their sums, differences and quantiles.

use axrt_policy::hist;

use crate::bpf_intf;

/// Number of buckets of the BPF tier's log2 histograms (the policy crate's layout).
pub const LAT_BUCKETS: usize = bpf_intf::AXRT_LAT_BUCKETS as usize;

macro_rules! stat_names {
    ($($c:ident $name:ident $desc:literal;)*) => {
        /// Names of the global counters, in `enum axrt_stat` order.
        pub const STAT_NAMES: [&str; bpf_intf::axrt_stat_AXRT_NR_STATS as usize] =
            [$(stringify!($name)),*];
    };
}
axrt_stats!(stat_names);

macro_rules! group_stats {
    ($($f:ident $desc:literal;)*) => {
        /// Counters and histograms of one group (or of several, summed).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct GroupStats {
            $(#[doc = $desc] pub $f: u64,)*
            /// Enqueue-to-running latency, log2 buckets.
            pub lat_hist: [u64; LAT_BUCKETS],
            /// Directed yield to the boosted task running, log2 buckets.
            pub boost_hist: [u64; LAT_BUCKETS],
        }

        impl GroupStats {
            /// Applies `f` to every counter and bucket of `self` and `o` side by side.
            fn zip(&mut self, o: &GroupStats, f: impl Fn(&mut u64, u64)) {
                $(f(&mut self.$f, o.$f);)*
                for (a, b) in self.lat_hist.iter_mut().zip(o.lat_hist) {
                    f(a, b);
                }
                for (a, b) in self.boost_hist.iter_mut().zip(o.boost_hist) {
                    f(a, b);
                }
            }

            /// The record of one CPU's map value.
            pub fn from_raw(r: &bpf_intf::axrt_group_stats) -> Self {
                GroupStats { $($f: r.$f,)* lat_hist: r.lat_hist, boost_hist: r.boost_hist }
            }
        }
    };
}
axrt_group_counters!(group_stats);

macro_rules! task_stats {
    ($($f:ident $desc:literal;)*) => {
        /// Statistics of a thread with a spec (cumulative since it got its spec).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct TaskStats {
            $(#[doc = $desc] pub $f: u64,)*
            /// Response times, log2 buckets.
            pub resp_hist: [u64; LAT_BUCKETS],
        }

        impl TaskStats {
            /// The record of a map value.
            pub fn from_raw(r: &bpf_intf::axrt_task_stats) -> Self {
                TaskStats { $($f: r.$f,)* resp_hist: r.resp_hist }
            }
        }
    };
}
axrt_task_counters!(task_stats);

impl Default for GroupStats {
    fn default() -> Self {
        // SAFETY: a plain-data bindgen struct of u64s; all zeroes is a valid value.
        Self::from_raw(&unsafe { std::mem::zeroed() })
    }
}

impl GroupStats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &GroupStats) {
        self.zip(o, |a, b| *a += b);
    }

    /// `self - prev`, counter by counter, never below zero.
    pub fn since(&self, prev: &GroupStats) -> GroupStats {
        let mut d = *self;
        d.zip(prev, |a, b| *a = a.saturating_sub(b));
        d
    }
}

/// The bound (ns) below which the `q`-quantile (0..=1) of the values counted in `hist` lies:
/// the top of its log2 bucket. `None` without values.
pub fn quantile_ns(hist: &[u64; LAT_BUCKETS], q: f64) -> Option<u64> {
    let permille = (q.clamp(0.0, 1.0) * 1000.0).round() as u32;
    hist::quantile_bucket(hist, permille).map(hist::bucket_bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_layout_is_the_policy_crates() {
        assert_eq!(LAT_BUCKETS, hist::BUCKETS);
    }

    #[test]
    fn counters_add_and_subtract_field_by_field() {
        let mut a = GroupStats {
            runtime_ns: 10,
            throttles: 2,
            supply_ns: 7,
            ..GroupStats::default()
        };
        a.lat_hist[3] = 4;
        let mut b = a;
        b.add(&a);
        assert_eq!(
            (b.runtime_ns, b.throttles, b.supply_ns, b.lat_hist[3]),
            (20, 4, 14, 8)
        );
        let d = b.since(&a);
        assert_eq!(d, a);
        // Never below zero.
        assert_eq!(a.since(&b).runtime_ns, 0);
    }

    #[test]
    fn quantiles_come_from_buckets() {
        let mut h = [0u64; LAT_BUCKETS];
        assert_eq!(quantile_ns(&h, 0.5), None);
        h[10] = 99; // [512, 1024) ns
        h[21] = 1; // [1 Mi, 2 Mi) ns
        assert_eq!(quantile_ns(&h, 0.5), Some(1024));
        assert_eq!(quantile_ns(&h, 0.99), Some(1024));
        assert_eq!(quantile_ns(&h, 1.0), Some(2 << 20));
    }

    #[test]
    fn global_counter_names_follow_the_enum() {
        assert_eq!(
            STAT_NAMES[bpf_intf::axrt_stat_AXRT_STAT_DIRECT as usize],
            "direct"
        );
        assert_eq!(
            STAT_NAMES[bpf_intf::axrt_stat_AXRT_STAT_DEADLOCK as usize],
            "deadlocks"
        );
        assert_eq!(
            STAT_NAMES[bpf_intf::axrt_stat_AXRT_STAT_EV_DROP as usize],
            "ev_drop"
        );
    }
}
