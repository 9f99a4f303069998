//! ArceOS integration: [`AxrtScheduler`] implements [`axsched::BaseScheduler`] with the AxRT
//! single-queue policy ([`RtPolicy`]: 256 priority levels, FIFO within a level, round robin at
//! slice end, preemption by a better priority), and [`AxrtTask`] is the task wrapper it
//! schedules. axtask keeps one scheduler per CPU; what they share — the level each CPU runs and
//! has queued, for global fixed priority, and the groups' CPU budgets — is in [`shared`].
//!
//! # Wiring it into axtask
//!
//! axtask picks its scheduler with a closed `cfg_if!` in `src/api.rs`, so selecting this one
//! takes a patch: `arceos/axtask-sched-rt.patch` of the development tree adds a `sched-rt`
//! feature (next to `sched-fifo`, `sched-rr`, `sched-cfs`) whose types are
//!
//! ```text
//! pub(crate) type AxTask = axrt_policy::axsched_adapter::AxrtTask<TaskInner>;
//! pub(crate) type Scheduler = axrt_policy::axsched_adapter::AxrtScheduler<TaskInner, 5>;
//! ```
//!
//! and the parts a `BaseScheduler` cannot do by itself: it [`attach`](AxrtScheduler::attach)es
//! each CPU's scheduler to one [`Shared`] and the platform clock, places a waking task with
//! [`Shared::place`] and preempts (a pending reschedule on this CPU, an IPI to another), pulls
//! from another CPU with [`Shared::pull_source`] and [`AxrtScheduler::steal`] before picking,
//! arms the timer at [`AxrtScheduler::next_event`] (slice end, budget exhaustion, replenishment)
//! and at the earliest sleeping task's deadline, and runs its per-CPU `gc` task at priority 255
//! (it busy-yields while an exited task is still referenced, which at the default priority
//! starved every task below 128).
//!
//! Tasks are created with `AxrtTask::new(inner)` (priority 128, the AxRT host default) or
//! `AxrtTask::with_priority(inner, prio)`; axtask's `set_priority(prio)` accepts `0..=255`
//! (0 is the highest) and rejects anything else. A task's effective priority is the better of
//! its base priority and its boost ([`AxrtTask::set_boost`], priority inheritance); a task may
//! belong to a group ([`AxrtTask::set_group`]) whose budget [`Shared::set_budget`] sets.
//!
//! # How axsched's calls map onto the policy
//!
//! The policy names tasks by dense ids; the scheduler hands out *slots* (ids) from a free list
//! and keeps the queued `Arc`s in a slot table. A task keeps its slot while it is queued,
//! parked (its group throttled) or running. axtask calls `put_prev_task` for a running task
//! that stays runnable and simply does not put back one that blocked or exited; so at the next
//! `pick_next_task`, a running task that was not put back is reported to the policy as blocked
//! and its slot is recycled. Time is the attached clock's (nanoseconds); without one (unit
//! tests) it is the number of `task_tick` calls, each counting as [`TICK_NS`].
//!
//! One scheduler serves one CPU's run queue and is used under that run queue's lock; a task is
//! in at most one scheduler at a time (axtask waits for a task to leave its CPU before queueing
//! it anywhere else). Every call is O(1) but for the parked list (tasks of throttled groups);
//! once the slot table has grown to the largest number of tasks ever queued at once, none
//! allocates.

pub mod shared;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Deref;
use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

use axsched::BaseScheduler;

pub use shared::{Budget, CpuSlot, Placement, Shared, IDLE, MAX_CPUS, MAX_GROUPS};

use crate::policies::RtPolicy;
use crate::policy::{Policy, PolicyParams, DEFAULT_PRIO};
use crate::types::{Prio, TaskId, Time};

/// Nominal length of one timer tick, the adapter's unit of time when no clock is attached
/// (1 ms). Slices are `SLICE_TICKS` of these.
pub const TICK_NS: Time = 1_000_000;

/// Slot marker for "not queued or running in any scheduler".
const NO_SLOT: u32 = u32::MAX;
/// Group marker for "no group" (no budget).
const NO_GROUP: u8 = u8::MAX;
/// Boost marker for "no boost" (255 could never improve a priority anyway).
const NO_BOOST: u8 = u8::MAX;

/// A task wrapper for [`AxrtScheduler`]: the inner task plus its AxRT priority, boost and group
/// and the scheduler's bookkeeping. Derefs to the inner task.
pub struct AxrtTask<T> {
    inner: T,
    /// Slot in the scheduler that holds the task (protected by the run-queue lock).
    slot: AtomicU32,
    /// Base priority, 0 the highest.
    prio: AtomicU8,
    /// Inherited priority ([`NO_BOOST`] for none).
    boost: AtomicU8,
    /// Group index in [`Shared`] ([`NO_GROUP`] for none).
    group: AtomicU8,
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
            boost: AtomicU8::new(NO_BOOST),
            group: AtomicU8::new(NO_GROUP),
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

    /// The priority it is scheduled at: the better of its base priority and its boost.
    pub fn effective(&self) -> Prio {
        self.priority().min(self.boost.load(Ordering::Relaxed))
    }

    /// The boost it holds, if any.
    pub fn boost(&self) -> Option<Prio> {
        let b = self.boost.load(Ordering::Relaxed);
        (b != NO_BOOST).then_some(b)
    }

    /// Sets (or with `None` ends) the task's boost. The scheduler that holds the task must
    /// then [`reposition`](AxrtScheduler::reposition) it; a task in no scheduler needs nothing
    /// more (it is placed by its effective priority when it next becomes runnable).
    pub fn set_boost(&self, boost: Option<Prio>) {
        self.boost
            .store(boost.unwrap_or(NO_BOOST), Ordering::Relaxed);
    }

    /// The group (index into [`Shared`]) the task belongs to.
    pub fn group(&self) -> Option<usize> {
        let g = self.group.load(Ordering::Relaxed);
        (g != NO_GROUP).then_some(usize::from(g))
    }

    /// Puts the task in group `group` (`< MAX_GROUPS`), or in none. Only while the task is in
    /// no scheduler (before it is spawned): returns `false` and changes nothing otherwise.
    pub fn set_group(&self, group: Option<usize>) -> bool {
        let g = match group {
            None => NO_GROUP,
            Some(g) if g < MAX_GROUPS => g as u8,
            Some(_) => return false,
        };
        if self.slot() != NO_SLOT {
            return false;
        }
        self.group.store(g, Ordering::Relaxed);
        true
    }

    fn slot(&self) -> u32 {
        self.slot.load(Ordering::Relaxed)
    }

    fn set_slot(&self, slot: u32) {
        self.slot.store(slot, Ordering::Relaxed);
    }

    fn params(&self) -> PolicyParams {
        PolicyParams::new().with_prio(self.effective())
    }
}

impl<T> Deref for AxrtTask<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

/// The AxRT policy as an axsched scheduler; `SLICE_TICKS` timer ticks ([`TICK_NS`] each) make
/// one slice.
pub struct AxrtScheduler<T, const SLICE_TICKS: usize = 5> {
    policy: RtPolicy,
    /// Queued and parked tasks by slot; `None` for free slots and the running task's slot.
    slots: Vec<Option<Arc<AxrtTask<T>>>>,
    /// Free slots (capacity always covers every slot, so pushing never allocates).
    free: Vec<u32>,
    /// Slots of tasks whose group was throttled when they came up (capacity as `free`).
    parked: Vec<u32>,
    /// Slot of the task picked last and not yet put back, or [`NO_SLOT`].
    current: u32,
    /// Address of that task, to recognise it.
    current_addr: usize,
    /// That task's group ([`NO_GROUP`] for none) and the level it was picked at.
    current_group: u8,
    current_level: u16,
    /// When it was picked, and up to when its run time was charged to its group.
    picked_at: Time,
    charged_at: Time,
    ticks: u64,
    clock: Option<fn() -> Time>,
    /// The shared state and this scheduler's CPU in it.
    shared: Option<(&'static Shared, usize)>,
}

impl<T, const S: usize> AxrtScheduler<T, S> {
    /// An empty scheduler, attached to nothing (time counts ticks).
    pub fn new() -> Self {
        Self {
            policy: RtPolicy::new((S as Time).max(1).saturating_mul(TICK_NS)),
            slots: Vec::new(),
            free: Vec::new(),
            parked: Vec::new(),
            current: NO_SLOT,
            current_addr: 0,
            current_group: NO_GROUP,
            current_level: IDLE,
            picked_at: 0,
            charged_at: 0,
            ticks: 0,
            clock: None,
            shared: None,
        }
    }

    /// The scheduler's name, as axtask prints it.
    pub fn scheduler_name() -> &'static str {
        "AxRT"
    }

    /// Makes this the scheduler of CPU `cpu` (`< MAX_CPUS`) in `shared`, reading time from
    /// `clock` (monotonic nanoseconds). Call once, before the first task is added.
    pub fn attach(&mut self, shared: &'static Shared, cpu: usize, clock: fn() -> Time) {
        self.shared = Some((shared, cpu));
        self.clock = Some(clock);
        self.publish_queued();
    }

    /// Number of queued tasks (the running one and parked ones are not counted).
    pub fn len(&self) -> usize {
        self.policy.len()
    }

    /// `true` if no task is queued.
    pub fn is_empty(&self) -> bool {
        self.policy.is_empty()
    }

    /// The current time: the clock's, else the ticks counted so far.
    pub fn now(&self) -> Time {
        match self.clock {
            Some(clock) => clock(),
            None => self.ticks.saturating_mul(TICK_NS),
        }
    }

    /// When something must be looked at again even if nothing else happens: the running task's
    /// slice ends while an equal waits, its group's budget runs out, or a parked group's next
    /// period starts. The driver arms a timer there (besides its periodic tick).
    pub fn next_event(&self) -> Option<Time> {
        let now = self.now();
        let mut at: Option<Time> = None;
        let mut earliest = |t: Time| at = Some(at.map_or(t, |a| a.min(t)));
        if self.current != NO_SLOT {
            let id = TaskId(self.current);
            if let Some(left) = self.budget(self.current_group).and_then(|b| {
                let sharers = b.sharers();
                b.left(now).map(|l| l / sharers)
            }) {
                earliest(self.charged_at.saturating_add(left));
            }
            let peer_waits = self
                .policy
                .peek_next()
                .is_some_and(|(_, best)| u16::from(best) <= self.current_level);
            if peer_waits {
                if let Some(slice) = self.policy.slice_for(id) {
                    earliest(self.picked_at.saturating_add(slice));
                }
            }
        }
        for &s in &self.parked {
            if let Some(b) = self.slots[s as usize]
                .as_ref()
                .and_then(|t| self.task_budget(t))
            {
                earliest(b.period_end(now));
            }
        }
        at
    }

    /// Takes the best queued task if its level is better than `below` and `can_run` accepts
    /// it (another CPU pulling it, see [`Shared::pull_source`]); `None` otherwise.
    pub fn steal(
        &mut self,
        below: u16,
        can_run: impl Fn(&AxrtTask<T>) -> bool,
    ) -> Option<Arc<AxrtTask<T>>> {
        let (id, level) = self.policy.peek_next()?;
        let task = self.slots[id.index()].as_ref()?;
        if u16::from(level) >= below || !can_run(task) {
            return None;
        }
        self.policy.remove(self.now(), id);
        let task = self.slots[id.index()].take()?;
        task.set_slot(NO_SLOT);
        self.free.push(id.0);
        self.publish_queued();
        Some(task)
    }

    /// Re-reads `task`'s effective priority after a boost changed ([`AxrtTask::set_boost`]):
    /// a queued task moves to its new level, the running one keeps it from its next placement
    /// (and the CPU's running level is updated at once). Returns `false` if `task` is neither
    /// queued, parked nor running here.
    pub fn reposition(&mut self, task: &Arc<AxrtTask<T>>) -> bool {
        let now = self.now();
        if let Some(s) = self.queued_slot(task) {
            self.policy.set_params(now, TaskId(s), &task.params());
            self.publish_queued();
            true
        } else if let Some(s) = self.current_slot(task) {
            self.policy.set_params(now, TaskId(s), &task.params());
            self.current_level = u16::from(task.effective());
            self.publish_running(self.current_level);
            true
        } else {
            false
        }
    }

    fn ran(&self, now: Time) -> Time {
        now.saturating_sub(self.picked_at)
    }

    fn budget(&self, group: u8) -> Option<&'static Budget> {
        let (shared, _) = self.shared?;
        (group != NO_GROUP)
            .then(|| shared.group(usize::from(group)))
            .filter(|b| b.is_budgeted())
    }

    fn task_budget(&self, task: &AxrtTask<T>) -> Option<&'static Budget> {
        self.budget(task.group.load(Ordering::Relaxed))
    }

    fn publish_queued(&self) {
        if let Some((shared, cpu)) = self.shared {
            let best = self.policy.peek_next().map_or(IDLE, |(_, p)| u16::from(p));
            shared.cpu(cpu).set_queued(best);
        }
    }

    fn publish_running(&self, level: u16) {
        if let Some((shared, cpu)) = self.shared {
            shared.cpu(cpu).set_running(level);
        }
    }

    fn alloc_slot(&mut self) -> u32 {
        if let Some(s) = self.free.pop() {
            return s;
        }
        let s = self.slots.len() as u32;
        self.slots.push(None);
        let n = self.slots.len();
        self.free.reserve(n - self.free.len());
        self.parked.reserve(n - self.parked.len());
        self.policy.reserve(n);
        s
    }

    /// The slot of `task` if it is the running task.
    fn current_slot(&self, task: &Arc<AxrtTask<T>>) -> Option<u32> {
        let s = task.slot();
        (s != NO_SLOT && s == self.current && Arc::as_ptr(task) as usize == self.current_addr)
            .then_some(s)
    }

    /// The slot of `task` if it is queued or parked here.
    fn queued_slot(&self, task: &Arc<AxrtTask<T>>) -> Option<u32> {
        let s = task.slot();
        match self.slots.get(s as usize) {
            Some(Some(t)) if Arc::ptr_eq(t, task) => Some(s),
            _ => None,
        }
    }

    /// Charges the running task's time since the last charge to its group.
    fn charge_current(&mut self, now: Time) {
        if let Some(b) = self.budget(self.current_group) {
            b.charge(now, now.saturating_sub(self.charged_at));
        }
        self.charged_at = now;
    }

    /// The running task stops running (put back, blocked or exited): charge and clear.
    fn end_current(&mut self, now: Time) {
        self.charge_current(now);
        if let Some(b) = self.budget(self.current_group) {
            b.leave();
        }
        self.current = NO_SLOT;
        self.current_addr = 0;
        self.current_group = NO_GROUP;
        self.current_level = IDLE;
    }

    /// The running task was not put back: it blocked or exited. Tell the policy, free its slot.
    fn retire_current(&mut self, now: Time) {
        if self.current != NO_SLOT {
            let id = TaskId(self.current);
            self.policy.block(now, id, self.ran(now));
            self.free.push(self.current);
            self.end_current(now);
        }
    }

    /// Queues again the parked tasks whose group has budget again.
    fn unpark(&mut self, now: Time) {
        let mut i = 0;
        while i < self.parked.len() {
            let s = self.parked[i];
            let task = self.slots[s as usize]
                .as_ref()
                .expect("a parked slot holds its task");
            if self.task_budget(task).is_some_and(|b| b.is_throttled(now)) {
                i += 1;
                continue;
            }
            let params = task.params();
            self.parked.swap_remove(i);
            self.policy.enqueue(now, TaskId(s), &params);
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
        self.publish_queued();
    }

    fn remove_task(&mut self, task: &Self::SchedItem) -> Option<Self::SchedItem> {
        let s = self.queued_slot(task)?;
        if !self.policy.remove(self.now(), TaskId(s)) {
            let i = self.parked.iter().position(|&p| p == s)?;
            self.parked.swap_remove(i);
        }
        let removed = self.slots[s as usize].take();
        task.set_slot(NO_SLOT);
        self.free.push(s);
        self.publish_queued();
        removed
    }

    fn pick_next_task(&mut self) -> Option<Self::SchedItem> {
        let now = self.now();
        self.retire_current(now);
        self.unpark(now);
        loop {
            let Some(id) = self.policy.pick_next(now) else {
                self.publish_running(IDLE);
                self.publish_queued();
                return None;
            };
            let task = self.slots[id.index()]
                .take()
                .expect("a queued slot holds its task");
            if self.task_budget(&task).is_some_and(|b| b.is_throttled(now)) {
                // Its group's budget is used up: park it until the next period.
                self.policy.block(now, id, 0);
                self.slots[id.index()] = Some(task);
                self.parked.push(id.0);
                continue;
            }
            self.current = id.0;
            self.current_addr = Arc::as_ptr(&task) as usize;
            self.current_group = task.group.load(Ordering::Relaxed);
            self.picked_at = now;
            self.charged_at = now;
            if let Some(b) = self.budget(self.current_group) {
                b.enter();
            }
            self.current_level = u16::from(task.effective());
            self.publish_running(self.current_level);
            self.publish_queued();
            return Some(task);
        }
    }

    fn put_prev_task(&mut self, prev: Self::SchedItem, preempt: bool) {
        match self.current_slot(&prev) {
            Some(s) => {
                let now = self.now();
                self.policy.put_prev(now, TaskId(s), self.ran(now), preempt);
                self.slots[s as usize] = Some(prev);
                self.end_current(now);
                self.publish_queued();
            }
            // Not the task picked last: treat it as a new arrival.
            None => self.add_task(prev),
        }
    }

    fn task_tick(&mut self, current: &Self::SchedItem) -> bool {
        self.ticks += 1;
        let now = self.now();
        self.unpark(now);
        let Some(s) = self.current_slot(current) else {
            return false;
        };
        self.charge_current(now);
        if let Some(b) = self.budget(self.current_group) {
            if b.is_throttled(now) {
                b.count_throttle();
                return true;
            }
        }
        self.policy.tick(now, TaskId(s))
    }

    fn set_priority(&mut self, task: &Self::SchedItem, prio: isize) -> bool {
        let Ok(prio) = Prio::try_from(prio) else {
            return false;
        };
        task.prio.store(prio, Ordering::Relaxed);
        self.reposition(task);
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

    use core::sync::atomic::AtomicU64;

    /// A clock the tests move by hand (one per test: tests run in parallel).
    macro_rules! clock {
        ($name:ident) => {{
            static NOW: AtomicU64 = AtomicU64::new(0);
            fn $name() -> Time {
                NOW.load(Ordering::Relaxed)
            }
            (&NOW, $name as fn() -> Time)
        }};
    }

    #[test]
    fn a_group_out_of_budget_is_parked_until_its_next_period() {
        static SHARED: Shared = Shared::new();
        let (now, clock) = clock!(c);
        const MS: Time = 1_000_000;
        assert!(SHARED.set_budget(3, 3 * MS, 10 * MS));
        let mut s = AxrtScheduler::<usize, 5>::new();
        s.attach(&SHARED, 0, clock);
        let vm = Arc::new(AxrtTask::with_priority(0, 20));
        assert!(vm.set_group(Some(3)));
        let host = Arc::new(AxrtTask::with_priority(1, 100));
        s.add_task(vm.clone());
        s.add_task(host.clone());
        assert!(!vm.set_group(None), "not while queued");
        let cur = s.pick_next_task().unwrap();
        assert!(Arc::ptr_eq(&cur, &vm));
        assert_eq!(SHARED.cpu(0).running(), 20);
        // The timer is asked for the moment the budget runs out.
        assert_eq!(s.next_event(), Some(3 * MS));
        now.store(3 * MS, Ordering::Relaxed);
        assert!(s.task_tick(&cur), "budget used up: preempt");
        s.put_prev_task(cur, true);
        // The VM's task is parked; the host task runs; the timer is asked for the period end.
        assert!(Arc::ptr_eq(&s.pick_next_task().unwrap(), &host));
        assert_eq!(SHARED.group(3).throttles(), 1);
        assert_eq!(s.next_event(), Some(10 * MS));
        now.store(10 * MS, Ordering::Relaxed);
        assert!(
            s.task_tick(&host),
            "replenished: the better VM task preempts"
        );
        s.put_prev_task(host, true);
        assert!(Arc::ptr_eq(&s.pick_next_task().unwrap(), &vm));
        // It blocks after 3 ms: the new period's budget is charged and used up again.
        now.store(13 * MS, Ordering::Relaxed);
        s.pick_next_task();
        assert!(SHARED.group(3).is_throttled(13 * MS));
    }

    #[test]
    fn steal_takes_the_best_queued_task_only_if_better_and_allowed() {
        static SHARED: Shared = Shared::new();
        let (_, clock) = clock!(c);
        let mut s = AxrtScheduler::<usize, 5>::new();
        s.attach(&SHARED, 1, clock);
        let pinned = Arc::new(AxrtTask::with_priority(7, 10));
        let free = Arc::new(AxrtTask::with_priority(8, 30));
        s.add_task(pinned.clone());
        s.add_task(free.clone());
        assert_eq!(SHARED.cpu(1).queued(), 10);
        assert!(
            s.steal(5, |_| true).is_none(),
            "not better than the thief's own"
        );
        assert!(
            s.steal(IDLE, |t| *t.inner() != 7).is_none(),
            "best not allowed there"
        );
        assert!(Arc::ptr_eq(&s.steal(IDLE, |_| true).unwrap(), &pinned));
        assert_eq!(SHARED.cpu(1).queued(), 30);
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn a_boost_moves_a_queued_task_and_its_end_moves_it_back() {
        let mut s = AxrtScheduler::<usize, 5>::new();
        let low = Arc::new(AxrtTask::with_priority(0, 200));
        let mid = Arc::new(AxrtTask::with_priority(1, 100));
        s.add_task(low.clone());
        s.add_task(mid.clone());
        low.set_boost(Some(10));
        assert!(s.reposition(&low));
        assert_eq!(low.effective(), 10);
        let cur = s.pick_next_task().unwrap();
        assert!(Arc::ptr_eq(&cur, &low), "boosted above mid");
        low.set_boost(None);
        assert!(s.reposition(&cur));
        assert!(s.task_tick(&cur), "boost ended: mid is better now");
        assert_eq!(low.boost(), None);
        // A boost never lowers a priority.
        mid.set_boost(Some(150));
        assert_eq!(mid.effective(), 100);
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
