//! The 256-level ready queue.
//!
//! * Which levels are non-empty is kept in a two-level bitmap: four 64-bit words (one bit per
//!   level) and a summary word (one bit per non-empty word). The best (lowest-numbered) level is
//!   found with two `trailing_zeros`, never by scanning, and cached: it only needs finding again
//!   when the best level empties, so a pick is one load more than a plain FIFO's.
//! * Each level is a FIFO: an intrusive doubly-linked list whose links live in a `Vec` indexed by
//!   [`TaskId`]. Removing any task is O(1).
//! * The hot path (`pop_first`, `push_back`, `push_front`) is inlined into its caller, and a push
//!   touches the bitmap only when the level was empty; pushing a task that is already queued
//!   (a move) takes an out-of-line path. A pick+put cycle through `RtPolicy`, this queue
//!   included, is 58 instructions on x86-64 (callgrind), whatever the number of queued tasks.
//! * Once link storage covers every id in use ([`ReadyQueue::reserve_ids`]), `push_*`, `pop_first`
//!   and `remove` never allocate.

use alloc::vec::Vec;

use crate::types::{Prio, TaskId};

/// Number of priority levels.
pub const LEVELS: usize = 256;
const WORDS: usize = LEVELS / 64;
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Link {
    prev: u32,
    next: u32,
    prio: Prio,
    queued: bool,
}

const UNLINKED: Link = Link {
    prev: NIL,
    next: NIL,
    prio: 0,
    queued: false,
};

#[derive(Clone, Copy, Debug)]
struct Level {
    head: u32,
    tail: u32,
}

const EMPTY_LEVEL: Level = Level {
    head: NIL,
    tail: NIL,
};

/// A set of ready tasks ordered by priority (0 first), FIFO within a priority.
#[derive(Clone, Debug)]
pub struct ReadyQueue {
    /// The best non-empty level, or `LEVELS` when the queue is empty.
    best: usize,
    summary: u64,
    words: [u64; WORDS],
    levels: [Level; LEVELS],
    links: Vec<Link>,
    len: usize,
}

impl Default for ReadyQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadyQueue {
    /// An empty queue with no link storage.
    pub fn new() -> Self {
        ReadyQueue {
            best: LEVELS,
            summary: 0,
            words: [0; WORDS],
            levels: [EMPTY_LEVEL; LEVELS],
            links: Vec::new(),
            len: 0,
        }
    }

    /// An empty queue with link storage for ids `0..n`.
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        q.reserve_ids(n);
        q
    }

    /// Grows link storage to cover ids `0..n` (never shrinks). The only allocating call, besides
    /// pushing an id beyond the current storage.
    pub fn reserve_ids(&mut self, n: usize) {
        if n > self.links.len() {
            self.links.resize(n, UNLINKED);
        }
    }

    /// Number of queued tasks.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no task is queued.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `id` is queued.
    #[inline]
    pub fn contains(&self, id: TaskId) -> bool {
        self.links.get(id.index()).is_some_and(|l| l.queued)
    }

    /// The level `id` is queued at, if queued.
    #[inline]
    pub fn prio_of(&self, id: TaskId) -> Option<Prio> {
        self.links
            .get(id.index())
            .filter(|l| l.queued)
            .map(|l| l.prio)
    }

    /// The best non-empty level.
    #[inline]
    pub fn highest_prio(&self) -> Option<Prio> {
        (self.best < LEVELS).then_some(self.best as Prio)
    }

    /// The task `pop_first` would return, without removing it.
    #[inline]
    pub fn peek_first(&self) -> Option<(TaskId, Prio)> {
        let p = self.highest_prio()?;
        Some((TaskId(self.levels[p as usize].head), p))
    }

    /// The oldest task at level `prio`.
    #[inline]
    pub fn first_at(&self, prio: Prio) -> Option<TaskId> {
        let h = self.levels[prio as usize].head;
        (h != NIL).then_some(TaskId(h))
    }

    /// The task queued right after `id` at the same level.
    #[inline]
    pub fn next_at_level(&self, id: TaskId) -> Option<TaskId> {
        let l = self.links.get(id.index()).filter(|l| l.queued)?;
        (l.next != NIL).then_some(TaskId(l.next))
    }

    /// Removes and returns the oldest task of the best level.
    #[inline(always)]
    pub fn pop_first(&mut self) -> Option<(TaskId, Prio)> {
        let p = self.best;
        if p >= LEVELS {
            return None;
        }
        // The head of the best level leaves: only its successor and the level change, so this
        // is cheaper than the general unlink.
        let head = self.levels[p].head;
        let links = &mut self.links[..];
        let h = &mut links[head as usize];
        // An unqueued link's prev/next are never read; push_* rewrite the whole link.
        h.queued = false;
        let next = h.next;
        self.levels[p].head = next;
        if next == NIL {
            self.levels[p].tail = NIL;
            self.level_emptied(p);
        } else {
            links[next as usize].prev = NIL;
        }
        self.len -= 1;
        Some((TaskId(head), p as Prio))
    }

    /// Queues `id` at level `prio` behind the tasks already there. A task already queued is
    /// moved (it is removed first).
    #[inline(always)]
    pub fn push_back(&mut self, id: TaskId, prio: Prio) {
        self.push(id, prio, false);
    }

    /// Queues `id` at level `prio` ahead of the tasks already there (a preempted task keeps its
    /// turn). A task already queued is moved.
    #[inline(always)]
    pub fn push_front(&mut self, id: TaskId, prio: Prio) {
        self.push(id, prio, true);
    }

    /// Removes `id`; returns whether it was queued.
    #[inline]
    pub fn remove(&mut self, id: TaskId) -> bool {
        if !self.contains(id) {
            return false;
        }
        self.unlink(id);
        true
    }

    /// Removes every task (keeps link storage).
    pub fn clear(&mut self) {
        while self.pop_first().is_some() {}
    }

    /// Iterates queued tasks best level first, oldest first within a level.
    pub fn iter(&self) -> impl Iterator<Item = (TaskId, Prio)> + '_ {
        let mut summary = self.summary;
        let mut words = self.words;
        let mut cur = NIL;
        core::iter::from_fn(move || loop {
            if cur != NIL {
                let l = self.links[cur as usize];
                let out = (TaskId(cur), l.prio);
                cur = l.next;
                return Some(out);
            }
            if summary == 0 {
                return None;
            }
            let w = summary.trailing_zeros() as usize;
            let bit = words[w].trailing_zeros() as usize;
            words[w] &= words[w] - 1;
            if words[w] == 0 {
                summary &= !(1u64 << w);
            }
            cur = self.levels[w * 64 + bit].head;
        })
    }

    /// Links `id` at the front or the back of level `prio`. Inlined with a constant `front`, so
    /// each of `push_front` and `push_back` compiles to its own straight-line path.
    #[inline(always)]
    fn push(&mut self, id: TaskId, prio: Prio, front: bool) {
        self.prepare(id);
        let p = prio as usize;
        let lvl = &mut self.levels[p];
        let (end, other_end) = if front {
            (&mut lvl.head, &mut lvl.tail)
        } else {
            (&mut lvl.tail, &mut lvl.head)
        };
        // The task it goes next to (at the end it joins), if the level was not empty.
        let old = core::mem::replace(end, id.0);
        let (prev, next) = if front { (NIL, old) } else { (old, NIL) };
        let links = &mut self.links[..];
        links[id.index()] = Link {
            prev,
            next,
            prio,
            queued: true,
        };
        if old == NIL {
            // The level was empty: it is now non-empty, and maybe the best.
            *other_end = id.0;
            self.mark(p);
        } else if front {
            links[old as usize].prev = id.0;
        } else {
            links[old as usize].next = id.0;
        }
    }

    /// Makes `id` ready to be linked at a level: link storage covers it and it is not queued.
    #[inline(always)]
    fn prepare(&mut self, id: TaskId) {
        match self.links.get(id.index()) {
            None => self.grow_for(id),
            Some(l) if l.queued => self.unlink_moved(id),
            Some(_) => {}
        }
        self.len += 1;
    }

    /// A push of a task that is already queued: take it off its level first (rare; kept out of
    /// the inlined push).
    #[cold]
    #[inline(never)]
    fn unlink_moved(&mut self, id: TaskId) {
        self.unlink(id);
    }

    /// Makes room for `id` outside the hot path (the only allocation a push can make).
    #[cold]
    #[inline(never)]
    fn grow_for(&mut self, id: TaskId) {
        self.reserve_ids(id.index() + 1);
    }

    /// Sets the bits of level `p`, which just became non-empty, and makes it the best level if
    /// it is better.
    #[inline(always)]
    fn mark(&mut self, p: usize) {
        self.words[p / 64] |= 1u64 << (p % 64);
        self.summary |= 1u64 << (p / 64);
        if p < self.best {
            self.best = p;
        }
    }

    /// Clears level `p`'s bit after its last task left, and finds the best level again if `p`
    /// was it.
    #[inline]
    fn level_emptied(&mut self, p: usize) {
        let w = p / 64;
        self.words[w] &= !(1u64 << (p % 64));
        if self.words[w] == 0 {
            self.summary &= !(1u64 << w);
        }
        if p == self.best {
            self.best = if self.summary == 0 {
                LEVELS
            } else {
                let w = self.summary.trailing_zeros() as usize;
                w * 64 + self.words[w].trailing_zeros() as usize
            };
        }
    }

    #[inline]
    fn unlink(&mut self, id: TaskId) {
        let Link {
            prev, next, prio, ..
        } = self.links[id.index()];
        let p = prio as usize;
        if prev == NIL {
            self.levels[p].head = next;
        } else {
            self.links[prev as usize].next = next;
        }
        if next == NIL {
            self.levels[p].tail = prev;
        } else {
            self.links[next as usize].prev = prev;
        }
        self.links[id.index()].queued = false;
        if self.levels[p].head == NIL {
            self.level_emptied(p);
        }
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn t(i: u32) -> TaskId {
        TaskId(i)
    }

    #[test]
    fn empty_queue() {
        let mut q = ReadyQueue::with_capacity(4);
        assert!(q.is_empty());
        assert_eq!(q.highest_prio(), None);
        assert_eq!(q.pop_first(), None);
        assert!(!q.remove(t(2)));
        assert!(!q.remove(t(99)));
        assert!(!q.contains(t(99)));
    }

    #[test]
    fn orders_by_level_then_fifo() {
        let mut q = ReadyQueue::new();
        q.push_back(t(1), 200);
        q.push_back(t(2), 5);
        q.push_back(t(3), 200);
        q.push_back(t(4), 64);
        q.push_back(t(5), 5);
        q.push_back(t(6), 255);
        q.push_back(t(7), 0);
        assert_eq!(q.len(), 7);
        assert_eq!(q.highest_prio(), Some(0));
        let order: Vec<_> = core::iter::from_fn(|| q.pop_first()).collect();
        assert_eq!(
            order,
            vec![
                (t(7), 0),
                (t(2), 5),
                (t(5), 5),
                (t(4), 64),
                (t(1), 200),
                (t(3), 200),
                (t(6), 255)
            ]
        );
        assert!(q.is_empty());
    }

    #[test]
    fn push_front_goes_ahead() {
        let mut q = ReadyQueue::new();
        q.push_back(t(1), 9);
        q.push_back(t(2), 9);
        q.push_front(t(3), 9);
        assert_eq!(
            q.iter().map(|x| x.0).collect::<Vec<_>>(),
            vec![t(3), t(1), t(2)]
        );
    }

    #[test]
    fn remove_middle_head_tail_keeps_order_and_bitmap() {
        let mut q = ReadyQueue::with_capacity(8);
        for i in 0..5 {
            q.push_back(t(i), 130);
        }
        q.push_back(t(5), 131);
        assert!(q.remove(t(2)));
        assert!(q.remove(t(0)));
        assert!(q.remove(t(4)));
        assert!(!q.remove(t(4)));
        assert_eq!(
            q.iter().collect::<Vec<_>>(),
            vec![(t(1), 130), (t(3), 130), (t(5), 131)]
        );
        assert!(q.remove(t(1)));
        assert!(q.remove(t(3)));
        assert_eq!(q.highest_prio(), Some(131));
        assert!(q.remove(t(5)));
        assert_eq!(q.highest_prio(), None);
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn push_of_queued_task_moves_it() {
        let mut q = ReadyQueue::new();
        q.push_back(t(1), 10);
        q.push_back(t(2), 10);
        q.push_back(t(1), 3);
        assert_eq!(q.len(), 2);
        assert_eq!(q.prio_of(t(1)), Some(3));
        q.push_back(t(1), 10);
        assert_eq!(q.iter().collect::<Vec<_>>(), vec![(t(2), 10), (t(1), 10)]);
        assert_eq!(q.first_at(10), Some(t(2)));
        assert_eq!(q.next_at_level(t(2)), Some(t(1)));
        assert_eq!(q.next_at_level(t(1)), None);
    }

    #[test]
    fn no_allocation_after_reserve() {
        let mut q = ReadyQueue::with_capacity(1000);
        let ptr = q.links.as_ptr();
        let cap = q.links.capacity();
        for i in 0..1000 {
            q.push_back(t(i), (i % 256) as u8);
        }
        for i in (0..1000).step_by(3) {
            q.remove(t(i));
        }
        while q.pop_first().is_some() {}
        assert_eq!(q.links.as_ptr(), ptr);
        assert_eq!(q.links.capacity(), cap);
    }

    #[test]
    fn matches_reference_model() {
        // Deterministic pseudo-random operations compared with a sorted-vector model.
        let mut q = ReadyQueue::new();
        let mut model: Vec<(u8, u64, u32)> = Vec::new(); // (prio, order key, id)
        let mut seq: u64 = 1 << 32;
        let mut front: u64 = 1 << 32;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let id = (x % 64) as u32;
            let prio = ((x >> 8) % 256) as u8;
            match (x >> 20) % 4 {
                0 | 1 => {
                    model.retain(|e| e.2 != id);
                    seq += 1;
                    model.push((prio, seq, id));
                    q.push_back(t(id), prio);
                }
                2 => {
                    model.retain(|e| e.2 != id);
                    front -= 1;
                    model.push((prio, front, id));
                    q.push_front(t(id), prio);
                }
                _ => {
                    if x & 1 == 0 {
                        let had = model.iter().any(|e| e.2 == id);
                        model.retain(|e| e.2 != id);
                        assert_eq!(q.remove(t(id)), had);
                    } else {
                        model.sort();
                        let want = if model.is_empty() {
                            None
                        } else {
                            let e = model.remove(0);
                            Some((t(e.2), e.0))
                        };
                        assert_eq!(q.pop_first(), want);
                    }
                }
            }
            model.sort();
            assert_eq!(q.len(), model.len());
            assert_eq!(q.highest_prio(), model.first().map(|e| e.0));
            assert_eq!(
                q.iter().collect::<Vec<_>>(),
                model.iter().map(|e| (t(e.2), e.0)).collect::<Vec<_>>()
            );
        }
    }
}
