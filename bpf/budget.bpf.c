// SPDX-License-Identifier: GPL-2.0-only
/*
 * budget.bpf.c - CPU budgets per VM (docs/POLICY.md, "Budgets"): charging,
 * enforcement, throttling and parking, and the two timers of each group.
 *
 * Charging. Every ns a task runs is charged to its group, per CPU: each CPU
 * remembers since when it has not charged what it runs (cpu_since[]), and
 * charges at every tick and when the task stops (budget_charge()). The
 * budget of a group is the quota minus what it was charged this period.
 *
 * Enforcement. A budgeted task's slice is capped at its group's budget left,
 * shared among the group's tasks running right now (budget_running()). An
 * exhaustion timer per group fires when the live budget (the budget minus
 * what the group's CPUs used since their last charge) reaches zero if its
 * running tasks keep running; it is re-timed whenever one of them starts.
 * At zero the group is throttled: its CPUs are kicked, and its tasks are
 * parked (DSQ AXRT_DSQ_PARK + slot) as they come to be queued, or, in
 * background mode, demoted to AXRT_DSQ_BG, which a CPU takes only when it
 * would otherwise idle (that time is not charged).
 *
 * Lead. A throttle lands only when the CPUs have switched away (timer
 * latency, a kick, a context switch), and the group runs on meanwhile.
 * Each period that ended throttled shows by how much the throttle missed
 * zero; lead_ns moves a quarter of the way to cancel it, so the group is
 * throttled that much earlier: about a millisecond under emulation
 * (measured), tens of microseconds expected on hardware; a single late
 * landing moves it little (learn_lead()).
 *
 * Period boundary (the group's period timer). The budget is refilled to the
 * quota, nothing carried over; what running tasks used before the boundary
 * but were not charged for yet belongs to the old period. The reservation
 * window is closed (deadline.bpf.c), parked tasks are moved back to their
 * queues, and the lead is learnt. A removed cgroup's slot is freed here.
 */
#include "axrt.bpf.h"

/* group_uncharged(): room for a count of CPUs next to a sum of ns. */
#define UNCHARGED_UNIT	(2 * MAX_CPUS)

s32 nr_throttled;

/* Per group slot: the timer for the moment its budget runs out (one timer per map value). */
struct exhaust_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct exhaust_timer);
	__uint(max_entries, AXRT_MAX_GROUPS);
} exhaust_timers SEC(".maps");

/* Arms @g's period timer if it has a budget and no timer is pending. */
__hidden void arm_group_timer(struct group *g)
{
	u64 now;

	if (!g->info.quota_ns || !g->info.period_ns)
		return;
	if (__sync_val_compare_and_swap(&g->timer_armed, 0, 1) != 0)
		return;
	now = bpf_ktime_get_ns();
	g->info.period_start_ns = now;
	g->info.budget_ns = g->info.quota_ns;
	g->next_boundary = now + g->info.period_ns;
	bpf_timer_start(&g->timer, g->next_boundary, TIMER_ABS);
}

/* Kicks every CPU running a task of group @slot so it stops at once. */
static void kick_group_cpus(u32 slot)
{
	u32 cpu, n = nr_cpus();

	bpf_for(cpu, 0, n) {
		if (cpu_slot[CPU_IDX(cpu)] == slot)
			scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	}
}

/* Marks @g throttled (once) and stops its running tasks. */
static void throttle(struct group *g, u32 slot)
{
	struct axrt_group_stats *st;

	if (__sync_val_compare_and_swap(&g->info.throttled, 0, 1) != 0)
		return;
	__sync_fetch_and_add(&nr_throttled, 1);
	st = gstats(slot);
	if (st)
		st->throttles++;
	emit(AXRT_EV_THROTTLE, g->info.cgid, 0, g->info.prio,
	     g->info.budget_ns < 0 ? -g->info.budget_ns : 0);
	kick_group_cpus(slot);
}

/*
 * Charges what @cpu ran since its last charge to the group of what it
 * runs, and throttles the group if that used up its budget.
 */
__hidden void budget_charge(u32 cpu, u64 now)
{
	struct axrt_group_stats *st;
	struct group *g;
	u64 since = cpu_since[CPU_IDX(cpu)], delta;
	u32 slot = cpu_slot[CPU_IDX(cpu)];
	s64 left;

	if (!since || now <= since)
		return;
	cpu_since[CPU_IDX(cpu)] = now;
	delta = now - since;
	st = gstats(slot);
	if (st)
		st->runtime_ns += delta;
	g = group_at(slot);
	/* A background run uses time nobody wanted: not charged to the budget. */
	if (!g || !g->info.quota_ns || cpu_prio[CPU_IDX(cpu)] == PRIO_BACKGROUND)
		return;
	left = __sync_sub_and_fetch(&g->info.budget_ns, (s64)delta);
	if (left <= g->lead_ns && !g->info.throttled)
		throttle(g, slot);
}

/*
 * What the CPUs running group @slot's tasks used since they last charged
 * it, in ns times UNCHARGED_UNIT plus their number. Reads other CPUs' entries
 * without synchronisation: an estimate, exact while nothing starts or stops.
 * A global function, so the verifier walks its loop once, not per caller.
 */
__noinline u64 group_uncharged(u32 slot, u64 now)
{
	u64 used = 0, since;
	u32 cpu, c, k = 0;

	bpf_for(cpu, 0, nr_cpus()) {
		c = CPU_IDX(cpu);
		if (cpu_slot[c] != slot)
			continue;
		since = cpu_since[c];
		if (since && now > since)
			used += now - since;
		k++;
	}
	return used * UNCHARGED_UNIT + k;
}

/*
 * @g's budget minus what its running tasks used since they were last
 * charged: the budget left right now. Counts those tasks in *@nr.
 */
static __always_inline s64 live_budget(struct group *g, u32 slot, u64 now, u32 *nr)
{
	u64 un = group_uncharged(slot, now);

	*nr = un % UNCHARGED_UNIT;
	return g->info.budget_ns - (s64)(un / UNCHARGED_UNIT);
}

/*
 * Budget enforcement between charges: throttles @g if its live budget is
 * (nearly) down to lead_ns, else arms its exhaustion timer for when it will
 * be if its running tasks keep running. Called when one of its tasks
 * starts, at its period boundary and from the timer itself; a task
 * stopping only makes the timer early, and it then re-arms.
 */
static void enforce_budget(struct group *g, u32 slot, u64 now)
{
	struct exhaust_timer *et;
	s64 left;
	u32 nr;

	if (!g->info.quota_ns || g->info.throttled)
		return;
	left = live_budget(g, slot, now, &nr);
	if (!nr)
		return;
	left -= g->lead_ns;
	if (left <= (s64)(nr * AXRT_EXHAUST_SLACK_NS)) {
		throttle(g, slot);
		return;
	}
	et = bpf_map_lookup_elem(&exhaust_timers, &slot);
	if (et)
		bpf_timer_start(&et->timer, (u64)left / nr, 0);
}

/*
 * At the boundary of a period in which @g was throttled: its budget shows
 * by how much the throttle missed zero (work done in background mode is not
 * charged to the budget). Moves lead_ns a quarter of the way to cancel that
 * miss, within [0, quota / 2], the miss counted at most the supply slack
 * either way. The landing delay has a long tail (under emulation a vCPU of
 * the emulator descheduled on the host runs on in guest time for
 * milliseconds): a lead that followed the tail throttled the periods after
 * it that much early (measured: windows supplied 14-18 ms of 20). Clamped,
 * a tail event overshoots in its own period and moves the lead by at most
 * slack / 4; a delay that persists (1-1.5 ms per running CPU under
 * emulation) is still learnt, over a few periods.
 */
static void learn_lead(struct group *g)
{
	s64 slack = supply_slack(g->info.quota_ns), miss = g->info.budget_ns, lead;

	if (miss > slack)
		miss = slack;
	if (miss < -slack)
		miss = -slack;
	lead = g->lead_ns - miss / 4;
	if (lead < 0)
		lead = 0;
	if (lead > (s64)(g->info.quota_ns / 2))
		lead = g->info.quota_ns / 2;
	g->lead_ns = lead;
}

/*
 * ops.enqueue of a task of a throttled group: parks it (throttle mode) or
 * demotes it to the background queue, which only an otherwise idle CPU
 * takes (this one, if it already chose to idle). False if its group is not
 * throttled.
 */
__hidden bool budget_park(struct task_struct *p, struct task_ctx *tc, u64 enq_flags)
{
	struct group *g = group_at(tc->slot);

	if (!g || !g->info.throttled)
		return false;
	tc->head = 0;
	if (g->info.overrun == AXRT_OVERRUN_BACKGROUND) {
		stat_inc(AXRT_STAT_BG);
		if (enq_flags & SCX_ENQ_LAST) {
			run_on_last(p, tc->slice_dfl, enq_flags);
			return true;
		}
		scx_bpf_dsq_insert(p, AXRT_DSQ_BG, tc->slice_dfl, enq_flags);
		wake_cpu_for(p, PRIO_BACKGROUND, tc->slot, false);
	} else {
		scx_bpf_dsq_insert(p, AXRT_DSQ_PARK + tc->slot, tc->slice_dfl, enq_flags);
		stat_inc(AXRT_STAT_PARKED);
	}
	return true;
}

/*
 * ops.running of @p on @cpu: never gives a budgeted task more than its group
 * has left, shared among the group's tasks running right now, and re-times
 * the group's exhaustion timer for one more running task. A demoted
 * background task runs on time nobody else wants: any waking task may
 * preempt it (worst priority), and the exhausted budget does not cap it. A
 * throttle-mode task that got here throttled (queued on this CPU before the
 * throttle) stops at once. Returns the slice @p runs with.
 */
__hidden u64 budget_running(struct task_struct *p, struct task_ctx *tc, u32 cpu, u64 now)
{
	struct group *g = group_at(tc->slot);
	u64 slice = p->scx.slice, cap;
	s64 budget;
	s32 running;

	if (!g)
		return slice;
	running = __sync_add_and_fetch(&g->info.nr_running, 1);
	if (in_background(g)) {
		cpu_prio[CPU_IDX(cpu)] = PRIO_BACKGROUND;
	} else if (g->info.throttled) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	} else if (g->info.quota_ns) {
		budget = g->info.budget_ns;
		cap = budget > 0 ? (u64)budget / (running > 0 ? running : 1) : 0;
		if (cap < AXRT_SLICE_NS_MIN)
			cap = AXRT_SLICE_NS_MIN;
		if (slice > cap) {
			slice = cap;
			scx_bpf_task_set_slice(p, slice);
		}
		enforce_budget(g, tc->slot, now);
	}
	return slice;
}

/* ops.tick: a throttle-mode task stops at once; background mode runs on until preempted. */
__hidden void budget_tick(struct task_struct *p, struct task_ctx *tc)
{
	struct group *g = group_at(tc->slot);

	if (g && g->info.throttled && !in_background(g))
		scx_bpf_task_set_slice(p, 0);
}

/* ops.stopping (after budget_charge()): one running task fewer in its group. */
__hidden void budget_stopping(struct task_ctx *tc)
{
	struct group *g = group_at(tc->slot);

	if (g)
		__sync_fetch_and_sub(&g->info.nr_running, 1);
}

/* Moves the tasks of group @slot parked in its DSQ or in the background DSQ back. */
static void unpark(u32 slot)
{
	struct task_struct *p;
	struct task_ctx *tc;

	bpf_for_each(scx_dsq, p, AXRT_DSQ_PARK + slot, 0) {
		tc = tctx(p);
		if (tc)
			requeue_from_iter(BPF_FOR_EACH_ITER, p, tc);
	}
	bpf_for_each(scx_dsq, p, AXRT_DSQ_BG, 0) {
		tc = tctx(p);
		if (tc && tc->slot == slot)
			requeue_from_iter(BPF_FOR_EACH_ITER, p, tc);
	}
}

/* Ends @g's throttling and moves its parked tasks back. */
static void unthrottle(struct group *g, u32 slot)
{
	if (__sync_val_compare_and_swap(&g->info.throttled, 1, 0) == 1)
		__sync_fetch_and_sub(&nr_throttled, 1);
	unpark(slot);
}

/* The moment @g's budget should run out: throttle it, or re-time the timer. */
static int exhaust_timer_fn(void *map, int *key, struct exhaust_timer *et)
{
	u32 slot = *key;
	struct group *g = group_at(slot);

	if (g && g->info.cgid)
		enforce_budget(g, slot, bpf_ktime_get_ns());
	return 0;
}

/*
 * A group's period boundary: refill the budget, no carry-over; release
 * parked tasks. What running tasks used before the boundary but have not
 * been charged for yet belongs to the old period: the new budget covers it.
 */
static int group_timer_fn(void *map, int *key, struct group *g)
{
	struct axrt_group_stats *st;
	struct axrt_event *ev;
	u32 slot = *key, nr;
	u64 now = bpf_ktime_get_ns(), cgid, quota = g->info.quota_ns;
	s64 left, live;

	if (slot == AXRT_HOST_SLOT || !g->info.cgid)
		return 0;
	cgid = g->info.cgid;

	if (!refresh_group(g)) {
		/* No spec and no cpu.max any more: free the slot. */
		unthrottle(g, slot);
		group_free(g);
		return 0;
	}
	if (!g->info.quota_ns) {
		/* Budget removed: the group runs freely from now on. */
		g->timer_armed = 0;
		unthrottle(g, slot);
		return 0;
	}

	if (g->info.throttled)
		learn_lead(g);
	left = g->info.budget_ns;
	live = live_budget(g, slot, now, &nr);
	if (quota)
		close_window(g, slot, quota, live, now);
	g->info.budget_ns = g->info.quota_ns + (left - live);
	g->info.period_start_ns = now;
	st = gstats(slot);
	if (st)
		st->replenishments++;
	ev = ev_begin(AXRT_EV_REPLENISH, cgid, 0, g->info.prio);
	if (ev) {
		ev->arg = live > 0 ? live : 0;
		ev->arg2 = g->lead_ns;
		bpf_ringbuf_submit(ev, 0);
	}
	unthrottle(g, slot);
	enforce_budget(g, slot, now);

	g->next_boundary += g->info.period_ns;
	if (g->next_boundary <= now)
		g->next_boundary = now + g->info.period_ns;
	bpf_timer_start(&g->timer, g->next_boundary, TIMER_ABS);
	return 0;
}

/* ops.init: a park DSQ and the two timers per group slot. */
__hidden s32 budget_init(void)
{
	struct exhaust_timer *et;
	struct group *g;
	s32 ret;
	u32 i;

	bpf_for(i, 0, AXRT_MAX_GROUPS) {
		ret = scx_bpf_create_dsq(AXRT_DSQ_PARK + i, NUMA_NO_NODE);
		if (ret)
			return ret;
		g = group_at(i);
		if (!g)
			continue;
		ret = bpf_timer_init(&g->timer, &axrt_groups, CLOCK_MONOTONIC);
		if (!ret)
			ret = bpf_timer_set_callback(&g->timer, group_timer_fn);
		if (ret)
			return ret;
		et = bpf_map_lookup_elem(&exhaust_timers, &i);
		if (!et)
			continue;
		ret = bpf_timer_init(&et->timer, &exhaust_timers, CLOCK_MONOTONIC);
		if (!ret)
			ret = bpf_timer_set_callback(&et->timer, exhaust_timer_fn);
		if (ret)
			return ret;
	}
	return 0;
}
