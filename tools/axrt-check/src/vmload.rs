// SPDX-License-Identifier: GPL-2.0-only
//
// vmload.rs - tests/vm/vmload.sh's checks on axrt-vmload's micro-VMs (KVM nested in the TCG
// guest), one part per run: a periodic VM alone (jobs and CPU share), the periodic VM next to a
// hog VM (both progress), and the lock workload with pause and with hypercall waiting (every
// vCPU acquires the lock; the guest's sched-yield hypercalls reach KVM). Each part reads the
// run's --json report and first checks that the run had the scenario's setup.

//! axrt-vmload's runs in the test VM.

use std::path::PathBuf;

use axrt_vmload::report::RunReport;

use crate::cgroup::{round1, within};
use crate::data::{self, Error};
use crate::verdict::{require, shown, Verdicts};

/// The periodic run: VM "rt", 2 vCPUs, jobs of 30% of a 10 ms period, 5 s.
const PERIODIC_VM: &str = "rt";
const PERIODIC_VCPUS: u32 = 2;
const LOAD_PCT: f64 = 30.0;
const PERIOD_US: u64 = 10_000;
const DURATION_S: f64 = 5.0;
/// Each job's size is corrected from the thread's CPU time over the previous cycle, a quarter
/// of the way per job, so the share follows the load whatever the emulated CPU's speed does;
/// +-3 points: the first jobs run at the calibrated size while the correction converges, and
/// time stolen from an emulated CPU counts as running time in the guest.
const SHARE_TOL_PTS: f64 = 3.0;
/// The lock runs: VM "lk", 3 vCPUs.
const LOCK_VM: &str = "lk";
const LOCK_VCPUS: u32 = 3;
/// Progress bounds: a running vCPU does far more in seconds (millions of hog iterations,
/// hundreds of jobs, thousands of acquisitions); these only tell "ran" from "stuck".
const MIN_HOG_WORK: u64 = 1000;
const MIN_HOG_BATCHES: u64 = 10;
const MIN_RT_JOBS: u64 = 100;
const MIN_ACQUISITIONS: u64 = 10;
/// The trace line of KVM_HC_SCHED_YIELD (hypercall number 11).
const SCHED_YIELD_TRACE: &str = "kvm_hypercall: nr 0xb ";

/// Arguments of `axrt-check vmload`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    part: Part,
}

#[derive(Debug, clap::Subcommand)]
enum Part {
    /// The periodic VM alone
    Periodic {
        /// The run's --json report
        #[arg(long)]
        report: PathBuf,
    },
    /// The periodic VM next to a hog VM
    Mixed {
        /// The run's --json report
        #[arg(long)]
        report: PathBuf,
    },
    /// The lock workload
    Lock {
        /// How waiters wait: pause or hypercall
        #[arg(long)]
        mode: String,
        /// The run's --json report
        #[arg(long)]
        report: PathBuf,
        /// A copy of the trace buffer with the kvm:kvm_hypercall tracepoint on (hypercall)
        #[arg(long)]
        trace: Option<PathBuf>,
        /// KVM debugfs directed_yield_attempted read while the VM lived (hypercall)
        #[arg(long)]
        directed_yield_attempted: Option<u64>,
        /// KVM debugfs directed_yield_successful read with it (for the note)
        #[arg(long)]
        directed_yield_successful: Option<u64>,
    },
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    let mut v = Verdicts::default();
    match &a.part {
        Part::Periodic { report } => periodic(&mut v, &data::vmload(report)),
        Part::Mixed { report } => mixed(&mut v, &data::vmload(report)),
        Part::Lock {
            mode,
            report,
            trace,
            directed_yield_attempted,
            directed_yield_successful,
        } => {
            let trace = trace.as_ref().map(|t| {
                std::fs::read_to_string(t)
                    .map(|s| s.lines().filter(|l| l.contains(SCHED_YIELD_TRACE)).count() as u64)
                    .map_err(|e| format!("{}: {e}", t.display()))
            });
            lock(
                &mut v,
                mode,
                &data::vmload(report),
                trace,
                *directed_yield_attempted,
                *directed_yield_successful,
            )
        }
    }
    v
}

/// The periodic VM's setup in the report, or why it is not the scenario's.
fn periodic_setup(r: &RunReport) -> Result<(), Error> {
    let vm = r
        .vms
        .iter()
        .find(|v| v.name == PERIODIC_VM)
        .ok_or("no periodic VM in the report")?;
    require(
        vm.period_us == Some(PERIOD_US)
            && vm.load_pct == Some(LOAD_PCT)
            && r.duration_s == DURATION_S,
        || {
            format!(
                "the run is not the scenario's (period {:?} us, load {:?}%, {} s)",
                vm.period_us, vm.load_pct, r.duration_s
            )
        },
    )
}

fn periodic(v: &mut Verdicts, r: &Result<RunReport, Error>) {
    let setup = r
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|r| periodic_setup(r).map(|_| r));
    if let Ok(r) = &setup {
        v.note(format!(
            "calibration: {}",
            serde_json::to_string(&r.calibration).unwrap_or_default()
        ));
    }
    // One job per period from the common start, so duration/period per vCPU when none
    // overruns; 10% for the periods that start-up and the run's end cut.
    let expect = (DURATION_S * 1e6) as u64 / PERIOD_US;
    for i in 0..PERIODIC_VCPUS {
        let c = setup.as_ref().map_err(Clone::clone).and_then(|r| {
            data::vcpu(r, PERIODIC_VM, i)
                .cloned()
                .ok_or(format!("no vCPU {PERIODIC_VM}/{i} in the report"))
        });
        let jobs = c.as_ref().ok().map(|c| c.jobs);
        let share = c.as_ref().ok().map(|c| round1(c.cpu_share_pct));
        if let Ok(c) = &c {
            let us = |f: fn(&axrt_vmload::stats::Summary) -> f64| {
                c.response
                    .as_ref()
                    .map_or("-".to_string(), |s| format!("{:.0}", f(s)))
            };
            v.note(format!(
                "periodic rt/{i}: jobs {} (expected {expect}), misses {}, response p50 {} us p99 {} us, \
                 CPU share {:.1}% (target 30%)",
                c.jobs,
                c.misses,
                us(|s| s.p50_us),
                us(|s| s.p99_us),
                c.cpu_share_pct
            ));
        }
        let fail = || c.as_ref().err().cloned().unwrap_or_default();
        v.check(
            format!(
                "periodic vCPU {i} completes duration/period = {expect} jobs +-10% (got {})",
                shown(jobs)
            ),
            jobs.map_or_else(
                || Err(fail()),
                |j| {
                    require(j.abs_diff(expect) <= expect / 10, || {
                        format!("{j} is more than {} from {expect}", expect / 10)
                    })
                },
            ),
        );
        v.check(
            format!(
                "periodic vCPU {i} takes 30% +-3 of a CPU (got {}%)",
                share.map_or("none".into(), |s| format!("{s:.1}"))
            ),
            share.map_or_else(
                || Err(fail()),
                |s| {
                    require(within(s, LOAD_PCT, SHARE_TOL_PTS), || {
                        format!("{s:.1}% is not within {SHARE_TOL_PTS} points of {LOAD_PCT}%")
                    })
                },
            ),
        );
    }
}

fn mixed(v: &mut Verdicts, r: &Result<RunReport, Error>) {
    let r = r.as_ref().ok();
    let vc = |vm, i| r.and_then(|r| data::vcpu(r, vm, i));
    let hog = vc("hog", 0);
    let (work, batches) = (hog.map(|c| c.work), hog.map(|c| c.jobs));
    let (a, b) = (
        vc(PERIODIC_VM, 0).map(|c| c.jobs),
        vc(PERIODIC_VM, 1).map(|c| c.jobs),
    );
    v.note(format!(
        "mixed: hog work {} loop iterations in {} batches, CPU {}%; rt jobs {}/{}",
        shown(work),
        shown(batches),
        hog.map_or("none".into(), |c| format!("{:.1}", c.cpu_share_pct)),
        shown(a),
        shown(b)
    ));
    v.check(
        format!(
            "the hog VM's work counter grows (got {} iterations, {} batch exits)",
            shown(work),
            shown(batches)
        ),
        require(
            work.unwrap_or(0) > MIN_HOG_WORK && batches.unwrap_or(0) > MIN_HOG_BATCHES,
            || format!("want more than {MIN_HOG_WORK} iterations in more than {MIN_HOG_BATCHES} batches"),
        ),
    );
    v.check(
        "the periodic VM keeps running next to the hog",
        require(
            a.unwrap_or(0) > MIN_RT_JOBS && b.unwrap_or(0) > MIN_RT_JOBS,
            || {
                format!(
                    "jobs {}/{}, want more than {MIN_RT_JOBS} each",
                    shown(a),
                    shown(b)
                )
            },
        ),
    );
}

fn lock(
    v: &mut Verdicts,
    mode: &str,
    r: &Result<RunReport, Error>,
    trace: Option<Result<u64, Error>>,
    attempted: Option<u64>,
    successful: Option<u64>,
) {
    let ok = r.as_ref().ok();
    let mut yields = 0;
    for i in 0..LOCK_VCPUS {
        let c = ok.and_then(|r| data::vcpu(r, LOCK_VM, i));
        yields += c.map_or(0, |c| c.yields);
        let acq = c.map(|c| c.work);
        v.check(
            format!(
                "lock vCPU {i} acquires the lock with {mode} waiting (got {})",
                shown(acq)
            ),
            match (acq, r) {
                (Some(n), _) => require(n > MIN_ACQUISITIONS, || {
                    format!("want more than {MIN_ACQUISITIONS}")
                }),
                (None, Err(e)) => Err(e.clone()),
                (None, Ok(_)) => Err(format!("no vCPU {LOCK_VM}/{i} in the report")),
            },
        );
    }
    if mode != "hypercall" {
        return;
    }
    v.note(format!(
        "hypercall lock: guest-issued sched-yield hypercalls {yields}; KVM debugfs mid-run: \
         directed_yield_attempted {}, directed_yield_successful {}",
        attempted.map_or("n/a".into(), |n| n.to_string()),
        successful.map_or("n/a".into(), |n| n.to_string())
    ));
    v.check(
        format!("the guest issued sched-yield hypercalls (got {yields})"),
        require(yields > 0, || "none".into()),
    );
    match trace {
        Some(fired) => {
            let n = fired.as_ref().map_or("none".to_string(), u64::to_string);
            v.note(format!(
                "tracepoint kvm:kvm_hypercall fired {n} times with nr 0xb (KVM_HC_SCHED_YIELD)"
            ));
            v.check(
                format!(
                    "KVM saw the sched-yield hypercalls (tracepoint kvm:kvm_hypercall, got {n})"
                ),
                fired.and_then(|f| require(f > 0, || "no trace line".into())),
            );
        }
        None => v.note(
            "tracepoint kvm:kvm_hypercall not available: KVM's view checked through debugfs only",
        ),
    }
    if let Some(a) = attempted {
        v.check(
            format!("KVM counted directed-yield attempts (debugfs, got {a})"),
            require(a > 0, || "none".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixtures;

    fn periodic_run(jobs: [u64; 2], shares: [f64; 2], period_us: u64) -> Result<RunReport, Error> {
        let mut r = fixtures::vmload(
            DURATION_S,
            vec![(
                PERIODIC_VM,
                (0..2)
                    .map(|i| {
                        fixtures::vcpu(PERIODIC_VM, i, jobs[i as usize], 0, 0, shares[i as usize])
                    })
                    .collect(),
            )],
        );
        r.vms[0].period_us = Some(period_us);
        r.vms[0].load_pct = Some(LOAD_PCT);
        Ok(r)
    }

    #[test]
    fn periodic_jobs_and_shares_near_the_target_pass() {
        let mut v = Verdicts::default();
        periodic(&mut v, &periodic_run([498, 455], [31.2, 27.04], PERIOD_US));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert!(v
            .outcome("periodic vCPU 1 takes 30% +-3 of a CPU (got 27.0%)")
            .is_some());
    }

    #[test]
    fn lost_jobs_a_wrong_share_and_a_wrong_setup_fail() {
        let mut v = Verdicts::default();
        periodic(&mut v, &periodic_run([440, 500], [30.0, 35.0], PERIOD_US));
        assert_eq!(
            v.names().1,
            [
                "periodic vCPU 0 completes duration/period = 500 jobs +-10% (got 440)",
                "periodic vCPU 1 takes 30% +-3 of a CPU (got 35.0%)"
            ]
        );
        let mut v = Verdicts::default();
        periodic(&mut v, &periodic_run([500, 500], [30.0, 30.0], 1000));
        assert_eq!(v.failed(), 4);
        assert!(v
            .outcome("periodic vCPU 0 completes duration/period = 500 jobs +-10% (got none)")
            .is_some_and(|o| o.unwrap_err().contains("not the scenario's")));
    }

    #[test]
    fn a_stuck_hog_or_lock_vcpu_fails_and_yields_must_reach_kvm() {
        let run = |hog_work| {
            Ok(fixtures::vmload(
                4.0,
                vec![
                    (
                        PERIODIC_VM,
                        (0..2)
                            .map(|i| fixtures::vcpu(PERIODIC_VM, i, 400, 0, 0, 30.0))
                            .collect(),
                    ),
                    ("hog", vec![fixtures::vcpu("hog", 0, 50, hog_work, 0, 50.0)]),
                ],
            ))
        };
        let mut v = Verdicts::default();
        mixed(&mut v, &run(5_000_000));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        let mut v = Verdicts::default();
        mixed(&mut v, &run(900));
        assert_eq!(
            v.names().1,
            ["the hog VM's work counter grows (got 900 iterations, 50 batch exits)"]
        );

        let lk = |acq: u64, yields: u64| {
            Ok(fixtures::vmload(
                2.0,
                vec![(
                    LOCK_VM,
                    (0..3)
                        .map(|i| fixtures::vcpu(LOCK_VM, i, 0, acq + i as u64, yields, 60.0))
                        .collect(),
                )],
            ))
        };
        let mut v = Verdicts::default();
        lock(
            &mut v,
            "hypercall",
            &lk(1000, 5),
            Some(Ok(12)),
            Some(3),
            Some(1),
        );
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        let mut v = Verdicts::default();
        lock(&mut v, "hypercall", &lk(10, 0), Some(Ok(0)), Some(0), None);
        assert_eq!(
            v.names().1,
            [
                "lock vCPU 0 acquires the lock with hypercall waiting (got 10)",
                "the guest issued sched-yield hypercalls (got 0)",
                "KVM saw the sched-yield hypercalls (tracepoint kvm:kvm_hypercall, got 0)",
                "KVM counted directed-yield attempts (debugfs, got 0)"
            ]
        );
        let mut v = Verdicts::default();
        lock(&mut v, "pause", &Err("no report".into()), None, None, None);
        assert_eq!(v.names().1.len(), 3);
    }
}
