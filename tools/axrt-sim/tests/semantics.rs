// SPDX-License-Identifier: GPL-2.0-only
//
// rt-app's event semantics in the simulator, each on a small workload whose timeline is worked
// out by hand in the comments (no overhead, so the times are exact): `run` is CPU work and
// `runtime` wall time; relative and absolute timers after a late job; a resume nobody waits for
// is lost; a mutex is handed to its waiter on unlock.

use axrt_sim::engine::{self, Options, Overhead};
use axrt_sim::metrics::RunResult;
use axrt_sim::scenario::{Scenario, MS};
use axrt_sim::sched;
use axrt_sim::workload::Workload;
use scx_axrt::config::Config;

fn run(json: &str, cpus: usize, sched_name: &str, ms: u64) -> RunResult {
    let w = Workload::parse(json, "w.json").unwrap();
    let sc = Scenario::build(&w, &Config::host_only(cpus), cpus, Some(ms * MS), 1.0).unwrap();
    let opt = Options {
        overhead: Overhead {
            decision: 0,
            switch: 0,
        },
        abort_late: false,
        logs: true,
        events: false,
    };
    engine::run(&sc, sched::build(sched_name, &sc).unwrap(), opt)
}

/// End times (us) of a thread's log rows.
fn ends(r: &RunResult, t: usize) -> Vec<u64> {
    r.threads[t].rows.iter().map(|row| row.end).collect()
}

#[test]
fn run_is_cpu_work_and_runtime_is_wall_time() {
    // One CPU, round robin with 5 ms slices; thread 0 starts first, the hog takes turns.
    // "run 10 ms": 0-5 ms, hog 5-10, 10-15: its run event lasts 15 ms of wall time.
    // "runtime 10 ms": 0-5, hog 5-10, and at 10 ms the wall time is up: it ends as it runs.
    for (event, wall) in [("run", 15_000), ("runtime", 10_000)] {
        let json = format!(
            r#"{{ "tasks": {{ "t": {{ "{event}": 10000, "sleep": 100000 }}, "hog": {{ "run": 100000 }} }} }}"#
        );
        let r = run(&json, 1, "rr", 300);
        assert_eq!(r.threads[0].rows[0].run, wall, "{event}");
    }
}

#[test]
fn relative_and_absolute_timers_differ_after_a_late_job() {
    // Phase p0 works 15 ms against a 10 ms timer (late: the expiry at 10 ms has passed), then
    // p1 works 1 ms per period three times. Absolute: the grid stays 10, 20, 30, 40 ms, so p1's
    // iterations end at 20, 30, 40. Relative: the late timer restarts at 15 ms, so 25, 35, 45.
    for (mode, expected) in [
        ("absolute", vec![15_000, 20_000, 30_000, 40_000]),
        ("relative", vec![15_000, 25_000, 35_000, 45_000]),
    ] {
        let json = format!(
            r#"{{ "tasks": {{ "t": {{ "loop": 1, "phases": {{
                "p0": {{ "run": 15000, "timer": {{ "ref": "tm", "period": 10000, "mode": "{mode}" }} }},
                "p1": {{ "loop": 3, "run": 1000, "timer": {{ "ref": "tm", "period": 10000, "mode": "{mode}" }} }}
            }} }} }} }}"#
        );
        let r = run(&json, 1, "fifo", 100);
        assert_eq!(ends(&r, 0), expected, "{mode}");
        assert!(r.threads[0].rows[0].slack < 0, "p0 reached its timer late");
    }
}

#[test]
fn a_resume_nobody_waits_for_is_lost() {
    // Two CPUs. "a" works 2 ms and suspends; "b" works 1 ms, resumes "a" (at 1 ms: "a" is not
    // suspended yet, the wake-up is lost), sleeps 10 ms, works 1 ms and resumes it again at
    // 12 ms. So "a" works its last 1 ms from 12 ms: its first iteration ends at 13 ms.
    let json = r#"{ "tasks": {
        "a": { "run0": 2000, "suspend": "a", "run1": 1000 },
        "b": { "run0": 1000, "resume": "a", "sleep": 10000, "run1": 1000, "resume1": "a",
               "sleep1": 100000 } } }"#;
    let r = run(json, 2, "fifo", 50);
    assert_eq!(ends(&r, 0)[0], 13_000);
}

#[test]
fn unlock_hands_the_mutex_to_the_waiter() {
    // Two CPUs. "a" holds "m" for 3 ms; "b" starts 1 ms later, waits for "m", gets it at 3 ms
    // and holds it 2 ms: its iteration (from 1 ms) ends at 5 ms, after 4 ms.
    let json = r#"{ "tasks": {
        "a": { "lock": "m", "run": 3000, "unlock": "m", "sleep": 100000 },
        "b": { "delay": 1000, "lock": "m", "run": 2000, "unlock": "m" } } }"#;
    for s in sched::SCHEDULERS {
        let r = run(json, 2, s, 50);
        assert_eq!(r.threads[1].rows[0].end, 5_000, "{s}");
        assert_eq!(r.threads[1].rows[0].period, 4_000, "{s}");
    }
}
