//! Earliest deadline first, preemptive, on one CPU.
//!
//! * Each `enqueue` releases a job: its absolute deadline is `release + D`, where the release is
//!   `now` and `D` is the task's relative deadline (`deadline`, else `period`, else the policy's
//!   default). The job keeps that deadline until it completes (`block`), whatever preemptions or
//!   yields happen in between.
//! * The queued job with the earliest absolute deadline runs (ties: the earlier arrival).
//! * `tick` asks to switch as soon as a queued job has an earlier deadline than the current one.
//!   There are no slices: a job runs until it completes or is preempted.
//!
//! On one CPU this meets every deadline of any task set with utilisation `Σ C/D ≤ 1` (Liu &
//! Layland). The queue is a [`KeyedHeap`] keyed by absolute deadline: O(log n) operations.

use super::table::{Running, TaskTable};
use super::KeyedHeap;
use crate::policy::{Policy, PolicyParams};
use crate::types::{TaskId, Time};

/// Relative deadline for tasks that state neither a deadline nor a period (100 ms).
pub const DEFAULT_RELATIVE_DEADLINE: Time = 100_000_000;

/// Per-task state.
#[derive(Clone, Copy, Debug)]
struct EdfTask {
    /// Relative deadline applied at the next release.
    relative: Time,
    /// Absolute deadline of the current job.
    deadline: Time,
}

const FRESH: EdfTask = EdfTask {
    relative: DEFAULT_RELATIVE_DEADLINE,
    deadline: Time::MAX,
};

/// The EDF policy (name `"edf"`).
#[derive(Clone, Debug)]
pub struct EdfPolicy {
    queue: KeyedHeap,
    tasks: TaskTable<EdfTask>,
    default_relative: Time,
    current: Option<Running>,
}

impl Default for EdfPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_RELATIVE_DEADLINE)
    }
}

impl EdfPolicy {
    /// An EDF queue giving `default_relative` ns to tasks without a deadline or period.
    pub fn new(default_relative: Time) -> Self {
        Self {
            queue: KeyedHeap::new(),
            tasks: TaskTable::new(FRESH),
            default_relative,
            current: None,
        }
    }

    /// Absolute deadline of `task`'s current job (meaningful once it has been enqueued).
    pub fn deadline_of(&self, task: TaskId) -> Option<Time> {
        self.tasks.get(task).map(|t| t.deadline)
    }

    /// The earliest queued absolute deadline.
    pub fn earliest_queued(&self) -> Option<Time> {
        self.queue.peek().map(|(_, d)| d)
    }

    fn relative(&self, params: &PolicyParams) -> Time {
        params
            .timing
            .relative_deadline()
            .unwrap_or(self.default_relative)
    }
}

impl Policy for EdfPolicy {
    fn name(&self) -> &'static str {
        "edf"
    }

    fn reserve(&mut self, ids: usize) {
        self.tasks.reserve(ids);
        self.queue.reserve_ids(ids);
    }

    fn enqueue(&mut self, now: Time, task: TaskId, params: &PolicyParams) {
        debug_assert!(!self.queue.contains(task), "{task:?} enqueued twice");
        let relative = self.relative(params);
        let deadline = now.saturating_add(relative);
        *self.tasks.entry(task) = EdfTask { relative, deadline };
        self.queue.push(task, deadline);
    }

    fn remove(&mut self, _now: Time, task: TaskId) -> bool {
        self.queue.remove(task).is_some()
    }

    fn pick_next(&mut self, now: Time) -> Option<TaskId> {
        debug_assert!(self.current.is_none(), "pick_next with a task current");
        let (task, _) = self.queue.pop()?;
        self.current = Some(Running { task, since: now });
        Some(task)
    }

    fn put_prev(&mut self, _now: Time, task: TaskId, _ran: Time, _preempted: bool) {
        Running::end(&mut self.current, task);
        let deadline = self.tasks.entry(task).deadline;
        self.queue.push(task, deadline);
    }

    fn block(&mut self, _now: Time, task: TaskId, _ran: Time) {
        Running::end(&mut self.current, task);
    }

    fn forget(&mut self, task: TaskId) {
        debug_assert!(!self.queue.contains(task));
        self.tasks.reset(task);
    }

    fn tick(&mut self, _now: Time, current: TaskId) -> bool {
        match (self.earliest_queued(), self.tasks.get(current)) {
            (Some(d), Some(t)) => d < t.deadline,
            _ => false,
        }
    }

    fn slice_for(&self, _task: TaskId) -> Option<Time> {
        None
    }

    fn set_params(&mut self, _now: Time, task: TaskId, params: &PolicyParams) {
        let relative = self.relative(params);
        self.tasks.entry(task).relative = relative;
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    const MS: Time = 1_000_000;

    #[test]
    fn picks_by_release_plus_relative_deadline() {
        let mut pol = EdfPolicy::new(50 * MS);
        // (id, release, params): deadlines 30, 25, 50 (default), 12 (period), 30 (tie).
        let jobs = [
            (0u32, 0, PolicyParams::new().with_deadline(30 * MS)),
            (1, 5 * MS, PolicyParams::new().with_deadline(20 * MS)),
            (2, 0, PolicyParams::new()),
            (3, 2 * MS, PolicyParams::new().with_period(10 * MS, MS)),
            (4, 10 * MS, PolicyParams::new().with_deadline(20 * MS)),
        ];
        for (id, rel, p) in jobs {
            pol.enqueue(rel, TaskId(id), &p);
        }
        assert_eq!(pol.deadline_of(TaskId(3)), Some(12 * MS));
        let mut order = Vec::new();
        while let Some(t) = pol.pick_next(10 * MS) {
            order.push(t.0);
            pol.block(10 * MS, t, 0);
        }
        assert_eq!(order, [3, 1, 0, 4, 2]);
    }

    #[test]
    fn earlier_deadline_preempts_and_the_job_keeps_its_deadline() {
        let mut pol = EdfPolicy::default();
        pol.enqueue(0, TaskId(0), &PolicyParams::new().with_deadline(100 * MS));
        let a = pol.pick_next(0).unwrap();
        pol.enqueue(MS, TaskId(1), &PolicyParams::new().with_deadline(200 * MS));
        assert!(!pol.tick(MS, a), "later deadline must not preempt");
        pol.enqueue(
            2 * MS,
            TaskId(2),
            &PolicyParams::new().with_deadline(50 * MS),
        );
        assert!(pol.tick(2 * MS, a));
        pol.put_prev(2 * MS, a, 2 * MS, true);
        assert_eq!(pol.deadline_of(a), Some(100 * MS));
        assert_eq!(pol.pick_next(2 * MS), Some(TaskId(2)));
        pol.block(3 * MS, TaskId(2), MS);
        assert_eq!(pol.pick_next(3 * MS), Some(a));
        assert_eq!(pol.slice_for(a), None);
    }

    #[test]
    fn next_release_gets_a_new_deadline() {
        let mut pol = EdfPolicy::default();
        let p = PolicyParams::new().with_period(10 * MS, MS);
        pol.enqueue(0, TaskId(0), &p);
        let t = pol.pick_next(0).unwrap();
        pol.block(MS, t, MS);
        pol.enqueue(10 * MS, t, &p);
        assert_eq!(pol.deadline_of(t), Some(20 * MS));
        pol.set_params(10 * MS, t, &PolicyParams::new().with_deadline(3 * MS));
        assert_eq!(
            pol.deadline_of(t),
            Some(20 * MS),
            "the current job keeps its deadline"
        );
        assert!(pol.remove(10 * MS, t));
        pol.enqueue(30 * MS, t, &PolicyParams::new().with_deadline(3 * MS));
        assert_eq!(pol.deadline_of(t), Some(33 * MS));
    }
}
