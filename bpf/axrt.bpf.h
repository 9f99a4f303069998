/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * axrt.bpf.h - what the units of the kernel tier share: the state every
 * unit sees (the loader's parameters, the task context, the group slots,
 * the per-CPU view of what runs), the maps more than one unit uses, small
 * inline helpers, and the functions each unit offers the others.
 *
 * The units, compiled separately and linked into one object (loader/build.rs):
 *   main.bpf.c      the struct_ops callbacks; they call into the others
 *   queue.bpf.c     priority queues, wakeup placement and preemption, dispatch
 *   group.bpf.c     VMs: cgroup -> group slot, task -> group, priority, slice
 *   budget.bpf.c    budgets: charging, enforcement, throttling and parking,
 *                   the period and exhaustion timers
 *   reserve.bpf.c   the starvation reserve
 *   deadline.bpf.c  job deadlines and reservation windows
 *   boost.bpf.c     directed-yield boosts, requeues of re-prioritised tasks
 *   locks.bpf.c     PI-futex lock chains, inheritance, deadlock detection
 *   fair.bpf.c      the host level in virtual time (fair order, wakeup preemption)
 *
 * Functions one unit offers another are __hidden: global for the linker,
 * static for the verifier (checked in their caller's context, so they may
 * take and return pointers). Globals shared by several units are declared
 * extern here and defined once, in the unit named next to them. Maps shared
 * by several units are defined here, __weak: each unit has the same
 * definition, and the linker keeps one.
 */
#ifndef __AXRT_BPF_H
#define __AXRT_BPF_H

#include <scx/common.bpf.h>
#include "intf.h"

/* ---- the loader's parameters (rodata, main.bpf.c; loader/src/sched.rs) ---- */

extern const volatile u64 slice_ns;
extern const volatile u32 queue_mode;
extern const volatile u64 reserve_ns;
extern const volatile u32 host_prio;
extern const volatile bool boost_enabled;	/* false: --no-boost */
extern const volatile bool detail_events;	/* window and job events: --events */

/* ---- constants ---- */

#define MAX_CPUS	1024		/* power of two: indices are masked */
/* cpu_prio[] of a CPU running a throttled background task: below every real priority. */
#define PRIO_BACKGROUND	AXRT_NR_PRIOS
#define CPU_NONE_PRIO	(AXRT_NR_PRIOS + 1)	/* cpu_prio[] of a CPU running nothing of ours */
#define SEQ_MID		(1ULL << 51)	/* vtime mode: tail seqs grow up, head seqs down */
#define SEQ_MASK	((1ULL << 52) - 1)
#define PRIO_SHIFT	52
#define CLOCK_MONOTONIC	1
#define TIMER_ABS	1		/* BPF_F_TIMER_ABS */
#define CPU_IDX(cpu)	((cpu) & (MAX_CPUS - 1))

/* ---- state ---- */

/*
 * A group slot: what user space may read (intf.h), then the period timer and
 * the demand of the current reservation window (deadline.bpf.c).
 */
struct group {
	struct axrt_group_info info;
	u64 next_boundary;	/* absolute time the period timer is armed for */
	u32 timer_armed;
	u32 pad;
	s64 lead_ns;		/* throttle this much early: the measured enforcement latency */
	struct bpf_timer timer;		/* period boundary */
	/* Demand of the current reservation window, under lock. */
	struct bpf_spin_lock lock;
	u32 demand_nr;		/* tasks of the group runnable right now */
	u64 demand_last;	/* when demand_nr last changed */
	u64 demand_acc;		/* runnable task-ns since the window began */
};

/* Per task (task storage). */
struct task_ctx {
	u64 gen;		/* generation the fields below were resolved at; 0 = never */
	u64 enq_ts;		/* when it started waiting; 0 = not waiting */
	u64 run_start;		/* when it last got a CPU */
	u64 slice_given;	/* slice it got when it last started */
	u64 slice_dfl;		/* its slice: an override or slice_ns */
	u32 slot;		/* its group's slot, AXRT_HOST_SLOT if none */
	u32 prio;		/* effective priority: the best of the three below */
	u32 base_prio;		/* from its group or its spec */
	u32 yield_prio;		/* directed-yield boost, AXRT_NR_PRIOS = none (boost.bpf.c) */
	u32 lock_prio;		/* lock-chain boost, AXRT_NR_PRIOS = none (locks.bpf.c) */
	u32 head;		/* preempted before its slice ended: keeps its turn */
	u32 reserve;		/* 1: rescued by the reserve, 2: running on that grant */
	u32 yielded;		/* gave its CPU away (sched_yield, yield_to): to the tail */
	u64 boost_ts;		/* when a yield boost was given; 0 once it ran (latency) */
	u64 yield_since;	/* when its current yield boost began, 0 = none */
	/* Timing contract (intf.h, struct axrt_task_spec) and the open job. */
	u64 period_ns;
	u64 deadline_ns;	/* relative deadline, the period if none was given */
	u64 wcet_ns;
	u64 job_release;	/* when the open job was released, 0 = none */
	u64 job_exec0;		/* its sum_exec_runtime then */
	u32 demand_slot;	/* slot + 1 of the group it counts as runnable in, 0 = none */
	u32 pad;
	u64 vtime;		/* virtual time at the host level (fair.bpf.c) */
};

/*
 * What each CPU runs: its priority (CPU_NONE_PRIO if none) or that of the
 * task that claimed it to preempt it, its group slot, and when its run time
 * was last charged (0 if none). Written by the CPU itself in running/tick/
 * stopping (rq lock, IRQs off), and by claim_cpu(). main.bpf.c.
 */
extern u32 cpu_prio[MAX_CPUS];
extern u32 cpu_slot[MAX_CPUS];
extern u64 cpu_since[MAX_CPUS];
/* Number of groups currently throttled: dispatch looks closer only when > 0. budget.bpf.c. */
extern s32 nr_throttled;
/* Bitmap of non-empty priority levels (bitmap mode). queue.bpf.c. */
extern u64 prio_bits[AXRT_NR_PRIOS / 64];
/* Bitmap of the levels that ever had a task: the ones heal_bits() reads. queue.bpf.c. */
extern u64 used_bits[AXRT_NR_PRIOS / 64];
/* Per CPU: the virtual time of the host-level task it runs. fair.bpf.c. */
extern u64 cpu_vtime[MAX_CPUS];
/* vtime mode sequence counters (see SEQ_MID). queue.bpf.c. */
extern u64 tail_seq;
extern u64 head_seq;

/* ---- maps shared by several units (layouts in intf.h) ---- */

/* Global counters (enum axrt_stat). */
struct axrt_stats_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, AXRT_NR_STATS);
};
struct axrt_stats_map axrt_stats SEC(".maps") __weak;

/* The group slots. */
struct axrt_groups_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct group);
	__uint(max_entries, AXRT_MAX_GROUPS);
};
struct axrt_groups_map axrt_groups SEC(".maps") __weak;

/* Per-group statistics by slot. */
struct axrt_group_stats_map {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, struct axrt_group_stats);
	__uint(max_entries, AXRT_MAX_GROUPS);
};
struct axrt_group_stats_map axrt_group_stats SEC(".maps") __weak;

/* Per-thread statistics: entries made by the loader, updated here. */
struct axrt_task_stats_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, s32);
	__type(value, struct axrt_task_stats);
	__uint(max_entries, 65536);
};
struct axrt_task_stats_map axrt_task_stats SEC(".maps") __weak;

/* Task contexts. */
struct task_ctxs_map {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
};
struct task_ctxs_map task_ctxs SEC(".maps") __weak;

/* The event ring buffer. */
struct axrt_events_map {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AXRT_EVENTS_BYTES);
};
struct axrt_events_map axrt_events SEC(".maps") __weak;

/* ---- small helpers ---- */

static __always_inline void stat_inc(u32 idx)
{
	u64 *cnt = bpf_map_lookup_elem(&axrt_stats, &idx);

	if (cnt)
		(*cnt)++;
}

static __always_inline struct axrt_group_stats *gstats(u32 slot)
{
	return bpf_map_lookup_elem(&axrt_group_stats, &slot);
}

static __always_inline struct axrt_task_stats *task_stats(s32 pid)
{
	return bpf_map_lookup_elem(&axrt_task_stats, &pid);
}

/* The slot of a group (a VM), NULL for the host group and out-of-range slots. */
static __always_inline struct group *group_at(u32 slot)
{
	if (slot == AXRT_HOST_SLOT || slot >= AXRT_MAX_GROUPS)
		return NULL;
	return bpf_map_lookup_elem(&axrt_groups, &slot);
}

static __always_inline struct task_ctx *tctx(struct task_struct *p)
{
	return bpf_task_storage_get(&task_ctxs, p, 0, 0);
}

/* The cgroup id of group @slot, 0 for the host group. */
static __always_inline u64 slot_cgid(u32 slot)
{
	struct group *g = group_at(slot);

	return g ? g->info.cgid : 0;
}

static __always_inline u32 nr_cpus(void)
{
	u32 n = scx_bpf_nr_cpu_ids();

	return n < MAX_CPUS ? n : MAX_CPUS;
}

/* Effective priority: the best of the base priority and the boosts (docs/POLICY.md). */
static __always_inline void update_prio(struct task_ctx *tc)
{
	u32 e = tc->base_prio;

	if (tc->yield_prio < e)
		e = tc->yield_prio;
	if (tc->lock_prio < e)
		e = tc->lock_prio;
	tc->prio = e < AXRT_NR_PRIOS ? e : AXRT_NR_PRIOS - 1;
}

/* The supply-miss slack of a budget of @quota ns: max(quota / 10, 0.5 ms) (intf.h). */
static __always_inline u64 supply_slack(u64 quota)
{
	u64 eps = quota / AXRT_SUPPLY_EPS_DIV;

	return eps < AXRT_SUPPLY_EPS_MIN_NS ? AXRT_SUPPLY_EPS_MIN_NS : eps;
}

/* @g is throttled in background mode: its tasks may only use idle CPUs. */
static __always_inline bool in_background(struct group *g)
{
	return g->info.throttled && g->info.overrun == AXRT_OVERRUN_BACKGROUND;
}

/*
 * Bit tricks without branches: every branch would double the paths the
 * verifier walks, and BPF has no count-trailing-zeros instruction. The index
 * of a power of two is the population count of the bits below it (SWAR).
 */
static __always_inline u32 bit_index(u64 x)
{
	x -= 1;
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Index of the lowest set bit of a non-zero @x. */
static __always_inline u32 lowest_bit(u64 x)
{
	return bit_index(x & -x);
}

/*
 * The histogram bucket of @x (intf.h, AXRT_LAT_BUCKETS): 0 for 0, else
 * floor(log2(@x)) + 1, clamped to the last bucket. Always in range.
 */
static __always_inline u32 hist_bucket(u64 x)
{
	u32 n;

	if (!x)
		return 0;
	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	x |= x >> 32;
	n = bit_index(x - (x >> 1)) + 1;
	return (n < AXRT_LAT_BUCKETS ? n : AXRT_LAT_BUCKETS - 1) & (AXRT_LAT_BUCKETS - 1);
}

/* Fills an event's common fields. */
static __always_inline void ev_fill(struct axrt_event *ev, u32 kind, u64 cgid, s32 pid, u32 prio)
{
	ev->ts_ns = bpf_ktime_get_ns();
	ev->cgid = cgid;
	ev->kind = kind;
	ev->pid = pid;
	ev->cpu = bpf_get_smp_processor_id();
	ev->prio = prio;
	ev->arg = 0;
	ev->arg2 = 0;
	ev->other = 0;
	ev->pad = 0;
}

/* Reserves an event record with its common fields filled; NULL (counted) if the ring is full. */
static __always_inline struct axrt_event *ev_begin(u32 kind, u64 cgid, s32 pid, u32 prio)
{
	struct axrt_event *ev;

	ev = bpf_ringbuf_reserve(&axrt_events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(AXRT_STAT_EV_DROP);
		return NULL;
	}
	ev_fill(ev, kind, cgid, pid, prio);
	return ev;
}

/* Emits an event with one argument. */
static __always_inline void emit(u32 kind, u64 cgid, s32 pid, u32 prio, u64 arg)
{
	struct axrt_event *ev = ev_begin(kind, cgid, pid, prio);

	if (ev) {
		ev->arg = arg;
		bpf_ringbuf_submit(ev, 0);
	}
}

/* Reports a boost of @pid (by @other, @cause) from priority @old to @prio (boosts, lock chains). */
static __always_inline void boost_event(u32 kind, u32 slot, s32 pid, s32 other, u32 prio,
					u64 arg, u32 cause)
{
	struct axrt_event *ev = ev_begin(kind, slot_cgid(slot), pid, prio);

	if (ev) {
		ev->arg = arg;
		ev->arg2 = cause;
		ev->other = other;
		bpf_ringbuf_submit(ev, 0);
	}
}

/* True for the level ordered by virtual time (fair.bpf.c): the host group's. */
static __always_inline bool is_fair(u32 prio)
{
	return prio == host_prio;
}

/* The vtime-mode queue key of a task of level @prio: FIFO sequence @seq, or, at the fair level, its virtual time. */
static __always_inline u64 vtime_key(u32 prio, u64 seq, struct task_ctx *tc)
{
	return ((u64)prio << PRIO_SHIFT) | ((is_fair(prio) ? tc->vtime : seq) & SEQ_MASK);
}

/* Marks priority level @prio non-empty (bitmap mode). */
static __always_inline void set_level_bit(u32 prio)
{
	u32 w = (prio / 64) & 3;
	u64 bit = 1ULL << (prio % 64);

	__sync_fetch_and_or(&prio_bits[w], bit);
	/* Read first: once a level is known, no store (no cache line bouncing). */
	if (!(used_bits[w] & bit))
		__sync_fetch_and_or(&used_bits[w], bit);
}

/*
 * SCX_ENQ_LAST: @p is all this CPU has, and the CPU already chose to idle.
 * Queue @p locally and reschedule the CPU, or it would idle with @p queued.
 */
static __always_inline void run_on_last(struct task_struct *p, u64 slice, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags);
	scx_bpf_kick_cpu(bpf_get_smp_processor_id(), 0);
}

/* ---- what the units offer each other ---- */

/* queue.bpf.c */
__hidden void insert_prio(struct task_struct *p, struct task_ctx *tc, u64 slice, u64 enq_flags);
__hidden void wake_cpu_for(struct task_struct *p, u32 prio, u32 slot, bool force);
__hidden s32 preempt_target(struct task_struct *p, struct task_ctx *tc, s32 prefer);
__hidden bool claim_cpu(s32 cpu, u32 seen, u32 prio);
__hidden void count_preemption(u32 slot);
__hidden u32 take_kick_level(s32 cpu);
__hidden bool dispatch_queued(s32 cpu, u32 limit);
__hidden void dispatch_idle(s32 cpu);
__hidden s32 queue_init(void);

/* group.bpf.c */
__hidden void ensure_resolved(struct task_struct *p, struct task_ctx *tc);
__hidden void bump_generation(void);
__hidden bool refresh_group(struct group *g);
__hidden void group_free(struct group *g);
__hidden void group_cgroup_bw(struct cgroup *cgrp, u64 period_us, u64 quota_us);
__hidden void group_cgroup_exit(struct cgroup *cgrp);

/* budget.bpf.c */
__hidden void arm_group_timer(struct group *g);
__hidden bool budget_park(struct task_struct *p, struct task_ctx *tc, u64 enq_flags);
__hidden u64 budget_running(struct task_struct *p, struct task_ctx *tc, u32 cpu, u64 now);
__hidden void budget_charge(u32 cpu, u64 now);
__hidden void budget_tick(struct task_struct *p, struct task_ctx *tc);
__hidden void budget_stopping(struct task_ctx *tc);
__hidden s32 budget_init(void);

/* reserve.bpf.c */
__hidden bool reserve_dispatch(void);
__hidden bool reserve_running(struct task_ctx *tc, struct axrt_group_stats *st);
__hidden s32 reserve_init(void);

/* deadline.bpf.c */
__hidden void demand_track(struct task_ctx *tc, u64 now);
__hidden void demand_runnable(struct task_struct *p, struct task_ctx *tc, u64 enq_flags, u64 now);
__hidden void demand_quiescent(struct task_struct *p, struct task_ctx *tc, u64 deq_flags, u64 now);
__hidden void close_window(struct group *g, u32 slot, u64 quota, s64 live, u64 now);

/* fair.bpf.c */
__hidden void fair_init_task(struct task_ctx *tc);
__hidden void fair_wakeup(struct task_ctx *tc);
__hidden void fair_running(struct task_ctx *tc, u32 cpu);
__hidden void fair_stopping(struct task_struct *p, struct task_ctx *tc, u64 now);
__hidden s32 fair_victim(struct task_struct *p, u64 vtime, u64 *seen);
__hidden bool fair_claim(s32 cpu, u64 seen, u64 vtime);

/* boost.bpf.c */
__hidden void count_boost(u32 from_slot, s32 from, u32 to_slot, s32 to);
__hidden bool is_prio_dsq(u64 id);
__hidden u64 queued_on(struct task_struct *p);
__hidden void request_requeue(s32 pid, s32 cpu);
__hidden bool dispatch_boosts(s32 cpu);
__hidden bool boost_yield(struct task_struct *from, struct task_struct *to);
__hidden void boost_running(struct task_ctx *tc, struct axrt_group_stats *st, u64 now);
__hidden void boost_stopping(struct task_struct *p, struct task_ctx *tc, u64 now);

/*
 * Puts @p, taken from a park or background DSQ by the iterator @it, back in
 * the priority queue of its level, and wakes a CPU for it (budget.bpf.c's
 * unparking). Inline: an iterator stays in the frame that owns it.
 */
static __always_inline void requeue_from_iter(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					      struct task_ctx *tc)
{
	u32 prio = tc->prio & (AXRT_NR_PRIOS - 1);
	u64 seq;

	if (queue_mode == AXRT_QUEUE_VTIME) {
		seq = __sync_fetch_and_add(&tail_seq, 1);
		scx_bpf_dsq_move_set_vtime(it, vtime_key(prio, seq, tc));
		scx_bpf_dsq_move_vtime(it, p, AXRT_DSQ_VTIME, 0);
	} else if (is_fair(prio)) {
		scx_bpf_dsq_move_set_vtime(it, tc->vtime);
		scx_bpf_dsq_move_vtime(it, p, AXRT_DSQ_LEVEL0 + prio, 0);
		set_level_bit(prio);
	} else {
		scx_bpf_dsq_move(it, p, AXRT_DSQ_LEVEL0 + prio, 0);
		set_level_bit(prio);
	}
	wake_cpu_for(p, tc->prio, tc->slot, false);
}

#endif /* __AXRT_BPF_H */
