//! The wait-for graph and deadlock detection.
//!
//! Edges: a task waits on at most one resource; a resource has at most one owner. A deadlock is
//! a cycle `w → r0 → o1 → r1 → … → w`. [`WaitGraph::find_cycle`] follows the owner chain from
//! the waiter: O(chain length), and it never loops — a visit stamp per task stops the walk when
//! it enters a cycle that does not pass through the waiter (one reported earlier).

use alloc::vec::Vec;

use crate::types::{ResourceId, TaskId};

const NIL: u32 = u32::MAX;

/// A wait-for cycle: `tasks[i]` waits on `resources[i]`, which `tasks[(i + 1) % n]` owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle {
    /// The tasks of the cycle, starting with the waiter that closed it.
    pub tasks: Vec<TaskId>,
    /// The resources, `resources[i]` being the one `tasks[i]` waits on.
    pub resources: Vec<ResourceId>,
}

/// Who waits on what, and who owns what.
#[derive(Clone, Debug, Default)]
pub struct WaitGraph {
    waiting_on: Vec<u32>,
    stamp: Vec<u32>,
    owned: Vec<Vec<ResourceId>>,
    owner: Vec<u32>,
    waiters: Vec<Vec<TaskId>>,
    epoch: u32,
}

impl WaitGraph {
    /// An empty graph.
    pub fn new() -> Self {
        Self::default()
    }

    /// Grows storage for tasks `0..n`.
    pub fn reserve_tasks(&mut self, n: usize) {
        if n > self.waiting_on.len() {
            self.waiting_on.resize(n, NIL);
            self.stamp.resize(n, 0);
            self.owned.resize_with(n, Vec::new);
        }
    }

    /// Grows storage for resources `0..n`.
    pub fn reserve_resources(&mut self, n: usize) {
        if n > self.owner.len() {
            self.owner.resize(n, NIL);
            self.waiters.resize_with(n, Vec::new);
        }
    }

    /// The resource `t` waits on.
    pub fn waiting_on(&self, t: TaskId) -> Option<ResourceId> {
        match self.waiting_on.get(t.index()) {
            Some(&r) if r != NIL => Some(ResourceId(r)),
            _ => None,
        }
    }

    /// The owner of `r`.
    pub fn owner(&self, r: ResourceId) -> Option<TaskId> {
        match self.owner.get(r.index()) {
            Some(&o) if o != NIL => Some(TaskId(o)),
            _ => None,
        }
    }

    /// The owner of the resource `t` waits on: the next task of `t`'s chain.
    pub fn blocker(&self, t: TaskId) -> Option<TaskId> {
        self.owner(self.waiting_on(t)?)
    }

    /// The tasks waiting on `r`.
    pub fn waiters(&self, r: ResourceId) -> &[TaskId] {
        self.waiters.get(r.index()).map_or(&[], |v| v.as_slice())
    }

    /// The resources `t` owns.
    pub fn owned(&self, t: TaskId) -> &[ResourceId] {
        self.owned.get(t.index()).map_or(&[], |v| v.as_slice())
    }

    /// Records that `t` waits on `r` (replacing any earlier wait of `t`).
    pub fn add_wait(&mut self, t: TaskId, r: ResourceId) {
        self.clear_wait(t);
        self.reserve_tasks(t.index() + 1);
        self.reserve_resources(r.index() + 1);
        self.waiting_on[t.index()] = r.0;
        self.waiters[r.index()].push(t);
    }

    /// Records that `t` no longer waits; returns the resource it waited on.
    pub fn clear_wait(&mut self, t: TaskId) -> Option<ResourceId> {
        let r = self.waiting_on(t)?;
        self.waiting_on[t.index()] = NIL;
        let w = &mut self.waiters[r.index()];
        if let Some(i) = w.iter().position(|&x| x == t) {
            w.swap_remove(i);
        }
        Some(r)
    }

    /// Sets the owner of `r` (`None`: free); returns the previous owner.
    pub fn set_owner(&mut self, r: ResourceId, owner: Option<TaskId>) -> Option<TaskId> {
        self.reserve_resources(r.index() + 1);
        let prev = self.owner(r);
        if prev == owner {
            return prev;
        }
        if let Some(p) = prev {
            let o = &mut self.owned[p.index()];
            if let Some(i) = o.iter().position(|&x| x == r) {
                o.swap_remove(i);
            }
        }
        match owner {
            Some(o) => {
                self.reserve_tasks(o.index() + 1);
                self.owner[r.index()] = o.0;
                self.owned[o.index()].push(r);
            }
            None => self.owner[r.index()] = NIL,
        }
        prev
    }

    /// Removes `t` from the graph: it stops waiting and its resources become free. Returns the
    /// resource it waited on.
    pub fn remove_task(&mut self, t: TaskId) -> Option<ResourceId> {
        let waited = self.clear_wait(t);
        while let Some(&r) = self.owned(t).last() {
            self.set_owner(r, None);
        }
        waited
    }

    /// The cycle through `w`, if following owners from what `w` waits on leads back to `w`.
    pub fn find_cycle(&mut self, w: TaskId) -> Option<Cycle> {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.epoch = 1;
        }
        let epoch = self.epoch;
        let mut t = w;
        let mut len = 0usize;
        loop {
            let o = self.blocker(t)?;
            len += 1;
            if o == w {
                break;
            }
            if self.stamp[o.index()] == epoch {
                return None; // A cycle that does not contain `w`.
            }
            self.stamp[o.index()] = epoch;
            t = o;
        }
        let mut tasks = Vec::with_capacity(len);
        let mut resources = Vec::with_capacity(len);
        let mut t = w;
        for _ in 0..len {
            let r = self.waiting_on(t).expect("walked above");
            tasks.push(t);
            resources.push(r);
            t = self.owner(r).expect("walked above");
        }
        Some(Cycle { tasks, resources })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(i: u32) -> TaskId {
        TaskId(i)
    }
    fn r(i: u32) -> ResourceId {
        ResourceId(i)
    }

    #[test]
    fn chain_without_cycle() {
        let mut g = WaitGraph::new();
        g.set_owner(r(0), Some(t(1)));
        g.set_owner(r(1), Some(t(2)));
        g.add_wait(t(0), r(0));
        g.add_wait(t(1), r(1));
        assert_eq!(g.find_cycle(t(0)), None);
        assert_eq!(g.blocker(t(0)), Some(t(1)));
        assert_eq!(g.waiters(r(0)), &[t(0)]);
    }

    #[test]
    fn three_cycle_reported_in_order() {
        let mut g = WaitGraph::new();
        g.set_owner(r(10), Some(t(1)));
        g.set_owner(r(11), Some(t(2)));
        g.set_owner(r(12), Some(t(0)));
        g.add_wait(t(1), r(11));
        g.add_wait(t(2), r(12));
        g.add_wait(t(0), r(10));
        let c = g.find_cycle(t(0)).unwrap();
        assert_eq!(c.tasks, [t(0), t(1), t(2)]);
        assert_eq!(c.resources, [r(10), r(11), r(12)]);
    }

    #[test]
    fn self_deadlock() {
        let mut g = WaitGraph::new();
        g.set_owner(r(0), Some(t(5)));
        g.add_wait(t(5), r(0));
        let c = g.find_cycle(t(5)).unwrap();
        assert_eq!((c.tasks.len(), c.resources.len()), (1, 1));
    }

    #[test]
    fn existing_cycle_not_through_waiter_terminates() {
        let mut g = WaitGraph::new();
        g.set_owner(r(1), Some(t(1)));
        g.set_owner(r(2), Some(t(2)));
        g.add_wait(t(1), r(2));
        g.add_wait(t(2), r(1));
        g.add_wait(t(0), r(1));
        assert_eq!(g.find_cycle(t(0)), None);
        assert!(g.find_cycle(t(1)).is_some());
    }

    #[test]
    fn remove_task_frees_resources_and_wait() {
        let mut g = WaitGraph::new();
        g.set_owner(r(0), Some(t(1)));
        g.set_owner(r(1), Some(t(1)));
        g.set_owner(r(2), Some(t(2)));
        g.add_wait(t(1), r(2));
        g.add_wait(t(0), r(0));
        assert_eq!(g.remove_task(t(1)), Some(r(2)));
        assert_eq!(g.owner(r(0)), None);
        assert_eq!(g.owner(r(1)), None);
        assert!(g.owned(t(1)).is_empty());
        assert!(g.waiters(r(2)).is_empty());
        assert_eq!(g.waiting_on(t(0)), Some(r(0)));
    }
}
