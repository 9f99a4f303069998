//! The ready tasks of the whole system, for global fixed-priority scheduling with affinity.
//!
//! Tasks are kept in one [`ReadyQueue`] per *affinity class* (distinct CPU set in use) and per
//! *tier* (0: normal, 1: background — tasks of a throttled `background` group, which may only
//! use a CPU that would otherwise idle). Picking for a CPU looks at the head of each class that
//! contains the CPU: O(classes), independent of the number of tasks. Ties between classes go to
//! the task queued first (a sequence number per task).
//!
//! A second, single-level queue keeps every queued task in the order it started waiting, so the
//! starvation reserve finds the longest waiter in O(1).

use alloc::vec::Vec;

use crate::queue::ReadyQueue;
use crate::types::{CpuId, CpuSet, Prio, TaskId, Time};

/// A tier and a priority in one comparable number: `tier << 8 | prio`; smaller is better.
pub type Rank = u16;

/// The rank of a task of tier `tier` (0 or 1) at priority `prio`.
#[inline]
pub const fn rank(tier: u8, prio: Prio) -> Rank {
    ((tier as u16) << 8) | prio as u16
}

const NO_CLASS: u16 = u16::MAX;

#[derive(Clone, Debug)]
struct Class {
    cpus: CpuSet,
    tiers: [ReadyQueue; 2],
}

/// Where a queued task is.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    class: u16,
    tier: u8,
    seq: u64,
    since: Time,
}

/// All queued tasks, by affinity class and tier.
#[derive(Clone, Debug, Default)]
pub struct RunQueues {
    classes: Vec<Class>,
    slots: Vec<Slot>,
    waiting: ReadyQueue,
    next_seq: u64,
}

impl RunQueues {
    /// Empty queues.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows per-task storage for ids `0..n`.
    pub fn reserve_ids(&mut self, n: usize) {
        if n > self.slots.len() {
            self.slots.resize(
                n,
                Slot {
                    class: NO_CLASS,
                    ..Slot::default()
                },
            );
            self.waiting.reserve_ids(n);
            for c in &mut self.classes {
                c.tiers.iter_mut().for_each(|q| q.reserve_ids(n));
            }
        }
    }

    /// Number of queued tasks.
    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Whether `t` is queued.
    pub fn contains(&self, t: TaskId) -> bool {
        self.waiting.contains(t)
    }

    /// When `t` started waiting, if queued.
    pub fn since(&self, t: TaskId) -> Option<Time> {
        self.contains(t).then(|| self.slots[t.index()].since)
    }

    /// Number of affinity classes created so far.
    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    fn class_for(&mut self, cpus: CpuSet) -> u16 {
        if let Some(i) = self.classes.iter().position(|c| c.cpus == cpus) {
            return i as u16;
        }
        let n = self.slots.len();
        let mut tiers = [ReadyQueue::new(), ReadyQueue::new()];
        tiers.iter_mut().for_each(|q| q.reserve_ids(n));
        self.classes.push(Class { cpus, tiers });
        (self.classes.len() - 1) as u16
    }

    /// Queues `t`, which starts waiting at `now`: behind its level, or ahead of it if `front`
    /// (a preempted task keeps its turn).
    pub fn insert(
        &mut self,
        t: TaskId,
        cpus: CpuSet,
        prio: Prio,
        tier: u8,
        front: bool,
        now: Time,
    ) {
        self.reserve_ids(t.index() + 1);
        self.waiting.push_back(t, 0);
        self.slots[t.index()].since = now;
        self.place(t, cpus, prio, tier, !front);
    }

    /// Moves an already queued `t` to a new class, priority or tier, behind its new level;
    /// its waiting time is kept. No effect if `t` is not queued.
    pub fn requeue(&mut self, t: TaskId, cpus: CpuSet, prio: Prio, tier: u8) {
        if self.contains(t) {
            self.unplace(t);
            self.place(t, cpus, prio, tier, true);
        }
    }

    fn place(&mut self, t: TaskId, cpus: CpuSet, prio: Prio, tier: u8, back: bool) {
        let class = self.class_for(cpus);
        let slot = &mut self.slots[t.index()];
        slot.class = class;
        slot.tier = tier;
        let q = &mut self.classes[class as usize].tiers[tier as usize];
        if back {
            slot.seq = self.next_seq;
            self.next_seq += 1;
            q.push_back(t, prio);
        } else {
            q.push_front(t, prio);
        }
    }

    fn unplace(&mut self, t: TaskId) {
        let s = self.slots[t.index()];
        self.classes[s.class as usize].tiers[s.tier as usize].remove(t);
        self.slots[t.index()].class = NO_CLASS;
    }

    /// Removes `t`; returns whether it was queued.
    pub fn remove(&mut self, t: TaskId) -> bool {
        if !self.waiting.remove(t) {
            return false;
        }
        self.unplace(t);
        true
    }

    /// The best queued task allowed on `cpu`, with its rank: the best level of tier 0, oldest
    /// first; tier 1 only if tier 0 has nothing for `cpu`.
    pub fn best_for(&self, cpu: CpuId) -> Option<(TaskId, Rank)> {
        for tier in 0..2u8 {
            let mut best: Option<(Prio, u64, TaskId)> = None;
            for c in self.classes.iter().filter(|c| c.cpus.contains(cpu)) {
                if let Some((t, p)) = c.tiers[tier as usize].peek_first() {
                    let key = (p, self.slots[t.index()].seq, t);
                    if best.is_none_or(|b| (key.0, key.1) < (b.0, b.1)) {
                        best = Some(key);
                    }
                }
            }
            if let Some((p, _, t)) = best {
                return Some((t, rank(tier, p)));
            }
        }
        None
    }

    /// The task that has waited longest, with the time it started waiting.
    pub fn oldest(&self) -> Option<(TaskId, Time)> {
        let (t, _) = self.waiting.peek_first()?;
        Some((t, self.slots[t.index()].since))
    }

    /// The task that started waiting right after `t`.
    pub fn next_oldest(&self, t: TaskId) -> Option<(TaskId, Time)> {
        let n = self.waiting.next_at_level(t)?;
        Some((n, self.slots[n.index()].since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_for_respects_affinity_tiers_and_age() {
        let mut q = RunQueues::new();
        let all = CpuSet::all(2);
        let c1 = CpuSet::single(1);
        q.insert(TaskId(0), all, 10, 0, false, 0);
        q.insert(TaskId(1), c1, 10, 0, false, 1);
        q.insert(TaskId(2), c1, 5, 1, false, 2);
        // Same level in two classes: the older one first.
        assert_eq!(q.best_for(1), Some((TaskId(0), rank(0, 10))));
        assert_eq!(q.best_for(0), Some((TaskId(0), rank(0, 10))));
        q.remove(TaskId(0));
        assert_eq!(q.best_for(1), Some((TaskId(1), rank(0, 10))));
        // Nothing normal for CPU 0 and the background task is not allowed there.
        assert_eq!(q.best_for(0), None);
        q.remove(TaskId(1));
        assert_eq!(q.best_for(1), Some((TaskId(2), rank(1, 5))));
        assert_eq!(q.oldest(), Some((TaskId(2), 2)));
    }

    #[test]
    fn requeue_keeps_waiting_order_and_front_keeps_turn() {
        let mut q = RunQueues::new();
        let all = CpuSet::all(1);
        q.insert(TaskId(0), all, 10, 0, false, 0);
        q.insert(TaskId(1), all, 10, 0, false, 5);
        q.insert(TaskId(2), all, 10, 0, true, 7);
        assert_eq!(q.best_for(0).unwrap().0, TaskId(2));
        q.requeue(TaskId(1), all, 3, 0);
        assert_eq!(q.best_for(0).unwrap().0, TaskId(1));
        assert_eq!(q.oldest(), Some((TaskId(0), 0)));
        assert_eq!(q.next_oldest(TaskId(0)), Some((TaskId(1), 5)));
        assert_eq!(q.since(TaskId(1)), Some(5));
        assert_eq!(q.len(), 3);
        assert!(q.remove(TaskId(1)));
        assert!(!q.remove(TaskId(1)));
        assert_eq!(q.len(), 2);
    }
}
