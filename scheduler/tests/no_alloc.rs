//! The hot path does not allocate: once tasks exist and the action buffer has its capacity,
//! wake, block, yield, directed yield, tick and lock wait/release on known resources make no
//! heap allocation. Checked with a counting global allocator.

mod common;

use axrt_policy::params::MS;
use axrt_policy::{Action, BlockReason, ResourceId, System};
use common::{add_woken_tasks, allocs, sys, CountingAlloc};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn cycle(s: &mut System, now: &mut u64, out: &mut Vec<Action>) {
    for round in 0..50u32 {
        *now += MS;
        let t = s.current(0).unwrap();
        s.block(*now, t, BlockReason::Io, out).unwrap();
        s.wake(*now, t, out).unwrap();
        let r = s.current(1).unwrap();
        s.yield_now(*now, r, out).unwrap();
        let (a, b) = (s.current(0).unwrap(), s.current(1).unwrap());
        s.yield_to(*now, a, b, out).unwrap();
        // A lock round trip on a resource seen before.
        let owner = s.current(0).unwrap();
        let waiter = s.current(1).unwrap();
        s.lock_acquired(*now, owner, ResourceId(round % 2), out)
            .unwrap();
        let c = s
            .lock_wait(*now, waiter, ResourceId(round % 2), owner, out)
            .unwrap();
        assert!(c.is_none());
        s.lock_release(*now, owner, ResourceId(round % 2), Some(waiter), out)
            .unwrap();
        s.lock_release(*now, waiter, ResourceId(round % 2), None, out)
            .unwrap();
        s.tick(*now + 3 * MS, out);
        out.clear();
    }
}

#[test]
fn hot_path_does_not_allocate() {
    let mut s = sys(2);
    let mut out = Vec::with_capacity(256);
    add_woken_tasks(&mut s, 64, |i| (i % 4 * 50) as u8, &mut out);
    let mut now = 0;
    cycle(&mut s, &mut now, &mut out); // warm-up: waiter lists get their capacity
    let before = allocs();
    cycle(&mut s, &mut now, &mut out);
    let after = allocs();
    assert_eq!(after - before, 0);
    // The counter does count.
    let b = std::hint::black_box(Box::new(7u64));
    assert!(allocs() > after && *b == 7);
}
