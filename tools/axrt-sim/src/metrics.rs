// SPDX-License-Identifier: GPL-2.0-only
//
// metrics.rs - what a run produced (per thread, per job, per event) and the summary of a run,
// with its terms defined once here:
// * a job misses when it completes after its deadline, or its deadline passed before the end
//   of the run (strictly before its end) without it completing, or it was aborted; late jobs count as completed jobs
//   (they ran to completion), so the miss ratio is misses over all jobs counted;
// * tardiness is max(0, completion - deadline) of a completed job;
// * goodput is the CPU work done by jobs that met their deadline, as a share of the machine
//   (CPUs x duration); busy is all the work threads did; overhead is the modelled scheduler
//   time (decisions and switches); busy + overhead + idle = 100 %;
// * Jain's index is over the threads without jobs (best effort), each one's CPU time divided by
//   its nice weight: 1 when they got CPU in proportion to their weights, 1/n when one got all.

//! Run results and their summary.

use axrt_policy::policy::nice_to_weight;
use axrt_policy::Time;

use crate::engine::Overhead;
use crate::rtlog::Row as LogRow;
use crate::scenario::Scenario;
use crate::sched::Note;

/// One rt-app log row (see `rtlog`).
pub type Row = LogRow;

/// What happened to one thread.
#[derive(Clone, Debug, Default)]
pub struct ThreadOut {
    /// Time on a CPU (work and the overhead charged while it was there), ns.
    pub cpu_ns: Time,
    /// Work done (progress of run and runtime events), ns.
    pub work_ns: Time,
    /// Times it was switched in.
    pub switches: u64,
    /// Times it was switched out while still runnable, not by its own yield.
    pub preemptions: u64,
    /// Times it was switched in on another CPU than the last one.
    pub migrations: u64,
    /// Phase iterations completed.
    pub iterations: u64,
    /// rt-app log rows (when kept).
    pub rows: Vec<Row>,
}

/// One job (LITMUS^RT style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobRecord {
    /// Thread index.
    pub thread: usize,
    /// Job number of the thread, from 1.
    pub seq: u64,
    /// Release, ns.
    pub release: Time,
    /// Absolute deadline, ns.
    pub deadline: Time,
    /// Completion, ns (`None`: not completed: aborted, or still open past its deadline at
    /// the end).
    pub completion: Option<Time>,
    /// CPU work it got, ns.
    pub work: Time,
    /// Aborted at its deadline.
    pub aborted: bool,
}

impl JobRecord {
    /// Completion − release.
    pub fn response(&self) -> Option<Time> {
        self.completion.map(|c| c - self.release)
    }
    /// Whether it missed its deadline (see the module documentation).
    pub fn missed(&self) -> bool {
        self.completion.is_none_or(|c| c > self.deadline)
    }
}

/// Kinds of logged events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A thread is switched in (value 1: migrated).
    Switch,
    /// A CPU idles.
    Idle,
    /// Switched out while runnable.
    Preempt,
    /// Became runnable.
    Wake,
    /// Stopped being runnable.
    Block,
    /// Yielded.
    Yield,
    /// A job was released (value: release time).
    Release,
    /// A job completed in time (value: lateness, ≤ 0).
    Complete,
    /// A job completed late (value: lateness).
    Miss,
    /// A job was aborted at its deadline.
    Abort,
    /// The thread ended.
    Exit,
    /// A VM was throttled (value: VM index).
    Throttle,
    /// A VM's budget was refilled (value: VM index).
    Replenish,
    /// A VM's window supplied less than owed (value: VM index).
    SupplyMiss,
    /// The starvation reserve gave the thread a slice.
    Reserve,
    /// The thread's lock wait closed a cycle.
    Deadlock,
}

impl EventKind {
    /// The name in the event CSV.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Switch => "switch",
            EventKind::Idle => "idle",
            EventKind::Preempt => "preempt",
            EventKind::Wake => "wake",
            EventKind::Block => "block",
            EventKind::Yield => "yield",
            EventKind::Release => "release",
            EventKind::Complete => "complete",
            EventKind::Miss => "miss",
            EventKind::Abort => "abort",
            EventKind::Exit => "exit",
            EventKind::Throttle => "throttle",
            EventKind::Replenish => "replenish",
            EventKind::SupplyMiss => "supply_miss",
            EventKind::Reserve => "reserve",
            EventKind::Deadlock => "deadlock",
        }
    }
}

/// One logged event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRec {
    /// When, ns.
    pub time: Time,
    /// On which CPU, if any.
    pub cpu: Option<usize>,
    /// Which thread, if any.
    pub thread: Option<usize>,
    /// What.
    pub kind: EventKind,
    /// A value (see the kind).
    pub value: i64,
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The scheduler's name.
    pub sched: String,
    /// CPUs.
    pub cpus: usize,
    /// Length of the run, ns.
    pub duration: Time,
    /// The overhead model used.
    pub overhead: Overhead,
    /// Overhead time per CPU, ns.
    pub cpu_overhead: Vec<Time>,
    /// Per thread, in rt-app index order.
    pub threads: Vec<ThreadOut>,
    /// Jobs, by release.
    pub jobs: Vec<JobRecord>,
    /// Events (when kept).
    pub events: Vec<EventRec>,
    /// Scheduler notifications.
    pub notes: Vec<(Time, Note)>,
    /// Scheduler calls made (the simulated events).
    pub sched_calls: u64,
}

/// A VM's CPU time against its budget.
#[derive(Clone, Debug, PartialEq)]
pub struct VmShare {
    /// Name ("host" for threads outside every VM).
    pub name: String,
    /// CPU time in % of one CPU.
    pub share_pct: f64,
    /// Budget in % of one CPU.
    pub budget_pct: Option<f64>,
    /// Throttles (AxRT system only).
    pub throttles: u64,
}

/// The summary of a run (see the module documentation for the terms).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Scheduler.
    pub sched: String,
    /// Jobs counted.
    pub jobs: usize,
    /// Jobs that missed.
    pub misses: usize,
    /// Mean tardiness of completed jobs, ns.
    pub tardiness_mean: f64,
    /// Largest tardiness, ns.
    pub tardiness_max: Time,
    /// Response-time percentiles of completed jobs (p50, p99, p99.9, max), ns.
    pub response: [Time; 4],
    /// Goodput, % of the machine.
    pub goodput_pct: f64,
    /// All work, % of the machine.
    pub busy_pct: f64,
    /// Modelled overhead, % of the machine.
    pub overhead_pct: f64,
    /// Jain's index over the best-effort threads (`None`: fewer than two).
    pub jain: Option<f64>,
    /// Context switches.
    pub switches: u64,
    /// Preemptions.
    pub preemptions: u64,
    /// Migrations.
    pub migrations: u64,
    /// Per VM (and the host group when it has threads).
    pub vms: Vec<VmShare>,
}

impl Summary {
    /// The miss ratio (0 with no jobs).
    pub fn miss_ratio(&self) -> f64 {
        if self.jobs == 0 {
            0.0
        } else {
            self.misses as f64 / self.jobs as f64
        }
    }
}

/// The value at quantile `q` (nearest rank) of sorted `v`; 0 when empty.
pub fn quantile(v: &[Time], q: f64) -> Time {
    if v.is_empty() {
        return 0;
    }
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// Jain's fairness index of `x` (`None` for fewer than two values or all zero).
pub fn jain(x: &[f64]) -> Option<f64> {
    let s: f64 = x.iter().sum();
    let s2: f64 = x.iter().map(|v| v * v).sum();
    (x.len() >= 2 && s2 > 0.0).then(|| s * s / (x.len() as f64 * s2))
}

/// Summarises `r`, a run of `sc`.
pub fn summarize(sc: &Scenario, r: &RunResult) -> Summary {
    let capacity = (r.cpus as f64) * (r.duration as f64);
    let pct = |ns: f64| {
        if capacity > 0.0 {
            100.0 * ns / capacity
        } else {
            0.0
        }
    };
    let mut responses: Vec<Time> = r.jobs.iter().filter_map(JobRecord::response).collect();
    responses.sort_unstable();
    let tardy: Vec<Time> = r
        .jobs
        .iter()
        .filter_map(|j| j.completion.map(|c| c.saturating_sub(j.deadline)))
        .collect();
    let good: Time = r.jobs.iter().filter(|j| !j.missed()).map(|j| j.work).sum();
    let busy: Time = r.threads.iter().map(|t| t.work_ns).sum();
    let overhead: Time = r.cpu_overhead.iter().sum();
    let best_effort: Vec<f64> = sc
        .threads
        .iter()
        .zip(&r.threads)
        .filter(|(s, _)| !s.periodic())
        .map(|(s, t)| t.cpu_ns as f64 / f64::from(nice_to_weight(s.nice)))
        .collect();
    let mut vms = Vec::new();
    let groups: Vec<Option<usize>> = std::iter::once(None)
        .chain((0..sc.config.vms.len()).map(Some))
        .collect();
    for g in groups {
        let members: Vec<usize> = (0..sc.threads.len())
            .filter(|&i| sc.threads[i].vm == g)
            .collect();
        if members.is_empty() {
            continue;
        }
        let cpu: Time = members.iter().map(|&i| r.threads[i].cpu_ns).sum();
        let throttles = r
            .notes
            .iter()
            .filter(|(_, n)| g.is_some_and(|v| *n == Note::Throttled(v)))
            .count() as u64;
        vms.push(VmShare {
            name: sc.vm_name(g).to_string(),
            share_pct: 100.0 * cpu as f64 / r.duration.max(1) as f64,
            budget_pct: sc.vm_budget(g).map(|b| 100.0 * b),
            throttles,
        });
    }
    Summary {
        sched: r.sched.clone(),
        jobs: r.jobs.len(),
        misses: r.jobs.iter().filter(|j| j.missed()).count(),
        tardiness_mean: if tardy.is_empty() {
            0.0
        } else {
            tardy.iter().sum::<Time>() as f64 / tardy.len() as f64
        },
        tardiness_max: tardy.iter().copied().max().unwrap_or(0),
        response: [
            quantile(&responses, 0.5),
            quantile(&responses, 0.99),
            quantile(&responses, 0.999),
            responses.last().copied().unwrap_or(0),
        ],
        goodput_pct: pct(good as f64),
        busy_pct: pct(busy as f64),
        overhead_pct: pct(overhead as f64),
        jain: jain(&best_effort),
        switches: r.threads.iter().map(|t| t.switches).sum(),
        preemptions: r.threads.iter().map(|t| t.preemptions).sum(),
        migrations: r.threads.iter().map(|t| t.migrations).sum(),
        vms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<Time> = (1..=1000).collect();
        assert_eq!(quantile(&v, 0.5), 500);
        assert_eq!(quantile(&v, 0.99), 990);
        assert_eq!(quantile(&v, 0.999), 999);
        assert_eq!(quantile(&v, 1.0), 1000);
        assert_eq!(quantile(&[7], 0.999), 7);
        assert_eq!(quantile(&[], 0.5), 0);
    }

    #[test]
    fn jain_is_one_when_equal_and_one_over_n_when_one_takes_all() {
        assert_eq!(jain(&[2.0, 2.0, 2.0]), Some(1.0));
        assert!((jain(&[1.0, 0.0, 0.0, 0.0]).unwrap() - 0.25).abs() < 1e-12);
        assert_eq!(jain(&[1.0]), None);
    }

    #[test]
    fn a_late_job_is_completed_and_missed() {
        let j = JobRecord {
            thread: 0,
            seq: 1,
            release: 10,
            deadline: 20,
            completion: Some(25),
            work: 5,
            aborted: false,
        };
        assert!(j.missed());
        assert_eq!(j.response(), Some(15));
        assert!(!JobRecord {
            completion: Some(20),
            ..j
        }
        .missed());
        assert!(JobRecord {
            completion: None,
            ..j
        }
        .missed());
    }
}
