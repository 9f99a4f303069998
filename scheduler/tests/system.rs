//! Scenario tests of the AxRT system through its event API: placement and preemption across
//! CPUs, round robin, state transitions, the starvation reserve, budgets (throttle and
//! background), directed yield, lock inheritance, jobs and reservation windows.

mod common;

use axrt_policy::params::MS;
use axrt_policy::state::StateKind;
use axrt_policy::{
    Action, BlockReason, CpuSet, Error, GroupId, GroupParams, Overrun, ResourceId, System, TaskId,
    TaskParams, TaskState, Time,
};
use common::sys;

fn task(s: &mut System, name: &str, prio: u8) -> TaskId {
    s.add_task(TaskParams::new(name).priority(prio)).unwrap()
}

fn runs(out: &[Action]) -> Vec<(usize, TaskId)> {
    out.iter()
        .filter_map(|a| match *a {
            Action::Run { cpu, task, .. } => Some((cpu, task)),
            _ => None,
        })
        .collect()
}

/// Calls `tick` at every armed timer up to `until`, then at `until`.
fn run_until(s: &mut System, until: Time, out: &mut Vec<Action>) {
    while let Some(at) = s.next_timer().filter(|&at| at <= until) {
        s.tick(at, out);
    }
    s.tick(until, out);
}

#[test]
fn better_task_preempts_on_one_cpu() {
    let mut s = sys(1);
    let lo = task(&mut s, "lo", 200);
    let hi = task(&mut s, "hi", 10);
    let mut out = Vec::new();
    s.wake(0, lo, &mut out).unwrap();
    assert_eq!(runs(&out), [(0, lo)]);
    out.clear();
    s.wake(100, hi, &mut out).unwrap();
    assert_eq!(runs(&out), [(0, hi)]);
    assert_eq!(s.state(lo), Some(TaskState::Ready));
    assert_eq!(s.task_stats(lo).unwrap().counters.preemptions, 1);
    // A worse waker does not preempt.
    let mid = task(&mut s, "mid", 100);
    out.clear();
    s.wake(200, mid, &mut out).unwrap();
    assert!(runs(&out).is_empty());
    // When hi blocks, the best waiting task (mid) runs, not the older lo.
    out.clear();
    s.block(300, hi, BlockReason::Sleep, &mut out).unwrap();
    assert_eq!(runs(&out), [(0, mid)]);
    assert_eq!(s.task_stats(hi).unwrap().counters.runtime, 200);
}

#[test]
fn wake_uses_idle_allowed_cpu_then_worst_running() {
    let mut s = sys(3);
    let mut out = Vec::new();
    let a = task(&mut s, "a", 50);
    let b = task(&mut s, "b", 150);
    let c = task(&mut s, "c", 100);
    for t in [a, b, c] {
        s.wake(0, t, &mut out).unwrap();
    }
    assert_eq!(runs(&out), [(0, a), (1, b), (2, c)]);
    // A better waker allowed on CPUs 0 and 2 preempts the worse of the two (c on 2), not b.
    let d = s
        .add_task(
            TaskParams::new("d")
                .priority(60)
                .affinity([0, 2].into_iter().collect()),
        )
        .unwrap();
    out.clear();
    s.wake(10, d, &mut out).unwrap();
    // c is displaced and itself preempts b (worse than c) on CPU 1: a migration.
    assert_eq!(s.current(2), Some(d));
    assert_eq!(s.current(1), Some(c));
    assert_eq!(s.state(b), Some(TaskState::Ready));
    assert_eq!(s.task_stats(c).unwrap().counters.migrations, 1);
    assert_eq!(s.task_stats(b).unwrap().counters.preemptions, 1);
}

#[test]
fn woken_task_returns_to_its_previous_idle_cpu() {
    let mut s = sys(4);
    let mut out = Vec::new();
    let a = s
        .add_task(TaskParams::new("a").affinity(CpuSet::single(3)))
        .unwrap();
    s.wake(0, a, &mut out).unwrap();
    s.block(5, a, BlockReason::Io, &mut out).unwrap();
    s.set_affinity(6, a, CpuSet::all(4), &mut out).unwrap();
    s.wake(7, a, &mut out).unwrap();
    assert_eq!(s.current(3), Some(a));
    assert_eq!(s.task_stats(a).unwrap().counters.migrations, 0);
}

#[test]
fn round_robin_within_a_level() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let ts: Vec<_> = (0..3)
        .map(|i| {
            s.add_task(TaskParams::new(&format!("t{i}")).priority(7).slice(MS))
                .unwrap()
        })
        .collect();
    for &t in &ts {
        s.wake(0, t, &mut out).unwrap();
    }
    let mut order = vec![s.current(0).unwrap()];
    for k in 1..=5 {
        s.tick(k * MS, &mut out);
        order.push(s.current(0).unwrap());
    }
    assert_eq!(order, [ts[0], ts[1], ts[2], ts[0], ts[1], ts[2]]);
}

#[test]
fn state_transitions_are_counted_and_misuse_is_refused() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let t = task(&mut s, "t", 1);
    assert_eq!(s.state(t), Some(TaskState::Blocked(BlockReason::New)));
    assert!(matches!(
        s.yield_now(0, t, &mut out),
        Err(Error::InvalidState {
            state: StateKind::Blocked,
            ..
        })
    ));
    assert!(matches!(
        s.block(0, t, BlockReason::Sleep, &mut out),
        Err(Error::InvalidState { .. })
    ));
    s.wake(1, t, &mut out).unwrap();
    s.suspend(2, t, &mut out).unwrap();
    assert!(s.suspend(2, t, &mut out).is_err());
    s.resume(3, t, &mut out).unwrap();
    s.exit(4, t, &mut out).unwrap();
    assert!(matches!(
        s.wake(5, t, &mut out),
        Err(Error::InvalidState {
            state: StateKind::Exited,
            ..
        })
    ));
    assert_eq!(
        s.wake(5, TaskId(99), &mut out),
        Err(Error::UnknownTask(TaskId(99)))
    );
    let tr = s.transitions();
    assert_eq!(tr.get(StateKind::Blocked, StateKind::Ready), 1);
    assert_eq!(tr.get(StateKind::Ready, StateKind::Running), 2);
    assert_eq!(tr.get(StateKind::Running, StateKind::Suspended), 1);
    assert_eq!(tr.get(StateKind::Suspended, StateKind::Ready), 1);
    assert_eq!(tr.get(StateKind::Running, StateKind::Exited), 1);
    assert_eq!(tr.total(), 6);
    assert_eq!(s.current(0), None);
}

#[test]
fn starvation_reserve_grants_one_slice_after_one_second() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let hog = task(&mut s, "hog", 0);
    let low = s
        .add_task(TaskParams::new("low").priority(255).slice(2 * MS))
        .unwrap();
    s.wake(0, hog, &mut out).unwrap();
    s.wake(0, low, &mut out).unwrap();
    run_until(&mut s, 999 * MS, &mut out);
    assert_eq!(s.reserve_grants(), 0);
    assert_eq!(s.current(0), Some(hog));
    out.clear();
    run_until(&mut s, 1000 * MS, &mut out);
    assert_eq!(s.current(0), Some(low));
    assert!(s.cpu(0).unwrap().reserve);
    assert!(out.contains(&Action::ReserveGrant { cpu: 0, task: low }));
    assert_eq!(s.task_stats(low).unwrap().counters.reserve_grants, 1);
    // The grant is not preempted by a better waker, and lasts one slice.
    let other = task(&mut s, "other", 0);
    s.wake(1000 * MS + 1, other, &mut out).unwrap();
    assert_eq!(s.current(0), Some(low));
    run_until(&mut s, 1002 * MS, &mut out);
    assert_ne!(s.current(0), Some(low));
    assert_eq!(s.task_stats(low).unwrap().counters.runtime, 2 * MS);
    assert_eq!(s.reserve_grants(), 1);
}

fn vm(s: &mut System, name: &str, prio: u8, q: Time, p: Time, mode: Overrun) -> GroupId {
    s.add_group(0, GroupParams::new(name, prio).budget(q, p).overrun(mode))
        .unwrap()
}

#[test]
fn budget_throttles_at_once_and_replenishes_at_boundary() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let g = vm(&mut s, "rt", 10, 2 * MS, 10 * MS, Overrun::Throttle);
    let v = s.add_task(TaskParams::new("vcpu").group(g)).unwrap();
    let h = task(&mut s, "host", 200);
    s.wake(0, v, &mut out).unwrap();
    s.wake(0, h, &mut out).unwrap();
    // The slice is capped at the budget left.
    assert!(out.contains(&Action::Run {
        cpu: 0,
        task: v,
        slice_end: 2 * MS
    }));
    assert_eq!(s.next_timer(), Some(2 * MS));
    out.clear();
    run_until(&mut s, 2 * MS, &mut out);
    assert_eq!(s.state(v), Some(TaskState::Throttled));
    assert_eq!(s.current(0), Some(h));
    assert!(out.contains(&Action::Throttled { group: g }));
    // Waking or priority do not help a throttled group.
    run_until(&mut s, 9 * MS, &mut out);
    assert_eq!(s.current(0), Some(h));
    run_until(&mut s, 10 * MS, &mut out);
    assert_eq!(s.current(0), Some(v));
    let st = s.group_stats(g).unwrap();
    assert_eq!((st.replenishments, st.group_throttles), (1, 1));
    assert_eq!(s.task_stats(v).unwrap().counters.runtime, 2 * MS);
    assert_eq!(s.task_stats(v).unwrap().counters.throttles, 1);
    assert_eq!(s.group(g).unwrap().remaining, 2 * MS);
}

#[test]
fn unused_budget_does_not_carry_over() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let g = vm(&mut s, "rt", 10, 2 * MS, 10 * MS, Overrun::Throttle);
    let v = s.add_task(TaskParams::new("vcpu").group(g)).unwrap();
    s.wake(0, v, &mut out).unwrap();
    s.block(MS, v, BlockReason::Sleep, &mut out).unwrap();
    run_until(&mut s, 10 * MS, &mut out);
    assert_eq!(s.group(g).unwrap().remaining, 2 * MS);
    // Deferrable: budget left late in the period is still usable.
    s.wake(17 * MS, v, &mut out).unwrap();
    assert_eq!(s.current(0), Some(v));
}

#[test]
fn multi_cpu_group_budget_is_shared_and_exact() {
    let mut s = sys(2);
    let mut out = Vec::new();
    let g = vm(&mut s, "vm", 10, 3 * MS, 10 * MS, Overrun::Throttle);
    let a = s.add_task(TaskParams::new("a").group(g)).unwrap();
    let b = s.add_task(TaskParams::new("b").group(g)).unwrap();
    s.wake(0, a, &mut out).unwrap();
    s.wake(0, b, &mut out).unwrap();
    // Two CPUs consume 3 ms of budget in 1.5 ms.
    assert_eq!(s.next_timer(), Some(1_500_000));
    run_until(&mut s, 1_500_000, &mut out);
    assert_eq!(s.state(a), Some(TaskState::Throttled));
    assert_eq!(s.state(b), Some(TaskState::Throttled));
    let total =
        s.task_stats(a).unwrap().counters.runtime + s.task_stats(b).unwrap().counters.runtime;
    assert_eq!(total, 3 * MS);
}

#[test]
fn background_group_runs_only_on_otherwise_idle_cpu() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let g = vm(&mut s, "bg", 10, 2 * MS, 10 * MS, Overrun::Background);
    let v = s.add_task(TaskParams::new("v").group(g)).unwrap();
    let h = task(&mut s, "host", 250);
    s.wake(0, v, &mut out).unwrap();
    run_until(&mut s, 2 * MS, &mut out);
    // Budget gone, nothing else to run: it keeps running, demoted.
    assert_eq!(s.current(0), Some(v));
    assert_eq!(s.state(v), Some(TaskState::Running(0)));
    assert_eq!(s.rank(v), Some(256 + 10));
    // Any normal task beats it, whatever the priorities.
    s.wake(3 * MS, h, &mut out).unwrap();
    assert_eq!(s.current(0), Some(h));
    s.block(4 * MS, h, BlockReason::Sleep, &mut out).unwrap();
    assert_eq!(s.current(0), Some(v));
    run_until(&mut s, 10 * MS, &mut out);
    assert_eq!(s.rank(v), Some(10));
}

#[test]
fn directed_yield_boosts_until_target_stops_running() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let spinner = task(&mut s, "spinner", 20);
    let holder = task(&mut s, "holder", 120);
    s.wake(0, holder, &mut out).unwrap();
    s.wake(1, spinner, &mut out).unwrap();
    assert_eq!(s.current(0), Some(spinner));
    s.yield_to(2, spinner, holder, &mut out).unwrap();
    assert_eq!(s.current(0), Some(holder));
    assert_eq!(s.effective_prio(holder), Some(20));
    assert_eq!(s.task_stats(holder).unwrap().counters.boosts_received, 1);
    assert_eq!(s.task_stats(spinner).unwrap().counters.boosts_given, 1);
    // The boost ends when the holder stops running.
    s.block(3, holder, BlockReason::Sleep, &mut out).unwrap();
    assert_eq!(s.effective_prio(holder), Some(120));
    assert_eq!(s.current(0), Some(spinner));
}

#[test]
fn lock_inheritance_is_transitive_and_undone_on_release() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let (r1, r2) = (ResourceId(1), ResourceId(2));
    let low = task(&mut s, "low", 200);
    let mid = task(&mut s, "mid", 100);
    let hi = task(&mut s, "hi", 5);
    s.wake(0, low, &mut out).unwrap();
    s.lock_acquired(1, low, r1, &mut out).unwrap();
    s.wake(2, mid, &mut out).unwrap();
    s.lock_acquired(3, mid, r2, &mut out).unwrap();
    assert_eq!(s.lock_wait(4, mid, r1, low, &mut out), Ok(None));
    assert_eq!(s.effective_prio(low), Some(100));
    s.wake(5, hi, &mut out).unwrap();
    assert_eq!(s.lock_wait(6, hi, r2, mid, &mut out), Ok(None));
    assert_eq!(s.effective_prio(mid), Some(5));
    assert_eq!(s.effective_prio(low), Some(5));
    assert_eq!(s.current(0), Some(low));
    // low hands r1 to mid: low falls back to its base, mid keeps hi's boost.
    s.lock_release(7, low, r1, Some(mid), &mut out).unwrap();
    assert_eq!(s.effective_prio(low), Some(200));
    assert_eq!(s.effective_prio(mid), Some(5));
    assert_eq!(s.current(0), Some(mid));
    s.lock_release(8, mid, r2, Some(hi), &mut out).unwrap();
    assert_eq!(s.effective_prio(mid), Some(100));
    assert_eq!(s.current(0), Some(hi));
}

#[test]
fn inheritance_stops_at_depth_16() {
    let mut s = sys(1);
    let mut out = Vec::new();
    // t[i] owns r[i] and waits on r[i+1] owned by t[i+1].
    let ts: Vec<_> = (0..20)
        .map(|i| task(&mut s, &format!("t{i}"), 200))
        .collect();
    for (i, &t) in ts.iter().enumerate() {
        s.wake(0, t, &mut out).unwrap();
        s.lock_acquired(0, t, ResourceId(i as u32), &mut out)
            .unwrap();
    }
    for i in (1..19).rev() {
        s.lock_wait(1, ts[i], ResourceId(i as u32 + 1), ts[i + 1], &mut out)
            .unwrap();
    }
    let w = task(&mut s, "w", 3);
    s.wake(2, w, &mut out).unwrap();
    s.lock_wait(3, w, ResourceId(1), ts[1], &mut out).unwrap();
    for (i, &t) in ts.iter().enumerate().skip(1) {
        let want = if i <= 16 { 3 } else { 200 };
        assert_eq!(s.effective_prio(t), Some(want), "t{i}");
    }
}

#[test]
fn deadlock_is_reported_by_lock_wait() {
    let mut s = sys(2);
    let mut out = Vec::new();
    let a = task(&mut s, "a", 10);
    let b = task(&mut s, "b", 20);
    s.wake(0, a, &mut out).unwrap();
    s.wake(0, b, &mut out).unwrap();
    s.lock_acquired(0, a, ResourceId(0), &mut out).unwrap();
    s.lock_acquired(0, b, ResourceId(1), &mut out).unwrap();
    assert_eq!(s.lock_wait(1, a, ResourceId(1), b, &mut out), Ok(None));
    out.clear();
    let c = s
        .lock_wait(2, b, ResourceId(0), a, &mut out)
        .unwrap()
        .unwrap();
    assert_eq!(c.tasks, [b, a]);
    assert_eq!(c.resources, [ResourceId(0), ResourceId(1)]);
    assert!(out.contains(&Action::Deadlock { waiter: b }));
}

#[test]
fn jobs_release_at_wake_and_misses_are_counted() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let hog = task(&mut s, "hog", 0);
    let rt = s
        .add_task(TaskParams::new("rt").priority(50).contract(MS, MS, 300_000))
        .unwrap();
    s.wake(0, rt, &mut out).unwrap();
    s.block(200_000, rt, BlockReason::Sleep, &mut out).unwrap();
    // Second job: delayed by the hog, completes late and overruns its WCET.
    s.wake(MS, hog, &mut out).unwrap();
    s.wake(MS, rt, &mut out).unwrap();
    s.block(MS + 900_000, hog, BlockReason::Sleep, &mut out)
        .unwrap();
    out.clear();
    s.block(MS + 1_300_000, rt, BlockReason::Sleep, &mut out)
        .unwrap();
    let j = s.jobs(rt).unwrap();
    assert_eq!((j.completed, j.misses, j.wcet_overruns), (2, 1, 1));
    assert_eq!(j.worst_lateness, Some(300_000));
    assert!(out.contains(&Action::DeadlineMiss {
        task: rt,
        lateness: 300_000
    }));
    let c = s.task_stats(rt).unwrap().counters;
    assert_eq!(c.misses, 1);
    // Wakeup latencies: 0 for the first job, 900 us for the second.
    assert_eq!(c.wakeup_latency.count(), 2);
    assert_eq!(c.wakeup_latency.max(), 900_000);
    assert_eq!(c.wait, 900_000);
}

#[test]
fn supply_miss_when_a_better_group_takes_the_cpu() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let a = vm(&mut s, "a", 100, 4 * MS, 10 * MS, Overrun::Throttle);
    let b = vm(&mut s, "b", 10, 5 * MS, 10 * MS, Overrun::Throttle);
    let ta = s.add_task(TaskParams::new("ta").group(a)).unwrap();
    let tb = s.add_task(TaskParams::new("tb").group(b)).unwrap();
    s.wake(0, ta, &mut out).unwrap();
    s.wake(0, tb, &mut out).unwrap();
    // b (better) runs 5 ms, then a runs 4 ms: both reservations honoured.
    run_until(&mut s, 10 * MS, &mut out);
    assert_eq!(s.group_stats(a).unwrap().supply_misses, 0);
    assert_eq!(s.group_stats(b).unwrap().supply_misses, 0);
    assert_eq!(s.group_stats(a).unwrap().windows, 1);
    // Now a host task at priority 0 hogs the CPU for a whole window: both groups miss.
    let hog = task(&mut s, "hog", 0);
    s.wake(10 * MS, hog, &mut out).unwrap();
    out.clear();
    run_until(&mut s, 20 * MS, &mut out);
    assert_eq!(s.group_stats(a).unwrap().supply_misses, 1);
    assert_eq!(s.group_stats(a).unwrap().worst_shortfall, 4 * MS);
    assert!(out.contains(&Action::SupplyMiss {
        group: a,
        shortfall: 4 * MS
    }));
    // No demand, no miss.
    s.block(20 * MS, ta, BlockReason::Sleep, &mut out).unwrap();
    s.block(20 * MS, tb, BlockReason::Sleep, &mut out).unwrap();
    run_until(&mut s, 30 * MS, &mut out);
    assert_eq!(s.group_stats(a).unwrap().supply_misses, 1);
}

#[test]
fn reservation_deadline_judges_supply_early_in_the_window() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let mut p = GroupParams::new("dl", 100).budget(3 * MS, 10 * MS);
    p.deadline = Some(5 * MS);
    let g = s.add_group(0, p).unwrap();
    let v = s.add_task(TaskParams::new("v").group(g)).unwrap();
    let hog = task(&mut s, "hog", 0);
    s.wake(0, v, &mut out).unwrap();
    s.wake(0, hog, &mut out).unwrap();
    // The hog runs until 6 ms; v then gets its full 3 ms before the window ends, but had
    // nothing by the 5 ms reservation deadline.
    run_until(&mut s, 6 * MS, &mut out);
    s.block(6 * MS, hog, BlockReason::Sleep, &mut out).unwrap();
    run_until(&mut s, 9 * MS, &mut out);
    assert_eq!(s.task_stats(v).unwrap().counters.runtime, 3 * MS);
    assert_eq!(s.group(g).unwrap().window.at_deadline, Some((5 * MS, 0)));
    run_until(&mut s, 10 * MS, &mut out);
    let st = s.group_stats(g).unwrap();
    assert_eq!(
        (st.windows, st.supply_misses, st.worst_shortfall),
        (1, 1, 3 * MS)
    );
    // Next window: served at once, no miss.
    run_until(&mut s, 20 * MS, &mut out);
    assert_eq!(s.group_stats(g).unwrap().supply_misses, 1);
    assert_eq!(s.group_stats(g).unwrap().windows, 2);
}

#[test]
fn host_group_has_no_windows() {
    let mut s = sys(1);
    let mut out = Vec::new();
    let t = task(&mut s, "t", 1);
    s.wake(0, t, &mut out).unwrap();
    run_until(&mut s, 100 * MS, &mut out);
    let h = s.group(GroupId::HOST).unwrap();
    assert_eq!((h.window.demand, h.stats.windows), (0, 0));
    assert_eq!(h.stats.counters.runtime, 100 * MS);
}
