//! Basic vocabulary shared by every module: time, priorities, task/CPU/group/resource
//! identities and the CPU affinity mask [`CpuSet`].

use core::fmt;

/// A point in time or a duration, in nanoseconds. The crate has no clock: callers pass it in.
pub type Time = u64;

/// A priority level, `0..=255`; 0 is the highest (best), 255 the lowest.
pub type Prio = u8;

/// Index of a CPU, `0..MAX_CPUS`.
pub type CpuId = usize;

/// Identity of a task: a dense index (used directly to index per-task arrays).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct TaskId(pub u32);

impl TaskId {
    /// The id as an array index.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Identity of a group (a VM); dense index. [`GroupId::HOST`] is the host group.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct GroupId(pub u32);

impl GroupId {
    /// The host group: every task not placed in a configured group (priority 128, no budget).
    pub const HOST: GroupId = GroupId(0);

    /// The id as an array index.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// Identity of a lock-like resource (a PI mutex, a PI futex); dense index chosen by the caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ResourceId(pub u32);

impl ResourceId {
    /// The id as an array index.
    #[inline]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// The largest number of CPUs a [`CpuSet`] can describe.
pub const MAX_CPUS: usize = 256;

const WORDS: usize = MAX_CPUS / 64;

/// A set of CPUs (an affinity mask) for up to [`MAX_CPUS`] CPUs. `Copy`, no allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CpuSet {
    words: [u64; WORDS],
}

impl CpuSet {
    /// The empty set.
    pub const fn empty() -> Self {
        CpuSet { words: [0; WORDS] }
    }

    /// CPUs `0..n` (`n` is clamped to [`MAX_CPUS`]).
    pub fn all(n: usize) -> Self {
        let n = n.min(MAX_CPUS);
        let mut s = CpuSet::empty();
        for (w, word) in s.words.iter_mut().enumerate() {
            let lo = w * 64;
            if n >= lo + 64 {
                *word = u64::MAX;
            } else if n > lo {
                *word = (1u64 << (n - lo)) - 1;
            }
        }
        s
    }

    /// The set holding only `cpu`.
    pub fn single(cpu: CpuId) -> Self {
        let mut s = CpuSet::empty();
        s.insert(cpu);
        s
    }

    /// A set from the low 64 CPUs given as a bitmask (bit `i` = CPU `i`).
    pub const fn from_mask(mask: u64) -> Self {
        let mut words = [0; WORDS];
        words[0] = mask;
        CpuSet { words }
    }

    /// Whether `cpu` is in the set (false for `cpu >= MAX_CPUS`).
    #[inline]
    pub fn contains(&self, cpu: CpuId) -> bool {
        cpu < MAX_CPUS && self.words[cpu / 64] & (1u64 << (cpu % 64)) != 0
    }

    /// Adds `cpu`. Panics if `cpu >= MAX_CPUS`.
    #[inline]
    pub fn insert(&mut self, cpu: CpuId) {
        assert!(cpu < MAX_CPUS, "cpu {cpu} beyond MAX_CPUS");
        self.words[cpu / 64] |= 1u64 << (cpu % 64);
    }

    /// Removes `cpu` (no effect if absent or out of range).
    #[inline]
    pub fn remove(&mut self, cpu: CpuId) {
        if cpu < MAX_CPUS {
            self.words[cpu / 64] &= !(1u64 << (cpu % 64));
        }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Number of CPUs in the set.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The lowest CPU in the set.
    pub fn first(&self) -> Option<CpuId> {
        self.iter().next()
    }

    /// CPUs in both sets.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        let mut s = *self;
        for (a, b) in s.words.iter_mut().zip(other.words.iter()) {
            *a &= *b;
        }
        s
    }

    /// CPUs in either set.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let mut s = *self;
        for (a, b) in s.words.iter_mut().zip(other.words.iter()) {
            *a |= *b;
        }
        s
    }

    /// Whether every CPU of `self` is in `other`.
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.words
            .iter()
            .zip(other.words.iter())
            .all(|(a, b)| a & !b == 0)
    }

    /// Iterates the CPUs in ascending order.
    pub fn iter(&self) -> CpuSetIter {
        CpuSetIter {
            words: self.words,
            word: 0,
        }
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<CpuId> for CpuSet {
    fn from_iter<I: IntoIterator<Item = CpuId>>(iter: I) -> Self {
        let mut s = CpuSet::empty();
        for c in iter {
            s.insert(c);
        }
        s
    }
}

impl IntoIterator for CpuSet {
    type Item = CpuId;
    type IntoIter = CpuSetIter;
    fn into_iter(self) -> CpuSetIter {
        self.iter()
    }
}

impl IntoIterator for &CpuSet {
    type Item = CpuId;
    type IntoIter = CpuSetIter;
    fn into_iter(self) -> CpuSetIter {
        self.iter()
    }
}

/// Iterator over the CPUs of a [`CpuSet`], ascending.
#[derive(Clone, Debug)]
pub struct CpuSetIter {
    words: [u64; WORDS],
    word: usize,
}

impl Iterator for CpuSetIter {
    type Item = CpuId;
    fn next(&mut self) -> Option<CpuId> {
        while self.word < WORDS {
            let w = self.words[self.word];
            if w != 0 {
                let bit = w.trailing_zeros() as usize;
                self.words[self.word] &= w - 1;
                return Some(self.word * 64 + bit);
            }
            self.word += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn all_covers_exactly_n() {
        for n in [0usize, 1, 63, 64, 65, 128, 200, 256, 300] {
            let s = CpuSet::all(n);
            let m = n.min(MAX_CPUS);
            assert_eq!(s.count(), m, "n={n}");
            assert!(m == 0 || s.contains(m - 1));
            assert!(!s.contains(m));
            assert_eq!(s.iter().collect::<Vec<_>>(), (0..m).collect::<Vec<_>>());
        }
    }

    #[test]
    fn insert_remove_set_ops() {
        let mut a = CpuSet::empty();
        assert!(a.is_empty());
        a.insert(3);
        a.insert(70);
        a.insert(255);
        assert_eq!(a.iter().collect::<Vec<_>>(), [3, 70, 255]);
        assert_eq!(a.first(), Some(3));
        let b: CpuSet = [70, 71].into_iter().collect();
        assert_eq!(a.intersection(&b).iter().collect::<Vec<_>>(), [70]);
        assert_eq!(a.union(&b).count(), 4);
        assert!(CpuSet::single(70).is_subset(&a));
        assert!(!b.is_subset(&a));
        a.remove(70);
        assert!(!a.contains(70));
        assert!(!a.contains(1000));
        assert_eq!(CpuSet::from_mask(0b101).iter().collect::<Vec<_>>(), [0, 2]);
    }
}
