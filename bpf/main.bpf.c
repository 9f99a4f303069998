// SPDX-License-Identifier: GPL-2.0-only
/*
 * main.bpf.c - the kernel tier of scx_axrt, a sched_ext scheduler for KVM
 * vCPU threads (docs/ARCHITECTURE.md, "Two tiers on Linux"): the struct_ops
 * callbacks. Each says, in order, what the policy (docs/POLICY.md) does at
 * that moment and calls the unit that does it (axrt.bpf.h lists them).
 *
 * How it schedules, in short:
 *
 * Priorities. Every task has an effective priority 0 (best) .. 255. Tasks
 * wait in priority order, FIFO within a level; a task that uses up its slice
 * goes behind the others of its level, a preempted one keeps its turn
 * (queue.bpf.c: a 256-bit bitmap of non-empty levels and a DSQ per level, or
 * one DSQ keyed by priority and arrival). An idle CPU found in select_cpu
 * takes the task directly.
 *
 * Preemption. cpu_prio[] holds the priority of what each CPU runs. A waking
 * task with no idle CPU goes to the allowed CPU running the worst priority,
 * if worse than its own; enqueue claims that CPU (an atomic update of
 * cpu_prio[]) and takes it over with SCX_ENQ_PREEMPT.
 *
 * Groups (VMs, group.bpf.c) and budgets (budget.bpf.c). A group is a cgroup
 * and everything below it. Every ns a task runs is charged to its group; a
 * budgeted task's slice is capped at its group's remaining budget; when the
 * budget is used up the group is throttled: its CPUs are kicked, its queued
 * tasks parked (or demoted, in background mode) until the period boundary.
 *
 * Starvation reserve (reserve.bpf.c): a task that waited longer than the
 * reserve gets one slice whatever its priority, served first by dispatch.
 *
 * Deadlines and windows (deadline.bpf.c), boosts (boost.bpf.c) and lock
 * chains (locks.bpf.c) follow their own headers.
 */
#include "axrt.bpf.h"

char _license[] SEC("license") = "GPL";

/* Written by the loader before load (loader/src/sched.rs). */
const volatile u64 slice_ns = AXRT_SLICE_NS_DFL;
const volatile u32 queue_mode = AXRT_QUEUE_BITMAP;
const volatile u64 reserve_ns = AXRT_RESERVE_MS_DFL * 1000000ULL;
const volatile u32 host_prio = AXRT_PRIO_HOST_DFL;
const volatile bool boost_enabled = true;
const volatile bool detail_events = false;

UEI_DEFINE(uei);

u32 cpu_prio[MAX_CPUS];
u32 cpu_slot[MAX_CPUS];
u64 cpu_since[MAX_CPUS];


s32 BPF_STRUCT_OPS(axrt_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;
	bool is_idle = false;
	s32 cpu, target;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (!tc)
		return cpu;
	if (!is_idle) {
		/*
		 * No idle CPU: wake up on the CPU @p will preempt, if any
		 * (its priority as last resolved), so that enqueue can take it
		 * over directly, with no queue round trip and at most one IPI.
		 */
		target = preempt_target(p, tc, prev_cpu);
		return target >= 0 ? target : cpu;
	}
	/* A throttled group's task must go through enqueue to be parked. */
	g = group_at(tc->slot);
	if (g && g->info.throttled)
		return cpu;
	if (!tc->enq_ts)
		tc->enq_ts = bpf_ktime_get_ns();
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tc->slice_dfl ?: slice_ns, 0);
	stat_inc(AXRT_STAT_DIRECT);
	return cpu;
}

/*
 * At the fair level, whether @tc (waking onto @cpu, which runs priority @cp)
 * takes @cpu over: it runs a task of the same level that the waker preempts
 * (fair.bpf.c), and the claim on it succeeds.
 */
static __always_inline bool fair_takes(struct task_ctx *tc, s32 cpu, u32 cp)
{
	u64 seen = cpu_vtime[CPU_IDX(cpu)];

	return is_fair(tc->prio) && cp == tc->prio && fair_claim(cpu, seen, tc->vtime);
}

void BPF_STRUCT_OPS(axrt_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tc = tctx(p);
	u32 cp;
	s32 cpu;

	if (!tc) {
		/* No context (should not happen): the kernel's global FIFO runs it. */
		scx_bpf_dsq_insert(p, SCX_DSQ_GLOBAL, slice_ns, enq_flags);
		return;
	}
	ensure_resolved(p, tc);
	if (!tc->enq_ts)
		tc->enq_ts = bpf_ktime_get_ns();
	demand_track(tc, tc->enq_ts);

	/* A task of a throttled group is parked (or demoted) until its boundary. */
	if (budget_park(p, tc, enq_flags))
		return;

	/*
	 * SCX_OPS_ENQ_LAST: @p is the last runnable task of its CPU and its
	 * dispatch found nothing better (not even equal): let it run on. The
	 * flag exists so that a throttled task is parked above, not kept
	 * running by the kernel.
	 */
	if (enq_flags & SCX_ENQ_LAST) {
		tc->head = 0;
		run_on_last(p, tc->slice_dfl, enq_flags);
		stat_inc(AXRT_STAT_KEEP);
		return;
	}

	/*
	 * The CPU @p is enqueued on runs something worse (select_cpu chose it
	 * for that): claim it and preempt it right here. A CPU between tasks
	 * is left to its dispatch, which takes the best queued task; a CPU
	 * another waker claimed since select_cpu looked sends @p to the queue.
	 */
	cpu = scx_bpf_task_cpu(p);
	cp = cpu_prio[CPU_IDX(cpu)];
	if (bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
	    ((tc->prio < cp && cp != CPU_NONE_PRIO && claim_cpu(cpu, cp, tc->prio)) ||
	     fair_takes(tc, cpu, cp))) {
		tc->head = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tc->slice_dfl, enq_flags | SCX_ENQ_PREEMPT);
		count_preemption(tc->slot);
		return;
	}

	insert_prio(p, tc, tc->slice_dfl, enq_flags);
	stat_inc(AXRT_STAT_QUEUED);
	wake_cpu_for(p, tc->prio, tc->slot, false);
}

void BPF_STRUCT_OPS(axrt_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_ctx *pctx = NULL;
	struct group *g;
	u32 limit = AXRT_NR_PRIOS - 1;
	bool keep = false;

	take_kick_level(cpu);

	/* Starvation-reserve grants first, regardless of priority. */
	if (reserve_dispatch()) {
		stat_inc(AXRT_STAT_DISPATCH);
		return;
	}
	/* Then boosts: requeues, and the task this CPU was yielded to. */
	if (dispatch_boosts(cpu)) {
		stat_inc(AXRT_STAT_DISPATCH);
		return;
	}

	/*
	 * @prev still wants the CPU (slice over or preempted): a queued task
	 * takes over only if it is at least as good (equal: round robin).
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		pctx = tctx(prev);
		g = pctx ? group_at(pctx->slot) : NULL;
		if (pctx && !(g && g->info.throttled) && pctx->reserve != 2) {
			keep = true;
			limit = pctx->prio;
		}
	}

	if (dispatch_queued(cpu, limit)) {
		stat_inc(AXRT_STAT_DISPATCH);
		return;
	}
	if (keep) {
		scx_bpf_task_set_slice(prev, pctx->slice_dfl);
		stat_inc(AXRT_STAT_KEEP);
		return;
	}
	/* The CPU would idle. */
	dispatch_idle(cpu);
}

void BPF_STRUCT_OPS(axrt_running, struct task_struct *p)
{
	struct axrt_group_stats *st;
	struct task_ctx *tc = tctx(p);
	u32 cpu = CPU_IDX(bpf_get_smp_processor_id());
	u64 now = bpf_ktime_get_ns();

	if (!tc)
		return;
	ensure_resolved(p, tc);

	st = gstats(tc->slot);
	if (st) {
		st->dispatches++;
		if (tc->enq_ts && now > tc->enq_ts)
			st->lat_hist[hist_bucket(now - tc->enq_ts)]++;
	}
	boost_running(tc, st, now);
	demand_track(tc, now);
	tc->enq_ts = 0;
	tc->run_start = now;

	/* A reserve grant is not preempted for priority. */
	cpu_prio[cpu] = reserve_running(tc, st) ? 0 : tc->prio;
	if (is_fair(cpu_prio[cpu]))
		fair_running(tc, cpu);
	cpu_slot[cpu] = tc->slot;
	cpu_since[cpu] = now;
	/* Kicked for a better task while between tasks: this one yields at once (once). */
	if (take_kick_level(cpu) < cpu_prio[cpu])
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);

	tc->slice_given = budget_running(p, tc, cpu, now);
}

void BPF_STRUCT_OPS(axrt_tick, struct task_struct *p)
{
	struct task_ctx *tc = tctx(p);

	budget_charge(bpf_get_smp_processor_id(), bpf_ktime_get_ns());
	if (tc)
		budget_tick(p, tc);
}

void BPF_STRUCT_OPS(axrt_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tc = tctx(p);
	u32 cpu = CPU_IDX(bpf_get_smp_processor_id());
	u64 now = bpf_ktime_get_ns();

	budget_charge(cpu, now);
	cpu_prio[cpu] = CPU_NONE_PRIO;
	cpu_slot[cpu] = AXRT_HOST_SLOT;
	cpu_since[cpu] = 0;
	if (!tc)
		return;
	budget_stopping(tc);
	if (is_fair(tc->prio))
		fair_stopping(p, tc, now);
	if (tc->reserve == 2)
		tc->reserve = 0;
	boost_stopping(p, tc, now);
	/*
	 * Preempted (slice taken away before it was used up): it keeps its
	 * turn at the head of its level. A used-up slice, or one given away
	 * by a yield, goes to the tail.
	 */
	tc->head = runnable && !tc->yielded && p->scx.slice == 0 &&
		   now - tc->run_start + 100000 < tc->slice_given;
	tc->yielded = 0;
}

void BPF_STRUCT_OPS(axrt_runnable, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tc = tctx(p);

	if (!tc)
		return;
	ensure_resolved(p, tc);
	if (enq_flags & SCX_ENQ_WAKEUP)
		fair_wakeup(tc);
	demand_runnable(p, tc, enq_flags, bpf_ktime_get_ns());
}

void BPF_STRUCT_OPS(axrt_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tc = tctx(p);

	if (tc)
		demand_quiescent(p, tc, deq_flags, bpf_ktime_get_ns());
}

bool BPF_STRUCT_OPS(axrt_yield, struct task_struct *from, struct task_struct *to)
{
	return boost_yield(from, to);
}

s32 BPF_STRUCT_OPS(axrt_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tc;

	tc = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tc)
		return -ENOMEM;
	tc->slice_dfl = slice_ns;
	tc->base_prio = host_prio;
	tc->yield_prio = AXRT_NR_PRIOS;
	tc->lock_prio = AXRT_NR_PRIOS;
	update_prio(tc);
	tc->slot = AXRT_HOST_SLOT;
	fair_init_task(tc);
	return 0;
}

void BPF_STRUCT_OPS(axrt_cgroup_move, struct task_struct *p, struct cgroup *from,
		    struct cgroup *to)
{
	struct task_ctx *tc = tctx(p);

	/* Re-resolve at the next enqueue/running. */
	if (tc)
		tc->gen = 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(axrt_cgroup_init, struct cgroup *cgrp,
			     struct scx_cgroup_init_args *args)
{
	/* The bandwidth fields came with ops.cgroup_set_bandwidth (6.17). */
	if (bpf_core_field_exists(args->bw_quota_us))
		group_cgroup_bw(cgrp, args->bw_period_us, args->bw_quota_us);
	return 0;
}

void BPF_STRUCT_OPS(axrt_cgroup_exit, struct cgroup *cgrp)
{
	group_cgroup_exit(cgrp);
}

void BPF_STRUCT_OPS(axrt_cgroup_set_bandwidth, struct cgroup *cgrp, u64 period_us,
		    u64 quota_us, u64 burst_us)
{
	group_cgroup_bw(cgrp, period_us, quota_us);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(axrt_init)
{
	s32 ret;
	u32 i;

	bpf_for(i, 0, MAX_CPUS)
		cpu_prio[CPU_IDX(i)] = CPU_NONE_PRIO;
	ret = queue_init();
	if (!ret)
		ret = budget_init();
	if (!ret)
		ret = reserve_init();
	if (ret)
		scx_bpf_error("axrt: init failed: %d", ret);
	return ret;
}

void BPF_STRUCT_OPS(axrt_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

void BPF_STRUCT_OPS(axrt_dump, struct scx_dump_ctx *dctx)
{
	scx_bpf_dump("axrt: mode %u reserve %d bg %d vtime %d throttled groups %d\n",
		     queue_mode, scx_bpf_dsq_nr_queued(AXRT_DSQ_RESERVE),
		     scx_bpf_dsq_nr_queued(AXRT_DSQ_BG), scx_bpf_dsq_nr_queued(AXRT_DSQ_VTIME),
		     nr_throttled);
}

SCX_OPS_DEFINE(axrt_ops,
	       .select_cpu		= (void *)axrt_select_cpu,
	       .enqueue			= (void *)axrt_enqueue,
	       .dispatch		= (void *)axrt_dispatch,
	       .tick			= (void *)axrt_tick,
	       .runnable		= (void *)axrt_runnable,
	       .running			= (void *)axrt_running,
	       .stopping		= (void *)axrt_stopping,
	       .quiescent		= (void *)axrt_quiescent,
	       .yield			= (void *)axrt_yield,
	       .init_task		= (void *)axrt_init_task,
	       .cgroup_init		= (void *)axrt_cgroup_init,
	       .cgroup_exit		= (void *)axrt_cgroup_exit,
	       .cgroup_move		= (void *)axrt_cgroup_move,
	       .cgroup_set_bandwidth	= (void *)axrt_cgroup_set_bandwidth,
	       .init			= (void *)axrt_init,
	       .exit			= (void *)axrt_exit,
	       .dump			= (void *)axrt_dump,
	       .flags			= SCX_OPS_ENQ_LAST,
	       .timeout_ms		= AXRT_TIMEOUT_MS,
	       .name			= "axrt");
