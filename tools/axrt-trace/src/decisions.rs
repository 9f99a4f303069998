// SPDX-License-Identifier: GPL-2.0-only
//
// decisions.rs - scx_axrt's decisions (throttle, replenish, reserve, miss, wcet_overrun,
// supply_miss, boost, boost_end, deadlock) while axrt-trace records. scx_axrt writes every event
// as a JSON line; its event socket (loader/src/event_tap.rs) hands the same lines to each
// subscriber, so this is a reader of that socket: it connects when scx_axrt runs (and again
// after a restart), parses each line by its field names and keeps the events for the timeline
// and the counts. The loader never waits for us: lines it had to drop for a slow reader are
// announced in a `{"kind":"dropped","dropped":N}` line and counted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Where scx_axrt serves its event lines (next to its stats socket).
pub const EVENTS_SOCKET: &str = "/var/run/scx/root/events";

/// At most this many events are kept for the timeline (the counts go on).
const KEEP: usize = 1 << 20;

/// One decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// CLOCK_MONOTONIC, ns (the same clock as the trace).
    pub ts_ns: u64,
    /// Event kind (throttle, miss, ...).
    pub kind: String,
    /// VM name as scx_axrt has it ("host" for the host group).
    pub vm: Option<String>,
    /// The cgroup id, 0 if none.
    pub cgid: u64,
    /// The thread concerned, if any.
    pub tid: Option<u32>,
    /// The whole line, for the timeline's details.
    pub line: String,
}

/// Every decision seen, and the state of the connection.
#[derive(Clone, Debug, Default)]
pub struct Decisions {
    /// Events, in arrival order (at most KEEP).
    pub events: Vec<Decision>,
    /// By kind, all events.
    pub counts: BTreeMap<String, u64>,
    /// Lines the loader dropped for this reader.
    pub dropped: u64,
    /// Lines that were not events (with the first error).
    pub bad_lines: u64,
    /// The first bad line's error.
    pub first_error: Option<String>,
    /// Whether a connection was made.
    pub connected: bool,
    lines: u64,
}

impl Decisions {
    /// Takes one line of the stream.
    pub fn add_line(&mut self, line: &str) {
        self.lines += 1;
        match parse(line) {
            Ok(Parsed::Dropped(n)) => self.dropped += n,
            Ok(Parsed::Event(d)) => {
                *self.counts.entry(d.kind.clone()).or_default() += 1;
                if self.events.len() < KEEP {
                    self.events.push(d);
                }
            }
            Err(e) => {
                self.bad_lines += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("event line {}: {e}", self.lines));
                }
            }
        }
    }

    /// Decisions about thread `tid`, by kind.
    pub fn of_thread(&self, tid: u32) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for d in self.events.iter().filter(|d| d.tid == Some(tid)) {
            *m.entry(d.kind.clone()).or_default() += 1;
        }
        m
    }

    /// Decisions about a VM (by scx_axrt's name or cgroup id) that name no thread.
    pub fn of_vm(&self, name: &str, cgid: u64) -> BTreeMap<String, u64> {
        let mut m = BTreeMap::new();
        for d in self.events.iter().filter(|d| {
            d.tid.is_none() && ((cgid != 0 && d.cgid == cgid) || d.vm.as_deref() == Some(name))
        }) {
            *m.entry(d.kind.clone()).or_default() += 1;
        }
        m
    }
}

enum Parsed {
    Event(Decision),
    Dropped(u64),
}

fn parse(line: &str) -> Result<Parsed, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .ok_or("field 'kind' missing or not a string")?;
    if kind == "dropped" {
        let n = v
            .get("dropped")
            .and_then(Value::as_u64)
            .ok_or("field 'dropped' missing or not a count")?;
        return Ok(Parsed::Dropped(n));
    }
    let ts_ns = v
        .get("ts_ns")
        .and_then(Value::as_u64)
        .ok_or("field 'ts_ns' missing or not a count")?;
    Ok(Parsed::Event(Decision {
        ts_ns,
        kind: kind.to_string(),
        vm: v.get("vm").and_then(Value::as_str).map(str::to_string),
        cgid: v.get("cgid").and_then(Value::as_u64).unwrap_or(0),
        tid: v
            .get("tid")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok()),
        line: line.to_string(),
    }))
}

/// Reads the event socket at `path` on a thread of its own until `stop`: connects whenever
/// scx_axrt is there, and appends what it says to `into`.
pub fn follow(
    path: &Path,
    into: Arc<Mutex<Decisions>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let Ok(stream) = UnixStream::connect(&path) else {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            };
            if let Ok(mut d) = into.lock() {
                d.connected = true;
            }
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut reader = BufReader::new(stream);
            let mut line = String::new();
            loop {
                match reader.read_line(&mut line) {
                    Ok(0) => break, // scx_axrt stopped; it may come back
                    Ok(_) if line.ends_with('\n') => {
                        if let Ok(mut d) = into.lock() {
                            d.add_line(line.trim_end());
                        }
                        line.clear();
                    }
                    Ok(_) => {}
                    Err(e)
                        if e.kind() == std::io::ErrorKind::WouldBlock
                            || e.kind() == std::io::ErrorKind::TimedOut =>
                    {
                        // A partial line stays in `line`; look at the stop flag.
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                    }
                    Err(_) => break,
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_by_field_names() {
        let mut d = Decisions::default();
        d.add_line(r#"{"kind":"throttle","ts_ns":5,"vm":"batch","cgid":80,"prio":200,"overrun_ns":1,"cpu":1}"#);
        d.add_line(
            r#"{"cpu":0,"tid":201,"kind":"miss","ts_ns":9,"vm":"rt","cgid":81,"lateness_ns":3}"#,
        );
        d.add_line(r#"{"kind":"dropped","dropped":4}"#);
        d.add_line("not json");
        d.add_line(r#"{"kind":"boost"}"#);
        assert_eq!(d.counts.get("throttle"), Some(&1));
        assert_eq!(d.events[1].tid, Some(201));
        assert_eq!(d.dropped, 4);
        assert_eq!(d.bad_lines, 2);
        assert!(d
            .first_error
            .as_deref()
            .unwrap()
            .starts_with("event line 4: not JSON"));
        assert_eq!(d.of_thread(201).get("miss"), Some(&1));
        assert_eq!(d.of_vm("batch", 0).get("throttle"), Some(&1));
        assert_eq!(d.of_vm("x", 80).get("throttle"), Some(&1));
        assert!(
            d.of_vm("rt", 81).is_empty(),
            "a thread's event is the thread's"
        );
    }
}
