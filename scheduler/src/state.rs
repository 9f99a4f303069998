//! The task state machine: the states, which transitions are legal, and a counter of the
//! transitions taken.

use crate::types::{CpuId, ResourceId};

/// Why a task is blocked.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BlockReason {
    /// Created and not yet woken.
    New,
    /// Sleeping (timer, wait queue, halted vCPU).
    Sleep,
    /// Waiting for I/O.
    Io,
    /// Waiting for a lock-like resource (tracked for inheritance and deadlocks).
    Lock(ResourceId),
    /// Any other reason, coded by the caller.
    Other(u32),
}

/// The state of a task.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TaskState {
    /// Runnable, queued, waiting for a CPU.
    Ready,
    /// Running on the CPU.
    Running(CpuId),
    /// Not runnable until woken.
    Blocked(BlockReason),
    /// Runnable, but parked because its group used up its budget (`throttle` mode).
    Throttled,
    /// Administratively stopped (e.g. a paused VM) until resumed.
    Suspended,
    /// Gone; no event applies to it any more.
    Exited,
}

/// A [`TaskState`] without its payload, usable as an index.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum StateKind {
    /// [`TaskState::Ready`].
    Ready = 0,
    /// [`TaskState::Running`].
    Running = 1,
    /// [`TaskState::Blocked`].
    Blocked = 2,
    /// [`TaskState::Throttled`].
    Throttled = 3,
    /// [`TaskState::Suspended`].
    Suspended = 4,
    /// [`TaskState::Exited`].
    Exited = 5,
}

/// Number of [`StateKind`]s.
pub const STATE_KINDS: usize = 6;

impl StateKind {
    /// Every kind, in index order.
    pub const ALL: [StateKind; STATE_KINDS] = [
        StateKind::Ready,
        StateKind::Running,
        StateKind::Blocked,
        StateKind::Throttled,
        StateKind::Suspended,
        StateKind::Exited,
    ];
}

impl TaskState {
    /// The payload-free kind.
    pub fn kind(&self) -> StateKind {
        match self {
            TaskState::Ready => StateKind::Ready,
            TaskState::Running(_) => StateKind::Running,
            TaskState::Blocked(_) => StateKind::Blocked,
            TaskState::Throttled => StateKind::Throttled,
            TaskState::Suspended => StateKind::Suspended,
            TaskState::Exited => StateKind::Exited,
        }
    }

    /// Whether the task wants a CPU (ready, running or parked by a throttle).
    pub fn is_runnable(&self) -> bool {
        matches!(
            self,
            TaskState::Ready | TaskState::Running(_) | TaskState::Throttled
        )
    }
}

/// Whether the state machine allows going from `from` to `to`.
///
/// * `Blocked` → `Ready` (wake) or `Throttled` (woken while its group is throttled)
/// * `Ready` → `Running` (dispatch)
/// * `Running` → `Ready` (preemption, slice end, yield) or `Blocked`
/// * `Ready`/`Running` → `Throttled` (budget used up); `Throttled` → `Ready` (replenishment)
/// * `Ready`/`Throttled` → `Blocked` (blocked while queued or parked)
/// * any live state → `Suspended`; `Suspended` → `Ready`/`Throttled` (resume)
/// * any live state → `Exited`; nothing leaves `Exited`.
pub const fn allowed(from: StateKind, to: StateKind) -> bool {
    use StateKind::*;
    matches!(
        (from, to),
        (Blocked, Ready)
            | (Blocked, Throttled)
            | (Ready, Running)
            | (Running, Ready)
            | (Running, Blocked)
            | (Ready, Throttled)
            | (Running, Throttled)
            | (Throttled, Ready)
            | (Ready, Blocked)
            | (Throttled, Blocked)
            | (Blocked, Suspended)
            | (Ready, Suspended)
            | (Running, Suspended)
            | (Throttled, Suspended)
            | (Suspended, Ready)
            | (Suspended, Throttled)
            | (Blocked, Exited)
            | (Ready, Exited)
            | (Running, Exited)
            | (Throttled, Exited)
            | (Suspended, Exited)
    )
}

/// Counts of the transitions taken, by `(from, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Transitions {
    counts: [[u64; STATE_KINDS]; STATE_KINDS],
}

impl Transitions {
    /// Counts one transition.
    #[inline]
    pub fn record(&mut self, from: StateKind, to: StateKind) {
        self.counts[from as usize][to as usize] += 1;
    }

    /// How many `from` → `to` transitions were taken.
    pub fn get(&self, from: StateKind, to: StateKind) -> u64 {
        self.counts[from as usize][to as usize]
    }

    /// All transitions taken.
    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_is_final_and_self_loops_are_illegal() {
        for k in StateKind::ALL {
            assert!(!allowed(StateKind::Exited, k));
            assert!(!allowed(k, k), "{k:?} -> itself");
        }
        assert!(!allowed(StateKind::Blocked, StateKind::Running));
        assert!(!allowed(StateKind::Throttled, StateKind::Running));
        assert!(!allowed(StateKind::Suspended, StateKind::Running));
        assert!(!allowed(StateKind::Suspended, StateKind::Blocked));
    }

    #[test]
    fn every_live_state_can_exit_and_be_suspended() {
        for k in StateKind::ALL {
            if k != StateKind::Exited {
                assert!(allowed(k, StateKind::Exited));
                assert_eq!(allowed(k, StateKind::Suspended), k != StateKind::Suspended);
            }
        }
    }

    #[test]
    fn transitions_count() {
        let mut t = Transitions::default();
        t.record(StateKind::Ready, StateKind::Running);
        t.record(StateKind::Ready, StateKind::Running);
        t.record(StateKind::Running, StateKind::Blocked);
        assert_eq!(t.get(StateKind::Ready, StateKind::Running), 2);
        assert_eq!(t.get(StateKind::Running, StateKind::Ready), 0);
        assert_eq!(t.total(), 3);
    }
}
