//! Deadlock detection over 1,000 blocked tasks: one long owner chain, with and without the
//! edge that closes it into a cycle (target: well under 1 ms).

#[path = "../tests/common/mod.rs"]
mod common;

use axrt_policy::deadlock::WaitGraph;
use axrt_policy::{ResourceId, TaskId};
use criterion::{black_box, criterion_group, criterion_main, Criterion};

/// The 1,000-task owner chain; with `close`, the last task also waits on resource 0, owned by
/// the first.
fn chain(n: u32, close: bool) -> WaitGraph {
    let mut g = common::owner_chain(n);
    if close {
        g.add_wait(TaskId(n - 1), ResourceId(0));
    }
    g
}

fn bench(c: &mut Criterion) {
    let mut open = chain(1000, false);
    c.bench_function("deadlock/chain1000_no_cycle", |b| {
        b.iter(|| black_box(open.find_cycle(black_box(TaskId(0)))))
    });
    let mut closed = chain(1000, true);
    c.bench_function("deadlock/chain1000_cycle", |b| {
        b.iter(|| black_box(closed.find_cycle(black_box(TaskId(999)))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
