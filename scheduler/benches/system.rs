//! One wake → pick → slice-end cycle through the full event API of `System`, with 10, 1,000
//! and 100,000 tasks (4 CPUs, most tasks queued). The cost should not grow with the number of
//! tasks.

#[path = "../tests/common/mod.rs"]
mod common;

use axrt_policy::{Action, BlockReason, System, SystemConfig};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

const CPUS: usize = 4;
const SLICE: u64 = 1_000_000;

fn bench(c: &mut Criterion) {
    // With the default 1 s reserve, 100,000 tasks round-robin on 4 CPUs wait longer than the
    // reserve, so that case also pays for starvation-reserve grants; "no_grants" moves the
    // reserve out of reach to show the bare cycle.
    for (name, reserve) in [
        ("default_reserve", 1_000_000_000),
        ("no_grants", u64::MAX / 4),
    ] {
        cycle(c, name, reserve);
    }
}

fn cycle(c: &mut Criterion, name: &str, reserve: u64) {
    let mut group = c.benchmark_group(format!("system/wake_pick_slice_end/{name}"));
    for n in [10usize, 1_000, 100_000] {
        let mut cfg = SystemConfig::new(CPUS);
        cfg.slice = SLICE;
        cfg.reserve = reserve;
        let mut s = System::new(cfg).unwrap();
        let mut out: Vec<Action> = Vec::with_capacity(64);
        common::add_woken_tasks(&mut s, n, |i| (i % 8) as u8 * 16, &mut out);
        let mut now = 0u64;
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| {
                now += SLICE;
                // The task on CPU 0 blocks (the CPU picks again), wakes (is placed), and
                // every CPU's slice ends (round robin).
                let t = s.current(0).unwrap();
                s.block(now - 1, t, BlockReason::Sleep, &mut out).unwrap();
                s.wake(now - 1, t, &mut out).unwrap();
                s.tick(now, &mut out);
                black_box(out.len());
                out.clear();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
