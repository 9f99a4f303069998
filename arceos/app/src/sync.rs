// SPDX-License-Identifier: GPL-2.0-only
//
// sync.rs - blocking primitives for ArceOS tasks scheduled by AxRT (the seed's phase 2): a
// priority-inheritance mutex with recursive lock counts, a counting semaphore and a condition
// variable, all with priority-ordered wait queues (best effective priority first, FIFO among
// equals). Who waits for which mutex and who owns it is kept in axrt-policy's WaitGraph, which
// gives the owner chain for transitive boosts (axtask::rt::set_boost) and finds a deadlock
// when a wait would close a cycle: the lock then fails with the cycle instead of blocking.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::sync::atomic::{AtomicU32, Ordering};
use core::task::{Poll, Waker};

use axrt_policy::deadlock::WaitGraph;
use axrt_policy::{Cycle, Prio, ResourceId, TaskId};
use axtask::AxTaskRef;
use kspin::SpinNoIrq;

/// Longest owner chain a boost follows (as the Linux tier).
const CHAIN_DEPTH: usize = 16;

/// Dense id of an axtask task for the wait graph (axtask numbers tasks from 1, in order).
fn tid(task: &AxTaskRef) -> TaskId {
    TaskId(task.id().as_u64() as u32)
}

/// A queue of blocked tasks, best effective priority first, FIFO among equals.
struct WaitList {
    waiters: Vec<Waiter>,
    seq: u64,
}

struct Waiter {
    task: AxTaskRef,
    prio: Prio,
    seq: u64,
    waker: Waker,
    /// Set by the waker side: the waiter may go (it owns the mutex, got a permit, was notified).
    granted: bool,
}

impl WaitList {
    const fn new() -> Self {
        Self {
            waiters: Vec::new(),
            seq: 0,
        }
    }

    /// Adds the current task; returns its ticket.
    fn push(&mut self, task: AxTaskRef, waker: &Waker) -> u64 {
        self.seq += 1;
        self.waiters.push(Waiter {
            prio: task.effective(),
            task,
            seq: self.seq,
            waker: waker.clone(),
            granted: false,
        });
        self.seq
    }

    /// The best waiter not yet granted: lowest priority value, then oldest.
    fn best(&mut self) -> Option<&mut Waiter> {
        self.waiters
            .iter_mut()
            .filter(|w| !w.granted)
            .min_by_key(|w| (w.prio, w.seq))
    }

    /// Best effective priority among waiters not yet granted.
    fn best_prio(&self) -> Option<Prio> {
        self.waiters
            .iter()
            .filter(|w| !w.granted)
            .map(|w| w.task.effective())
            .min()
    }

    /// Polls ticket `seq`: `true` (and the entry is removed) once granted, else the waker is
    /// refreshed.
    fn poll(&mut self, seq: u64, waker: &Waker) -> bool {
        let i = self
            .waiters
            .iter()
            .position(|w| w.seq == seq)
            .expect("a waiter polls its own ticket");
        if self.waiters[i].granted {
            self.waiters.remove(i);
            true
        } else {
            self.waiters[i].waker.clone_from(waker);
            false
        }
    }

    /// Re-reads the priorities of the waiters (one of them was boosted while it waited).
    fn refresh(&mut self) {
        for w in &mut self.waiters {
            w.prio = w.task.effective();
        }
    }
}

/// Who owns and waits for which PI mutex, for boosts and deadlock detection.
struct Registry {
    /// Made at the first use (`WaitGraph::new` is not `const`).
    graph_cell: Option<WaitGraph>,
    /// The task behind each graph id that owns or waits for something.
    tasks: Vec<Option<AxTaskRef>>,
    /// The mutex behind each resource id.
    mutexes: Vec<usize>,
}

static REGISTRY: SpinNoIrq<Registry> = SpinNoIrq::new(Registry {
    graph_cell: None,
    tasks: Vec::new(),
    mutexes: Vec::new(),
});
static NEXT_RESOURCE: AtomicU32 = AtomicU32::new(0);

impl Registry {
    fn graph(&mut self) -> &mut WaitGraph {
        self.graph_cell.get_or_insert_with(WaitGraph::new)
    }

    fn graph_ref(&self) -> &WaitGraph {
        self.graph_cell
            .as_ref()
            .expect("the graph exists once a mutex is used")
    }

    fn note(&mut self, task: &AxTaskRef) -> TaskId {
        let id = tid(task);
        if self.tasks.len() <= id.index() {
            self.tasks.resize(id.index() + 1, None);
        }
        self.graph().reserve_tasks(id.index() + 1);
        self.tasks[id.index()] = Some(task.clone());
        id
    }

    /// Sets `task`'s boost to the best effective priority among the waiters of every mutex it
    /// owns (none: no boost) and returns whether its effective priority changed.
    fn recompute(&self, t: TaskId) -> bool {
        let Some(task) = self.tasks[t.index()].as_ref() else {
            return false;
        };
        let mut boost: Option<Prio> = None;
        for &r in self.graph_ref().owned(t) {
            // SAFETY: only `'static` mutexes are registered (`lock` takes `&'static self`).
            let m = unsafe { &*(self.mutexes[r.index()] as *const PiMutex) };
            if let Some(p) = m.state.lock().waiters.best_prio() {
                boost = Some(boost.map_or(p, |b| b.min(p)));
            }
        }
        let boost = boost.filter(|&b| b < task.priority());
        if boost == task.boost() {
            return false;
        }
        axtask::rt::set_boost(task, boost);
        true
    }

    /// Recomputes the boosts along the owner chain from mutex `r` (depth-bounded).
    fn propagate(&self, mut r: ResourceId) {
        for _ in 0..CHAIN_DEPTH {
            let Some(o) = self.graph_ref().owner(r) else {
                return;
            };
            if !self.recompute(o) {
                return;
            }
            let Some(next) = self.graph_ref().waiting_on(o) else {
                return;
            };
            // The owner waits itself: its new priority reorders that wait queue too.
            let m = unsafe { &*(self.mutexes[next.index()] as *const PiMutex) };
            m.state.lock().waiters.refresh();
            r = next;
        }
    }
}

/// Why a lock failed: waiting would have closed a cycle of owners (a deadlock).
#[derive(Debug)]
pub struct Deadlock {
    /// The cycle, starting with the task that tried to lock (axtask task ids).
    pub cycle: Cycle,
}

struct MutexState {
    owner: Option<AxTaskRef>,
    depth: u32,
    waiters: WaitList,
}

/// A mutex with priority inheritance and recursive locking. Locked through `&'static self`:
/// the owner registry refers to it by address.
pub struct PiMutex {
    state: SpinNoIrq<MutexState>,
    id: AtomicU32,
}

impl Default for PiMutex {
    fn default() -> Self {
        Self::new()
    }
}

impl PiMutex {
    /// An unlocked mutex.
    pub const fn new() -> Self {
        Self {
            state: SpinNoIrq::new(MutexState {
                owner: None,
                depth: 0,
                waiters: WaitList::new(),
            }),
            id: AtomicU32::new(u32::MAX),
        }
    }

    fn resource(&self, reg: &mut Registry) -> ResourceId {
        let mut id = self.id.load(Ordering::Acquire);
        if id == u32::MAX {
            id = NEXT_RESOURCE.fetch_add(1, Ordering::AcqRel);
            self.id.store(id, Ordering::Release);
            if reg.mutexes.len() <= id as usize {
                reg.mutexes.resize(id as usize + 1, 0);
            }
            reg.mutexes[id as usize] = self as *const _ as usize;
            reg.graph().reserve_resources(id as usize + 1);
        }
        ResourceId(id)
    }

    /// The lock depth the current task holds (0 if it does not own the mutex).
    pub fn depth(&self) -> u32 {
        let me = axtask::current();
        let st = self.state.lock();
        match &st.owner {
            Some(o) if me.ptr_eq(o) => st.depth,
            _ => 0,
        }
    }

    /// Locks the mutex (again, if the current task owns it). While it waits, the owner chain
    /// inherits its priority. Fails, without waiting, if waiting would deadlock.
    pub fn lock(&'static self) -> Result<(), Deadlock> {
        let me = axtask::current().clone();
        {
            let mut st = self.state.lock();
            match &st.owner {
                None => {
                    st.owner = Some(me.clone());
                    st.depth = 1;
                    drop(st);
                    let mut reg = REGISTRY.lock();
                    let r = self.resource(&mut reg);
                    let t = reg.note(&me);
                    reg.graph().set_owner(r, Some(t));
                    return Ok(());
                }
                Some(o) if Arc::ptr_eq(o, &me) => {
                    st.depth += 1;
                    return Ok(());
                }
                Some(_) => {}
            }
        }
        // Contended: record the wait, refuse a cycle, boost the chain, then block.
        let mut ticket = None;
        let mut result = Ok(());
        axtask::future::block_on(poll_fn(|cx| {
            let mut reg = REGISTRY.lock();
            let mut st = self.state.lock();
            if let Some(seq) = ticket {
                return if st.waiters.poll(seq, cx.waker()) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            if st.owner.is_none() {
                // Released in between: take it.
                st.owner = Some(me.clone());
                st.depth = 1;
                drop(st);
                let r = self.resource(&mut reg);
                let t = reg.note(&me);
                reg.graph().set_owner(r, Some(t));
                return Poll::Ready(());
            }
            let r = self.resource(&mut reg);
            let t = reg.note(&me);
            reg.graph().add_wait(t, r);
            if let Some(cycle) = reg.graph().find_cycle(t) {
                reg.graph().clear_wait(t);
                result = Err(Deadlock { cycle });
                return Poll::Ready(());
            }
            ticket = Some(st.waiters.push(me.clone(), cx.waker()));
            drop(st);
            reg.propagate(r);
            Poll::Pending
        }));
        result
    }

    /// Unlocks once; the last unlock hands the mutex to the best waiter and ends the boost the
    /// owner had from it. Panics if the current task does not own the mutex.
    pub fn unlock(&'static self) {
        let me = axtask::current().clone();
        let mut reg = REGISTRY.lock();
        let mut st = self.state.lock();
        assert!(
            st.owner.as_ref().is_some_and(|o| Arc::ptr_eq(o, &me)),
            "unlock of a PiMutex the task does not own"
        );
        st.depth -= 1;
        if st.depth > 0 {
            return;
        }
        let r = self.resource(&mut reg);
        let next = st.waiters.best().map(|w| {
            w.granted = true;
            w.waker.wake_by_ref();
            w.task.clone()
        });
        st.depth = u32::from(next.is_some());
        st.owner = next.clone();
        drop(st);
        let t = tid(&me);
        match next {
            Some(n) => {
                let nt = tid(&n);
                reg.graph().clear_wait(nt);
                reg.graph().set_owner(r, Some(nt));
                // The new owner inherits from the waiters left behind it.
                reg.recompute(nt);
            }
            None => {
                reg.graph().set_owner(r, None);
            }
        }
        reg.recompute(t);
    }
}

/// A counting semaphore whose waiters get permits in priority order.
pub struct Semaphore {
    state: SpinNoIrq<(usize, WaitList)>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    pub const fn new(permits: usize) -> Self {
        Self {
            state: SpinNoIrq::new((permits, WaitList::new())),
        }
    }

    /// Takes a permit, waiting for one if there is none.
    pub fn wait(&self) {
        let me = axtask::current().clone();
        let mut ticket = None;
        axtask::future::block_on(poll_fn(|cx| {
            let mut st = self.state.lock();
            if let Some(seq) = ticket {
                return if st.1.poll(seq, cx.waker()) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            if st.0 > 0 {
                st.0 -= 1;
                return Poll::Ready(());
            }
            ticket = Some(st.1.push(me.clone(), cx.waker()));
            Poll::Pending
        }));
    }

    /// Gives a permit back: to the best waiter if there is one.
    pub fn post(&self) {
        let mut st = self.state.lock();
        match st.1.best() {
            Some(w) => {
                w.granted = true;
                w.waker.wake_by_ref();
            }
            None => st.0 += 1,
        }
    }
}

/// A condition variable for [`PiMutex`]; notified waiters wake in priority order.
pub struct Condvar {
    waiters: SpinNoIrq<WaitList>,
}

impl Condvar {
    /// A condition variable nobody waits on.
    pub const fn new() -> Self {
        Self {
            waiters: SpinNoIrq::new(WaitList::new()),
        }
    }

    /// Releases `mutex` (held once by the current task), waits to be notified, locks it again.
    pub fn wait(&self, mutex: &'static PiMutex) -> Result<(), Deadlock> {
        let me = axtask::current().clone();
        let mut ticket = None;
        axtask::future::block_on(poll_fn(|cx| {
            let mut w = self.waiters.lock();
            match ticket {
                Some(seq) => {
                    if w.poll(seq, cx.waker()) {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                }
                None => {
                    // Queue first, then unlock: a notify after the unlock finds us queued.
                    ticket = Some(w.push(me.clone(), cx.waker()));
                    drop(w);
                    mutex.unlock();
                    Poll::Pending
                }
            }
        }));
        mutex.lock()
    }

    /// Wakes the best waiter; `false` if nobody waits.
    pub fn notify_one(&self) -> bool {
        let mut w = self.waiters.lock();
        match w.best() {
            Some(x) => {
                x.granted = true;
                x.waker.wake_by_ref();
                true
            }
            None => false,
        }
    }
}
