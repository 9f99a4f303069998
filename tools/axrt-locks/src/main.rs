// SPDX-License-Identifier: GPL-2.0-only
//
// main.rs - axrt-locks: the command line. Three programs on glibc PI mutexes for testing
// scx_axrt's lock chains: `inversion` (bounded with priority inheritance, growing without),
// `deadlock` (an AB/BA cycle) and `bench` (contention). Results go to stdout as one line, or as
// one JSON object to --json FILE. Exit 0 on success, 1 on a runtime failure, 2 on bad usage.

mod bench;
mod deadlock;
mod inversion;
mod pi_mutex;
mod thread;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// PI-futex programs for scx_axrt: priority inversion, AB/BA deadlock, contention benchmark.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    /// Write the result as one JSON object to FILE
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Priority inversion on one CPU: threads "pi-low" (holder), "pi-mid" (hogs), "pi-high"
    /// (waiter). With priority inheritance the wait is about the rest of the hold; without, it
    /// grows with --hog-ms.
    Inversion {
        /// CPU time the holder works while holding the lock (ms)
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        hold_ms: u64,
        /// Wall time each hog spins (ms)
        #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(0..=60_000))]
        hog_ms: u64,
        /// Number of hogs
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=64))]
        hogs: u64,
        /// The CPU of every worker thread (the main thread uses the others)
        #[arg(long, default_value_t = 0)]
        cpu: usize,
        /// Create and name the threads, then start when a line arrives on FIFO
        #[arg(long, value_name = "FIFO")]
        go: Option<PathBuf>,
    },
    /// AB/BA deadlock of threads "dl-a" and "dl-b" on two PI mutexes; the kernel normally
    /// refuses the closing lock with EDEADLK.
    Deadlock {
        /// Longest wait of any step (ms)
        #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
        timeout_ms: u64,
    },
    /// Contention benchmark: "lk-bench" threads take one mutex in a loop.
    Bench {
        /// Threads
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
        threads: u64,
        /// Length of the run (s)
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=3600))]
        duration_s: u64,
        /// A normal mutex instead of a PI one
        #[arg(long)]
        normal: bool,
        /// Increments inside the critical section
        #[arg(long, default_value_t = 10)]
        cs_iters: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.cmd {
        Cmd::Inversion {
            hold_ms,
            hog_ms,
            hogs,
            cpu,
            go,
        } => inversion::run(&inversion::Params {
            hold_ms: *hold_ms,
            hog_ms: *hog_ms,
            hogs: *hogs as usize,
            cpu: *cpu,
            go: go.clone(),
        }),
        Cmd::Deadlock { timeout_ms } => deadlock::run(Duration::from_millis(*timeout_ms)),
        Cmd::Bench {
            threads,
            duration_s,
            normal,
            cs_iters,
        } => bench::run(
            *threads as usize,
            Duration::from_secs(*duration_s),
            !normal,
            *cs_iters,
        ),
    };
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            eprintln!("axrt-locks: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    match &cli.json {
        Some(path) => {
            if let Err(e) = std::fs::write(path, format!("{value}\n")) {
                eprintln!("axrt-locks: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
        None => println!("{value}"),
    }
    ExitCode::SUCCESS
}
