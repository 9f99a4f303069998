// SPDX-License-Identifier: GPL-2.0-only
//
// The body of one vCPU thread: name itself "CPU <n>/KVM" like QEMU, wait for the common start,
// then drive its vCPU through KVM_RUN for the workload (periodic releases and response times,
// hog work counting, lock acquisitions and waits) until the run ends or it is kicked.

use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use anyhow::{bail, Result};
use kvm_ioctls::{VcpuExit, VcpuFd};

use crate::calibrate::Calibration;
use crate::cli::Workload;
use crate::clock::{now_ns, sleep_until, thread_cpu_ns};
use crate::guest_code::{field, vcpu_area, PORT_HOG_BATCH, PORT_JOB_DONE, PORT_LOCK_RELEASED};
use crate::micro_vm::{describe_exit, guest_exception, GuestMem};
use crate::stop;

/// The common start of a VM's vCPU threads: all wait at the barrier, then read the start time
/// the VM's main thread stored before joining it.
pub struct StartGate {
    /// n vCPU threads + the main thread.
    pub barrier: Barrier,
    /// CLOCK_MONOTONIC start of the measurement, ns.
    pub start_ns: AtomicU64,
    /// CLOCK_MONOTONIC end of the run, ns.
    pub end_ns: AtomicU64,
}

/// What one vCPU thread measured.
#[derive(Debug, Default)]
pub struct VcpuOutcome {
    /// Kernel thread id.
    pub tid: i32,
    /// Completed jobs (periodic), batches (hog) or acquisitions (lock).
    pub jobs: u64,
    /// Periodic jobs whose response time exceeded the period.
    pub misses: u64,
    /// Response times (periodic) or acquisition waits (lock), ns.
    pub samples_ns: Vec<u64>,
    /// Periodic: release times of the first MISS_LOG missed jobs, ns after the start.
    pub missed_at_ns: Vec<u64>,
    /// Hog iterations or lock acquisitions counted by the guest.
    pub work: u64,
    /// Lock: sched-yield hypercalls issued by the guest.
    pub yields: u64,
    /// Lock: pause instructions executed by the guest.
    pub pauses: u64,
    /// Port I/O exits the guest made (one per `out` it executed), counted as KVM_RUN returns
    /// them: the guest's own exits, which a tracer of kvm_exit must count as many of.
    pub io_exits: u64,
    /// Halt: `hlt` instructions the guest executed (each one a HLT exit).
    pub halts: u64,
    /// Thread CPU time over the measurement, ns.
    pub cpu_ns: u64,
    /// Wall time of the measurement, ns.
    pub wall_ns: u64,
}

/// What a vCPU thread needs besides its vCPU.
pub struct VcpuJob {
    /// vCPU index (= APIC id).
    pub index: u32,
    /// What it runs.
    pub workload: Workload,
    /// Periodic: period = relative deadline, ns.
    pub period_ns: u64,
    /// Periodic: CPU time each job should take, ns.
    pub job_ns: u64,
    /// The VM's memory.
    pub mem: Arc<GuestMem>,
    /// To convert the guest's TSC waits.
    pub calibration: Calibration,
    /// Common start.
    pub gate: Arc<StartGate>,
}

enum Exit {
    Port,
    Stopped,
}

/// Runs until the guest writes to `port` (`Exit::Port`) or the thread is asked to stop;
/// counts the port I/O exits in `io_exits`.
fn run_to_port(vcpu: &mut VcpuFd, job: &VcpuJob, port: u16, io_exits: &mut u64) -> Result<Exit> {
    loop {
        if stop::stopping() {
            return Ok(Exit::Stopped);
        }
        let exit = vcpu.run();
        if matches!(exit, Ok(VcpuExit::IoOut(..)) | Ok(VcpuExit::IoIn(..))) {
            *io_exits += 1;
        }
        match exit {
            Ok(VcpuExit::IoOut(p, _)) if p == port => return Ok(Exit::Port),
            Ok(VcpuExit::IoOut(p, _)) if guest_exception(&job.mem, job.index, p).is_some() => {
                return Err(guest_exception(&job.mem, job.index, p).expect("checked"));
            }
            Ok(VcpuExit::Intr) => continue,
            Ok(exit) => bail!("unexpected vCPU exit: {}", describe_exit(&exit)),
            Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
            Err(e) => bail!("KVM_RUN: {e}"),
        }
    }
}

/// How many missed jobs a periodic vCPU remembers the release time of.
pub const MISS_LOG: usize = 32;

/// Names the calling thread like QEMU's vCPU threads.
fn set_thread_name(index: u32) {
    let name = CString::new(format!("CPU {index}/KVM")).expect("no NUL in the name");
    // SAFETY: a valid NUL-terminated name; the kernel truncates it to 15 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
}

/// Adds the growth of the 32-bit guest counter at `addr` since `*last` to `*total`.
fn accumulate(mem: &GuestMem, addr: u64, last: &mut u32, total: &mut u64) {
    let now = mem.read_u32(addr);
    *total += u64::from(now.wrapping_sub(*last));
    *last = now;
}

/// The vCPU thread's body. Waits at the gate, then runs the workload.
pub fn run(mut vcpu: VcpuFd, job: VcpuJob) -> Result<VcpuOutcome> {
    set_thread_name(job.index);
    stop::register_immediate_exit(&mut vcpu.get_kvm_run().immediate_exit);
    let mut out = VcpuOutcome {
        // SAFETY: gettid has no preconditions.
        tid: unsafe { libc::gettid() },
        missed_at_ns: Vec::with_capacity(MISS_LOG), // no allocation while jobs run
        ..Default::default()
    };
    job.gate.barrier.wait();
    let start = job.gate.start_ns.load(Ordering::Acquire);
    let end = job.gate.end_ns.load(Ordering::Acquire);
    while !sleep_until(start) && !stop::stopping() {}
    let cpu0 = thread_cpu_ns();
    let result = match job.workload {
        Workload::Periodic => periodic(&mut vcpu, &job, start, end, &mut out, true),
        Workload::Halt => periodic(&mut vcpu, &job, start, end, &mut out, false),
        Workload::Hog => hog(&mut vcpu, &job, &mut out),
        Workload::Lock => lock(&mut vcpu, &job, &mut out),
    };
    out.cpu_ns = thread_cpu_ns() - cpu0;
    out.wall_ns = now_ns().saturating_sub(start);
    stop::unregister_immediate_exit();
    if result.is_err() {
        stop::abort_vm();
    }
    result.map(|()| out)
}

/// Releases a job every period from `start` while the release is before `end`; a job released
/// late (the previous one overran) starts at once and its lateness counts in its response time.
/// Each job's size is corrected from the CPU time the thread used since the previous one ended
/// (`adjust_spin`), so that the thread's CPU share is the load. With `vmm_sleeps` the VMM
/// sleeps until each release; otherwise (halt) the guest waits for it in `hlt` itself.
fn periodic(
    vcpu: &mut VcpuFd,
    job: &VcpuJob,
    start: u64,
    end: u64,
    out: &mut VcpuOutcome,
    vmm_sleeps: bool,
) -> Result<()> {
    let spin_at = vcpu_area(job.index) + field::SPIN;
    let mut spin = job.mem.read_u32(spin_at);
    let mut release = start;
    let mut cpu_mark = thread_cpu_ns();
    while release < end && !stop::stopping() {
        if vmm_sleeps && !sleep_until(release) {
            continue; // a kick: look at the stop flag again
        }
        match run_to_port(vcpu, job, PORT_JOB_DONE, &mut out.io_exits)? {
            Exit::Port => {}
            Exit::Stopped => break, // an unfinished job does not count
        }
        // The guest reads its count at each job's start. The thread's CPU time over the whole
        // cycle (the VMM's wake-up and bookkeeping included) is what must stay on target.
        let cpu_now = thread_cpu_ns();
        spin = Calibration::adjust_spin(spin, cpu_now - cpu_mark, job.job_ns);
        cpu_mark = cpu_now;
        job.mem.write_u32(spin_at, spin);
        let response = now_ns() - release;
        out.jobs += 1;
        if response > job.period_ns {
            out.misses += 1;
            if out.missed_at_ns.len() < MISS_LOG {
                out.missed_at_ns.push(release - start);
            }
        }
        out.samples_ns.push(response);
        release += job.period_ns;
    }
    out.work = out.jobs;
    out.halts = u64::from(job.mem.read_u32(vcpu_area(job.index) + field::HALTS));
    Ok(())
}

/// Lets the guest count; every batch exit adds the counter's growth to the work done.
fn hog(vcpu: &mut VcpuFd, job: &VcpuJob, out: &mut VcpuOutcome) -> Result<()> {
    let counter = vcpu_area(job.index) + field::WORK;
    let mut last = job.mem.read_u32(counter);
    while let Exit::Port = run_to_port(vcpu, job, PORT_HOG_BATCH, &mut out.io_exits)? {
        out.jobs += 1;
        accumulate(&job.mem, counter, &mut last, &mut out.work);
    }
    accumulate(&job.mem, counter, &mut last, &mut out.work);
    Ok(())
}

/// Every release of the lock exits here: one acquisition, whose wait the guest measured in TSC
/// cycles. The guest's yield and pause counters are folded in at every exit (they wrap).
fn lock(vcpu: &mut VcpuFd, job: &VcpuJob, out: &mut VcpuOutcome) -> Result<()> {
    let area = vcpu_area(job.index);
    let (mut work, mut yields, mut pauses) = (0u32, 0u32, 0u32);
    let mut fold = |out: &mut VcpuOutcome| {
        accumulate(&job.mem, area + field::WORK, &mut work, &mut out.work);
        accumulate(&job.mem, area + field::YIELDS, &mut yields, &mut out.yields);
        accumulate(&job.mem, area + field::PAUSES, &mut pauses, &mut out.pauses);
    };
    while let Exit::Port = run_to_port(vcpu, job, PORT_LOCK_RELEASED, &mut out.io_exits)? {
        out.jobs += 1;
        let cycles = job.mem.read_u32(area + field::WAIT_CYCLES);
        out.samples_ns.push(job.calibration.cycles_to_ns(cycles));
        fold(out);
    }
    fold(out);
    Ok(())
}
