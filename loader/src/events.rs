// SPDX-License-Identifier: GPL-2.0-only
//
// events.rs - consumes the BPF tier's event ring buffer on a thread of its own, so that the
// buffer never fills: every throttle, replenishment, reserve grant, deadline miss, WCET
// overrun, supply miss, boost (start and end) and deadlock, and with --events the detail
// events (each closed reservation window, each completed job). Each event is counted (the totals
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

use crate::bpf_intf;
use crate::maps::{from_bytes, Maps};

/// How long one poll of the ring buffer waits for events.
const POLL: Duration = Duration::from_millis(100);
/// How often --verbose prints a summary.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Names of the registered cgroups (VM names), kept up to date by discovery.
pub type Names = Mutex<BTreeMap<u64, String>>;

/// One record of the event ring buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// bpf_ktime_get_ns() when it happened.
    pub ts_ns: u64,
    /// Cgroup id of the group concerned (0 = host).
    pub cgid: u64,
    /// Thread concerned, 0 if none.
    pub pid: i32,
    /// CPU it happened on.
    pub cpu: i32,
    /// Priority concerned (group's or task's).
    pub prio: u32,
    /// Kind-specific: overrun ns (throttle), unused budget ns (replenish), wait ns (reserve),
    /// lateness ns (miss), job CPU ns (WCET overrun), supply ns (supply miss, window), the
    /// priority before (boost), the boost's length in ns (boost end), cycle length (deadlock),
    /// response ns (job).
    pub arg: u64,
    /// Kind-specific: response ns (miss), WCET ns (WCET overrun), min(quota, demand) ns
    /// (supply miss), the cause (boost, boost end), detection latency ns (deadlock), demand ns
    /// (window), CPU ns (job).
    pub arg2: u64,
    /// The other thread: who gave a boost, 0 if none.
    pub other: i32,
    /// A deadlock's cycle: each thread and the futex it waits on (owned by the next one).
    pub cycle: Vec<LockEdge>,
}

/// One edge of a wait-for cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockEdge {
    /// The waiting thread.
    pub tid: i32,
    /// Its process.
    pub tgid: u32,
    /// The address of the futex word it waits on, in that process.
    pub addr: u64,
    /// Its name when the cycle closed.
    pub comm: String,
}

/// Kinds of [`Event`]: intf.h's `enum axrt_event_kind` (AXRT_EVENT_KINDS), any raw value
/// (kinds this loader does not know keep theirs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventKind(pub u32);

macro_rules! event_kinds {
    ($($c:ident $name:ident $value:literal $desc:literal;)*) => {
        impl EventKind {
            $(#[doc = $desc] pub const $c: EventKind = EventKind($value);)*

            /// The name used in the event stream (`--events`), "unknown" for other kinds.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($value => stringify!($name),)*
                    _ => "unknown",
                }
            }
        }
    };
}
axrt_event_kinds!(event_kinds);

/// The name of a boost cause (an event's `arg2`).
pub fn boost_cause(raw: u64) -> &'static str {
    match raw {
        x if x == u64::from(bpf_intf::axrt_boost_cause_AXRT_BOOST_YIELD) => "yield",
        x if x == u64::from(bpf_intf::axrt_boost_cause_AXRT_BOOST_LOCK) => "lock",
        _ => "unknown",
    }
}

/// Decodes one ring-buffer record (as handed to a `libbpf_rs::RingBufferBuilder` callback).
pub fn parse_event(data: &[u8]) -> Option<Event> {
    let raw: bpf_intf::axrt_event = from_bytes(data)?;
    let kind = EventKind(raw.kind);
    let mut cycle = Vec::new();
    if kind == EventKind::DEADLOCK {
        let d: bpf_intf::axrt_deadlock_event = from_bytes(data)?;
        let len = (raw.arg as usize).min(d.tids.len());
        cycle = (0..len)
            .map(|i| LockEdge {
                tid: d.tids[i],
                tgid: d.tgids[i],
                addr: d.addrs[i],
                comm: crate::exit::c_array_to_string(&d.comms[i]),
            })
            .collect();
    }
    Some(Event {
        kind,
        ts_ns: raw.ts_ns,
        cgid: raw.cgid,
        pid: raw.pid,
        cpu: raw.cpu,
        prio: raw.prio,
        arg: raw.arg,
        arg2: raw.arg2,
        other: raw.other,
        cycle,
    })
}

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
    /// Detail events (windows closed, jobs completed): routine, counted only.
    detail: u64,
    /// Events of kinds this loader does not know.
    other: u64,
}

impl Tally {
    /// Counts one event.
    pub fn add(&mut self, ev: &Event) {
        match ev.kind {
            EventKind::THROTTLE => {
                let t = self.throttles.entry(ev.cgid).or_default();
                t.0 += 1;
                t.1 = t.1.max(ev.arg);
            }
            EventKind::REPLENISH => self.replenishments += 1,
            EventKind::RESERVE => {
                self.reserve.0 += 1;
                if ev.arg >= self.reserve.1 {
                    self.reserve.1 = ev.arg;
                    self.reserve.2 = ev.pid;
                }
            }
            EventKind::MISS => {
                self.misses.0 += 1;
                self.misses.1 = self.misses.1.max(ev.arg);
            }
            EventKind::WCET => self.wcet_overruns += 1,
            EventKind::SUPPLY_MISS => *self.supply_misses.entry(ev.cgid).or_default() += 1,
            EventKind::BOOST => match boost_cause(ev.arg2) {
                "yield" => self.boosts.0 += 1,
                _ => self.boosts.1 += 1,
            },
            EventKind::BOOST_END => {}
            EventKind::DEADLOCK => self.deadlocks += 1,
            EventKind::WINDOW | EventKind::JOB => self.detail += 1,
            _ => self.other += 1,
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
            + self.detail
            + self.other
    }

    /// One line describing the period, `None` if nothing worth saying happened
    /// (replenishments and detail events alone are routine).
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
    if ev.cgid != 0 || ev.kind != EventKind::DEADLOCK {
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
        EventKind::THROTTLE => {
            put("prio", json!(ev.prio));
            put("overrun_ns", json!(ev.arg));
        }
        EventKind::REPLENISH => {
            put("unused_ns", json!(ev.arg));
            put("lead_ns", json!(ev.arg2));
        }
        EventKind::RESERVE => {
            put("prio", json!(ev.prio));
            put("waited_ns", json!(ev.arg));
        }
        EventKind::MISS => {
            put("lateness_ns", json!(ev.arg));
            put("response_ns", json!(ev.arg2));
        }
        EventKind::WCET => {
            put("cpu_ns", json!(ev.arg));
            put("wcet_ns", json!(ev.arg2));
        }
        EventKind::SUPPLY_MISS => {
            put("supply_ns", json!(ev.arg));
            put("owed_ns", json!(ev.arg2));
        }
        EventKind::BOOST => {
            put("cause", json!(boost_cause(ev.arg2)));
            put("by", json!(ev.other));
            put("from_prio", json!(ev.arg));
            put("prio", json!(ev.prio));
        }
        EventKind::BOOST_END => {
            put("cause", json!(boost_cause(ev.arg2)));
            put("prio", json!(ev.prio));
            if boost_cause(ev.arg2) == "yield" {
                put("lasted_ns", json!(ev.arg));
            }
        }
        EventKind::WINDOW => {
            put("supply_ns", json!(ev.arg));
            put("demand_ns", json!(ev.arg2));
        }
        EventKind::JOB => {
            put("response_ns", json!(ev.arg));
            put("cpu_ns", json!(ev.arg2));
        }
        EventKind::DEADLOCK => {
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
        EventKind(k) => {
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
            if ev.kind == EventKind::DEADLOCK {
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
    use crate::maps::{as_bytes, zeroed};

    #[test]
    fn events_round_trip() {
        let raw = bpf_intf::axrt_event {
            ts_ns: 7,
            cgid: 42,
            arg: 3,
            kind: bpf_intf::axrt_event_kind_AXRT_EV_THROTTLE,
            pid: 5,
            cpu: 1,
            prio: 9,
            arg2: 4,
            other: 6,
            pad: 0,
        };
        let ev = parse_event(as_bytes(&raw)).unwrap();
        assert_eq!(ev.kind, EventKind::THROTTLE);
        assert_eq!((ev.cgid, ev.pid, ev.cpu, ev.prio, ev.arg), (42, 5, 1, 9, 3));
        assert_eq!((ev.arg2, ev.other), (4, 6));
        assert!(ev.cycle.is_empty());
        assert!(parse_event(&[0u8; 4]).is_none());
    }

    #[test]
    fn deadlock_events_carry_their_cycle() {
        let mut raw: bpf_intf::axrt_deadlock_event = zeroed();
        raw.head.kind = bpf_intf::axrt_event_kind_AXRT_EV_DEADLOCK;
        raw.head.arg = 2;
        raw.tids[..3].copy_from_slice(&[10, 11, 99]);
        raw.tgids[..2].copy_from_slice(&[1, 1]);
        raw.addrs[..2].copy_from_slice(&[0x1000, 0x2000]);
        let ev = parse_event(as_bytes(&raw)).unwrap();
        assert_eq!(ev.kind, EventKind::DEADLOCK);
        let tids: Vec<i32> = ev.cycle.iter().map(|e| e.tid).collect();
        assert_eq!(tids, [10, 11]);
        assert_eq!(ev.cycle[1].addr, 0x2000);
        // A deadlock record cut short is refused, not read past its end.
        assert!(
            parse_event(&as_bytes(&raw)[..std::mem::size_of::<bpf_intf::axrt_event>()]).is_none()
        );
    }

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
        t.add(&ev(EventKind::REPLENISH, 5, 0, 100));
        t.add(&ev(EventKind::WINDOW, 5, 0, 100));
        t.add(&ev(EventKind::JOB, 5, 7, 100));
        assert_eq!(t.summary(&BTreeMap::new()), None);
        assert_eq!(t.total(), 3);
    }

    #[test]
    fn detail_events_carry_their_figures() {
        let names = BTreeMap::from([(5, "control".to_string())]);
        let mut w = ev(EventKind::WINDOW, 5, 0, 18_000_000);
        w.arg2 = 100_000_000;
        let v = to_json(&w, &names);
        assert_eq!(v["kind"], "window");
        assert_eq!(
            (v["supply_ns"].as_u64(), v["demand_ns"].as_u64()),
            (Some(18_000_000), Some(100_000_000))
        );
        let mut j = ev(EventKind::JOB, 5, 7, 900_000);
        j.arg2 = 300_000;
        let v = to_json(&j, &names);
        assert_eq!(
            (v["kind"].as_str(), v["tid"].as_i64()),
            (Some("job"), Some(7))
        );
        assert_eq!(
            (v["response_ns"].as_u64(), v["cpu_ns"].as_u64()),
            (Some(900_000), Some(300_000))
        );
    }

    #[test]
    fn throttles_and_reserve_grants_are_summarised_by_vm() {
        let mut t = Tally::default();
        t.add(&ev(EventKind::THROTTLE, 5, 0, 120_000));
        t.add(&ev(EventKind::THROTTLE, 5, 0, 80_000));
        t.add(&ev(EventKind::THROTTLE, 9, 0, 1_000));
        t.add(&ev(EventKind::REPLENISH, 5, 0, 0));
        t.add(&ev(EventKind::RESERVE, 0, 42, 1_500_000_000));
        t.add(&ev(EventKind::RESERVE, 0, 43, 1_000_000_000));
        t.add(&ev(EventKind(77), 0, 0, 0));
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
        t.add(&ev(EventKind::MISS, 5, 7, 3_000));
        t.add(&ev(EventKind::MISS, 5, 7, 9_000));
        t.add(&ev(EventKind::SUPPLY_MISS, 5, 0, 0));
        let mut b = ev(EventKind::BOOST, 5, 7, 0);
        b.arg2 = u64::from(crate::bpf_intf::axrt_boost_cause_AXRT_BOOST_LOCK);
        t.add(&b);
        t.add(&ev(EventKind::BOOST_END, 5, 7, 0));
        t.add(&ev(EventKind::DEADLOCK, 0, 7, 2));
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
        let mut m = ev(EventKind::MISS, 5, 7, 3_000);
        m.arg2 = 13_000;
        let v = to_json(&m, &names);
        assert_eq!(v["kind"], "miss");
        assert_eq!(v["vm"], "control");
        assert_eq!(v["tid"], 7);
        assert_eq!(v["lateness_ns"], 3_000);
        assert_eq!(v["response_ns"], 13_000);

        let mut d = ev(EventKind::DEADLOCK, 0, 7, 2);
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
