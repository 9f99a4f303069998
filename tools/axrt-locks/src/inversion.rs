// SPDX-License-Identifier: GPL-2.0-only
//
// inversion.rs - the classic priority inversion on one CPU. "pi-low" takes a PI mutex and
// works for --hold-ms of its own CPU time; as soon as it holds the lock, --hogs "pi-mid" threads
// spin for --hog-ms of wall time each; once they all run, "pi-high" asks for the lock. All three
// kinds run on CPU --cpu; the main thread keeps to the other CPUs (its priority may be worse than
// the hogs'). With priority inheritance the holder runs at the waiter's priority and the wait is
// about the rest of the hold; without, the holder waits for the hogs and the wait grows with
// --hog-ms. With --go FIFO the threads are created (and named) first and the run starts when a
// line arrives on FIFO, so that a scheduler can pick up their names before.

//! `axrt-locks inversion`.

use std::io::BufRead;
use std::os::unix::thread::JoinHandleExt;
use std::path::PathBuf;
use std::sync::mpsc::channel;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::pi_mutex::PiMutex;
use crate::thread::{
    clock_ns, cpu_clock_of, cpu_ns, gettid, mono_ns, online_cpus, pin, set_name, spin_until,
};

/// The parameters of one run.
#[derive(Debug, Clone)]
pub struct Params {
    /// CPU time the holder works while holding the lock, ms.
    pub hold_ms: u64,
    /// Wall time each hog spins, ms.
    pub hog_ms: u64,
    /// Number of hogs.
    pub hogs: usize,
    /// The CPU of every worker thread.
    pub cpu: usize,
    /// A FIFO to wait on for the start, after the threads are named.
    pub go: Option<PathBuf>,
}

/// Runs the scenario; returns its report.
pub fn run(p: &Params) -> Result<Value> {
    let n = online_cpus();
    if n < 2 {
        bail!("inversion needs two CPUs: one for the workers, one for the main thread");
    }
    if p.cpu >= n {
        bail!("--cpu {} does not exist (CPUs 0..{})", p.cpu, n - 1);
    }
    let others: Vec<usize> = (0..n).filter(|&c| c != p.cpu).collect();
    pin(&others)?;
    let m = Arc::new(PiMutex::new(true)?);
    let cpu = p.cpu;

    // The waiter: named and pinned, then waits for its turn.
    let (go_high_tx, go_high_rx) = channel::<()>();
    let (tid_tx, tid_rx) = channel::<i32>();
    let mh = m.clone();
    let high = std::thread::spawn(move || -> Result<(u64, u64, i32)> {
        set_name("pi-high");
        pin(&[cpu])?;
        tid_tx.send(gettid())?;
        go_high_rx.recv()?;
        let t0 = mono_ns();
        let rc = mh.lock();
        let t1 = mono_ns();
        if rc == 0 {
            mh.unlock();
        }
        Ok((t0, t1, rc))
    });
    let high_tid = tid_rx.recv()?;

    // The holder.
    let (go_low_tx, go_low_rx) = channel::<()>();
    let (locked_tx, locked_rx) = channel::<i32>();
    let ml = m.clone();
    let hold_ns = p.hold_ms * 1_000_000;
    let low = std::thread::spawn(move || -> Result<u64> {
        set_name("pi-low");
        pin(&[cpu])?;
        go_low_rx.recv()?;
        let rc = ml.lock();
        locked_tx.send(if rc == 0 { gettid() } else { -rc })?;
        if rc != 0 {
            bail!("pi-low cannot lock: {rc}");
        }
        let start = cpu_ns();
        spin_until(|| cpu_ns() - start >= hold_ns);
        let released = mono_ns();
        ml.unlock();
        Ok(released)
    });
    let low_cpu_clock = cpu_clock_of(low.as_pthread_t()).context("no CPU clock for pi-low")?;

    if let Some(fifo) = &p.go {
        println!(
            "axrt-locks: ready, pi-high {high_tid}; waiting for a line on {}",
            fifo.display()
        );
        let f =
            std::fs::File::open(fifo).with_context(|| format!("cannot open {}", fifo.display()))?;
        let mut line = String::new();
        std::io::BufReader::new(f).read_line(&mut line)?;
    }

    go_low_tx.send(())?;
    let low_tid = locked_rx.recv()?;
    if low_tid < 0 {
        bail!("pi-low could not take the mutex (error {})", -low_tid);
    }
    let (started_tx, started_rx) = channel::<i32>();
    let hog_ns = p.hog_ms * 1_000_000;
    let hogs: Vec<_> = (0..p.hogs)
        .map(|_| {
            let tx = started_tx.clone();
            std::thread::spawn(move || -> Result<()> {
                set_name("pi-mid");
                pin(&[cpu])?;
                tx.send(gettid())?;
                let start = mono_ns();
                spin_until(|| mono_ns() - start >= hog_ns);
                Ok(())
            })
        })
        .collect();
    let hog_tids: Vec<i32> = (0..p.hogs)
        .map(|_| started_rx.recv())
        .collect::<Result<_, _>>()?;
    let low_cpu_before = clock_ns(low_cpu_clock);
    go_high_tx.send(())?;

    let (t0, t1, rc) = high
        .join()
        .map_err(|_| anyhow::anyhow!("pi-high panicked"))??;
    let released = low
        .join()
        .map_err(|_| anyhow::anyhow!("pi-low panicked"))??;
    for h in hogs {
        h.join().map_err(|_| anyhow::anyhow!("pi-mid panicked"))??;
    }
    if rc != 0 {
        bail!("pi-high's lock failed: {}", crate::pi_mutex::errno_name(rc));
    }
    let remaining_ms = (hold_ns.saturating_sub(low_cpu_before)) as f64 / 1e6;
    Ok(json!({
        "wait_ms": (t1 - t0) as f64 / 1e6,
        "hold_ms": p.hold_ms,
        "hog_ms": p.hog_ms,
        "hogs": p.hogs,
        "cpu": p.cpu,
        "low_tid": low_tid,
        "high_tid": high_tid,
        "hog_tids": hog_tids,
        "futex": format!("{:#x}", m.addr()),
        "t0_ns": t0,
        "t1_ns": t1,
        "low_released_ns": released,
        "low_cpu_before_wait_ms": low_cpu_before as f64 / 1e6,
        "remaining_hold_ms": remaining_ms,
    }))
}
