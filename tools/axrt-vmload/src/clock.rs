// SPDX-License-Identifier: GPL-2.0-only
//
// Clocks: CLOCK_MONOTONIC timestamps, the calling thread's CPU time, and absolute sleeps
// (clock_nanosleep TIMER_ABSTIME) that report a signal instead of hiding it.

/// Reads `clock` (any clock id, e.g. another thread's CPU-time clock), in nanoseconds.
pub fn read(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; both clocks used here always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CLOCK_MONOTONIC now, in nanoseconds.
pub fn now_ns() -> u64 {
    read(libc::CLOCK_MONOTONIC)
}

/// CPU time the calling thread has used (guest time under KVM_RUN included), in nanoseconds.
pub fn thread_cpu_ns() -> u64 {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Sleeps until CLOCK_MONOTONIC reaches `deadline_ns`. Returns false when a signal cut the
/// sleep short (the caller decides whether to sleep again).
pub fn sleep_until(deadline_ns: u64) -> bool {
    let ts = libc::timespec {
        tv_sec: (deadline_ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (deadline_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: ts is valid; a null remainder is allowed with TIMER_ABSTIME.
    let rc = unsafe {
        libc::clock_nanosleep(
            libc::CLOCK_MONOTONIC,
            libc::TIMER_ABSTIME,
            &ts,
            std::ptr::null_mut(),
        )
    };
    rc == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_sleep_reaches_its_deadline() {
        let t = now_ns() + 2_000_000;
        assert!(sleep_until(t));
        assert!(now_ns() >= t);
        assert!(sleep_until(now_ns() - 1)); // a past deadline returns at once
        assert!(thread_cpu_ns() > 0);
    }
}
