// SPDX-License-Identifier: GPL-2.0-only
//
// Stopping: SIGINT/SIGTERM are blocked everywhere and taken synchronously with sigtimedwait by
// the main threads; vCPU threads are kicked out of KVM_RUN or their sleep with SIGUSR1, whose
// handler sets the thread's kvm_run.immediate_exit (so a kick that lands just before KVM_RUN
// is not lost either).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set when the vCPU threads must stop.
pub static STOP: AtomicBool = AtomicBool::new(false);

thread_local! {
    // The calling vCPU thread's kvm_run.immediate_exit byte (null in other threads).
    static IMMEDIATE_EXIT: Cell<*mut u8> = const { Cell::new(std::ptr::null_mut()) };
}

extern "C" fn on_kick(_sig: libc::c_int) {
    // Only a thread-local read and a byte store: async-signal-safe.
    let p = IMMEDIATE_EXIT.with(|c| c.get());
    if !p.is_null() {
        // SAFETY: registered by this very thread and valid while its vCPU fd lives.
        unsafe { p.write_volatile(1) };
    }
}

fn term_set() -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Blocks SIGINT and SIGTERM in the calling thread; threads and children made afterwards
/// inherit the mask, so only `wait_term_signal` ever takes these signals.
pub fn block_term_signals() {
    let set = term_set();
    // SAFETY: valid set; old mask not wanted.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Waits at most `timeout_ns` for SIGINT or SIGTERM; returns the signal, or None on timeout.
pub fn wait_term_signal(timeout_ns: u64) -> Option<i32> {
    let set = term_set();
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: valid set and timeout; no siginfo wanted.
    let sig = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    (sig > 0).then_some(sig)
}

/// Installs the SIGUSR1 kick handler (without SA_RESTART, so sleeps and KVM_RUN return EINTR).
pub fn install_kick_handler() {
    // SAFETY: a plain handler installation.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_kick as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut());
    }
}

/// Registers the calling thread's kvm_run.immediate_exit byte for the kick handler.
pub fn register_immediate_exit(byte: *mut u8) {
    IMMEDIATE_EXIT.with(|c| c.set(byte));
}

/// Forgets the calling thread's immediate_exit byte (before its vCPU fd goes away).
pub fn unregister_immediate_exit() {
    IMMEDIATE_EXIT.with(|c| c.set(std::ptr::null_mut()));
}

/// Kicks one thread: SIGUSR1 interrupts its KVM_RUN or its sleep.
pub fn kick(thread: libc::pthread_t) {
    // SAFETY: the thread is alive (its JoinHandle has not been joined yet).
    unsafe { libc::pthread_kill(thread, libc::SIGUSR1) };
}

/// True once the threads must stop.
pub fn stopping() -> bool {
    STOP.load(Ordering::Acquire)
}

/// Asks every vCPU thread to stop (they still need a `kick` to leave KVM_RUN).
pub fn request_stop() {
    STOP.store(true, Ordering::Release);
}

/// Ends the whole VM early after a vCPU failed: SIGTERM to the own process, which the VM's main
/// thread takes like any SIGTERM and stops and kicks every vCPU thread.
pub fn abort_vm() {
    request_stop();
    // SAFETY: signalling the own process.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
}
