// SPDX-License-Identifier: GPL-2.0-only
//
// thread.rs - what the programs do to threads: name them (the comm scx_axrt's configuration
// matches), pin them to CPUs, read clocks (CLOCK_MONOTONIC, the clock of scx_axrt's events, and
// per-thread CPU time) and spin for a while.

//! Thread names, CPU affinity, clocks and spinning.

use std::ffi::CString;

use anyhow::{bail, Result};

/// Names the calling thread (at most 15 bytes are kept).
pub fn set_name(name: &str) {
    if let Ok(c) = CString::new(name) {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16 bytes.
        unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// The calling thread's id.
pub fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Pins the calling thread to `cpus`.
pub fn pin(cpus: &[usize]) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is an empty set; CPU_SET writes within it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "cannot pin to CPUs {cpus:?}: {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

/// The number of CPUs the system has online.
pub fn online_cpus() -> usize {
    // SAFETY: sysconf has no memory effects.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.max(1) as usize
}

/// Reads `clock` in ns (shared with axrt-vmload).
pub use axrt_vmload::clock::read as clock_ns;

/// CLOCK_MONOTONIC in ns (bpf_ktime_get_ns()'s clock).
pub use axrt_vmload::clock::now_ns as mono_ns;

/// The calling thread's CPU time in ns.
pub use axrt_vmload::clock::thread_cpu_ns as cpu_ns;

/// The CPU-time clock of thread `t`.
pub fn cpu_clock_of(t: libc::pthread_t) -> Option<libc::clockid_t> {
    let mut id: libc::clockid_t = 0;
    // SAFETY: t is a live thread of this process (the caller holds its JoinHandle).
    (unsafe { libc::pthread_getcpuclockid(t, &mut id) } == 0).then_some(id)
}

/// Spins until `done()` says so; returns the loop count.
pub fn spin_until(mut done: impl FnMut() -> bool) -> u64 {
    let mut n = 0u64;
    while !done() {
        for _ in 0..256 {
            std::hint::spin_loop();
        }
        n += 1;
    }
    n
}
