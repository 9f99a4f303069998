//! The hot path does not allocate: once tasks exist and the action buffer has its capacity,
//! wake, block, yield, directed yield, tick and lock wait/release on known resources make no
//! heap allocation. Checked with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System as Heap};
use std::sync::atomic::{AtomicUsize, Ordering};

use axrt_policy::params::MS;
use axrt_policy::{Action, BlockReason, ResourceId, System, SystemConfig, TaskParams};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { Heap.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { Heap.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { Heap.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
    let mut s = System::new(SystemConfig::new(2)).unwrap();
    let mut out = Vec::with_capacity(256);
    for i in 0..64u8 {
        let t = s
            .add_task(TaskParams::new("t").priority(i % 4 * 50))
            .unwrap();
        s.wake(0, t, &mut out).unwrap();
        out.clear();
    }
    let mut now = 0;
    cycle(&mut s, &mut now, &mut out); // warm-up: waiter lists get their capacity
    let before = ALLOCS.load(Ordering::Relaxed);
    cycle(&mut s, &mut now, &mut out);
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0);
    // The counter does count.
    let b = std::hint::black_box(Box::new(7u64));
    assert!(ALLOCS.load(Ordering::Relaxed) > after && *b == 7);
}
