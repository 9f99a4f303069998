// SPDX-License-Identifier: GPL-2.0-only
//
// cli.rs - the command line of scx_axrt. Values that the configuration file can also set
// (slice, reserve) are options here; the command line wins over the file, and main.rs folds
// the file's values in (Opts::apply_config) before anything is loaded.

//! Command-line options of `scx_axrt`.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::bpf_intf;
use crate::config::Config;

/// Default time slice in microseconds (the policy crate's; intf.h has the same).
pub const DEFAULT_SLICE_US: u64 = axrt_policy::params::DEFAULT_SLICE / 1000;
/// Shortest accepted slice in microseconds; shorter ones spend more time switching than running.
pub const MIN_SLICE_US: u64 = axrt_policy::params::MIN_SLICE / 1000;
/// Longest accepted slice in microseconds (1 s); the watchdog would notice longer waits anyway.
pub const MAX_SLICE_US: u64 = axrt_policy::params::MAX_SLICE / 1000;
/// Default starvation reserve in milliseconds (the policy crate's).
pub const DEFAULT_RESERVE_MS: u64 = axrt_policy::params::DEFAULT_RESERVE / 1_000_000;
/// Default priority of the host group (the policy crate's).
pub const DEFAULT_HOST_PRIORITY: u8 = axrt_policy::params::DEFAULT_HOST_PRIORITY;
/// The kernel's cap on the sched_ext watchdog timeout, in milliseconds.
pub const WATCHDOG_MAX_MS: u64 = 30_000;
/// The watchdog is kept at least this many times the reserve, so a task the reserve rescues
/// is never near the point where the kernel would eject the scheduler.
pub const WATCHDOG_PER_RESERVE: u64 = 5;
/// Longest accepted reserve in milliseconds: `WATCHDOG_MAX_MS / WATCHDOG_PER_RESERVE`.
pub const MAX_RESERVE_MS: u64 = WATCHDOG_MAX_MS / WATCHDOG_PER_RESERVE;

/// How the BPF tier keeps its ready tasks in priority order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum QueueMode {
    /// A bitmap of non-empty levels and one FIFO per priority level.
    #[default]
    Bitmap,
    /// One queue ordered by (priority, arrival).
    Vtime,
}

impl QueueMode {
    /// The value of the BPF tier's `queue_mode` (enum axrt_queue_mode).
    pub fn to_raw(self) -> u32 {
        match self {
            QueueMode::Bitmap => bpf_intf::axrt_queue_mode_AXRT_QUEUE_BITMAP,
            QueueMode::Vtime => bpf_intf::axrt_queue_mode_AXRT_QUEUE_VTIME,
        }
    }
}

/// scx_axrt: a real-time sched_ext scheduler for KVM vCPU threads.
///
/// Without --config every task is in the host group at priority 128, round robin among
/// equals. With a configuration, VMs (cgroups) and their threads get priorities, budgets and
/// timing contracts (see the README). Runs until SIGINT or SIGTERM (the host then returns to
/// its default scheduler) or until the kernel ejects it, and prints why it stopped.
///
/// Exit status: 0 after a clean stop, 1 when the kernel refused or ended it, 2 for a bad
/// configuration (nothing is loaded).
#[derive(Debug, Parser)]
#[command(name = "scx_axrt", version, about, long_about)]
pub struct Opts {
    /// TOML configuration file ([defaults], [[vm]], [[task]]).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Validate the configuration, print what it configures and exit (loads nothing).
    #[arg(long)]
    pub check: bool,

    /// Make a [[vm]] whose cgroup glob matches nothing at start an error (exit 2) instead of a
    /// warning.
    #[arg(long)]
    pub strict: bool,

    /// Time slice in microseconds (50 to 1000000); overrides [defaults] slice_us (5000).
    #[arg(
        long,
        value_name = "US",
        value_parser = clap::value_parser!(u64).range(MIN_SLICE_US..=MAX_SLICE_US)
    )]
    pub slice_us: Option<u64>,

    /// Starvation reserve in milliseconds (1 to 6000): the longest a runnable task waits
    /// whatever its priority; overrides [defaults] reserve_ms (1000).
    #[arg(
        long,
        value_name = "MS",
        value_parser = clap::value_parser!(u64).range(1..=MAX_RESERVE_MS)
    )]
    pub reserve_ms: Option<u64>,

    /// How ready tasks are kept in priority order in the BPF tier.
    #[arg(long, value_enum, default_value_t = QueueMode::Bitmap)]
    pub queue: QueueMode,

    /// Print per-VM statistics every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_interval)]
    pub stats: Option<f64>,

    /// Print statistics (--stats, --monitor) as one JSON object per line.
    #[arg(long)]
    pub json: bool,

    /// Write every event (throttle, replenish, reserve, miss, wcet_overrun, supply_miss, boost,
    /// boost_end, deadlock) to FILE as JSON lines; "-" is standard output. Adds the detail
    /// events: one per closed reservation window of a budgeted VM (window: supply and demand)
    /// and one per completed job of a thread with a timing contract (job: response and CPU
    /// time), what `axrt-sim replay` reads.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,

    /// No priority boosts: a directed yield (KVM's yield_to) is declined and lock owners keep
    /// their priority. Lock chains are still observed, so deadlocks are still reported.
    #[arg(long)]
    pub no_boost: bool,

    /// Do not observe PI futexes (no lock-chain boosts, no deadlock detection, no fentry
    /// programs on the futex paths).
    #[arg(long)]
    pub no_lock_trace: bool,

    /// Do not schedule: show the statistics of the scx_axrt already running, every SECS
    /// seconds (default 1).
    #[arg(
        long,
        value_name = "SECS",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = parse_interval
    )]
    pub monitor: Option<f64>,

    /// How often to look for new or vanished VMs and vCPU threads, in milliseconds.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(50..=60_000)
    )]
    pub rescan_ms: u64,

    /// Priority of the host group (tasks in no VM): [defaults] host_priority, 128 without.
    #[arg(skip = DEFAULT_HOST_PRIORITY)]
    pub host_priority: u8,

    /// Print libbpf's load details, discovery changes and per-second counters to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

impl Opts {
    /// Takes the file's values for what the command line left unset.
    pub fn apply_config(&mut self, cfg: &Config) {
        self.slice_us = self.slice_us.or(cfg.slice_us);
        self.reserve_ms = self.reserve_ms.or(cfg.reserve_ms);
        self.host_priority = cfg.system.host_priority;
    }

    /// The time slice in nanoseconds, as the BPF tier wants it.
    pub fn slice_ns(&self) -> u64 {
        self.slice_us.unwrap_or(DEFAULT_SLICE_US) * 1000
    }

    /// The starvation reserve in milliseconds.
    pub fn reserve_ms(&self) -> u64 {
        self.reserve_ms.unwrap_or(DEFAULT_RESERVE_MS)
    }

    /// The sched_ext watchdog timeout to ask for: `WATCHDOG_PER_RESERVE` × the reserve, at
    /// most the kernel's cap.
    pub fn watchdog_ms(&self) -> u64 {
        (self.reserve_ms() * WATCHDOG_PER_RESERVE).min(WATCHDOG_MAX_MS)
    }
}

/// A positive number of seconds (fractions allowed, at least 0.1).
fn parse_interval(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of seconds"))?;
    if !(0.1..=3600.0).contains(&v) {
        return Err(format!("{v} is outside 0.1..=3600 seconds"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The BPF tier's copies of the policy's defaults and limits (intf.h) are the policy
    /// crate's: one definition, checked.
    #[test]
    fn the_bpf_tier_uses_the_policy_crates_defaults() {
        use axrt_policy::{boost, hist, params as p};
        assert_eq!(u64::from(bpf_intf::AXRT_SLICE_NS_DFL), p::DEFAULT_SLICE);
        assert_eq!(u64::from(bpf_intf::AXRT_SLICE_NS_MIN), p::MIN_SLICE);
        assert_eq!(
            u64::from(bpf_intf::AXRT_RESERVE_MS_DFL) * 1_000_000,
            p::DEFAULT_RESERVE
        );
        assert_eq!(
            bpf_intf::AXRT_PRIO_HOST_DFL,
            u32::from(p::DEFAULT_HOST_PRIORITY)
        );
        assert_eq!(
            bpf_intf::AXRT_NR_PRIOS,
            u32::from(axrt_policy::Prio::MAX) + 1
        );
        assert_eq!(
            u64::from(bpf_intf::AXRT_SUPPLY_EPS_DIV),
            p::SUPPLY_SLACK_DIV
        );
        assert_eq!(
            u64::from(bpf_intf::AXRT_SUPPLY_EPS_MIN_NS),
            p::SUPPLY_SLACK_MIN
        );
        assert_eq!(bpf_intf::AXRT_CHAIN_MAX as usize, boost::MAX_DEPTH);
        assert_eq!(bpf_intf::AXRT_LAT_BUCKETS as usize, hist::BUCKETS);
    }

    fn parse(args: &[&str]) -> Result<Opts, clap::Error> {
        Opts::try_parse_from(std::iter::once("scx_axrt").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_the_whole_host_scheduler() {
        let opts = parse(&[]).unwrap();
        assert_eq!(opts.slice_ns(), 5_000_000);
        assert_eq!(opts.reserve_ms(), 1000);
        assert_eq!(opts.watchdog_ms(), 5000);
        assert_eq!(opts.queue, QueueMode::Bitmap);
        assert_eq!(opts.host_priority, 128);
        assert!(opts.config.is_none() && opts.stats.is_none() && opts.monitor.is_none());
        assert!(!opts.verbose && !opts.json && !opts.strict && !opts.check);
    }

    #[test]
    fn slice_and_verbose_are_parsed() {
        let opts = parse(&["--slice-us", "250", "--verbose"]).unwrap();
        assert_eq!(opts.slice_ns(), 250_000);
        assert!(opts.verbose);
    }

    #[test]
    fn out_of_range_values_are_refused() {
        for bad in ["0", "49", "1000001", "-5"] {
            assert!(parse(&["--slice-us", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--reserve-ms", "0"]).is_err());
        assert!(parse(&["--reserve-ms", "6001"]).is_err());
        assert!(parse(&["--stats", "0"]).is_err());
        assert!(parse(&["--stats", "x"]).is_err());
    }

    #[test]
    fn monitor_takes_an_optional_interval() {
        assert_eq!(parse(&["--monitor"]).unwrap().monitor, Some(1.0));
        assert_eq!(parse(&["--monitor", "2.5"]).unwrap().monitor, Some(2.5));
        let opts = parse(&["--stats", "2", "--json"]).unwrap();
        assert_eq!(opts.stats, Some(2.0));
        assert!(opts.json);
    }

    #[test]
    fn the_command_line_wins_over_the_file() {
        let mut cfg = Config::host_only(2);
        cfg.slice_us = Some(1000);
        cfg.reserve_ms = Some(2000);
        let mut opts = parse(&["--slice-us", "300"]).unwrap();
        opts.apply_config(&cfg);
        assert_eq!(opts.slice_ns(), 300_000);
        assert_eq!(opts.reserve_ms(), 2000);
        assert_eq!(opts.watchdog_ms(), 10_000);
        let mut opts = parse(&["--reserve-ms", "6000"]).unwrap();
        opts.apply_config(&cfg);
        assert_eq!(opts.watchdog_ms(), WATCHDOG_MAX_MS);
    }
}
