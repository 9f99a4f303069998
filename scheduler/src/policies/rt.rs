//! The AxRT policy on a single run queue (docs/POLICY.md, "Choosing what runs", rules 2 and 4 as
//! seen from one CPU, without groups, budgets or boosts):
//!
//! * the queued task with the best (smallest) priority runs; among equals, the one that became
//!   ready first ([`ReadyQueue`]: 256-level bitmap, O(1) FIFO per level);
//! * a task that uses up its slice goes behind the others of its level (round robin within a
//!   level); a task preempted before its slice is used up goes back to the *front* of its level
//!   and keeps the rest of its slice (it became ready before the others there);
//! * a task that becomes ready with a better priority than the current one preempts it.
//!
//! The same machinery, with every task on one level, is the FIFO policy (no slices) and the
//! round-robin policy (slices): see [`Discipline`]. All operations are O(1) and, once ids are
//! reserved, allocation free.

use super::table::{Running, TaskTable};
use crate::policy::{Policy, PolicyParams, DEFAULT_PRIO};
use crate::queue::ReadyQueue;
use crate::types::{Prio, TaskId, Time};

/// The slice the AxRT policy gives when neither the task nor the caller chose one (5 ms,
/// `defaults.slice_us` in the configuration).
pub const DEFAULT_SLICE: Time = 5_000_000;

/// How [`RtPolicy`] orders tasks and whether it uses slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    /// One level, no slices: a task runs until it blocks, yields or is forced off.
    Fifo,
    /// One level, slices: rotate at slice end.
    RoundRobin,
    /// 256 priority levels, slices: the AxRT policy.
    Priority,
}

/// `RtTask::slice` value for "no slice" (kept as a plain `Time` so the entry stays 24 bytes).
const NO_SLICE: Time = Time::MAX;

/// Per-task state.
#[derive(Clone, Copy, Debug)]
struct RtTask {
    /// Part of the current slice already used.
    used: Time,
    /// Full slice, [`NO_SLICE`] for none.
    slice: Time,
    /// Level the task is queued at (0 under the one-level disciplines).
    level: Prio,
}

const FRESH: RtTask = RtTask {
    used: 0,
    slice: NO_SLICE,
    level: DEFAULT_PRIO,
};

/// The AxRT single-queue policy (and, configured by [`Discipline`], FIFO and round robin).
#[derive(Clone, Debug)]
pub struct RtPolicy {
    queue: ReadyQueue,
    tasks: TaskTable<RtTask>,
    discipline: Discipline,
    default_slice: Time,
    current: Option<Running>,
}

impl Default for RtPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_SLICE)
    }
}

impl RtPolicy {
    /// The AxRT policy with `default_slice` ns for tasks that do not set their own.
    pub fn new(default_slice: Time) -> Self {
        Self::with_discipline(Discipline::Priority, default_slice)
    }

    /// A policy following `discipline`; `default_slice` is ignored by [`Discipline::Fifo`].
    pub fn with_discipline(discipline: Discipline, default_slice: Time) -> Self {
        Self {
            queue: ReadyQueue::new(),
            tasks: TaskTable::new(FRESH),
            discipline,
            default_slice: default_slice.max(1),
            current: None,
        }
    }

    /// The discipline this policy follows.
    pub fn discipline(&self) -> Discipline {
        self.discipline
    }

    /// The level `task` is queued at, if queued.
    pub fn queued_prio(&self, task: TaskId) -> Option<Prio> {
        self.queue.prio_of(task)
    }

    /// The task `pick_next` would take and its level, without taking it.
    pub fn peek_next(&self) -> Option<(TaskId, Prio)> {
        self.queue.peek_first()
    }

    /// Level and slice ([`NO_SLICE`] for none) `params` give under this discipline.
    fn placement(&self, params: &PolicyParams) -> (Prio, Time) {
        let slice = params.slice.unwrap_or(self.default_slice).min(NO_SLICE - 1);
        match self.discipline {
            Discipline::Fifo => (0, NO_SLICE),
            Discipline::RoundRobin => (0, slice),
            Discipline::Priority => (params.prio, slice),
        }
    }
}

impl Policy for RtPolicy {
    fn name(&self) -> &'static str {
        match self.discipline {
            Discipline::Fifo => "fifo",
            Discipline::RoundRobin => "rr",
            Discipline::Priority => "axrt",
        }
    }

    fn reserve(&mut self, ids: usize) {
        self.tasks.reserve(ids);
        self.queue.reserve_ids(ids);
    }

    #[inline]
    fn enqueue(&mut self, _now: Time, task: TaskId, params: &PolicyParams) {
        debug_assert!(!self.queue.contains(task), "{task:?} enqueued twice");
        let (level, slice) = self.placement(params);
        *self.tasks.entry(task) = RtTask {
            used: 0,
            slice,
            level,
        };
        self.queue.push_back(task, level);
    }

    #[inline]
    fn remove(&mut self, _now: Time, task: TaskId) -> bool {
        self.queue.remove(task)
    }

    #[inline]
    fn pick_next(&mut self, now: Time) -> Option<TaskId> {
        debug_assert!(self.current.is_none(), "pick_next with a task current");
        let (task, _) = self.queue.pop_first()?;
        self.current = Some(Running { task, since: now });
        Some(task)
    }

    #[inline]
    fn put_prev(&mut self, _now: Time, task: TaskId, ran: Time, preempted: bool) {
        Running::end(&mut self.current, task);
        let Some(t) = self.tasks.get_mut(task) else {
            debug_assert!(false, "{task:?} was never enqueued");
            return;
        };
        t.used = t.used.saturating_add(ran);
        let keeps_turn = preempted && t.used < t.slice;
        let level = t.level;
        if keeps_turn {
            self.queue.push_front(task, level);
        } else {
            t.used = 0;
            self.queue.push_back(task, level);
        }
    }

    #[inline]
    fn block(&mut self, _now: Time, task: TaskId, _ran: Time) {
        Running::end(&mut self.current, task);
        if let Some(t) = self.tasks.get_mut(task) {
            t.used = 0;
        }
    }

    fn forget(&mut self, task: TaskId) {
        debug_assert!(!self.queue.contains(task));
        self.tasks.reset(task);
    }

    #[inline]
    fn tick(&mut self, now: Time, current: TaskId) -> bool {
        let Some(best) = self.queue.highest_prio() else {
            return false;
        };
        let Some(t) = self.tasks.get(current) else {
            return false;
        };
        if best < t.level {
            return true;
        }
        let since = Running::of(self.current, current).map_or(0, |r| now.saturating_sub(r.since));
        best == t.level && t.slice != NO_SLICE && t.used.saturating_add(since) >= t.slice
    }

    fn slice_for(&self, task: TaskId) -> Option<Time> {
        let t = self.tasks.get(task)?;
        (t.slice != NO_SLICE).then(|| t.slice.saturating_sub(t.used))
    }

    fn set_params(&mut self, _now: Time, task: TaskId, params: &PolicyParams) {
        let (level, slice) = self.placement(params);
        let t = self.tasks.entry(task);
        let moved = t.level != level;
        t.level = level;
        t.slice = slice;
        if moved && self.queue.remove(task) {
            self.queue.push_back(task, level);
        }
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    const MS: Time = 1_000_000;

    fn p(prio: Prio) -> PolicyParams {
        PolicyParams::new().with_prio(prio)
    }

    fn drain(pol: &mut RtPolicy) -> Vec<u32> {
        let mut out = vec![];
        while let Some(t) = pol.pick_next(0) {
            out.push(t.0);
            pol.block(0, t, 0);
        }
        out
    }

    #[test]
    fn best_priority_first_fifo_within_level() {
        let mut pol = RtPolicy::new(5 * MS);
        for (id, prio) in [(0, 200), (1, 10), (2, 200), (3, 10), (4, 0), (5, 255)] {
            pol.enqueue(0, TaskId(id), &p(prio));
        }
        assert_eq!(drain(&mut pol), vec![4, 1, 3, 0, 2, 5]);
    }

    #[test]
    fn better_arrival_preempts_equal_or_worse_does_not() {
        let mut pol = RtPolicy::new(5 * MS);
        pol.enqueue(0, TaskId(0), &p(100));
        let cur = pol.pick_next(0).unwrap();
        pol.enqueue(MS, TaskId(1), &p(100));
        pol.enqueue(MS, TaskId(2), &p(150));
        assert!(
            !pol.tick(MS, cur),
            "equal/worse arrivals must not preempt mid-slice"
        );
        pol.enqueue(2 * MS, TaskId(3), &p(99));
        assert!(pol.tick(2 * MS, cur));
        // Preempted with slice left: back to the front of its level, with the rest of its slice.
        pol.put_prev(2 * MS, cur, 2 * MS, true);
        assert_eq!(pol.slice_for(cur), Some(3 * MS));
        assert_eq!(drain(&mut pol), vec![3, 0, 1, 2]);
    }

    #[test]
    fn slice_end_rotates_within_level_only_when_a_peer_waits() {
        let mut pol = RtPolicy::new(5 * MS);
        pol.enqueue(0, TaskId(0), &p(50));
        pol.enqueue(0, TaskId(1), &p(60));
        let cur = pol.pick_next(0).unwrap();
        assert_eq!(cur, TaskId(0));
        // Only a worse task waits: the slice end does not switch.
        assert!(!pol.tick(6 * MS, cur));
        pol.enqueue(6 * MS, TaskId(2), &p(50));
        assert!(pol.tick(6 * MS, cur));
        pol.put_prev(6 * MS, cur, 6 * MS, true);
        assert_eq!(
            pol.slice_for(cur),
            Some(5 * MS),
            "a new slice after rotation"
        );
        assert_eq!(drain(&mut pol), vec![2, 0, 1]);
    }

    #[test]
    fn remaining_slice_is_honoured_across_preemption() {
        let mut pol = RtPolicy::new(5 * MS);
        pol.enqueue(0, TaskId(0), &p(50));
        pol.enqueue(0, TaskId(1), &p(50));
        let a = pol.pick_next(0).unwrap();
        pol.put_prev(3 * MS, a, 3 * MS, true);
        let a2 = pol.pick_next(3 * MS).unwrap();
        assert_eq!(a2, a);
        assert!(!pol.tick(4 * MS, a), "1 of 2 remaining ms used");
        assert!(pol.tick(5 * MS, a), "3 + 2 = 5 ms used");
    }

    #[test]
    fn set_params_moves_a_queued_task() {
        let mut pol = RtPolicy::new(5 * MS);
        pol.enqueue(0, TaskId(0), &p(10));
        pol.enqueue(0, TaskId(1), &p(20));
        pol.set_params(0, TaskId(1), &p(5));
        assert_eq!(pol.queued_prio(TaskId(1)), Some(5));
        assert_eq!(drain(&mut pol), vec![1, 0]);
    }

    #[test]
    fn per_task_slice_override() {
        let mut pol = RtPolicy::new(5 * MS);
        pol.enqueue(0, TaskId(0), &p(1).with_slice(MS));
        pol.enqueue(0, TaskId(1), &p(1));
        let a = pol.pick_next(0).unwrap();
        assert!(pol.tick(MS, a));
        pol.put_prev(MS, a, MS, true);
        let b = pol.pick_next(MS).unwrap();
        assert_eq!(b, TaskId(1));
        assert!(!pol.tick(5 * MS, b));
        assert!(pol.tick(6 * MS, b));
    }
}
