// SPDX-License-Identifier: GPL-2.0-only
//
// scx_axrt as a child process: started with a configuration and JSON statistics, ready when it
// prints "scx_axrt: active", stopped with SIGINT; the host must be back on its default scheduler
// afterwards. Its output goes to a log file, and its statistics over the whole run (the report
// it prints when it stops) are read from it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use scx_axrt::stats::Report;

/// sched_ext's state file: "enabled" while a scheduler is attached, "disabled" otherwise.
const STATE: &str = "/sys/kernel/sched_ext/state";
/// The line scx_axrt prints once its struct_ops is attached.
const READY: &str = "scx_axrt: active";

/// A running scx_axrt.
pub struct Scx {
    child: Child,
    log: PathBuf,
    reader: thread::JoinHandle<()>,
}

/// Whether a sched_ext scheduler is attached now.
pub fn attached() -> bool {
    std::fs::read_to_string(STATE).is_ok_and(|s| s.trim() == "enabled")
}

impl Scx {
    /// Starts `binary --config CONFIG --stats 1 --json`, logging to `log`, and waits (at most
    /// 60 s) until it is active. Fails with its last words if it exits first.
    pub fn start(binary: &Path, config: &Path, log: &Path) -> Result<Scx> {
        if attached() {
            bail!("a sched_ext scheduler is already attached ({STATE} says enabled)");
        }
        let mut child = Command::new(binary)
            .arg("--config")
            .arg(config)
            .args(["--stats", "1", "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let (tx, rx) = mpsc::channel::<String>();
        // stderr is merged into the same log by a second reader.
        let stderr = child.stderr.take().expect("piped");
        let tx_err = tx.clone();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx_err.send(line);
            }
        });
        let stdout = child.stdout.take().expect("piped");
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        // Lines arrive on rx until both pipes close; the first READY line ends the wait.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let _ = writeln!(file, "{line}");
                    if line.starts_with(READY) {
                        break;
                    }
                    last.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("scx_axrt was not active after 60 s: {}", tail(&last));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait()?;
                    bail!(
                        "scx_axrt exited ({status}) before it was active: {}",
                        tail(&last)
                    );
                }
            }
        }
        let reader = thread::spawn(move || {
            for line in rx {
                let _ = writeln!(file, "{line}");
            }
        });
        Ok(Scx {
            child,
            log: log.to_path_buf(),
            reader,
        })
    }

    /// Sends SIGINT, waits for the exit and for sched_ext to report "disabled" (the kernel
    /// disables asynchronously and has no event for it, so the state file is polled, 10 s at
    /// most). Returns the exit status as text; an error if it failed or the host stayed on it.
    pub fn stop(mut self) -> Result<()> {
        // SAFETY: our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait()?;
        let _ = self.reader.join();
        let deadline = Instant::now() + Duration::from_secs(10);
        while attached() {
            if Instant::now() > deadline {
                bail!("sched_ext still enabled 10 s after scx_axrt exited");
            }
            thread::sleep(Duration::from_millis(20));
        }
        if !status.success() {
            bail!("scx_axrt exited with {status} (see {})", self.log.display());
        }
        Ok(())
    }
}

fn tail(lines: &[String]) -> String {
    let n = lines.len().saturating_sub(3);
    match lines[n..].join(" / ") {
        s if s.is_empty() => "no output".into(),
        s => s,
    }
}

/// scx_axrt's statistics over its whole run, from its log: the last JSON report marked as the
/// run's totals (scx_axrt prints it when it stops).
pub fn totals(log: &str) -> Option<Report> {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Report>(l).ok())
        .rfind(Report::is_totals)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_totals_are_the_report_of_the_whole_run() {
        let mut interval = Report {
            interval_s: 1.0,
            scope: scx_axrt::stats::SCOPE_INTERVAL.into(),
            ..Report::default()
        };
        interval.groups.push(scx_axrt::stats::GroupReport {
            name: "s1-hog".into(),
            throttles: 9,
            ..Default::default()
        });
        let mut run = interval.clone().as_totals();
        run.interval_s = 6.0;
        run.groups[0].throttles = 59;
        let log = format!(
            "scx_axrt: active (ops axrt, kernel 7.2)\n{}\nnot json {{\n{}\nscx_axrt: exited: detached\n",
            interval.format_json(),
            run.format_json()
        );
        let t = totals(&log).expect("a totals report");
        assert_eq!((t.interval_s, t.groups[0].throttles), (6.0, 59));
        assert!(totals(&interval.format_json()).is_none());
    }
}
