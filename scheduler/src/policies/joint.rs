//! The joint policy (seed 003): latency-sensitive tasks by EDF, CPU-bound tasks by weighted fair
//! queueing, with tasks reclassified online from how they use the CPU.
//!
//! # Scheduling
//!
//! Two queues: an [`EdfPolicy`] for latency-sensitive (LS) tasks and a [`FairPolicy`] (weighted
//! fair queueing on virtual runtime, nice weights) for CPU-bound (CB) tasks. LS tasks go first:
//! a waking LS task preempts a CB task at once, and CB tasks run only when no LS task is
//! queued. An LS task runs at most one *quantum* at a time (so a task that turns into a CPU hog
//! is noticed and demoted within a few quanta, which is what keeps CB tasks from starving).
//!
//! # Classification rule
//!
//! Each task carries `usage`, an exponentially weighted average (weight 1/4 on the newest
//! sample, fixed point with 1024 = 1) of how much of a quantum it uses before giving up the CPU:
//!
//! * when it blocks or yields after running `ran`, the sample is `min(ran, quantum) / quantum`;
//! * when it is forced off after using at least a quantum, the sample is 1;
//! * when it is forced off (preempted) before a quantum, there is no sample: being cut short by
//!   someone else says nothing about the task.
//!
//! An LS task whose `usage` reaches 3/4 becomes CB; a CB task whose `usage` falls to 1/2 becomes
//! LS. The gap between the thresholds (hysteresis) keeps a task from flapping: a task whose runs
//! last between half and three quarters of a quantum keeps its class, and from either extreme
//! it takes at least three consistent samples to switch (three runs of zero length turn a fully
//! CB task LS; five whole quanta turn a fully LS task CB). A task starts LS with `usage` 0 if
//! its parameters carry the latency-sensitive hint, otherwise CB with `usage` 1. The class of a
//! running task changes when it stops running; a queued task never moves.
//!
//! LS tasks' EDF deadlines are `release + D`, with `D` the task's relative deadline (deadline,
//! else period, else the policy's default latency target).

use super::table::{Running, TaskTable};
use super::{EdfPolicy, FairPolicy};
use crate::policy::{Policy, PolicyParams};
use crate::types::{TaskId, Time};

/// Default quantum: the longest an LS task runs at a time, and the unit of the usage samples
/// (2 ms).
pub const DEFAULT_QUANTUM: Time = 2_000_000;
/// Default relative deadline for LS tasks that state none (10 ms).
pub const DEFAULT_LATENCY_TARGET: Time = 10_000_000;

/// `usage` fixed-point one.
const ONE: u32 = 1024;
/// LS → CB at or above this usage.
const TO_CPU_BOUND: u32 = ONE * 3 / 4;
/// CB → LS at or below this usage.
const TO_LATENCY: u32 = ONE / 2;

/// The class of a task under the joint policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Runs briefly and blocks: scheduled by EDF, ahead of CPU-bound tasks.
    LatencySensitive,
    /// Uses whole quanta: scheduled by weighted fair queueing.
    CpuBound,
}

/// Per-task state.
#[derive(Clone, Copy, Debug)]
struct JointTask {
    known: bool,
    class: Class,
    usage: u32,
    params: PolicyParams,
}

const FRESH: JointTask = JointTask {
    known: false,
    class: Class::CpuBound,
    usage: ONE,
    params: PolicyParams::new(),
};

/// The joint EDF + WFQ policy (name `"joint"`).
#[derive(Clone, Debug)]
pub struct JointPolicy {
    edf: EdfPolicy,
    wfq: FairPolicy,
    tasks: TaskTable<JointTask>,
    quantum: Time,
    current: Option<Running>,
    reclassifications: u64,
}

impl Default for JointPolicy {
    fn default() -> Self {
        Self::new(DEFAULT_QUANTUM, DEFAULT_LATENCY_TARGET)
    }
}

impl JointPolicy {
    /// A joint policy with LS quantum `quantum` and default LS relative deadline
    /// `latency_target` (ns); the fair half uses [`FairPolicy::new`]'s tuning.
    pub fn new(quantum: Time, latency_target: Time) -> Self {
        Self {
            edf: EdfPolicy::new(latency_target),
            wfq: FairPolicy::new(),
            tasks: TaskTable::new(FRESH),
            quantum: quantum.max(1),
            current: None,
            reclassifications: 0,
        }
    }

    /// The class of a known task.
    pub fn class_of(&self, task: TaskId) -> Option<Class> {
        self.tasks.get(task).filter(|t| t.known).map(|t| t.class)
    }

    /// How many times a task changed class since the policy was created.
    pub fn reclassifications(&self) -> u64 {
        self.reclassifications
    }

    fn half(&mut self, class: Class) -> &mut dyn Policy {
        match class {
            Class::LatencySensitive => &mut self.edf,
            Class::CpuBound => &mut self.wfq,
        }
    }

    /// Folds one run of `ran` ns into `task`'s usage and returns its class afterwards.
    fn observe(&mut self, task: TaskId, ran: Time, forced: bool) -> Class {
        let quantum = self.quantum;
        let t = self.tasks.entry(task);
        if forced && ran < quantum {
            return t.class;
        }
        let sample = (u128::from(ran.min(quantum)) * u128::from(ONE) / u128::from(quantum)) as u32;
        t.usage = (3 * t.usage + sample + 2) / 4;
        let new = match t.class {
            Class::LatencySensitive if t.usage >= TO_CPU_BOUND => Class::CpuBound,
            Class::CpuBound if t.usage <= TO_LATENCY => Class::LatencySensitive,
            same => same,
        };
        if new != t.class {
            t.class = new;
            self.reclassifications += 1;
        }
        new
    }
}

impl Policy for JointPolicy {
    fn name(&self) -> &'static str {
        "joint"
    }

    fn reserve(&mut self, ids: usize) {
        self.tasks.reserve(ids);
        self.edf.reserve(ids);
        self.wfq.reserve(ids);
    }

    fn enqueue(&mut self, now: Time, task: TaskId, params: &PolicyParams) {
        let t = self.tasks.entry(task);
        if !t.known {
            let ls = params.latency_sensitive;
            *t = JointTask {
                known: true,
                class: if ls {
                    Class::LatencySensitive
                } else {
                    Class::CpuBound
                },
                usage: if ls { 0 } else { ONE },
                params: *params,
            };
        }
        t.params = *params;
        let class = t.class;
        self.half(class).enqueue(now, task, params);
    }

    fn remove(&mut self, now: Time, task: TaskId) -> bool {
        match self.class_of(task) {
            Some(class) => self.half(class).remove(now, task),
            None => false,
        }
    }

    fn pick_next(&mut self, now: Time) -> Option<TaskId> {
        debug_assert!(self.current.is_none(), "pick_next with a task current");
        let task = match self.edf.pick_next(now) {
            Some(t) => t,
            None => self.wfq.pick_next(now)?,
        };
        self.current = Some(Running { task, since: now });
        Some(task)
    }

    fn put_prev(&mut self, now: Time, task: TaskId, ran: Time, preempted: bool) {
        Running::end(&mut self.current, task);
        let old = self.tasks.entry(task).class;
        let new = self.observe(task, ran, preempted);
        if new == old {
            self.half(old).put_prev(now, task, ran, preempted);
        } else {
            // Leave the old half (charging the run there), join the new one as a wake-up.
            self.half(old).block(now, task, ran);
            let params = self.tasks[task].params;
            self.half(new).enqueue(now, task, &params);
        }
    }

    fn block(&mut self, now: Time, task: TaskId, ran: Time) {
        Running::end(&mut self.current, task);
        let old = self.tasks.entry(task).class;
        self.half(old).block(now, task, ran);
        self.observe(task, ran, false);
    }

    fn forget(&mut self, task: TaskId) {
        self.edf.forget(task);
        self.wfq.forget(task);
        self.tasks.reset(task);
    }

    fn tick(&mut self, now: Time, current: TaskId) -> bool {
        let Some(run) = Running::of(self.current, current) else {
            return false;
        };
        match self.class_of(current) {
            Some(Class::LatencySensitive) => {
                now.saturating_sub(run.since) >= self.quantum || self.edf.tick(now, current)
            }
            Some(Class::CpuBound) => !self.edf.is_empty() || self.wfq.tick(now, current),
            None => false,
        }
    }

    fn slice_for(&self, task: TaskId) -> Option<Time> {
        match self.class_of(task) {
            Some(Class::LatencySensitive) => Some(self.quantum),
            _ => self.wfq.slice_for(task),
        }
    }

    fn set_params(&mut self, now: Time, task: TaskId, params: &PolicyParams) {
        let t = self.tasks.entry(task);
        t.params = *params;
        let class = t.class;
        self.half(class).set_params(now, task, params);
    }

    fn len(&self) -> usize {
        self.edf.len() + self.wfq.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Time = 1_000_000;

    #[test]
    fn hint_sets_the_initial_class_and_ls_goes_first() {
        let mut pol = JointPolicy::default();
        pol.enqueue(0, TaskId(0), &PolicyParams::new());
        pol.enqueue(0, TaskId(1), &PolicyParams::new().latency_sensitive());
        assert_eq!(pol.class_of(TaskId(0)), Some(Class::CpuBound));
        assert_eq!(pol.class_of(TaskId(1)), Some(Class::LatencySensitive));
        assert_eq!(pol.class_of(TaskId(2)), None);
        assert_eq!(pol.pick_next(0), Some(TaskId(1)));
        assert_eq!(pol.slice_for(TaskId(1)), Some(DEFAULT_QUANTUM));
    }

    #[test]
    fn ls_arrival_preempts_cpu_bound() {
        let mut pol = JointPolicy::default();
        pol.enqueue(0, TaskId(0), &PolicyParams::new());
        let cb = pol.pick_next(0).unwrap();
        assert!(!pol.tick(MS, cb));
        pol.enqueue(MS, TaskId(1), &PolicyParams::new().latency_sensitive());
        assert!(pol.tick(MS, cb));
    }

    #[test]
    fn ls_task_is_limited_to_a_quantum() {
        let mut pol = JointPolicy::default();
        pol.enqueue(0, TaskId(0), &PolicyParams::new().latency_sensitive());
        let t = pol.pick_next(0).unwrap();
        assert!(!pol.tick(DEFAULT_QUANTUM - 1, t));
        assert!(pol.tick(DEFAULT_QUANTUM, t));
    }

    #[test]
    fn preemption_before_a_quantum_is_not_a_sample() {
        let mut pol = JointPolicy::default();
        pol.enqueue(0, TaskId(0), &PolicyParams::new());
        for _ in 0..20 {
            let t = pol.pick_next(0).unwrap();
            pol.put_prev(0, t, MS / 10, true);
        }
        assert_eq!(pol.class_of(TaskId(0)), Some(Class::CpuBound));
        assert_eq!(pol.reclassifications(), 0);
    }
}
