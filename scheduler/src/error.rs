//! Typed errors: parameter validation (naming the entity and the field), admission control
//! (naming the group that overflows and by how much) and misuse of the event API.

use alloc::string::String;
use core::fmt;

use crate::state::StateKind;
use crate::types::{CpuId, CpuSet, GroupId, TaskId};

/// A configurable field. [`Field::key`] is the configuration-file key, so a loader can add the
/// file and line.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Field {
    /// The name of a group.
    Name,
    /// A priority.
    Priority,
    /// A group's budget per period.
    Quota,
    /// A group's or task's period.
    Period,
    /// A relative deadline.
    Deadline,
    /// A worst-case execution time.
    Wcet,
    /// A time slice.
    Slice,
    /// A task's affinity mask.
    Affinity,
    /// A group's CPU set.
    Cpus,
    /// The group a task belongs to.
    Group,
    /// The starvation reserve.
    Reserve,
    /// The number of CPUs of the system.
    CpuCount,
    /// The admission utilisation bound.
    UtilizationBound,
}

impl Field {
    /// The configuration key of the field.
    pub const fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Priority => "priority",
            Field::Quota => "quota_us",
            Field::Period => "period_us",
            Field::Deadline => "deadline_us",
            Field::Wcet => "wcet_us",
            Field::Slice => "slice_us",
            Field::Affinity => "affinity",
            Field::Cpus => "cpus",
            Field::Group => "vm",
            Field::Reserve => "reserve_ms",
            Field::CpuCount => "cpus",
            Field::UtilizationBound => "utilization_bound",
        }
    }
}

/// What is wrong with a field.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Problem {
    /// The value is zero (or empty) where that means nothing.
    Zero,
    /// The field is set but needs `.0` too (e.g. a quota without a period).
    Requires(Field),
    /// The value is larger than the value of field `.0` (e.g. a deadline beyond the period).
    Exceeds(Field),
    /// The value names CPUs outside the system.
    OutsideSystem,
    /// The value is too large for the implementation.
    TooLarge,
    /// The value refers to something that does not exist.
    Unknown,
    /// The value is already used by another entity.
    Duplicate,
}

/// Which entity a [`ParamError`] is about.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Subject {
    /// The system-wide configuration.
    System,
    /// A group, by name.
    Group(String),
    /// A task, by name.
    Task(String),
}

/// An invalid parameter.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParamError {
    /// The entity.
    pub subject: Subject,
    /// The offending field.
    pub field: Field,
    /// What is wrong.
    pub problem: Problem,
}

/// A configuration refused by admission control.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AdmissionError {
    /// The group whose admission makes the sum overflow.
    pub group: String,
    /// The CPU set whose bound is exceeded.
    pub cpus: CpuSet,
    /// The sum of `Q/P` on that set, including `group`, in millionths of a CPU.
    pub demand_ppm: u64,
    /// The bound, `0.95 × |cpus|`, in millionths of a CPU.
    pub limit_ppm: u64,
}

impl AdmissionError {
    /// By how much the bound is exceeded, in millionths of a CPU.
    pub fn excess_ppm(&self) -> u64 {
        self.demand_ppm - self.limit_ppm
    }
}

/// Every error of the crate.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Error {
    /// An invalid parameter.
    Param(ParamError),
    /// Refused by admission control.
    Admission(AdmissionError),
    /// No such task.
    UnknownTask(TaskId),
    /// No such group.
    UnknownGroup(GroupId),
    /// No such CPU.
    UnknownCpu(CpuId),
    /// The event does not apply to a task in this state.
    InvalidState {
        /// The task.
        task: TaskId,
        /// Its state.
        state: StateKind,
    },
}

impl From<ParamError> for Error {
    fn from(e: ParamError) -> Self {
        Error::Param(e)
    }
}

impl From<AdmissionError> for Error {
    fn from(e: AdmissionError) -> Self {
        Error::Admission(e)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::System => f.write_str("defaults"),
            Subject::Group(n) => write!(f, "vm \"{n}\""),
            Subject::Task(n) => write!(f, "task \"{n}\""),
        }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: `{}` ", self.subject, self.field.key())?;
        match self.problem {
            Problem::Zero => f.write_str("must not be zero or empty"),
            Problem::Requires(o) => write!(f, "requires `{}`", o.key()),
            Problem::Exceeds(o) => write!(f, "exceeds `{}`", o.key()),
            Problem::OutsideSystem => f.write_str("names CPUs outside the system"),
            Problem::TooLarge => f.write_str("is too large"),
            Problem::Unknown => f.write_str("refers to nothing known"),
            Problem::Duplicate => f.write_str("is already used"),
        }
    }
}

impl fmt::Display for AdmissionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vm \"{}\" overflows CPUs {:?}: sum of quota/period {}.{:06} > bound {}.{:06} (over by {}.{:06} CPU)",
            self.group,
            self.cpus,
            self.demand_ppm / 1_000_000,
            self.demand_ppm % 1_000_000,
            self.limit_ppm / 1_000_000,
            self.limit_ppm % 1_000_000,
            self.excess_ppm() / 1_000_000,
            self.excess_ppm() % 1_000_000
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Param(e) => e.fmt(f),
            Error::Admission(e) => e.fmt(f),
            Error::UnknownTask(t) => write!(f, "unknown task {}", t.0),
            Error::UnknownGroup(g) => write!(f, "unknown group {}", g.0),
            Error::UnknownCpu(c) => write!(f, "unknown cpu {c}"),
            Error::InvalidState { task, state } => {
                write!(f, "task {} is {:?}: event does not apply", task.0, state)
            }
        }
    }
}

impl core::error::Error for ParamError {}
impl core::error::Error for AdmissionError {}
impl core::error::Error for Error {}
