// SPDX-License-Identifier: GPL-2.0-only
//
// deadlines.rs - tests/vm/deadlines.sh's checks (issue 6, 1 and 5). Jobs: a periodic micro-VM
// whose "CPU 0/KVM" has a generous contract (deadline 10 ms, WCET 6 ms for 3 ms jobs) and whose
// "CPU 1/KVM" has an impossible one (deadline 2 ms, WCET 1 ms); the scheduler's job, miss and
// overrun counts are read from its --stats reports and compared with the guest's own count.
// Supply: a budgeted VM (20 ms per 100 ms, priority 200) starved by a priority-10 hog, then
// alone, over two stretches of reports the script marks. Events: the --events stream.

//! Job deadlines, WCET overruns, supply misses and the event stream.

use std::path::PathBuf;

use axrt_vmload::report::RunReport;
use scx_axrt::stats::Report;
use serde_json::Value;

use crate::data::{self, Error};
use crate::verdict::{require, Verdicts};

/// The periodic VM and the budgeted VM (tests/vm/deadlines.sh's configuration).
const RT_VM: &str = "rt";
const BUDGETED_VM: &str = "budgeted";
/// The two contracts' deadlines, ns: a miss event's response minus its lateness is one of them.
const DEADLINES_NS: [u64; 2] = [10_000_000, 2_000_000];
/// The event kinds the run must produce: budgets run out and refill, both contracts are
/// broken by vCPU 1, the starved VM misses supply.
const KINDS: [&str; 5] = [
    "throttle",
    "replenish",
    "miss",
    "wcet_overrun",
    "supply_miss",
];
/// A stretch of 4 s holds 40 budget periods (100 ms): fewer than half closed would mean the
/// windows are not counted, whatever the ratios say.
const MIN_WINDOWS: u64 = 20;

/// Arguments of `axrt-check deadlines`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// scx_axrt's log (--stats 0.2 --json)
    #[arg(long)]
    stats: PathBuf,
    /// axrt-vmload's --json report of the periodic VM's run
    #[arg(long)]
    vmload: PathBuf,
    /// The starved stretch: the log's report counts at its start and end
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
    starved: Vec<usize>,
    /// The alone stretch: the log's report counts at its start and end
    #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
    alone: Vec<usize>,
    /// scx_axrt's --events file
    #[arg(long)]
    events: PathBuf,
}

/// Runs the checks.
pub fn run(a: &Args) -> Verdicts {
    let mut v = Verdicts::default();
    let all = data::all_reports(&a.stats);
    let intervals = all
        .as_ref()
        .map(|r| data::intervals(r).cloned().collect::<Vec<_>>())
        .map_err(Clone::clone);
    let stretch = |marks: &[usize]| -> Result<Vec<Report>, Error> {
        let (&[from, to], Ok(all)) = (marks, &all) else {
            return Err(all.as_ref().err().cloned().unwrap_or("no stretch".into()));
        };
        let part = all
            .get(from..to)
            .ok_or(format!("reports {from}..{to} are not in the log"))?;
        Ok(data::intervals(part).cloned().collect())
    };
    let misses = jobs(&mut v, &data::vmload(&a.vmload), &intervals);
    supply(&mut v, &stretch(&a.starved), &stretch(&a.alone));
    events(&mut v, &data::events(&a.events), misses);
    v
}

/// A count as the check names show it.
fn shown(x: &Result<u64, Error>) -> String {
    x.as_ref().map_or("none".to_string(), u64::to_string)
}

/// The jobs checks; returns the misses the scheduler counted (for the events' check).
fn jobs(
    v: &mut Verdicts,
    guest: &Result<RunReport, Error>,
    reports: &Result<Vec<Report>, Error>,
) -> Result<u64, Error> {
    // Per vCPU: the guest's jobs, and the scheduler's jobs, misses, WCET overruns. A repeated
    // run has new threads, so the statistics are matched by the thread's name.
    let counts: Vec<[Result<u64, Error>; 4]> = (0..2u32)
        .map(|i| {
            let g = guest.as_ref().map_err(Clone::clone).and_then(|r| {
                data::vcpu(r, RT_VM, i)
                    .map(|c| c.jobs)
                    .ok_or(format!("no vCPU {RT_VM}/{i} in the report"))
            });
            let name = format!("{RT_VM}/CPU {i}/KVM");
            let sum = |f: fn(&scx_axrt::stats::TaskReport) -> u64| {
                reports
                    .as_ref()
                    .map(|r| data::task_sum(r, &name, f))
                    .map_err(Clone::clone)
            };
            [
                g,
                sum(|t| t.jobs),
                sum(|t| t.misses),
                sum(|t| t.wcet_overruns),
            ]
        })
        .collect();
    for (i, [g, j, m, o]) in counts.iter().enumerate() {
        let contract = if i == 0 {
            "D 10 ms, C 6 ms"
        } else {
            "D 2 ms, C 1 ms"
        };
        v.note(format!(
            "vCPU {i} ({contract}): guest jobs {}, scheduler jobs {}, misses {}, WCET overruns {}",
            shown(g),
            shown(j),
            shown(m),
            shown(o)
        ));
    }
    // The thread gets its contract within a rescan (0.1 s) of appearing and the last report may
    // lack a fraction of a second: within 10% (+1) of the guest's count. Wake-ups that are not
    // jobs (a vCPU blocking twice in a period) would show as more jobs than the guest's.
    for (i, [g, j, ..]) in counts.iter().enumerate() {
        v.check(
            format!(
                "the scheduler counts vCPU {i}'s jobs within 10% of the guest's (guest {}, scheduler {})",
                shown(g),
                shown(j)
            ),
            match (g, j) {
                (Ok(g), Ok(j)) => require(j.abs_diff(*g) <= g / 10 + 1, || {
                    format!("{j} is more than {} from {g}", g / 10 + 1)
                }),
                (Err(e), _) | (_, Err(e)) => Err(e.clone()),
            },
        );
    }
    // Ratios of a thread's jobs: `at_least` says which side of `frac` the count must be on.
    let ratio =
        |n: &Result<u64, Error>, j: &Result<u64, Error>, frac: f64, at_least: bool| match (n, j) {
            (Ok(n), Ok(j)) => require(
                *j > 0
                    && if at_least {
                        *n as f64 >= frac * *j as f64
                    } else {
                        *n as f64 <= frac * *j as f64
                    },
                || format!("{n} of {j} jobs"),
            ),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
    let [_, j0, m0, o0] = &counts[0];
    let [_, j1, m1, o1] = &counts[1];
    // vCPU 1's 3 ms jobs can meet neither a 2 ms deadline nor a 1 ms WCET: every job misses and
    // overruns; 10% for the jobs cut by the contract's start and the run's end.
    v.check(
        format!(
            "vCPU 1's impossible contract: >= 90% of its jobs miss (got {} of {})",
            shown(m1),
            shown(j1)
        ),
        ratio(m1, j1, 0.9, true),
    );
    v.check(
        format!(
            "vCPU 1's impossible contract: >= 90% of its jobs overrun the WCET (got {} of {})",
            shown(o1),
            shown(j1)
        ),
        ratio(o1, j1, 0.9, true),
    );
    // vCPU 0's 3 ms jobs alone on a CPU meet 10 ms and 6 ms; 5% for jobs an emulation stall
    // stretched past them.
    v.check(
        format!(
            "vCPU 0's generous contract: <= 5% of its jobs miss (got {} of {})",
            shown(m0),
            shown(j0)
        ),
        ratio(m0, j0, 0.05, false),
    );
    v.check(
        format!(
            "vCPU 0's generous contract: <= 5% overrun the WCET (got {} of {})",
            shown(o0),
            shown(j0)
        ),
        ratio(o0, j0, 0.05, false),
    );
    match (m0, m1) {
        (Ok(a), Ok(b)) => Ok(a + b),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
    }
}

/// The supply checks over the two stretches.
fn supply(
    v: &mut Verdicts,
    starved: &Result<Vec<Report>, Error>,
    alone: &Result<Vec<Report>, Error>,
) {
    let sum = |r: &Result<Vec<Report>, Error>, f: fn(&scx_axrt::stats::GroupReport) -> u64| {
        r.as_ref()
            .map(|r| data::group_sum(r, BUDGETED_VM, f))
            .map_err(Clone::clone)
    };
    let (sw, sm) = (
        sum(starved, |g| g.windows),
        sum(starved, |g| g.supply_misses),
    );
    let (aw, am, at) = (
        sum(alone, |g| g.windows),
        sum(alone, |g| g.supply_misses),
        sum(alone, |g| g.throttles),
    );
    v.note(format!(
        "supply: starved by a priority-10 hog: {} supply misses in {} windows; alone: {} in {} windows ({} throttles)",
        shown(&sm),
        shown(&sw),
        shown(&am),
        shown(&aw),
        shown(&at)
    ));
    // `n` against `frac` of the windows `w`, at least or at most.
    let of_windows =
        |n: &Result<u64, Error>, w: &Result<u64, Error>, frac: f64, at_least: bool| match (n, w) {
            (Ok(n), Ok(w)) => require(
                *w >= MIN_WINDOWS
                    && if at_least {
                        *n as f64 >= frac * *w as f64
                    } else {
                        *n as f64 <= frac * *w as f64
                    },
                || format!("{n} of {w} windows (at least {MIN_WINDOWS} windows wanted)"),
            ),
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        };
    // Behind a better priority on its only CPU the VM gets (almost) nothing: nearly every
    // window supplies less than it was owed; 20% for windows where the hog let the CPU go.
    v.check(
        format!(
            "a budgeted VM starved by better priorities misses supply in >= 80% of its windows ({} of {})",
            shown(&sm),
            shown(&sw)
        ),
        of_windows(&sm, &sw, 0.8, true),
    );
    // Alone, two hogs exhaust the budget in every window; 20% for windows a stall cut short.
    v.check(
        format!(
            "the same VM alone is throttled at its budget ({} throttles in {} windows)",
            shown(&at),
            shown(&aw)
        ),
        of_windows(&at, &aw, 0.8, true),
    );
    // ... and each window supplies its quota; 10% for windows an emulation stall cut short.
    v.check(
        format!(
            "alone, it is supplied what it is owed in >= 90% of its windows ({} misses of {})",
            shown(&am),
            shown(&aw)
        ),
        of_windows(&am, &aw, 0.1, false),
    );
}

/// The event stream's checks; `counted` is the misses the statistics counted.
fn events(v: &mut Verdicts, ev: &Result<Vec<Value>, Error>, counted: Result<u64, Error>) {
    v.check(
        "the event stream is JSON lines",
        ev.as_ref().map(|_| ()).map_err(Clone::clone),
    );
    let empty = Vec::new();
    let list = ev.as_ref().unwrap_or(&empty);
    let mut kinds: Vec<(String, usize)> = Vec::new();
    for e in list {
        let k = e["kind"].as_str().unwrap_or("?").to_string();
        match kinds.iter_mut().find(|(n, _)| *n == k) {
            Some((_, c)) => *c += 1,
            None => kinds.push((k, 1)),
        }
    }
    kinds.sort();
    v.note(format!(
        "events: {}",
        kinds
            .iter()
            .map(|(k, c)| format!("{c} {k}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for k in KINDS {
        v.check(
            format!("the event stream has {k} events"),
            require(data::of_kind(list, k).next().is_some(), || {
                format!("no {k} event")
            }),
        );
    }
    // A miss event carries the thread's response and its lateness past the deadline: response
    // minus lateness is one of the contracts' deadlines, and a miss is late by more than 0.
    let bad = data::of_kind(list, "miss")
        .filter(|e| {
            let (l, r) = (
                e["lateness_ns"].as_u64().unwrap_or(0),
                e["response_ns"].as_u64().unwrap_or(0),
            );
            l == 0 || !DEADLINES_NS.contains(&r.wrapping_sub(l))
        })
        .count();
    v.check_eq(
        "every miss event has lateness = response - deadline > 0",
        0,
        bad,
    );
    let rt_misses = data::of_kind(list, "miss")
        .filter(|e| e["vm"] == RT_VM)
        .count() as u64;
    // Every counted miss is an event (the stream is lossless at this rate); the statistics'
    // last interval may be missing, so events may be more.
    v.check(
        format!(
            "miss events of the rt VM match the counted misses (events {rt_misses}, counted {})",
            shown(&counted)
        ),
        counted.and_then(|c| require(rt_misses >= c, || format!("{rt_misses} < {c}"))),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixtures;

    fn stats(jobs: [u64; 2], misses: [u64; 2], over: [u64; 2]) -> Result<Vec<Report>, Error> {
        Ok((0..2)
            .map(|i| fixtures::task_report(&format!("rt/CPU {i}/KVM"), jobs[i], misses[i], over[i]))
            .collect())
    }

    fn guest(jobs: [u64; 2]) -> Result<RunReport, Error> {
        Ok(fixtures::vmload(
            5.0,
            vec![(
                "rt",
                (0..2)
                    .map(|i| fixtures::vcpu("rt", i, jobs[i as usize], 0, 0, 30.0))
                    .collect(),
            )],
        ))
    }

    #[test]
    fn counts_that_match_the_contracts_pass() {
        let mut v = Verdicts::default();
        let m = jobs(
            &mut v,
            &guest([500, 500]),
            &stats([494, 497], [3, 480], [1, 497]),
        );
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        assert_eq!(m, Ok(483));
    }

    #[test]
    fn uncounted_jobs_and_a_broken_contract_fail() {
        let mut v = Verdicts::default();
        let _ = jobs(
            &mut v,
            &guest([500, 500]),
            &stats([440, 497], [30, 400], [1, 497]),
        );
        assert_eq!(
            v.names().1,
            [
                "the scheduler counts vCPU 0's jobs within 10% of the guest's (guest 500, scheduler 440)",
                "vCPU 1's impossible contract: >= 90% of its jobs miss (got 400 of 497)",
                "vCPU 0's generous contract: <= 5% of its jobs miss (got 30 of 440)",
            ]
        );
        let mut v = Verdicts::default();
        let _ = jobs(
            &mut v,
            &Err("no report".into()),
            &stats([0, 0], [0, 0], [0, 0]),
        );
        // No jobs at all fails the ratios too (0 of 0 is no evidence).
        assert_eq!(v.failed(), 6);
    }

    fn windows(w: u64, misses: u64, throttles: u64) -> Result<Vec<Report>, Error> {
        Ok(vec![fixtures::report(BUDGETED_VM, |g| {
            g.windows = w;
            g.supply_misses = misses;
            g.throttles = throttles;
        })])
    }

    #[test]
    fn supply_checks_want_enough_windows() {
        let mut v = Verdicts::default();
        supply(&mut v, &windows(40, 39, 0), &windows(40, 2, 39));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        let mut v = Verdicts::default();
        supply(&mut v, &windows(10, 10, 0), &windows(40, 8, 20));
        assert_eq!(v.failed(), 3);
    }

    #[test]
    fn events_need_every_kind_sound_misses_and_one_per_counted_miss() {
        let text = [
            r#"{"kind":"throttle","vm":"budgeted"}"#,
            r#"{"kind":"replenish","vm":"budgeted"}"#,
            r#"{"kind":"wcet_overrun","vm":"rt"}"#,
            r#"{"kind":"supply_miss","vm":"budgeted"}"#,
            r#"{"kind":"miss","vm":"rt","lateness_ns":1000000,"response_ns":3000000}"#,
            r#"{"kind":"miss","vm":"rt","lateness_ns":500,"response_ns":10000500}"#,
        ]
        .join("\n");
        let ev = data::parse_events(&text, "ev");
        let mut v = Verdicts::default();
        events(&mut v, &ev, Ok(2));
        assert_eq!(v.failed(), 0, "{:?}", v.lines);
        let mut v = Verdicts::default();
        events(&mut v, &ev, Ok(3));
        assert_eq!(
            v.names().1,
            ["miss events of the rt VM match the counted misses (events 2, counted 3)"]
        );
        let bad = data::parse_events(
            r#"{"kind":"miss","vm":"rt","lateness_ns":7,"response_ns":3000000}"#,
            "ev",
        );
        let mut v = Verdicts::default();
        events(&mut v, &bad, Ok(1));
        assert_eq!(
            v.outcome("every miss event has lateness = response - deadline > 0"),
            Some(Err("expected '0', got '1'".into()))
        );
    }

    #[test]
    fn stretches_are_report_positions_in_the_log() {
        let dir = std::env::temp_dir().join(format!("axrt-check-dl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("scx.log");
        let r: Vec<Report> = (0..6)
            .map(|i| fixtures::report(BUDGETED_VM, |g| g.windows = 1 << i))
            .collect();
        std::fs::write(&log, fixtures::log(&r)).unwrap();
        let a = Args {
            stats: log,
            vmload: dir.join("none.json"),
            starved: vec![1, 3],
            alone: vec![3, 9],
            events: dir.join("none.jsonl"),
        };
        let v = run(&a);
        let notes: Vec<String> = v
            .lines
            .iter()
            .map(|l| l.text("d"))
            .filter(|t| t.contains("supply:"))
            .collect();
        assert_eq!(
            notes,
            ["d: supply: starved by a priority-10 hog: 0 supply misses in 6 windows; alone: none in none windows (none throttles)"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
