//! Priority inheritance rules. A task's effective priority is
//! `e(t) = min(base(t), yield boost(t), e(w) for every w waiting on a resource t owns)`.
//! Changes are pushed along the chain of owners ([`crate::deadlock::WaitGraph::blocker`]) at
//! most [`MAX_DEPTH`] steps, stopping early where nothing changes. Boosts never lower a
//! priority: the result is never worse than the base.

use crate::deadlock::WaitGraph;
use crate::types::{Prio, TaskId};

/// How far a change propagates along an owner chain.
pub const MAX_DEPTH: usize = 16;

/// The effective priority of `t`, given its base, its directed-yield boost and the current
/// effective priorities of the tasks waiting on its resources.
pub fn effective(
    graph: &WaitGraph,
    t: TaskId,
    base: Prio,
    yield_boost: Option<Prio>,
    eff: impl Fn(TaskId) -> Prio,
) -> Prio {
    let inherited = graph
        .owned(t)
        .iter()
        .flat_map(|&r| graph.waiters(r).iter())
        .map(|&w| eff(w))
        .min();
    [Some(base), yield_boost, inherited]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::ResourceId;

    #[test]
    fn min_of_base_yield_and_waiters() {
        let mut g = WaitGraph::new();
        g.set_owner(ResourceId(0), Some(TaskId(0)));
        g.set_owner(ResourceId(1), Some(TaskId(0)));
        g.add_wait(TaskId(1), ResourceId(0));
        g.add_wait(TaskId(2), ResourceId(1));
        let eff = |t: TaskId| [100, 50, 70][t.index()];
        assert_eq!(effective(&g, TaskId(0), 100, None, eff), 50);
        assert_eq!(effective(&g, TaskId(0), 30, None, eff), 30);
        assert_eq!(effective(&g, TaskId(0), 100, Some(10), eff), 10);
        // Waiters worse than the base never lower it.
        let worse = |_| 200;
        assert_eq!(effective(&g, TaskId(0), 100, None, worse), 100);
        assert_eq!(effective(&g, TaskId(1), 120, None, eff), 120);
    }
}
