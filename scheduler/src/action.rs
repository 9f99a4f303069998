//! Decisions the system hands back to its driver. Every event appends actions to a `Vec` the
//! caller owns and reuses (clear it between events), so steady-state events do not allocate.

use crate::types::{CpuId, GroupId, TaskId, Time};

/// One decision or notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `cpu` must now run `task` until `slice_end` at the latest. If `cpu` runs another task,
    /// this is a context switch; if `cpu` is not the calling CPU, kick it (IPI) so it looks at
    /// [`crate::System::current`].
    Run {
        /// The CPU.
        cpu: CpuId,
        /// The task to run.
        task: TaskId,
        /// Absolute end of its slice.
        slice_end: Time,
    },
    /// `cpu` has nothing to run: it idles (and should be kicked if it is remote).
    Idle {
        /// The CPU.
        cpu: CpuId,
    },
    /// Call [`crate::System::tick`] at `at` (or soon after): the earliest slice end, period
    /// boundary, budget exhaustion, reservation deadline or starvation-reserve deadline.
    /// Emitted when it changes; replaces the previous one.
    Timer {
        /// Absolute time.
        at: Time,
    },
    /// `group` used up its budget.
    Throttled {
        /// The group.
        group: GroupId,
    },
    /// `group` reached a period boundary and got its budget back.
    Replenished {
        /// The group.
        group: GroupId,
    },
    /// A window of `group` supplied less than `min(Q, demand) − ε`.
    SupplyMiss {
        /// The group.
        group: GroupId,
        /// How much less than `min(Q, demand)` it got.
        shortfall: Time,
    },
    /// A job of `task` completed after its deadline.
    DeadlineMiss {
        /// The task.
        task: TaskId,
        /// Response time beyond the deadline.
        lateness: Time,
    },
    /// The starvation reserve gave `task` one slice on `cpu`.
    ReserveGrant {
        /// The CPU.
        cpu: CpuId,
        /// The task.
        task: TaskId,
    },
    /// `waiter` closed a wait-for cycle (see the `lock_wait` result for the cycle).
    Deadlock {
        /// The task whose wait closed the cycle.
        waiter: TaskId,
    },
}
