//! pick+put cycle cost with 10, 1,000 and 100,000 queued tasks, in one run:
//!
//! * `axrt-rt` — the AxRT single-queue policy ([`RtPolicy`]) through the [`Policy`] trait, tasks
//!   named by id (how the simulator and the AxRT system use it);
//! * `axrt-adapter` — the same policy behind `axsched::BaseScheduler` with `Arc` tasks
//!   ([`AxrtScheduler`], only with `--features axsched`): the like-for-like comparison with
//!   axsched, whose schedulers also move `Arc`s;
//! * `axsched-fifo`, `axsched-rr`, `axsched-cfs` — axsched 0.3's `FifoScheduler`,
//!   `RRScheduler` and `CFScheduler`.
//!
//! One iteration = pick the next task and put it back (a yield), the round-robin steady state.
//! All AxRT tasks share one priority level, so every variant cycles through all `n` tasks.

use std::hint::black_box;
use std::sync::Arc;

use axrt_policy::policies::RtPolicy;
use axrt_policy::policy::{Policy, PolicyParams};
use axrt_policy::types::TaskId;
use axsched::BaseScheduler;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

const SIZES: [usize; 3] = [10, 1_000, 100_000];

/// Times pick+put on `sched` after adding `n` tasks made by `task(i)`, under `name`/`n`.
fn bench_axsched<S: BaseScheduler>(
    c: &mut Criterion,
    group: &str,
    name: &str,
    n: usize,
    mut sched: S,
    task: impl Fn(usize) -> S::SchedItem,
) {
    for i in 0..n {
        sched.add_task(task(i));
    }
    let mut g = c.benchmark_group(group);
    g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
        b.iter(|| {
            let t = sched.pick_next_task().unwrap();
            sched.put_prev_task(black_box(t), false);
        })
    });
    g.finish();
}

fn pick_put(c: &mut Criterion) {
    for n in SIZES {
        let group = "pick_put";

        let mut rt = RtPolicy::default();
        rt.reserve(n);
        for i in 0..n {
            let p = PolicyParams::new().with_prio(128);
            rt.enqueue(0, TaskId(i as u32), &p);
        }
        let mut g = c.benchmark_group(group);
        let mut now = 0u64;
        g.bench_with_input(BenchmarkId::new("axrt-rt", n), &n, |b, _| {
            b.iter(|| {
                let t = rt.pick_next(now).unwrap();
                now += 1_000;
                rt.put_prev(now, black_box(t), 1_000, false);
            })
        });
        g.finish();

        #[cfg(feature = "axsched")]
        {
            use axrt_policy::axsched_adapter::{AxrtScheduler, AxrtTask};
            bench_axsched(
                c,
                group,
                "axrt-adapter",
                n,
                AxrtScheduler::<usize, 5>::new(),
                |i| Arc::new(AxrtTask::new(i)),
            );
        }

        let fifo = axsched::FifoScheduler::new();
        bench_axsched(c, group, "axsched-fifo", n, fifo, |i| {
            Arc::new(axsched::FifoTask::new(i))
        });
        let rr = axsched::RRScheduler::<usize, 5>::new();
        bench_axsched(c, group, "axsched-rr", n, rr, |i| {
            Arc::new(axsched::RRTask::new(i))
        });
        let cfs = axsched::CFScheduler::new();
        bench_axsched(c, group, "axsched-cfs", n, cfs, |i| {
            Arc::new(axsched::CFSTask::new(i))
        });
    }
}

criterion_group!(benches, pick_put);
criterion_main!(benches);
