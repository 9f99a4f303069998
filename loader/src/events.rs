// SPDX-License-Identifier: GPL-2.0-only
//
// events.rs - consumes the BPF tier's event ring buffer on a thread of its own, so that the
// buffer never fills: every throttle, replenishment, reserve grant, deadline miss, WCET
// overrun, supply miss, boost (start and end) and deadlock. Each event is counted (the totals
// are printed when the scheduler stops), written as one JSON line to the `--events` file if
// there is one, and summarised once a second with --verbose, naming the VMs. The statistics
// in --stats come from the statistics maps, not from here; events add the detail.

//! The event stream: draining it, writing it out, counting and summarising it.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use libbpf_rs::RingBufferBuilder;
use serde_json::{json, Value};

use crate::maps::{boost_cause, parse_event, Event, EventKind, Maps};

/// How long one poll of the ring buffer waits for events.
const POLL: Duration = Duration::from_millis(100);
/// How often --verbose prints a summary.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Names of the registered cgroups (VM names), kept up to date by discovery.
pub type Names = Mutex<BTreeMap<u64, String>>;

/// Events of one summary period (or of the whole run).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Per cgroup id: throttles and the largest overrun (ns).
    throttles: BTreeMap<u64, (u64, u64)>,
    /// Replenishments, all groups.
    replenishments: u64,
    /// Reserve grants, the longest wait (ns) and the thread that waited it.
    reserve: (u64, u64, i32),
    /// Deadline misses and the worst lateness (ns).
    misses: (u64, u64),
    /// WCET overruns.
    wcet_overruns: u64,
    /// Supply misses per cgroup id.
    supply_misses: BTreeMap<u64, u64>,
    /// Boosts started: by directed yield, by lock chain.
    boosts: (u64, u64),
    /// Deadlocks found.
    deadlocks: u64,
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
            EventKind::DeadlineMiss => {
                self.misses.0 += 1;
                self.misses.1 = self.misses.1.max(ev.arg);
            }
            EventKind::WcetOverrun => self.wcet_overruns += 1,
            EventKind::SupplyMiss => *self.supply_misses.entry(ev.cgid).or_default() += 1,
            EventKind::Boost => match boost_cause(ev.arg2) {
                "yield" => self.boosts.0 += 1,
                _ => self.boosts.1 += 1,
            },
            EventKind::BoostEnd => {}
            EventKind::Deadlock => self.deadlocks += 1,
            EventKind::Other(_) => self.other += 1,
        }
    }

    /// Events counted, all kinds.
    pub fn total(&self) -> u64 {
        self.throttles.values().map(|t| t.0).sum::<u64>()
            + self.replenishments
            + self.reserve.0
            + self.misses.0
            + self.wcet_overruns
            + self.supply_misses.values().sum::<u64>()
            + self.boosts.0
            + self.boosts.1
            + self.deadlocks
            + self.other
    }

    /// One line describing the period, `None` if nothing worth saying happened
    /// (replenishments alone are routine).
    pub fn summary(&self, names: &BTreeMap<u64, String>) -> Option<String> {
        let who = |cgid: &u64| {
            names
                .get(cgid)
                .cloned()
                .unwrap_or_else(|| format!("cgroup:{cgid}"))
        };
        let mut parts: Vec<String> = self
            .throttles
            .iter()
            .map(|(cgid, (n, overrun))| {
                format!(
                    "{} throttled {n}x (max overrun {} us)",
                    who(cgid),
                    overrun / 1000
                )
            })
            .collect();
        for (cgid, n) in &self.supply_misses {
            parts.push(format!("{} short of its budget in {n} windows", who(cgid)));
        }
        let (grants, wait, tid) = self.reserve;
        if grants > 0 {
            parts.push(format!(
                "reserve rescued {grants} tasks (longest wait {} ms, tid {tid})",
                wait / 1_000_000
            ));
        }
        if self.misses.0 > 0 {
            parts.push(format!(
                "{} deadline misses (worst {} us late)",
                self.misses.0,
                self.misses.1 / 1000
            ));
        }
        if self.wcet_overruns > 0 {
            parts.push(format!("{} WCET overruns", self.wcet_overruns));
        }
        if self.boosts != (0, 0) {
            parts.push(format!(
                "boosts: {} directed yields, {} lock chains",
                self.boosts.0, self.boosts.1
            ));
        }
        if self.deadlocks > 0 {
            parts.push(format!("{} DEADLOCKS", self.deadlocks));
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

/// One event as a JSON object (a line of the `--events` file): the common fields, the VM's
/// name when the event concerns a named group, and the kind's own fields.
pub fn to_json(ev: &Event, names: &BTreeMap<u64, String>) -> Value {
    let mut v = json!({
        "ts_ns": ev.ts_ns,
        "kind": ev.kind.name(),
        "cpu": ev.cpu,
    });
    let obj = v.as_object_mut().expect("a JSON object");
    if ev.cgid != 0 || ev.kind != EventKind::Deadlock {
        obj.insert("cgid".into(), json!(ev.cgid));
        let vm = match ev.cgid {
            0 => Some("host".to_string()),
            c => names.get(&c).cloned(),
        };
        obj.insert("vm".into(), json!(vm));
    }
    if ev.pid != 0 {
        obj.insert("tid".into(), json!(ev.pid));
    }
    let mut put = |k: &str, x: Value| {
        obj.insert(k.into(), x);
    };
    match ev.kind {
        EventKind::Throttle => {
            put("prio", json!(ev.prio));
            put("overrun_ns", json!(ev.arg));
        }
        EventKind::Replenish => put("unused_ns", json!(ev.arg)),
        EventKind::ReserveGrant => {
            put("prio", json!(ev.prio));
            put("waited_ns", json!(ev.arg));
        }
        EventKind::DeadlineMiss => {
            put("lateness_ns", json!(ev.arg));
            put("response_ns", json!(ev.arg2));
        }
        EventKind::WcetOverrun => {
            put("cpu_ns", json!(ev.arg));
            put("wcet_ns", json!(ev.arg2));
        }
        EventKind::SupplyMiss => {
            put("supply_ns", json!(ev.arg));
            put("owed_ns", json!(ev.arg2));
        }
        EventKind::Boost => {
            put("cause", json!(boost_cause(ev.arg2)));
            put("by", json!(ev.other));
            put("from_prio", json!(ev.arg));
            put("prio", json!(ev.prio));
        }
        EventKind::BoostEnd => {
            put("cause", json!(boost_cause(ev.arg2)));
            put("prio", json!(ev.prio));
            if boost_cause(ev.arg2) == "yield" {
                put("lasted_ns", json!(ev.arg));
            }
        }
        EventKind::Deadlock => {
            put("detect_ns", json!(ev.arg2));
            let cycle: Vec<Value> = ev
                .cycle
                .iter()
                .map(|e| {
                    json!({
                        "tid": e.tid,
                        "tgid": e.tgid,
                        "comm": e.comm,
                        "futex": format!("{:#x}", e.addr),
                    })
                })
                .collect();
            put("cycle", Value::Array(cycle));
        }
        EventKind::Other(k) => {
            put("raw_kind", json!(k));
            put("arg", json!(ev.arg));
        }
    }
    v
}

/// A deadlock as one log line: "tid 12 (dl-a) waits for futex 0x... held by tid 13 (dl-b),
/// which waits for ...".
pub fn describe_deadlock(ev: &Event) -> String {
    let n = ev.cycle.len();
    let steps: Vec<String> = ev
        .cycle
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let next = &ev.cycle[(i + 1) % n];
            format!(
                "tid {} ({}) waits for futex {:#x} held by tid {}",
                e.tid, e.comm, e.addr, next.tid
            )
        })
        .collect();
    format!("deadlock: {}", steps.join("; "))
}

/// Drains the event ring buffer until `done` is set: counts every event, appends it to
/// `out` (JSON lines) if given, logs deadlocks, prints a summary every second when
/// `verbose`. Returns the counts of the whole run.
pub fn consume(
    maps: &Maps,
    done: &AtomicBool,
    names: &Names,
    verbose: bool,
    mut out: Option<&mut (dyn Write + Send)>,
) -> Result<Tally> {
    let period = Mutex::new(Tally::default());
    let total = Mutex::new(Tally::default());
    let mut write_err = None;
    {
        let mut builder = RingBufferBuilder::new();
        builder.add(maps.events(), |data: &[u8]| {
            let Some(ev) = parse_event(data) else {
                return 0;
            };
            if let Ok(mut t) = period.lock() {
                t.add(&ev);
            }
            if let Ok(mut t) = total.lock() {
                t.add(&ev);
            }
            if ev.kind == EventKind::Deadlock {
                log::warn!("{}", describe_deadlock(&ev));
            }
            crate::event_tap::publish(|| {
                names
                    .lock()
                    .map(|n| to_json(&ev, &n).to_string())
                    .unwrap_or_default()
            });
            if let (Some(w), None) = (out.as_mut(), &write_err) {
                let line = names
                    .lock()
                    .map(|n| to_json(&ev, &n).to_string())
                    .unwrap_or_default();
                if let Err(e) = writeln!(w, "{line}") {
                    write_err = Some(e);
                }
            }
            0
        })?;
        let ring = builder.build()?;
        let mut last = Instant::now();
        loop {
            // EINTR (a signal) is not an error here; anything else ends the thread.
            if let Err(e) = ring.poll(POLL) {
                if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                    return Err(e.into());
                }
            }
            if done.load(Ordering::Relaxed) {
                // What is still in the buffer belongs to the run too.
                let _ = ring.consume();
                break;
            }
            if last.elapsed() >= SUMMARY_EVERY {
                last = Instant::now();
                let p = period.lock().map(|mut t| std::mem::take(&mut *t));
                if let (true, Ok(p), Ok(names)) = (verbose, p, names.lock()) {
                    if let Some(line) = p.summary(&names) {
                        eprintln!("scx_axrt: events/s: {line}");
                    }
                }
            }
        }
    }
    if let Some(w) = out {
        w.flush()?;
    }
    if let Some(e) = write_err {
        return Err(anyhow::anyhow!("cannot write the event stream: {e}"));
    }
    Ok(total.into_inner().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::LockEdge;

    fn ev(kind: EventKind, cgid: u64, pid: i32, arg: u64) -> Event {
        Event {
            kind,
            ts_ns: 0,
            cgid,
            pid,
            cpu: 0,
            prio: 0,
            arg,
            arg2: 0,
            other: 0,
            cycle: Vec::new(),
        }
    }

    #[test]
    fn routine_periods_say_nothing() {
        let mut t = Tally::default();
        t.add(&ev(EventKind::Replenish, 5, 0, 100));
        assert_eq!(t.summary(&BTreeMap::new()), None);
        assert_eq!(t.total(), 1);
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
        assert_eq!(t.total(), 7);
    }

    #[test]
    fn misses_boosts_and_deadlocks_are_summarised() {
        let mut t = Tally::default();
        t.add(&ev(EventKind::DeadlineMiss, 5, 7, 3_000));
        t.add(&ev(EventKind::DeadlineMiss, 5, 7, 9_000));
        t.add(&ev(EventKind::SupplyMiss, 5, 0, 0));
        let mut b = ev(EventKind::Boost, 5, 7, 0);
        b.arg2 = u64::from(crate::bpf_intf::axrt_boost_cause_AXRT_BOOST_LOCK);
        t.add(&b);
        t.add(&ev(EventKind::BoostEnd, 5, 7, 0));
        t.add(&ev(EventKind::Deadlock, 0, 7, 2));
        let names = BTreeMap::from([(5, "control".to_string())]);
        assert_eq!(
            t.summary(&names).unwrap(),
            "control short of its budget in 1 windows, 2 deadline misses (worst 9 us late), \
             boosts: 0 directed yields, 1 lock chains, 1 DEADLOCKS, 0 replenishments"
        );
    }

    #[test]
    fn events_become_json_lines_with_their_own_fields() {
        let names = BTreeMap::from([(5, "control".to_string())]);
        let mut m = ev(EventKind::DeadlineMiss, 5, 7, 3_000);
        m.arg2 = 13_000;
        let v = to_json(&m, &names);
        assert_eq!(v["kind"], "miss");
        assert_eq!(v["vm"], "control");
        assert_eq!(v["tid"], 7);
        assert_eq!(v["lateness_ns"], 3_000);
        assert_eq!(v["response_ns"], 13_000);

        let mut d = ev(EventKind::Deadlock, 0, 7, 2);
        d.cycle = vec![
            LockEdge {
                tid: 7,
                tgid: 1,
                addr: 0x1000,
                comm: "dl-b".into(),
            },
            LockEdge {
                tid: 8,
                tgid: 1,
                addr: 0x2000,
                comm: "dl-a".into(),
            },
        ];
        let v = to_json(&d, &names);
        assert_eq!(v["kind"], "deadlock");
        assert_eq!(v["cycle"][1]["futex"], "0x2000");
        assert!(v.get("vm").is_none());
        assert!(!v.to_string().contains('\n'));
        let line = describe_deadlock(&d);
        assert!(
            line.starts_with("deadlock: tid 7 (dl-b) waits for futex 0x1000 held by tid 8"),
            "{line}"
        );
        assert!(
            line.ends_with("waits for futex 0x2000 held by tid 7"),
            "{line}"
        );
    }
}
