//! Property tests of the AxRT system over random event sequences, on 1-3 CPUs with a host
//! group, a `throttle` VM and a `background` VM. Time advances by calling `tick` at every timer
//! the system arms, as a discrete-event simulator would. After every call:
//!
//! * (a) no queued task waits while a CPU it may use idles or runs a task of worse rank,
//!   except a CPU running a starvation-reserve grant; nothing of a parked group runs; no task
//!   waits longer than the reserve plus one slice per queued task (grants are serialised);
//! * (b) the run time of a `throttle` VM, integrated here from the `Run`/`Idle` actions, never
//!   exceeds `Q + ε` in any period window, and the integrated run time of every task matches
//!   the system's accounting;
//! * (c) effective priorities are never worse than the base, never worse than what the lock
//!   waiters (per a model kept here) demand, and equal to exactly that for tasks that are not
//!   ready or running (a directed-yield boost only lives while its target runs or waits to);
//! * (d) `lock_wait` reports a cycle exactly when the model's wait-for graph has one.

mod common;

use std::collections::BTreeMap;

use axrt_policy::params::MS;
use axrt_policy::{
    Action, BlockReason, CpuSet, GroupId, GroupParams, Overrun, ResourceId, System, SystemConfig,
    TaskId, TaskParams, TaskState, Time,
};
use proptest::prelude::*;

const NTASKS: usize = 8;
const NRES: u32 = 4;
const PERIOD: Time = 10 * MS;
const RT_QUOTA: Time = 3 * MS;
const BG_QUOTA: Time = 2 * MS;
const RESERVE: Time = 60 * MS;
const SLICE: Time = 3 * MS;
const PRIOS: [u8; 6] = [0, 40, 100, 128, 200, 255];

#[derive(Clone, Debug)]
struct TaskSpec {
    group: usize,
    prio: u8,
    mask: u64,
}

#[derive(Clone, Debug)]
enum Op {
    Advance(Time),
    Wake(usize),
    Block(usize),
    Yield(usize),
    YieldTo(usize, usize),
    SetPrio(usize, u8),
    SetAffinity(usize, u64),
    Acquire(usize, u32),
    LockWait(usize, u32, usize),
    Release(usize, u32, Option<usize>),
    Suspend(usize),
    Resume(usize),
    Exit(usize),
}

fn task_spec() -> impl Strategy<Value = TaskSpec> {
    (0..3usize, 0..PRIOS.len(), 1..8u64).prop_map(|(group, p, mask)| TaskSpec {
        group,
        prio: PRIOS[p],
        mask,
    })
}

fn op() -> impl Strategy<Value = Op> {
    let t = || 0..NTASKS;
    prop_oneof![
        6 => (0..4 * MS).prop_map(Op::Advance),
        6 => t().prop_map(Op::Wake),
        3 => t().prop_map(Op::Block),
        2 => t().prop_map(Op::Yield),
        2 => (t(), t()).prop_map(|(a, b)| Op::YieldTo(a, b)),
        1 => (t(), 0..PRIOS.len()).prop_map(|(a, p)| Op::SetPrio(a, PRIOS[p])),
        1 => (t(), 1..8u64).prop_map(|(a, m)| Op::SetAffinity(a, m)),
        2 => (t(), 0..NRES).prop_map(|(a, r)| Op::Acquire(a, r)),
        3 => (t(), 0..NRES, t()).prop_map(|(a, r, o)| Op::LockWait(a, r, o)),
        2 => (t(), 0..NRES, proptest::option::of(t())).prop_map(|(a, r, n)| Op::Release(a, r, n)),
        1 => t().prop_map(Op::Suspend),
        1 => t().prop_map(Op::Resume),
        1 => t().prop_map(Op::Exit),
    ]
}

/// The lock model kept by the test.
#[derive(Default)]
struct Locks {
    waits: BTreeMap<usize, u32>,
    owner: BTreeMap<u32, usize>,
}

impl Locks {
    fn closes_cycle(&self, w: usize) -> bool {
        common::closes_cycle(w, |t| {
            self.waits.get(&t).and_then(|r| self.owner.get(r)).copied()
        })
    }

    fn has_cycle(&self) -> bool {
        self.waits.keys().any(|&w| self.closes_cycle(w))
    }

    /// min(base, demands of waiters, transitively), on an acyclic graph.
    fn demanded(&self, t: usize, base: &dyn Fn(usize) -> u8) -> u8 {
        let mut e = base(t);
        for (&w, r) in &self.waits {
            if self.owner.get(r) == Some(&t) {
                e = e.min(self.demanded(w, base));
            }
        }
        e
    }
}

/// Integrates run time from the action stream.
struct Tracker {
    on: Vec<Option<(TaskId, Time)>>,
    runtime: BTreeMap<TaskId, Time>,
    windows: BTreeMap<(usize, Time), Time>,
}

impl Tracker {
    fn close(&mut self, cpu: usize, now: Time, group_of: &dyn Fn(TaskId) -> usize) {
        if let Some((t, since)) = self.on[cpu].take() {
            *self.runtime.entry(t).or_default() += now - since;
            let g = group_of(t);
            let mut from = since;
            while from < now {
                let k = from / PERIOD;
                let end = now.min((k + 1) * PERIOD);
                *self.windows.entry((g, k)).or_default() += end - from;
                from = end;
            }
        }
    }

    fn apply(&mut self, out: &[Action], now: Time, group_of: &dyn Fn(TaskId) -> usize) {
        for a in out {
            match *a {
                Action::Run { cpu, task, .. } => {
                    self.close(cpu, now, group_of);
                    self.on[cpu] = Some((task, now));
                }
                Action::Idle { cpu } => self.close(cpu, now, group_of),
                _ => {}
            }
        }
    }
}

struct Harness {
    s: System,
    ids: Vec<TaskId>,
    group_idx: Vec<usize>,
    base: Vec<u8>,
    gids: [GroupId; 3],
    locks: Locks,
    tr: Tracker,
    out: Vec<Action>,
    now: Time,
}

impl Harness {
    fn new(ncpus: usize, specs: &[TaskSpec]) -> Self {
        let mut cfg = SystemConfig::new(ncpus);
        cfg.reserve = RESERVE;
        cfg.slice = SLICE;
        let mut s = System::new(cfg).unwrap();
        let rt = s
            .add_group(0, GroupParams::new("rt", 40).budget(RT_QUOTA, PERIOD))
            .unwrap();
        let bg = s
            .add_group(
                0,
                GroupParams::new("bg", 100)
                    .budget(BG_QUOTA, PERIOD)
                    .overrun(Overrun::Background),
            )
            .unwrap();
        let gids = [GroupId::HOST, rt, bg];
        let mut ids = Vec::new();
        for (i, sp) in specs.iter().enumerate() {
            let mask = CpuSet::from_mask(sp.mask).intersection(&CpuSet::all(ncpus));
            let mask = if mask.is_empty() {
                CpuSet::all(ncpus)
            } else {
                mask
            };
            let p = TaskParams::new(&format!("t{i}"))
                .group(gids[sp.group])
                .priority(sp.prio)
                .affinity(mask);
            ids.push(s.add_task(p).unwrap());
        }
        Harness {
            s,
            ids,
            group_idx: specs.iter().map(|s| s.group).collect(),
            base: specs.iter().map(|s| s.prio).collect(),
            gids,
            locks: Locks::default(),
            tr: Tracker {
                on: vec![None; ncpus],
                runtime: BTreeMap::new(),
                windows: BTreeMap::new(),
            },
            out: Vec::new(),
            now: 0,
        }
    }

    fn record(&mut self) {
        let gi = self.group_idx.clone();
        self.tr
            .apply(&self.out, self.now, &|t: TaskId| gi[t.index()]);
        self.out.clear();
    }

    fn advance(&mut self, dt: Time) -> Result<(), TestCaseError> {
        let until = self.now + dt;
        while let Some(at) = self.s.next_timer().filter(|&at| at <= until) {
            self.now = at.max(self.now);
            self.s.tick(self.now, &mut self.out);
            self.record();
            self.check()?;
        }
        self.now = until;
        self.s.tick(self.now, &mut self.out);
        self.record();
        self.check()
    }

    fn state(&self, i: usize) -> TaskState {
        self.s.state(self.ids[i]).unwrap()
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let states: Vec<TaskState> = (0..NTASKS).map(|i| self.state(i)).collect();
        let blocked = |i: usize| matches!(states[i], TaskState::Blocked(_));
        let (s, now, out) = (&mut self.s, self.now, &mut self.out);
        let ids = self.ids.clone();
        let id = |i: usize| ids[i];
        match *op {
            Op::Advance(dt) => return self.advance(dt),
            Op::Wake(i) => {
                if s.wake(now, id(i), out).is_ok() && blocked(i) {
                    self.locks.waits.remove(&i);
                }
            }
            Op::Block(i) => {
                let _ = s.block(now, id(i), BlockReason::Sleep, out);
            }
            Op::Yield(i) => {
                let _ = s.yield_now(now, id(i), out);
            }
            Op::YieldTo(a, b) => {
                let _ = s.yield_to(now, id(a), id(b), out);
            }
            Op::SetPrio(i, p) => {
                if s.set_priority(now, id(i), p, out).is_ok() {
                    self.base[i] = p;
                }
            }
            Op::SetAffinity(i, m) => {
                let _ = s.set_affinity(now, id(i), CpuSet::from_mask(m), out);
            }
            Op::Acquire(i, r) => {
                if s.lock_acquired(now, id(i), ResourceId(r), out).is_ok() {
                    self.locks.owner.insert(r, i);
                }
            }
            Op::LockWait(w, r, o) => {
                if let Ok(cycle) = s.lock_wait(now, id(w), ResourceId(r), id(o), out) {
                    self.locks.owner.insert(r, o);
                    self.locks.waits.insert(w, r);
                    prop_assert_eq!(cycle.is_some(), self.locks.closes_cycle(w), "(d) cycle");
                }
            }
            Op::Release(o, r, next) => {
                let next_blocked = next.is_some_and(blocked);
                if s.lock_release(now, id(o), ResourceId(r), next.map(id), out)
                    .is_ok()
                {
                    match next {
                        Some(n) => {
                            self.locks.owner.insert(r, n);
                            if next_blocked {
                                self.locks.waits.remove(&n);
                            }
                        }
                        None => {
                            self.locks.owner.remove(&r);
                        }
                    }
                }
            }
            Op::Suspend(i) => {
                if s.suspend(now, id(i), out).is_ok() {
                    self.locks.waits.remove(&i);
                }
            }
            Op::Resume(i) => {
                let _ = s.resume(now, id(i), out);
            }
            Op::Exit(i) => {
                if s.exit(now, id(i), out).is_ok() {
                    self.locks.waits.remove(&i);
                    self.locks.owner.retain(|_, o| *o != i);
                }
            }
        }
        self.record();
        self.check()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        let s = &self.s;
        let ncpus = s.cpu_count();
        // (a) placement and priority.
        for c in 0..ncpus {
            if let Some(t) = s.current(c) {
                prop_assert_eq!(s.state(t), Some(TaskState::Running(c)));
            }
        }
        for (i, &t) in self.ids.iter().enumerate() {
            let st = s.state(t).unwrap();
            prop_assert_eq!(
                s.is_queued(t),
                st == TaskState::Ready,
                "queued iff ready: {:?}",
                st
            );
            let g = s.group(self.gids[self.group_idx[i]]).unwrap();
            if g.parked() {
                prop_assert!(
                    !matches!(st, TaskState::Running(_) | TaskState::Ready),
                    "parked group runs"
                );
            }
            if st != TaskState::Ready {
                continue;
            }
            for c in s.affinity(t).unwrap().iter() {
                let cur = s.current(c);
                prop_assert!(
                    cur.is_some(),
                    "(a) task {} waits while allowed cpu {} idles",
                    i,
                    c
                );
                if !s.cpu(c).unwrap().reserve {
                    prop_assert!(
                        s.rank(cur.unwrap()) <= s.rank(t),
                        "(a) task {} (rank {:?}) waits behind worse rank {:?} on cpu {}",
                        i,
                        s.rank(t),
                        s.rank(cur.unwrap()),
                        c
                    );
                }
            }
            // Starving tasks are granted one slice each, one after another.
            let queued = self.ids.iter().filter(|&&u| s.is_queued(u)).count() as Time;
            let waited = self.now - s.queued_since(t).unwrap();
            prop_assert!(
                waited <= RESERVE + queued * SLICE,
                "reserve: task {} waited {}",
                i,
                waited
            );
        }
        // (b) budgets of the throttle-mode group, per window.
        for (&(g, k), &ran) in &self.tr.windows {
            if g == 1 {
                let eps = MS / 2 * ncpus as Time;
                prop_assert!(ran <= RT_QUOTA + eps, "(b) window {} ran {}", k, ran);
            }
        }
        // (c) boosts.
        let acyclic = !self.locks.has_cycle();
        let base = |i: usize| self.base[i];
        for (i, &t) in self.ids.iter().enumerate() {
            let st = s.state(t).unwrap();
            if st == TaskState::Exited {
                continue;
            }
            let e = s.effective_prio(t).unwrap();
            prop_assert!(e <= self.base[i], "(c) boost lowered task {}", i);
            if acyclic {
                let want = self.locks.demanded(i, &base);
                if matches!(st, TaskState::Ready | TaskState::Running(_)) {
                    prop_assert!(
                        e <= want,
                        "(c) task {} e={} but waiters demand {}",
                        i,
                        e,
                        want
                    );
                } else {
                    prop_assert_eq!(e, want, "(c) task {} in {:?}", i, st);
                }
            }
        }
        Ok(())
    }

    /// Ends every cause of boosts; afterwards every live task is back at its base.
    fn wind_down(&mut self) -> Result<(), TestCaseError> {
        for i in 0..NTASKS {
            self.apply(&Op::Resume(i))?;
            self.apply(&Op::Wake(i))?;
        }
        for i in 0..NTASKS {
            self.apply(&Op::Block(i))?;
        }
        for (i, &t) in self.ids.iter().enumerate() {
            if self.s.state(t) != Some(TaskState::Exited) {
                prop_assert_eq!(
                    self.s.effective_prio(t),
                    Some(self.base[i]),
                    "(c) boost left on {}",
                    i
                );
            }
        }
        // Every CPU idles now; the integrated run time must match the accounting.
        for c in 0..self.s.cpu_count() {
            prop_assert_eq!(self.s.current(c), None);
        }
        for &t in &self.ids {
            let ours = self.tr.runtime.get(&t).copied().unwrap_or(0);
            prop_assert_eq!(ours, self.s.task_stats(t).unwrap().counters.runtime);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn rt_invariants_hold(
        ncpus in 1..=3usize,
        specs in proptest::collection::vec(task_spec(), NTASKS),
        ops in proptest::collection::vec(op(), 1..160),
    ) {
        let mut h = Harness::new(ncpus, &specs);
        for op in &ops {
            h.apply(op)?;
        }
        h.apply(&Op::Advance(25 * MS))?;
        h.wind_down()?;
    }

    /// A long CPU-bound run: every throttle-mode window stays within Q + ε, and the
    /// background VM, demoted, still gets an otherwise idle CPU.
    #[test]
    fn budgets_hold_under_load(ncpus in 1..=3usize, specs in proptest::collection::vec(task_spec(), NTASKS)) {
        let mut h = Harness::new(ncpus, &specs);
        for i in 0..NTASKS {
            h.apply(&Op::Wake(i))?;
        }
        for _ in 0..40 {
            h.apply(&Op::Advance(3 * MS))?;
        }
        h.wind_down()?;
    }
}
