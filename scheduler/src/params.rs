//! Parameters of the system, of groups (VMs) and of tasks, and their validation. Every check
//! names the entity and the field (see [`ParamError`]).

use alloc::string::String;

use crate::error::{Field, ParamError, Problem, Subject};
use crate::timing::Timing;
use crate::types::{CpuSet, GroupId, Prio, Time, MAX_CPUS};

/// One millisecond in nanoseconds.
pub const MS: Time = 1_000_000;

/// Default time slice (5 ms). The BPF tier's `AXRT_SLICE_NS_DFL` (a loader test checks).
pub const DEFAULT_SLICE: Time = 5 * MS;
/// Shortest slice a configuration may set, and the shortest any task is given (a nearly used-up
/// budget would give less): 50 µs. The BPF tier's `AXRT_SLICE_NS_MIN`.
pub const MIN_SLICE: Time = 50_000;
/// Longest slice a configuration may set (1 s).
pub const MAX_SLICE: Time = 1000 * MS;
/// Default starvation reserve (1 s). The BPF tier's `AXRT_RESERVE_MS_DFL`.
pub const DEFAULT_RESERVE: Time = 1000 * MS;
/// Default priority of the host group (128). The BPF tier's `AXRT_PRIO_HOST_DFL`.
pub const DEFAULT_HOST_PRIORITY: Prio = 128;
/// Supply-miss slack: a share of the quota ...
pub const SUPPLY_SLACK_DIV: Time = 10;
/// ... and at least this much (0.5 ms). The BPF tier's `AXRT_SUPPLY_EPS_DIV`/`_MIN_NS`.
pub const SUPPLY_SLACK_MIN: Time = MS / 2;

/// How far a reservation window's supply may fall short of `min(Q, demand)` before it is a
/// supply miss: `max(Q / 10, 0.5 ms)`. Enforcement lands a throttle about a millisecond early
/// or late under emulation (a VM alone at 20 ms per 100 ms got 18.5-21 ms per window); both
/// tiers use this rule.
pub const fn supply_slack(quota: Time) -> Time {
    let share = quota / SUPPLY_SLACK_DIV;
    if share > SUPPLY_SLACK_MIN {
        share
    } else {
        SUPPLY_SLACK_MIN
    }
}

/// System-wide parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SystemConfig {
    /// Number of CPUs, `1..=MAX_CPUS`.
    pub cpus: usize,
    /// Default time slice (5 ms).
    pub slice: Time,
    /// Starvation reserve (1 s). Cannot be disabled: zero is refused.
    pub reserve: Time,
    /// Priority of the host group (128).
    pub host_priority: Prio,
    /// Budget precision per CPU, `ε` (0.5 ms): a group runs at most `Q + ε × CPUs` per period.
    pub epsilon_per_cpu: Time,
    /// Admission bound on the sum of `Q/P`, in millionths of a CPU per CPU (950 000 = 0.95).
    pub utilization_bound_ppm: u64,
}

impl SystemConfig {
    /// The defaults of POLICY.md for `cpus` CPUs.
    pub fn new(cpus: usize) -> Self {
        SystemConfig {
            cpus,
            slice: DEFAULT_SLICE,
            reserve: DEFAULT_RESERVE,
            host_priority: DEFAULT_HOST_PRIORITY,
            epsilon_per_cpu: MS / 2,
            utilization_bound_ppm: 950_000,
        }
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ParamError> {
        let err = |field, problem| {
            Err(ParamError {
                subject: Subject::System,
                field,
                problem,
            })
        };
        if self.cpus == 0 {
            return err(Field::CpuCount, Problem::Zero);
        }
        if self.cpus > MAX_CPUS {
            return err(Field::CpuCount, Problem::TooLarge);
        }
        if self.slice == 0 {
            return err(Field::Slice, Problem::Zero);
        }
        if self.reserve == 0 {
            return err(Field::Reserve, Problem::Zero);
        }
        if self.utilization_bound_ppm == 0 {
            return err(Field::UtilizationBound, Problem::Zero);
        }
        if self.utilization_bound_ppm > 1_000_000 {
            return err(Field::UtilizationBound, Problem::TooLarge);
        }
        Ok(())
    }
}

/// What a group does when its budget is used up.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Overrun {
    /// Nothing of the group runs until the next period boundary.
    #[default]
    Throttle,
    /// The group's tasks may run only on a CPU that would otherwise idle.
    Background,
}

/// Parameters of a group (a VM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupParams {
    /// Unique name (used in error messages).
    pub name: String,
    /// Default priority of its tasks.
    pub priority: Prio,
    /// Budget `Q` per period (may exceed the period for a multi-vCPU VM).
    pub quota: Option<Time>,
    /// Period `P`.
    pub period: Option<Time>,
    /// What happens when the budget is used up.
    pub overrun: Overrun,
    /// Reservation deadline: the supply check of each window is made this long after the
    /// window starts instead of at its end (`≤ P`). The system arms a timer for it; the values
    /// are taken at the first event at or after it.
    pub deadline: Option<Time>,
    /// CPUs the group is pinned to (`None`: all). Admission is checked per such set.
    pub cpus: Option<CpuSet>,
}

impl GroupParams {
    /// A group with no budget.
    pub fn new(name: &str, priority: Prio) -> Self {
        GroupParams {
            name: String::from(name),
            priority,
            quota: None,
            period: None,
            overrun: Overrun::Throttle,
            deadline: None,
            cpus: None,
        }
    }

    /// Sets a budget of `quota` per `period`.
    pub fn budget(mut self, quota: Time, period: Time) -> Self {
        self.quota = Some(quota);
        self.period = Some(period);
        self
    }

    /// Sets the overrun mode.
    pub fn overrun(mut self, overrun: Overrun) -> Self {
        self.overrun = overrun;
        self
    }

    /// Pins the group to `cpus`.
    pub fn cpus(mut self, cpus: CpuSet) -> Self {
        self.cpus = Some(cpus);
        self
    }

    /// Checks every field against a system of `ncpus` CPUs.
    pub fn validate(&self, ncpus: usize) -> Result<(), ParamError> {
        let err = |field, problem| {
            Err(ParamError {
                subject: Subject::Group(self.name.clone()),
                field,
                problem,
            })
        };
        if self.name.is_empty() {
            return err(Field::Name, Problem::Zero);
        }
        match (self.quota, self.period) {
            (Some(_), None) => return err(Field::Quota, Problem::Requires(Field::Period)),
            (None, Some(_)) => return err(Field::Period, Problem::Requires(Field::Quota)),
            (Some(0), _) => return err(Field::Quota, Problem::Zero),
            (_, Some(0)) => return err(Field::Period, Problem::Zero),
            _ => {}
        }
        if let Some(d) = self.deadline {
            match self.period {
                None => return err(Field::Deadline, Problem::Requires(Field::Period)),
                Some(_) if d == 0 => return err(Field::Deadline, Problem::Zero),
                Some(p) if d > p => return err(Field::Deadline, Problem::Exceeds(Field::Period)),
                _ => {}
            }
        }
        if let Some(c) = self.cpus {
            if c.is_empty() {
                return err(Field::Cpus, Problem::Zero);
            }
            if !c.is_subset(&CpuSet::all(ncpus)) {
                return err(Field::Cpus, Problem::OutsideSystem);
            }
        }
        if let (Some(q), Some(p)) = (self.quota, self.period) {
            let width = self.cpus.map_or(ncpus, |c| c.count()) as u128;
            if q as u128 > p as u128 * width {
                return err(Field::Quota, Problem::Exceeds(Field::Cpus));
            }
        }
        Ok(())
    }

    /// The budget, if the group has one.
    pub fn budget_pair(&self) -> Option<(Time, Time)> {
        self.quota.zip(self.period)
    }
}

/// Parameters of a task of the AxRT [`System`](crate::System): its name, group, priority,
/// affinity, slice and timing contract. (The pluggable policies take the smaller
/// [`PolicyParams`](crate::policy::PolicyParams), which shares the [`Timing`] type.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskParams {
    /// Name (e.g. the thread's `comm`), used in error messages.
    pub name: String,
    /// Its group ([`GroupId::HOST`] by default).
    pub group: GroupId,
    /// Base priority; `None`: the group's default.
    pub priority: Option<Prio>,
    /// Allowed CPUs; `None`: all (always intersected with the group's CPUs).
    pub affinity: Option<CpuSet>,
    /// Time slice; `None`: the system default.
    pub slice: Option<Time>,
    /// Timing contract (period, deadline, wcet) its jobs are judged against.
    pub timing: Timing,
}

impl TaskParams {
    /// A host-group task with defaults.
    pub fn new(name: &str) -> Self {
        TaskParams {
            name: String::from(name),
            group: GroupId::HOST,
            priority: None,
            affinity: None,
            slice: None,
            timing: Timing::NONE,
        }
    }

    /// Sets the group.
    pub fn group(mut self, g: GroupId) -> Self {
        self.group = g;
        self
    }

    /// Sets the base priority.
    pub fn priority(mut self, p: Prio) -> Self {
        self.priority = Some(p);
        self
    }

    /// Sets the affinity.
    pub fn affinity(mut self, cpus: CpuSet) -> Self {
        self.affinity = Some(cpus);
        self
    }

    /// Sets the slice.
    pub fn slice(mut self, s: Time) -> Self {
        self.slice = Some(s);
        self
    }

    /// Sets the timing contract (period, deadline, wcet).
    pub fn contract(mut self, period: Time, deadline: Time, wcet: Time) -> Self {
        self.timing = Timing::contract(period, deadline, wcet);
        self
    }

    /// Checks the fields that do not depend on the system (the group and the affinity are
    /// checked when the task is added).
    pub fn validate(&self) -> Result<(), ParamError> {
        let err = |field, problem| {
            Err(ParamError {
                subject: Subject::Task(self.name.clone()),
                field,
                problem,
            })
        };
        if self.slice == Some(0) {
            return err(Field::Slice, Problem::Zero);
        }
        if let Err((field, problem)) = self.timing.check() {
            return err(field, problem);
        }
        if let Some(a) = self.affinity {
            if a.is_empty() {
                return err(Field::Affinity, Problem::Zero);
            }
        }
        Ok(())
    }
}
