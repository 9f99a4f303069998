// SPDX-License-Identifier: GPL-2.0-only
//
// Exact self-checks of the simulator against scheduling theory (issue 16, part 4). Each check
// computes its expectation independently of the simulator (response-time analysis, the
// utilisation and demand-bound tests, the budget rule, the fair policy's slice bound), on task
// sets drawn from a fixed-seed generator, and runs the rt-app workload text through the whole
// pipeline (parser, axrt.toml, scenario, engine, scheduler) with no overhead.

use axrt_policy::policy::nice_to_weight;
use axrt_policy::Time;
use axrt_sim::engine::{self, Options, Overhead};
use axrt_sim::metrics::RunResult;
use axrt_sim::scenario::{Scenario, MS, US};
use axrt_sim::sched;
use axrt_sim::workload::Workload;
use scx_axrt::config::Config;

const NO_OVERHEAD: Overhead = Overhead {
    decision: 0,
    switch: 0,
};

/// A small deterministic generator (64-bit LCG, high bits).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick<T: Copy>(&mut self, v: &[T]) -> T {
        v[(self.next() % v.len() as u64) as usize]
    }
}

/// A periodic task: C, T, D in microseconds, and its priority.
#[derive(Clone, Copy, Debug)]
struct Task {
    c: u64,
    t: u64,
    d: u64,
    prio: u8,
}

/// The rt-app workload and axrt.toml of `tasks`: one thread per task ("run C; timer T",
/// absolute, all released at 0), each in its own VM whose [[task]] rule carries its priority and
/// its contract (period T, deadline D).
fn files(tasks: &[Task]) -> (String, String) {
    let mut json = String::from("{ \"global\": { \"duration\": -1 }, \"tasks\": {");
    let mut toml = String::new();
    for (i, t) in tasks.iter().enumerate() {
        json.push_str(&format!(
            "{}\"t{i}\": {{ \"taskgroup\": \"/g/t{i}\", \"run\": {}, \"timer\": {{ \"ref\": \"unique\", \"period\": {}, \"mode\": \"absolute\" }} }}",
            if i > 0 { ", " } else { "" },
            t.c,
            t.t
        ));
        toml.push_str(&format!(
            "[[vm]]\nname = \"v{i}\"\ncgroup = \"g/t{i}\"\npriority = {}\n\n[[task]]\nvm = \"v{i}\"\ncomm = \"t{i}\"\npriority = {}\nperiod_us = {}\ndeadline_us = {}\n\n",
            t.prio, t.prio, t.t, t.d
        ));
    }
    json.push_str("} }");
    (json, toml)
}

fn simulate(
    json: &str,
    toml: &str,
    cpus: usize,
    sched_name: &str,
    until: Time,
) -> (Scenario, RunResult) {
    let w = Workload::parse(json, "w.json").unwrap();
    let c = Config::parse(toml, "axrt.toml", cpus).unwrap();
    let sc = Scenario::build(&w, &c, cpus, Some(until), 1.0).unwrap();
    let opt = Options {
        overhead: NO_OVERHEAD,
        abort_late: false,
        logs: false,
        events: false,
    };
    let r = engine::run(&sc, sched::build(sched_name, &sc).unwrap(), opt);
    (sc, r)
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn hyperperiod(tasks: &[Task]) -> u64 {
    tasks.iter().fold(1, |l, t| l / gcd(l, t.t) * t.t)
}

/// Response-time analysis (uniprocessor, fixed priority, synchronous release, D ≤ T): the
/// least fixed point of R = C_i + Σ_{higher j} ⌈R / T_j⌉ C_j; `None` if it exceeds T_i.
fn rta(tasks: &[Task], i: usize) -> Option<u64> {
    let me = tasks[i];
    let mut r = me.c;
    loop {
        let next = me.c
            + tasks
                .iter()
                .filter(|o| o.prio < me.prio)
                .map(|o| r.div_ceil(o.t) * o.c)
                .sum::<u64>();
        if next > me.t {
            return None;
        }
        if next == r {
            return Some(r);
        }
        r = next;
    }
}

/// A random task set on periods from `periods` (us), with utilisation at most `u_max`.
fn random_set(
    rng: &mut Rng,
    n: usize,
    periods: &[u64],
    u_max: f64,
    constrained: bool,
) -> Vec<Task> {
    let mut tasks: Vec<Task> = (0..n)
        .map(|i| {
            let t = rng.pick(periods);
            let c = (t / 10).max(1) * (1 + rng.next() % 4);
            let d = if constrained {
                c + (t - c) * (rng.next() % 101) / 100
            } else {
                t
            };
            Task {
                c,
                t,
                d: d.max(c),
                prio: (10 + i) as u8,
            }
        })
        .collect();
    let u: f64 = tasks.iter().map(|t| t.c as f64 / t.t as f64).sum();
    if u > u_max {
        for t in &mut tasks {
            t.c = ((t.c as f64 * u_max / u).floor() as u64).max(1);
            t.d = t.d.max(t.c);
        }
    }
    tasks
}

/// Worst simulated response per thread (completed jobs), us.
fn worst_responses(r: &RunResult, n: usize) -> Vec<u64> {
    let mut w = vec![0; n];
    for j in &r.jobs {
        if let Some(resp) = j.response() {
            w[j.thread] = w[j.thread].max(resp / US);
        }
    }
    w
}

#[test]
fn fixed_priority_worst_response_equals_response_time_analysis() {
    let mut rng = Rng(16);
    let periods = [2_000, 3_000, 5_000, 6_000, 10_000, 15_000];
    let mut checked = 0;
    for _ in 0..40 {
        let n = 2 + (rng.next() % 4) as usize;
        let mut tasks = random_set(&mut rng, n, &periods, 0.95, true);
        // Rate-monotonic priorities (ties by index): the shortest period is the highest.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (tasks[i].t, i));
        for (rank, &i) in order.iter().enumerate() {
            tasks[i].prio = (10 + rank) as u8;
        }
        let expected: Option<Vec<u64>> = (0..n).map(|i| rta(&tasks, i)).collect();
        let Some(expected) = expected else { continue };
        let (json, toml) = files(&tasks);
        let h = hyperperiod(&tasks);
        for s in ["axrt", "rt"] {
            let (_, r) = simulate(&json, &toml, 1, s, 2 * h * US);
            assert_eq!(
                worst_responses(&r, n),
                expected,
                "{s}: worst responses against RTA for {tasks:?}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} schedulable sets drawn");
}

#[test]
fn edf_with_utilisation_at_most_one_and_implicit_deadlines_never_misses() {
    let mut rng = Rng(1016);
    let periods = [2_000, 4_000, 5_000, 8_000, 10_000, 20_000];
    for _ in 0..30 {
        let n = 2 + (rng.next() % 5) as usize;
        let tasks = random_set(&mut rng, n, &periods, 1.0, false);
        let (json, toml) = files(&tasks);
        let h = hyperperiod(&tasks);
        let (_, r) = simulate(&json, &toml, 1, "edf", 3 * h * US);
        let misses = r.jobs.iter().filter(|j| j.missed()).count();
        assert_eq!(misses, 0, "EDF missed with U <= 1: {tasks:?}");
        assert!(r.jobs.len() >= 2 * n, "the jobs ran");
    }
    // The check can fail: over full utilisation EDF misses.
    let over = [
        Task {
            c: 1_100,
            t: 2_000,
            d: 2_000,
            prio: 10,
        },
        Task {
            c: 1_000,
            t: 2_000,
            d: 2_000,
            prio: 11,
        },
    ];
    let (json, toml) = files(&over);
    let (_, r) = simulate(&json, &toml, 1, "edf", 20 * MS);
    assert!(r.jobs.iter().any(|j| j.missed()), "U = 1.05 must miss");
}

/// The processor-demand test (synchronous, D ≤ T): for every absolute deadline L up to the
/// hyperperiod plus the largest deadline, Σ_i max(0, ⌊(L − D_i)/T_i⌋ + 1) C_i ≤ L.
fn demand_bound_ok(tasks: &[Task]) -> bool {
    let horizon = hyperperiod(tasks) + tasks.iter().map(|t| t.d).max().unwrap();
    let mut points: Vec<u64> = tasks
        .iter()
        .flat_map(|t| {
            (0..)
                .map(move |k| k * t.t + t.d)
                .take_while(move |&l| l <= horizon)
        })
        .collect();
    points.sort_unstable();
    points.dedup();
    points.iter().all(|&l| {
        let demand: u64 = tasks
            .iter()
            .filter(|t| l >= t.d)
            .map(|t| ((l - t.d) / t.t + 1) * t.c)
            .sum();
        demand <= l
    })
}

#[test]
fn edf_with_constrained_deadlines_misses_iff_the_demand_bound_test_fails() {
    let mut rng = Rng(2016);
    let periods = [2_000, 4_000, 5_000, 10_000, 20_000];
    let (mut feasible, mut infeasible) = (0, 0);
    for _ in 0..60 {
        let n = 2 + (rng.next() % 4) as usize;
        let tasks = random_set(&mut rng, n, &periods, 1.0, true);
        let ok = demand_bound_ok(&tasks);
        let (json, toml) = files(&tasks);
        let horizon = hyperperiod(&tasks) + tasks.iter().map(|t| t.d).max().unwrap();
        let (_, r) = simulate(&json, &toml, 1, "edf", horizon * US);
        let missed = r.jobs.iter().any(|j| j.missed());
        assert_eq!(
            missed, !ok,
            "demand bound {ok}, simulated miss {missed}: {tasks:?}"
        );
        if ok {
            feasible += 1;
        } else {
            infeasible += 1;
        }
    }
    assert!(
        feasible >= 5 && infeasible >= 5,
        "both outcomes drawn: {feasible} / {infeasible}"
    );
}

#[test]
fn budgets_never_exceed_quota_plus_epsilon_per_period() {
    // Three hogs of a VM with 30 ms per 100 ms on 2 CPUs, next to an unbudgeted hog.
    let json = r#"{ "global": { "duration": -1 }, "tasks": {
        "hog": { "instance": 3, "taskgroup": "/g/capped", "run": 50000 },
        "other": { "instance": 1, "taskgroup": "/g/free", "run": 50000 } } }"#;
    let toml = "[[vm]]\nname = \"capped\"\ncgroup = \"g/capped\"\nquota_us = 30000\nperiod_us = 100000\n\n[[vm]]\nname = \"free\"\ncgroup = \"g/free\"\n";
    let cpus = 2;
    let quota = 30 * MS;
    let period = 100 * MS;
    let config = Config::parse(toml, "axrt.toml", cpus).unwrap();
    let eps = config.system.epsilon_per_cpu * cpus as Time;
    for overhead in [
        NO_OVERHEAD,
        Overhead {
            decision: 5_000,
            switch: 7_000,
        },
    ] {
        // The run is causal: stopping at k periods gives the first k periods of a longer run,
        // so the consumption in window k is the difference of two prefixes.
        let used = |k: u64| -> Time {
            let w = Workload::parse(json, "w.json").unwrap();
            let sc = Scenario::build(&w, &config, cpus, Some(k * period), 1.0).unwrap();
            let opt = Options {
                overhead,
                abort_late: false,
                logs: false,
                events: false,
            };
            let r = engine::run(&sc, sched::build("axrt", &sc).unwrap(), opt);
            (0..3).map(|i| r.threads[i].cpu_ns).sum()
        };
        let mut prev = 0;
        for k in 1..=20 {
            let now = used(k);
            let window = now - prev;
            prev = now;
            assert!(
                window <= quota + eps,
                "window {k}: {window} ns > Q + eps = {}",
                quota + eps
            );
            assert!(
                window + eps >= quota,
                "window {k}: {window} ns: the hogs must use the budget"
            );
        }
    }
    // The same check fails without the budget.
    let free = toml.replace("quota_us = 30000\nperiod_us = 100000\n", "");
    let (_, r) = simulate(json, &free, cpus, "axrt", period);
    let used: Time = (0..3).map(|i| r.threads[i].cpu_ns).sum();
    assert!(used > quota + eps, "without a budget the VM gets {used} ns");
}

#[test]
fn fair_shares_stay_within_the_slice_bound() {
    // Hogs of different nice values on one CPU under the fair policy for 10 s.
    let nices = [0i8, 0, 5, -5, 10];
    let mut json = String::from("{ \"global\": { \"duration\": 10 }, \"tasks\": {");
    for (i, n) in nices.iter().enumerate() {
        json.push_str(&format!(
            "{}\"h{i}\": {{ \"priority\": {n}, \"run\": 100000 }}",
            if i > 0 { ", " } else { "" }
        ));
    }
    json.push_str("} }");
    let (_, r) = simulate(&json, "", 1, "fair", 10_000 * MS);
    let weights: Vec<f64> = nices
        .iter()
        .map(|&n| f64::from(nice_to_weight(n)))
        .collect();
    let total: f64 = weights.iter().sum();
    // The policy gives weight w a slice of max(3 ms, 24 ms x w / W) and ticks every 1 ms; the
    // virtual runtimes of runnable tasks then stay within max_j (slice_j + tick) / w_j of each
    // other (in CPU time per unit weight), which bounds each task's service against its ideal.
    let tick = 1e6;
    let spread = weights
        .iter()
        .map(|w| ((24e6 * w / total).max(3e6) + tick) / w)
        .fold(0.0, f64::max);
    let cpu: f64 = r.threads.iter().map(|t| t.cpu_ns as f64).sum();
    for (i, t) in r.threads.iter().enumerate() {
        let ideal = cpu * weights[i] / total;
        let bound = spread * weights[i];
        let dev = (t.cpu_ns as f64 - ideal).abs();
        assert!(
            dev <= bound,
            "h{i} (nice {}): {} ns vs ideal {ideal:.0}, bound {bound:.0}",
            nices[i],
            t.cpu_ns
        );
    }
    // The bound is tight enough to tell: round robin ignores the weights and breaks it.
    let (_, rr) = simulate(&json, "", 1, "rr", 10_000 * MS);
    let cpu: f64 = rr.threads.iter().map(|t| t.cpu_ns as f64).sum();
    let broken = rr
        .threads
        .iter()
        .enumerate()
        .any(|(i, t)| (t.cpu_ns as f64 - cpu * weights[i] / total).abs() > spread * weights[i]);
    assert!(broken, "round robin must fail the weighted bound");
}

#[test]
fn runs_are_deterministic() {
    let json = r#"{ "global": { "duration": 1 }, "tasks": {
        "p": { "instance": 3, "run": 3000, "timer": { "ref": "unique", "period": 10000 } },
        "h": { "instance": 2, "run": 20000, "sleep": 1000, "yield": "" },
        "l": { "instance": 2, "lock": "m", "run": 500, "unlock": "m", "sleep": 700 } } }"#;
    for s in sched::SCHEDULERS {
        let a = simulate(json, "", 2, s, 1_000 * MS).1;
        let b = simulate(json, "", 2, s, 1_000 * MS).1;
        assert_eq!(a.jobs, b.jobs, "{s}");
        let cpu = |r: &RunResult| {
            r.threads
                .iter()
                .map(|t| (t.cpu_ns, t.switches))
                .collect::<Vec<_>>()
        };
        assert_eq!(cpu(&a), cpu(&b), "{s}");
        assert!(a.sched_calls > 100, "{s}: the workload ran");
    }
}
