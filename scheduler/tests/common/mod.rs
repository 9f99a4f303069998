//! Helpers shared by the integration tests (`mod common;`) and the benchmarks
//! (`#[path = "../tests/common/mod.rs"] mod common;`): building systems and wait-for graphs, a
//! reference cycle check, and an allocation counter. Each user takes what it needs.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System as Heap};
use std::cell::Cell;
use std::collections::HashSet;
use std::hash::Hash;

use axrt_policy::deadlock::WaitGraph;
use axrt_policy::{Action, ResourceId, System, SystemConfig, TaskId, TaskParams};

/// A system of `cpus` CPUs with the defaults of POLICY.md.
pub fn sys(cpus: usize) -> System {
    System::new(SystemConfig::new(cpus)).unwrap()
}

/// Adds `n` tasks named "t", task `i` at priority `prio(i)`, and wakes each at time 0.
/// `out` is left empty.
pub fn add_woken_tasks(
    s: &mut System,
    n: usize,
    prio: impl Fn(usize) -> u8,
    out: &mut Vec<Action>,
) -> Vec<TaskId> {
    (0..n)
        .map(|i| {
            let t = s.add_task(TaskParams::new("t").priority(prio(i))).unwrap();
            s.wake(0, t, out).unwrap();
            out.clear();
            t
        })
        .collect()
}

/// A wait-for graph of `n` tasks in one owner chain: task `i` owns resource `i` and waits on
/// resource `i + 1`. A wait of the last task on resource 0 would close it into a cycle.
pub fn owner_chain(n: u32) -> WaitGraph {
    let mut g = WaitGraph::new();
    g.reserve_tasks(n as usize);
    g.reserve_resources(n as usize);
    for i in 0..n {
        g.set_owner(ResourceId(i), Some(TaskId(i)));
    }
    for i in 0..n - 1 {
        g.add_wait(TaskId(i), ResourceId(i + 1));
    }
    g
}

/// Reference deadlock check: follows `blocker` (the owner of what a task waits on) from `w`
/// with a visited set; `true` if the walk comes back to `w`.
pub fn closes_cycle<T: Copy + Eq + Hash>(w: T, blocker: impl Fn(T) -> Option<T>) -> bool {
    let mut seen = HashSet::new();
    let mut t = w;
    while let Some(o) = blocker(t) {
        if o == w {
            return true;
        }
        if !seen.insert(o) {
            return false;
        }
        t = o;
    }
    false
}

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts the allocations (and reallocations) made by the current
/// thread, so tests running in parallel do not disturb each other. A test binary installs it
/// with `#[global_allocator] static GLOBAL: common::CountingAlloc = common::CountingAlloc;`.
pub struct CountingAlloc;

/// Allocations made by this thread so far (see [`CountingAlloc`]).
pub fn allocs() -> u64 {
    ALLOCS.with(|a| a.get())
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        unsafe { Heap.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { Heap.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        unsafe { Heap.realloc(ptr, layout, new_size) }
    }
}
