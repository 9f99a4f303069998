//! First in, first out: tasks run in the order they became runnable, each until it blocks or
//! yields; nothing is ever reordered. A task forced off the CPU by its caller (`put_prev` with
//! `preempted = true`) keeps its place at the head; a task that yields goes to the tail.
//!
//! This is [`RtPolicy`] with one level and no slices ([`Discipline::Fifo`]).

use super::{forward_policy, Discipline, RtPolicy};

/// The FIFO policy (name `"fifo"`).
#[derive(Clone, Debug)]
pub struct FifoPolicy(RtPolicy);

impl Default for FifoPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl FifoPolicy {
    /// An empty FIFO run queue.
    pub fn new() -> Self {
        Self(RtPolicy::with_discipline(Discipline::Fifo, 1))
    }
}

forward_policy!(FifoPolicy);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Policy, PolicyParams};
    use crate::types::TaskId;

    #[test]
    fn priorities_and_time_are_ignored() {
        let mut pol = FifoPolicy::new();
        for (i, prio) in [(0u32, 255u8), (1, 0), (2, 128)] {
            pol.enqueue(0, TaskId(i), &PolicyParams::new().with_prio(prio));
        }
        let cur = pol.pick_next(0).unwrap();
        assert_eq!(cur, TaskId(0));
        assert_eq!(pol.slice_for(cur), None);
        assert!(!pol.tick(u64::MAX / 2, cur), "FIFO never asks to preempt");
        pol.put_prev(10, cur, 10, true);
        assert_eq!(
            pol.pick_next(10),
            Some(TaskId(0)),
            "forced off: keeps its place"
        );
        pol.put_prev(20, TaskId(0), 10, false);
        assert_eq!(
            pol.pick_next(20),
            Some(TaskId(1)),
            "yielded: goes to the tail"
        );
        pol.block(20, TaskId(1), 0);
        assert_eq!(pol.pick_next(20), Some(TaskId(2)));
        pol.block(20, TaskId(2), 0);
        assert_eq!(pol.pick_next(20), Some(TaskId(0)));
        assert_eq!(pol.name(), "fifo");
    }
}
