// SPDX-License-Identifier: GPL-2.0-only
//
// logger.rs - a minimal `log` backend writing to stderr. scx_utils and libbpf (through
// scx_utils::init_libbpf_logging) report through `log`; without a backend their warnings,
// including the verifier's log on a failed load, would be lost.

//! Routes `log` records (ours, scx_utils', libbpf's) to stderr.

use std::io::Write;

use libbpf_rs::PrintLevel;
use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger;

static LOGGER: StderrLogger = StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let text = record.args().to_string();
        // Never panic here: libbpf calls this from C, where a panic (e.g. eprintln! on a
        // closed stderr) would abort the process with the scheduler still attached.
        let _ = writeln!(std::io::stderr(), "scx_axrt: {level}: {}", text.trim_end());
    }

    fn flush(&self) {}
}

/// Installs the stderr backend: warnings and errors by default, everything down to debug
/// (libbpf's load details included) when `verbose`.
pub fn init(verbose: bool) {
    let (level, libbpf_level) = if verbose {
        (LevelFilter::Debug, PrintLevel::Debug)
    } else {
        (LevelFilter::Warn, PrintLevel::Warn)
    };
    // Fails only if a logger is already set, which then keeps working.
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
    scx_utils::init_libbpf_logging(Some(libbpf_level));
}
