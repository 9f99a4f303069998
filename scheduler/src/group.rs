//! Run-time state of a group (a VM): its budget in the current period, whether it is
//! throttled, how many of its tasks run and are runnable, its members, its reservation window
//! and its statistics. Period arithmetic lives here; decisions about tasks live in `system`.

use alloc::vec::Vec;

use crate::deadline::Window;
use crate::params::{GroupParams, Overrun};
use crate::stats::GroupStats;
use crate::types::{CpuSet, TaskId, Time};

/// One group.
#[derive(Clone, Debug)]
pub struct Group {
    /// Its parameters (validated and admitted).
    pub params: GroupParams,
    /// The CPUs its tasks may use.
    pub cpus: CpuSet,
    /// Budget left in the current period (meaningless without a budget).
    pub remaining: Time,
    /// Start of the current period.
    pub period_start: Time,
    /// Whether the budget is used up.
    pub throttled: bool,
    /// How many CPUs run one of its tasks.
    pub running: u32,
    /// How many of its tasks are runnable (ready, running or throttled).
    pub runnable: u32,
    /// Its live tasks.
    pub members: Vec<TaskId>,
    /// The current reservation window.
    pub window: Window,
    /// Up to when demand has been accrued.
    pub accrued_to: Time,
    /// Statistics.
    pub stats: GroupStats,
}

impl Group {
    /// A group created at `now`, its first period starting then.
    pub fn new(params: GroupParams, cpus: CpuSet, now: Time) -> Self {
        Group {
            remaining: params.quota.unwrap_or(0),
            params,
            cpus,
            period_start: now,
            throttled: false,
            running: 0,
            runnable: 0,
            members: Vec::new(),
            window: Window::default(),
            accrued_to: now,
            stats: GroupStats::default(),
        }
    }

    /// `(Q, P)` if the group has a budget.
    #[inline]
    pub fn budget(&self) -> Option<(Time, Time)> {
        self.params.budget_pair()
    }

    /// Whether its tasks are demoted to the background tier (throttled, `background` mode).
    #[inline]
    pub fn demoted(&self) -> bool {
        self.throttled && self.params.overrun == Overrun::Background
    }

    /// Whether its tasks are parked (throttled, `throttle` mode).
    #[inline]
    pub fn parked(&self) -> bool {
        self.throttled && self.params.overrun == Overrun::Throttle
    }

    /// The longest slice a task of the group may get now.
    pub fn slice_cap(&self) -> Time {
        match self.budget() {
            Some(_) if !self.throttled => self.remaining,
            _ => Time::MAX,
        }
    }

    /// Charges `dt` of run time.
    pub fn charge(&mut self, dt: Time) {
        if self.budget().is_some() {
            self.remaining = self.remaining.saturating_sub(dt);
            self.window.supply += dt;
        }
    }

    /// Accrues demand up to `now` and snapshots the window at the reservation deadline
    /// (budgeted groups only: the others have no windows).
    pub fn accrue(&mut self, now: Time) {
        if now <= self.accrued_to || self.budget().is_none() {
            return;
        }
        self.window.demand += u64::from(self.runnable) * (now - self.accrued_to);
        self.accrued_to = now;
        if let Some(d) = self.params.deadline {
            if self.window.at_deadline.is_none() && now >= self.period_start + d {
                self.window.at_deadline = Some((self.window.demand, self.window.supply));
            }
        }
    }

    /// Whether the budget just ran out (budgeted, not yet throttled, nothing left).
    pub fn exhausted(&self) -> bool {
        self.budget().is_some() && !self.throttled && self.remaining == 0
    }

    /// If a period boundary has passed at `now`: closes the window (returns its shortfall when
    /// it is a supply miss with tolerance `epsilon`), starts the period holding `now` with a
    /// full budget and no carry-over, and un-throttles. `None` if no boundary has passed.
    pub fn roll(&mut self, now: Time) -> Option<Option<Time>> {
        let (q, p) = self.budget()?;
        let epsilon = crate::params::supply_slack(q);
        if now < self.period_start + p {
            return None;
        }
        let s = &mut self.stats;
        s.windows += 1;
        s.replenishments += 1;
        s.max_window_supply = s.max_window_supply.max(self.window.supply);
        let shortfall = self.window.shortfall(q);
        s.worst_shortfall = s.worst_shortfall.max(shortfall);
        let miss = self.window.is_miss(q, epsilon);
        s.supply_misses += u64::from(miss);
        self.period_start += (now - self.period_start) / p * p;
        self.window = Window::default();
        self.remaining = q;
        self.throttled = false;
        Some(miss.then_some(shortfall))
    }

    /// The earliest time something about the budget is due, given `now`: the next period
    /// boundary, the reservation deadline, or the moment the budget runs out at the current
    /// rate of consumption.
    pub fn next_due(&self, now: Time) -> Option<Time> {
        let (_, p) = self.budget()?;
        let mut due = self.period_start + p;
        if let Some(d) = self.params.deadline {
            if self.window.at_deadline.is_none() {
                due = due.min(self.period_start + d);
            }
        }
        if !self.throttled && self.running > 0 {
            due = due.min(now + self.remaining.div_ceil(u64::from(self.running)).max(1));
        }
        Some(due)
    }
}
