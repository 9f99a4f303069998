//! Bookkeeping every policy of this module needs, written once: the per-task state table
//! ([`TaskTable`], indexed by [`TaskId`], grown on demand) and the run in progress
//! ([`Running`], with the life-cycle check of [`Policy`](crate::policy::Policy)).

use alloc::vec::Vec;
use core::ops::Index;

use crate::types::{TaskId, Time};

/// Per-task state of a policy: one `T` per task id, a fresh value for ids never seen (or
/// forgotten). Growing is the only allocation, and [`TaskTable::reserve`] does it up front.
#[derive(Clone, Debug)]
pub(crate) struct TaskTable<T> {
    entries: Vec<T>,
    fresh: T,
}

impl<T: Copy> TaskTable<T> {
    /// An empty table whose new entries start as `fresh`.
    pub(crate) const fn new(fresh: T) -> Self {
        Self {
            entries: Vec::new(),
            fresh,
        }
    }

    /// Grows the table to cover ids below `ids` (never shrinks).
    pub(crate) fn reserve(&mut self, ids: usize) {
        if ids > self.entries.len() {
            self.entries.resize(ids, self.fresh);
        }
    }

    /// The entry of `id`, if the table covers it.
    #[inline]
    pub(crate) fn get(&self, id: TaskId) -> Option<&T> {
        self.entries.get(id.index())
    }

    /// The entry of `id` for writing, if the table covers it.
    #[inline]
    pub(crate) fn get_mut(&mut self, id: TaskId) -> Option<&mut T> {
        self.entries.get_mut(id.index())
    }

    /// The entry of `id`, growing the table to cover it first if needed.
    #[inline]
    pub(crate) fn entry(&mut self, id: TaskId) -> &mut T {
        if id.index() >= self.entries.len() {
            self.grow_for(id);
        }
        &mut self.entries[id.index()]
    }

    /// Sets `id`'s entry back to the fresh value and returns what it was (`None` if the table
    /// does not cover `id`).
    pub(crate) fn reset(&mut self, id: TaskId) -> Option<T> {
        let fresh = self.fresh;
        self.get_mut(id).map(|e| core::mem::replace(e, fresh))
    }

    #[cold]
    #[inline(never)]
    fn grow_for(&mut self, id: TaskId) {
        self.reserve(id.index() + 1);
    }
}

impl<T> Index<TaskId> for TaskTable<T> {
    type Output = T;

    /// The entry of a task the table covers (panics otherwise: a caller bug).
    #[inline]
    fn index(&self, id: TaskId) -> &T {
        &self.entries[id.index()]
    }
}

/// The task a policy's CPU is running and when it was picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Running {
    /// The current task.
    pub(crate) task: TaskId,
    /// When it was picked.
    pub(crate) since: Time,
}

impl Running {
    /// Ends the run of `task`, which must be the one in `current` (debug-checked), and clears
    /// `current`.
    #[inline]
    pub(crate) fn end(current: &mut Option<Running>, task: TaskId) {
        debug_assert_eq!(current.map(|c| c.task), Some(task), "not the current task");
        *current = None;
    }

    /// The run in `current` if it is `task`'s.
    #[inline]
    pub(crate) fn of(current: Option<Running>, task: TaskId) -> Option<Running> {
        current.filter(|c| c.task == task)
    }
}
