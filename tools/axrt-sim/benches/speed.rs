// SPDX-License-Identifier: GPL-2.0-only
//
// Speed of the simulator: simulated events (scheduler calls: wake, block, yield, tick) per second
// of host time, on generated workloads of N periodic threads on M CPUs at 80 % load (each thread
// does 0.8 x M x 10 ms / N of work every 10 ms, the timers offset across the period), 1 s of
// virtual time per run, under the AxRT system and under round robin (one pluggable policy per
// CPU). Criterion reports the throughput in events ("elements") per second; 1,000 threads on
// 4 CPUs is the reference point, and the groups show how it grows with threads and CPUs.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

use axrt_sim::engine::{self, Options, Overhead};
use axrt_sim::scenario::{Scenario, MS};
use axrt_sim::sched;
use axrt_sim::workload::Workload;
use scx_axrt::config::Config;

/// A workload of `n` periodic threads on `cpus` CPUs at 80 % load.
fn scenario(n: usize, cpus: usize) -> Scenario {
    let run_us = (8_000 * cpus / n).max(1);
    let mut json = String::from("{ \"global\": { \"duration\": 1 }, \"tasks\": {");
    // Ten task objects, each with n / 10 instances and its own timer offset.
    for k in 0..10 {
        json.push_str(&format!(
            "{}\"p{k}\": {{ \"instance\": {}, \"delay\": {}, \"run\": {run_us}, \"timer\": {{ \"ref\": \"unique\", \"period\": 10000 }} }}",
            if k > 0 { ", " } else { "" },
            n / 10,
            k * 1000
        ));
    }
    json.push_str("} }");
    let w = Workload::parse(&json, "bench.json").unwrap();
    Scenario::build(&w, &Config::host_only(cpus), cpus, Some(1_000 * MS), 1.0).unwrap()
}

const OPT: Options = Options {
    overhead: Overhead {
        decision: 2_000,
        switch: 3_000,
    },
    abort_late: false,
    logs: false,
    events: false,
};

fn bench(c: &mut Criterion, group: &str, cases: &[(usize, usize)]) {
    let mut g = c.benchmark_group(group);
    g.sample_size(10);
    for &(n, cpus) in cases {
        let sc = scenario(n, cpus);
        for name in ["axrt", "rr"] {
            let events = engine::run(&sc, sched::build(name, &sc).unwrap(), OPT).sched_calls;
            g.throughput(Throughput::Elements(events));
            g.bench_with_input(
                BenchmarkId::new(name, format!("{n} threads, {cpus} CPUs")),
                &sc,
                |b, sc| b.iter(|| engine::run(sc, sched::build(name, sc).unwrap(), OPT)),
            );
        }
    }
    g.finish();
}

fn by_threads(c: &mut Criterion) {
    bench(c, "threads", &[(100, 4), (1_000, 4), (10_000, 4)]);
}

fn by_cpus(c: &mut Criterion) {
    bench(c, "cpus", &[(1_000, 1), (1_000, 16), (1_000, 64)]);
}

criterion_group!(benches, by_threads, by_cpus);
criterion_main!(benches);
