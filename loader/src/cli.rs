// SPDX-License-Identifier: GPL-2.0-only
//
// cli.rs - the command line of scx_axrt.

//! Command-line options of `scx_axrt`.

use clap::Parser;

use crate::bpf_intf::AXRT_SLICE_NS_DFL;

/// Default time slice in microseconds: the BPF tier's own default (intf.h).
pub const DEFAULT_SLICE_US: u64 = AXRT_SLICE_NS_DFL as u64 / 1000;
/// Shortest accepted slice in microseconds; shorter ones spend more time switching than running.
pub const MIN_SLICE_US: u64 = 50;
/// Longest accepted slice in microseconds (1 s); the watchdog would notice longer waits anyway.
pub const MAX_SLICE_US: u64 = 1_000_000;

/// scx_axrt: a sched_ext scheduler for KVM vCPU threads.
///
/// This first version schedules every task on the host as one global FIFO with a fixed time
/// slice. It runs until SIGINT or SIGTERM (the host then returns to its default scheduler) or
/// until the kernel ejects it, and prints why it stopped.
#[derive(Debug, Parser)]
#[command(name = "scx_axrt", version, about, long_about)]
pub struct Opts {
    /// Time slice given to every task, in microseconds (50 to 1000000).
    #[arg(
        long,
        value_name = "US",
        default_value_t = DEFAULT_SLICE_US,
        value_parser = clap::value_parser!(u64).range(MIN_SLICE_US..=MAX_SLICE_US)
    )]
    pub slice_us: u64,

    /// Print libbpf's load details and per-second scheduling counters to stderr.
    #[arg(short, long)]
    pub verbose: bool,
}

impl Opts {
    /// The time slice in nanoseconds, as the BPF tier wants it.
    pub fn slice_ns(&self) -> u64 {
        self.slice_us * 1000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_slice_is_5ms() {
        let opts = Opts::try_parse_from(["scx_axrt"]).unwrap();
        assert_eq!(opts.slice_us, 5000);
        assert_eq!(opts.slice_ns(), 5_000_000);
        assert!(!opts.verbose);
    }

    #[test]
    fn slice_and_verbose_are_parsed() {
        let opts = Opts::try_parse_from(["scx_axrt", "--slice-us", "250", "--verbose"]).unwrap();
        assert_eq!(opts.slice_ns(), 250_000);
        assert!(opts.verbose);
    }

    #[test]
    fn out_of_range_slices_are_refused() {
        assert!(Opts::try_parse_from(["scx_axrt", "--slice-us", "0"]).is_err());
        assert!(Opts::try_parse_from(["scx_axrt", "--slice-us", "49"]).is_err());
        assert!(Opts::try_parse_from(["scx_axrt", "--slice-us", "1000001"]).is_err());
        assert!(Opts::try_parse_from(["scx_axrt", "--slice-us", "-5"]).is_err());
    }
}
