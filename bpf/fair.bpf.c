// SPDX-License-Identifier: GPL-2.0-only
/*
 * fair.bpf.c - the host level in virtual time (docs/POLICY.md, "Choosing what
 * runs", 2): the tasks at the host group's priority (every task outside a
 * configured VM, by default) are ordered fairly, with a preference for tasks
 * that wake after sleeping, as the kernel's fair class does. The strict RT
 * levels of configured VMs are untouched: this only orders one level.
 *
 * Each task has a virtual time, advanced by what it runs, weighted by its
 * nice value (p->scx.weight, 100 for nice 0). The level's queue is ordered by
 * it (queue.bpf.c). vtime_now follows the virtual time of the tasks that
 * start running; a task that wakes after sleeping gets at most one slice of
 * credit (its virtual time is raised to vtime_now - slice), so a sleeper runs
 * soon but cannot bank its sleep. A task that yields gives up its CPU and is
 * charged what it ran, like any other: it runs again when its virtual time is
 * the lowest.
 *
 * Wakeup preemption within the level: a waking task preempts a CPU running a
 * task of the same level that started more than half a slice later in
 * virtual time than the waker's (fair_preempts()). So a task that wakes
 * often does not wait behind CPU hogs for whole slices, while tasks that
 * trade wakeups back and forth (pipes, hackbench) do not preempt each other
 * at every message: a sleeper's credit is one slice, so only a task that
 * slept long, or ran little, preempts one that is running. The virtual time each
 * CPU's task started with is in cpu_vtime[], claimed by compare-and-swap like
 * cpu_prio[].
 */
#include "axrt.bpf.h"

/* The highest virtual time a task of the level started running with. */
u64 vtime_now;
/* Per CPU: the virtual time of the fair-level task it runs (or of the waker that claimed it). */
u64 cpu_vtime[MAX_CPUS];

/* What a task's run of @ns costs in virtual time: @ns scaled by nice 0's weight / its own. */
static __always_inline u64 scaled(struct task_struct *p, u64 ns)
{
	u32 w = p->scx.weight ?: 100;

	return ns * 100 / w;
}

/* ops.init_task: a new task starts at the level's present. */
__hidden void fair_init_task(struct task_ctx *tc)
{
	tc->vtime = vtime_now;
}

/* ops.runnable with SCX_ENQ_WAKEUP: a sleeper gets at most one slice of credit. */
__hidden void fair_wakeup(struct task_ctx *tc)
{
	u64 floor = vtime_now > slice_ns ? vtime_now - slice_ns : 0;

	if (tc->vtime < floor)
		tc->vtime = floor;
}

/* ops.running of a fair-level task on @cpu: the level's present moves with it. */
__hidden void fair_running(struct task_ctx *tc, u32 cpu)
{
	u64 now_v = vtime_now;

	if (tc->vtime > now_v)
		__sync_val_compare_and_swap(&vtime_now, now_v, tc->vtime);
	cpu_vtime[CPU_IDX(cpu)] = tc->vtime;
}

/* ops.stopping: what @p ran since it started is charged to its virtual time. */
__hidden void fair_stopping(struct task_struct *p, struct task_ctx *tc, u64 now)
{
	if (now > tc->run_start)
		tc->vtime += scaled(p, now - tc->run_start);
}

/* Whether a waker of virtual time @waker preempts a task that started running at @running. */
static __always_inline bool fair_preempts(u64 running, u64 waker)
{
	return running > waker + slice_ns / 2;
}

/*
 * A CPU @p (fair level, virtual time @vtime) should preempt: the allowed CPU
 * running a fair-level task that started furthest ahead in virtual time, if
 * later than @vtime; -1 if none. *@seen gets that CPU's cpu_vtime[] as read,
 * for fair_claim().
 */
__hidden s32 fair_victim(struct task_struct *p, u64 vtime, u64 *seen)
{
	u64 worst = 0, v;
	s32 target = -1;
	u32 cpu;

	bpf_for(cpu, 0, nr_cpus()) {
		if (cpu_prio[CPU_IDX(cpu)] != host_prio)
			continue;
		v = cpu_vtime[CPU_IDX(cpu)];
		if (v > worst && fair_preempts(v, vtime) && bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			worst = v;
			target = cpu;
		}
	}
	*seen = worst;
	return target;
}

/*
 * Claims @cpu, whose task started at virtual time @seen, for a waker of
 * virtual time @vtime (see claim_cpu()); fails if the waker does not preempt
 * it (fair_preempts()) or another waker claimed it first.
 */
__hidden bool fair_claim(s32 cpu, u64 seen, u64 vtime)
{
	return fair_preempts(seen, vtime) &&
	       __sync_bool_compare_and_swap(&cpu_vtime[CPU_IDX(cpu)], seen, vtime);
}
