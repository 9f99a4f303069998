// SPDX-License-Identifier: GPL-2.0-only
/*
 * reserve.bpf.c - the starvation reserve (docs/POLICY.md, "Choosing what
 * runs", 5): no runnable task waits longer than the reserve (--reserve-ms);
 * it is then given one slice whatever its priority. This breaks strict
 * priority on purpose, is counted (reserve_grants, an event per grant), and
 * keeps the host alive under a misconfigured real-time load, well within the
 * sched_ext watchdog.
 *
 * A timer every reserve/4 looks at the waiting tasks; one that waited longer
 * than reserve_ns moves to AXRT_DSQ_RESERVE, which every dispatch serves
 * first, and a CPU is kicked for it. While running on its grant a task is
 * not preempted for priority. (Timers may move tasks between DSQs: they run
 * without a rq lock held.)
 */
#include "axrt.bpf.h"

struct reserve_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct reserve_timer);
	__uint(max_entries, 1);
} reserve_timer SEC(".maps");

/*
 * Moves @p (waiting since tc->enq_ts) to the reserve DSQ if it waited
 * longer than reserve_ns. Returns false if it has not (so the rest of a
 * FIFO behind it has not either).
 */
static __always_inline bool rescue(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 now)
{
	struct task_ctx *tc = tctx(p);
	u64 waited;

	if (!tc || !tc->enq_ts || now < tc->enq_ts)
		return false;
	waited = now - tc->enq_ts;
	if (waited < reserve_ns)
		return false;
	if (!scx_bpf_dsq_move(it, p, AXRT_DSQ_RESERVE, 0))
		return true;
	tc->reserve = 1;
	tc->head = 0;
	stat_inc(AXRT_STAT_RESERVE);
	emit(AXRT_EV_RESERVE, slot_cgid(tc->slot), p->pid, tc->prio, waited);
	wake_cpu_for(p, 0, tc->slot, true);
	return true;
}

/* Moves every task that waited longer than reserve_ns to the reserve DSQ. */
static void reserve_scan(void)
{
	struct task_struct *p;
	u64 now = bpf_ktime_get_ns();
	u32 level;

	if (queue_mode == AXRT_QUEUE_VTIME) {
		/* Ordered by priority, not age: look at every waiter. */
		bpf_for_each(scx_dsq, p, AXRT_DSQ_VTIME, 0)
			rescue(BPF_FOR_EACH_ITER, p, now);
	} else {
		/*
		 * Not just each level's head: a preempted task goes back to
		 * the head with a fresh wait, ahead of older waiters.
		 */
		bpf_for(level, 0, AXRT_NR_PRIOS) {
			if (!scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + level))
				continue;
			set_level_bit(level);	/* heals a bit lost to a race (queue.bpf.c) */
			bpf_for_each(scx_dsq, p, AXRT_DSQ_LEVEL0 + level, 0)
				rescue(BPF_FOR_EACH_ITER, p, now);
		}
	}
	/* Background tasks wait in arrival order too. */
	bpf_for_each(scx_dsq, p, AXRT_DSQ_BG, 0) {
		if (!rescue(BPF_FOR_EACH_ITER, p, now))
			break;
	}
}

/* Every reserve/4: rescues the tasks that waited too long. */
static int reserve_timer_fn(void *map, int *key, struct reserve_timer *rt)
{
	reserve_scan();
	bpf_timer_start(&rt->timer, reserve_ns / 4, 0);
	return 0;
}

/* ops.dispatch, first: runs a rescued task on this CPU if there is one. */
__hidden bool reserve_dispatch(void)
{
	return scx_bpf_dsq_nr_queued(AXRT_DSQ_RESERVE) &&
	       scx_bpf_dsq_move_to_local(AXRT_DSQ_RESERVE, 0);
}

/*
 * ops.running: true if @tc starts on a reserve grant (counted in @st): its
 * CPU then shows the best priority, so nothing preempts it for priority.
 */
__hidden bool reserve_running(struct task_ctx *tc, struct axrt_group_stats *st)
{
	if (tc->reserve != 1)
		return false;
	tc->reserve = 2;
	if (st)
		st->reserve_grants++;
	return true;
}

/* ops.init: the scan timer. */
__hidden s32 reserve_init(void)
{
	struct reserve_timer *rt;
	u32 zero = 0;
	s32 ret;

	rt = bpf_map_lookup_elem(&reserve_timer, &zero);
	if (!rt)
		return -ENOENT;
	ret = bpf_timer_init(&rt->timer, &reserve_timer, CLOCK_MONOTONIC);
	if (!ret)
		ret = bpf_timer_set_callback(&rt->timer, reserve_timer_fn);
	if (!ret)
		ret = bpf_timer_start(&rt->timer, reserve_ns / 4, 0);
	return ret;
}
