//! Deadlock detection against a reference: random wait-for graphs are built, and after every
//! wait the cycle search of `WaitGraph` is compared with a plain visited-set walk written here.
//! Also: a 1,000-task chain is checked quickly, and a reported cycle is always a real one.

mod common;

use std::collections::HashSet;
use std::time::Instant;

use axrt_policy::deadlock::WaitGraph;
use axrt_policy::{ResourceId, TaskId};
use common::owner_chain;
use proptest::prelude::*;

const TASKS: u32 = 10;
const RES: u32 = 8;

#[derive(Clone, Debug)]
enum Op {
    Own(u32, Option<u32>),
    Wait(u32, u32),
    Stop(u32),
    Remove(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..RES, proptest::option::of(0..TASKS)).prop_map(|(r, t)| Op::Own(r, t)),
        3 => (0..TASKS, 0..RES).prop_map(|(t, r)| Op::Wait(t, r)),
        1 => (0..TASKS).prop_map(Op::Stop),
        1 => (0..TASKS).prop_map(Op::Remove),
    ]
}

/// The reference model: plain maps.
#[derive(Default)]
struct Model {
    waits: [Option<u32>; TASKS as usize],
    owner: [Option<u32>; RES as usize],
}

impl Model {
    /// Follows owners from `w`; true if it comes back to `w`.
    fn closes_cycle(&self, w: u32) -> bool {
        common::closes_cycle(w, |t| {
            self.waits[t as usize].and_then(|r| self.owner[r as usize])
        })
    }
}

proptest! {
    #[test]
    fn cycle_search_matches_reference(ops in proptest::collection::vec(op(), 1..80)) {
        let mut g = WaitGraph::new();
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Own(r, t) => {
                    g.set_owner(ResourceId(r), t.map(TaskId));
                    m.owner[r as usize] = t;
                }
                Op::Stop(t) => {
                    g.clear_wait(TaskId(t));
                    m.waits[t as usize] = None;
                }
                Op::Remove(t) => {
                    g.remove_task(TaskId(t));
                    m.waits[t as usize] = None;
                    for o in m.owner.iter_mut().filter(|o| **o == Some(t)) {
                        *o = None;
                    }
                }
                Op::Wait(t, r) => {
                    g.add_wait(TaskId(t), ResourceId(r));
                    m.waits[t as usize] = Some(r);
                    let found = g.find_cycle(TaskId(t));
                    prop_assert_eq!(found.is_some(), m.closes_cycle(t));
                    if let Some(c) = found {
                        // The report is a real cycle through `t`, each edge in the model.
                        prop_assert_eq!(c.tasks[0], TaskId(t));
                        prop_assert_eq!(c.tasks.len(), c.resources.len());
                        let n = c.tasks.len();
                        let distinct: HashSet<_> = c.tasks.iter().collect();
                        prop_assert_eq!(distinct.len(), n);
                        for i in 0..n {
                            let (ti, ri) = (c.tasks[i].0, c.resources[i].0);
                            prop_assert_eq!(m.waits[ti as usize], Some(ri));
                            prop_assert_eq!(m.owner[ri as usize], Some(c.tasks[(i + 1) % n].0));
                        }
                    }
                }
            }
            // The graph's own view agrees with the model.
            for t in 0..TASKS {
                prop_assert_eq!(g.waiting_on(TaskId(t)), m.waits[t as usize].map(ResourceId));
            }
            for r in 0..RES {
                prop_assert_eq!(g.owner(ResourceId(r)), m.owner[r as usize].map(TaskId));
                let mut want: Vec<u32> =
                    (0..TASKS).filter(|&t| m.waits[t as usize] == Some(r)).collect();
                let mut got: Vec<u32> = g.waiters(ResourceId(r)).iter().map(|t| t.0).collect();
                want.sort();
                got.sort();
                prop_assert_eq!(got, want);
            }
        }
    }
}

#[test]
fn thousand_task_chain_without_and_with_cycle() {
    let mut g = owner_chain(1000);
    assert_eq!(g.find_cycle(TaskId(0)), None);
    g.add_wait(TaskId(999), ResourceId(0));
    let start = Instant::now();
    let c = g.find_cycle(TaskId(999)).expect("cycle");
    let took = start.elapsed();
    assert_eq!(c.tasks.len(), 1000);
    assert_eq!(c.tasks[1], TaskId(0));
    // The target is 1 ms; allow for unoptimised test builds on a loaded machine.
    assert!(took.as_millis() < 50, "took {took:?}");
    // Entering the existing cycle from outside terminates and reports nothing new.
    g.set_owner(ResourceId(1000), Some(TaskId(5)));
    g.add_wait(TaskId(1000), ResourceId(5));
    assert_eq!(g.find_cycle(TaskId(1000)), None);
}
