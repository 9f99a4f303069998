//! Deadline tracking.
//!
//! * [`Jobs`] — per task with a timing contract: a job is released when the task wakes and
//!   completes when it blocks; response time, misses against `D`, worst lateness, WCET
//!   overruns and a log2 histogram of response times.
//! * [`Window`] — per budgeted group, one period window: demand (task-time its tasks were
//!   runnable) and supply (time they ran). A supply miss is a window whose supply fell short of
//!   `min(Q, demand)` by more than `ε`.

use crate::hist::Log2Hist;
use crate::timing::Timing;
use crate::types::Time;

/// What became of one completed job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobOutcome {
    /// Completion − release.
    pub response: Time,
    /// Response time beyond `D`.
    pub missed: bool,
    /// Execution time beyond `C`.
    pub wcet_overrun: bool,
}

/// Job statistics of one task.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Jobs {
    /// Release time and the task's runtime at release, of the open job.
    open: Option<(Time, Time)>,
    /// Jobs completed.
    pub completed: u64,
    /// Jobs whose response time exceeded `D`.
    pub misses: u64,
    /// Jobs whose execution time exceeded `C`.
    pub wcet_overruns: u64,
    /// Largest `response − D` seen (negative: always early).
    pub worst_lateness: Option<i64>,
    /// Response times.
    pub response: Log2Hist,
}

impl Jobs {
    /// Opens a job released at `now`; `runtime` is the task's total runtime so far.
    pub fn release(&mut self, now: Time, runtime: Time) {
        self.open = Some((now, runtime));
    }

    /// Whether a job is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Completes the open job at `now` against the task's validated `timing` (no effect
    /// without an open job, or if the contract has no deadline).
    pub fn complete(&mut self, now: Time, runtime: Time, timing: &Timing) -> Option<JobOutcome> {
        let deadline = timing.relative_deadline()?;
        let (release, rt0) = self.open.take()?;
        let response = now.saturating_sub(release);
        let exec = runtime.saturating_sub(rt0);
        let lateness = response as i64 - deadline as i64;
        let out = JobOutcome {
            response,
            missed: response > deadline,
            wcet_overrun: timing.wcet.is_some_and(|w| exec > w),
        };
        self.completed += 1;
        self.misses += u64::from(out.missed);
        self.wcet_overruns += u64::from(out.wcet_overrun);
        self.worst_lateness = Some(self.worst_lateness.map_or(lateness, |w| w.max(lateness)));
        self.response.record(response);
        Some(out)
    }
}

/// Demand and supply of a group in its current period window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// Task-time the group's tasks were runnable in this window.
    pub demand: Time,
    /// Time the group's tasks ran in this window.
    pub supply: Time,
    /// `(demand, supply)` at the reservation deadline, once it has passed.
    pub at_deadline: Option<(Time, Time)>,
}

impl Window {
    /// The shortfall of this window: how far the supply fell below `min(quota, demand)`
    /// (measured at the reservation deadline if one was snapshotted).
    pub fn shortfall(&self, quota: Time) -> Time {
        let (demand, supply) = self.at_deadline.unwrap_or((self.demand, self.supply));
        quota.min(demand).saturating_sub(supply)
    }

    /// Whether the window is a supply miss with tolerance `epsilon`.
    pub fn is_miss(&self, quota: Time, epsilon: Time) -> bool {
        self.shortfall(quota) > epsilon
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_miss_lateness_and_overrun() {
        let c = Timing {
            wcet: Some(300),
            ..Timing::NONE.with_deadline(1000)
        };
        let mut j = Jobs::default();
        assert_eq!(j.complete(5, 0, &c), None);
        j.release(10_000, 50);
        let o = j.complete(10_900, 300, &c).unwrap();
        assert_eq!((o.response, o.missed, o.wcet_overrun), (900, false, false));
        assert_eq!(j.worst_lateness, Some(-100));
        j.release(20_000, 300);
        let o = j.complete(21_500, 700, &c).unwrap();
        assert_eq!((o.response, o.missed, o.wcet_overrun), (1500, true, true));
        assert_eq!((j.completed, j.misses, j.wcet_overruns), (2, 1, 1));
        assert_eq!(j.worst_lateness, Some(500));
        assert_eq!(j.response.count(), 2);
        // Exactly D is not a miss.
        j.release(30_000, 0);
        assert!(!j.complete(31_000, 0, &c).unwrap().missed);
    }

    #[test]
    fn window_shortfall() {
        let w = Window {
            demand: 10_000,
            supply: 2_000,
            at_deadline: None,
        };
        assert_eq!(w.shortfall(3_000), 1_000);
        assert!(w.is_miss(3_000, 999));
        assert!(!w.is_miss(3_000, 1_000));
        // Little demand: only the demand must be supplied.
        let w = Window {
            demand: 1_500,
            supply: 1_500,
            at_deadline: None,
        };
        assert!(!w.is_miss(3_000, 0));
        // The deadline snapshot wins over the end-of-window values.
        let w = Window {
            demand: 10_000,
            supply: 3_000,
            at_deadline: Some((5_000, 1_000)),
        };
        assert_eq!(w.shortfall(3_000), 2_000);
    }
}
