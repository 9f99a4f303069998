// SPDX-License-Identifier: GPL-2.0-only
//
// bench.rs - a futex-heavy benchmark: --threads "lk-bench" threads take and release one mutex
// (PI by default, so contended operations are FUTEX_LOCK_PI / FUTEX_UNLOCK_PI) with a tiny
// critical section, for --duration-s seconds. Reports acquisitions per second, in total and per
// thread, to compare a scheduler's futex observation on and off.

//! `axrt-locks bench`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::{json, Value};

use crate::pi_mutex::PiMutex;
use crate::thread::set_name;

/// Runs `threads` threads for `duration` on a PI (`pi`) or normal mutex with `cs_iters`
/// increments inside.
pub fn run(threads: usize, duration: Duration, pi: bool, cs_iters: u64) -> Result<Value> {
    let m = Arc::new(PiMutex::new(pi)?);
    let stop = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (m, stop, shared) = (m.clone(), stop.clone(), shared.clone());
            std::thread::spawn(move || -> u64 {
                set_name("lk-bench");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    m.lock();
                    for _ in 0..cs_iters {
                        shared.fetch_add(1, Ordering::Relaxed);
                    }
                    m.unlock();
                    n += 1;
                }
                n
            })
        })
        .collect();
    // The measurement window itself, not a synchronisation.
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let counts: Vec<u64> = workers
        .into_iter()
        .map(|w| w.join().map_err(|_| anyhow!("a bench thread panicked")))
        .collect::<Result<_>>()?;
    let secs = start.elapsed().as_secs_f64();
    let total: u64 = counts.iter().sum();
    Ok(json!({
        "threads": threads,
        "pi": pi,
        "cs_iters": cs_iters,
        "seconds": secs,
        "acquisitions": total,
        "ops_per_s": total as f64 / secs,
        "per_thread": counts,
    }))
}
