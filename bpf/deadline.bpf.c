// SPDX-License-Identifier: GPL-2.0-only
/*
 * deadline.bpf.c - job deadlines and reservation windows, docs/POLICY.md
 * "Deadlines".
 *
 * Jobs. A thread whose spec has a period (struct axrt_task_spec) releases a
 * job when it wakes (ops.runnable with SCX_ENQ_WAKEUP) and completes it
 * when it blocks (ops.quiescent with SCX_DEQ_SLEEP). Response time =
 * completion - release; a miss when it exceeds the deadline; a WCET overrun
 * when the job's CPU time (sum_exec_runtime) exceeds wcet_ns. Counted per
 * thread (axrt_task_stats) and per group, with an event per miss/overrun.
 * A job that never completes is not reported until it does.
 *
 * Reservation windows. Each period of a budgeted group is a window: demand
 * = the time its tasks were runnable (an integral of the number of
 * runnable tasks, kept under the group's spin lock by runnable/quiescent),
 * supply = the budget it used. A window whose supply fell short of
 * min(quota, demand) by more than the slack (intf.h) is a supply miss.
 *
 * With detail_events (--events), every completed job and every closed window
 * is also an event (intf.h): a timer-rate and a job-rate event, never one
 * per context switch.
 */
#include "axrt.bpf.h"


/* @p woke up: a thread with a timing contract releases a job (if none is open). */
static __always_inline void job_release(struct task_struct *p, struct task_ctx *tc, u64 now)
{
	if (!tc->period_ns || tc->job_release)
		return;
	tc->job_release = now;
	tc->job_exec0 = p->se.sum_exec_runtime;
}

/* @p blocked: its open job completes; count it, and report a miss or an overrun. */
static void job_complete(struct task_struct *p, struct task_ctx *tc, u64 now)
{
	struct axrt_group_stats *st = gstats(tc->slot);
	struct axrt_task_stats *ts = task_stats(p->pid);
	struct axrt_event *ev;
	u64 resp, cpu_ns, late = 0;
	bool miss, over;

	if (!tc->job_release)
		return;
	resp = now > tc->job_release ? now - tc->job_release : 0;
	cpu_ns = p->se.sum_exec_runtime - tc->job_exec0;
	tc->job_release = 0;
	miss = resp > tc->deadline_ns;
	over = tc->wcet_ns && cpu_ns > tc->wcet_ns;
	if (miss)
		late = resp - tc->deadline_ns;

	if (st) {
		st->jobs++;
		st->deadline_misses += miss;
		st->wcet_overruns += over;
	}
	if (ts) {
		ts->jobs++;
		ts->misses += miss;
		ts->wcet_overruns += over;
		if (late > ts->max_lateness_ns)
			ts->max_lateness_ns = late;
		if (resp > ts->max_response_ns)
			ts->max_response_ns = resp;
		ts->resp_hist[hist_bucket(resp)]++;
	}
	if (miss && (ev = ev_begin(AXRT_EV_MISS, slot_cgid(tc->slot), p->pid, tc->prio))) {
		ev->arg = late;
		ev->arg2 = resp;
		bpf_ringbuf_submit(ev, 0);
	}
	if (over && (ev = ev_begin(AXRT_EV_WCET, slot_cgid(tc->slot), p->pid, tc->prio))) {
		ev->arg = cpu_ns;
		ev->arg2 = tc->wcet_ns;
		bpf_ringbuf_submit(ev, 0);
	}
	if (detail_events && (ev = ev_begin(AXRT_EV_JOB, slot_cgid(tc->slot), p->pid, tc->prio))) {
		ev->arg = resp;
		ev->arg2 = cpu_ns;
		bpf_ringbuf_submit(ev, 0);
	}
}

/* Integrates @g's demand up to @now. Call with g->lock held. */
static __always_inline void demand_integrate(struct group *g, u64 now)
{
	if (now > g->demand_last)
		g->demand_acc += (u64)g->demand_nr * (now - g->demand_last);
	g->demand_last = now;
}

/* Adds @d (+1 or -1) to the runnable tasks of @g at @now. */
static __always_inline void demand_step(struct group *g, u64 now, s32 d)
{
	bpf_spin_lock(&g->lock);
	demand_integrate(g, now);
	if (d > 0 || g->demand_nr > 0)
		g->demand_nr += d;
	bpf_spin_unlock(&g->lock);
}

/* The demand of @g's window up to @now; the next window starts at 0. */
static __always_inline u64 demand_take(struct group *g, u64 now)
{
	u64 acc;

	bpf_spin_lock(&g->lock);
	demand_integrate(g, now);
	acc = g->demand_acc;
	g->demand_acc = 0;
	bpf_spin_unlock(&g->lock);
	return acc;
}

/*
 * @p is runnable (waking, queued or starting to run): it counts in the
 * demand of its group if that has a budget. A task that changed groups
 * (cgroup move, re-resolution) moves its count; one that was runnable
 * before it could be counted (at load, or moved into the group while
 * running) is counted from here. A cheap comparison when nothing changed.
 */
__hidden void demand_track(struct task_ctx *tc, u64 now)
{
	struct group *g;
	u32 want = 0;

	g = group_at(tc->slot);
	if (g && g->info.quota_ns)
		want = tc->slot + 1;
	if (tc->demand_slot == want)
		return;
	if (tc->demand_slot) {
		struct group *old = group_at(tc->demand_slot - 1);

		if (old)
			demand_step(old, now, -1);
	}
	if (g && want)
		demand_step(g, now, 1);
	tc->demand_slot = want;
}

/* @p became runnable (@enq_flags of ops.runnable): release a job, count its demand. */
__hidden void demand_runnable(struct task_struct *p, struct task_ctx *tc, u64 enq_flags, u64 now)
{
	if (enq_flags & SCX_ENQ_WAKEUP)
		job_release(p, tc, now);
	demand_track(tc, now);
}

/* @p stopped being runnable (@deq_flags of ops.quiescent): complete its job, end its demand. */
__hidden void demand_quiescent(struct task_struct *p, struct task_ctx *tc, u64 deq_flags, u64 now)
{
	struct group *g;

	if (deq_flags & SCX_DEQ_SLEEP)
		job_complete(p, tc, now);
	if (tc->demand_slot) {
		g = group_at(tc->demand_slot - 1);
		if (g)
			demand_step(g, now, -1);
		tc->demand_slot = 0;
	}
}

/*
 * Closes group @slot's reservation window at its period boundary @now:
 * @quota was the budget of the window and @live what was left of it (so
 * supply = quota - live). Counts it, and a supply miss when supply fell
 * short of min(quota, demand) by more than the slack.
 */
__hidden void close_window(struct group *g, u32 slot, u64 quota, s64 live, u64 now)
{
	struct axrt_group_stats *st = gstats(slot);
	struct axrt_event *ev;
	u64 demand = demand_take(g, now), need, supply, eps = supply_slack(quota);

	supply = live >= (s64)quota ? 0 : (live < 0 ? quota + (u64)(-live) : quota - (u64)live);
	need = demand < quota ? demand : quota;
	if (st) {
		st->windows++;
		st->demand_ns += demand;
		st->supply_ns += supply;
	}
	if (detail_events && (ev = ev_begin(AXRT_EV_WINDOW, g->info.cgid, 0, g->info.prio))) {
		ev->arg = supply;
		ev->arg2 = demand;
		bpf_ringbuf_submit(ev, 0);
	}
	if (supply + eps >= need)
		return;
	if (st)
		st->supply_misses++;
	ev = ev_begin(AXRT_EV_SUPPLY_MISS, g->info.cgid, 0, g->info.prio);
	if (ev) {
		ev->arg = supply;
		ev->arg2 = need;
		bpf_ringbuf_submit(ev, 0);
	}
}
