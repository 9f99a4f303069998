//! Round robin: one queue in arrival order; the current task runs for one slice, then goes to
//! the tail if another task waits. Priorities are ignored; a task may override the slice with
//! [`PolicyParams::slice`](crate::policy::PolicyParams::slice). A task forced off before its slice
//! ends keeps its place at the head and the rest of its slice; a task that yields goes to the
//! tail with a fresh slice.
//!
//! This is [`RtPolicy`] with one level ([`Discipline::RoundRobin`]).

use super::{forward_policy, Discipline, RtPolicy};
use crate::types::Time;

/// The round-robin policy (name `"rr"`).
#[derive(Clone, Debug)]
pub struct RrPolicy(RtPolicy);

impl RrPolicy {
    /// An empty round-robin run queue giving `slice` ns per turn.
    pub fn new(slice: Time) -> Self {
        Self(RtPolicy::with_discipline(Discipline::RoundRobin, slice))
    }
}

forward_policy!(RrPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyParams};
    use crate::types::TaskId;
    use alloc::vec::Vec;

    const MS: Time = 1_000_000;

    #[test]
    fn rotates_at_slice_end_ignoring_priorities() {
        let mut pol = RrPolicy::new(2 * MS);
        for (i, prio) in [(0u32, 200u8), (1, 0), (2, 100)] {
            pol.enqueue(0, TaskId(i), &PolicyParams::new().with_prio(prio));
        }
        let mut now = 0;
        let mut order = Vec::new();
        for _ in 0..7 {
            let cur = pol.pick_next(now).unwrap();
            order.push(cur.0);
            assert!(!pol.tick(now + 2 * MS - 1, cur));
            now += 2 * MS;
            assert!(pol.tick(now, cur));
            pol.put_prev(now, cur, 2 * MS, true);
        }
        assert_eq!(order, [0, 1, 2, 0, 1, 2, 0]);
    }

    #[test]
    fn alone_it_keeps_running() {
        let mut pol = RrPolicy::new(2 * MS);
        pol.enqueue(0, TaskId(7), &PolicyParams::new());
        let cur = pol.pick_next(0).unwrap();
        assert!(!pol.tick(100 * MS, cur));
        assert_eq!(pol.name(), "rr");
    }
}
