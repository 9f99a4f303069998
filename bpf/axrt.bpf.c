// SPDX-License-Identifier: GPL-2.0-only
/*
 * axrt.bpf.c - the kernel tier of scx_axrt, a sched_ext scheduler for KVM
 * vCPU threads (see spec/ARCHITECTURE.md, "Two tiers on Linux").
 *
 * Version 1 is a work-conserving global FIFO, the base the priority scheduler
 * grows from:
 *
 *   select_cpu  the kernel's default idle-CPU pick; when the CPU it returns is
 *               idle, the task goes straight to that CPU's local DSQ and
 *               ops.enqueue() is skipped.
 *   enqueue     everything else joins the tail of one shared DSQ, and an idle
 *               CPU the task may use (if any) is kicked to come and take it.
 *   dispatch    a CPU that needs work takes the head of the shared DSQ; if the
 *               DSQ is empty and the previous task still wants the CPU, that
 *               task runs on for another slice.
 *   exit        the exit reason is recorded for user space (UEI).
 *
 * Every task gets the same slice, slice_ns, set by the loader before load.
 * The shape to keep as the policy grows: queue_task() decides where a task
 * waits, pick_next() decides what a CPU takes, and both count what they did.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Time slice for every task, in ns; written by the loader before load. */
const volatile u64 slice_ns = AXRT_SLICE_NS_DFL;

/* Why and how the scheduler stopped, read by the loader after an exit. */
UEI_DEFINE(uei);

/* Per-CPU event counters indexed by enum axrt_stat (intf.h). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, AXRT_NR_STATS);
} axrt_stats SEC(".maps");

static __always_inline void stat_inc(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&axrt_stats, &idx);

	if (cnt)
		(*cnt)++;
}

/*
 * Put @p where it waits for a CPU: the tail of the shared FIFO. The caller
 * holds no lock; @enq_flags are the ones ops.enqueue() received.
 */
static __always_inline void queue_task(struct task_struct *p, u64 enq_flags)
{
	s32 cpu;

	scx_bpf_dsq_insert(p, AXRT_DSQ_SHARED, slice_ns, enq_flags);
	stat_inc(AXRT_STAT_SHARED);

	/*
	 * Stay work-conserving: a task can land here while a CPU it may use is
	 * idle (no select_cpu() for this enqueue, or a CPU went idle after it
	 * ran). Wake such a CPU; its dispatch takes the head of the FIFO.
	 */
	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		stat_inc(AXRT_STAT_KICK);
	}
}

/* Give the dispatching CPU the next task to run; true if one was moved. */
static __always_inline bool pick_next(void)
{
	return scx_bpf_dsq_move_to_local(AXRT_DSQ_SHARED, 0);
}

s32 BPF_STRUCT_OPS(axrt_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
		stat_inc(AXRT_STAT_DIRECT);
	}

	return cpu;
}

void BPF_STRUCT_OPS(axrt_enqueue, struct task_struct *p, u64 enq_flags)
{
	queue_task(p, enq_flags);
}

void BPF_STRUCT_OPS(axrt_dispatch, s32 cpu, struct task_struct *prev)
{
	if (pick_next()) {
		stat_inc(AXRT_STAT_DISPATCH);
		return;
	}

	/*
	 * Nothing waits. If @prev still wants to run, the kernel keeps it on
	 * this CPU; give it our slice instead of the kernel's default one.
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED)) {
		scx_bpf_task_set_slice(prev, slice_ns);
		stat_inc(AXRT_STAT_KEEP);
	}
}

s32 BPF_STRUCT_OPS_SLEEPABLE(axrt_init)
{
	s32 ret;

	ret = scx_bpf_create_dsq(AXRT_DSQ_SHARED, NUMA_NO_NODE);
	if (ret)
		scx_bpf_error("failed to create the shared DSQ: %d", ret);

	return ret;
}

void BPF_STRUCT_OPS(axrt_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

void BPF_STRUCT_OPS(axrt_dump, struct scx_dump_ctx *dctx)
{
	scx_bpf_dump("axrt: shared FIFO depth %d, slice %llu ns\n",
		     scx_bpf_dsq_nr_queued(AXRT_DSQ_SHARED), slice_ns);
}

SCX_OPS_DEFINE(axrt_ops,
	       .select_cpu	= (void *)axrt_select_cpu,
	       .enqueue		= (void *)axrt_enqueue,
	       .dispatch	= (void *)axrt_dispatch,
	       .init		= (void *)axrt_init,
	       .exit		= (void *)axrt_exit,
	       .dump		= (void *)axrt_dump,
	       .timeout_ms	= AXRT_TIMEOUT_MS,
	       .name		= "axrt");
