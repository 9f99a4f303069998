//! A fair policy in the style of Linux CFS (and of the rCore CFS write-up, seed 002).
//!
//! * Every task has a load weight from its nice value ([`nice_to_weight`], Linux's
//!   `sched_prio_to_weight`) and a virtual runtime. Running for `ran` ns advances the virtual
//!   runtime by `ran × 1024 / weight`, so a heavier task's clock runs slower.
//! * The queued task with the smallest virtual runtime runs next (ties: the earlier arrival).
//!   Over time every runnable task gets CPU in proportion to its weight.
//! * The policy keeps `min_vruntime`, a monotonic floor: the smallest virtual runtime among the
//!   current and queued tasks, never moving backwards. A new task starts at `min_vruntime`, and a
//!   waking task at `max(own, min_vruntime)`, so neither can claim the CPU for the time it did not
//!   exist or slept.
//! * Slice: `max(min_granularity, latency × weight / runnable weight)` — each runnable task gets
//!   its weighted part of the target latency per round, but never less than the granularity.
//! * `tick` switches when the slice is used up, or (after at least `min_granularity`) when the
//!   current task's virtual runtime is ahead of the leftmost queued one by more than its slice.
//!
//! The queue is a [`KeyedHeap`] keyed by virtual runtime: O(log n) pick, put and remove, no
//! allocation once ids are reserved. The joint policy uses this policy as its weighted fair
//! queueing half.

use super::table::{Running, TaskTable};
use super::KeyedHeap;
use crate::policy::{nice_to_weight, Policy, PolicyParams, NICE_0_WEIGHT};
use crate::types::{TaskId, Time};

/// Default target latency: the period in which every runnable task should run once (24 ms).
pub const DEFAULT_LATENCY: Time = 24_000_000;
/// Default minimum slice (3 ms).
pub const DEFAULT_MIN_GRANULARITY: Time = 3_000_000;

/// Per-task state.
#[derive(Clone, Copy, Debug)]
struct FairTask {
    vruntime: u64,
    weight: u32,
    /// Weight counted in `runnable_weight` (queued or current); 0 when blocked.
    counted: u32,
}

const FRESH: FairTask = FairTask {
    vruntime: 0,
    weight: NICE_0_WEIGHT,
    counted: 0,
};

/// The fair (CFS-like) policy (name `"fair"`).
#[derive(Clone, Debug)]
pub struct FairPolicy {
    queue: KeyedHeap,
    tasks: TaskTable<FairTask>,
    min_vruntime: u64,
    /// Sum of the weights of the queued tasks and the current one.
    runnable_weight: u64,
    current: Option<Running>,
    /// The slice the current task was given.
    current_slice: Time,
    latency: Time,
    min_granularity: Time,
}

impl Default for FairPolicy {
    fn default() -> Self {
        Self::new()
    }
}

/// Virtual time for `ran` ns of CPU at `weight`: `ran × 1024 / weight` (saturating).
pub fn vtime_delta(ran: Time, weight: u32) -> u64 {
    let d = u128::from(ran) * u128::from(NICE_0_WEIGHT) / u128::from(weight.max(1));
    u64::try_from(d).unwrap_or(u64::MAX)
}

impl FairPolicy {
    /// The fair policy with the default target latency (24 ms) and granularity (3 ms).
    pub fn new() -> Self {
        Self::with_tuning(DEFAULT_LATENCY, DEFAULT_MIN_GRANULARITY)
    }

    /// The fair policy with target latency `latency` and minimum slice `min_granularity` (ns).
    pub fn with_tuning(latency: Time, min_granularity: Time) -> Self {
        Self {
            queue: KeyedHeap::new(),
            tasks: TaskTable::new(FRESH),
            min_vruntime: 0,
            runnable_weight: 0,
            current: None,
            current_slice: 0,
            latency: latency.max(1),
            min_granularity: min_granularity.max(1),
        }
    }

    /// Virtual runtime of a known task (not counting a run in progress).
    pub fn vruntime(&self, task: TaskId) -> Option<u64> {
        self.tasks.get(task).map(|t| t.vruntime)
    }

    /// The monotonic virtual-time floor new and waking tasks are placed at.
    pub fn min_vruntime(&self) -> u64 {
        self.min_vruntime
    }

    /// Moves `min_vruntime` up to the smallest virtual runtime among current and queued tasks.
    fn update_min_vruntime(&mut self) {
        let cur = self.current.map(|c| self.tasks[c.task].vruntime);
        let left = self.queue.peek().map(|(_, v)| v);
        let floor = match (cur, left) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return,
        };
        self.min_vruntime = self.min_vruntime.max(floor);
    }

    /// Slice of `weight` when the runnable weight is `runnable`.
    fn slice_of(&self, weight: u32, runnable: u64) -> Time {
        let share = if runnable == 0 {
            self.latency
        } else {
            let s = u128::from(self.latency) * u128::from(weight) / u128::from(runnable);
            u64::try_from(s).unwrap_or(u64::MAX)
        };
        share.max(self.min_granularity)
    }

    /// Charges `ran` ns to the current `task` and ends its run.
    fn charge_current(&mut self, task: TaskId, ran: Time) {
        Running::end(&mut self.current, task);
        let t = self.tasks.entry(task);
        t.vruntime = t.vruntime.saturating_add(vtime_delta(ran, t.weight));
    }

    fn uncount(&mut self, task: TaskId) {
        let t = self.tasks.entry(task);
        let w = u64::from(t.counted);
        t.counted = 0;
        self.runnable_weight -= w;
    }
}

impl Policy for FairPolicy {
    fn name(&self) -> &'static str {
        "fair"
    }

    fn reserve(&mut self, ids: usize) {
        self.tasks.reserve(ids);
        self.queue.reserve_ids(ids);
    }

    fn enqueue(&mut self, _now: Time, task: TaskId, params: &PolicyParams) {
        debug_assert!(!self.queue.contains(task), "{task:?} enqueued twice");
        let floor = self.min_vruntime;
        let t = self.tasks.entry(task);
        t.weight = params.weight();
        t.vruntime = t.vruntime.max(floor);
        let (vruntime, w, old) = (t.vruntime, t.weight, t.counted);
        t.counted = w;
        self.runnable_weight = self.runnable_weight - u64::from(old) + u64::from(w);
        self.queue.push(task, vruntime);
        self.update_min_vruntime();
    }

    fn remove(&mut self, _now: Time, task: TaskId) -> bool {
        if self.queue.remove(task).is_none() {
            return false;
        }
        self.uncount(task);
        self.update_min_vruntime();
        true
    }

    fn pick_next(&mut self, now: Time) -> Option<TaskId> {
        debug_assert!(self.current.is_none(), "pick_next with a task current");
        let (task, _) = self.queue.pop()?;
        self.current_slice = self.slice_of(self.tasks[task].weight, self.runnable_weight);
        self.current = Some(Running { task, since: now });
        self.update_min_vruntime();
        Some(task)
    }

    fn put_prev(&mut self, _now: Time, task: TaskId, ran: Time, _preempted: bool) {
        self.charge_current(task, ran);
        let v = self.tasks[task].vruntime;
        self.queue.push(task, v);
        self.update_min_vruntime();
    }

    fn block(&mut self, _now: Time, task: TaskId, ran: Time) {
        self.charge_current(task, ran);
        self.uncount(task);
        self.update_min_vruntime();
    }

    fn forget(&mut self, task: TaskId) {
        debug_assert!(!self.queue.contains(task));
        if let Some(old) = self.tasks.reset(task) {
            self.runnable_weight -= u64::from(old.counted);
        }
    }

    fn tick(&mut self, now: Time, current: TaskId) -> bool {
        let Some(cur) = Running::of(self.current, current) else {
            return false;
        };
        let Some((_, leftmost)) = self.queue.peek() else {
            return false;
        };
        let slice = self.current_slice;
        let ran = now.saturating_sub(cur.since);
        if ran >= slice {
            return true;
        }
        let t = &self.tasks[current];
        let live = t.vruntime.saturating_add(vtime_delta(ran, t.weight));
        ran >= self.min_granularity && live.saturating_sub(leftmost) > slice
    }

    fn slice_for(&self, task: TaskId) -> Option<Time> {
        if Running::of(self.current, task).is_some() {
            return Some(self.current_slice);
        }
        let t = self.tasks.get(task).copied().unwrap_or(FRESH);
        // A task that is not runnable yet would add its own weight.
        let extra = if t.counted == 0 { t.weight } else { 0 };
        let runnable = self.runnable_weight + u64::from(extra);
        Some(self.slice_of(t.weight, runnable))
    }

    fn set_params(&mut self, _now: Time, task: TaskId, params: &PolicyParams) {
        let w = nice_to_weight(params.nice);
        let t = self.tasks.entry(task);
        t.weight = w;
        if t.counted != 0 {
            let old = u64::from(t.counted);
            t.counted = w;
            self.runnable_weight = self.runnable_weight - old + u64::from(w);
        }
    }

    fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Time = 1_000_000;

    #[test]
    fn vruntime_advances_by_ran_times_1024_over_weight() {
        assert_eq!(vtime_delta(3 * MS, 1024), 3 * MS);
        assert_eq!(vtime_delta(1024, 3121), 335);
        assert_eq!(vtime_delta(1024, 335), 3130);
        assert_eq!(vtime_delta(u64::MAX, 15), u64::MAX);
        let mut pol = FairPolicy::new();
        pol.enqueue(0, TaskId(0), &PolicyParams::new().with_nice(5));
        let t = pol.pick_next(0).unwrap();
        pol.put_prev(MS, t, MS, true);
        assert_eq!(pol.vruntime(t), Some(MS * 1024 / 335));
    }

    #[test]
    fn smallest_vruntime_runs_and_new_tasks_start_at_the_floor() {
        let mut pol = FairPolicy::new();
        pol.enqueue(0, TaskId(0), &PolicyParams::new());
        pol.enqueue(0, TaskId(1), &PolicyParams::new());
        // Run task 0 for 10 ms, task 1 for 4 ms.
        let a = pol.pick_next(0).unwrap();
        assert_eq!(a, TaskId(0));
        pol.put_prev(10 * MS, a, 10 * MS, true);
        let b = pol.pick_next(10 * MS).unwrap();
        assert_eq!(b, TaskId(1));
        pol.put_prev(14 * MS, b, 4 * MS, true);
        assert_eq!(pol.min_vruntime(), 4 * MS);
        // A newcomer starts at the floor, not at 0: it runs before task 0 but after nobody
        // with a smaller vruntime.
        pol.enqueue(14 * MS, TaskId(2), &PolicyParams::new());
        assert_eq!(pol.vruntime(TaskId(2)), Some(4 * MS));
        assert_eq!(
            pol.pick_next(14 * MS),
            Some(TaskId(1)),
            "tie: earlier arrival first"
        );
        pol.block(14 * MS, TaskId(1), 0);
        assert_eq!(pol.pick_next(14 * MS), Some(TaskId(2)));
        pol.block(14 * MS, TaskId(2), 0);
        assert_eq!(pol.pick_next(14 * MS), Some(TaskId(0)));
    }

    #[test]
    fn a_long_sleeper_does_not_bank_credit() {
        let mut pol = FairPolicy::new();
        pol.enqueue(0, TaskId(0), &PolicyParams::new());
        pol.enqueue(0, TaskId(1), &PolicyParams::new());
        let s = pol.pick_next(0).unwrap();
        pol.block(0, s, 0); // task 0 sleeps with vruntime 0
        let mut now = 0;
        for _ in 0..10 {
            let t = pol.pick_next(now).unwrap();
            now += 5 * MS;
            pol.put_prev(now, t, 5 * MS, true);
        }
        pol.enqueue(now, s, &PolicyParams::new());
        assert_eq!(pol.vruntime(s), Some(pol.min_vruntime()));
        assert!(pol.min_vruntime() >= 45 * MS);
    }

    #[test]
    fn slices_are_weighted_and_floored() {
        let mut pol = FairPolicy::with_tuning(24 * MS, 3 * MS);
        for i in 0..4 {
            pol.enqueue(0, TaskId(i), &PolicyParams::new());
        }
        assert_eq!(pol.slice_for(TaskId(0)), Some(6 * MS));
        pol.enqueue(0, TaskId(4), &PolicyParams::new().with_nice(19));
        // 24 ms × 15 / (4 × 1024 + 15) is tiny: the granularity applies.
        assert_eq!(pol.slice_for(TaskId(4)), Some(3 * MS));
        let cur = pol.pick_next(0).unwrap();
        assert!(!pol.tick(5 * MS, cur));
        assert!(pol.tick(6 * MS, cur));
    }

    #[test]
    fn remove_and_forget_keep_weights_consistent() {
        let mut pol = FairPolicy::new();
        for i in 0..3 {
            pol.enqueue(0, TaskId(i), &PolicyParams::new());
        }
        assert!(pol.remove(0, TaskId(1)));
        assert!(!pol.remove(0, TaskId(1)));
        assert_eq!(pol.runnable_weight, 2 * 1024);
        pol.forget(TaskId(1));
        let t = pol.pick_next(0).unwrap();
        pol.block(0, t, 0);
        assert_eq!(pol.runnable_weight, 1024);
        assert_eq!(pol.len(), 1);
    }
}
