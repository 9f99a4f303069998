// SPDX-License-Identifier: GPL-2.0-only
//
// Results: the per-vCPU and per-VM records a VM process sends to the parent (JSON over a pipe),
// the whole run's JSON document, and the aligned table printed on stdout.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::calibrate::Calibration;
use crate::stats::Summary;

/// One vCPU's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VcpuReport {
    /// VM name.
    pub vm: String,
    /// vCPU index (= APIC id; the thread is "CPU <vcpu>/KVM").
    pub vcpu: u32,
    /// Kernel thread id of the vCPU thread.
    pub tid: i32,
    /// periodic, hog or lock.
    pub workload: String,
    /// Completed periodic jobs, hog batches or lock acquisitions.
    pub jobs: u64,
    /// Periodic jobs that finished after their deadline (= the period).
    pub misses: u64,
    /// misses / jobs.
    pub miss_ratio: f64,
    /// Periodic: job response times (completion - release); lock: acquisition waits; hog: none.
    pub response: Option<Summary>,
    /// CPU time of the thread over wall time, in % of one CPU.
    pub cpu_share_pct: f64,
    /// Thread CPU time over the run, s.
    pub cpu_s: f64,
    /// Wall time of the run, s.
    pub wall_s: f64,
    /// Work done: periodic jobs, hog loop iterations, or lock acquisitions counted by the guest.
    pub work: u64,
    /// Lock: KVM_HC_SCHED_YIELD hypercalls issued.
    pub yields: u64,
    /// Lock: pause instructions executed while waiting.
    pub pauses: u64,
    /// Port I/O exits the guest made (every `out`: job ends, hog batches, lock releases).
    #[serde(default)]
    pub io_exits: u64,
    /// Halt workload: `hlt` instructions the guest executed (each one a HLT exit).
    #[serde(default)]
    pub halts: u64,
    /// Periodic: release times of the first missed jobs (up to 32), ms after the start.
    #[serde(default)]
    pub missed_at_ms: Vec<f64>,
}

/// One VM's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VmReport {
    /// VM name.
    pub name: String,
    /// Process id of the VM process.
    pub pid: i32,
    /// The VM's cgroup, when --cgroup-root was given.
    pub cgroup: Option<String>,
    /// periodic, hog or lock.
    pub workload: String,
    /// Periodic: period (= deadline) in us.
    pub period_us: Option<u64>,
    /// Periodic: job size in % of the period.
    pub load_pct: Option<f64>,
    /// Guest loop iterations per job (periodic), per batch (hog) or per critical section (lock).
    pub spin_iterations: u32,
    /// SCHED_FIFO priority of the vCPU threads, if `--fifo` gave them one.
    #[serde(default)]
    pub fifo_priority: Option<u8>,
    /// The signal that ended the run early, if any.
    pub stopped_by_signal: Option<i32>,
    /// Per-vCPU results, by index.
    pub vcpus: Vec<VcpuReport>,
}

/// What a VM process sends to the parent.
#[derive(Debug, Serialize, Deserialize)]
pub enum ChildMessage {
    /// The VM ran.
    Done(VmReport),
    /// The VM failed; one line.
    Failed(String),
}

/// The whole run (the --json document).
#[derive(Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// "axrt-vmload".
    pub tool: String,
    /// Its version.
    pub version: String,
    /// Requested duration, s.
    pub duration_s: f64,
    /// Lock waiters' strategy.
    pub yield_mode: String,
    /// The hypercall instruction used: vmcall (Intel) or vmmcall (AMD).
    pub hypercall_insn: String,
    /// Calibration measured at start-up.
    pub calibration: Calibration,
    /// VMs that ran, in start order.
    pub vms: Vec<VmReport>,
    /// One line per VM that failed.
    pub errors: Vec<String>,
}

fn opt_us(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |x| format!("{x:.0}"))
}

/// The results as an aligned table, one line per vCPU.
pub fn table(report: &RunReport) -> String {
    let header = [
        "VM", "VCPU", "WORKLOAD", "JOBS", "MISSES", "MISS%", "P50us", "P99us", "MAXus", "CPU%",
        "WORK", "YIELDS",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for v in report.vms.iter().flat_map(|vm| &vm.vcpus) {
        let r = v.response;
        rows.push(vec![
            v.vm.clone(),
            v.vcpu.to_string(),
            v.workload.clone(),
            v.jobs.to_string(),
            v.misses.to_string(),
            format!("{:.1}", 100.0 * v.miss_ratio),
            opt_us(r.map(|s| s.p50_us)),
            opt_us(r.map(|s| s.p99_us)),
            opt_us(r.map(|s| s.max_us)),
            format!("{:.1}", v.cpu_share_pct),
            v.work.to_string(),
            v.yields.to_string(),
        ]);
    }
    // Text columns left-aligned, numbers right-aligned.
    aligned(&rows, &|c| c == 0 || c == 2)
}

/// Rows of cells as aligned text columns: `left(c)` columns left-aligned, the others
/// right-aligned, two spaces between columns.
pub fn aligned(rows: &[Vec<String>], left: &dyn Fn(usize) -> bool) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if left(c) {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            } else {
                let _ = write!(line, "{cell:>w$}  ", w = widths[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vcpu(vm: &str, workload: &str, response: Option<Summary>) -> VcpuReport {
        VcpuReport {
            vm: vm.into(),
            vcpu: 0,
            tid: 1,
            workload: workload.into(),
            jobs: 500,
            misses: 5,
            miss_ratio: 0.01,
            response,
            cpu_share_pct: 30.04,
            cpu_s: 1.5,
            wall_s: 5.0,
            work: 500,
            yields: 0,
            pauses: 0,
            io_exits: 500,
            halts: 0,
            missed_at_ms: vec![120.0],
        }
    }

    #[test]
    fn table_is_aligned_and_round_trips() {
        let s = Summary {
            p50_us: 3012.4,
            p99_us: 3500.0,
            max_us: 4100.0,
        };
        let vm = |name: &str, w: &str, r| VmReport {
            name: name.into(),
            pid: 1,
            cgroup: None,
            workload: w.into(),
            period_us: None,
            load_pct: None,
            spin_iterations: 1,
            fifo_priority: None,
            stopped_by_signal: None,
            vcpus: vec![vcpu(name, w, r)],
        };
        let report = RunReport {
            tool: "axrt-vmload".into(),
            version: "0".into(),
            duration_s: 5.0,
            yield_mode: "pause".into(),
            hypercall_insn: "vmmcall".into(),
            calibration: Calibration {
                iters_per_us: 1.0,
                exit_overhead_us: 1.0,
                tsc_per_us: 1.0,
            },
            vms: vec![vm("rt", "periodic", Some(s)), vm("background", "hog", None)],
            errors: vec![],
        };
        let t = table(&report);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("VM          VCPU  WORKLOAD"));
        assert!(lines[1].contains(" 3012 ") && lines[1].contains("30.0"));
        assert!(lines[2].contains(" - "));
        // The CPU% column ends at the same place on every line.
        let col = |l: &str| l.find("30.0").unwrap();
        assert_eq!(col(lines[1]), col(lines[2]));
        let json = serde_json::to_string(&ChildMessage::Done(report.vms[0].clone())).unwrap();
        let back: ChildMessage = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, ChildMessage::Done(v) if v.vcpus[0].response == Some(s)));
    }
}
