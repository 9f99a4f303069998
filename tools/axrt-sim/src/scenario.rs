// SPDX-License-Identifier: GPL-2.0-only
//
// scenario.rs - one rt-app workload and one axrt.toml, joined the way the real system joins
// them: each rt-app thread is named after its task (rt-app 1.0; the kernel keeps 15 bytes of a
// name and rt-app keeps its own when the name is longer), sits in its taskgroup's cgroup, which
// belongs to the [[vm]] whose glob matches it or an ancestor (the loader's own rule), and gets
// the first [[task]] rule of that VM matching its name. The events become a program of
// operations on resources numbered once (timers, mutexes, suspend conditions), so the engine
// never looks a name up.

//! Workload + configuration → the threads the engine runs.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use axrt_policy::{CpuSet, Prio, Time, Timing};
use scx_axrt::config::{match_task, Config};

use crate::workload::{Calibration, EventKind, Workload};

/// Nanoseconds per microsecond.
pub const US: Time = 1_000;
/// Nanoseconds per millisecond.
pub const MS: Time = 1_000_000;
/// Nanoseconds per second.
pub const SEC: Time = 1_000_000_000;
/// The kernel keeps at most this many bytes of a thread name.
const COMM_MAX: usize = 15;

/// One operation of a thread's program (an rt-app event with its resource resolved).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// CPU work, ns.
    Run(Time),
    /// Work until this much wall-clock time has passed, ns.
    Runtime(Time),
    /// Sleep, ns.
    Sleep(Time),
    /// Timer `timer` with `period` ns.
    Timer {
        /// Timer index.
        timer: u32,
        /// Period, ns.
        period: Time,
    },
    /// Wait on condition `cond`.
    Suspend(u32),
    /// Wake every waiter of condition `cond`.
    Resume(u32),
    /// sched_yield().
    Yield,
    /// Take mutex `m`.
    Lock(u32),
    /// Release mutex `m`.
    Unlock(u32),
}

/// One phase of a program.
#[derive(Clone, Debug)]
pub struct PhaseProgram {
    /// Iterations before the next phase.
    pub loops: u64,
    /// Affinity in this phase (`None`: the thread's).
    pub cpus: Option<CpuSet>,
    /// The operations in order.
    pub ops: Vec<Op>,
    /// Index of the last timer operation: an iteration of a phase with a timer is a job that
    /// completes when the thread reaches it.
    pub last_timer: Option<usize>,
    /// Sum of the timer periods (rt-app's c_period), ns.
    pub period: Time,
    /// Sum of the run/runtime durations as written (rt-app's c_duration), ns.
    pub work: Time,
}

/// A simulated thread.
#[derive(Clone, Debug)]
pub struct ThreadSpec {
    /// The task's key in the workload.
    pub task: String,
    /// rt-app's thread index (position over all instances, file order).
    pub index: usize,
    /// The thread's name as the kernel sees it.
    pub comm: String,
    /// Its VM (index in the configuration's `vms`), `None`: the host group.
    pub vm: Option<usize>,
    /// Its [[task]] rule, if one matches.
    pub rule: Option<usize>,
    /// Priority under the AxRT policy (rule, else VM, else host priority).
    pub prio: Prio,
    /// Nice value (rt-app `priority`).
    pub nice: i8,
    /// Timing contract from the rule (what scx_axrt judges jobs by).
    pub contract: Timing,
    /// Affinity (`None`: every CPU).
    pub cpus: Option<CpuSet>,
    /// Start delay, ns.
    pub delay: Time,
    /// Phases.
    pub phases: Vec<PhaseProgram>,
    /// Iterations of all phases; `None`: for ever.
    pub loops: Option<u64>,
}

impl ThreadSpec {
    /// The relative deadline jobs of phase `p` are judged against: the rule's deadline (or
    /// period), else the phase's timer period.
    pub fn relative_deadline(&self, p: usize) -> Time {
        self.contract
            .relative_deadline()
            .unwrap_or(self.phases[p].period)
    }

    /// Whether any phase has a timer (the thread has jobs).
    pub fn periodic(&self) -> bool {
        self.phases.iter().any(|p| p.last_timer.is_some())
    }
}

/// A timer resource.
#[derive(Clone, Debug)]
pub struct TimerSpec {
    /// Its name (unique timers: name and thread index).
    pub name: String,
    /// Absolute mode.
    pub absolute: bool,
}

/// Everything the engine needs.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// CPUs.
    pub cpus: usize,
    /// End of the run, ns.
    pub duration: Time,
    /// The configuration (VMs, rules, system parameters).
    pub config: Config,
    /// Threads in rt-app's index order.
    pub threads: Vec<ThreadSpec>,
    /// Timers.
    pub timers: Vec<TimerSpec>,
    /// Mutex names.
    pub mutexes: Vec<String>,
    /// Suspend-condition names.
    pub conds: Vec<String>,
    /// Mutexes are priority-inheritance mutexes (`pi_enabled`).
    pub pi: bool,
    /// rt-app's `cumulative_slack`.
    pub cumulative_slack: bool,
    /// ns per loop for the logs' `perf` column (1000 when rt-app would calibrate).
    pub ns_per_loop: u64,
    /// `log_basename`.
    pub log_basename: String,
}

/// Interns names as dense indices, in order of first use.
#[derive(Default)]
struct Names(BTreeMap<String, u32>, Vec<String>);

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.0.get(name) {
            return i;
        }
        let i = self.1.len() as u32;
        self.0.insert(name.to_string(), i);
        self.1.push(name.to_string());
        i
    }
}

fn cpu_set(list: &[usize], cpus: usize, what: &str) -> Result<CpuSet> {
    let mut set = CpuSet::empty();
    for &c in list {
        if c >= cpus {
            bail!("{what}: CPU {c} does not exist (the run has {cpus} CPUs)");
        }
        set.insert(c);
    }
    Ok(set)
}

impl Scenario {
    /// Joins `workload` and `config` for a machine of `cpus` CPUs. `duration` overrides the
    /// workload's (required when it has none). `work_scale` multiplies every `run` (CPU work),
    /// as a CPU faster or slower than the calibrated one would.
    pub fn build(
        workload: &Workload,
        config: &Config,
        cpus: usize,
        duration: Option<Time>,
        work_scale: f64,
    ) -> Result<Scenario> {
        if cpus == 0 || cpus > axrt_policy::types::MAX_CPUS {
            bail!("{cpus} CPUs: use 1..={}", axrt_policy::types::MAX_CPUS);
        }
        let duration = match (duration, workload.duration_s) {
            (Some(d), _) => d,
            (None, Some(s)) => s * SEC,
            (None, None) => bail!(
                "the workload runs until its threads end (global.duration -1): give --duration-ms"
            ),
        };
        if !(work_scale > 0.0 && work_scale.is_finite()) {
            bail!("work scale {work_scale} must be a positive number");
        }
        let mut timers = Names::default();
        let mut absolute: BTreeMap<u32, bool> = BTreeMap::new();
        let mut mutexes = Names::default();
        let mut conds = Names::default();
        let mut threads = Vec::new();
        for task in &workload.tasks {
            let comm = if task.name.len() <= COMM_MAX {
                task.name.clone()
            } else {
                "rt-app".to_string()
            };
            let vm = task
                .taskgroup
                .as_deref()
                .and_then(|g| config.vm_of_cgroup(g));
            let rule = vm.and_then(|v| match_task(&config.tasks, v, &comm));
            let prio = match (rule, vm) {
                (Some(r), _) => config.tasks[r]
                    .params
                    .priority
                    .unwrap_or(config.system.host_priority),
                (None, Some(v)) => config.vms[v].params.priority,
                (None, None) => config.system.host_priority,
            };
            let contract = rule.map_or(Timing::NONE, |r| config.tasks[r].params.timing);
            let where_ = format!("tasks.{}", task.name);
            let cpus_of = |l: &Option<Vec<usize>>, at: &str| -> Result<Option<CpuSet>> {
                l.as_deref().map(|l| cpu_set(l, cpus, at)).transpose()
            };
            let task_cpus = cpus_of(&task.cpus, &format!("{where_}.cpus"))?;
            for _ in 0..task.instance {
                let index = threads.len();
                let mut phases = Vec::new();
                for ph in &task.phases {
                    let mut ops = Vec::new();
                    let mut last_timer = None;
                    let (mut period, mut work) = (0, 0);
                    for ev in &ph.events {
                        let op = match &ev.kind {
                            EventKind::Run(us) => {
                                work += us * US;
                                Op::Run(((us * US) as f64 * work_scale).round() as Time)
                            }
                            EventKind::Runtime(us) => {
                                work += us * US;
                                Op::Runtime(us * US)
                            }
                            EventKind::Sleep(us) => Op::Sleep(us * US),
                            EventKind::Timer {
                                reference,
                                period_us,
                                absolute: abs,
                            } => {
                                let name = if reference.starts_with("unique") {
                                    format!("{reference}#{index}")
                                } else {
                                    reference.clone()
                                };
                                let timer = timers.id(&name);
                                if *absolute.entry(timer).or_insert(*abs) != *abs {
                                    bail!(
                                        "{where_}: timer \"{reference}\" is used both in relative \
                                         and in absolute mode (rt-app keeps one mode per timer)"
                                    );
                                }
                                last_timer = Some(ops.len());
                                period += period_us * US;
                                Op::Timer {
                                    timer,
                                    period: period_us * US,
                                }
                            }
                            EventKind::Suspend(c) => {
                                Op::Suspend(conds.id(if c.is_empty() { &task.name } else { c }))
                            }
                            EventKind::Resume(c) => Op::Resume(conds.id(c)),
                            EventKind::Yield => Op::Yield,
                            EventKind::Lock(m) => Op::Lock(mutexes.id(m)),
                            EventKind::Unlock(m) => Op::Unlock(mutexes.id(m)),
                        };
                        ops.push(op);
                    }
                    phases.push(PhaseProgram {
                        loops: ph.loops,
                        cpus: cpus_of(&ph.cpus, &format!("{where_}.phases.{}.cpus", ph.name))?,
                        ops,
                        last_timer,
                        period,
                        work,
                    });
                }
                threads.push(ThreadSpec {
                    task: task.name.clone(),
                    index,
                    comm: comm.clone(),
                    vm,
                    rule,
                    prio,
                    nice: task.nice,
                    contract,
                    cpus: task_cpus,
                    delay: task.delay_us * US,
                    phases,
                    loops: task.loops,
                });
            }
        }
        let timer_specs = timers
            .1
            .iter()
            .enumerate()
            .map(|(i, name)| TimerSpec {
                name: name.clone(),
                absolute: absolute[&(i as u32)],
            })
            .collect();
        Ok(Scenario {
            cpus,
            duration,
            config: config.clone(),
            threads,
            timers: timer_specs,
            mutexes: mutexes.1,
            conds: conds.1,
            pi: workload.pi_enabled,
            cumulative_slack: workload.cumulative_slack,
            ns_per_loop: match workload.calibration {
                Calibration::NsPerLoop(ns) => ns,
                Calibration::Cpu(_) => 1000,
            },
            log_basename: workload.log_basename.clone(),
        })
    }

    /// Name of VM `vm` (`None`: "host").
    pub fn vm_name(&self, vm: Option<usize>) -> &str {
        match vm {
            Some(v) => &self.config.vms[v].params.name,
            None => "host",
        }
    }

    /// VM budget as a fraction of one CPU, if it has one.
    pub fn vm_budget(&self, vm: Option<usize>) -> Option<f64> {
        let v = vm?;
        let (q, p) = self.config.vms[v].params.budget_pair()?;
        Some(q as f64 / p as f64)
    }
}
