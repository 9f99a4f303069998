// SPDX-License-Identifier: GPL-2.0-only
//
// deadlock.rs - a two-thread AB/BA deadlock on PI mutexes. "dl-a" holds A and waits for B;
// once the kernel has queued it (B's futex word shows FUTEX_WAITERS), "dl-b", holding B, asks
// for A and closes the cycle. The kernel's PI chain walk normally refuses that with EDEADLK;
// a timed lock bounds the run either way. Both then let go, so the program always ends.

//! `axrt-locks deadlock`.

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};
use serde_json::{json, Value};

use crate::pi_mutex::{errno_name, PiMutex};
use crate::thread::{gettid, mono_ns, set_name};

/// FUTEX_WAITERS: the kernel has queued a waiter on the futex.
const FUTEX_WAITERS: u32 = 0x8000_0000;

/// Runs the deadlock; `timeout` bounds every wait.
pub fn run(timeout: Duration) -> Result<Value> {
    let a = Arc::new(PiMutex::new(true)?);
    let b = Arc::new(PiMutex::new(true)?);
    let both_hold = Arc::new(Barrier::new(2));
    let start = Instant::now();

    let (aa, ab, bar) = (a.clone(), b.clone(), both_hold.clone());
    let ta = std::thread::spawn(move || -> (i32, i32) {
        set_name("dl-a");
        let tid = gettid();
        aa.lock();
        bar.wait();
        let rc = ab.lock();
        if rc == 0 {
            ab.unlock();
        }
        aa.unlock();
        (tid, rc)
    });

    let (ba, bb, bar) = (a.clone(), b.clone(), both_hold.clone());
    let tb = std::thread::spawn(move || -> Result<(i32, u64, i32)> {
        set_name("dl-b");
        let tid = gettid();
        bb.lock();
        bar.wait();
        // dl-a is in the kernel's queue of B once the word says so (a state, not a guess).
        let until = Instant::now() + timeout;
        while bb.word() & FUTEX_WAITERS == 0 {
            if Instant::now() > until {
                bb.unlock();
                bail!("dl-a never waited for B within {timeout:?}");
            }
            std::thread::yield_now();
        }
        // The closing lock goes to the kernel directly: glibc turns the kernel's EDEADLK for
        // a normal PI mutex into a wait until the timeout (and asserts on it for an
        // error-checking one), so only the raw call shows what the kernel found.
        let deadline = realtime_after(timeout);
        let close_ns = mono_ns();
        let rc = ba.lock_pi_raw(&deadline);
        if rc == 0 {
            ba.unlock();
        }
        bb.unlock();
        Ok((tid, close_ns, rc))
    });

    let (tid_b, close_ns, rc_b) = tb.join().map_err(|_| anyhow!("dl-b panicked"))??;
    let (tid_a, rc_a) = ta.join().map_err(|_| anyhow!("dl-a panicked"))?;
    Ok(json!({
        "tid_a": tid_a,
        "tid_b": tid_b,
        "addr_a": a.addr(),
        "addr_b": b.addr(),
        "close_ns": close_ns,
        "b_result": errno_name(rc_b),
        "a_result": errno_name(rc_a),
        "elapsed_ms": start.elapsed().as_secs_f64() * 1e3,
    }))
}

/// CLOCK_REALTIME `d` from now, as pthread_mutex_timedlock wants it.
fn realtime_after(d: Duration) -> libc::timespec {
    let ns = crate::thread::clock_ns(libc::CLOCK_REALTIME) + d.as_nanos() as u64;
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}
