// SPDX-License-Identifier: GPL-2.0-only
//
// replay.rs - `axrt-sim replay`: a run of scx_axrt (its --events file, the axrt.toml it read and
// its --stats totals) replayed through the policy crate's AxRT system, and the two tiers
// compared per budgeted VM: windows, throttles, supply misses and deadline misses.
//
// What the trace gives. With --events the BPF tier adds two detail events (bpf/intf.h): a
// `window` per closed reservation window of a budgeted VM (its supply and its demand, the
// runnable task-time) and a `job` per completed job of a thread with a timing contract (its
// response and CPU time). Throttles, supply misses and deadline misses are events already.
//
// What the system is fed (the BPF tier's decisions are not: they are what is compared):
// * a VM's group is added at its first window's start (the first `window` event minus a
//   period: the BPF tier arms the period timer one period before its first boundary), so both
//   tiers' windows have the same phase; window i of the trace is the system's window i;
// * each recorded job of a timed thread: the thread wakes at the job's release (completion −
//   response, or when its previous job completed in the system, if that is later) and blocks
//   once it has run the job's CPU time;
// * the rest of each window's demand (the demand minus the timed threads' runnable time in that
//   window) as untimed threads runnable from the window's start: ⌈rest / P⌉ threads, each for
//   at most P. The trace has no finer shape; for CPU-bound threads (runnable all the time,
//   demand a multiple of P) it is exact, which is what the VM test runs.
// The system runs on the machine's CPUs (--cpus) with the configuration's slice, reserve and
// host priority; unbudgeted VMs and the host have no windows, so they are not replayed.
//
// Tolerances, from the semantics. ε = supply_slack(Q) = max(Q/10, 0.5 ms), the policy's
// precision of enforcement: a throttle lands about a millisecond early or late (the BPF tier
// throttles at Q minus its learnt lead, the system at exactly Q).
// * Totals against --stats: both count the same BPF decisions, but the totals run from the
//   first --stats sample to the last while the trace runs from the load to the detach: every
//   event more than one --stats interval from the trace's ends must be in the totals, and the
//   totals may hold no more than the trace. Fewer events in the trace than that means events
//   were lost (the ring was full) and the replay's input is incomplete.
// * Windows: ±1. The start is exact by construction; the run's end may fall between the
//   system's nominal boundary and the BPF timer's firing (its latency).
// * Exempt windows: a VM's first and last window, and a window whose demand differs from the
//   previous one's by more than P/4: a workload started or stopped inside it (a run boundary;
//   a steady one's demand varies less: an rt-app thread throttled in every window measured
//   88-111 ms per 100 ms window, hogs within a few ms),
//   and the replay puts its demand at the window's start, not where it was. Such a window
//   exempts the windows of every VM that overlap it: what the others get changes there too.
// * A VM's supply may differ between the tiers by its tolerance τ: its own ε plus the ε of
//   every replayed VM of better priority, whose enforcement errors decide what it is left
//   (measured: a priority-200 VM living on what two others left got 56 ms in a window where the
//   system gave it 48, while the better VMs' throttles were each within their ε).
// * Throttles, per window: both tiers throttle, or neither; if one does, the other's supply
//   must have come within τ of Q (it might have throttled with a lead or the others' errors).
// * Supply misses, per window: both miss, or neither; if they differ, the tier that missed
//   must have missed narrowly: its supply within τ of the threshold min(Q, demand) − ε.
// * Deadline misses, per window (by completion): the counts agree, up to two per timed thread
//   of the VM if either tier throttled in that window or the one before: the job running at
//   the throttle waits for the boundary, and which job that is depends on where the throttle
//   landed; and the job after it is recorded as the tier that threw it late made it (a late
//   periodic thread skips its sleep, so the trace's next job holds two periods' work and misses
//   by itself; the replay cannot re-time it). Measured: the system parks the job before the
//   BPF tier's (the kernel's sum_exec_runtime of a job, which the replay feeds, exceeds what the
//   BPF tier charged) and then misses that long job as well. Plus the jobs whose response in
//   either tier is within the policy's precision per
//   CPU (SystemConfig::epsilon_per_cpu, 0.5 ms) of their deadline.

//! `axrt-sim replay`: a scx_axrt run's events replayed through the AxRT system.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use axrt_policy::params::supply_slack;
use axrt_policy::{Action, BlockReason, GroupId, System, SystemConfig, TaskId, TaskParams, Time};
use scx_axrt::config::{Config, TaskRule};
use scx_axrt::stats::Report;
use serde_json::Value;

/// `axrt-sim replay` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The --events file of the run (JSON lines).
    #[arg(long)]
    pub events: PathBuf,
    /// The axrt.toml the run used.
    #[arg(long)]
    pub config: PathBuf,
    /// scx_axrt's output with --stats --json: the whole run's totals (the `"scope":"run"` line).
    #[arg(long)]
    pub stats: PathBuf,
    /// CPUs of the machine the run had (default: this machine's).
    #[arg(long)]
    pub cpus: Option<usize>,
    /// Also print every window of every VM, both tiers.
    #[arg(long)]
    pub windows: bool,
}

/// One closed reservation window, as the BPF tier recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When it closed (the period timer fired).
    pub end: Time,
    /// Budget used.
    pub supply: Time,
    /// Runnable task-time.
    pub demand: Time,
}

/// One completed job, as the BPF tier recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    /// The thread.
    pub tid: i64,
    /// Completion time.
    pub end: Time,
    /// Completion − release.
    pub response: Time,
    /// CPU time it used.
    pub cpu: Time,
}

/// What the trace says about one VM.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmTrace {
    /// Closed windows, in time order.
    pub windows: Vec<Window>,
    /// Throttle times.
    pub throttles: Vec<Time>,
    /// Supply-miss times (at the window's close).
    pub supply_misses: Vec<Time>,
    /// Deadline-miss times (at the job's completion).
    pub misses: Vec<Time>,
    /// Completed jobs, in time order.
    pub jobs: Vec<Job>,
}

/// A whole trace: per VM name, and the time of its last event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    /// Per VM (the events' `vm` field).
    pub vms: BTreeMap<String, VmTrace>,
    /// Time of the first event.
    pub start: Time,
    /// Time of the last event.
    pub end: Time,
}

/// Reads an --events file. Lines of kinds the replay does not use are skipped; a line that is
/// not JSON, or an event without the fields of its kind, is an error naming the line.
pub fn parse_trace(text: &str) -> Result<Trace> {
    let mut tr = Trace {
        start: Time::MAX,
        ..Trace::default()
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("events line {}", n + 1))?;
        let num = |k: &str| {
            v.get(k)
                .and_then(Value::as_u64)
                .with_context(|| format!("events line {}: no number '{k}'", n + 1))
        };
        let ts = num("ts_ns")?;
        tr.end = tr.end.max(ts);
        tr.start = tr.start.min(ts);
        let (Some(kind), Some(vm)) = (
            v.get("kind").and_then(Value::as_str),
            v.get("vm").and_then(Value::as_str),
        ) else {
            continue;
        };
        let vt = tr.vms.entry(vm.to_string()).or_default();
        match kind {
            "window" => vt.windows.push(Window {
                end: ts,
                supply: num("supply_ns")?,
                demand: num("demand_ns")?,
            }),
            "throttle" => vt.throttles.push(ts),
            "supply_miss" => vt.supply_misses.push(ts),
            "miss" => vt.misses.push(ts),
            "job" => {
                let tid = v.get("tid").and_then(Value::as_i64).unwrap_or(0);
                let (response, cpu) = (num("response_ns")?, num("cpu_ns")?);
                vt.jobs.push(Job {
                    tid,
                    end: ts,
                    response,
                    cpu,
                });
            }
            _ => {}
        }
    }
    tr.start = tr.start.min(tr.end);
    // Events come from several CPUs through one ring: sort each list by time.
    for vt in tr.vms.values_mut() {
        vt.windows.sort_by_key(|w| w.end);
        vt.throttles.sort_unstable();
        vt.supply_misses.sort_unstable();
        vt.misses.sort_unstable();
        vt.jobs.sort_by_key(|j| j.end);
    }
    Ok(tr)
}

/// The whole run's totals from scx_axrt's --stats --json output (its last `"scope":"run"`),
/// and the --stats interval (the shortest interval report's, ns; 1 s if there is none).
pub fn parse_totals(text: &str) -> Result<(Report, Time)> {
    let json = || text.lines().filter(|l| l.starts_with('{'));
    let line = json()
        .rfind(|l| l.contains("\"scope\":\"run\""))
        .context("no run totals (a JSON line with \"scope\":\"run\") in the stats output")?;
    let totals: Report = serde_json::from_str(line).context("the run totals")?;
    let interval = json()
        .filter_map(|l| serde_json::from_str::<Report>(l).ok())
        .filter(|r| !r.is_totals() && r.interval_s > 0.0)
        .map(|r| (r.interval_s * 1e9) as Time)
        .min()
        .unwrap_or(1_000_000_000);
    Ok((totals, interval))
}

/// Per window of one VM, both tiers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WindowPair {
    /// BPF: supply, throttled, supply miss, deadline misses completed in it.
    pub bpf: Verdict,
    /// The system, the same.
    pub sys: Verdict,
    /// The BPF tier's demand (the replay's input).
    pub demand: Time,
    /// A run boundary: not judged.
    pub exempt: bool,
    /// Jobs completed in it whose response (either tier) is within ε of the deadline.
    pub close_calls: u64,
}

/// One tier's figures for one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Budget used.
    pub supply: Time,
    /// Throttled in it.
    pub throttled: bool,
    /// A supply miss.
    pub supply_miss: bool,
    /// Deadline misses of jobs completed in it.
    pub misses: u64,
}

/// The replay of one VM: its windows in both tiers, and the totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmResult {
    /// The VM.
    pub name: String,
    /// Its budget.
    pub quota: Time,
    /// Its period.
    pub period: Time,
    /// Timed threads replayed from their jobs.
    pub timed_threads: u64,
    /// The configuration's `[[task]]` rules with a timing contract for this VM.
    pub timed_rules: u64,
    /// How far its supply may be off between the tiers: its own ε plus the ε of every
    /// replayed VM of better priority (see the module documentation).
    pub tolerance: Time,
    /// Windows the system closed.
    pub sys_windows: u64,
    /// The system's throttles, supply misses and deadline misses over the whole replay.
    pub sys_totals: (u64, u64, u64),
    /// Jobs the system completed.
    pub sys_jobs: u64,
    /// Windows matched by index (as many as both tiers closed).
    pub windows: Vec<WindowPair>,
}

/// A replayed thread: what it needs next.
#[derive(Clone, Copy, Debug)]
enum Need {
    /// Runnable until this time (untimed demand).
    Until(Time),
    /// Runnable until it has run this much more (a job).
    Work(Time),
}

#[derive(Clone, Copy, Debug)]
struct Burst {
    at: Time,
    need: Need,
    deadline: Time,
}

struct Thread {
    task: TaskId,
    vm: usize,
    bursts: Vec<Burst>,
    next: usize,
    /// The burst in progress: its need and its release.
    open: Option<(Need, Time, Time)>,
    /// CPU and since when it runs.
    on: Option<Time>,
}

/// Untimed demand as threads runnable from each window's start; adjacent spans of one thread
/// are merged (a CPU-bound thread stays runnable across boundaries).
fn demand_spans(start: Time, period: Time, rest: &[Time]) -> Vec<Vec<(Time, Time)>> {
    let mut threads: Vec<Vec<(Time, Time)>> = Vec::new();
    for (i, &d) in rest.iter().enumerate() {
        let w0 = start + i as Time * period;
        let k = d.div_ceil(period) as usize;
        for j in 0..k {
            let len = (d - j as Time * period).min(period);
            if threads.len() <= j {
                threads.push(Vec::new());
            }
            let spans = &mut threads[j];
            match spans.last_mut() {
                Some(last) if last.1 == w0 => last.1 = w0 + len,
                _ => spans.push((w0, w0 + len)),
            }
        }
    }
    threads
}

/// Time a span `[a, b)` overlaps `[lo, hi)`.
fn overlap(a: Time, b: Time, lo: Time, hi: Time) -> Time {
    b.min(hi).saturating_sub(a.max(lo))
}

/// Replays `trace` through the system of `cfg` on `cpus` CPUs.
/// Whether `rule` is a `[[task]]` rule with a timing contract for the VM at index `vm`.
fn timed_rule_of(rule: &TaskRule, vm: usize) -> bool {
    rule.vm == vm && rule.params.timing.relative_deadline().is_some()
}

pub fn replay(cfg: &Config, trace: &Trace, cpus: usize) -> Result<Vec<VmResult>> {
    let mut sc = SystemConfig::new(cpus);
    sc.slice = cfg.system.slice;
    sc.reserve = cfg.system.reserve;
    sc.host_priority = cfg.system.host_priority;
    // A job's response is judged to the policy's scheduling precision per CPU.
    let job_eps = sc.epsilon_per_cpu;
    let mut sys = System::new(sc).map_err(|e| anyhow::anyhow!("{e}"))?;

    // The VMs replayed: budgeted in the configuration, with windows in the trace.
    let mut vms = Vec::new(); // (config index, name, Q, P, start)
    for (i, vm) in cfg.vms.iter().enumerate() {
        let Some((q, p)) = vm.params.budget_pair() else {
            continue;
        };
        let Some(vt) = trace.vms.get(&vm.params.name) else {
            continue;
        };
        let Some(first) = vt.windows.first() else {
            continue;
        };
        vms.push((i, vm.params.name.clone(), q, p, first.end.saturating_sub(p)));
    }
    if vms.is_empty() {
        bail!("no budgeted VM of the configuration has window events in the trace");
    }

    // Threads: the timed ones from their jobs, the rest of the demand as untimed spans.
    let mut threads: Vec<(usize, String, Option<usize>, Vec<Burst>)> = Vec::new();
    // The relative deadline of each VM's timed threads (Time::MAX: none).
    let mut deadlines = vec![Time::MAX; vms.len()];
    for (k, (ci, name, _q, p, start)) in vms.iter().enumerate() {
        let vt = &trace.vms[name];
        let mut by_tid: BTreeMap<i64, Vec<Job>> = BTreeMap::new();
        for j in &vt.jobs {
            by_tid.entry(j.tid).or_default().push(*j);
        }
        let mut timed = vec![0 as Time; vt.windows.len()];
        for (tid, jobs) in &by_tid {
            let rule = cfg.tasks.iter().position(|r| timed_rule_of(r, *ci));
            let Some(rule) = rule else {
                bail!("VM {name}: jobs of tid {tid} but no [[task]] rule with a contract");
            };
            let d = cfg.tasks[rule]
                .params
                .timing
                .relative_deadline()
                .unwrap_or(Time::MAX);
            deadlines[k] = d;
            let bursts = jobs
                .iter()
                .map(|j| Burst {
                    at: j.end.saturating_sub(j.response),
                    need: Need::Work(j.cpu.max(1)),
                    deadline: d,
                })
                .collect();
            for j in jobs {
                for (i, t) in timed.iter_mut().enumerate() {
                    let w0 = start + i as Time * p;
                    *t += overlap(j.end.saturating_sub(j.response), j.end, w0, w0 + p);
                }
            }
            threads.push((k, format!("{name}/tid{tid}"), Some(rule), bursts));
        }
        let rest: Vec<Time> = vt
            .windows
            .iter()
            .zip(&timed)
            .map(|(w, t)| w.demand.saturating_sub(*t))
            .collect();
        for (j, spans) in demand_spans(*start, *p, &rest).into_iter().enumerate() {
            let bursts = spans
                .into_iter()
                .map(|(a, b)| Burst {
                    at: a,
                    need: Need::Until(b),
                    deadline: Time::MAX,
                })
                .collect();
            threads.push((k, format!("{name}/untimed{j}"), None, bursts));
        }
    }

    // Groups are added when their first window starts; tasks right after their group.
    let mut order: Vec<usize> = (0..vms.len()).collect();
    order.sort_by_key(|&k| vms[k].4);
    let mut groups: Vec<Option<GroupId>> = vec![None; vms.len()];
    let mut th: Vec<Thread> = Vec::new();
    let mut pending_threads = threads;
    let mut out = Vec::with_capacity(64);
    let mut timer: Option<Time> = None;
    let mut running: Vec<Option<usize>> = vec![None; cpus];
    let mut res: Vec<Sim> = vms.iter().map(|_| Sim::default()).collect();
    let mut group_vm: BTreeMap<u32, usize> = BTreeMap::new();
    let mut next_group = 0;
    let end = trace.end + 1;

    loop {
        // The next thing due.
        let mut t = end;
        if let Some(&k) = order.get(next_group) {
            t = t.min(vms[k].4);
        }
        if let Some(tm) = timer {
            t = t.min(tm);
        }
        for x in &th {
            match (x.open, x.on) {
                (None, _) => {
                    if let Some(b) = x.bursts.get(x.next) {
                        t = t.min(b.at);
                    }
                }
                (Some((Need::Until(u), _, _)), _) => t = t.min(u),
                (Some((Need::Work(w), _, _)), Some(since)) => t = t.min(since + w),
                _ => {}
            }
        }
        if t >= end {
            break;
        }
        let t = t.max(sys.now());
        // Progress of running jobs up to t.
        for x in th.iter_mut() {
            if let (Some((Need::Work(w), r, d)), Some(since)) = (x.open, x.on) {
                x.open = Some((Need::Work(w.saturating_sub(t - since)), r, d));
                x.on = Some(t);
            }
        }
        let mut calls: Vec<(usize, bool)> = Vec::new(); // (thread, wake?)
        for (i, x) in th.iter().enumerate() {
            match x.open {
                Some((Need::Until(u), _, _)) if u <= t => calls.push((i, false)),
                Some((Need::Work(0), _, _)) => calls.push((i, false)),
                None if x.bursts.get(x.next).is_some_and(|b| b.at <= t) => calls.push((i, true)),
                _ => {}
            }
        }
        // Blocks first: a thread may end a span and start the next at the same time.
        calls.sort_by_key(|c| c.1);
        for (i, wake) in calls {
            let task = th[i].task;
            if wake {
                let b = th[i].bursts[th[i].next];
                th[i].next += 1;
                // Merged spans that end before they start (a late release) are skipped.
                if let Need::Until(u) = b.need {
                    if u <= t {
                        continue;
                    }
                }
                th[i].open = Some((b.need, t, b.deadline));
                sys.wake(t, task, &mut out)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            } else {
                if let Some((Need::Work(_), release, d)) = th[i].open {
                    let resp = t - release;
                    res[th[i].vm].responses.push((t, resp, d));
                }
                th[i].open = None;
                th[i].on = None;
                sys.block(t, task, BlockReason::Sleep, &mut out)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
            take(
                &mut sys,
                t,
                &mut out,
                &mut th,
                &mut running,
                &mut timer,
                &group_vm,
                &mut res,
            );
        }
        while let Some(&k) = order.get(next_group) {
            if vms[k].4 > t {
                break;
            }
            next_group += 1;
            let g = sys
                .add_group(t, cfg.vms[vms[k].0].params.clone())
                .map_err(|e| anyhow::anyhow!("vm {}: {e}", vms[k].1))?;
            groups[k] = Some(g);
            group_vm.insert(g.0, k);
            pending_threads.retain(|(vk, name, rule, bursts)| {
                if *vk != k {
                    return true;
                }
                let mut p = TaskParams::new(name).group(g);
                if let Some(r) = rule {
                    p.priority = cfg.tasks[*r].params.priority;
                    p.timing = cfg.tasks[*r].params.timing;
                }
                let Ok(task) = sys.add_task(p) else {
                    return true; // reported below: a thread left over
                };
                th.push(Thread {
                    task,
                    vm: k,
                    bursts: bursts.clone(),
                    next: 0,
                    open: None,
                    on: None,
                });
                false
            });
        }
        if timer.is_some_and(|tm| tm <= t) {
            sys.tick(t, &mut out);
            take(
                &mut sys,
                t,
                &mut out,
                &mut th,
                &mut running,
                &mut timer,
                &group_vm,
                &mut res,
            );
        }
    }

    if let Some((_, name, _, _)) = pending_threads.first() {
        bail!("replayed thread {name} could not be added to the system");
    }
    // Run boundaries: a VM's first and last window and the windows in which its demand changed
    // by more than P/4. They exempt every VM's windows that overlap them: when one VM starts or
    // stops, what the others get changes inside that window too.
    let mut boundaries: Vec<(Time, Time)> = Vec::new();
    for (_, name, _, p, _) in &vms {
        let w = &trace.vms[name].windows;
        for i in 0..w.len() {
            if i == 0 || i + 1 == w.len() || w[i - 1].demand.abs_diff(w[i].demand) > p / 4 {
                boundaries.push((w[i].end.saturating_sub(*p), w[i].end));
            }
        }
    }
    let mut results = Vec::new();
    for (k, (ci, name, q, p, _)) in vms.iter().enumerate() {
        let vt = &trace.vms[name];
        let s = &res[k];
        let g = groups[k].expect("every replayed VM's group was added");
        let gs = sys.group_stats(g).expect("the group exists");
        let timed = th
            .iter()
            .filter(|x| x.vm == k && x.bursts.iter().any(|b| matches!(b.need, Need::Work(_))))
            .count() as u64;
        let n = vt.windows.len().min(s.windows.len());
        let prio = cfg.vms[vms[k].0].params.priority;
        let in_window = |ends: &[Time], i: usize, ts: Time| {
            let lo = if i == 0 { 0 } else { ends[i - 1] };
            ts > lo && ts <= ends[i]
        };
        let bpf_ends: Vec<Time> = vt.windows.iter().map(|w| w.end).collect();
        let sys_ends: Vec<Time> = s.windows.iter().map(|w| w.0).collect();
        let mut pairs = Vec::new();
        for i in 0..n {
            let w = vt.windows[i];
            let bpf = Verdict {
                supply: w.supply,
                throttled: vt.throttles.iter().any(|&x| in_window(&bpf_ends, i, x)),
                // Emitted at the boundary right after the window's own event.
                supply_miss: vt
                    .supply_misses
                    .iter()
                    .any(|&x| bpf_ends.partition_point(|&e| e <= x) == i + 1),
                misses: vt
                    .misses
                    .iter()
                    .filter(|&&x| in_window(&bpf_ends, i, x))
                    .count() as u64,
            };
            let (_, supply, throttled, miss) = s.windows[i];
            let sys_v = Verdict {
                supply,
                throttled,
                supply_miss: miss,
                misses: s
                    .misses
                    .iter()
                    .filter(|&&x| in_window(&sys_ends, i, x))
                    .count() as u64,
            };
            let near = |r: Time, d: Time| d != Time::MAX && r.abs_diff(d) <= job_eps;
            let dl = deadlines[k];
            let close_calls = vt
                .jobs
                .iter()
                .filter(|j| in_window(&bpf_ends, i, j.end) && near(j.response, dl))
                .count() as u64
                + s.responses
                    .iter()
                    .filter(|r| in_window(&sys_ends, i, r.0) && near(r.1, r.2))
                    .count() as u64;
            let span = (w.end.saturating_sub(*p), w.end);
            let exempt = i + 1 == n
                || boundaries
                    .iter()
                    .any(|b| overlap(span.0, span.1, b.0, b.1) > 0);
            pairs.push(WindowPair {
                bpf,
                sys: sys_v,
                demand: w.demand,
                exempt,
                close_calls,
            });
        }
        results.push(VmResult {
            name: name.clone(),
            quota: *q,
            period: *p,
            timed_threads: timed,
            timed_rules: cfg.tasks.iter().filter(|t| timed_rule_of(t, *ci)).count() as u64,
            tolerance: vms
                .iter()
                .filter(|o| o.1 == *name || cfg.vms[o.0].params.priority < prio)
                .map(|o| supply_slack(o.2))
                .sum(),
            sys_windows: gs.windows,
            sys_totals: (gs.group_throttles, gs.supply_misses, s.misses.len() as u64),
            sys_jobs: s.responses.len() as u64,
            windows: pairs,
        });
    }
    Ok(results)
}

/// What the replay saw of one VM's group.
#[derive(Default)]
struct Sim {
    /// Closed windows: (time, supply, throttled, supply miss).
    windows: Vec<(Time, Time, bool, bool)>,
    /// Deadline-miss times.
    misses: Vec<Time>,
    /// Completed jobs: (time, response, deadline).
    responses: Vec<(Time, Time, Time)>,
    /// Group counters at the last boundary: runtime, throttles, supply misses.
    last: (Time, u64, u64),
}

/// Carries out the system's actions at `t`: who runs where, the timer, window closes.
#[allow(clippy::too_many_arguments)]
fn take(
    sys: &mut System,
    t: Time,
    out: &mut Vec<Action>,
    th: &mut [Thread],
    running: &mut [Option<usize>],
    timer: &mut Option<Time>,
    group_vm: &BTreeMap<u32, usize>,
    res: &mut [Sim],
) {
    let of_task = |th: &[Thread], task: TaskId| th.iter().position(|x| x.task == task);
    // The system's own record of its earliest due time (its Timer actions say the same, but
    // only when it changes).
    *timer = sys.next_timer();
    for a in out.drain(..) {
        match a {
            Action::Run { cpu, task, .. } => {
                let c = cpu;
                let new = of_task(th, task);
                if let Some(old) = running[c] {
                    if Some(old) != new
                        && th[old].on.is_some()
                        && !running_elsewhere(running, old, c)
                    {
                        th[old].on = None;
                    }
                }
                running[c] = new;
                if let Some(n) = new {
                    // A move keeps its progress (accounted up to t already).
                    th[n].on = Some(t);
                    for (o, r) in running.iter_mut().enumerate() {
                        if o != c && *r == Some(n) {
                            *r = None;
                        }
                    }
                }
            }
            Action::Idle { cpu } => {
                let c = cpu;
                if let Some(old) = running[c].take() {
                    th[old].on = None;
                }
            }
            Action::Replenished { group } => {
                let Some(&k) = group_vm.get(&group.0) else {
                    continue;
                };
                let gs = sys.group_stats(group).expect("the group exists");
                let now = (gs.counters.runtime, gs.group_throttles, gs.supply_misses);
                let last = res[k].last;
                res[k]
                    .windows
                    .push((t, now.0 - last.0, now.1 > last.1, now.2 > last.2));
                res[k].last = now;
            }
            Action::DeadlineMiss { task, .. } => {
                if let Some(i) = of_task(th, task) {
                    res[th[i].vm].misses.push(t);
                }
            }
            _ => {}
        }
    }
}

fn running_elsewhere(running: &[Option<usize>], x: usize, not: usize) -> bool {
    running
        .iter()
        .enumerate()
        .any(|(c, r)| c != not && *r == Some(x))
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What was checked, with the figures.
    pub what: String,
    /// Whether it held.
    pub pass: bool,
}

/// The checks of one VM (see the module documentation), against the trace and the run's
/// totals.
/// `span` is the trace's first and last event, `edge` the --stats interval.
pub fn judge(
    r: &VmResult,
    vt: &VmTrace,
    totals: &Report,
    span: (Time, Time),
    edge: Time,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut check = |what: String, pass: bool| checks.push(Check { what, pass });
    let n = &r.name;
    let (slack, tol) = (supply_slack(r.quota), r.tolerance);
    match totals.groups.iter().find(|g| &g.name == n) {
        None => check(format!("{n}: the run totals have the VM"), false),
        Some(g) => {
            // The totals run from the first --stats sample (the brain's first tick) to the last
            // (at stop); the trace from the load to the detach. Each end of the totals lies
            // within one --stats interval of the trace's, so every event farther in must be
            // counted, and the totals hold no event the trace does not.
            let (lo, hi) = (span.0 + edge, span.1.saturating_sub(edge));
            let mid = |ts: &mut dyn Iterator<Item = Time>| {
                ts.filter(|&t| t >= lo && t <= hi).count() as u64
            };
            let kinds: [(&str, u64, u64, u64); 5] = [
                (
                    "windows",
                    vt.windows.len() as u64,
                    mid(&mut vt.windows.iter().map(|w| w.end)),
                    g.windows,
                ),
                (
                    "throttles",
                    vt.throttles.len() as u64,
                    mid(&mut vt.throttles.iter().copied()),
                    g.throttles,
                ),
                (
                    "supply misses",
                    vt.supply_misses.len() as u64,
                    mid(&mut vt.supply_misses.iter().copied()),
                    g.supply_misses,
                ),
                (
                    "deadline misses",
                    vt.misses.len() as u64,
                    mid(&mut vt.misses.iter().copied()),
                    g.deadline_misses,
                ),
                (
                    "jobs",
                    vt.jobs.len() as u64,
                    mid(&mut vt.jobs.iter().map(|j| j.end)),
                    g.jobs,
                ),
            ];
            for (what, all, inner, total) in kinds {
                check(
                    format!(
                        "{n}: the trace is complete: {what}: {inner} away from its ends <= {total} in the \
                         run totals <= {all} in the trace"
                    ),
                    inner <= total && total <= all,
                );
            }
        }
    }
    if r.timed_rules > 0 {
        // The set-up is in force: a rule with a contract matched a thread, which completed
        // jobs all through the run (its period is shorter than the window's).
        let jobs = vt.jobs.len();
        check(
            format!(
                "{n}: its timed rules matched: jobs of {} thread(s) in the trace, {jobs} jobs \
                 over {} windows (at least one per window)",
                r.timed_threads,
                vt.windows.len()
            ),
            r.timed_threads > 0 && jobs >= vt.windows.len(),
        );
    }
    let judged = r.windows.iter().filter(|w| !w.exempt).count();
    check(
        format!(
            "{n}: at least 5 windows judged (got {judged} of {})",
            r.windows.len()
        ),
        judged >= 5,
    );
    let bpf_windows = vt.windows.len() as u64;
    check(
        format!(
            "{n}: windows agree within 1 (BPF {bpf_windows}, system {})",
            r.sys_windows
        ),
        bpf_windows.abs_diff(r.sys_windows) <= 1,
    );

    let q = r.quota;
    let (mut thr, mut thr_ok, mut sm, mut sm_ok, mut dm, mut dm_ok) = (0, 0, 0, 0, 0, 0);
    for (i, w) in r.windows.iter().enumerate() {
        if w.exempt {
            continue;
        }
        let (b, s) = (w.bpf, w.sys);
        if b.throttled != s.throttled {
            thr += 1;
            let other = if b.throttled { s.supply } else { b.supply };
            thr_ok += u64::from(other + tol >= q);
        }
        if b.supply_miss != s.supply_miss {
            sm += 1;
            // The tier that missed must have missed narrowly.
            let thresh = w.demand.min(q).saturating_sub(slack);
            let missed = if b.supply_miss { b.supply } else { s.supply };
            sm_ok += u64::from(missed + tol >= thresh);
        }
        let diff = b.misses.abs_diff(s.misses);
        if diff > 0 {
            dm += 1;
            let throttled_near = [i.checked_sub(1), Some(i)]
                .into_iter()
                .flatten()
                .any(|j| r.windows[j].bpf.throttled || r.windows[j].sys.throttled);
            let allowed = w.close_calls
                + if throttled_near {
                    2 * r.timed_threads
                } else {
                    0
                };
            dm_ok += u64::from(diff <= allowed);
        }
    }
    let count = |f: fn(&Verdict) -> u64| {
        let b: u64 = r.windows.iter().map(|w| f(&w.bpf)).sum();
        let s: u64 = r.windows.iter().map(|w| f(&w.sys)).sum();
        (b, s)
    };
    let (tb, ts) = count(|v| u64::from(v.throttled));
    check(
        format!(
            "{n}: throttles agree per window (BPF {tb}, system {ts}; {thr} windows differ, \
             {thr_ok} of them within ε of Q)"
        ),
        thr == thr_ok,
    );
    let (sb, ss) = count(|v| u64::from(v.supply_miss));
    check(
        format!(
            "{n}: supply misses agree per window (BPF {sb}, system {ss}; {sm} windows differ, \
             {sm_ok} of them within ε of the threshold)"
        ),
        sm == sm_ok,
    );
    let (mb, ms) = count(|v| v.misses);
    check(
        format!(
            "{n}: deadline misses agree per window (BPF {mb}, system {ms}; {dm} windows differ, \
             {dm_ok} of them explained by a throttle or a response within ε of the deadline)"
        ),
        dm == dm_ok,
    );
    checks
}

/// A table of the figures per VM.
pub fn table(results: &[VmResult]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<12} {:>8} {:>7} {:>7} {:>9} {:>9} {:>11} {:>11} {:>8} {:>8}",
        "vm",
        "windows",
        "judged",
        "timed",
        "thr bpf",
        "thr sys",
        "smiss bpf",
        "smiss sys",
        "dl bpf",
        "dl sys"
    );
    for r in results {
        let sum = |f: &dyn Fn(&WindowPair) -> u64| r.windows.iter().map(f).sum::<u64>();
        let _ = writeln!(
            s,
            "{:<12} {:>8} {:>7} {:>7} {:>9} {:>9} {:>11} {:>11} {:>8} {:>8}",
            r.name,
            r.windows.len(),
            r.windows.iter().filter(|w| !w.exempt).count(),
            r.timed_threads,
            sum(&|w| u64::from(w.bpf.throttled)),
            sum(&|w| u64::from(w.sys.throttled)),
            sum(&|w| u64::from(w.bpf.supply_miss)),
            sum(&|w| u64::from(w.sys.supply_miss)),
            sum(&|w| w.bpf.misses),
            sum(&|w| w.sys.misses),
        );
        let n = r.windows.len().max(1) as f64;
        let mean = |f: &dyn Fn(&WindowPair) -> Time| {
            r.windows.iter().map(f).sum::<Time>() as f64 / n / 1e6
        };
        let worst = r
            .windows
            .iter()
            .map(|w| w.bpf.supply.abs_diff(w.sys.supply))
            .max()
            .unwrap_or(0);
        let _ = writeln!(
            s,
            "{:<12} supply per window: BPF {:.2} ms, system {:.2} ms (Q {} ms), worst difference {:.2} ms",
            "",
            mean(&|w| w.bpf.supply),
            mean(&|w| w.sys.supply),
            r.quota / 1_000_000,
            worst as f64 / 1e6
        );
    }
    s
}

fn read(p: &Path) -> Result<String> {
    std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
}

/// `axrt-sim replay`: prints the table and one PASS/FAIL line per check; exit status 1 if any
/// check failed.
pub fn run(a: &Args) -> Result<ExitCode> {
    let cpus = a
        .cpus
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let cfg = Config::load(&a.config, cpus)?;
    let trace = parse_trace(&read(&a.events)?)?;
    let (totals, edge) = parse_totals(&read(&a.stats)?)?;
    let results = replay(&cfg, &trace, cpus)?;
    print!("{}", table(&results));
    if a.windows {
        for r in &results {
            for (i, w) in r.windows.iter().enumerate() {
                let v = |v: &Verdict| {
                    format!(
                        "supply {:6.2} ms{}{} dl misses {}",
                        v.supply as f64 / 1e6,
                        if v.throttled {
                            " throttled"
                        } else {
                            "          "
                        },
                        if v.supply_miss { " short" } else { "      " },
                        v.misses
                    )
                };
                println!(
                    "{} window {i:3}{} demand {:6.2} ms | BPF {} | system {} | close calls {}",
                    r.name,
                    if w.exempt { " (exempt)" } else { "         " },
                    w.demand as f64 / 1e6,
                    v(&w.bpf),
                    v(&w.sys),
                    w.close_calls
                );
            }
        }
    }
    let mut failed = false;
    for r in &results {
        for c in judge(
            r,
            &trace.vms[&r.name],
            &totals,
            (trace.start, trace.end),
            edge,
        ) {
            failed |= !c.pass;
            println!(
                "{}: replay: {}",
                if c.pass { "PASS" } else { "FAIL" },
                c.what
            );
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scx_axrt::stats::GroupReport;

    const MS: Time = 1_000_000;
    /// The first window closes here (a boot-time-like clock).
    const T0: Time = 5_000 * MS;

    fn line(ts: Time, kind: &str, vm: &str, extra: &str) -> String {
        format!(r#"{{"ts_ns":{ts},"kind":"{kind}","cpu":0,"cgid":7,"vm":"{vm}"{extra}}}"#)
    }

    /// Windows of `vm` (period 100 ms): (supply, demand, throttled, supply miss) each.
    fn windows(vm: &str, w: &[(Time, Time, bool, bool)]) -> Vec<String> {
        let mut out = Vec::new();
        for (i, &(supply, demand, thr, miss)) in w.iter().enumerate() {
            let end = T0 + i as Time * 100 * MS;
            if thr {
                // Throttled when the supply ran out, inside the window.
                out.push(line(
                    end - 100 * MS + supply + 1,
                    "throttle",
                    vm,
                    r#","overrun_ns":0"#,
                ));
            }
            out.push(line(
                end,
                "window",
                vm,
                &format!(r#","supply_ns":{supply},"demand_ns":{demand}"#),
            ));
            if miss {
                out.push(line(
                    end,
                    "supply_miss",
                    vm,
                    &format!(r#","supply_ns":{supply}"#),
                ));
            }
            out.push(line(end, "replenish", vm, r#","unused_ns":0"#));
        }
        out
    }

    fn totals(vm: &str, t: &Trace) -> Report {
        let vt = &t.vms[vm];
        Report {
            scope: "run".into(),
            groups: vec![GroupReport {
                name: vm.into(),
                windows: vt.windows.len() as u64,
                throttles: vt.throttles.len() as u64,
                supply_misses: vt.supply_misses.len() as u64,
                deadline_misses: vt.misses.len() as u64,
                jobs: vt.jobs.len() as u64,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn judge_all(toml: &str, lines: &[String], cpus: usize) -> (Vec<VmResult>, Vec<Check>) {
        let cfg = Config::parse(toml, "test.toml", cpus).unwrap();
        let trace = parse_trace(&lines.join("\n")).unwrap();
        let res = replay(&cfg, &trace, cpus).unwrap();
        let mut checks = Vec::new();
        for r in &res {
            checks.extend(judge(
                r,
                &trace.vms[&r.name],
                &totals(&r.name, &trace),
                (trace.start, trace.end),
                0,
            ));
        }
        (res, checks)
    }

    const HOG: &str = r#"
[[vm]]
name = "hog"
cgroup = "t/hog"
quota_us = 20000
period_us = 100000
"#;

    fn failed(checks: &[Check]) -> Vec<&str> {
        checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| c.what.as_str())
            .collect()
    }

    #[test]
    fn a_throttled_hog_agrees() {
        // A CPU-bound thread: runnable all the time, 20 ms per window, throttled in each;
        // the BPF tier's supply a little off Q, as under emulation.
        let w: Vec<_> = (0..12)
            .map(|i| {
                (
                    if i % 2 == 0 { 19_400_000 } else { 20_700_000 },
                    100 * MS,
                    true,
                    false,
                )
            })
            .collect();
        let (res, checks) = judge_all(HOG, &windows("hog", &w), 1);
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{}", table(&res));
        let r = &res[0];
        assert!(r
            .windows
            .iter()
            .all(|w| w.sys.throttled && w.sys.supply == 20 * MS));
        assert_eq!(r.sys_totals.1, 0, "no supply misses in the system");
    }

    #[test]
    fn a_starved_window_record_fails() {
        // The BPF tier says the VM, alone and runnable all the time, got 5 ms of its 20 and was
        // never throttled: the policy would have given it its budget. Must fail.
        let w: Vec<_> = (0..12).map(|_| (5 * MS, 100 * MS, false, true)).collect();
        let (_, checks) = judge_all(HOG, &windows("hog", &w), 1);
        let f = failed(&checks);
        assert!(f.iter().any(|c| c.contains("throttles agree")), "{f:?}");
        assert!(f.iter().any(|c| c.contains("supply misses agree")), "{f:?}");
    }

    #[test]
    fn lost_events_and_lost_windows_fail() {
        let w: Vec<_> = (0..12).map(|_| (20 * MS, 100 * MS, true, false)).collect();
        let mut lines = windows("hog", &w);
        let cfg = Config::parse(HOG, "test.toml", 1).unwrap();
        let trace = parse_trace(&lines.join("\n")).unwrap();
        let res = replay(&cfg, &trace, 1).unwrap();
        // The run totals count one throttle more than the trace holds.
        let mut tot = totals("hog", &trace);
        tot.groups[0].throttles += 1;
        let checks = judge(
            &res[0],
            &trace.vms["hog"],
            &tot,
            (trace.start, trace.end),
            0,
        );
        assert!(failed(&checks)
            .iter()
            .any(|c| c.contains("the trace is complete")));
        // Three windows missing from the middle (a timer that fell behind): the system
        // counts them.
        lines.retain(|l| {
            !(l.contains(&format!("\"ts_ns\":{}", T0 + 500 * MS))
                || l.contains(&format!("\"ts_ns\":{}", T0 + 600 * MS))
                || l.contains(&format!("\"ts_ns\":{}", T0 + 700 * MS)))
        });
        let (_, checks) = judge_all(HOG, &lines, 1);
        assert!(
            failed(&checks).iter().any(|c| c.contains("windows agree")),
            "{:?}",
            failed(&checks)
        );
    }

    const RT: &str = r#"
[[vm]]
name = "rt"
cgroup = "t/rt"
priority = 5
quota_us = 50000
period_us = 100000

[[task]]
vm = "rt"
comm = "job"
period_us = 2000
deadline_us = 2000
wcet_us = 1000
"#;

    /// Jobs of 500 us every 2 ms (25 %, within the 50 % budget), with the BPF tier's
    /// responses `resp(k)`, and the windows their demand and supply make.
    fn jobs(n_windows: usize, resp: impl Fn(usize) -> Time) -> Vec<String> {
        let mut out = Vec::new();
        let start = T0 - 100 * MS;
        let per = 50; // jobs per window
        for k in 0..n_windows * per {
            let release = start + k as Time * 2 * MS + MS / 10;
            let r = resp(k);
            out.push(line(
                release + r,
                "job",
                "rt",
                &format!(r#","tid":42,"response_ns":{r},"cpu_ns":500000"#),
            ));
            if r > 2 * MS {
                out.push(line(
                    release + r,
                    "miss",
                    "rt",
                    &format!(r#","tid":42,"lateness_ns":{}"#, r - 2 * MS),
                ));
            }
        }
        let w: Vec<_> = (0..n_windows)
            .map(|_| (25 * MS, 25 * MS, false, false))
            .collect();
        out.extend(windows("rt", &w));
        out
    }

    #[test]
    fn jobs_that_meet_their_deadlines_agree() {
        let (res, checks) = judge_all(RT, &jobs(10, |_| 500_000), 1);
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{}", table(&res));
        assert_eq!(res[0].timed_threads, 1);
        assert_eq!(res[0].sys_jobs, 500);
        assert_eq!(res[0].sys_totals.2, 0);
    }

    #[test]
    fn deadline_misses_the_policy_would_not_have_fail() {
        // Every tenth job took 3 ms to respond although it ran 0.5 ms, nothing else ran and
        // the VM was never throttled: the system gives it 0.5 ms. Must fail.
        let (_, checks) = judge_all(
            RT,
            &jobs(10, |k| if k % 10 == 3 { 3 * MS } else { 500_000 }),
            1,
        );
        let f = failed(&checks);
        assert!(
            f.iter().any(|c| c.contains("deadline misses agree")),
            "{f:?}"
        );
    }

    #[test]
    fn a_contract_that_matched_no_thread_fails() {
        // The VM has a [[task]] rule with a contract but the trace holds no job: the rule did
        // not match (the set-up was not in force), whatever the windows say. Must fail.
        let w: Vec<_> = (0..10).map(|_| (25 * MS, 25 * MS, false, false)).collect();
        let (_, checks) = judge_all(RT, &windows("rt", &w), 1);
        let f = failed(&checks);
        assert!(f.iter().any(|c| c.contains("timed rules matched")), "{f:?}");
        let (_, ok) = judge_all(RT, &jobs(10, |_| 500_000), 1);
        assert!(ok
            .iter()
            .any(|c| c.pass && c.what.contains("timed rules matched")));
    }

    #[test]
    fn demand_becomes_merged_spans() {
        // 150 ms of demand per 100 ms window for two windows, then 30 ms: two threads.
        let s = demand_spans(0, 100, &[150, 150, 30]);
        assert_eq!(s, vec![vec![(0, 230)], vec![(0, 50), (100, 150)]]);
        assert!(demand_spans(0, 100, &[0, 0]).is_empty());
    }

    #[test]
    fn bad_lines_are_errors_and_other_kinds_are_skipped() {
        assert!(parse_trace("{not json").is_err());
        assert!(parse_trace(r#"{"ts_ns":1,"kind":"window","vm":"a"}"#).is_err());
        let t = parse_trace(r#"{"ts_ns":9,"kind":"boost","vm":"a","tid":1}"#).unwrap();
        assert_eq!(t.end, 9);
        assert!(t.vms["a"].windows.is_empty());
        let (r, edge) = parse_totals(
            "scx_axrt: active\n{\"interval_s\":0.5,\"scope\":\"interval\",\"groups\":[],\"tasks\":[]}\n\
             {\"interval_s\":9.0,\"scope\":\"run\",\"groups\":[],\"tasks\":[]}\n",
        )
        .unwrap();
        assert!(r.is_totals());
        assert_eq!(edge, 500_000_000);
        assert!(parse_totals("{\"scope\":\"interval\"}").is_err());
    }
}
