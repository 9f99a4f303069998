//! The pluggable single-run-queue policy trait ([`Policy`]) and the task parameters every policy
//! understands ([`PolicyParams`]; its timing contract is the crate-wide [`Timing`]).
//!
//! A policy owns one run queue (one CPU). It never reads a clock: every call that depends on time
//! gets `now` from the caller, so a simulator, a hypervisor and a test drive the same code and get
//! the same decisions. Tasks are named by dense [`TaskId`]s chosen by the caller; a policy keeps
//! its per-task state in tables indexed by them.
//!
//! # Life cycle of a task under a policy
//!
//! ```text
//!             enqueue                 pick_next
//!   (unknown) ───────►  queued  ─────────────────►  current
//!      ▲  │              ▲   │ remove                 │ │
//!      │  └──────────────┼───┘                        │ │ put_prev (still runnable)
//!   forget               └────────────────────────────┘ │
//!      │                 enqueue (wake-up)               │ block (sleeps / exits)
//!      └──────────────── blocked  ◄─────────────────────┘
//! ```
//!
//! * `enqueue` makes a task runnable: a new task, or a wake-up. It must be neither queued nor
//!   current. It is also a job release for deadline policies (the release time is `now`).
//! * `pick_next` takes the best queued task off the queue; it becomes the *current* task. A policy
//!   serves one CPU, so there is at most one current task; the caller must end it with `put_prev`
//!   or `block` before picking again.
//! * `put_prev` returns the current task to the queue (slice expired, preempted, or yielded).
//! * `block` ends the current task's run without re-queueing it (it sleeps or exits). What the
//!   policy learned about the task (virtual runtime, class) is kept for its next `enqueue`.
//! * `remove` takes a *queued* task off the queue (it was suspended, killed or migrated); O(1) or
//!   O(log n), never a scan of all tasks.
//! * `forget` drops all memory of a task that is neither queued nor current, so its id can be
//!   reused by an unrelated task.
//! * `tick` is called at timer ticks and after any `enqueue` while a task is current; it says
//!   whether the current task should be switched out now (its slice is used up or a better task
//!   is queued). The caller then calls `put_prev(.., preempted = true)` and `pick_next`. A policy
//!   may answer `true` even if it would pick the same task again.
//!
//! # Costs
//!
//! `pick_next`, `put_prev`, `block`, `remove` and `tick` never allocate and cost O(1) or
//! O(log n). `enqueue` of a task id not seen before may grow the per-task tables (amortised);
//! [`Policy::reserve`] pre-sizes them so that nothing allocates afterwards.

use crate::timing::Timing;
use crate::types::{Prio, TaskId, Time};

/// Lowest allowed nice value (largest weight).
pub const NICE_MIN: i8 = -20;
/// Highest allowed nice value (smallest weight).
pub const NICE_MAX: i8 = 19;
/// Priority given to tasks that state none (the host group's default in the AxRT policy).
pub const DEFAULT_PRIO: Prio = 128;

/// Load weight of nice 0, the unit in which virtual time is measured.
pub const NICE_0_WEIGHT: u32 = 1024;

/// Linux's nice-to-weight table (`sched_prio_to_weight`), nice −20 first. Each step of nice
/// changes the weight by a factor of about 1.25, so a task one nice level better gets about 10%
/// more CPU than one a level worse; nice 0 weighs 1024.
const NICE_TO_WEIGHT: [u32; 40] = [
    /* -20 */ 88761, 71755, 56483, 46273, 36291, //
    /* -15 */ 29154, 23254, 18705, 14949, 11916, //
    /* -10 */ 9548, 7620, 6100, 4904, 3906, //
    /*  -5 */ 3121, 2501, 1991, 1586, 1277, //
    /*   0 */ 1024, 820, 655, 526, 423, //
    /*   5 */ 335, 272, 215, 172, 137, //
    /*  10 */ 110, 87, 70, 56, 45, //
    /*  15 */ 36, 29, 23, 18, 15, //
];

/// Load weight of a nice value (clamped to `-20..=19`), from Linux's `sched_prio_to_weight`.
pub fn nice_to_weight(nice: i8) -> u32 {
    let idx = (nice.clamp(NICE_MIN, NICE_MAX) - NICE_MIN) as usize;
    NICE_TO_WEIGHT[idx]
}

/// What a task tells a [`Policy`] about itself. One value serves every policy; each reads the
/// fields it needs and ignores the others, so one scenario can run under all of them. (The AxRT
/// [`System`](crate::System) takes the richer [`TaskParams`](crate::TaskParams), which shares the
/// [`Timing`] type.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyParams {
    /// Base priority, 0 is the highest (read by the AxRT `rt` policy).
    pub prio: Prio,
    /// Nice value `-20..=19` (read by the fair policy and the fair half of the joint policy).
    pub nice: i8,
    /// Timing contract. EDF and the joint policy read its relative deadline
    /// ([`Timing::relative_deadline`]: `deadline`, else `period`); `wcet` is informative.
    pub timing: Timing,
    /// Slice override in ns (round robin and `rt`); `None` uses the policy's default slice.
    pub slice: Option<Time>,
    /// Hint that the task is latency-sensitive (the joint policy's initial class).
    pub latency_sensitive: bool,
}

impl Default for PolicyParams {
    fn default() -> Self {
        Self::new()
    }
}

impl PolicyParams {
    /// Priority [`DEFAULT_PRIO`], nice 0, no timing contract, no hint.
    pub const fn new() -> Self {
        Self {
            prio: DEFAULT_PRIO,
            nice: 0,
            timing: Timing::NONE,
            slice: None,
            latency_sensitive: false,
        }
    }

    /// Returns `self` with base priority `prio`.
    pub const fn with_prio(mut self, prio: Prio) -> Self {
        self.prio = prio;
        self
    }

    /// Returns `self` with nice value `nice` (clamped to `-20..=19`).
    pub const fn with_nice(mut self, nice: i8) -> Self {
        self.nice = if nice < NICE_MIN {
            NICE_MIN
        } else if nice > NICE_MAX {
            NICE_MAX
        } else {
            nice
        };
        self
    }

    /// Returns `self` with timing contract `timing`.
    pub const fn with_timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Returns `self` with relative deadline `deadline` (the rest of the contract is kept).
    pub const fn with_deadline(mut self, deadline: Time) -> Self {
        self.timing = self.timing.with_deadline(deadline);
        self
    }

    /// Returns `self` as a periodic task: period `period`, worst-case execution time `wcet`
    /// (a deadline already set is kept).
    pub const fn with_period(mut self, period: Time, wcet: Time) -> Self {
        self.timing.period = Some(period);
        self.timing.wcet = Some(wcet);
        self
    }

    /// Returns `self` with a slice override of `slice` ns.
    pub const fn with_slice(mut self, slice: Time) -> Self {
        self.slice = Some(slice);
        self
    }

    /// Returns `self` with the latency-sensitive hint set.
    pub const fn latency_sensitive(mut self) -> Self {
        self.latency_sensitive = true;
        self
    }

    /// Load weight for the nice value (see [`nice_to_weight`]).
    pub fn weight(&self) -> u32 {
        nice_to_weight(self.nice)
    }
}

/// A scheduling policy for one run queue. Object safe: a simulator can hold `Box<dyn Policy>`.
///
/// See the [module documentation](self) for the task life cycle and the cost rules every
/// implementation keeps. Calls that break the life cycle (e.g. `put_prev` of a task that is not
/// current) are caller bugs; implementations check them with `debug_assert!` and otherwise
/// ignore them without corrupting their queue.
pub trait Policy {
    /// Short, stable name of the policy ("fifo", "rr", "fair", "edf", "joint", "axrt").
    fn name(&self) -> &'static str;

    /// Pre-sizes per-task tables for task ids below `ids`, so later calls do not allocate.
    fn reserve(&mut self, ids: usize);

    /// `task` becomes runnable at `now` (new task or wake-up; a job release for deadline
    /// policies) with parameters `params`.
    fn enqueue(&mut self, now: Time, task: TaskId, params: &PolicyParams);

    /// Takes a queued `task` off the run queue without running it. Returns `false` (and changes
    /// nothing) if it was not queued. O(1) or O(log n).
    fn remove(&mut self, now: Time, task: TaskId) -> bool;

    /// Takes the task that should run next off the queue and makes it current; `None` if no task
    /// is queued (the CPU idles).
    fn pick_next(&mut self, now: Time) -> Option<TaskId>;

    /// The current `task` stops running and stays runnable. `ran` is the CPU time it used since
    /// it was picked; `preempted` is `true` if it was forced off (slice used up or a better task
    /// arrived) and `false` if it gave up the CPU voluntarily (yield).
    fn put_prev(&mut self, now: Time, task: TaskId, ran: Time, preempted: bool);

    /// The current `task` stops running and is no longer runnable (it blocks or exits) after
    /// using `ran` ns of CPU since it was picked.
    fn block(&mut self, now: Time, task: TaskId, ran: Time);

    /// Forgets `task` entirely (it must be neither queued nor current); its id may be reused.
    fn forget(&mut self, task: TaskId);

    /// Timer tick (or any event) while `current` runs: returns `true` if it should be switched
    /// out now.
    fn tick(&mut self, now: Time, current: TaskId) -> bool;

    /// The slice `task` would be given if it were picked now, in ns; `None` if it may run until
    /// it blocks or a better task arrives. For a current task: the slice it was given.
    fn slice_for(&self, task: TaskId) -> Option<Time>;

    /// Changes the parameters of a known task (queued, current or blocked). A queued task is
    /// repositioned at once; a current task's new parameters apply from its next placement.
    fn set_params(&mut self, now: Time, task: TaskId, params: &PolicyParams);

    /// Number of queued tasks (the current task is not counted).
    fn len(&self) -> usize;

    /// `true` if no task is queued.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
