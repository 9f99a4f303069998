// SPDX-License-Identifier: GPL-2.0-only
//
// sched.rs - the schedulers the engine drives, behind one interface (`Sched`): the engine
// reports what threads do (wake, block, yield, lock, exit) and asks nothing else; the
// scheduler answers with the CPUs whose occupant changed, plus notifications. Two kinds:
//
// * `SystemSched`: the AxRT system of the policy crate (global fixed priority on N CPUs,
//   budgets per VM, directed-yield and lock-chain boosts, the starvation reserve), fed the
//   VMs and [[task]] contracts of axrt.toml exactly as scx_axrt's brain describes them.
// * `QueueSched`: one pluggable `Policy` (fifo, rr, fair, edf, joint, rt) per CPU. A waking
//   thread goes to an idle CPU it may use (its last CPU first), else to the allowed CPU with
//   the fewest runnable threads (ties: its last CPU, then the lowest number); a CPU that runs
//   out of work takes the thread that has waited longest on another CPU it may use. A thread
//   moved that way is enqueued with its job's release time, so deadline policies keep its
//   absolute deadline. These policies know nothing of VMs: no budgets, boosts or reserve.

//! The scheduler interface and its two implementations.

use axrt_policy::policies::{EdfPolicy, FairPolicy, FifoPolicy, JointPolicy, RrPolicy, RtPolicy};
use axrt_policy::policy::{Policy, PolicyParams};
use axrt_policy::{
    Action, BlockReason, CpuSet, GroupId, ResourceId, System, SystemConfig, TaskId, TaskParams,
    Time, Timing,
};

use crate::scenario::{Scenario, MS};

/// A scheduler's notifications (for the event log and the counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Note {
    /// A VM used up its budget.
    Throttled(usize),
    /// A VM's budget was refilled.
    Replenished(usize),
    /// A VM's reservation window supplied less than it was owed.
    SupplyMiss(usize),
    /// The starvation reserve gave a thread a slice.
    ReserveGrant(TaskId),
    /// A lock wait closed a cycle.
    Deadlock(TaskId),
}

/// What a scheduler call decided.
#[derive(Default, Debug)]
pub struct Out {
    /// CPUs whose occupant may have changed, and what they run now.
    pub switches: Vec<(usize, Option<TaskId>)>,
    /// Notifications.
    pub notes: Vec<Note>,
}

impl Out {
    /// Empties both lists (keeping their capacity).
    pub fn clear(&mut self) {
        self.switches.clear();
        self.notes.clear();
    }
}

/// A scheduler driven by the engine. Every call reports an event at `now`; times never go
/// backwards.
pub trait Sched {
    /// The name shown in tables ("axrt", "rr", ...).
    fn name(&self) -> &'static str;
    /// `t` becomes runnable (started, woke up, resumed, got a lock).
    fn wake(&mut self, now: Time, t: TaskId, out: &mut Out);
    /// The running `t` stops being runnable.
    fn block(&mut self, now: Time, t: TaskId, reason: BlockReason, out: &mut Out);
    /// The running `t` calls sched_yield().
    fn yield_now(&mut self, now: Time, t: TaskId, out: &mut Out);
    /// `t` (running) exits.
    fn exit(&mut self, now: Time, t: TaskId, out: &mut Out);
    /// `t` (running) changes its affinity.
    fn set_affinity(&mut self, now: Time, t: TaskId, cpus: CpuSet, out: &mut Out);
    /// `t` took the free mutex `r` (PI mutexes only).
    fn lock_acquired(&mut self, _now: Time, _t: TaskId, _r: ResourceId, _out: &mut Out) {}
    /// The running `w` waits for `r`, held by `owner`; `pi`: a priority-inheritance mutex.
    fn lock_wait(
        &mut self,
        now: Time,
        w: TaskId,
        r: ResourceId,
        _owner: TaskId,
        _pi: bool,
        out: &mut Out,
    ) {
        self.block(now, w, BlockReason::Lock(r), out);
    }
    /// `owner` released `r`, handing it to `next` (which wakes).
    fn lock_release(
        &mut self,
        now: Time,
        _owner: TaskId,
        _r: ResourceId,
        next: Option<TaskId>,
        _pi: bool,
        out: &mut Out,
    ) {
        if let Some(n) = next {
            self.wake(now, n, out);
        }
    }
    /// Time passed to `now`: slice ends, budget periods, reserve deadlines.
    fn tick(&mut self, now: Time, out: &mut Out);
    /// When `tick` must be called next.
    fn next_timer(&self) -> Option<Time>;
}

/// The schedulers axrt-sim offers, by name.
pub const SCHEDULERS: [&str; 7] = ["fifo", "rr", "fair", "edf", "joint", "rt", "axrt"];

/// Builds scheduler `name` for `scenario`.
pub fn build(name: &str, scenario: &Scenario) -> anyhow::Result<Box<dyn Sched>> {
    let slice = scenario.config.system.slice;
    let policy: fn(Time) -> Box<dyn Policy> = match name {
        "axrt" => return Ok(Box::new(SystemSched::new(scenario)?)),
        "fifo" => |_| Box::new(FifoPolicy::new()),
        "rr" => |s| Box::new(RrPolicy::new(s)),
        "fair" => |_| Box::new(FairPolicy::new()),
        "edf" => |_| Box::new(EdfPolicy::default()),
        "joint" => |_| Box::new(JointPolicy::default()),
        "rt" => |s| Box::new(RtPolicy::new(s)),
        other => anyhow::bail!(
            "unknown scheduler \"{other}\" (one of {})",
            SCHEDULERS.join(", ")
        ),
    };
    Ok(Box::new(QueueSched::new(scenario, slice, policy)))
}

// ---- the AxRT system ---------------------------------------------------------------------

/// The AxRT `System`, with one group per [[vm]] and one task per thread.
pub struct SystemSched {
    sys: System,
    /// Group id → VM index (the host group is not a VM).
    vm_of_group: Vec<Option<usize>>,
    actions: Vec<Action>,
}

impl SystemSched {
    /// The system of `scenario`: its configuration's CPUs-independent parameters, its VMs and
    /// one task per thread (priority and contract from the rules, affinity from the workload).
    pub fn new(scenario: &Scenario) -> anyhow::Result<Self> {
        let cfg = &scenario.config;
        let mut sc = SystemConfig::new(scenario.cpus);
        sc.slice = cfg.system.slice;
        sc.reserve = cfg.system.reserve;
        sc.host_priority = cfg.system.host_priority;
        let mut sys = System::new(sc).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut vm_of_group = vec![None];
        let mut group_of_vm = Vec::new();
        for (i, vm) in cfg.vms.iter().enumerate() {
            let g: GroupId = sys
                .add_group(0, vm.params.clone())
                .map_err(|e| anyhow::anyhow!("vm \"{}\": {e}", vm.params.name))?;
            vm_of_group.push(Some(i));
            group_of_vm.push(g);
        }
        for t in &scenario.threads {
            let mut p = TaskParams::new(&t.comm);
            if let Some(v) = t.vm {
                p = p.group(group_of_vm[v]);
            }
            if t.rule.is_some() {
                p = p.priority(t.prio);
                p.timing = t.contract;
            }
            if let Some(c) = t.cpus {
                p = p.affinity(c);
            }
            sys.add_task(p)
                .map_err(|e| anyhow::anyhow!("thread {} ({}): {e}", t.index, t.task))?;
        }
        Ok(SystemSched {
            sys,
            vm_of_group,
            actions: Vec::with_capacity(64),
        })
    }

    /// The wrapped system (statistics).
    pub fn system(&self) -> &System {
        &self.sys
    }

    fn take(&mut self, out: &mut Out) {
        for a in self.actions.drain(..) {
            let vm = |g: GroupId| self.vm_of_group.get(g.index()).copied().flatten();
            match a {
                Action::Run { cpu, task, .. } => out.switches.push((cpu, Some(task))),
                Action::Idle { cpu } => out.switches.push((cpu, None)),
                Action::Throttled { group } => out.notes.extend(vm(group).map(Note::Throttled)),
                Action::Replenished { group } => out.notes.extend(vm(group).map(Note::Replenished)),
                Action::SupplyMiss { group, .. } => {
                    out.notes.extend(vm(group).map(Note::SupplyMiss))
                }
                Action::ReserveGrant { task, .. } => out.notes.push(Note::ReserveGrant(task)),
                Action::Deadlock { waiter } => out.notes.push(Note::Deadlock(waiter)),
                Action::Timer { .. } | Action::DeadlineMiss { .. } => {}
            }
        }
    }
}

/// A call the engine makes in a state the system refuses is a bug of the engine.
fn must<T>(r: Result<T, axrt_policy::Error>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("axrt-sim: the AxRT system refused {what}: {e}"))
}

impl Sched for SystemSched {
    fn name(&self) -> &'static str {
        "axrt"
    }
    fn wake(&mut self, now: Time, t: TaskId, out: &mut Out) {
        must(self.sys.wake(now, t, &mut self.actions), "a wake-up");
        self.take(out);
    }
    fn block(&mut self, now: Time, t: TaskId, reason: BlockReason, out: &mut Out) {
        must(self.sys.block(now, t, reason, &mut self.actions), "a block");
        self.take(out);
    }
    fn yield_now(&mut self, now: Time, t: TaskId, out: &mut Out) {
        must(self.sys.yield_now(now, t, &mut self.actions), "a yield");
        self.take(out);
    }
    fn exit(&mut self, now: Time, t: TaskId, out: &mut Out) {
        must(self.sys.exit(now, t, &mut self.actions), "an exit");
        self.take(out);
    }
    fn set_affinity(&mut self, now: Time, t: TaskId, cpus: CpuSet, out: &mut Out) {
        must(
            self.sys.set_affinity(now, t, cpus, &mut self.actions),
            "an affinity change",
        );
        self.take(out);
    }
    fn lock_acquired(&mut self, now: Time, t: TaskId, r: ResourceId, out: &mut Out) {
        must(
            self.sys.lock_acquired(now, t, r, &mut self.actions),
            "a lock",
        );
        self.take(out);
    }
    fn lock_wait(
        &mut self,
        now: Time,
        w: TaskId,
        r: ResourceId,
        owner: TaskId,
        pi: bool,
        out: &mut Out,
    ) {
        if pi {
            // scx_axrt follows PI futexes only: plain mutexes are plain sleeps to it.
            must(
                self.sys.lock_wait(now, w, r, owner, &mut self.actions),
                "a lock wait",
            );
        } else {
            must(
                self.sys
                    .block(now, w, BlockReason::Lock(r), &mut self.actions),
                "a lock wait",
            );
        }
        self.take(out);
    }
    fn lock_release(
        &mut self,
        now: Time,
        owner: TaskId,
        r: ResourceId,
        next: Option<TaskId>,
        pi: bool,
        out: &mut Out,
    ) {
        if pi {
            must(
                self.sys
                    .lock_release(now, owner, r, next, &mut self.actions),
                "a lock release",
            );
        } else if let Some(n) = next {
            must(self.sys.wake(now, n, &mut self.actions), "a lock hand-off");
        }
        self.take(out);
    }
    fn tick(&mut self, now: Time, out: &mut Out) {
        self.sys.tick(now, &mut self.actions);
        self.take(out);
    }
    fn next_timer(&self) -> Option<Time> {
        self.sys.next_timer()
    }
}

// ---- per-CPU pluggable policies ------------------------------------------------------------

/// Where a thread is, for `QueueSched`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    /// Not runnable.
    Off,
    /// Queued on a CPU since a time, for a job released at a time.
    Queued {
        cpu: usize,
        since: Time,
        release: Time,
    },
    /// Running on a CPU, picked at a time, for a job released at a time.
    Running {
        cpu: usize,
        picked: Time,
        release: Time,
    },
}

/// Timer ticks for policies that look at lag (fair, joint) and for slice ends already
/// reached: Linux's 1000 Hz.
const TICK: Time = MS;

/// One `Policy` per CPU; see the module documentation for placement and balancing.
pub struct QueueSched {
    name: &'static str,
    cpus: Vec<Box<dyn Policy>>,
    current: Vec<Option<TaskId>>,
    /// Threads queued on each CPU (unordered; for balancing), and each thread's index there.
    queued: Vec<Vec<TaskId>>,
    qpos: Vec<usize>,
    params: Vec<PolicyParams>,
    affinity: Vec<CpuSet>,
    place: Vec<Place>,
    last_cpu: Vec<Option<usize>>,
    timer: Option<Time>,
}

impl QueueSched {
    /// `make(slice)` builds one CPU's policy.
    pub fn new(scenario: &Scenario, slice: Time, make: fn(Time) -> Box<dyn Policy>) -> Self {
        let n = scenario.threads.len();
        let all = CpuSet::all(scenario.cpus);
        let mut cpus: Vec<Box<dyn Policy>> = (0..scenario.cpus).map(|_| make(slice)).collect();
        for p in &mut cpus {
            p.reserve(n);
        }
        let name = cpus[0].name();
        let params = scenario
            .threads
            .iter()
            .map(|t| {
                // The contract if the configuration gives one, else the rt-app timer period
                // of the first periodic phase (what a deadline policy needs to know).
                let timing = match t.contract.relative_deadline() {
                    Some(_) => t.contract,
                    None => match t.phases.iter().find(|p| p.last_timer.is_some()) {
                        Some(p) => Timing {
                            period: Some(p.period),
                            ..Timing::NONE
                        },
                        None => Timing::NONE,
                    },
                };
                let mut p = PolicyParams::new()
                    .with_prio(t.prio)
                    .with_nice(t.nice)
                    .with_timing(timing);
                if t.periodic() {
                    p = p.latency_sensitive();
                }
                p
            })
            .collect();
        QueueSched {
            // RtPolicy calls itself "axrt"; here that name is the whole system's.
            name: if name == "axrt" { "rt" } else { name },
            current: vec![None; scenario.cpus],
            queued: vec![Vec::with_capacity(n); scenario.cpus],
            cpus,
            params,
            affinity: scenario
                .threads
                .iter()
                .map(|t| t.cpus.unwrap_or(all))
                .collect(),
            place: vec![Place::Off; n],
            qpos: vec![0; n],
            last_cpu: vec![None; n],
            timer: None,
        }
    }

    fn runnable_on(&self, c: usize) -> usize {
        self.queued[c].len() + usize::from(self.current[c].is_some())
    }

    /// The CPU a waking `t` joins.
    fn choose(&self, t: TaskId) -> usize {
        let allowed = self.affinity[t.index()];
        let last = self.last_cpu[t.index()].filter(|&c| allowed.contains(c));
        if let Some(c) = last.filter(|&c| self.current[c].is_none()) {
            return c;
        }
        if let Some(c) = allowed.iter().find(|&c| self.current[c].is_none()) {
            return c;
        }
        let mut best = last.unwrap_or_else(|| allowed.first().expect("non-empty affinity"));
        for c in allowed.iter() {
            if self.runnable_on(c) < self.runnable_on(best) {
                best = c;
            }
        }
        best
    }

    fn enqueue(&mut self, now: Time, c: usize, t: TaskId, release: Time) {
        self.cpus[c].enqueue(release, t, &self.params[t.index()]);
        self.push_queued(c, t);
        self.place[t.index()] = Place::Queued {
            cpu: c,
            since: now,
            release,
        };
    }

    fn push_queued(&mut self, c: usize, t: TaskId) {
        self.qpos[t.index()] = self.queued[c].len();
        self.queued[c].push(t);
    }

    fn unqueue(&mut self, c: usize, t: TaskId) {
        let q = &mut self.queued[c];
        let i = self.qpos[t.index()];
        debug_assert_eq!(q[i], t, "queued here");
        q.swap_remove(i);
        if let Some(&moved) = q.get(i) {
            self.qpos[moved.index()] = i;
        }
    }

    /// `c` has no current task: it runs its best queued one, else pulls one, else idles.
    fn resched(&mut self, now: Time, c: usize, out: &mut Out) {
        if self.cpus[c].is_empty() {
            self.pull(now, c);
        }
        let next = self.cpus[c].pick_next(now);
        if let Some(t) = next {
            self.unqueue(c, t);
            let release = match self.place[t.index()] {
                Place::Queued { release, .. } => release,
                _ => now,
            };
            self.place[t.index()] = Place::Running {
                cpu: c,
                picked: now,
                release,
            };
            self.last_cpu[t.index()] = Some(c);
        }
        self.current[c] = next;
        out.switches.push((c, next));
    }

    /// Moves to idle `c` the thread that has waited longest on another CPU and may run on `c`.
    fn pull(&mut self, now: Time, c: usize) {
        let mut best: Option<(Time, TaskId, usize)> = None;
        for (o, q) in self.queued.iter().enumerate() {
            if o == c {
                continue;
            }
            for &t in q {
                if !self.affinity[t.index()].contains(c) {
                    continue;
                }
                if let Place::Queued { since, .. } = self.place[t.index()] {
                    if best.is_none_or(|(s, bt, _)| (since, t.0) < (s, bt.0)) {
                        best = Some((since, t, o));
                    }
                }
            }
        }
        if let Some((_, t, o)) = best {
            let Place::Queued { release, .. } = self.place[t.index()] else {
                unreachable!()
            };
            self.cpus[o].remove(now, t);
            self.unqueue(o, t);
            self.enqueue(now, c, t, release);
        }
    }

    /// Ends the run of the current `t` on its CPU; returns the CPU, how long it ran and the
    /// job's release.
    fn running(&self, now: Time, t: TaskId) -> (usize, Time, Time) {
        match self.place[t.index()] {
            Place::Running {
                cpu,
                picked,
                release,
            } => (cpu, now - picked, release),
            other => panic!("axrt-sim: thread {} is not running ({other:?})", t.0),
        }
    }

    /// The running `t` goes back to its CPU's queue (forced off, or a yield) and the CPU picks.
    fn put_back(&mut self, now: Time, t: TaskId, preempted: bool, out: &mut Out) {
        let (c, ran, release) = self.running(now, t);
        self.cpus[c].put_prev(now, t, ran, preempted);
        self.push_queued(c, t);
        self.place[t.index()] = Place::Queued {
            cpu: c,
            since: now,
            release,
        };
        self.current[c] = None;
        self.resched(now, c, out);
    }

    fn preempt_check(&mut self, now: Time, c: usize, out: &mut Out) {
        let Some(cur) = self.current[c] else { return };
        if self.cpus[c].tick(now, cur) {
            self.put_back(now, cur, true, out);
        }
    }

    fn update_timer(&mut self, now: Time) {
        let mut next: Option<Time> = None;
        for c in 0..self.cpus.len() {
            let Some(cur) = self.current[c] else { continue };
            if self.cpus[c].is_empty() {
                continue; // alone: nothing to switch to until someone wakes
            }
            let Place::Running { picked, .. } = self.place[cur.index()] else {
                continue;
            };
            let tick = (now / TICK + 1) * TICK;
            let at = match self.cpus[c].slice_for(cur) {
                Some(s) if picked + s > now => (picked + s).min(tick),
                _ => tick,
            };
            next = Some(next.map_or(at, |n| n.min(at)));
        }
        self.timer = next;
    }
}

impl Sched for QueueSched {
    fn name(&self) -> &'static str {
        self.name
    }

    fn wake(&mut self, now: Time, t: TaskId, out: &mut Out) {
        debug_assert_eq!(self.place[t.index()], Place::Off);
        let c = self.choose(t);
        self.enqueue(now, c, t, now);
        if self.current[c].is_none() {
            self.resched(now, c, out);
        } else {
            self.preempt_check(now, c, out);
        }
        self.update_timer(now);
    }

    fn block(&mut self, now: Time, t: TaskId, _reason: BlockReason, out: &mut Out) {
        let (c, ran, _) = self.running(now, t);
        self.cpus[c].block(now, t, ran);
        self.place[t.index()] = Place::Off;
        self.current[c] = None;
        self.resched(now, c, out);
        self.update_timer(now);
    }

    fn yield_now(&mut self, now: Time, t: TaskId, out: &mut Out) {
        self.put_back(now, t, false, out);
        self.update_timer(now);
    }

    fn exit(&mut self, now: Time, t: TaskId, out: &mut Out) {
        self.block(now, t, BlockReason::Other(0), out);
        for p in &mut self.cpus {
            p.forget(t);
        }
    }

    fn set_affinity(&mut self, _now: Time, t: TaskId, cpus: CpuSet, _out: &mut Out) {
        // Applies from the next placement (the thread is running its phase change).
        self.affinity[t.index()] = cpus;
    }

    fn tick(&mut self, now: Time, out: &mut Out) {
        for c in 0..self.cpus.len() {
            self.preempt_check(now, c, out);
        }
        self.update_timer(now);
    }

    fn next_timer(&self) -> Option<Time> {
        self.timer
    }
}
