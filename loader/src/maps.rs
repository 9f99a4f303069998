// SPDX-License-Identifier: GPL-2.0-only
//
// maps.rs - the typed interface between the loader and the BPF tier's maps (layouts in
// ../bpf/intf.h): per-group and per-thread parameters written by user space, cpu.max budgets
// on kernels without ops.cgroup_set_bandwidth, the generation counter that makes the BPF tier
// re-resolve tasks, and the statistics and events it produces. Everything goes through owned
// map handles (duplicated fds), so a `Maps` can live apart from the skeleton and move between
// threads.

//! Typed, safe access to the BPF tier's maps.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::bpf_intf;
use crate::bpf_skel::BpfSkel;

/// Number of wakeup-latency histogram buckets; bucket `i` counts waits of `[2^i, 2^(i+1))` ns.
pub const LAT_BUCKETS: usize = bpf_intf::AXRT_LAT_BUCKETS as usize;
/// Number of group slots, the host group (slot 0) included.
pub const MAX_GROUPS: u32 = bpf_intf::AXRT_MAX_GROUPS;
/// Names of the global counters, in `enum axrt_stat` order.
pub const STAT_NAMES: [&str; bpf_intf::axrt_stat_AXRT_NR_STATS as usize] = [
    "direct",
    "queued",
    "dispatched",
    "kicks",
    "kept",
    "preempt_kicks",
    "parked",
    "background",
    "reserve",
    "bg_run",
    "resolved",
    "ev_drop",
    "boosts",
    "lock_waits",
    "deadlocks",
];

/// What a group does when its budget runs out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Overrun {
    /// Nothing of the group runs until the next period boundary.
    #[default]
    Throttle,
    /// The group's tasks run only on a CPU that would otherwise idle.
    Background,
}

impl Overrun {
    fn to_raw(self) -> u32 {
        match self {
            Overrun::Throttle => bpf_intf::axrt_overrun_AXRT_OVERRUN_THROTTLE,
            Overrun::Background => bpf_intf::axrt_overrun_AXRT_OVERRUN_BACKGROUND,
        }
    }

    fn from_raw(raw: u32) -> Self {
        if raw == bpf_intf::axrt_overrun_AXRT_OVERRUN_BACKGROUND {
            Overrun::Background
        } else {
            Overrun::Throttle
        }
    }
}

/// A group (VM) as configured: a cgroup and everything below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupSpec {
    /// Default priority of the group's tasks (0 is the best).
    pub prio: u8,
    /// Budget per period in ns; 0 = no budget from the configuration. A cgroup whose cpu.max is
    /// not "max" uses its cpu.max instead.
    pub quota_ns: u64,
    /// Period in ns; required (non-zero) when `quota_ns` is.
    pub period_ns: u64,
    /// What happens when the budget runs out.
    pub overrun: Overrun,
}

/// A per-thread override inside its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskSpec {
    /// Base priority; `None` = the group's.
    pub prio: Option<u8>,
    /// Time slice in ns; `None` = the scheduler's default.
    pub slice_ns: Option<u64>,
    /// Timing contract: period in ns; `None` = no jobs tracked.
    pub period_ns: Option<u64>,
    /// Relative deadline in ns; `None` = the period.
    pub deadline_ns: Option<u64>,
    /// Worst-case execution time per job in ns; `None` = not checked.
    pub wcet_ns: Option<u64>,
}

/// Per-thread statistics of a thread with a spec (cumulative since it got its spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskStats {
    /// Jobs completed.
    pub jobs: u64,
    /// Jobs over their deadline.
    pub misses: u64,
    /// Jobs that ran longer than the WCET.
    pub wcet_overruns: u64,
    /// Worst lateness (response - deadline) of a missed job, ns.
    pub max_lateness_ns: u64,
    /// Worst response time, ns.
    pub max_response_ns: u64,
    /// Boosts it received.
    pub boosts_received: u64,
    /// Boosts it gave.
    pub boosts_given: u64,
    /// Response times, log2 buckets (see [`LAT_BUCKETS`]).
    pub resp_hist: [u64; LAT_BUCKETS],
}

/// Counters and the wakeup-latency histogram of one group (or of all, summed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStats {
    /// CPU time of the group's tasks, ns.
    pub runtime_ns: u64,
    /// Times a task of the group was given a CPU.
    pub dispatches: u64,
    /// CPUs kicked to preempt a worse task for a task of the group.
    pub preemptions: u64,
    /// Times the budget ran out.
    pub throttles: u64,
    /// Period boundaries that refilled the budget.
    pub replenishments: u64,
    /// Slices given by the starvation reserve.
    pub reserve_grants: u64,
    /// Jobs of its timed threads completed.
    pub jobs: u64,
    /// Of which over their deadline.
    pub deadline_misses: u64,
    /// Of which ran longer than their WCET.
    pub wcet_overruns: u64,
    /// Reservation windows (budget periods) closed.
    pub windows: u64,
    /// Of which supplied less than min(quota, demand) minus the slack.
    pub supply_misses: u64,
    /// Runnable time of its tasks over the closed windows, ns.
    pub demand_ns: u64,
    /// Budget used over the closed windows, ns.
    pub supply_ns: u64,
    /// Boosts its tasks received (directed yields, lock chains).
    pub boosts_received: u64,
    /// Boosts its tasks gave.
    pub boosts_given: u64,
    /// Enqueue-to-running latency, log2 buckets (see [`LAT_BUCKETS`]).
    pub lat_hist: [u64; LAT_BUCKETS],
    /// Directed yield to the boosted task running, log2 buckets.
    pub boost_hist: [u64; LAT_BUCKETS],
}

impl Default for GroupStats {
    fn default() -> Self {
        Self::from_raw(&zeroed())
    }
}

/// Applies `f` to every counter of two `GroupStats` side by side: the one list of fields that
/// adding and subtracting share.
fn zip_counters(a: &mut GroupStats, b: &GroupStats, f: impl Fn(&mut u64, u64)) {
    let pairs = [
        (&mut a.runtime_ns, b.runtime_ns),
        (&mut a.dispatches, b.dispatches),
        (&mut a.preemptions, b.preemptions),
        (&mut a.throttles, b.throttles),
        (&mut a.replenishments, b.replenishments),
        (&mut a.reserve_grants, b.reserve_grants),
        (&mut a.jobs, b.jobs),
        (&mut a.deadline_misses, b.deadline_misses),
        (&mut a.wcet_overruns, b.wcet_overruns),
        (&mut a.windows, b.windows),
        (&mut a.supply_misses, b.supply_misses),
        (&mut a.demand_ns, b.demand_ns),
        (&mut a.supply_ns, b.supply_ns),
        (&mut a.boosts_received, b.boosts_received),
        (&mut a.boosts_given, b.boosts_given),
    ];
    for (x, y) in pairs {
        f(x, y);
    }
    for (x, y) in a.lat_hist.iter_mut().zip(b.lat_hist) {
        f(x, y);
    }
    for (x, y) in a.boost_hist.iter_mut().zip(b.boost_hist) {
        f(x, y);
    }
}

/// Upper bound (ns, a power of two) of the log2 bucket holding the `q`-quantile (0..=1) of
/// `hist`, or `None` without samples.
pub fn hist_quantile_ns(hist: &[u64; LAT_BUCKETS], q: f64) -> Option<u64> {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return None;
    }
    let want = ((total as f64) * q.clamp(0.0, 1.0)).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want {
            return Some(1u64 << (i + 1).min(63));
        }
    }
    Some(1u64 << LAT_BUCKETS)
}

impl GroupStats {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &GroupStats) {
        zip_counters(self, o, |a, b| *a += b);
    }

    /// `self - prev`, counter by counter, never below zero.
    pub fn since(&self, prev: &GroupStats) -> GroupStats {
        let mut d = *self;
        zip_counters(&mut d, prev, |a, b| *a = a.saturating_sub(b));
        d
    }

    /// Upper bound (ns, a power of two) of the bucket holding the `q`-quantile (0..=1) of the
    /// wakeup latencies, or `None` without samples.
    pub fn lat_quantile_ns(&self, q: f64) -> Option<u64> {
        hist_quantile_ns(&self.lat_hist, q)
    }

    fn from_raw(r: &bpf_intf::axrt_group_stats) -> Self {
        Self {
            runtime_ns: r.runtime_ns,
            dispatches: r.dispatches,
            preemptions: r.preemptions,
            throttles: r.throttles,
            replenishments: r.replenishments,
            reserve_grants: r.reserve_grants,
            jobs: r.jobs,
            deadline_misses: r.deadline_misses,
            wcet_overruns: r.wcet_overruns,
            windows: r.windows,
            supply_misses: r.supply_misses,
            demand_ns: r.demand_ns,
            supply_ns: r.supply_ns,
            boosts_received: r.boosts_received,
            boosts_given: r.boosts_given,
            lat_hist: r.lat_hist,
            boost_hist: r.boost_hist,
        }
    }
}

impl TaskStats {
    fn from_raw(r: &bpf_intf::axrt_task_stats) -> Self {
        Self {
            jobs: r.jobs,
            misses: r.misses,
            wcet_overruns: r.wcet_overruns,
            max_lateness_ns: r.max_lateness_ns,
            max_response_ns: r.max_response_ns,
            boosts_received: r.boosts_received,
            boosts_given: r.boosts_given,
            resp_hist: r.resp_hist,
        }
    }
}

/// The live state of a group slot, as the BPF tier keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupState {
    /// The group's cgroup id.
    pub cgid: u64,
    /// Slot index (1..MAX_GROUPS).
    pub slot: u32,
    /// Budget in force this period (ns), 0 = none.
    pub quota_ns: u64,
    /// Period (ns).
    pub period_ns: u64,
    /// Budget left this period (ns; negative = overrun).
    pub budget_ns: i64,
    /// Default priority of the group's tasks.
    pub prio: u32,
    /// Overrun mode.
    pub overrun: Overrun,
    /// Budget used up in this period.
    pub throttled: bool,
    /// Tasks of the group on a CPU right now.
    pub nr_running: i32,
}

/// One record of the event ring buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// bpf_ktime_get_ns() when it happened.
    pub ts_ns: u64,
    /// Cgroup id of the group concerned (0 = host).
    pub cgid: u64,
    /// Thread concerned, 0 if none.
    pub pid: i32,
    /// CPU it happened on.
    pub cpu: i32,
    /// Priority concerned (group's or task's).
    pub prio: u32,
    /// Kind-specific: overrun ns (throttle), unused budget ns (replenish), wait ns (reserve),
    /// lateness ns (miss), job CPU ns (WCET overrun), supply ns (supply miss), the priority
    /// before (boost), the boost's length in ns (boost end), cycle length (deadlock).
    pub arg: u64,
    /// Kind-specific: response ns (miss), WCET ns (WCET overrun), min(quota, demand) ns
    /// (supply miss), the cause (boost, boost end), detection latency ns (deadlock).
    pub arg2: u64,
    /// The other thread: who gave a boost, 0 if none.
    pub other: i32,
    /// A deadlock's cycle: each thread and the futex it waits on (owned by the next one).
    pub cycle: Vec<LockEdge>,
}

/// One edge of a wait-for cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEdge {
    /// The waiting thread.
    pub tid: i32,
    /// Its process.
    pub tgid: u32,
    /// The address of the futex word it waits on, in that process.
    pub addr: u64,
    /// Its name when the cycle closed.
    pub comm: String,
}

/// Kinds of [`Event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A group's budget ran out.
    Throttle,
    /// A period boundary refilled a group's budget.
    Replenish,
    /// The starvation reserve gave a waiting task a slice.
    ReserveGrant,
    /// A job missed its deadline.
    DeadlineMiss,
    /// A job ran longer than its WCET.
    WcetOverrun,
    /// A reservation window supplied less than its group was owed.
    SupplyMiss,
    /// A task was boosted (directed yield or lock chain; see [`Event::arg2`]).
    Boost,
    /// A task's boost ended.
    BoostEnd,
    /// A wait-for cycle ([`Event::cycle`]).
    Deadlock,
    /// A kind this loader does not know.
    Other(u32),
}

impl EventKind {
    /// The name used in the event stream (`--events`).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Throttle => "throttle",
            EventKind::Replenish => "replenish",
            EventKind::ReserveGrant => "reserve",
            EventKind::DeadlineMiss => "miss",
            EventKind::WcetOverrun => "wcet_overrun",
            EventKind::SupplyMiss => "supply_miss",
            EventKind::Boost => "boost",
            EventKind::BoostEnd => "boost_end",
            EventKind::Deadlock => "deadlock",
            EventKind::Other(_) => "unknown",
        }
    }
}

/// The name of a boost cause (an event's `arg2`).
pub fn boost_cause(raw: u64) -> &'static str {
    match raw {
        x if x == u64::from(bpf_intf::axrt_boost_cause_AXRT_BOOST_YIELD) => "yield",
        x if x == u64::from(bpf_intf::axrt_boost_cause_AXRT_BOOST_LOCK) => "lock",
        _ => "unknown",
    }
}

/// Decodes one ring-buffer record (as handed to a `libbpf_rs::RingBufferBuilder` callback).
pub fn parse_event(data: &[u8]) -> Option<Event> {
    let raw: bpf_intf::axrt_event = from_bytes(data)?;
    let kind = match raw.kind {
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_THROTTLE => EventKind::Throttle,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_REPLENISH => EventKind::Replenish,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_RESERVE => EventKind::ReserveGrant,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_MISS => EventKind::DeadlineMiss,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_WCET => EventKind::WcetOverrun,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_SUPPLY_MISS => EventKind::SupplyMiss,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_BOOST => EventKind::Boost,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_BOOST_END => EventKind::BoostEnd,
        k if k == bpf_intf::axrt_event_kind_AXRT_EV_DEADLOCK => EventKind::Deadlock,
        k => EventKind::Other(k),
    };
    let mut cycle = Vec::new();
    if kind == EventKind::Deadlock {
        let d: bpf_intf::axrt_deadlock_event = from_bytes(data)?;
        let len = (raw.arg as usize).min(d.tids.len());
        cycle = (0..len)
            .map(|i| LockEdge {
                tid: d.tids[i],
                tgid: d.tgids[i],
                addr: d.addrs[i],
                comm: crate::exit::c_array_to_string(&d.comms[i]),
            })
            .collect();
    }
    Some(Event {
        kind,
        ts_ns: raw.ts_ns,
        cgid: raw.cgid,
        pid: raw.pid,
        cpu: raw.cpu,
        prio: raw.prio,
        arg: raw.arg,
        arg2: raw.arg2,
        other: raw.other,
        cycle,
    })
}

/// The cgroup id of a cgroup2 directory: its inode number (what the kernel's kn->id is).
pub fn cgroup_id(dir: &Path) -> Result<u64> {
    let md = fs::metadata(dir).with_context(|| format!("cannot stat {}", dir.display()))?;
    ensure!(md.is_dir(), "{} is not a cgroup directory", dir.display());
    Ok(md.ino())
}

/// Parses a cgroup's `cpu.max` ("max 100000" or "30000 100000", in us) into (quota, period)
/// in ns; `None` for "max".
pub fn parse_cpu_max(text: &str) -> Result<Option<(u64, u64)>> {
    let mut it = text.split_whitespace();
    let quota = it.next().context("empty cpu.max")?;
    let period: u64 = match it.next() {
        Some(p) => p
            .parse()
            .with_context(|| format!("bad cpu.max period {p:?}"))?,
        None => 100_000,
    };
    if quota == "max" {
        return Ok(None);
    }
    let quota: u64 = quota
        .parse()
        .with_context(|| format!("bad cpu.max quota {quota:?}"))?;
    ensure!(period > 0, "cpu.max period is 0");
    Ok(Some((quota * 1000, period * 1000)))
}

/// Handles on the BPF tier's maps.
pub struct Maps {
    group_spec: MapHandle,
    cgroup_bw: MapHandle,
    task_spec: MapHandle,
    task_stats: MapHandle,
    generation: MapHandle,
    groups: MapHandle,
    group_stats: MapHandle,
    stats: MapHandle,
    events: MapHandle,
}

impl Maps {
    /// Takes handles on the loaded skeleton's maps.
    pub fn new(skel: &BpfSkel) -> Result<Self> {
        macro_rules! handle {
            ($name:ident) => {
                MapHandle::try_from(&skel.maps.$name)
                    .with_context(|| format!("cannot take a handle on {}", stringify!($name)))?
            };
        }
        Ok(Self {
            group_spec: handle!(axrt_group_spec),
            cgroup_bw: handle!(axrt_cgroup_bw),
            task_spec: handle!(axrt_task_spec),
            task_stats: handle!(axrt_task_stats),
            generation: handle!(axrt_generation),
            groups: handle!(axrt_groups),
            group_stats: handle!(axrt_group_stats),
            stats: handle!(axrt_stats),
            events: handle!(axrt_events),
        })
    }

    /// Makes the cgroup `cgid` (and everything below it without a group of its own) a group.
    /// Tasks already running pick it up after [`Maps::bump_generation`]; budget changes of an
    /// existing group apply from its next period boundary.
    pub fn set_group(&self, cgid: u64, spec: &GroupSpec) -> Result<()> {
        if spec.quota_ns != 0 {
            ensure!(spec.period_ns != 0, "group {cgid}: a quota needs a period");
        }
        let raw = bpf_intf::axrt_group_spec {
            prio: u32::from(spec.prio),
            overrun: spec.overrun.to_raw(),
            quota_ns: spec.quota_ns,
            period_ns: spec.period_ns,
        };
        self.group_spec
            .update(&cgid.to_ne_bytes(), as_bytes(&raw), MapFlags::ANY)
            .with_context(|| format!("cannot set group {cgid}"))
    }

    /// Forgets the configured group `cgid` (it stays a group if its cpu.max sets a budget).
    /// Takes effect for running tasks after [`Maps::bump_generation`]. Not an error if absent.
    pub fn remove_group(&self, cgid: u64) -> Result<()> {
        delete_if_present(&self.group_spec, &cgid.to_ne_bytes())
            .with_context(|| format!("cannot remove group {cgid}"))
    }

    /// Sets a cgroup's cpu.max budget, for kernels without ops.cgroup_set_bandwidth (the
    /// loader reads cgroupfs); `None` = "max". On 6.17+ the BPF tier keeps this itself.
    pub fn set_cgroup_bw(&self, cgid: u64, bw: Option<(u64, u64)>) -> Result<()> {
        match bw {
            None => delete_if_present(&self.cgroup_bw, &cgid.to_ne_bytes()),
            Some((quota_ns, period_ns)) => {
                ensure!(period_ns != 0, "cgroup {cgid}: cpu.max period is 0");
                let raw = bpf_intf::axrt_cgroup_bw {
                    quota_ns,
                    period_ns,
                };
                self.cgroup_bw
                    .update(&cgid.to_ne_bytes(), as_bytes(&raw), MapFlags::ANY)
                    .map_err(Into::into)
            }
        }
        .with_context(|| format!("cannot set the cpu.max of cgroup {cgid}"))
    }

    /// Sets a per-thread override; effective after [`Maps::bump_generation`].
    pub fn set_task(&self, tid: i32, spec: &TaskSpec) -> Result<()> {
        let raw = bpf_intf::axrt_task_spec {
            prio: spec.prio.map_or(bpf_intf::AXRT_PRIO_UNSET, u32::from),
            flags: 0,
            slice_ns: spec.slice_ns.unwrap_or(0),
            period_ns: spec.period_ns.unwrap_or(0),
            deadline_ns: spec.deadline_ns.unwrap_or(0),
            wcet_ns: spec.wcet_ns.unwrap_or(0),
        };
        let key = tid.to_ne_bytes();
        // The BPF tier only updates statistics entries; a new thread gets a zeroed one (an
        // existing one keeps its counters when the spec changes).
        let zero: bpf_intf::axrt_task_stats = zeroed();
        match self
            .task_stats
            .update(&key, as_bytes(&zero), MapFlags::NO_EXIST)
        {
            Err(e) if e.kind() != libbpf_rs::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("cannot add statistics for task {tid}"));
            }
            _ => {}
        }
        self.task_spec
            .update(&key, as_bytes(&raw), MapFlags::ANY)
            .with_context(|| format!("cannot set task {tid}"))
    }

    /// Removes a per-thread override and its statistics (not an error if absent).
    pub fn remove_task(&self, tid: i32) -> Result<()> {
        delete_if_present(&self.task_spec, &tid.to_ne_bytes())
            .and_then(|_| delete_if_present(&self.task_stats, &tid.to_ne_bytes()))
            .with_context(|| format!("cannot remove task {tid}"))
    }

    /// The statistics of a thread with a spec, `None` if it has none.
    pub fn read_task(&self, tid: i32) -> Result<Option<TaskStats>> {
        let Some(v) = self
            .task_stats
            .lookup(&tid.to_ne_bytes(), MapFlags::ANY)
            .context("axrt_task_stats lookup")?
        else {
            return Ok(None);
        };
        let raw: bpf_intf::axrt_task_stats =
            from_bytes(&v).context("short axrt_task_stats value")?;
        Ok(Some(TaskStats::from_raw(&raw)))
    }

    /// Makes every task re-resolve its group and override at its next enqueue or run. Call it
    /// once after a batch of set/remove calls. Returns the new generation.
    pub fn bump_generation(&self) -> Result<u64> {
        let next = self.generation()?.wrapping_add(1).max(1);
        self.generation
            .update(&0u32.to_ne_bytes(), &next.to_ne_bytes(), MapFlags::ANY)
            .context("cannot bump the generation")?;
        Ok(next)
    }

    /// The current generation.
    pub fn generation(&self) -> Result<u64> {
        let v = self
            .generation
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .context("cannot read the generation")?
            .context("no generation entry")?;
        from_bytes::<u64>(&v).context("short generation value")
    }

    /// The groups the BPF tier currently has (slots in use), with their statistics.
    pub fn read_groups(&self) -> Result<Vec<(GroupState, GroupStats)>> {
        let mut out = Vec::new();
        for slot in 1..MAX_GROUPS {
            let Some(v) = self
                .groups
                .lookup(&slot.to_ne_bytes(), MapFlags::ANY)
                .context("axrt_groups lookup")?
            else {
                continue;
            };
            let info: bpf_intf::axrt_group_info =
                from_bytes(&v).context("short axrt_groups value")?;
            if info.cgid == 0 {
                continue;
            }
            let state = GroupState {
                cgid: info.cgid,
                slot,
                quota_ns: info.quota_ns,
                period_ns: info.period_ns,
                budget_ns: info.budget_ns,
                prio: info.prio,
                overrun: Overrun::from_raw(info.overrun),
                throttled: info.throttled != 0,
                nr_running: info.nr_running,
            };
            out.push((state, self.read_slot_stats(slot)?));
        }
        Ok(out)
    }

    /// Statistics of the host group (tasks in no group).
    pub fn read_host(&self) -> Result<GroupStats> {
        self.read_slot_stats(bpf_intf::AXRT_HOST_SLOT)
    }

    /// Global statistics: the sum over every slot (host included) and the global counters
    /// (named by [`STAT_NAMES`]).
    pub fn read_global(&self) -> Result<(GroupStats, [u64; STAT_NAMES.len()])> {
        let mut total = GroupStats::default();
        for slot in 0..MAX_GROUPS {
            total.add(&self.read_slot_stats(slot)?);
        }
        let mut counters = [0u64; STAT_NAMES.len()];
        for (idx, slot) in counters.iter_mut().enumerate() {
            let per_cpu = self
                .stats
                .lookup_percpu(&(idx as u32).to_ne_bytes(), MapFlags::ANY)
                .context("axrt_stats lookup")?
                .unwrap_or_default();
            *slot = per_cpu.iter().filter_map(|v| from_bytes::<u64>(v)).sum();
        }
        Ok((total, counters))
    }

    /// The event ring buffer, for a `libbpf_rs::RingBufferBuilder` (decode with
    /// [`parse_event`]).
    pub fn events(&self) -> &MapHandle {
        &self.events
    }

    fn read_slot_stats(&self, slot: u32) -> Result<GroupStats> {
        let per_cpu = self
            .group_stats
            .lookup_percpu(&slot.to_ne_bytes(), MapFlags::ANY)
            .context("axrt_group_stats lookup")?
            .unwrap_or_default();
        let mut sum = GroupStats::default();
        for v in &per_cpu {
            let Some(raw) = from_bytes::<bpf_intf::axrt_group_stats>(v) else {
                bail!("short axrt_group_stats value");
            };
            sum.add(&GroupStats::from_raw(&raw));
        }
        Ok(sum)
    }
}

/// Deletes `key`, treating "no such entry" as success.
fn delete_if_present(map: &MapHandle, key: &[u8]) -> Result<()> {
    match map.delete(key) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == libbpf_rs::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The bytes of a plain-data intf.h struct (no padding holes: every struct there is laid out
/// with explicit fields).
fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of the bindgen'd plain-data structs of intf.h (Copy, no pointers, no
    // implicit padding); reading its bytes is sound.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A plain-data value from the head of `b`, if `b` is long enough.
/// An all-zero `T` (the bindings of intf.h have no `Default`).
fn zeroed<T: Copy>() -> T {
    // SAFETY: as in from_bytes: T is plain data, valid for any bit pattern, zeros included.
    unsafe { std::mem::zeroed() }
}

fn from_bytes<T: Copy>(b: &[u8]) -> Option<T> {
    if b.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above; T is plain data (integers only), valid for any bit
    // pattern; read_unaligned copes with the Vec's alignment.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_max_is_parsed() {
        assert_eq!(parse_cpu_max("max 100000\n").unwrap(), None);
        assert_eq!(
            parse_cpu_max("30000 100000\n").unwrap(),
            Some((30_000_000, 100_000_000))
        );
        assert!(parse_cpu_max("").is_err());
        assert!(parse_cpu_max("x 1").is_err());
    }

    #[test]
    fn quantiles_come_from_buckets() {
        let mut s = GroupStats::default();
        assert_eq!(s.lat_quantile_ns(0.5), None);
        s.lat_hist[10] = 9;
        s.lat_hist[20] = 1;
        assert_eq!(s.lat_quantile_ns(0.5), Some(1 << 11));
        assert_eq!(s.lat_quantile_ns(0.99), Some(1 << 21));
    }

    #[test]
    fn events_round_trip() {
        let raw = bpf_intf::axrt_event {
            ts_ns: 7,
            cgid: 42,
            arg: 3,
            kind: bpf_intf::axrt_event_kind_AXRT_EV_THROTTLE,
            pid: 5,
            cpu: 1,
            prio: 9,
            arg2: 4,
            other: 6,
            pad: 0,
        };
        let ev = parse_event(as_bytes(&raw)).unwrap();
        assert_eq!(ev.kind, EventKind::Throttle);
        assert_eq!((ev.cgid, ev.pid, ev.cpu, ev.prio, ev.arg), (42, 5, 1, 9, 3));
        assert_eq!((ev.arg2, ev.other), (4, 6));
        assert!(ev.cycle.is_empty());
        assert!(parse_event(&[0u8; 4]).is_none());
    }

    #[test]
    fn deadlock_events_carry_their_cycle() {
        let mut raw: bpf_intf::axrt_deadlock_event = zeroed();
        raw.head.kind = bpf_intf::axrt_event_kind_AXRT_EV_DEADLOCK;
        raw.head.arg = 2;
        raw.tids[..3].copy_from_slice(&[10, 11, 99]);
        raw.tgids[..2].copy_from_slice(&[1, 1]);
        raw.addrs[..2].copy_from_slice(&[0x1000, 0x2000]);
        let ev = parse_event(as_bytes(&raw)).unwrap();
        assert_eq!(ev.kind, EventKind::Deadlock);
        let tids: Vec<i32> = ev.cycle.iter().map(|e| e.tid).collect();
        assert_eq!(tids, [10, 11]);
        assert_eq!(ev.cycle[1].addr, 0x2000);
        // A deadlock record cut short is refused, not read past its end.
        assert!(
            parse_event(&as_bytes(&raw)[..std::mem::size_of::<bpf_intf::axrt_event>()]).is_none()
        );
    }

    #[test]
    fn counters_add_and_subtract_field_by_field() {
        let mut a = GroupStats::default();
        let mut b = GroupStats {
            jobs: 5,
            supply_misses: 2,
            boosts_received: 3,
            ..GroupStats::default()
        };
        b.boost_hist[4] = 7;
        a.add(&b);
        a.add(&b);
        assert_eq!(
            (a.jobs, a.supply_misses, a.boosts_received, a.boost_hist[4]),
            (10, 4, 6, 14)
        );
        let d = a.since(&b);
        assert_eq!((d.jobs, d.boost_hist[4]), (5, 7));
        assert_eq!(b.since(&a).jobs, 0);
    }
}
