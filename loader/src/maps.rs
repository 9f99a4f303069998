// SPDX-License-Identifier: GPL-2.0-only
//
// maps.rs - the typed interface between the loader and the BPF tier's maps (layouts in
// ../bpf/intf.h): per-group and per-thread parameters written by user space, cpu.max budgets
// on kernels without ops.cgroup_set_bandwidth, the generation counter that makes the BPF tier
// re-resolve tasks, and reading the group slots, the counters (counters.rs) and the event ring
// (events.rs decodes it). Everything goes through owned map handles (duplicated fds), so a
// `Maps` can live apart from the skeleton and move between threads.

//! Typed, safe access to the BPF tier's maps.

use anyhow::{bail, ensure, Context, Result};
use axrt_policy::Overrun;
use libbpf_rs::{MapCore, MapFlags, MapHandle};

use crate::bpf_intf;
use crate::bpf_skel::BpfSkel;
use crate::counters::{GroupStats, TaskStats, STAT_NAMES};

/// Number of group slots, the host group (slot 0) included.
pub const MAX_GROUPS: u32 = bpf_intf::AXRT_MAX_GROUPS;

/// The raw `enum axrt_overrun` of an overrun mode.
fn overrun_to_raw(o: Overrun) -> u32 {
    match o {
        Overrun::Throttle => bpf_intf::axrt_overrun_AXRT_OVERRUN_THROTTLE,
        Overrun::Background => bpf_intf::axrt_overrun_AXRT_OVERRUN_BACKGROUND,
    }
}

/// The overrun mode of a raw `enum axrt_overrun` (throttle for anything unknown).
fn overrun_from_raw(raw: u32) -> Overrun {
    if raw == bpf_intf::axrt_overrun_AXRT_OVERRUN_BACKGROUND {
        Overrun::Background
    } else {
        Overrun::Throttle
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
            overrun: overrun_to_raw(spec.overrun),
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
                overrun: overrun_from_raw(info.overrun),
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
    /// [`crate::events::parse_event`]).
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
pub(crate) fn as_bytes<T: Copy>(v: &T) -> &[u8] {
    // SAFETY: T is one of the bindgen'd plain-data structs of intf.h (Copy, no pointers, no
    // implicit padding); reading its bytes is sound.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// An all-zero `T` (the bindings of intf.h have no `Default`).
pub(crate) fn zeroed<T: Copy>() -> T {
    // SAFETY: as in from_bytes: T is plain data, valid for any bit pattern, zeros included.
    unsafe { std::mem::zeroed() }
}

/// A plain-data value from the head of `b`, if `b` is long enough.
pub(crate) fn from_bytes<T: Copy>(b: &[u8]) -> Option<T> {
    if b.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the length is checked above; T is plain data (integers only), valid for any bit
    // pattern; read_unaligned copes with the Vec's alignment.
    Some(unsafe { std::ptr::read_unaligned(b.as_ptr().cast::<T>()) })
}
