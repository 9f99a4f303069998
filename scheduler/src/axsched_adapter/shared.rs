//! State the per-CPU [`AxrtScheduler`](super::AxrtScheduler)s share: what each CPU runs and has
//! queued (for global fixed priority across run queues) and the CPU budget of each group (a
//! VM). axtask keeps one scheduler per CPU, each under its own lock; this is the part every CPU
//! reads and writes without taking another CPU's lock, so it is made of atomics only.
//!
//! * **Placement** ([`Shared::place`]): a task that becomes runnable goes to an allowed idle CPU,
//!   else to the allowed CPU running the worst priority, and preempts it if that priority is
//!   worse than its own (docs/POLICY.md, "Choosing what runs", rule 4, as `scx_axrt`'s BPF tier
//!   does). The CPU is claimed as it is chosen (its running level is set with a
//!   compare-and-swap), so tasks that wake together spread over the CPUs instead of queueing on
//!   one.
//! * **Pull** ([`Shared::pull_source`]): a CPU about to pick a task looks for another CPU whose
//!   best queued task is better than its own best, and takes it (the other half of rule 4: a
//!   runnable task does not wait behind a worse one while another CPU could run it).
//! * **Budgets** ([`Budget`]): every nanosecond a group's tasks run is charged to it; at each
//!   period boundary (multiples of the period since time 0) the budget is set to the quota again.

use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};

use crate::types::{Prio, Time};

/// Most CPUs a [`Shared`] describes.
pub const MAX_CPUS: usize = 64;
/// Most groups (VMs) a [`Shared`] holds budgets for; group ids are `0..MAX_GROUPS`.
pub const MAX_GROUPS: usize = 32;
/// Level of a CPU that runs nothing (idle), or of a run queue with nothing queued: worse than
/// every priority.
pub const IDLE: u16 = 256;

/// What one CPU runs and has queued, as priority levels (`0..=255`, or [`IDLE`]).
#[derive(Debug)]
pub struct CpuSlot {
    running: AtomicU16,
    queued: AtomicU16,
}

impl CpuSlot {
    const fn new() -> Self {
        Self {
            running: AtomicU16::new(IDLE),
            queued: AtomicU16::new(IDLE),
        }
    }

    /// Effective priority of the task the CPU runs, [`IDLE`] when it runs none.
    pub fn running(&self) -> u16 {
        self.running.load(Ordering::Acquire)
    }

    /// Best effective priority queued on the CPU's run queue, [`IDLE`] when it is empty.
    pub fn queued(&self) -> u16 {
        self.queued.load(Ordering::Acquire)
    }

    pub(super) fn set_running(&self, level: u16) {
        self.running.store(level, Ordering::Release);
    }

    pub(super) fn set_queued(&self, level: u16) {
        self.queued.store(level, Ordering::Release);
    }
}

/// Where a runnable task goes: the CPU, and whether it should preempt what that CPU runs
/// (an IPI for another CPU, a pending reschedule for this one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The chosen CPU.
    pub cpu: usize,
    /// `true` if the CPU runs something worse than the task (or idles).
    pub preempt: bool,
}

/// The CPU budget of one group: `quota` ns per `period` ns; a quota of 0 means no budget.
#[derive(Debug)]
pub struct Budget {
    quota: AtomicU64,
    period: AtomicU64,
    /// Index of the period `used` belongs to (`now / period`).
    epoch: AtomicU64,
    used: AtomicU64,
    /// CPUs running a task of the group now (they share what is left).
    running: AtomicU32,
    throttles: AtomicU64,
}

impl Budget {
    const fn new() -> Self {
        Self {
            quota: AtomicU64::new(0),
            period: AtomicU64::new(0),
            epoch: AtomicU64::new(0),
            used: AtomicU64::new(0),
            running: AtomicU32::new(0),
            throttles: AtomicU64::new(0),
        }
    }

    /// Whether the group has a budget.
    pub fn is_budgeted(&self) -> bool {
        self.quota.load(Ordering::Relaxed) != 0
    }

    /// `(quota, period)` in ns.
    pub fn limits(&self) -> (Time, Time) {
        (
            self.quota.load(Ordering::Relaxed),
            self.period.load(Ordering::Relaxed),
        )
    }

    /// How often the group was throttled (its tasks parked until a period boundary).
    pub fn throttles(&self) -> u64 {
        self.throttles.load(Ordering::Relaxed)
    }

    /// Starts the period containing `now` if it is a new one; returns its start.
    fn roll(&self, now: Time) -> Time {
        let period = self.period.load(Ordering::Relaxed).max(1);
        let e = now / period;
        let old = self.epoch.load(Ordering::Acquire);
        if e > old
            && self
                .epoch
                .compare_exchange(old, e, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.used.store(0, Ordering::Release);
        }
        e * period
    }

    /// Charges the `ran` ns that ended at `now` (only the part inside the current period).
    pub(super) fn charge(&self, now: Time, ran: Time) {
        if !self.is_budgeted() || ran == 0 {
            return;
        }
        let start = self.roll(now);
        self.used.fetch_add(ran.min(now - start), Ordering::AcqRel);
    }

    /// Budget left in the period containing `now`; `None` for an unbudgeted group.
    pub fn left(&self, now: Time) -> Option<Time> {
        if !self.is_budgeted() {
            return None;
        }
        self.roll(now);
        let quota = self.quota.load(Ordering::Relaxed);
        Some(quota.saturating_sub(self.used.load(Ordering::Acquire)))
    }

    /// Whether the group's budget for the period containing `now` is used up.
    pub fn is_throttled(&self, now: Time) -> bool {
        self.left(now) == Some(0)
    }

    /// End of the period containing `now`.
    pub fn period_end(&self, now: Time) -> Time {
        let period = self.period.load(Ordering::Relaxed).max(1);
        (now / period + 1) * period
    }

    pub(super) fn count_throttle(&self) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn enter(&self) {
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn leave(&self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    /// CPUs running a task of the group now (at least 1 for a caller that runs one).
    pub(super) fn sharers(&self) -> u64 {
        u64::from(self.running.load(Ordering::Acquire).max(1))
    }
}

/// What the per-CPU schedulers share; one `static` per system.
#[derive(Debug)]
pub struct Shared {
    cpus: [CpuSlot; MAX_CPUS],
    groups: [Budget; MAX_GROUPS],
}

impl Default for Shared {
    fn default() -> Self {
        Self::new()
    }
}

impl Shared {
    /// Every CPU idle, every group without a budget.
    pub const fn new() -> Self {
        Self {
            cpus: [const { CpuSlot::new() }; MAX_CPUS],
            groups: [const { Budget::new() }; MAX_GROUPS],
        }
    }

    /// CPU `cpu`'s slot (`cpu < MAX_CPUS`).
    pub fn cpu(&self, cpu: usize) -> &CpuSlot {
        &self.cpus[cpu]
    }

    /// Group `group`'s budget (`group < MAX_GROUPS`).
    pub fn group(&self, group: usize) -> &Budget {
        &self.groups[group]
    }

    /// Gives group `group` a budget of `quota` ns every `period` ns (both non-zero, `group <
    /// MAX_GROUPS`), or removes it with `quota == 0`. Returns `false` for a bad argument.
    /// Set budgets before the group's tasks run; a change applies from the next period.
    pub fn set_budget(&self, group: usize, quota: Time, period: Time) -> bool {
        let Some(b) = self.groups.get(group) else {
            return false;
        };
        if quota != 0 && period == 0 {
            return false;
        }
        b.period.store(period, Ordering::Relaxed);
        b.quota.store(quota, Ordering::Relaxed);
        true
    }

    /// Chooses the CPU for a task of effective priority `prio` that becomes runnable, among
    /// CPUs `0..cpus` for which `allowed` holds (at least one must): an idle one, else the one
    /// running the worst priority, `prefer` winning ties. If the chosen CPU runs something
    /// worse than `prio`, it is claimed (its running level set to `prio`, so the next waker
    /// sees it taken) and `preempt` is `true`.
    pub fn place(
        &self,
        prio: Prio,
        cpus: usize,
        allowed: impl Fn(usize) -> bool,
        prefer: usize,
    ) -> Placement {
        let cpus = cpus.min(MAX_CPUS);
        let prio = u16::from(prio);
        // A claim fails only when another CPU changed that CPU's level in between: look again
        // (bounded: after that many races, queue without preempting).
        for _ in 0..=cpus {
            let mut best: Option<(usize, u16)> = None;
            for cpu in 0..cpus {
                if !allowed(cpu) {
                    continue;
                }
                let level = self.cpus[cpu].running();
                let better = match best {
                    None => true,
                    Some((b, bl)) => level > bl || (level == bl && cpu == prefer && b != prefer),
                };
                if better {
                    best = Some((cpu, level));
                }
            }
            let Some((cpu, level)) = best else {
                return Placement {
                    cpu: prefer,
                    preempt: false,
                };
            };
            if level <= prio {
                return Placement {
                    cpu,
                    preempt: false,
                };
            }
            if self.cpus[cpu]
                .running
                .compare_exchange(level, prio, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Placement { cpu, preempt: true };
            }
        }
        Placement {
            cpu: prefer,
            preempt: false,
        }
    }

    /// A CPU among `0..cpus` other than `this` whose best queued task is better than `local`
    /// (the best level `this` has queued, or [`IDLE`]): the one with the best such task.
    pub fn pull_source(&self, this: usize, cpus: usize, local: u16) -> Option<usize> {
        let mut best: Option<(usize, u16)> = None;
        for cpu in (0..cpus.min(MAX_CPUS)).filter(|&c| c != this) {
            let q = self.cpus[cpu].queued();
            if q < local && best.is_none_or(|(_, b)| q < b) {
                best = Some((cpu, q));
            }
        }
        best.map(|(cpu, _)| cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Time = 1_000_000;

    #[test]
    fn place_prefers_idle_then_the_worst_and_claims_it() {
        let s = Shared::new();
        s.cpu(0).set_running(10);
        s.cpu(1).set_running(IDLE);
        s.cpu(2).set_running(200);
        let p = s.place(50, 3, |_| true, 0);
        assert_eq!(
            p,
            Placement {
                cpu: 1,
                preempt: true
            }
        );
        assert_eq!(s.cpu(1).running(), 50, "claimed");
        // The next waker sees CPU 1 taken and goes to the worst one left.
        assert_eq!(
            s.place(50, 3, |_| true, 0),
            Placement {
                cpu: 2,
                preempt: true
            }
        );
        // Nothing runs worse than 10 any more: queue (on the worst CPU), no preemption.
        let p = s.place(60, 3, |_| true, 0);
        assert!(!p.preempt);
        // Affinity: only CPU 0 allowed.
        assert_eq!(
            s.place(5, 3, |c| c == 0, 2),
            Placement {
                cpu: 0,
                preempt: true
            }
        );
    }

    #[test]
    fn place_breaks_ties_towards_the_preferred_cpu() {
        let s = Shared::new();
        assert_eq!(s.place(100, 4, |_| true, 2).cpu, 2);
        s.cpu(0).set_running(128);
        s.cpu(1).set_running(128);
        assert_eq!(
            s.place(128, 2, |_| true, 1),
            Placement {
                cpu: 1,
                preempt: false
            }
        );
    }

    #[test]
    fn pull_source_finds_a_better_queued_task_elsewhere() {
        let s = Shared::new();
        s.cpu(0).set_queued(100);
        s.cpu(1).set_queued(20);
        s.cpu(2).set_queued(30);
        assert_eq!(s.pull_source(0, 3, 100), Some(1));
        assert_eq!(s.pull_source(1, 3, 20), None, "nothing better than its own");
        assert_eq!(s.pull_source(0, 3, 10), None);
    }

    #[test]
    fn budget_charges_throttles_and_replenishes_at_the_boundary() {
        let s = Shared::new();
        assert!(!s.set_budget(MAX_GROUPS, MS, 10 * MS));
        assert!(!s.set_budget(0, MS, 0));
        assert!(s.set_budget(1, 3 * MS, 10 * MS));
        let b = s.group(1);
        assert_eq!(b.left(0), Some(3 * MS));
        b.charge(2 * MS, 2 * MS);
        assert_eq!(b.left(2 * MS), Some(MS));
        b.charge(4 * MS, 2 * MS);
        assert!(b.is_throttled(4 * MS));
        assert_eq!(b.period_end(4 * MS), 10 * MS);
        // A run that spans the boundary is charged only from the boundary on.
        b.charge(11 * MS, 5 * MS);
        assert_eq!(b.left(11 * MS), Some(2 * MS));
        assert!(!b.is_throttled(11 * MS));
        assert_eq!(s.group(0).left(0), None, "no budget");
    }
}
