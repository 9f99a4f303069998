// SPDX-License-Identifier: GPL-2.0-only
//
// engine.rs - the discrete-event simulation: threads run their rt-app programs on N CPUs in
// virtual time, and a scheduler (sched.rs) decides which runs where. Nothing here reads a clock
// or draws a random number, and ties are broken by fixed rules (CPU number, then the order events
// were scheduled), so a run is a function of its inputs.
//
// Semantics (rt-app 1.0's, in virtual time):
// * a thread's code runs only while it has a CPU: after it wakes it must be scheduled before it
//   goes on, and zero-time events (lock, unlock, resume, yield, the timer check) happen then;
// * `run N` needs N ns of CPU work; `runtime N` ends once N ns of wall time have passed and the
//   thread runs; `sleep N` blocks for N ns; a timer's next expiry is its previous one plus the
//   period (first expiry: the thread's start plus the period); a thread that reaches its timer
//   after the expiry goes on at once, and in relative mode the timer restarts from that moment;
// * mutexes are handed to their first waiter on unlock (FIFO); `resume` wakes every thread
//   suspended on the condition at that moment (a resume nobody waits for is lost);
// * an iteration of a phase with a timer is a job: released at the expiry that started it (the
//   thread's start for the first), due a relative deadline later (the [[task]] rule's, else the
//   phase's timer period), completed when the thread reaches the phase's last timer. Late jobs
//   run to completion unless `abort_late` is set.
//
// Overhead model: every scheduler call (wake, block, yield, lock, exit, a tick that switches)
// costs `decision` ns and every context switch to a thread `switch` ns on one CPU, during which
// that CPU does no work for any thread; the time is charged to the thread then on the CPU (as a
// kernel charges the time it spends in schedule()).

//! The simulation engine.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use axrt_policy::{BlockReason, CpuSet, ResourceId, TaskId, Time};

use crate::metrics::{EventKind, EventRec, JobRecord, Row, RunResult, ThreadOut};
use crate::scenario::{Op, Scenario};
use crate::sched::{Note, Out, Sched};

/// The overhead model (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Overhead {
    /// ns per scheduler call.
    pub decision: Time,
    /// ns per context switch to a thread.
    pub switch: Time,
}

/// Options of a run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The overhead model.
    pub overhead: Overhead,
    /// Drop the rest of a job's work at its deadline (the thread goes on at its last timer).
    pub abort_late: bool,
    /// Keep rt-app log rows.
    pub logs: bool,
    /// Keep every event (for the event CSV).
    pub events: bool,
}

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// Not started yet (its delay).
    New,
    /// Runnable; goes on with its next operation when it runs.
    Pending,
    /// Runnable, `left` ns of CPU work to do.
    Run { left: Time },
    /// Runnable, working until `until`.
    Runtime { until: Time },
    /// Sleeping (sleep or timer) until a heap event.
    Sleeping,
    /// Suspended on a condition.
    Suspended,
    /// Waiting for a mutex.
    Locking,
    /// Ended.
    Done,
}

impl Act {
    fn runnable(self) -> bool {
        matches!(self, Act::Pending | Act::Run { .. } | Act::Runtime { .. })
    }
}

#[derive(Clone, Copy, Debug)]
struct Job {
    seq: u64,
    release: Time,
    deadline: Time,
    work_at_release: Time,
    aborted: bool,
}

/// Run-time state of one thread.
struct Thread {
    act: Act,
    gen: u32,
    cpu: Option<usize>,
    last_cpu: Option<usize>,
    yielded: bool,
    // position in the program
    tloop: u64,
    phase: usize,
    ploop: u64,
    op: usize,
    in_iteration: bool,
    skip_to: Option<usize>,
    // rt-app's per-iteration figures
    t_first: Time,
    it_start: Time,
    it_run: Time,
    op_start: Time,
    work_mark: Time,
    slack: i64,
    c_duration: Time,
    c_period: Time,
    wu_lat: Time,
    perf: u64,
    wake_expected: Option<Time>,
    job: Option<Job>,
    jobs: u64,
    held: u32,
    out: ThreadOut,
}

struct Cpu {
    thread: Option<usize>,
    since: Time,
    debt: Time,
    due: Time,
    overhead: Time,
}

struct Timer {
    next: Option<Time>,
    absolute: bool,
}

struct Mutex {
    owner: Option<usize>,
    waiters: VecDeque<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Wakeup {
    /// The thread's start, a sleep's or a timer's end.
    Wake,
    /// A job's deadline, when late jobs are aborted.
    Abort(u64),
}

/// A heap entry: when, the order it was scheduled in (ties), the thread, the thread's
/// generation when scheduled (a stale entry is skipped), and what.
type Scheduled = (Time, u64, usize, u32, Wakeup);

/// A simulation in progress; [`run`] does it all.
struct Engine<'s> {
    sc: &'s Scenario,
    opt: Options,
    sched: Box<dyn Sched>,
    now: Time,
    threads: Vec<Thread>,
    cpus: Vec<Cpu>,
    timers: Vec<Timer>,
    mutexes: Vec<Mutex>,
    conds: Vec<Vec<usize>>,
    heap: BinaryHeap<Reverse<Scheduled>>,
    seq: u64,
    out: Out,
    jobs: Vec<JobRecord>,
    events: Vec<EventRec>,
    notes: Vec<(Time, Note)>,
    sched_calls: u64,
}

/// Runs `scenario` under `sched` with `opt` and returns what happened.
pub fn run(scenario: &Scenario, sched: Box<dyn Sched>, opt: Options) -> RunResult {
    let mut e = Engine::new(scenario, sched, opt);
    e.main_loop();
    e.finish()
}

impl<'s> Engine<'s> {
    fn new(sc: &'s Scenario, sched: Box<dyn Sched>, opt: Options) -> Self {
        let threads = sc
            .threads
            .iter()
            .map(|t| Thread {
                act: Act::New,
                gen: 0,
                cpu: None,
                last_cpu: None,
                yielded: false,
                tloop: 0,
                phase: 0,
                ploop: 0,
                op: 0,
                in_iteration: false,
                skip_to: None,
                t_first: t.delay,
                it_start: 0,
                it_run: 0,
                op_start: 0,
                work_mark: 0,
                slack: 0,
                c_duration: 0,
                c_period: 0,
                wu_lat: 0,
                perf: 0,
                wake_expected: None,
                job: None,
                jobs: 0,
                held: 0,
                out: ThreadOut::default(),
            })
            .collect();
        let mut e = Engine {
            sc,
            opt,
            sched,
            now: 0,
            threads,
            cpus: (0..sc.cpus)
                .map(|_| Cpu {
                    thread: None,
                    since: 0,
                    debt: 0,
                    due: Time::MAX,
                    overhead: 0,
                })
                .collect(),
            timers: sc
                .timers
                .iter()
                .map(|t| Timer {
                    next: None,
                    absolute: t.absolute,
                })
                .collect(),
            mutexes: sc
                .mutexes
                .iter()
                .map(|_| Mutex {
                    owner: None,
                    waiters: VecDeque::new(),
                })
                .collect(),
            conds: vec![Vec::new(); sc.conds.len()],
            heap: BinaryHeap::with_capacity(sc.threads.len() * 2 + 16),
            seq: 0,
            out: Out::default(),
            jobs: Vec::new(),
            events: Vec::new(),
            notes: Vec::new(),
            sched_calls: 0,
        };
        for i in 0..sc.threads.len() {
            let at = sc.threads[i].delay;
            e.push(at, i, Wakeup::Wake);
        }
        e
    }

    fn push(&mut self, at: Time, t: usize, what: Wakeup) {
        self.seq += 1;
        let gen = self.threads[t].gen;
        self.heap.push(Reverse((at, self.seq, t, gen, what)));
    }

    fn event(&mut self, cpu: Option<usize>, t: Option<usize>, kind: EventKind, value: i64) {
        if self.opt.events {
            self.events.push(EventRec {
                time: self.now,
                cpu,
                thread: t,
                kind,
                value,
            });
        }
    }

    // ---- the loop ---------------------------------------------------------------------------

    fn main_loop(&mut self) {
        let end = self.sc.duration;
        let mut same_tick = 0u32;
        loop {
            let (mut tc, mut c_due) = (Time::MAX, 0);
            for (c, cpu) in self.cpus.iter().enumerate() {
                if cpu.due < tc {
                    (tc, c_due) = (cpu.due, c);
                }
            }
            let th = self.heap.peek().map_or(Time::MAX, |Reverse(e)| e.0);
            let ts = self.sched.next_timer().unwrap_or(Time::MAX).max(self.now);
            let t = tc.min(th).min(ts);
            if t >= end {
                self.now = end;
                break;
            }
            debug_assert!(t >= self.now, "time went backwards: {t} < {}", self.now);
            if t == self.now && tc > t && th > t {
                same_tick += 1;
                assert!(
                    same_tick < 10_000,
                    "axrt-sim: the scheduler's timer does not advance"
                );
            } else {
                same_tick = 0;
            }
            self.now = t;
            if tc == t {
                self.due(c_due);
            } else if th == t {
                let Reverse((_, _, thread, gen, what)) = self.heap.pop().expect("peeked");
                if gen == self.threads[thread].gen {
                    match what {
                        Wakeup::Wake => self.woken(thread),
                        Wakeup::Abort(seq) => self.abort(thread, seq),
                    }
                }
            } else {
                self.sched_calls += 1;
                self.out.clear();
                self.sched.tick(t, &mut self.out);
                self.apply(None, None);
            }
        }
        for c in 0..self.cpus.len() {
            self.account(c);
        }
    }

    /// Brings CPU `c`'s running thread up to `now`.
    fn account(&mut self, c: usize) {
        let now = self.now;
        let cpu = &mut self.cpus[c];
        let dt = now - cpu.since;
        cpu.since = now;
        if dt == 0 {
            return;
        }
        let o = cpu.debt.min(dt);
        cpu.debt -= o;
        cpu.overhead += o;
        let work = dt - o;
        let Some(t) = cpu.thread else { return };
        let th = &mut self.threads[t];
        th.out.cpu_ns += dt;
        match &mut th.act {
            Act::Run { left } => {
                let w = work.min(*left);
                *left -= w;
                th.out.work_ns += w;
            }
            Act::Runtime { .. } => th.out.work_ns += work,
            _ => {}
        }
    }

    fn update_due(&mut self, c: usize) {
        let cpu = &self.cpus[c];
        let ready = cpu.since + cpu.debt;
        self.cpus[c].due = match cpu.thread.map(|t| self.threads[t].act) {
            Some(Act::Pending) => ready,
            Some(Act::Run { left }) => ready + left,
            Some(Act::Runtime { until }) => ready.max(until),
            _ => Time::MAX,
        };
    }

    /// Applies the scheduler's decisions in `self.out`, then charges one decision to `origin`,
    /// else to the first CPU that switched, else to `fallback` (none: the call was free).
    fn apply(&mut self, origin: Option<usize>, fallback: Option<usize>) {
        let mut first = None;
        for i in 0..self.out.switches.len() {
            let (c, new) = self.out.switches[i];
            let new = new.map(|t| t.index());
            if self.cpus[c].thread == new {
                continue;
            }
            first.get_or_insert(c);
            self.account(c);
            if let Some(o) = self.cpus[c].thread {
                let th = &mut self.threads[o];
                th.cpu = None;
                if th.act.runnable() && !th.yielded {
                    th.out.preemptions += 1;
                    self.event(Some(c), Some(o), EventKind::Preempt, 0);
                }
                self.threads[o].yielded = false;
            }
            self.cpus[c].thread = new;
            if let Some(n) = new {
                let th = &mut self.threads[n];
                debug_assert!(
                    th.act.runnable(),
                    "thread {n} dispatched while {:?}",
                    th.act
                );
                debug_assert!(th.cpu.is_none(), "thread {n} on two CPUs");
                th.cpu = Some(c);
                th.out.switches += 1;
                let migrated = th.last_cpu.is_some_and(|l| l != c);
                if migrated {
                    th.out.migrations += 1;
                }
                th.last_cpu = Some(c);
                self.cpus[c].debt += self.opt.overhead.switch;
                self.event(Some(c), Some(n), EventKind::Switch, i64::from(migrated));
            } else {
                self.event(Some(c), None, EventKind::Idle, 0);
            }
            self.update_due(c);
        }
        for i in 0..self.out.notes.len() {
            let n = self.out.notes[i];
            self.notes.push((self.now, n));
            let (kind, t, v) = match n {
                Note::Throttled(vm) => (EventKind::Throttle, None, vm as i64),
                Note::Replenished(vm) => (EventKind::Replenish, None, vm as i64),
                Note::SupplyMiss(vm) => (EventKind::SupplyMiss, None, vm as i64),
                Note::ReserveGrant(t) => (EventKind::Reserve, Some(t.index()), 0),
                Note::Deadlock(t) => (EventKind::Deadlock, Some(t.index()), 0),
            };
            self.event(None, t, kind, v);
        }
        if let Some(c) = origin.or(first).or(fallback) {
            self.account(c);
            self.cpus[c].debt += self.opt.overhead.decision;
            self.update_due(c);
        }
    }

    /// Runs one scheduler call made on CPU `origin` (`None`: from a timer interrupt, charged
    /// where the woken thread lands, else on its last CPU).
    fn call(&mut self, origin: Option<usize>, f: impl FnOnce(&mut dyn Sched, Time, &mut Out)) {
        self.sched_calls += 1;
        self.out.clear();
        f(self.sched.as_mut(), self.now, &mut self.out);
        self.apply(origin, Some(0));
    }

    /// A wake-up of `t` from CPU `origin` (`None`: an interrupt).
    fn wake(&mut self, t: usize, origin: Option<usize>) {
        self.threads[t].act = Act::Pending;
        self.event(None, Some(t), EventKind::Wake, 0);
        let id = TaskId(t as u32);
        let last = self.threads[t].last_cpu.unwrap_or(0);
        self.sched_calls += 1;
        self.out.clear();
        self.sched.wake(self.now, id, &mut self.out);
        self.apply(origin, Some(last));
    }

    // ---- thread events -----------------------------------------------------------------------

    /// A heap wake-up: the start, or the end of a sleep or timer.
    fn woken(&mut self, t: usize) {
        if matches!(self.threads[t].act, Act::New | Act::Sleeping) {
            self.wake(t, None);
        }
    }

    /// CPU `c`'s thread reached the time it was waiting for (work done, overhead paid).
    fn due(&mut self, c: usize) {
        self.account(c);
        let t = self.cpus[c].thread.expect("a due CPU runs a thread");
        let th = &mut self.threads[t];
        match th.act {
            Act::Run { .. } | Act::Runtime { .. } => {
                th.it_run += self.now - th.op_start;
                th.perf += (th.out.work_ns - th.work_mark) / self.sc.ns_per_loop;
                th.act = Act::Pending;
            }
            Act::Pending => {}
            other => panic!("axrt-sim: thread {t} is on CPU {c} while {other:?}"),
        }
        self.step(t, c);
    }

    /// Thread `t`, running on `c`, goes through its program until something takes time.
    fn step(&mut self, t: usize, c: usize) {
        let now = self.now;
        let sc = self.sc;
        let spec = &sc.threads[t];
        if let Some(exp) = self.threads[t].wake_expected.take() {
            self.threads[t].wu_lat += now.saturating_sub(exp);
        }
        self.threads[t].yielded = false;
        loop {
            if self.threads[t].cpu != Some(c) {
                return; // switched out by the scheduler call of the previous operation
            }
            let th = &mut self.threads[t];
            if let Some(to) = th.skip_to.take() {
                th.op = to;
            }
            let phase = &spec.phases[th.phase];
            if !th.in_iteration {
                self.begin_iteration(t);
                continue;
            }
            if th.op == phase.ops.len() {
                if self.end_iteration(t, c) {
                    return;
                }
                continue;
            }
            let op = phase.ops[th.op];
            let is_last_timer = phase.last_timer == Some(th.op);
            th.op += 1;
            match op {
                Op::Run(ns) | Op::Runtime(ns) => {
                    if ns == 0 {
                        continue;
                    }
                    th.op_start = now;
                    th.work_mark = th.out.work_ns;
                    th.act = match op {
                        Op::Run(_) => Act::Run { left: ns },
                        _ => Act::Runtime { until: now + ns },
                    };
                    self.update_due(c);
                    return;
                }
                Op::Sleep(ns) => {
                    if ns == 0 {
                        continue;
                    }
                    self.sleep(t, c, now + ns, None);
                    return;
                }
                Op::Timer { timer, period } => {
                    if is_last_timer {
                        self.complete_job(t);
                    }
                    let th = &mut self.threads[t];
                    th.c_period += period;
                    let tm = &mut self.timers[timer as usize];
                    let next = tm.next.unwrap_or(th.t_first) + period;
                    tm.next = Some(next);
                    let slack = next as i64 - now as i64;
                    th.slack = if self.sc.cumulative_slack {
                        th.slack + slack
                    } else {
                        slack
                    };
                    if now < next {
                        self.sleep(t, c, next, Some(next));
                        return;
                    }
                    if !tm.absolute {
                        tm.next = Some(now);
                    }
                    th.wu_lat = 0;
                }
                Op::Suspend(cond) => {
                    self.conds[cond as usize].push(t);
                    self.block(t, c, Act::Suspended, BlockReason::Sleep);
                    return;
                }
                Op::Resume(cond) => {
                    let waiters = std::mem::take(&mut self.conds[cond as usize]);
                    for &w in &waiters {
                        self.wake(w, Some(c));
                    }
                    let mut waiters = waiters;
                    waiters.clear();
                    self.conds[cond as usize] = waiters;
                }
                Op::Yield => {
                    th.yielded = true;
                    th.act = Act::Pending;
                    self.event(Some(c), Some(t), EventKind::Yield, 0);
                    let id = TaskId(t as u32);
                    self.call(Some(c), |s, now, out| s.yield_now(now, id, out));
                    if self.threads[t].cpu == Some(c) {
                        // Nothing else to run: it goes on after the yield's cost.
                        self.threads[t].yielded = false;
                        self.update_due(c);
                    }
                    return;
                }
                Op::Lock(m) => {
                    let r = ResourceId(m);
                    let id = TaskId(t as u32);
                    let pi = self.sc.pi;
                    match self.mutexes[m as usize].owner {
                        None => {
                            self.mutexes[m as usize].owner = Some(t);
                            th.held += 1;
                            if pi {
                                self.call(Some(c), |s, now, out| s.lock_acquired(now, id, r, out));
                            }
                        }
                        Some(o) => {
                            self.mutexes[m as usize].waiters.push_back(t);
                            th.act = Act::Locking;
                            self.event(Some(c), Some(t), EventKind::Block, 0);
                            let owner = TaskId(o as u32);
                            self.call(Some(c), |s, now, out| {
                                s.lock_wait(now, id, r, owner, pi, out)
                            });
                            return;
                        }
                    }
                }
                Op::Unlock(m) => {
                    let mx = &mut self.mutexes[m as usize];
                    if mx.owner != Some(t) {
                        continue; // pthread_mutex_unlock of a mutex it does not hold: EPERM
                    }
                    th.held -= 1;
                    let next = mx.waiters.pop_front();
                    mx.owner = next;
                    let (id, r, pi) = (TaskId(t as u32), ResourceId(m), self.sc.pi);
                    let next_id = next.map(|n| TaskId(n as u32));
                    if let Some(n) = next {
                        self.threads[n].held += 1;
                        self.threads[n].act = Act::Pending;
                        self.event(None, Some(n), EventKind::Wake, 0);
                    }
                    if next.is_some() || pi {
                        self.call(Some(c), |s, now, out| {
                            s.lock_release(now, id, r, next_id, pi, out)
                        });
                    }
                }
            }
        }
    }

    fn sleep(&mut self, t: usize, c: usize, until: Time, expected: Option<Time>) {
        self.threads[t].wake_expected = expected;
        self.block(t, c, Act::Sleeping, BlockReason::Sleep);
        self.push(until, t, Wakeup::Wake);
    }

    fn block(&mut self, t: usize, c: usize, act: Act, reason: BlockReason) {
        self.threads[t].act = act;
        self.event(Some(c), Some(t), EventKind::Block, 0);
        let id = TaskId(t as u32);
        self.call(Some(c), |s, now, out| s.block(now, id, reason, out));
    }

    fn begin_iteration(&mut self, t: usize) {
        let now = self.now;
        let sc = self.sc;
        let spec = &sc.threads[t];
        let th = &mut self.threads[t];
        th.in_iteration = true;
        th.op = 0;
        th.it_start = now;
        th.it_run = 0;
        th.slack = 0;
        let phase = &spec.phases[th.phase];
        th.c_duration = phase.work;
        th.c_period = 0;
        th.wu_lat = 0;
        th.perf = 0;
        th.job = None;
        if phase.last_timer.is_some() {
            // The release is the expiry that started this iteration: the phase's first
            // timer's latest expiry (the thread's start before it first ran).
            let first = phase
                .ops
                .iter()
                .find_map(|op| match op {
                    Op::Timer { timer, .. } => Some(*timer),
                    _ => None,
                })
                .expect("a phase with a last timer has a first one");
            let release = self.timers[first as usize].next.unwrap_or(th.t_first);
            let deadline = release + spec.relative_deadline(th.phase);
            th.jobs += 1;
            let seq = th.jobs;
            th.job = Some(Job {
                seq,
                release,
                deadline,
                work_at_release: th.out.work_ns,
                aborted: false,
            });
            self.event(None, Some(t), EventKind::Release, release as i64);
            if self.opt.abort_late {
                self.push(deadline.max(now), t, Wakeup::Abort(seq));
            }
        }
    }

    /// Ends an iteration; returns `true` if the thread exited.
    fn end_iteration(&mut self, t: usize, c: usize) -> bool {
        let now = self.now;
        let sc = self.sc;
        let spec = &sc.threads[t];
        let th = &mut self.threads[t];
        th.in_iteration = false;
        if self.opt.logs {
            th.out.rows.push(Row {
                perf: th.perf,
                run: th.it_run / 1000,
                period: (now - th.it_start) / 1000,
                start: th.it_start / 1000,
                end: now / 1000,
                slack: th.slack.div_euclid(1000),
                c_duration: th.c_duration / 1000,
                c_period: th.c_period / 1000,
                wu_lat: th.wu_lat / 1000,
            });
        }
        th.out.iterations += 1;
        th.ploop += 1;
        if th.ploop == spec.phases[th.phase].loops {
            th.ploop = 0;
            th.phase += 1;
            if th.phase == spec.phases.len() {
                th.phase = 0;
                th.tloop += 1;
                if spec.loops == Some(th.tloop) {
                    th.act = Act::Done;
                    self.release_all(t, c);
                    self.event(Some(c), Some(t), EventKind::Exit, 0);
                    let id = TaskId(t as u32);
                    self.call(Some(c), |s, now, out| s.exit(now, id, out));
                    return true;
                }
            }
            let next = spec.phases[th.phase].cpus.or(spec.cpus);
            let prev = spec.phases[(th.phase + spec.phases.len() - 1) % spec.phases.len()]
                .cpus
                .or(spec.cpus);
            if next != prev {
                let all = CpuSet::all(self.sc.cpus);
                let set = next.unwrap_or(all);
                let id = TaskId(t as u32);
                self.call(Some(c), |s, now, out| s.set_affinity(now, id, set, out));
            }
        }
        false
    }

    /// An exiting thread's mutexes go to their waiters (rt-app would leave them locked; a
    /// simulated thread cannot hold them past its end).
    fn release_all(&mut self, t: usize, c: usize) {
        for m in 0..self.mutexes.len() {
            if self.mutexes[m].owner == Some(t) {
                let next = self.mutexes[m].waiters.pop_front();
                self.mutexes[m].owner = next;
                if let Some(n) = next {
                    self.threads[n].held += 1;
                    self.wake(n, Some(c));
                }
            }
        }
    }

    fn complete_job(&mut self, t: usize) {
        let now = self.now;
        let th = &mut self.threads[t];
        let Some(job) = th.job.take() else { return };
        if job.aborted {
            return;
        }
        let work = th.out.work_ns - job.work_at_release;
        let missed = now > job.deadline;
        self.jobs.push(JobRecord {
            thread: t,
            seq: job.seq,
            release: job.release,
            deadline: job.deadline,
            completion: Some(now),
            work,
            aborted: false,
        });
        self.event(
            None,
            Some(t),
            if missed {
                EventKind::Miss
            } else {
                EventKind::Complete
            },
            now as i64 - job.deadline as i64,
        );
    }

    /// A job's deadline passed with `abort_late`: if it is still running, its remaining work
    /// is dropped and the thread goes on at the phase's last timer (not while it holds a
    /// mutex: that would leave the mutex locked).
    fn abort(&mut self, t: usize, seq: u64) {
        let sc = self.sc;
        let spec = &sc.threads[t];
        let th = &mut self.threads[t];
        if th.held > 0 {
            return;
        }
        let Some(job) = th.job.as_mut().filter(|j| j.seq == seq && !j.aborted) else {
            return;
        };
        job.aborted = true;
        let job = *job;
        let last = spec.phases[th.phase]
            .last_timer
            .expect("a job's phase has a timer");
        th.skip_to = Some(last);
        let (cpu, act) = (th.cpu, th.act);
        if let Act::Run { .. } | Act::Runtime { .. } = act {
            if let Some(c) = cpu {
                self.account(c);
            }
            let th = &mut self.threads[t];
            th.it_run += self.now - th.op_start;
            th.act = Act::Pending;
            if let Some(c) = cpu {
                self.update_due(c);
            }
        }
        let work = self.threads[t].out.work_ns - job.work_at_release;
        self.jobs.push(JobRecord {
            thread: t,
            seq,
            release: job.release,
            deadline: job.deadline,
            completion: None,
            work,
            aborted: true,
        });
        self.event(cpu, Some(t), EventKind::Abort, 0);
    }

    fn finish(mut self) -> RunResult {
        let end = self.now;
        // Jobs still open at the end whose deadline has passed missed it (one due at the very
        // end may still complete at that instant: it is not counted).
        for (t, th) in self.threads.iter_mut().enumerate() {
            if let Some(job) = th.job.take().filter(|j| !j.aborted && j.deadline < end) {
                self.jobs.push(JobRecord {
                    thread: t,
                    seq: job.seq,
                    release: job.release,
                    deadline: job.deadline,
                    completion: None,
                    work: th.out.work_ns - job.work_at_release,
                    aborted: false,
                });
            }
        }
        self.jobs.sort_by_key(|j| (j.release, j.thread, j.seq));
        RunResult {
            sched: self.sched.name().to_string(),
            cpus: self.sc.cpus,
            duration: end,
            overhead: self.opt.overhead,
            cpu_overhead: self.cpus.iter().map(|c| c.overhead).collect(),
            threads: self.threads.into_iter().map(|t| t.out).collect(),
            jobs: self.jobs,
            events: self.events,
            notes: self.notes,
            sched_calls: self.sched_calls,
        }
    }
}
