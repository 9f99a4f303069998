// SPDX-License-Identifier: GPL-2.0-only
/*
 * boost.bpf.c - directed-yield boosts and moving queued tasks whose priority
 * changed, docs/POLICY.md "Boosts (priority inheritance) and deadlocks".
 *
 * Directed yield. KVM's lock-holder-preemption path (a vCPU spinning on a
 * lock, by pause-loop exit or the sched-yield hypercall) calls yield_to(),
 * which sched_ext turns into ops.yield(from, to) while @to is queued. @to
 * inherits e(from) if that is better, and runs next on from's CPU: from
 * gives up its CPU (slice 0, to the tail of its level) and the CPU's
 * dispatch takes @to out of its queue (yield_target[]). The boost ends when
 * @to stops running, so it lasts at most one slice. --no-boost turns this
 * off: ops.yield(from, to) then declines, and from keeps spinning.
 *
 * Requeues. A queued task sits in the DSQ of the priority it had when it was
 * queued. When a boost changes it from outside the task's own path (lock
 * chains, locks.bpf.c), the task's tid goes on requeue_q and a CPU is
 * kicked; every dispatch first moves up to REQUEUE_BATCH such tasks to the
 * queue of their new priority and wakes a CPU for them.
 */

#include "axrt.bpf.h"

#define REQUEUE_BATCH	4

/* Per CPU: the tid its last accepted yield_to() handed the CPU to, 0 = none. */
s32 yield_target[MAX_CPUS];

/* Tids of queued tasks whose priority changed (lock boosts). */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__type(value, s32);
	__uint(max_entries, 4096);
} requeue_q SEC(".maps");

/*
 * Entries pushed on requeue_q and not popped yet: dispatch looks at the
 * queue (a map operation under the queue's lock, shared by every CPU) only
 * when this says there is something to pop.
 */
s32 nr_requeue;

/* Counts a boost given by @from_slot's task @from to @to_slot's task @to. */
__hidden void count_boost(u32 from_slot, s32 from, u32 to_slot, s32 to)
{
	struct axrt_group_stats *st;
	struct axrt_task_stats *ts;

	stat_inc(AXRT_STAT_BOOST);
	if ((st = gstats(to_slot)))
		st->boosts_received++;
	if ((st = gstats(from_slot)))
		st->boosts_given++;
	if ((ts = task_stats(to)))
		__sync_fetch_and_add(&ts->boosts_received, 1);
	if ((ts = task_stats(from)))
		__sync_fetch_and_add(&ts->boosts_given, 1);
}

/* The id of the DSQ @p is queued on, or ~0 if none. */
__hidden u64 queued_on(struct task_struct *p)
{
	struct scx_dispatch_q *dsq = p->scx.dsq;

	return dsq ? BPF_CORE_READ(dsq, id) : ~0ULL;
}

/* True for the DSQs a task waits on in priority order (where a boost must move it). */
__hidden bool is_prio_dsq(u64 id)
{
	return id < AXRT_NR_PRIOS || id == AXRT_DSQ_VTIME;
}

/*
 * Finds task @pid on priority DSQ @dsq and moves it: to the local DSQ of
 * @cpu if @cpu >= 0 (directed yield), else to the queue of its current
 * priority. True if it was moved.
 */
static bool move_queued(u64 dsq, s32 pid, s32 cpu)
{
	struct task_struct *p;
	struct task_ctx *tc;
	u32 prio;
	u64 seq;

	bpf_for_each(scx_dsq, p, dsq, 0) {
		if (p->pid != pid)
			continue;
		tc = tctx(p);
		if (!tc)
			return false;
		prio = tc->prio & (AXRT_NR_PRIOS - 1);
		if (cpu >= 0)
			return scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL_ON | cpu, 0);
		if (queue_mode == AXRT_QUEUE_VTIME) {
			seq = __sync_fetch_and_sub(&head_seq, 1) - 1;
			scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER, vtime_key(prio, seq, tc));
			if (!scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, p, AXRT_DSQ_VTIME, 0))
				return false;
		} else if (is_fair(prio)) {
			scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER, tc->vtime);
			if (!scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, p, AXRT_DSQ_LEVEL0 + prio, 0))
				return false;
			set_level_bit(prio);
		} else {
			if (!scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, AXRT_DSQ_LEVEL0 + prio, SCX_ENQ_HEAD))
				return false;
			set_level_bit(prio);
		}
		wake_cpu_for(p, prio, tc->slot, false);
		return true;
	}
	return false;
}

/*
 * Moves task @pid if it waits on a priority DSQ (see move_queued()); for a
 * requeue (@cpu < 0) only if that DSQ is not already its level's.
 */
static bool move_task(s32 pid, s32 cpu)
{
	struct task_struct *p;
	struct task_ctx *tc;
	bool moved = false;
	u64 dsq;

	p = bpf_task_from_pid(pid);
	if (!p)
		return false;
	tc = tctx(p);
	dsq = queued_on(p);
	if (tc && is_prio_dsq(dsq) &&
	    (cpu >= 0 ? bpf_cpumask_test_cpu(cpu, p->cpus_ptr) :
			(queue_mode == AXRT_QUEUE_VTIME || dsq != tc->prio)))
		moved = move_queued(dsq, pid, cpu);
	bpf_task_release(p);
	return moved;
}

/*
 * Dispatch's first duty: moves queued tasks whose priority changed, then
 * runs the task this CPU yielded to, if it is still queued. True if this
 * CPU got a task.
 */
__hidden bool dispatch_boosts(s32 cpu)
{
	s32 pid, target;
	u32 i;

	bpf_for(i, 0, REQUEUE_BATCH) {
		if (nr_requeue <= 0 || bpf_map_pop_elem(&requeue_q, &pid))
			break;
		__sync_fetch_and_sub(&nr_requeue, 1);
		move_task(pid, -1);
	}
	target = yield_target[CPU_IDX(cpu)];
	if (!target)
		return false;
	yield_target[CPU_IDX(cpu)] = 0;
	return move_task(target, cpu);
}

/* Asks for @pid (whose priority changed while queued) to be moved; kicks @cpu to do it. */
__hidden void request_requeue(s32 pid, s32 cpu)
{
	if (bpf_map_push_elem(&requeue_q, &pid, 0))
		stat_inc(AXRT_STAT_EV_DROP);
	else
		__sync_fetch_and_add(&nr_requeue, 1);
	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

/*
 * ops.yield: @from calls sched_yield() (@to NULL) or yield_to(@to). A plain
 * yield gives up the CPU to the tasks of its level. A directed yield, unless
 * --no-boost or @to's group is throttled, hands from's CPU to @to with
 * priority min(e(from), e(to)) and reports a boost; true tells KVM it worked.
 */
__hidden bool boost_yield(struct task_struct *from, struct task_struct *to)
{
	struct task_ctx *fc = tctx(from), *tc;
	struct group *g;
	u32 old;
	u64 now;

	if (!to) {
		if (fc)
			fc->yielded = 1;
		scx_bpf_task_set_slice(from, 0);
		return false;
	}
	if (!boost_enabled || !fc)
		return false;
	tc = tctx(to);
	if (!tc)
		return false;
	g = group_at(tc->slot);
	if (g && g->info.throttled)
		return false;

	now = bpf_ktime_get_ns();
	old = tc->prio;
	if (fc->prio < tc->prio)
		tc->yield_prio = fc->prio;
	update_prio(tc);
	tc->boost_ts = now;
	if (!tc->yield_since)
		tc->yield_since = now;
	fc->yielded = 1;
	scx_bpf_task_set_slice(from, 0);
	yield_target[CPU_IDX(bpf_get_smp_processor_id())] = to->pid;
	count_boost(fc->slot, from->pid, tc->slot, to->pid);
	boost_event(AXRT_EV_BOOST, tc->slot, to->pid, from->pid, tc->prio, old, AXRT_BOOST_YIELD);
	return true;
}

/* @p starts running: the latency from the yield that boosted it to now. */
__hidden void boost_running(struct task_ctx *tc, struct axrt_group_stats *st, u64 now)
{
	if (!tc->boost_ts)
		return;
	if (st && now > tc->boost_ts)
		st->boost_hist[hist_bucket(now - tc->boost_ts)]++;
	tc->boost_ts = 0;
}

/* @p stops running: its yield boost ends. */
__hidden void boost_stopping(struct task_struct *p, struct task_ctx *tc, u64 now)
{
	if (!tc->yield_since)
		return;
	tc->yield_prio = AXRT_NR_PRIOS;
	update_prio(tc);
	boost_event(AXRT_EV_BOOST_END, tc->slot, p->pid, 0, tc->prio, now - tc->yield_since,
		    AXRT_BOOST_YIELD);
	tc->yield_since = 0;
}
