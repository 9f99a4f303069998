//! A task's timing contract (docs/POLICY.md, "Entities" and "Deadlines"): period `T`, relative
//! deadline `D` and worst-case execution time `C`, all optional.
//!
//! One type serves every user of the contract: the AxRT system's task parameters
//! ([`crate::params::TaskParams::timing`]), its job accounting ([`crate::deadline::Jobs`]) and
//! the pluggable policies' parameters ([`crate::policy::PolicyParams::timing`]). The rules that
//! make a contract meaningful are checked here, once ([`Timing::check`]).

use crate::error::{Field, Problem};
use crate::types::Time;

/// The timing contract of a (periodic) task. Every field is optional; an empty contract means
/// the task has no jobs to judge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    /// Period `T` of its jobs.
    pub period: Option<Time>,
    /// Relative deadline `D` of its jobs (`None`: `T`).
    pub deadline: Option<Time>,
    /// Worst-case execution time `C` of one job. A job running longer is a `wcet_overrun`; no
    /// policy enforces it.
    pub wcet: Option<Time>,
}

impl Timing {
    /// No contract.
    pub const NONE: Timing = Timing {
        period: None,
        deadline: None,
        wcet: None,
    };

    /// The full contract: period `T`, relative deadline `D` and worst-case execution time `C`.
    pub const fn contract(period: Time, deadline: Time, wcet: Time) -> Self {
        Timing {
            period: Some(period),
            deadline: Some(deadline),
            wcet: Some(wcet),
        }
    }

    /// A periodic task: period `T` and worst-case execution time `C`; the deadline is `T`.
    pub const fn periodic(period: Time, wcet: Time) -> Self {
        Timing {
            period: Some(period),
            deadline: None,
            wcet: Some(wcet),
        }
    }

    /// Returns `self` with relative deadline `deadline`.
    pub const fn with_deadline(mut self, deadline: Time) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The relative deadline jobs are judged against: `D`, else `T`, else `None` (no jobs).
    pub const fn relative_deadline(&self) -> Option<Time> {
        match self.deadline {
            Some(d) => Some(d),
            None => self.period,
        }
    }

    /// Checks the contract: no zero value, `D ≤ T`, `C ≤ D` (or `C ≤ T` without `D`), and no
    /// `C` without a deadline. Returns the first offending field and what is wrong with it;
    /// the caller names the task.
    pub fn check(&self) -> Result<(), (Field, Problem)> {
        for (field, v) in [
            (Field::Period, self.period),
            (Field::Deadline, self.deadline),
            (Field::Wcet, self.wcet),
        ] {
            if v == Some(0) {
                return Err((field, Problem::Zero));
            }
        }
        if let (Some(d), Some(p)) = (self.deadline, self.period) {
            if d > p {
                return Err((Field::Deadline, Problem::Exceeds(Field::Period)));
            }
        }
        if let Some(c) = self.wcet {
            match (self.deadline, self.period) {
                (Some(d), _) if c > d => {
                    return Err((Field::Wcet, Problem::Exceeds(Field::Deadline)))
                }
                (None, Some(p)) if c > p => {
                    return Err((Field::Wcet, Problem::Exceeds(Field::Period)))
                }
                (None, None) => return Err((Field::Wcet, Problem::Requires(Field::Deadline))),
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_deadline_falls_back_to_the_period() {
        assert_eq!(Timing::NONE.relative_deadline(), None);
        assert_eq!(Timing::periodic(10, 3).relative_deadline(), Some(10));
        assert_eq!(Timing::contract(10, 7, 3).relative_deadline(), Some(7));
        assert_eq!(Timing::NONE.with_deadline(4).relative_deadline(), Some(4));
    }

    #[test]
    fn check_names_the_first_bad_field() {
        assert_eq!(Timing::NONE.check(), Ok(()));
        assert_eq!(Timing::contract(10, 10, 10).check(), Ok(()));
        assert_eq!(
            Timing::contract(0, 0, 0).check(),
            Err((Field::Period, Problem::Zero))
        );
        assert_eq!(
            Timing::contract(10, 11, 1).check(),
            Err((Field::Deadline, Problem::Exceeds(Field::Period)))
        );
        assert_eq!(
            Timing::periodic(10, 11).check(),
            Err((Field::Wcet, Problem::Exceeds(Field::Period)))
        );
        let wcet_only = Timing {
            wcet: Some(1),
            ..Timing::NONE
        };
        assert_eq!(
            wcet_only.check(),
            Err((Field::Wcet, Problem::Requires(Field::Deadline)))
        );
    }
}
