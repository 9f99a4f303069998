//! ArceOS integration: [`AxrtScheduler`] implements [`axsched::BaseScheduler`] with the AxRT
//! single-queue policy ([`RtPolicy`]: 256 priority levels, FIFO within a level, round robin at
//! slice end, preemption by a better priority), and [`AxrtTask`] is the task wrapper it
//! schedules.
//!
//! # Wiring it into axtask
//!
//! axtask picks its scheduler with one Cargo feature per algorithm. A `sched-rt` feature sits
//! next to the existing ones:
//!
//! ```toml
//! # modules/axtask/Cargo.toml
//! [features]
//! sched-rt = ["multitask", "preempt", "dep:axrt-policy"]
//!
//! [dependencies]
//! axrt-policy = { version = "0.1", optional = true, features = ["axsched"] }
//! ```
//!
//! ```text
//! // modules/axtask/src/api.rs, in the `cfg_if!` that chooses `AxTask` and `Scheduler`
//! } else if #[cfg(feature = "sched-rt")] {
//!     const MAX_TIME_SLICE: usize = 5; // timer ticks per slice
//!     pub(crate) type AxTask = axrt_policy::axsched_adapter::AxrtTask<TaskInner>;
//!     pub(crate) type Scheduler =
//!         axrt_policy::axsched_adapter::AxrtScheduler<TaskInner, MAX_TIME_SLICE>;
//! }
//! ```
//!
//! Tasks are created with `AxrtTask::new(inner)` (priority 128, the AxRT host default) or
//! `AxrtTask::with_priority(inner, prio)`; axtask's `set_priority(prio)` accepts `0..=255`
//! (0 is the highest) and rejects anything else. AxVisor maps a vCPU's configured priority
//! (192–223 for vCPUs in seed 000) straight onto this range.
//!
//! # How axsched's calls map onto the policy
//!
//! The policy names tasks by dense ids; the scheduler hands out *slots* (ids) from a free list
//! and keeps the queued `Arc`s in a slot table. A task keeps its slot while it is queued or
//! running. axtask calls `put_prev_task` for a running task that stays runnable and simply does
//! not put back one that blocked or exited; so at the next `pick_next_task`, a running task that
//! was not put back is reported to the policy as blocked and its slot is recycled. Time is the
//! number of `task_tick` calls (each counts as [`TICK_NS`]); it only advances while a task
//! runs, which is all slice accounting needs.
//!
//! One scheduler serves one CPU's run queue and is used under that run queue's lock; a task is
//! in at most one scheduler at a time (axtask waits for a task to leave its CPU before queueing
//! it anywhere else). Every call is O(1); once the slot table has grown to the largest number
//! of tasks ever queued at once, none allocates.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Deref;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use axsched::BaseScheduler;

use crate::policies::RtPolicy;
use crate::policy::{Policy, PolicyParams, DEFAULT_PRIO};
use crate::types::{Prio, TaskId, Time};

/// Nominal length of one timer tick, the adapter's unit of time (1 ms). Only ratios matter:
/// slices are counted in ticks.
pub const TICK_NS: Time = 1_000_000;

/// Slot marker for "not queued or running in any scheduler".
const NO_SLOT: u32 = u32::MAX;

/// A task wrapper for [`AxrtScheduler`]: the inner task plus its AxRT priority and the
/// scheduler's bookkeeping. Derefs to the inner task.
pub struct AxrtTask<T> {
    inner: T,
    /// Slot in the scheduler that holds the task (protected by the run-queue lock).
    slot: AtomicU32,
    /// Base priority, 0 the highest.
    prio: AtomicU8,
}

impl<T> AxrtTask<T> {
    /// Wraps `inner` with the default priority ([`DEFAULT_PRIO`], 128).
    pub const fn new(inner: T) -> Self {
        Self::with_priority(inner, DEFAULT_PRIO)
    }

    /// Wraps `inner` with base priority `prio` (0 is the highest).
    pub const fn with_priority(inner: T, prio: Prio) -> Self {
        Self {
            inner,
            slot: AtomicU32::new(NO_SLOT),
            prio: AtomicU8::new(prio),
        }
    }

    /// The inner task.
    pub const fn inner(&self) -> &T {
        &self.inner
    }

    /// The task's base priority.
    pub fn priority(&self) -> Prio {
        self.prio.load(Ordering::Relaxed)
    }

    fn slot(&self) -> u32 {
        self.slot.load(Ordering::Relaxed)
    }

    fn set_slot(&self, slot: u32) {
        self.slot.store(slot, Ordering::Relaxed);
    }

    fn params(&self) -> PolicyParams {
        PolicyParams::new().with_prio(self.priority())
    }
}

impl<T> Deref for AxrtTask<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

/// The AxRT policy as an axsched scheduler; `SLICE_TICKS` timer ticks make one slice.
pub struct AxrtScheduler<T, const SLICE_TICKS: usize = 5> {
    policy: RtPolicy,
    /// Queued tasks by slot; `None` for free slots and the running task's slot.
    slots: Vec<Option<Arc<AxrtTask<T>>>>,
    /// Free slots (capacity always covers every slot, so pushing never allocates).
    free: Vec<u32>,
    /// Slot of the task picked last and not yet put back, or [`NO_SLOT`].
    current: u32,
    /// Address of that task, to recognise it.
    current_addr: usize,
    ticks: u64,
    picked_tick: u64,
}

impl<T, const S: usize> AxrtScheduler<T, S> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self {
            policy: RtPolicy::new((S as Time).max(1).saturating_mul(TICK_NS)),
            slots: Vec::new(),
            free: Vec::new(),
            current: NO_SLOT,
            current_addr: 0,
            ticks: 0,
            picked_tick: 0,
        }
    }

    /// The scheduler's name, as axtask prints it.
    pub fn scheduler_name() -> &'static str {
        "AxRT"
    }

    /// Number of queued tasks (the running one is not counted).
    pub fn len(&self) -> usize {
        self.policy.len()
    }

    /// `true` if no task is queued.
    pub fn is_empty(&self) -> bool {
        self.policy.is_empty()
    }

    fn now(&self) -> Time {
        self.ticks.saturating_mul(TICK_NS)
    }

    fn ran(&self) -> Time {
        (self.ticks - self.picked_tick).saturating_mul(TICK_NS)
    }

    fn alloc_slot(&mut self) -> u32 {
        if let Some(s) = self.free.pop() {
            return s;
        }
        let s = self.slots.len() as u32;
        self.slots.push(None);
        let n = self.slots.len();
        self.free.reserve(n - self.free.len());
        self.policy.reserve(n);
        s
    }

    /// The slot of `task` if it is the running task.
    fn current_slot(&self, task: &Arc<AxrtTask<T>>) -> Option<u32> {
        let s = task.slot();
        (s != NO_SLOT && s == self.current && Arc::as_ptr(task) as usize == self.current_addr)
            .then_some(s)
    }

    /// The slot of `task` if it is queued here.
    fn queued_slot(&self, task: &Arc<AxrtTask<T>>) -> Option<u32> {
        let s = task.slot();
        match self.slots.get(s as usize) {
            Some(Some(t)) if Arc::ptr_eq(t, task) => Some(s),
            _ => None,
        }
    }

    /// The running task was not put back: it blocked or exited. Tell the policy, free its slot.
    fn retire_current(&mut self) {
        if self.current != NO_SLOT {
            let id = TaskId(self.current);
            self.policy.block(self.now(), id, self.ran());
            self.free.push(self.current);
            self.current = NO_SLOT;
            self.current_addr = 0;
        }
    }
}

impl<T, const S: usize> Default for AxrtScheduler<T, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const S: usize> BaseScheduler for AxrtScheduler<T, S> {
    type SchedItem = Arc<AxrtTask<T>>;

    fn init(&mut self) {}

    fn add_task(&mut self, task: Self::SchedItem) {
        if self.current_slot(&task).is_some() {
            // The running task made runnable again before it was switched out: it stays
            // runnable, like a yield.
            self.put_prev_task(task, false);
            return;
        }
        let s = self.alloc_slot();
        task.set_slot(s);
        self.policy.enqueue(self.now(), TaskId(s), &task.params());
        self.slots[s as usize] = Some(task);
    }

    fn remove_task(&mut self, task: &Self::SchedItem) -> Option<Self::SchedItem> {
        let s = self.queued_slot(task)?;
        self.policy.remove(self.now(), TaskId(s));
        let removed = self.slots[s as usize].take();
        task.set_slot(NO_SLOT);
        self.free.push(s);
        removed
    }

    fn pick_next_task(&mut self) -> Option<Self::SchedItem> {
        self.retire_current();
        let id = self.policy.pick_next(self.now())?;
        let task = self.slots[id.index()]
            .take()
            .expect("a queued slot holds its task");
        self.current = id.0;
        self.current_addr = Arc::as_ptr(&task) as usize;
        self.picked_tick = self.ticks;
        Some(task)
    }

    fn put_prev_task(&mut self, prev: Self::SchedItem, preempt: bool) {
        match self.current_slot(&prev) {
            Some(s) => {
                self.policy
                    .put_prev(self.now(), TaskId(s), self.ran(), preempt);
                self.slots[s as usize] = Some(prev);
                self.current = NO_SLOT;
                self.current_addr = 0;
            }
            // Not the task picked last: treat it as a new arrival.
            None => self.add_task(prev),
        }
    }

    fn task_tick(&mut self, current: &Self::SchedItem) -> bool {
        self.ticks += 1;
        match self.current_slot(current) {
            Some(s) => self.policy.tick(self.now(), TaskId(s)),
            None => false,
        }
    }

    fn set_priority(&mut self, task: &Self::SchedItem, prio: isize) -> bool {
        let Ok(prio) = Prio::try_from(prio) else {
            return false;
        };
        task.prio.store(prio, Ordering::Relaxed);
        if let Some(s) = self.queued_slot(task).or(self.current_slot(task)) {
            self.policy
                .set_params(self.now(), TaskId(s), &task.params());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    type Task = Arc<AxrtTask<usize>>;

    fn task(i: usize) -> Task {
        Arc::new(AxrtTask::new(i))
    }

    #[test]
    fn yields_rotate_through_all_tasks_in_order() {
        const N: usize = 11;
        let mut s = AxrtScheduler::<usize, 5>::new();
        for i in 0..N {
            s.add_task(task(i));
        }
        for i in 0..N * 10 - 1 {
            let next = s.pick_next_task().unwrap();
            assert_eq!(*next.inner(), i % N);
            assert!(!s.task_tick(&next), "one tick is not a slice");
            s.put_prev_task(next, false);
        }
        let mut n = 0;
        while let Some(t) = s.pick_next_task() {
            drop(t); // never put back: blocked
            n += 1;
        }
        assert_eq!(n, N);
        assert!(s.is_empty());
    }

    #[test]
    fn priority_order_and_set_priority() {
        let mut s = AxrtScheduler::<usize, 5>::new();
        let tasks: Vec<Task> = (0..6).map(task).collect();
        for t in &tasks {
            s.add_task(t.clone());
        }
        assert!(s.set_priority(&tasks[4], 10));
        assert!(s.set_priority(&tasks[2], 10));
        assert!(s.set_priority(&tasks[5], 0));
        assert!(s.set_priority(&tasks[0], 255));
        assert!(!s.set_priority(&tasks[1], 256));
        assert!(!s.set_priority(&tasks[1], -1));
        let mut order = vec![];
        while let Some(t) = s.pick_next_task() {
            order.push(*t.inner());
        }
        assert_eq!(order, [5, 4, 2, 1, 3, 0]);
    }

    #[test]
    fn slice_ends_after_slice_ticks_and_preemption_keeps_the_turn() {
        let mut s = AxrtScheduler::<usize, 3>::new();
        s.add_task(task(0));
        s.add_task(task(1));
        let a = s.pick_next_task().unwrap();
        assert!(!s.task_tick(&a));
        // Forced off after one tick (e.g. a wake-up): keeps its place and the rest of its slice.
        s.put_prev_task(a, true);
        let a = s.pick_next_task().unwrap();
        assert_eq!(*a.inner(), 0);
        assert!(!s.task_tick(&a));
        assert!(s.task_tick(&a), "third tick of the slice");
        s.put_prev_task(a, true);
        assert_eq!(*s.pick_next_task().unwrap().inner(), 1);
    }

    #[test]
    fn better_priority_wakeup_preempts_at_the_next_tick() {
        let mut s = AxrtScheduler::<usize, 5>::new();
        s.add_task(Arc::new(AxrtTask::with_priority(0, 100)));
        let cur = s.pick_next_task().unwrap();
        s.add_task(Arc::new(AxrtTask::with_priority(1, 100)));
        assert!(!s.task_tick(&cur));
        s.add_task(Arc::new(AxrtTask::with_priority(2, 50)));
        assert!(s.task_tick(&cur));
        s.put_prev_task(cur, true);
        let order: Vec<usize> = core::iter::from_fn(|| s.pick_next_task())
            .map(|t| *t.inner())
            .collect();
        assert_eq!(order, [2, 0, 1]);
    }

    #[test]
    fn remove_many_tasks_in_any_order() {
        const N: usize = 10_000;
        let mut s = AxrtScheduler::<usize, 5>::new();
        let tasks: Vec<Task> = (0..N).map(task).collect();
        for t in &tasks {
            s.add_task(t.clone());
        }
        // Remove the odd ones from the back, then check the rest come out in order.
        for i in (0..N).rev().filter(|i| i % 2 == 1) {
            let t = s.remove_task(&tasks[i]).unwrap();
            assert_eq!(*t.inner(), i);
            assert!(s.remove_task(&tasks[i]).is_none(), "already removed");
        }
        assert_eq!(s.len(), N / 2);
        for i in (0..N).step_by(2) {
            assert_eq!(*s.pick_next_task().unwrap().inner(), i);
        }
        assert!(s.pick_next_task().is_none());
    }

    #[test]
    fn blocked_tasks_release_slots_and_can_come_back() {
        let mut s = AxrtScheduler::<usize, 5>::new();
        let a = task(0);
        let b = task(1);
        s.add_task(a.clone());
        s.add_task(b.clone());
        let cur = s.pick_next_task().unwrap();
        assert!(Arc::ptr_eq(&cur, &a));
        // `a` blocks (not put back); picking again retires it.
        let cur = s.pick_next_task().unwrap();
        assert!(Arc::ptr_eq(&cur, &b));
        s.put_prev_task(cur, false);
        s.add_task(a.clone()); // wake-up
        assert_eq!(s.slots.len(), 2, "a's slot was recycled");
        assert!(Arc::ptr_eq(&s.pick_next_task().unwrap(), &b));
        assert!(Arc::ptr_eq(&s.pick_next_task().unwrap(), &a));
        // Removing a task that is not queued here is refused.
        assert!(s.remove_task(&a).is_none());
        assert_eq!(AxrtScheduler::<usize>::scheduler_name(), "AxRT");
    }

    #[test]
    fn task_is_sync_and_scheduler_is_send_for_a_sync_inner_task() {
        fn sync_send<X: Sync + Send>() {}
        fn send<X: Send>() {}
        sync_send::<AxrtTask<usize>>();
        send::<AxrtScheduler<usize, 5>>();
    }

    #[test]
    fn yield_with_many_tasks() {
        const N: usize = 100_000;
        let mut s = AxrtScheduler::<usize, 5>::new();
        for i in 0..N {
            s.add_task(task(i));
        }
        for i in 0..N * 3 {
            let t = s.pick_next_task().unwrap();
            assert_eq!(*t.inner(), i % N);
            s.put_prev_task(t, false);
        }
        assert_eq!(s.len(), N);
    }
}
