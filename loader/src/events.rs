// SPDX-License-Identifier: GPL-2.0-only
//
// events.rs - consumes the BPF tier's event ring buffer (throttles, replenishments, reserve
// grants) on a thread of its own, so that the buffer never fills, and with --verbose prints a
// one-line summary per second naming the VMs: how often each was throttled and by how much it
// overran, and what the starvation reserve had to rescue. The counters in --stats come from
// the statistics maps, not from here; events add the detail (overrun sizes, waiting times).

//! The event stream: draining it and summarising it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use libbpf_rs::RingBufferBuilder;

use crate::maps::{parse_event, Event, EventKind, Maps};

/// How long one poll of the ring buffer waits for events.
const POLL: Duration = Duration::from_millis(100);
/// How often --verbose prints a summary.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Names of the registered cgroups (VM names), kept up to date by discovery.
pub type Names = Mutex<BTreeMap<u64, String>>;

/// Events of one summary period.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Per cgroup id: throttles and the largest overrun (ns).
    throttles: BTreeMap<u64, (u64, u64)>,
    /// Replenishments, all groups.
    replenishments: u64,
    /// Reserve grants, the longest wait (ns) and the thread that waited it.
    reserve: (u64, u64, i32),
    /// Events of kinds this loader does not know.
    other: u64,
}

impl Tally {
    /// Counts one event.
    pub fn add(&mut self, ev: &Event) {
        match ev.kind {
            EventKind::Throttle => {
                let t = self.throttles.entry(ev.cgid).or_default();
                t.0 += 1;
                t.1 = t.1.max(ev.arg);
            }
            EventKind::Replenish => self.replenishments += 1,
            EventKind::ReserveGrant => {
                self.reserve.0 += 1;
                if ev.arg >= self.reserve.1 {
                    self.reserve.1 = ev.arg;
                    self.reserve.2 = ev.pid;
                }
            }
            EventKind::Other(_) => self.other += 1,
        }
    }

    /// One line describing the period, `None` if nothing worth saying happened
    /// (replenishments alone are routine).
    pub fn summary(&self, names: &BTreeMap<u64, String>) -> Option<String> {
        let mut parts: Vec<String> = self
            .throttles
            .iter()
            .map(|(cgid, (n, overrun))| {
                let who = names
                    .get(cgid)
                    .cloned()
                    .unwrap_or_else(|| format!("cgroup:{cgid}"));
                format!("{who} throttled {n}x (max overrun {} us)", overrun / 1000)
            })
            .collect();
        let (grants, wait, tid) = self.reserve;
        if grants > 0 {
            parts.push(format!(
                "reserve rescued {grants} tasks (longest wait {} ms, tid {tid})",
                wait / 1_000_000
            ));
        }
        if self.other > 0 {
            parts.push(format!("{} unknown events", self.other));
        }
        if parts.is_empty() {
            return None;
        }
        parts.push(format!("{} replenishments", self.replenishments));
        Some(parts.join(", "))
    }
}

/// Drains the event ring buffer until `done` is set; prints a summary every second when
/// `verbose`.
pub fn consume(maps: &Maps, done: &AtomicBool, names: &Names, verbose: bool) -> Result<()> {
    let tally = Mutex::new(Tally::default());
    let mut builder = RingBufferBuilder::new();
    builder.add(maps.events(), |data: &[u8]| {
        if let (Some(ev), Ok(mut t)) = (parse_event(data), tally.lock()) {
            t.add(&ev);
        }
        0
    })?;
    let ring = builder.build()?;
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        // EINTR (a signal) is not an error here; anything else ends the thread.
        if let Err(e) = ring.poll(POLL) {
            if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                return Err(e.into());
            }
        }
        if last.elapsed() >= SUMMARY_EVERY {
            last = Instant::now();
            let period = tally.lock().map(|mut t| std::mem::take(&mut *t));
            if let (true, Ok(period), Ok(names)) = (verbose, period, names.lock()) {
                if let Some(line) = period.summary(&names) {
                    eprintln!("scx_axrt: events/s: {line}");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, cgid: u64, pid: i32, arg: u64) -> Event {
        Event {
            kind,
            ts_ns: 0,
            cgid,
            pid,
            cpu: 0,
            prio: 0,
            arg,
        }
    }

    #[test]
    fn routine_periods_say_nothing() {
        let mut t = Tally::default();
        t.add(&ev(EventKind::Replenish, 5, 0, 100));
        assert_eq!(t.summary(&BTreeMap::new()), None);
    }

    #[test]
    fn throttles_and_reserve_grants_are_summarised_by_vm() {
        let mut t = Tally::default();
        t.add(&ev(EventKind::Throttle, 5, 0, 120_000));
        t.add(&ev(EventKind::Throttle, 5, 0, 80_000));
        t.add(&ev(EventKind::Throttle, 9, 0, 1_000));
        t.add(&ev(EventKind::Replenish, 5, 0, 0));
        t.add(&ev(EventKind::ReserveGrant, 0, 42, 1_500_000_000));
        t.add(&ev(EventKind::ReserveGrant, 0, 43, 1_000_000_000));
        t.add(&ev(EventKind::Other(77), 0, 0, 0));
        let names = BTreeMap::from([(5, "control".to_string())]);
        assert_eq!(
            t.summary(&names).unwrap(),
            "control throttled 2x (max overrun 120 us), cgroup:9 throttled 1x (max overrun 1 us), \
             reserve rescued 2 tasks (longest wait 1500 ms, tid 42), 1 unknown events, \
             1 replenishments"
        );
    }
}
