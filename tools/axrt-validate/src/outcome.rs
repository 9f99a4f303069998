// SPDX-License-Identifier: GPL-2.0-only
//
// From an axrt-vmload report to the suite's figures per VM: miss ratio (jobs never finished
// count as missed), worst vCPU p99 response, CPU share of the machine and its error against the
// budget, and a hog's work against what its budget allows at the calibrated work rate.

use std::collections::BTreeMap;

use axrt_vmload::cli::Workload;
use axrt_vmload::report::RunReport;
use scx_axrt::stats::Report;
use serde::Serialize;

use crate::mode::Mode;
use crate::scenario::{Role, Scenario};

/// One VM's figures in one run.
#[derive(Clone, Debug, Serialize)]
pub struct VmOutcome {
    /// VM name.
    pub name: String,
    /// Its role in the scenario.
    pub role: Role,
    /// periodic or hog.
    pub workload: String,
    /// Budget in % of the machine, if it has one.
    pub budget_pct: Option<f64>,
    /// CPU time of its vCPU threads over the run, in % of the machine.
    pub share_pct: f64,
    /// share_pct - budget_pct, in points of the machine.
    pub share_error_pct: Option<f64>,
    /// Periodic: jobs released (duration / period, per vCPU, summed).
    pub released: u64,
    /// Periodic: jobs completed.
    pub jobs: u64,
    /// Periodic: completed jobs that missed their deadline.
    pub misses: u64,
    /// Periodic: (misses + jobs never completed) / released.
    pub miss_ratio: Option<f64>,
    /// Periodic: the worst vCPU's 99th-percentile response time, µs.
    pub p99_us: Option<f64>,
    /// Hog: loop iterations done.
    pub work: u64,
    /// Hog with a budget: work / (iterations per CPU-second of the same VM alone x budget x
    /// duration).
    pub work_vs_budget: Option<f64>,
}

/// One scenario under one mode.
#[derive(Clone, Debug, Serialize)]
pub struct RunOutcome {
    /// Scenario id.
    pub scenario: u8,
    /// How it was scheduled.
    pub mode: Mode,
    /// Per VM, in scenario order (empty if the run failed).
    pub vms: Vec<VmOutcome>,
    /// scx_axrt's own statistics over the run, as it printed them when it stopped (axrt
    /// mode only).
    pub scx_axrt: Option<Report>,
    /// Why the run produced no figures, if it did not.
    pub error: Option<String>,
    /// The error of a first attempt that hit a guest fault and was repeated.
    pub repeated_after: Option<String>,
}

impl RunOutcome {
    /// A run that failed.
    pub fn failed(scenario: u8, mode: Mode, error: String) -> RunOutcome {
        RunOutcome {
            scenario,
            mode,
            vms: Vec::new(),
            scx_axrt: None,
            error: Some(error),
            repeated_after: None,
        }
    }

    /// The VM named `name`, if the run has figures for it.
    pub fn vm(&self, name: &str) -> Option<&VmOutcome> {
        self.vms.iter().find(|v| v.name == name)
    }

    /// The largest |share error| over the budgeted VMs.
    pub fn max_share_error(&self) -> Option<f64> {
        self.vms
            .iter()
            .filter_map(|v| v.share_error_pct.map(f64::abs))
            .reduce(f64::max)
    }
}

/// Whether a run's error is a micro-VM whose vCPU ended up executing at a wrong IP, as
/// axrt-vmload reports it. Under QEMU's TCG (no NRIP-save in the emulated CPU, so KVM in the
/// test VM emulates instructions to step over them) this happens about once in a few minutes of
/// vCPU run time whatever the host scheduler; such a run is repeated once, and says so.
pub fn is_guest_fault(error: &str) -> bool {
    error.contains("guest exception") || error.contains("unexpected vCPU exit")
}

/// Hog loop iterations per CPU-second, from a calibration run of a hog VM alone.
pub fn hog_rate(report: &RunReport) -> Option<f64> {
    let (work, cpu_s) = report
        .vms
        .iter()
        .flat_map(|vm| &vm.vcpus)
        .fold((0u64, 0.0), |(w, c), v| (w + v.work, c + v.cpu_s));
    (work > 0 && cpu_s > 0.0).then(|| work as f64 / cpu_s)
}

/// The figures of `scenario` from its axrt-vmload `report` on a `cpus`-CPU machine.
pub fn of_report(
    scenario: &Scenario,
    report: &RunReport,
    cpus: u32,
    period_us: u64,
    hog_rates: &BTreeMap<u32, f64>,
) -> Result<Vec<VmOutcome>, String> {
    if let Some(e) = report.errors.first() {
        return Err(e.clone());
    }
    scenario
        .vms
        .iter()
        .map(|spec| {
            let vm = report
                .vms
                .iter()
                .find(|r| r.name == spec.name)
                .ok_or_else(|| format!("VM {} is missing from the report", spec.name))?;
            let wall_s = vm.vcpus.iter().map(|v| v.wall_s).fold(0.0, f64::max);
            let cpu_s: f64 = vm.vcpus.iter().map(|v| v.cpu_s).sum();
            if wall_s <= 0.0 {
                return Err(format!("VM {} ran for no time", spec.name));
            }
            let share_pct = 100.0 * cpu_s / (wall_s * cpus as f64);
            let jobs: u64 = vm.vcpus.iter().map(|v| v.jobs).sum();
            let misses: u64 = vm.vcpus.iter().map(|v| v.misses).sum();
            let work: u64 = vm.vcpus.iter().map(|v| v.work).sum();
            let periodic = spec.workload == Workload::Periodic;
            let per_vcpu = (report.duration_s * 1e6 / period_us as f64).floor() as u64;
            let released = if periodic {
                (per_vcpu * u64::from(spec.vcpus)).max(jobs)
            } else {
                0
            };
            let miss_ratio = (periodic && released > 0)
                .then(|| (misses + (released - jobs)) as f64 / released as f64);
            let p99_us = vm
                .vcpus
                .iter()
                .filter_map(|v| v.response.map(|r| r.p99_us))
                .reduce(f64::max)
                .filter(|_| periodic);
            let rate = hog_rates.get(&spec.vcpus).copied();
            let work_vs_budget = match (spec.workload, spec.budget_pct, rate) {
                (Workload::Hog, Some(b), Some(rate)) => {
                    Some(work as f64 / (rate * b / 100.0 * cpus as f64 * wall_s))
                }
                _ => None,
            };
            Ok(VmOutcome {
                name: spec.name.clone(),
                role: spec.role,
                workload: spec.workload.to_string(),
                budget_pct: spec.budget_pct,
                share_pct,
                share_error_pct: spec.budget_pct.map(|b| share_pct - b),
                released,
                jobs,
                misses,
                miss_ratio,
                p99_us,
                work: if periodic { 0 } else { work },
                work_vs_budget,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    /// One vCPU's (jobs, misses, cpu_s, work).
    type Vcpu = (u64, u64, f64, u64);

    /// A report as axrt-vmload writes it, for VMs given as (name, workload, vCPUs).
    fn report(duration_s: f64, vms: &[(&str, &str, &[Vcpu])]) -> RunReport {
        let vms: Vec<serde_json::Value> = vms
            .iter()
            .map(|(name, workload, vcpus)| {
                let vcpus: Vec<serde_json::Value> = vcpus
                    .iter()
                    .enumerate()
                    .map(|(i, &(jobs, misses, cpu_s, work))| {
                        serde_json::json!({
                            "vm": name, "vcpu": i, "tid": 1, "workload": workload,
                            "jobs": jobs, "misses": misses, "miss_ratio": 0.0,
                            "response": {"p50_us": 100.0, "p99_us": 1000.0 * (i + 1) as f64, "max_us": 5000.0},
                            "cpu_share_pct": 0.0, "cpu_s": cpu_s, "wall_s": duration_s,
                            "work": work, "yields": 0, "pauses": 0
                        })
                    })
                    .collect();
                serde_json::json!({
                    "name": name, "pid": 1, "cgroup": null, "workload": workload,
                    "period_us": null, "load_pct": null, "spin_iterations": 1,
                    "stopped_by_signal": null, "vcpus": vcpus
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "tool": "axrt-vmload", "version": "0", "duration_s": duration_s,
            "yield_mode": "pause", "hypercall_insn": "vmmcall",
            "calibration": {"iters_per_us": 100.0, "exit_overhead_us": 10.0, "tsc_per_us": 1000.0},
            "vms": vms, "errors": []
        }))
        .expect("a valid report")
    }

    #[test]
    fn unfinished_jobs_count_as_missed_and_shares_are_of_the_machine() {
        let s = &scenario::all(2)[0];
        // 10 s at 10 ms: 1000 releases per vCPU. vCPU 0 finished all (5 late), vCPU 1 only 900
        // (10 late). The hog used 10 s of CPU on each of 4 vCPUs... of which 2 CPUs x 10 s exist.
        let r = report(
            10.0,
            &[
                (
                    "s1-rt",
                    "periodic",
                    &[(1000, 5, 3.0, 1000), (900, 10, 3.0, 900)],
                ),
                (
                    "s1-hog",
                    "hog",
                    &[
                        (0, 0, 2.5, 250),
                        (0, 0, 2.5, 250),
                        (0, 0, 2.5, 250),
                        (0, 0, 2.5, 250),
                    ],
                ),
            ],
        );
        let v = of_report(s, &r, 2, 10_000, &BTreeMap::from([(s.vms[1].vcpus, 100.0)])).unwrap();
        let rt = &v[0];
        assert_eq!((rt.released, rt.jobs, rt.misses), (2000, 1900, 15));
        assert!((rt.miss_ratio.unwrap() - 115.0 / 2000.0).abs() < 1e-12);
        assert_eq!(rt.p99_us, Some(2000.0)); // the worse vCPU's
        assert!((rt.share_pct - 30.0).abs() < 1e-9); // 6 CPU-s of 20
        assert_eq!(rt.share_error_pct, None);
        let hog = &v[1];
        assert!((hog.share_pct - 50.0).abs() < 1e-9);
        assert!(hog.share_error_pct.unwrap().abs() < 1e-9);
        assert_eq!(hog.miss_ratio, None);
        // 1000 iterations; the budget allows 100/CPU-s x 1 CPU x 10 s = 1000.
        assert!((hog.work_vs_budget.unwrap() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn failures_and_missing_vms_are_errors() {
        let s = &scenario::all(2)[0];
        let mut r = report(1.0, &[("s1-rt", "periodic", &[(100, 0, 0.3, 100)])]);
        assert!(of_report(s, &r, 2, 10_000, &BTreeMap::new())
            .unwrap_err()
            .contains("s1-hog"));
        r.errors.push("VM s1-rt: boom".into());
        assert_eq!(
            of_report(s, &r, 2, 10_000, &BTreeMap::new()).unwrap_err(),
            "VM s1-rt: boom"
        );
    }

    #[test]
    fn guest_faults_are_told_from_other_failures() {
        assert!(is_guest_fault(
            "axrt-vmload exit status: 1: axrt-vmload: VM s3-web: vCPU 1: guest exception #DE (vector 0) at IP 0x0"
        ));
        assert!(is_guest_fault(
            "VM lk: vCPU 2: unexpected vCPU exit: out to port 0xb"
        ));
        assert!(!is_guest_fault(
            "scx_axrt exited (exit status: 2) before it was active"
        ));
        assert!(!is_guest_fault("VM s1-rt is missing from the report"));
    }

    #[test]
    fn hog_rate_is_work_per_cpu_second() {
        let r = report(
            2.0,
            &[("cal", "hog", &[(0, 0, 2.0, 500), (0, 0, 1.0, 100)])],
        );
        assert_eq!(hog_rate(&r), Some(200.0));
        let r = report(2.0, &[("cal", "hog", &[(0, 0, 0.0, 0)])]);
        assert_eq!(hog_rate(&r), None);
    }
}
