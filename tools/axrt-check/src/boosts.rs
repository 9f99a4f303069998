// SPDX-License-Identifier: GPL-2.0-only
//
// boosts.rs - tests/vm/boosts.sh's checks (issue 6, 2-4), one part per stage of the script:
// directed yields (a 3-vCPU lock micro-VM with and without boosts, two rounds; its --stats
// reports and --events), the PI-mutex priority inversion (axrt-locks inversion with and without
// boosts, two hog lengths), the AB/BA deadlock, and the PI-futex benchmark whose cost is
// reported, not asserted.

//! Boosts: directed yield, lock chains, deadlocks, the cost of observing PI futexes.

use std::path::{Path, PathBuf};

use scx_axrt::stats::Report;
use serde_json::Value;

use crate::data::{self, Error};
use crate::verdict::{require, shown, Verdicts};

/// The lock micro-VM (its group in the reports and its VM in the events) and its vCPUs.
const LOCK_VM: &str = "lk";
const LOCK_VCPUS: u32 = 3;
/// A yield boost ends when the boosted thread stops running. A vCPU thread boosted as the run
/// ends stops after the scheduler's event stream has closed: at most one such boost per vCPU
/// thread of the lock VM.
const MAX_UNENDED: usize = LOCK_VCPUS as usize;
/// pi-high's and pi-low's priorities in the configuration: the lock boost lifts the holder to
/// the waiter's priority and its end drops it back to its own.
const PI_HIGH_PRIO: u64 = 10;
const PI_LOW_PRIO: u64 = 200;

/// Arguments of `axrt-check boosts`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    part: Part,
}

#[derive(Debug, clap::Subcommand)]
enum Part {
    /// Directed yields: the lock runs with and without boosts
    Yield {
        /// One lock run: boost or no-boost, its round, axrt-vmload's --json report, scx_axrt's log
        #[arg(long = "run", num_args = 4, value_names = ["MODE", "ROUND", "REPORT", "LOG"])]
        runs: Vec<String>,
        /// scx_axrt's --events of the first round's run with boosts
        #[arg(long)]
        events: PathBuf,
    },
    /// The priority inversion with and without boosts
    Inversion {
        /// One run: boost or no-boost, the hogs' length in ms, axrt-locks' --json, scx_axrt's --events
        #[arg(long = "run", num_args = 4, value_names = ["MODE", "HOG_MS", "RESULT", "EVENTS"])]
        runs: Vec<String>,
    },
    /// The AB/BA deadlock
    Deadlock {
        /// axrt-locks deadlock's --json
        #[arg(long)]
        result: PathBuf,
        /// scx_axrt's --events
        #[arg(long)]
        events: PathBuf,
    },
    /// One round of the PI-futex benchmark in three setups (reported; the check is that it ran)
    Bench {
        /// The round
        #[arg(long)]
        round: u32,
        /// axrt-locks bench's --json, observed with boosts
        #[arg(long)]
        observed: PathBuf,
        /// ... observed with --no-boost
        #[arg(long)]
        watched: PathBuf,
        /// ... not observed (--no-lock-trace)
        #[arg(long)]
        unobserved: PathBuf,
    },
    /// stress-ng --futex observed and not (reported, not asserted)
    Futex {
        /// stress-ng --metrics-brief output, observed
        #[arg(long)]
        observed: PathBuf,
        /// ... not observed
        #[arg(long)]
        unobserved: PathBuf,
    },
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    let mut v = Verdicts::default();
    match &a.part {
        Part::Yield { runs, events } => {
            let runs: Vec<LockRun> = runs.chunks(4).map(LockRun::load).collect();
            yields(&mut v, &runs, &data::events(events));
        }
        Part::Inversion { runs } => {
            let runs: Vec<InvRun> = runs.chunks(4).map(InvRun::load).collect();
            inversion(&mut v, &runs);
        }
        Part::Deadlock { result, events } => {
            deadlock(&mut v, &data::json(result), &data::events(events))
        }
        Part::Bench {
            round,
            observed,
            watched,
            unobserved,
        } => bench(
            &mut v,
            *round,
            [observed, watched, unobserved].map(|p| ops_per_s(p)),
        ),
        Part::Futex {
            observed,
            unobserved,
        } => {
            let [on, off] = [observed, unobserved].map(|p| futex_ops(p));
            v.note(format!(
                "stress-ng --futex (wait/wake, no PI) bogo-ops/s: observed {}, not observed {}, ratio {}",
                shown(on),
                shown(off),
                ratio(on, off)
            ));
        }
    }
    v
}

/// `a / b` to three decimals (0 when either is missing or b is 0), as the notes show ratios.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.3}", a / b),
        _ => "0".into(),
    }
}

/// One lock run's figures.
struct LockRun {
    boost: bool,
    round: u32,
    /// Acquisitions of every vCPU, the worst vCPU's acquisition-wait p99 (µs).
    guest: Result<(u64, f64), Error>,
    /// scx_axrt's interval reports.
    reports: Result<Vec<Report>, Error>,
}

impl LockRun {
    fn load(a: &[String]) -> LockRun {
        let guest = data::vmload(Path::new(&a[2])).map(|r| {
            let c: Vec<_> = (0..LOCK_VCPUS)
                .filter_map(|i| data::vcpu(&r, LOCK_VM, i))
                .collect();
            (
                c.iter().map(|c| c.jobs).sum(),
                c.iter()
                    .filter_map(|c| c.response.map(|s| s.p99_us))
                    .fold(0.0, f64::max),
            )
        });
        LockRun {
            boost: a[0] == "boost",
            round: a[1].parse().unwrap_or(0),
            guest,
            reports: data::interval_reports(Path::new(&a[3])),
        }
    }

    fn boosts(&self) -> Result<u64, Error> {
        self.reports
            .as_ref()
            .map(|r| data::group_sum(r, LOCK_VM, |g| g.boosts_received))
            .map_err(Clone::clone)
    }
}

fn yields(v: &mut Verdicts, runs: &[LockRun], events: &Result<Vec<Value>, Error>) {
    for r in runs {
        let max = |f: fn(&scx_axrt::stats::GroupReport) -> f64| {
            r.reports.as_ref().map_or("none".to_string(), |rep| {
                format!("{}", data::group_max(rep, LOCK_VM, f))
            })
        };
        v.note(format!(
            "{} round {}: {} acquisitions in 3 s, worst vCPU acquisition-wait p99 {} us, boosts {}, \
             yield-to-run p50 <= {} us, p99 <= {} us",
            if r.boost { "boost" } else { "no-boost" },
            r.round,
            r.guest.as_ref().map_or("none".to_string(), |g| g.0.to_string()),
            r.guest.as_ref().map_or("none".to_string(), |g| format!("{:.0}", g.1)),
            r.boosts().as_ref().map_or("none".to_string(), u64::to_string),
            max(|g| g.boost_p50_us),
            max(|g| g.boost_p99_us),
        ));
    }
    let mut rounds: Vec<u32> = runs.iter().map(|r| r.round).collect();
    rounds.sort_unstable();
    rounds.dedup();
    let find = |boost: bool, round: u32| runs.iter().find(|r| r.boost == boost && r.round == round);
    let (mut sum_a, mut sum_n) = (0, 0);
    for &round in &rounds {
        let (b, n) = (find(true, round), find(false, round));
        let boosts = b.map(LockRun::boosts);
        v.check(
            format!(
                "round {round}: directed yields boost the lock holder (boosts {})",
                boosts
                    .as_ref()
                    .and_then(|b| b.as_ref().ok())
                    .copied()
                    .unwrap_or(0)
            ),
            match boosts {
                Some(Ok(n)) => require(n > 0, || "no boost counted".into()),
                Some(Err(e)) => Err(e),
                None => Err("no run with boosts".into()),
            },
        );
        let nb = n.map(LockRun::boosts);
        v.check(
            format!("round {round}: --no-boost gives no boosts"),
            match nb {
                Some(Ok(c)) => require(c == 0, || format!("expected '0', got '{c}'")),
                Some(Err(e)) => Err(e),
                None => Err("no run without boosts".into()),
            },
        );
        let acq = |r: Option<&LockRun>| r.and_then(|r| r.guest.as_ref().ok()).map_or(0, |g| g.0);
        let (a, n) = (acq(b), acq(n));
        // A yield only happens while the holder is preempted (KVM's vcpu->ready), so boosts are
        // rare and each saves the waiter the rest of its slice: the throughput is a timing
        // figure, reported here, not asserted.
        v.note(format!(
            "round {round}: throughput with boosts / without: {a} / {n} = {}",
            if n > 0 {
                format!("{:.2}", a as f64 / n as f64)
            } else {
                "0.00".into()
            }
        ));
        sum_a += a;
        sum_n += n;
    }
    v.note(format!(
        "both rounds: {sum_a} acquisitions with boosts, {sum_n} without"
    ));

    // The events: every boost by a yield of the lock VM names the yielding thread (by > 0); a
    // boost of a thread still boosted extends that boost, so one end covers both: every boost
    // must be followed by an end of the same thread's boost.
    // The lock VM is known by its cgroup id: events that come before the loader has matched the
    // VM's cgroup to its name carry the id but no name.
    let empty = Vec::new();
    let ev = events.as_ref().unwrap_or(&empty);
    let lock_cgids: Vec<&Value> = ev
        .iter()
        .filter(|e| e["vm"] == LOCK_VM)
        .map(|e| &e["cgid"])
        .collect();
    let yield_ev: Vec<&Value> = ev.iter().filter(|e| e["cause"] == "yield").collect();
    let boost_ev = yield_ev
        .iter()
        .filter(|e| {
            e["kind"] == "boost"
                && lock_cgids.contains(&&e["cgid"])
                && e["by"].as_i64().unwrap_or(0) > 0
        })
        .count() as u64;
    let unended = yield_ev
        .iter()
        .filter(|b| b["kind"] == "boost")
        .filter(|b| {
            !yield_ev.iter().any(|e| {
                e["kind"] == "boost_end"
                    && e["tid"] == b["tid"]
                    && e["ts_ns"].as_u64() >= b["ts_ns"].as_u64()
            })
        })
        .count();
    v.note(format!(
        "round 1 events: {boost_ev} yield boosts, {unended} not followed by an end"
    ));
    // The reports may lack the run's last interval (the VM's cgroup, and its counters, are gone
    // before the next report); the event stream has every boost: at least as many events.
    let first = rounds.first().and_then(|&r| find(true, r));
    let counted = first.map(LockRun::boosts);
    v.check(
        format!(
            "every counted yield boost is an event naming the yielding vCPU thread (events {boost_ev}, counted {})",
            counted.as_ref().and_then(|c| c.as_ref().ok()).copied().unwrap_or(0)
        ),
        match (events, counted) {
            (Err(e), _) => Err(e.clone()),
            (_, Some(Err(e))) => Err(e),
            (_, None) => Err("no run with boosts".into()),
            (Ok(_), Some(Ok(c))) => require(boost_ev >= c, || format!("{boost_ev} < {c}")),
        },
    );
    v.check(
        format!("every yield boost ends ({unended} of {boost_ev} not followed by an end of that thread's boost)"),
        events
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|_| require(unended <= MAX_UNENDED, || format!("{unended} > {MAX_UNENDED}"))),
    );
}

/// One inversion run.
struct InvRun {
    boost: bool,
    hog_ms: u64,
    result: Result<Value, Error>,
    events: Result<Vec<Value>, Error>,
}

impl InvRun {
    fn load(a: &[String]) -> InvRun {
        InvRun {
            boost: a[0] == "boost",
            hog_ms: a[1].parse().unwrap_or(0),
            result: data::json(Path::new(&a[2])),
            events: data::events(Path::new(&a[3])),
        }
    }

    /// pi-high's wait and the rest of pi-low's hold when it blocked, ms.
    fn wait_rest(&self) -> (Option<f64>, Option<f64>) {
        let r = self.result.as_ref().ok();
        (
            r.and_then(|r| r["wait_ms"].as_f64()),
            r.and_then(|r| r["remaining_hold_ms"].as_f64()),
        )
    }
}

fn ms(x: Option<f64>) -> String {
    x.map_or("none".to_string(), |x| format!("{x}"))
}

fn inversion(v: &mut Verdicts, runs: &[InvRun]) {
    for r in runs {
        let (w, rest) = r.wait_rest();
        v.note(format!(
            "inversion {}, 2 hogs of {} ms: pi-high waited {} ms for the rest of a 20 ms hold ({} ms)",
            if r.boost { "boost" } else { "no-boost" },
            r.hog_ms,
            ms(w),
            ms(rest)
        ));
    }
    let fail = |r: &InvRun| {
        r.result
            .as_ref()
            .err()
            .cloned()
            .unwrap_or("no wait in the result".into())
    };
    // With inheritance the holder runs at the waiter's priority at once: the wait is the rest
    // of its hold, whatever the hogs do; twice the rest (the emulated CPU's speed varies) plus
    // 15 ms of emulated scheduling (wake-ups, a rescan).
    for r in runs.iter().filter(|r| r.boost) {
        let (w, rest) = r.wait_rest();
        v.check(
            format!(
                "with boosts the wait is bounded by the rest of the hold (hogs {} ms: {} ms, rest {} ms)",
                r.hog_ms,
                ms(w),
                ms(rest)
            ),
            match (w, rest) {
                (Some(w), Some(rest)) => require(w <= 2.0 * rest + 15.0, || format!("{w} > 2 x {rest} + 15")),
                _ => Err(fail(r)),
            },
        );
    }
    // Without, the holder runs only when the hogs are done: the wait covers the hogs' run,
    // less the part of it that came before the waiter blocked (at most a fifth).
    let mut without: Vec<&InvRun> = runs.iter().filter(|r| !r.boost).collect();
    without.sort_by_key(|r| r.hog_ms);
    for r in &without {
        let w = r.wait_rest().0;
        v.check(
            format!(
                "without boosts the wait covers the hogs' run ({} ms: waited {} ms)",
                r.hog_ms,
                ms(w)
            ),
            w.map_or_else(
                || Err(fail(r)),
                |w| {
                    require(w >= 0.8 * r.hog_ms as f64, || {
                        format!("{w} < 0.8 x {}", r.hog_ms)
                    })
                },
            ),
        );
    }
    // ... so it grows with them: the longer hogs add at least half of their extra length.
    if let [short, .., long] = without.as_slice() {
        let (a, b) = (short.wait_rest().0, long.wait_rest().0);
        let extra = (long.hog_ms - short.hog_ms) as f64 / 2.0;
        v.check(
            format!(
                "without boosts the wait grows with the hogs' run time ({} -> {} ms)",
                ms(a),
                ms(b)
            ),
            match (a, b) {
                (Some(a), Some(b)) => require(b >= a + extra, || format!("{b} < {a} + {extra}")),
                _ => Err("a wait is missing".into()),
            },
        );
    }

    // The events of the runs with the longest hogs.
    let longest = |boost: bool| {
        runs.iter()
            .filter(|r| r.boost == boost)
            .max_by_key(|r| r.hog_ms)
    };
    let b = longest(true);
    let tids = b
        .and_then(|r| r.result.as_ref().ok())
        .map(|r| (r["low_tid"].clone(), r["high_tid"].clone()));
    let found = |pred: &dyn Fn(&Value, &Value, &Value) -> bool| -> Result<(), Error> {
        let r = b.ok_or("no run with boosts")?;
        let ev = r.events.as_ref().map_err(Clone::clone)?;
        let (low, high) = tids.clone().ok_or_else(|| fail(r))?;
        require(ev.iter().any(|e| pred(e, &low, &high)), || {
            "no such event".into()
        })
    };
    v.check(
        "the holder's lock boost is an event naming holder and waiter",
        found(&|e, low, high| {
            e["kind"] == "boost"
                && e["cause"] == "lock"
                && e["tid"] == *low
                && e["by"] == *high
                && e["prio"] == PI_HIGH_PRIO
        }),
    );
    v.check(
        "the holder's lock boost ends when it releases the lock",
        found(&|e, low, _| {
            e["kind"] == "boost_end"
                && e["cause"] == "lock"
                && e["tid"] == *low
                && e["prio"] == PI_LOW_PRIO
        }),
    );
    v.check(
        "--no-boost: no lock boost",
        match longest(false).map(|r| &r.events) {
            Some(Ok(ev)) => {
                let n = data::of_kind(ev, "boost").count();
                require(n == 0, || format!("{n} boost events"))
            }
            Some(Err(e)) => Err(e.clone()),
            None => Err("no run without boosts".into()),
        },
    );
}

/// The detection bound: the BPF tier walks the wait-for chain in the closing lock call's own
/// path (when the waiter blocks), so the event is stamped within that call; 1 ms covers the
/// emulated syscall entry and the walk.
const DETECT_WITHIN_NS: u64 = 1_000_000;

fn deadlock(v: &mut Verdicts, result: &Result<Value, Error>, events: &Result<Vec<Value>, Error>) {
    let d = events
        .as_ref()
        .ok()
        .and_then(|ev| data::of_kind(ev, "deadlock").next().cloned());
    v.note(format!(
        "deadlock event: {}",
        d.as_ref().map_or(String::new(), Value::to_string)
    ));
    v.check(
        "the deadlock is reported",
        match (events, &d) {
            (Err(e), _) => Err(e.clone()),
            (Ok(_), None) => Err("no deadlock event".into()),
            (Ok(_), Some(_)) => Ok(()),
        },
    );
    let null = Value::Null;
    let r = result.as_ref().unwrap_or(&null);
    let d = d.unwrap_or(Value::Null);
    let cycle = |f: &str| -> String {
        d["cycle"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| match &e[f] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    v.check_eq(
        "it names both threads, dl-b first (it closed the cycle)",
        format!("{} {}", r["tid_b"], r["tid_a"]),
        cycle("tid"),
    );
    let hex = |x: &Value| x.as_u64().map_or("?".to_string(), |a| format!("{a:#x}"));
    v.check_eq(
        "it names both futex words (dl-b waits for A, dl-a for B)",
        format!("{} {}", hex(&r["addr_a"]), hex(&r["addr_b"])),
        cycle("futex"),
    );
    v.check_eq(
        "it names the threads by comm",
        "dl-b dl-a".to_string(),
        cycle("comm"),
    );
    let (t, c, x) = (
        d["ts_ns"].as_u64(),
        r["close_ns"].as_u64(),
        d["detect_ns"].as_u64(),
    );
    v.check(
        format!(
            "it is found within 1 ms of the closing lock call ({} - {} ns + detection {} ns)",
            shown(t),
            shown(c),
            shown(x)
        ),
        match (t, c, x) {
            (Some(t), Some(c), Some(x)) => require(t >= c && t - c + x < DETECT_WITHIN_NS, || {
                format!("{} ns", t as i128 - c as i128 + x as i128)
            }),
            _ => Err("a time is missing".into()),
        },
    );
    v.check_eq(
        "the kernel refuses the closing lock too (EDEADLK)",
        "\"EDEADLK\"".to_string(),
        r["b_result"].to_string(),
    );
}

/// ops/s of an axrt-locks bench --json.
fn ops_per_s(p: &Path) -> Option<f64> {
    data::json(p).ok().and_then(|r| r["ops_per_s"].as_f64())
}

fn bench(v: &mut Verdicts, round: u32, [on, watch, off]: [Option<f64>; 3]) {
    v.note(format!(
        "PI-futex bench round {round} (4 threads, ops/s): observed+boosts {}, observed only {}, \
         not observed {}; ratios to not observed {}, {}",
        shown(on),
        shown(watch),
        shown(off),
        ratio(on, off),
        ratio(watch, off)
    ));
    // The ratios are timing figures (reported); the check is that every setup ran.
    v.check(
        "the PI-futex benchmark runs in all three setups",
        require(
            [on, watch, off].iter().all(|x| x.is_some_and(|x| x > 0.0)),
            || format!("ops/s {}, {}, {}", shown(on), shown(watch), shown(off)),
        ),
    );
}

/// stress-ng --futex's bogo-ops/s (real time) from its --metrics-brief output: the metrics line
/// "stress-ng: metrc: [pid] futex OPS REAL USR SYS OPS/S ...".
fn futex_ops(p: &Path) -> Option<f64> {
    parse_futex_ops(&std::fs::read_to_string(p).ok()?)
}

fn parse_futex_ops(text: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 8 && f[3] == "futex" && f[4].starts_with(|c: char| c.is_ascii_digit()))
            .then(|| f[8].parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixtures;

    fn lock_run(boost: bool, round: u32, acq: u64, boosts: u64) -> LockRun {
        LockRun {
            boost,
            round,
            guest: Ok((acq, 900.0)),
            reports: Ok(vec![fixtures::report(LOCK_VM, |g| {
                g.boosts_received = boosts
            })]),
        }
    }

    fn boost_events(n: u64, ended: u64) -> Result<Vec<Value>, Error> {
        // Another VM's boost, which the lock VM's count must not include.
        let mut ev = vec![
            serde_json::json!({"kind": "boost", "cause": "yield", "vm": "x", "cgid": 8, "tid": 99, "by": 98, "ts_ns": 1}),
            serde_json::json!({"kind": "boost_end", "cause": "yield", "vm": "x", "cgid": 8, "tid": 99, "ts_ns": 2}),
        ];
        for i in 0..n {
            // The first events come before the loader knew the VM's name.
            let vm = if i < 3 { Value::Null } else { "lk".into() };
            ev.push(serde_json::json!({"kind": "boost", "cause": "yield", "vm": vm, "cgid": 7, "tid": 10 + i, "by": 20, "ts_ns": 100 * i}));
            if i < ended {
                ev.push(serde_json::json!({"kind": "boost_end", "cause": "yield", "vm": "lk", "tid": 10 + i, "ts_ns": 100 * i + 50}));
            }
        }
        Ok(ev)
    }

    #[test]
    fn yields_pass_with_boosts_only_where_allowed_and_every_boost_an_event() {
        let runs = [
            lock_run(true, 1, 900, 20),
            lock_run(false, 1, 700, 0),
            lock_run(true, 2, 800, 9),
            lock_run(false, 2, 750, 0),
        ];
        let mut v = Verdicts::default();
        yields(&mut v, &runs, &boost_events(20, 19));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert!(v
            .outcome("round 2: directed yields boost the lock holder (boosts 9)")
            .is_some());
    }

    #[test]
    fn yields_fail_on_boosts_without_boosting_lost_events_and_unended_boosts() {
        let runs = [lock_run(true, 1, 900, 20), lock_run(false, 1, 700, 2)];
        let mut v = Verdicts::default();
        yields(&mut v, &runs, &boost_events(12, 8));
        assert_eq!(
            v.names().1,
            [
                "round 1: --no-boost gives no boosts",
                "every counted yield boost is an event naming the yielding vCPU thread (events 12, counted 20)",
                "every yield boost ends (4 of 12 not followed by an end of that thread's boost)",
            ]
        );
    }

    fn inv(boost: bool, hog_ms: u64, wait: f64, rest: f64, events: Vec<Value>) -> InvRun {
        InvRun {
            boost,
            hog_ms,
            result: Ok(
                serde_json::json!({"wait_ms": wait, "remaining_hold_ms": rest, "low_tid": 5, "high_tid": 7}),
            ),
            events: Ok(events),
        }
    }

    #[test]
    fn inversion_checks_bound_the_wait_with_boosts_and_follow_the_hogs_without() {
        let lock_ev = vec![
            serde_json::json!({"kind": "boost", "cause": "lock", "tid": 5, "by": 7, "prio": 10}),
            serde_json::json!({"kind": "boost_end", "cause": "lock", "tid": 5, "prio": 200}),
        ];
        let runs = [
            inv(true, 200, 12.5, 9.0, lock_ev.clone()),
            inv(true, 400, 14.0, 9.5, lock_ev.clone()),
            inv(false, 200, 210.0, 9.0, vec![]),
            inv(false, 400, 415.0, 9.0, vec![]),
        ];
        let mut v = Verdicts::default();
        inversion(&mut v, &runs);
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert!(v
            .outcome("without boosts the wait grows with the hogs' run time (210 -> 415 ms)")
            .is_some());

        let runs = [
            inv(true, 400, 40.0, 9.5, vec![lock_ev[0].clone()]),
            inv(false, 200, 150.0, 9.0, vec![]),
            inv(false, 400, 240.0, 9.0, lock_ev),
        ];
        let mut v = Verdicts::default();
        inversion(&mut v, &runs);
        assert_eq!(
            v.names().1,
            [
                "with boosts the wait is bounded by the rest of the hold (hogs 400 ms: 40 ms, rest 9.5 ms)",
                "without boosts the wait covers the hogs' run (200 ms: waited 150 ms)",
                "without boosts the wait covers the hogs' run (400 ms: waited 240 ms)",
                "without boosts the wait grows with the hogs' run time (150 -> 240 ms)",
                "the holder's lock boost ends when it releases the lock",
                "--no-boost: no lock boost",
            ]
        );
    }

    #[test]
    fn a_deadlock_event_must_name_the_cycle_in_time() {
        let result = Ok(
            serde_json::json!({"tid_a": 11, "tid_b": 12, "addr_a": 4096, "addr_b": 8192,
            "close_ns": 1_000_000, "b_result": "EDEADLK"}),
        );
        let ev = |ts: u64, first: u64| {
            Ok(vec![
                serde_json::json!({"kind": "deadlock", "ts_ns": ts, "detect_ns": 20_000, "cycle": [
                {"tid": first, "comm": "dl-b", "futex": "0x1000"}, {"tid": 11, "comm": "dl-a", "futex": "0x2000"}]}),
            ])
        };
        let mut v = Verdicts::default();
        deadlock(&mut v, &result, &ev(1_300_000, 12));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        let mut v = Verdicts::default();
        deadlock(&mut v, &result, &ev(2_000_000, 11));
        assert_eq!(
            v.names().1,
            [
                "it names both threads, dl-b first (it closed the cycle)",
                "it is found within 1 ms of the closing lock call (2000000 - 1000000 ns + detection 20000 ns)",
            ]
        );
        let mut v = Verdicts::default();
        deadlock(&mut v, &result, &Ok(vec![]));
        assert_eq!(v.failed(), 5);
    }

    #[test]
    fn bench_must_run_in_every_setup_and_stress_ng_metrics_parse() {
        let mut v = Verdicts::default();
        bench(&mut v, 1, [Some(1000.0), Some(1100.0), Some(1200.0)]);
        assert_eq!(v.failed(), 0);
        let mut v = Verdicts::default();
        bench(&mut v, 2, [Some(1000.0), None, Some(1200.0)]);
        assert_eq!(v.failed(), 1);
        let out = "stress-ng: metrc: [300] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s\n\
                   stress-ng: metrc: [300]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)\n\
                   stress-ng: metrc: [300] futex            123456      2.00      0.50      1.40     61728.00        64976.84\n";
        assert_eq!(parse_futex_ops(out), Some(61728.0));
        assert_eq!(ratio(Some(1.0), Some(3.0)), "0.333");
        assert_eq!(ratio(Some(1.0), None), "0");
    }
}
