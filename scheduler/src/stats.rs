//! Statistics. [`Counters`] is what tasks and groups both count (every event that updates a
//! task's counters updates its group's the same way); [`TaskStats`] adds the task's jobs,
//! [`GroupStats`] the group's budget and reservation-window figures.

use crate::deadline::Jobs;
use crate::hist::Log2Hist;
use crate::types::Time;

/// Counters kept for every task and, summed, for every group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Time spent running.
    pub runtime: Time,
    /// Time spent runnable but not running (ready or parked by a throttle).
    pub wait: Time,
    /// Times put on a CPU.
    pub dispatches: u64,
    /// Times taken off a CPU for another task (not slice ends, yields, blocks or throttles).
    pub preemptions: u64,
    /// Dispatches on a CPU other than the previous one.
    pub migrations: u64,
    /// Times stopped or parked because the group's budget ran out.
    pub throttles: u64,
    /// Deadline misses of jobs.
    pub misses: u64,
    /// Boosts given to other tasks (lock waits and directed yields that raised someone).
    pub boosts_given: u64,
    /// Boosts received (effective priority raised above the base).
    pub boosts_received: u64,
    /// Slices granted by the starvation reserve.
    pub reserve_grants: u64,
    /// Wake-to-first-dispatch latencies.
    pub wakeup_latency: Log2Hist,
}

/// Statistics of one task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskStats {
    /// The shared counters.
    pub counters: Counters,
    /// Jobs (only for tasks with a timing contract).
    pub jobs: Jobs,
}

/// Statistics of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Sums of its tasks' counters.
    pub counters: Counters,
    /// Budget replenishments (period boundaries passed).
    pub replenishments: u64,
    /// Times the group was throttled (budget used up).
    pub group_throttles: u64,
    /// Reservation windows closed.
    pub windows: u64,
    /// Windows whose supply fell short of `min(Q, demand)` by more than `ε`.
    pub supply_misses: u64,
    /// Largest shortfall of a window.
    pub worst_shortfall: Time,
    /// Largest runtime in one window (to compare with `Q + ε`).
    pub max_window_supply: Time,
}
