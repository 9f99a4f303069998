//! `KeyedHeap`: an indexed binary min-heap of task ids ordered by a `u64` key, ties broken by
//! insertion order. The ordered queue behind the fair policy (key: virtual runtime) and EDF (key:
//! absolute deadline), and through them the joint policy.
//!
//! Every task id has a slot in a position table, so `remove` of any queued task is O(log n)
//! without a search. Once [`KeyedHeap::reserve_ids`] has covered an id, pushing it never
//! allocates: the heap never holds more entries than there are ids.

use alloc::vec::Vec;

use crate::types::TaskId;

/// Position-table marker for "not in the heap".
const ABSENT: u32 = u32::MAX;

/// One heap entry.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: u64,
    /// Insertion sequence number: among equal keys, the earlier push comes first.
    seq: u64,
    id: TaskId,
}

impl Entry {
    fn before(&self, other: &Entry) -> bool {
        (self.key, self.seq) < (other.key, other.seq)
    }
}

/// Indexed min-heap of [`TaskId`]s keyed by `u64` (FIFO among equal keys).
#[derive(Clone, Debug, Default)]
pub struct KeyedHeap {
    heap: Vec<Entry>,
    /// `pos[id]` = index of `id` in `heap`, or [`ABSENT`].
    pos: Vec<u32>,
    next_seq: u64,
}

impl KeyedHeap {
    /// An empty heap with no ids reserved.
    pub const fn new() -> Self {
        Self {
            heap: Vec::new(),
            pos: Vec::new(),
            next_seq: 0,
        }
    }

    /// Makes room for ids below `ids` so that pushing them never allocates.
    pub fn reserve_ids(&mut self, ids: usize) {
        if ids > self.pos.len() {
            self.pos.resize(ids, ABSENT);
            self.heap.reserve(ids - self.heap.len());
        }
    }

    /// Number of queued ids.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// `true` if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// `true` if `id` is queued.
    pub fn contains(&self, id: TaskId) -> bool {
        self.slot(id).is_some()
    }

    /// Key of a queued `id`.
    pub fn key_of(&self, id: TaskId) -> Option<u64> {
        self.slot(id).map(|i| self.heap[i].key)
    }

    /// Smallest queued key and its id, without removing it.
    pub fn peek(&self) -> Option<(TaskId, u64)> {
        self.heap.first().map(|e| (e.id, e.key))
    }

    /// Queues `id` with `key` behind every queued entry with the same key. `id` must not be
    /// queued already (debug-checked; otherwise its key is replaced).
    pub fn push(&mut self, id: TaskId, key: u64) {
        debug_assert!(!self.contains(id), "{id:?} pushed twice");
        self.remove(id);
        self.reserve_ids(id.0 as usize + 1);
        let seq = self.next_seq;
        self.next_seq += 1;
        let i = self.heap.len();
        self.heap.push(Entry { key, seq, id });
        self.pos[id.0 as usize] = i as u32;
        self.sift_up(i);
    }

    /// Removes and returns the entry with the smallest key.
    pub fn pop(&mut self) -> Option<(TaskId, u64)> {
        let top = *self.heap.first()?;
        self.take_at(0);
        Some((top.id, top.key))
    }

    /// Removes `id` if queued and returns its key.
    pub fn remove(&mut self, id: TaskId) -> Option<u64> {
        let i = self.slot(id)?;
        let key = self.heap[i].key;
        self.take_at(i);
        Some(key)
    }

    fn slot(&self, id: TaskId) -> Option<usize> {
        match self.pos.get(id.0 as usize) {
            Some(&p) if p != ABSENT => Some(p as usize),
            _ => None,
        }
    }

    /// Removes the entry at heap index `i` and restores the heap order.
    fn take_at(&mut self, i: usize) {
        let removed = self.heap.swap_remove(i);
        self.pos[removed.id.0 as usize] = ABSENT;
        if i < self.heap.len() {
            self.pos[self.heap[i].id.0 as usize] = i as u32;
            // The entry moved into `i` came from the bottom: it may belong above or below.
            let i = self.sift_up(i);
            self.sift_down(i);
        }
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a].id.0 as usize] = a as u32;
        self.pos[self.heap[b].id.0 as usize] = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) -> usize {
        while i > 0 {
            let parent = (i - 1) / 2;
            if !self.heap[i].before(&self.heap[parent]) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
        i
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && self.heap[right].before(&self.heap[left]) {
                right
            } else {
                left
            };
            if !self.heap[child].before(&self.heap[i]) {
                break;
            }
            self.swap(i, child);
            i = child;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn pops_in_key_order_fifo_among_ties() {
        let mut h = KeyedHeap::new();
        let keys = [50u64, 10, 30, 10, 70, 30, 10];
        for (i, &k) in keys.iter().enumerate() {
            h.push(TaskId(i as u32), k);
        }
        let mut out = vec![];
        while let Some((id, k)) = h.pop() {
            out.push((id.0, k));
        }
        assert_eq!(
            out,
            vec![
                (1, 10),
                (3, 10),
                (6, 10),
                (2, 30),
                (5, 30),
                (0, 50),
                (4, 70)
            ]
        );
    }

    #[test]
    fn remove_from_the_middle_keeps_order() {
        let mut h = KeyedHeap::new();
        for i in 0..100u32 {
            // Keys in a scrambled order.
            h.push(TaskId(i), u64::from((i * 37) % 101));
        }
        for i in (0..100u32).step_by(3) {
            assert_eq!(h.remove(TaskId(i)), Some(u64::from((i * 37) % 101)));
            assert!(!h.contains(TaskId(i)));
        }
        assert_eq!(h.remove(TaskId(0)), None);
        let mut last = 0;
        let mut n = 0;
        while let Some((id, k)) = h.pop() {
            assert!(k >= last);
            assert_ne!(id.0 % 3, 0);
            last = k;
            n += 1;
        }
        assert_eq!(n, 66);
    }

    #[test]
    fn no_allocation_growth_after_reserve() {
        let mut h = KeyedHeap::new();
        h.reserve_ids(64);
        let cap = h.heap.capacity();
        for round in 0..10u64 {
            for i in 0..64u32 {
                h.push(TaskId(i), round * 1000 + u64::from(i));
            }
            while h.pop().is_some() {}
        }
        assert_eq!(h.heap.capacity(), cap);
    }
}
