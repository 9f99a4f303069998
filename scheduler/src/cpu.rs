//! Per-CPU state and the choice of a CPU for a task that became ready (POLICY "Choosing what
//! runs" 4): an idle allowed CPU (its previous CPU first), else the allowed CPU running the task
//! of the worst rank, if that is worse than the newcomer's. CPUs running a starvation-reserve
//! grant are not preempted.

use crate::runq::Rank;
use crate::types::{CpuId, CpuSet, TaskId, Time};

/// The state of one CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    /// The task it runs.
    pub current: Option<TaskId>,
    /// When the current slice ends.
    pub slice_end: Time,
    /// Whether the current slice is a starvation-reserve grant (not preemptible).
    pub reserve: bool,
    /// Up to when the current task's runtime has been charged.
    pub charged_to: Time,
}

/// Where to put a ready task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On this idle CPU.
    Idle(CpuId),
    /// On this CPU, preempting what it runs.
    Preempt(CpuId),
}

/// Chooses a CPU for a task of rank `rank` allowed on `allowed`, that last ran on `prev`.
/// `running_rank(c)` is the rank of the task on busy CPU `c`.
pub fn choose(
    cpus: &[Cpu],
    idle: &CpuSet,
    allowed: &CpuSet,
    prev: Option<CpuId>,
    rank: Rank,
    running_rank: impl Fn(CpuId) -> Rank,
) -> Option<Placement> {
    let idle_allowed = idle.intersection(allowed);
    if let Some(p) = prev.filter(|&p| idle_allowed.contains(p)) {
        return Some(Placement::Idle(p));
    }
    if let Some(c) = idle_allowed.first() {
        return Some(Placement::Idle(c));
    }
    match victim(cpus, allowed, prev, running_rank) {
        Some((c, w)) if w > rank => Some(Placement::Preempt(c)),
        _ => None,
    }
}

/// The busy, non-reserve CPU of `allowed` running the task of the worst rank (ties: `prev`,
/// else the lowest CPU), with that rank.
pub fn victim(
    cpus: &[Cpu],
    allowed: &CpuSet,
    prev: Option<CpuId>,
    running_rank: impl Fn(CpuId) -> Rank,
) -> Option<(CpuId, Rank)> {
    let mut worst: Option<(CpuId, Rank)> = None;
    for c in allowed.iter().filter(|&c| c < cpus.len()) {
        if cpus[c].reserve || cpus[c].current.is_none() {
            continue;
        }
        let r = running_rank(c);
        let take = match worst {
            None => true,
            Some((wc, w)) => r > w || (r == w && prev == Some(c) && prev != Some(wc)),
        };
        if take {
            worst = Some((c, r));
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(n: usize) -> alloc::vec::Vec<Cpu> {
        (0..n)
            .map(|i| Cpu {
                current: Some(TaskId(i as u32)),
                ..Cpu::default()
            })
            .collect()
    }

    #[test]
    fn prefers_previous_idle_cpu() {
        let cpus = [Cpu::default(); 4];
        let idle = CpuSet::all(4);
        let r = |_| 0;
        assert_eq!(
            choose(&cpus, &idle, &idle, Some(2), 5, r),
            Some(Placement::Idle(2))
        );
        assert_eq!(
            choose(&cpus, &idle, &idle, None, 5, r),
            Some(Placement::Idle(0))
        );
        let only3 = CpuSet::single(3);
        assert_eq!(
            choose(&cpus, &idle, &only3, Some(2), 5, r),
            Some(Placement::Idle(3))
        );
    }

    #[test]
    fn preempts_worst_allowed_only_if_worse() {
        let cpus = busy(3);
        let ranks = [50u16, 200, 100];
        let r = |c: CpuId| ranks[c];
        let all = CpuSet::all(3);
        let none = CpuSet::empty();
        assert_eq!(
            choose(&cpus, &none, &all, None, 10, r),
            Some(Placement::Preempt(1))
        );
        let not1: CpuSet = [0, 2].into_iter().collect();
        assert_eq!(
            choose(&cpus, &none, &not1, None, 10, r),
            Some(Placement::Preempt(2))
        );
        // Equal rank does not preempt.
        assert_eq!(choose(&cpus, &none, &not1, None, 100, r), None);
        assert_eq!(choose(&cpus, &none, &all, None, 250, r), None);
    }

    #[test]
    fn reserve_cpus_are_not_victims() {
        let mut cpus = busy(2);
        cpus[1].reserve = true;
        let ranks = [50u16, 200];
        let all = CpuSet::all(2);
        let none = CpuSet::empty();
        assert_eq!(
            choose(&cpus, &none, &all, None, 10, |c| ranks[c]),
            Some(Placement::Preempt(0))
        );
    }
}
