// SPDX-License-Identifier: GPL-2.0-only
//
// One VM process (a forked child): joins its cgroup, builds the micro-VM with the workload's
// program and per-vCPU parameters, starts one thread per vCPU, runs them for the duration or
// until SIGINT/SIGTERM, stops them and turns their outcomes into a VmReport.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;

use anyhow::{anyhow, Context, Result};

use crate::calibrate::Calibration;
use crate::cgroup;
use crate::cli::{RunPlan, VmPlan, Workload, YieldMode};
use crate::clock::now_ns;
use crate::guest_code::{
    self, assemble, field, vcpu_area, LOCK_HYPERCALL_OFFSET, MODE_HYPERCALL, MODE_PAUSE,
};
use crate::micro_vm::MicroVm;
use crate::report::{VcpuReport, VmReport};
use crate::start_sync::StartSync;
use crate::stats::{cpu_share_pct, miss_ratio, Summary};
use crate::stop;
use crate::vcpu_thread::{self, StartGate, VcpuJob, VcpuOutcome};

/// A hog vCPU exits to the VMM about this often (µs of guest work per batch).
const HOG_BATCH_US: f64 = 1000.0;
/// Delay between the parent's go and the first release, so every vCPU thread starts together.
pub const START_DELAY_NS: u64 = 20_000_000;

/// Settings shared by all VMs of the run.
pub struct Shared<'a> {
    /// The run plan.
    pub plan: &'a RunPlan,
    /// The start-up calibration.
    pub calibration: Calibration,
    /// Third byte of the hypercall instruction (vmcall/vmmcall).
    pub hypercall_byte: u8,
    /// The common start of all VMs.
    pub start: StartSync,
}

/// The guest program for `vm` and the value of field::SPIN.
fn program(vm: &VmPlan, shared: &Shared) -> Result<(Vec<u8>, u32)> {
    let c = &shared.calibration;
    let (code, spin) = match vm.workload {
        Workload::Periodic => {
            let job_us = vm.load_pct / 100.0 * vm.period_us as f64;
            (assemble(guest_code::PERIODIC), c.job_iterations(job_us))
        }
        Workload::Halt => {
            let job_us = vm.load_pct / 100.0 * vm.period_us as f64;
            (assemble(guest_code::HALT), c.job_iterations(job_us))
        }
        Workload::Hog => (assemble(guest_code::HOG), c.iterations(HOG_BATCH_US)),
        Workload::Lock => {
            let mut code = assemble(guest_code::LOCK);
            code[LOCK_HYPERCALL_OFFSET + 2] = shared.hypercall_byte;
            (code, c.iterations(shared.plan.cs_us as f64))
        }
    };
    Ok((code, spin.map_err(|e| anyhow!("VM {}: {e}", vm.name))?))
}

fn write_params(micro: &MicroVm, vm: &VmPlan, shared: &Shared, spin: u32) -> Result<()> {
    let plan = shared.plan;
    let ncs = shared
        .calibration
        .iterations(plan.ncs_us as f64)
        .map_err(anyhow::Error::msg)?;
    let mode = match plan.yield_mode {
        YieldMode::Pause => MODE_PAUSE,
        YieldMode::Hypercall => MODE_HYPERCALL,
        YieldMode::Both => MODE_PAUSE | MODE_HYPERCALL,
    };
    for i in 0..vm.vcpus {
        let area = vcpu_area(i);
        micro.mem.write_u32(area + field::SPIN, spin);
        micro.mem.write_u32(area + field::NCS, ncs);
        micro.mem.write_u32(area + field::APIC_ID, i);
        micro.mem.write_u32(area + field::MODE, mode);
        micro
            .mem
            .write_u32(area + field::PAUSE_BUDGET, plan.pauses_per_yield);
        micro
            .mem
            .write_u32(area + field::PERIOD_NS, (vm.period_us * 1000) as u32);
    }
    micro.mem.write_u32(guest_code::LOCK_WORD, 0);
    micro.mem.write_u32(guest_code::LOCK_HOLDER, 0);
    Ok(())
}

fn vcpu_report(vm: &VmPlan, index: u32, mut o: VcpuOutcome) -> VcpuReport {
    let response = match vm.workload {
        Workload::Hog => None,
        _ => Summary::of_ns(&mut o.samples_ns),
    };
    VcpuReport {
        vm: vm.name.clone(),
        vcpu: index,
        tid: o.tid,
        workload: vm.workload.to_string(),
        jobs: o.jobs,
        misses: o.misses,
        miss_ratio: miss_ratio(o.misses, o.jobs),
        response,
        cpu_share_pct: cpu_share_pct(o.cpu_ns, o.wall_ns),
        cpu_s: o.cpu_ns as f64 / 1e9,
        wall_s: o.wall_ns as f64 / 1e9,
        work: o.work,
        yields: o.yields,
        pauses: o.pauses,
        io_exits: o.io_exits,
        halts: o.halts,
        missed_at_ms: o.missed_at_ns.iter().map(|&ns| ns as f64 / 1e6).collect(),
    }
}

/// Makes the calling thread SCHED_FIFO at `prio`; threads it creates later inherit the policy.
fn set_fifo(prio: u8) -> Result<()> {
    let param = libc::sched_param {
        sched_priority: i32::from(prio),
    };
    // SAFETY: pid 0 is the calling thread; param is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        return Err(anyhow!(
            "SCHED_FIFO {prio}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Runs VM `vm` in the calling (freshly forked, single-threaded) process.
pub fn run_vm(vm: &VmPlan, shared: &Shared) -> Result<VmReport> {
    let plan = shared.plan;
    let cgroup = match &plan.cgroup_root {
        Some(root) => Some(cgroup::join(root, &vm.name)?),
        None => None,
    };
    if let Some(prio) = vm.fifo {
        set_fifo(prio)?; // the vCPU threads inherit it
    }
    let (code, spin) = program(vm, shared)?;
    let micro = MicroVm::new(&code)?;
    write_params(&micro, vm, shared, spin)?;
    let vcpus = (0..vm.vcpus)
        .map(|i| micro.create_vcpu(i))
        .collect::<Result<Vec<_>>>()?;
    if vm.workload == Workload::Halt {
        let isr = guest_code::label_offset(guest_code::HALT, "isr").expect("HALT has an isr");
        micro.prepare_timer(&vcpus, isr as u16)?;
    }
    stop::install_kick_handler();

    let gate = Arc::new(StartGate {
        barrier: Barrier::new(vm.vcpus as usize + 1),
        start_ns: AtomicU64::new(0),
        end_ns: AtomicU64::new(0),
    });
    let mut handles = Vec::new();
    for (i, vcpu) in vcpus.into_iter().enumerate() {
        let job = VcpuJob {
            index: i as u32,
            workload: vm.workload,
            period_ns: vm.period_us * 1000,
            job_ns: (vm.load_pct / 100.0 * vm.period_us as f64 * 1000.0) as u64,
            mem: Arc::clone(&micro.mem),
            calibration: shared.calibration,
            gate: Arc::clone(&gate),
        };
        let h = thread::Builder::new()
            .name(format!("CPU {i}/KVM"))
            .spawn(move || vcpu_thread::run(vcpu, job))
            .context("spawning a vCPU thread")?;
        handles.push(h);
    }
    let kick_all = |handles: &[thread::JoinHandle<_>]| {
        handles.iter().for_each(|h| stop::kick(h.as_pthread_t()))
    };
    // All VMs start together, once every one of them is built.
    let start = match shared.start.ready_then_wait() {
        Ok(t) => t,
        Err(e) => {
            stop::request_stop();
            kick_all(&handles);
            gate.barrier.wait();
            return Err(e);
        }
    };
    let end = start + plan.duration.as_nanos() as u64;
    gate.start_ns.store(start, Ordering::Release);
    gate.end_ns.store(end, Ordering::Release);
    gate.barrier.wait();

    // Until the end, or a signal.
    let mut signal = None;
    while signal.is_none() && now_ns() < end {
        signal = stop::wait_term_signal(end.saturating_sub(now_ns()));
    }
    stop::request_stop();
    // Periodic threads finish their last job by themselves; the others must be kicked out of
    // KVM_RUN. A signal, or a periodic job still running after the grace time, kicks everyone.
    if signal.is_some() || !vm.workload.is_periodic() {
        kick_all(&handles);
    }
    let grace_end = now_ns() + (2 * vm.period_us * 1000).max(1_000_000_000);
    let mut kicked_late = false;
    while handles.iter().any(|h| !h.is_finished()) {
        if let Some(s) = stop::wait_term_signal(5_000_000) {
            signal.get_or_insert(s);
            kick_all(&handles);
        }
        if !kicked_late && now_ns() > grace_end {
            kicked_late = true;
            kick_all(&handles);
        }
    }
    let mut reports = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        let outcome = h.join().map_err(|_| anyhow!("vCPU {i} thread panicked"))?;
        let outcome = outcome.with_context(|| format!("vCPU {i}"))?;
        reports.push(vcpu_report(vm, i as u32, outcome));
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let periodic = vm.workload.is_periodic();
    Ok(VmReport {
        name: vm.name.clone(),
        pid,
        cgroup: cgroup.map(|p| p.display().to_string()),
        workload: vm.workload.to_string(),
        period_us: periodic.then_some(vm.period_us),
        load_pct: periodic.then_some(vm.load_pct),
        spin_iterations: spin,
        fifo_priority: vm.fifo,
        stopped_by_signal: signal,
        vcpus: reports,
    })
}
