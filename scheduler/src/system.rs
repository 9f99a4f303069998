//! The AxRT system: every CPU, group and task, driven by events.
//!
//! # Contract
//!
//! * **Time is passed in.** Every event carries `now` (ns). Times must not go backwards; an
//!   earlier `now` is treated as the latest seen. There is no clock, no global state and no
//!   randomness: the same events give the same decisions.
//! * **Events in, actions out.** Each event first catches up with everything due at `now`
//!   (exactly what [`System::tick`] does: charging run time to tasks and budgets, period
//!   boundaries, budget exhaustion, slice ends, starvation-reserve grants), then applies the
//!   event, then appends [`Action`]s to the caller's `Vec` (which the caller clears and reuses,
//!   so steady-state events do not allocate):
//!   * one [`Action::Run`] or [`Action::Idle`] for each CPU whose task changed — the system
//!     has already decided; the driver carries it out (switch, or kick a remote CPU);
//!   * [`Action::Timer`] when the earliest due time changed: call `tick` then;
//!   * notifications (throttle, replenishment, misses, reserve grants, deadlocks).
//! * **Who calls.** A discrete-event simulator calls the events in time order and `tick` at
//!   every `Timer`. AxVisor's per-CPU run loop calls them under one lock around the `System`;
//!   actions for other CPUs become IPIs, and each CPU runs [`System::current`] for itself.
//! * **Policy** (docs/POLICY.md): global fixed priority. After every event, no queued task
//!   waits while a CPU it may use idles or runs a task of worse rank (tier, effective
//!   priority), except a CPU running a starvation-reserve grant. The preemption latency bound
//!   of the policy is therefore zero; the driver adds its own switch/IPI latency.

use alloc::string::String;
use alloc::vec::Vec;

use crate::action::Action;
use crate::admission;
use crate::boost::{self, MAX_DEPTH};
use crate::cpu::{self, Cpu, Placement};
use crate::deadline::Jobs;
use crate::deadlock::{Cycle, WaitGraph};
use crate::error::{Error, Field, ParamError, Problem, Subject};
use crate::group::Group;
use crate::params::{GroupParams, SystemConfig, TaskParams};
use crate::runq::{rank, Rank, RunQueues};
use crate::state::{BlockReason, TaskState, Transitions};
use crate::stats::{Counters, GroupStats, TaskStats};
use crate::timing::Timing;
use crate::types::{CpuId, CpuSet, GroupId, Prio, ResourceId, TaskId, Time};

/// Run-time state of one task.
#[derive(Clone, Debug)]
struct Task {
    name: String,
    group: GroupId,
    base: Prio,
    eff: Prio,
    yield_boost: Option<Prio>,
    requested: Option<CpuSet>,
    cpus: CpuSet,
    slice: Time,
    /// Its timing contract; a job is released at each wake-up if it has a deadline.
    timing: Timing,
    state: TaskState,
    last_cpu: Option<CpuId>,
    wait_since: Time,
    woke_at: Option<Time>,
    member_pos: usize,
    stats: TaskStats,
}

/// The whole scheduler state. See the module documentation for the contract.
#[derive(Clone, Debug)]
pub struct System {
    cfg: SystemConfig,
    all: CpuSet,
    now: Time,
    cpus: Vec<Cpu>,
    idle: CpuSet,
    tasks: Vec<Task>,
    groups: Vec<Group>,
    rq: RunQueues,
    graph: WaitGraph,
    transitions: Transitions,
    reserve_grants: u64,
    dirty: CpuSet,
    work: Vec<TaskId>,
    pending: Vec<TaskId>,
    notes: Vec<Action>,
    timer: Option<Time>,
}

impl System {
    /// A system with `cfg.cpus` idle CPUs and the host group ([`GroupId::HOST`]).
    pub fn new(cfg: SystemConfig) -> Result<Self, ParamError> {
        cfg.validate()?;
        let all = CpuSet::all(cfg.cpus);
        let host = GroupParams::new("host", cfg.host_priority);
        Ok(System {
            all,
            now: 0,
            cpus: alloc::vec![Cpu::default(); cfg.cpus],
            idle: all,
            tasks: Vec::new(),
            groups: alloc::vec![Group::new(host, all, 0)],
            rq: RunQueues::new(),
            graph: WaitGraph::new(),
            transitions: Transitions::default(),
            reserve_grants: 0,
            dirty: CpuSet::empty(),
            work: Vec::new(),
            pending: Vec::new(),
            notes: Vec::new(),
            timer: None,
            cfg,
        })
    }

    // ----- configuration -------------------------------------------------------------------

    /// Adds a group, after validation and admission control. Its first period starts at `now`.
    pub fn add_group(&mut self, now: Time, params: GroupParams) -> Result<GroupId, Error> {
        params.validate(self.cfg.cpus)?;
        if self.groups.iter().any(|g| g.params.name == params.name) {
            return Err(Error::Param(ParamError {
                subject: Subject::Group(params.name.clone()),
                field: Field::Name,
                problem: Problem::Duplicate,
            }));
        }
        let mut all: Vec<&GroupParams> = self.groups.iter().map(|g| &g.params).collect();
        all.push(&params);
        admission::check(&all, self.cfg.cpus, self.cfg.utilization_bound_ppm)?;
        let cpus = params.cpus.unwrap_or(self.all);
        let now = now.max(self.now);
        self.groups.push(Group::new(params, cpus, now));
        Ok(GroupId((self.groups.len() - 1) as u32))
    }

    /// Adds a task, blocked ([`BlockReason::New`]) until its first [`System::wake`].
    pub fn add_task(&mut self, params: TaskParams) -> Result<TaskId, Error> {
        params.validate()?;
        let task_err = |field, problem| {
            Error::Param(ParamError {
                subject: Subject::Task(params.name.clone()),
                field,
                problem,
            })
        };
        let g = self
            .groups
            .get(params.group.index())
            .ok_or_else(|| task_err(Field::Group, Problem::Unknown))?;
        let cpus = self
            .effective_affinity(params.affinity, g)
            .map_err(|p| task_err(Field::Affinity, p))?;
        let id = TaskId(self.tasks.len() as u32);
        let base = params.priority.unwrap_or(g.params.priority);
        self.tasks.push(Task {
            name: params.name,
            group: params.group,
            base,
            eff: base,
            yield_boost: None,
            requested: params.affinity,
            cpus,
            slice: params.slice.unwrap_or(self.cfg.slice),
            timing: params.timing,
            state: TaskState::Blocked(BlockReason::New),
            last_cpu: None,
            wait_since: 0,
            woke_at: None,
            member_pos: 0,
            stats: TaskStats::default(),
        });
        let g = &mut self.groups[params.group.index()];
        self.tasks[id.index()].member_pos = g.members.len();
        g.members.push(id);
        self.rq.reserve_ids(self.tasks.len());
        self.graph.reserve_tasks(self.tasks.len());
        Ok(id)
    }

    fn effective_affinity(&self, req: Option<CpuSet>, g: &Group) -> Result<CpuSet, Problem> {
        let req = req.unwrap_or(self.all);
        if !req.is_subset(&self.all) {
            return Err(Problem::OutsideSystem);
        }
        let eff = req.intersection(&g.cpus);
        if eff.is_empty() {
            return Err(Problem::Zero);
        }
        Ok(eff)
    }

    // ----- events --------------------------------------------------------------------------

    /// Handles everything due at `now`: charges run time, passes period boundaries (budget
    /// replenishment, reservation windows), throttles groups out of budget, ends slices and
    /// grants the starvation reserve.
    pub fn tick(&mut self, now: Time, out: &mut Vec<Action>) {
        let _ = self.event(now, out, |_| Ok(()));
    }

    /// `t` becomes runnable (a job is released if it has a timing contract). A task that is
    /// not blocked is left as it is. A task waiting on a lock stops waiting.
    pub fn wake(&mut self, now: Time, t: TaskId, out: &mut Vec<Action>) -> Result<(), Error> {
        self.event(now, out, |s| s.wake_inner(t))
    }

    /// `t` blocks for `reason` (its job, if any, completes). For lock waits use
    /// [`System::lock_wait`], which also tracks inheritance and deadlocks.
    pub fn block(
        &mut self,
        now: Time,
        t: TaskId,
        reason: BlockReason,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| s.block_inner(t, reason))
    }

    /// The running task `t` yields: it goes behind the tasks of its level.
    pub fn yield_now(&mut self, now: Time, t: TaskId, out: &mut Vec<Action>) -> Result<(), Error> {
        self.event(now, out, |s| {
            let c = s.running_cpu(t)?;
            s.requeue_running(c);
            Ok(())
        })
    }

    /// Directed yield: the running task `from` gives up its CPU, and `to`, if ready or running,
    /// inherits `e(from)` if that is better, until `to` stops running (at most one slice) or
    /// leaves the ready state without running (blocks, is parked by a throttle).
    pub fn yield_to(
        &mut self,
        now: Time,
        from: TaskId,
        to: TaskId,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| {
            let c = s.running_cpu(from)?;
            s.live(to)?;
            let e = s.tasks[from.index()].eff;
            let target = &mut s.tasks[to.index()];
            let eligible = matches!(target.state, TaskState::Ready | TaskState::Running(_));
            if to != from && eligible && e < target.eff {
                target.yield_boost = Some(target.yield_boost.map_or(e, |b| b.min(e)));
                s.propagate(to, Some(from));
            }
            s.requeue_running(c);
            Ok(())
        })
    }

    /// `t` now owns `r` (an uncontended acquisition); it inherits from `r`'s waiters.
    pub fn lock_acquired(
        &mut self,
        now: Time,
        t: TaskId,
        r: ResourceId,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            s.set_owner(r, Some(t));
            Ok(())
        })
    }

    /// `w` blocks waiting for `r`, owned by `owner`. The owner chain inherits `e(w)` (to depth
    /// 16). Returns the wait-for cycle if this wait closes one (a deadlock).
    pub fn lock_wait(
        &mut self,
        now: Time,
        w: TaskId,
        r: ResourceId,
        owner: TaskId,
        out: &mut Vec<Action>,
    ) -> Result<Option<Cycle>, Error> {
        self.event(now, out, |s| {
            s.live(owner)?;
            s.block_inner(w, BlockReason::Lock(r))?;
            s.set_owner(r, Some(owner));
            s.graph.add_wait(w, r);
            let cycle = s.graph.find_cycle(w);
            if cycle.is_some() {
                s.notes.push(Action::Deadlock { waiter: w });
            }
            s.propagate(owner, Some(w));
            Ok(cycle)
        })
    }

    /// `owner` releases `r`. If `next` is given, the lock is handed to that waiter, which stops
    /// waiting, owns `r` and wakes. Inherited priorities are recomputed from the remaining
    /// waiters.
    pub fn lock_release(
        &mut self,
        now: Time,
        owner: TaskId,
        r: ResourceId,
        next: Option<TaskId>,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(owner)?;
            if let Some(n) = next {
                s.live(n)?;
            }
            s.set_owner(r, next);
            s.pending.push(owner);
            if let Some(n) = next {
                if s.graph.waiting_on(n) == Some(r) {
                    s.graph.clear_wait(n);
                }
                s.wake_inner(n)?;
            }
            Ok(())
        })
    }

    /// `t` exits: it leaves its CPU or queue, stops waiting, and frees what it owns.
    pub fn exit(&mut self, now: Time, t: TaskId, out: &mut Vec<Action>) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            s.leave(t, TaskState::Exited);
            s.complete_job(t);
            if let Some(r) = s.graph.clear_wait(t) {
                s.pending.extend(s.graph.owner(r));
            }
            s.graph.remove_task(t);
            let g = s.tasks[t.index()].group.index();
            let pos = s.tasks[t.index()].member_pos;
            let members = &mut s.groups[g].members;
            members.swap_remove(pos);
            if let Some(&moved) = members.get(pos) {
                s.tasks[moved.index()].member_pos = pos;
            }
            Ok(())
        })
    }

    /// Changes the base priority of `t`.
    pub fn set_priority(
        &mut self,
        now: Time,
        t: TaskId,
        prio: Prio,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            s.tasks[t.index()].base = prio;
            s.pending.push(t);
            Ok(())
        })
    }

    /// Changes the affinity of `t` (intersected with its group's CPUs). A running task outside
    /// its new set is moved off its CPU.
    pub fn set_affinity(
        &mut self,
        now: Time,
        t: TaskId,
        cpus: CpuSet,
        out: &mut Vec<Action>,
    ) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            let g = &s.groups[s.tasks[t.index()].group.index()];
            let eff = s.effective_affinity(Some(cpus), g).map_err(|problem| {
                Error::Param(ParamError {
                    subject: Subject::Task(s.tasks[t.index()].name.clone()),
                    field: Field::Affinity,
                    problem,
                })
            })?;
            let task = &mut s.tasks[t.index()];
            task.requested = Some(cpus);
            task.cpus = eff;
            match task.state {
                TaskState::Ready => {
                    let (p, tier) = (task.eff, s.tier(t));
                    s.rq.requeue(t, eff, p, tier);
                    s.place(t);
                }
                TaskState::Running(c) if !eff.contains(c) => {
                    s.stop(c);
                    s.set_state(t, TaskState::Ready);
                    s.enqueue(t, true);
                    s.resched(c);
                    s.place(t);
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// Suspends `t` (e.g. a paused VM) until [`System::resume`]. A lock wait is abandoned.
    pub fn suspend(&mut self, now: Time, t: TaskId, out: &mut Vec<Action>) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            if s.tasks[t.index()].state == TaskState::Suspended {
                return Err(s.invalid(t));
            }
            s.leave(t, TaskState::Suspended);
            if let Some(r) = s.graph.clear_wait(t) {
                s.pending.extend(s.graph.owner(r));
            }
            Ok(())
        })
    }

    /// Resumes a suspended task: it becomes runnable.
    pub fn resume(&mut self, now: Time, t: TaskId, out: &mut Vec<Action>) -> Result<(), Error> {
        self.event(now, out, |s| {
            s.live(t)?;
            if s.tasks[t.index()].state != TaskState::Suspended {
                return Err(s.invalid(t));
            }
            s.make_runnable(t);
            Ok(())
        })
    }

    // ----- queries -------------------------------------------------------------------------

    /// The configuration.
    pub fn config(&self) -> &SystemConfig {
        &self.cfg
    }

    /// The latest time seen.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Number of CPUs.
    pub fn cpu_count(&self) -> usize {
        self.cpus.len()
    }

    /// Number of tasks ever added (ids are `0..task_count()`).
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }

    /// Number of groups, the host group included (ids are `0..group_count()`).
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// What `cpu` runs.
    pub fn current(&self, cpu: CpuId) -> Option<TaskId> {
        self.cpus.get(cpu).and_then(|c| c.current)
    }

    /// The state of `cpu`.
    pub fn cpu(&self, cpu: CpuId) -> Option<&Cpu> {
        self.cpus.get(cpu)
    }

    /// The state of `t`.
    pub fn state(&self, t: TaskId) -> Option<TaskState> {
        self.tasks.get(t.index()).map(|x| x.state)
    }

    /// The base priority of `t`.
    pub fn base_prio(&self, t: TaskId) -> Option<Prio> {
        self.tasks.get(t.index()).map(|x| x.base)
    }

    /// The effective priority `e(t)` (base and boosts).
    pub fn effective_prio(&self, t: TaskId) -> Option<Prio> {
        self.tasks.get(t.index()).map(|x| x.eff)
    }

    /// The rank of `t`: its tier (1 when its group is throttled in background mode) and its
    /// effective priority; smaller runs first.
    pub fn rank(&self, t: TaskId) -> Option<Rank> {
        (t.index() < self.tasks.len()).then(|| self.rank_of(t))
    }

    /// The CPUs `t` may use (its affinity within its group's CPUs).
    pub fn affinity(&self, t: TaskId) -> Option<CpuSet> {
        self.tasks.get(t.index()).map(|x| x.cpus)
    }

    /// The group of `t`.
    pub fn group_of(&self, t: TaskId) -> Option<GroupId> {
        self.tasks.get(t.index()).map(|x| x.group)
    }

    /// The name of `t`.
    pub fn task_name(&self, t: TaskId) -> Option<&str> {
        self.tasks.get(t.index()).map(|x| x.name.as_str())
    }

    /// Whether `t` is queued (ready, not running).
    pub fn is_queued(&self, t: TaskId) -> bool {
        self.rq.contains(t)
    }

    /// Since when the queued task `t` has waited for a CPU.
    pub fn queued_since(&self, t: TaskId) -> Option<Time> {
        self.rq.since(t)
    }

    /// Statistics of `t`.
    pub fn task_stats(&self, t: TaskId) -> Option<&TaskStats> {
        self.tasks.get(t.index()).map(|x| &x.stats)
    }

    /// Jobs of `t`.
    pub fn jobs(&self, t: TaskId) -> Option<&Jobs> {
        self.tasks.get(t.index()).map(|x| &x.stats.jobs)
    }

    /// A group's run-time state (budget left, throttled, members, window).
    pub fn group(&self, g: GroupId) -> Option<&Group> {
        self.groups.get(g.index())
    }

    /// Statistics of group `g`.
    pub fn group_stats(&self, g: GroupId) -> Option<&GroupStats> {
        self.groups.get(g.index()).map(|x| &x.stats)
    }

    /// Counts of the state transitions taken.
    pub fn transitions(&self) -> &Transitions {
        &self.transitions
    }

    /// Slices granted by the starvation reserve, in all.
    pub fn reserve_grants(&self) -> u64 {
        self.reserve_grants
    }

    /// The wait-for graph (lock waits and owners).
    pub fn wait_graph(&self) -> &WaitGraph {
        &self.graph
    }

    /// When `tick` should be called next.
    pub fn next_timer(&self) -> Option<Time> {
        self.timer
    }

    // ----- event plumbing ------------------------------------------------------------------

    fn event<R>(
        &mut self,
        now: Time,
        out: &mut Vec<Action>,
        f: impl FnOnce(&mut Self) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.catch_up(now);
        let r = f(self);
        self.finish(out);
        r
    }

    fn catch_up(&mut self, now: Time) {
        let now = now.max(self.now);
        self.now = now;
        self.charge(now);
        for g in 0..self.groups.len() {
            let group = &mut self.groups[g];
            group.accrue(now);
            let was_throttled = group.throttled;
            if let Some(miss) = group.roll(now) {
                let id = GroupId(g as u32);
                self.notes.push(Action::Replenished { group: id });
                if let Some(shortfall) = miss {
                    self.notes.push(Action::SupplyMiss {
                        group: id,
                        shortfall,
                    });
                }
                if was_throttled {
                    self.unthrottle(g);
                }
            }
            if self.groups[g].exhausted() {
                self.throttle(g);
            }
        }
        for c in 0..self.cpus.len() {
            if self.cpus[c].current.is_some() && self.cpus[c].slice_end <= now {
                self.requeue_running(c);
            }
        }
        self.grant_reserve(now);
    }

    fn finish(&mut self, out: &mut Vec<Action>) {
        while let Some(t) = self.pending.pop() {
            self.propagate(t, None);
        }
        for c in self.dirty.iter() {
            out.push(match self.cpus[c].current {
                Some(task) => Action::Run {
                    cpu: c,
                    task,
                    slice_end: self.cpus[c].slice_end,
                },
                None => Action::Idle { cpu: c },
            });
        }
        self.dirty = CpuSet::empty();
        out.append(&mut self.notes);
        let next = self.compute_timer();
        if next != self.timer {
            self.timer = next;
            if let Some(at) = next {
                out.push(Action::Timer { at });
            }
        }
    }

    fn compute_timer(&self) -> Option<Time> {
        let now = self.now;
        let slices = self
            .cpus
            .iter()
            .filter(|c| c.current.is_some())
            .map(|c| c.slice_end);
        let groups = self.groups.iter().filter_map(|g| g.next_due(now));
        let reserve = self
            .rq
            .oldest()
            .map(|(_, since)| since.saturating_add(self.cfg.reserve))
            .filter(|&d| d > now);
        slices.chain(groups).chain(reserve).min()
    }

    // ----- helpers -------------------------------------------------------------------------

    fn live(&self, t: TaskId) -> Result<(), Error> {
        match self.tasks.get(t.index()) {
            None => Err(Error::UnknownTask(t)),
            Some(x) if x.state == TaskState::Exited => Err(self.invalid(t)),
            Some(_) => Ok(()),
        }
    }

    fn invalid(&self, t: TaskId) -> Error {
        Error::InvalidState {
            task: t,
            state: self.tasks[t.index()].state.kind(),
        }
    }

    fn running_cpu(&self, t: TaskId) -> Result<CpuId, Error> {
        self.live(t)?;
        match self.tasks[t.index()].state {
            TaskState::Running(c) => Ok(c),
            _ => Err(self.invalid(t)),
        }
    }

    /// Applies `f` to the counters of `t` and of its group.
    fn count(&mut self, t: TaskId, f: impl Fn(&mut Counters)) {
        let task = &mut self.tasks[t.index()];
        f(&mut task.stats.counters);
        f(&mut self.groups[task.group.index()].stats.counters);
    }

    fn tier(&self, t: TaskId) -> u8 {
        u8::from(self.groups[self.tasks[t.index()].group.index()].demoted())
    }

    fn rank_of(&self, t: TaskId) -> Rank {
        rank(self.tier(t), self.tasks[t.index()].eff)
    }

    fn set_state(&mut self, t: TaskId, new: TaskState) {
        let now = self.now;
        let task = &mut self.tasks[t.index()];
        let old = task.state;
        debug_assert!(
            crate::state::allowed(old.kind(), new.kind()),
            "illegal transition {old:?} -> {new:?} of task {}",
            t.0
        );
        self.transitions.record(old.kind(), new.kind());
        task.state = new;
        let waiting = |s: TaskState| matches!(s, TaskState::Ready | TaskState::Throttled);
        let since = task.wait_since;
        if !waiting(old) && waiting(new) {
            task.wait_since = now;
        }
        let g = &mut self.groups[task.group.index()];
        match (old.is_runnable(), new.is_runnable()) {
            (false, true) => g.runnable += 1,
            (true, false) => g.runnable -= 1,
            _ => {}
        }
        if waiting(old) && !waiting(new) {
            self.count(t, |c| c.wait += now - since);
        }
    }

    fn enqueue(&mut self, t: TaskId, front: bool) {
        let (cpus, p, tier) = (
            self.tasks[t.index()].cpus,
            self.tasks[t.index()].eff,
            self.tier(t),
        );
        self.rq.insert(t, cpus, p, tier, front, self.now);
    }

    /// Charges every running task and its group up to `now`.
    fn charge(&mut self, now: Time) {
        for c in 0..self.cpus.len() {
            let Some(t) = self.cpus[c].current else {
                continue;
            };
            let dt = now - self.cpus[c].charged_to;
            self.cpus[c].charged_to = now;
            if dt > 0 {
                self.count(t, |k| k.runtime += dt);
                self.groups[self.tasks[t.index()].group.index()].charge(dt);
            }
        }
    }

    /// Puts the queued (or just created-runnable) `t` on `c`.
    fn dispatch(&mut self, c: CpuId, t: TaskId, reserve: bool) {
        let now = self.now;
        self.rq.remove(t);
        if let Some(w) = self.tasks[t.index()].woke_at.take() {
            self.count(t, |k| k.wakeup_latency.record(now - w));
        }
        if self.tasks[t.index()].last_cpu.is_some_and(|p| p != c) {
            self.count(t, |k| k.migrations += 1);
        }
        self.count(t, |k| k.dispatches += 1);
        self.set_state(t, TaskState::Running(c));
        let task = &mut self.tasks[t.index()];
        task.last_cpu = Some(c);
        let g = &mut self.groups[task.group.index()];
        g.running += 1;
        let slice = task.slice.min(g.slice_cap()).max(1);
        self.cpus[c] = Cpu {
            current: Some(t),
            slice_end: now.saturating_add(slice),
            reserve,
            charged_to: now,
        };
        self.idle.remove(c);
        self.dirty.insert(c);
    }

    /// Takes the current task off `c` (the caller gives it its new state). A directed-yield
    /// boost ends here.
    fn stop(&mut self, c: CpuId) -> TaskId {
        let t = self.cpus[c].current.take().expect("stop on an idle cpu");
        self.cpus[c].reserve = false;
        self.idle.insert(c);
        self.dirty.insert(c);
        let task = &mut self.tasks[t.index()];
        self.groups[task.group.index()].running -= 1;
        if task.yield_boost.take().is_some() {
            self.pending.push(t);
        }
        t
    }

    /// Replaces the task on `c` by `t`; the old one is queued at the head of its level and
    /// returned (the caller places it).
    fn preempt(&mut self, c: CpuId, t: TaskId, reserve: bool) -> TaskId {
        let old = self.stop(c);
        self.set_state(old, TaskState::Ready);
        self.enqueue(old, true);
        self.count(old, |k| k.preemptions += 1);
        self.dispatch(c, t, reserve);
        old
    }

    /// An idle `c` takes the best task allowed on it.
    fn resched(&mut self, c: CpuId) {
        if self.cpus[c].current.is_none() {
            if let Some((t, _)) = self.rq.best_for(c) {
                self.dispatch(c, t, false);
            }
        }
    }

    /// After the task on `c` got worse (or left): runs the best task for `c` if it is better.
    fn recheck(&mut self, c: CpuId) {
        let Some(cur) = self.cpus[c].current else {
            return self.resched(c);
        };
        if self.cpus[c].reserve {
            return;
        }
        if let Some((t, r)) = self.rq.best_for(c) {
            if r < self.rank_of(cur) {
                let old = self.preempt(c, t, false);
                self.place(old);
            }
        }
    }

    /// The running task of `c` goes behind its level (slice end, yield); `c` picks again and the
    /// old task is placed like a newcomer.
    fn requeue_running(&mut self, c: CpuId) {
        let t = self.stop(c);
        self.set_state(t, TaskState::Ready);
        self.enqueue(t, false);
        self.resched(c);
        self.place(t);
    }

    /// Finds a CPU for the queued `t` (POLICY 4), cascading to tasks it displaces.
    fn place(&mut self, t: TaskId) {
        self.work.push(t);
        while let Some(t) = self.work.pop() {
            if !self.rq.contains(t) {
                continue;
            }
            let task = &self.tasks[t.index()];
            let choice = cpu::choose(
                &self.cpus,
                &self.idle,
                &task.cpus,
                task.last_cpu,
                self.rank_of(t),
                |c| self.rank_of(self.cpus[c].current.expect("busy")),
            );
            match choice {
                Some(Placement::Idle(c)) => self.dispatch(c, t, false),
                Some(Placement::Preempt(c)) => {
                    let old = self.preempt(c, t, false);
                    self.work.push(old);
                }
                None => {}
            }
        }
    }

    /// A blocked or suspended `t` becomes runnable: queued and placed, or parked if its group
    /// is throttled.
    fn make_runnable(&mut self, t: TaskId) {
        if self.groups[self.tasks[t.index()].group.index()].parked() {
            self.set_state(t, TaskState::Throttled);
        } else {
            self.set_state(t, TaskState::Ready);
            self.enqueue(t, false);
            self.place(t);
        }
    }

    /// `t` leaves the CPU, queue or park for `to` (blocked, suspended, exited). A directed-yield
    /// boost ends here too.
    fn leave(&mut self, t: TaskId, to: TaskState) {
        if self.tasks[t.index()].yield_boost.take().is_some() {
            self.pending.push(t);
        }
        match self.tasks[t.index()].state {
            TaskState::Running(c) => {
                self.stop(c);
                self.set_state(t, to);
                self.resched(c);
            }
            TaskState::Ready => {
                self.rq.remove(t);
                self.set_state(t, to);
            }
            _ => self.set_state(t, to),
        }
    }

    fn wake_inner(&mut self, t: TaskId) -> Result<(), Error> {
        self.live(t)?;
        if !matches!(self.tasks[t.index()].state, TaskState::Blocked(_)) {
            return Ok(());
        }
        if let Some(r) = self.graph.clear_wait(t) {
            self.pending.extend(self.graph.owner(r));
        }
        let now = self.now;
        let task = &mut self.tasks[t.index()];
        if task.timing.relative_deadline().is_some() {
            let rt = task.stats.counters.runtime;
            task.stats.jobs.release(now, rt);
        }
        task.woke_at = Some(now);
        self.make_runnable(t);
        Ok(())
    }

    fn block_inner(&mut self, t: TaskId, reason: BlockReason) -> Result<(), Error> {
        self.live(t)?;
        if !self.tasks[t.index()].state.is_runnable() {
            return Err(self.invalid(t));
        }
        self.leave(t, TaskState::Blocked(reason));
        self.complete_job(t);
        Ok(())
    }

    fn complete_job(&mut self, t: TaskId) {
        let now = self.now;
        let task = &mut self.tasks[t.index()];
        let Some(deadline) = task.timing.relative_deadline() else {
            return;
        };
        let rt = task.stats.counters.runtime;
        if let Some(o) = task.stats.jobs.complete(now, rt, &task.timing) {
            if o.missed {
                self.count(t, |k| k.misses += 1);
                self.notes.push(Action::DeadlineMiss {
                    task: t,
                    lateness: o.response - deadline,
                });
            }
        }
    }

    fn set_owner(&mut self, r: ResourceId, owner: Option<TaskId>) {
        let prev = self.graph.set_owner(r, owner);
        if prev != owner {
            self.pending.extend(prev);
            self.pending.extend(owner);
        }
    }

    /// Recomputes `e` from `start` along its owner chain (at most [`MAX_DEPTH`] tasks),
    /// stopping where nothing changes. `giver` is credited with a boost given if someone was
    /// raised.
    fn propagate(&mut self, start: TaskId, giver: Option<TaskId>) {
        let mut t = start;
        let mut raised = false;
        for _ in 0..MAX_DEPTH {
            let task = &self.tasks[t.index()];
            if task.state == TaskState::Exited {
                break;
            }
            let new = boost::effective(&self.graph, t, task.base, task.yield_boost, |w| {
                self.tasks[w.index()].eff
            });
            let (old, base) = (task.eff, task.base);
            if new == old {
                break;
            }
            self.set_eff(t, new);
            if new < old && new < base {
                self.count(t, |k| k.boosts_received += 1);
                raised = true;
            }
            match self.graph.blocker(t) {
                Some(o) => t = o,
                None => break,
            }
        }
        if let (true, Some(g)) = (raised, giver) {
            self.count(g, |k| k.boosts_given += 1);
        }
    }

    fn set_eff(&mut self, t: TaskId, new: Prio) {
        let task = &mut self.tasks[t.index()];
        let old = task.eff;
        task.eff = new;
        match task.state {
            TaskState::Ready => {
                let cpus = task.cpus;
                let tier = self.tier(t);
                self.rq.requeue(t, cpus, new, tier);
                if new < old {
                    self.place(t);
                }
            }
            TaskState::Running(c) if new > old => self.recheck(c),
            _ => {}
        }
    }

    /// The group's budget ran out: park (or demote) its tasks at once.
    fn throttle(&mut self, g: usize) {
        let group = &mut self.groups[g];
        group.throttled = true;
        group.stats.group_throttles += 1;
        let parked = group.parked();
        self.notes.push(Action::Throttled {
            group: GroupId(g as u32),
        });
        let mut affected = CpuSet::empty();
        for i in 0..self.groups[g].members.len() {
            let t = self.groups[g].members[i];
            match self.tasks[t.index()].state {
                TaskState::Running(c) => {
                    affected.insert(c);
                    if parked {
                        self.stop(c);
                        self.set_state(t, TaskState::Throttled);
                        self.count(t, |k| k.throttles += 1);
                    }
                }
                TaskState::Ready if parked => {
                    if self.tasks[t.index()].yield_boost.take().is_some() {
                        self.pending.push(t);
                    }
                    self.rq.remove(t);
                    self.set_state(t, TaskState::Throttled);
                    self.count(t, |k| k.throttles += 1);
                }
                TaskState::Ready => {
                    let task = &self.tasks[t.index()];
                    self.rq.requeue(t, task.cpus, task.eff, 1);
                }
                _ => {}
            }
        }
        for c in affected.iter() {
            self.recheck(c);
        }
    }

    /// The group got its budget back: its parked or demoted tasks compete normally again.
    fn unthrottle(&mut self, g: usize) {
        for i in 0..self.groups[g].members.len() {
            let t = self.groups[g].members[i];
            match self.tasks[t.index()].state {
                TaskState::Throttled => {
                    self.set_state(t, TaskState::Ready);
                    self.enqueue(t, false);
                    self.place(t);
                }
                TaskState::Ready => {
                    let task = &self.tasks[t.index()];
                    self.rq.requeue(t, task.cpus, task.eff, 0);
                    self.place(t);
                }
                _ => {}
            }
        }
    }

    /// The starvation reserve: every task queued for `reserve` or longer gets one slice on an
    /// allowed CPU (preempting the worst task there), oldest first, while CPUs not already
    /// running a grant remain; at most 64 waiters are looked at per call.
    fn grant_reserve(&mut self, now: Time) {
        let mut cursor = self.rq.oldest();
        // CPUs a grant may still take: those not already running one.
        let mut open = self.all;
        for (c, cpu) in self.cpus.iter().enumerate() {
            if cpu.reserve {
                open.remove(c);
            }
        }
        for _ in 0..64 {
            let Some((t, since)) = cursor else { break };
            if since.saturating_add(self.cfg.reserve) > now || open.is_empty() {
                break;
            }
            let next = self.rq.next_oldest(t);
            let task = &self.tasks[t.index()];
            let allowed = task.cpus.intersection(&open);
            if !allowed.is_empty() {
                let victim = cpu::victim(&self.cpus, &allowed, task.last_cpu, |c| {
                    self.rank_of(self.cpus[c].current.expect("busy"))
                });
                if let Some((c, _)) = victim {
                    let old = self.preempt(c, t, true);
                    self.place(old);
                    self.count(t, |k| k.reserve_grants += 1);
                    self.reserve_grants += 1;
                    self.notes.push(Action::ReserveGrant { cpu: c, task: t });
                    open.remove(c);
                }
            }
            cursor = next.filter(|(n, _)| self.rq.contains(*n));
        }
    }
}
