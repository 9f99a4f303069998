// SPDX-License-Identifier: GPL-2.0-only
/*
 * axrt.bpf.c - the kernel tier of scx_axrt, a sched_ext scheduler for KVM
 * vCPU threads (spec/ARCHITECTURE.md, "Two tiers on Linux"). It implements
 * the AxRT semantics of spec/POLICY.md ("Choosing what runs", "Budgets"),
 * the same ones the axrt-policy crate defines:
 *
 * Priorities. Every task has an effective priority 0 (best) .. 255. Tasks
 * wait in priority order, FIFO within a level; a task that uses up its slice
 * goes behind the others of its level, a preempted one keeps its turn. Two
 * queue designs, chosen at load time (rodata queue_mode):
 *   bitmap  a 256-bit bitmap of non-empty levels and one FIFO DSQ per level;
 *           dispatch takes the lowest set bit's DSQ.
 *   vtime   one DSQ ordered by key = prio << 52 | sequence; the sequence
 *           grows for tail inserts and shrinks for head inserts.
 * An idle CPU found in select_cpu takes the task directly (local DSQ).
 *
 * Preemption. cpu_prio[] holds the priority of what each CPU runs (set in
 * running, cleared in stopping), or of the task that has claimed it to
 * preempt it. A waking task with no idle CPU is sent by select_cpu to the
 * allowed CPU running the worst priority, if worse than its own, and enqueue
 * claims that CPU and puts the task on its local DSQ with SCX_ENQ_PREEMPT.
 * Other enqueues claim and kick (SCX_KICK_PREEMPT) that CPU instead.
 *
 * Groups (VMs). A group is a cgroup and everything below it: the nearest
 * ancestor cgroup that has a spec (axrt_group_spec, written by the loader)
 * or a cpu.max budget (axrt_cgroup_bw). Each group has a slot in axrt_groups
 * with its budget and two bpf_timers: one at each period boundary, one at
 * the moment the budget runs out if the group's running tasks keep running.
 * Every ns a task runs is charged to its group, per CPU (cpu_since[], at
 * tick and stopping); a budgeted task's slice is capped at its group's
 * remaining budget (shared among the group's running tasks). When the
 * exhaustion timer finds the live budget (charged budget minus what the
 * group's CPUs used since their last charge) at zero, the group is
 * throttled: its CPUs are kicked, its queued tasks are parked (DSQ
 * AXRT_DSQ_PARK + slot) or, in background mode, demoted to AXRT_DSQ_BG,
 * which a CPU takes only when it would otherwise idle. The boundary timer
 * refills the budget (no carry-over) and moves the parked tasks back. The
 * throttle lands late by the time the CPUs take to switch away; lead_ns,
 * learnt each period, makes it that much earlier. A removed cgroup's slot
 * is freed by its timer.
 *
 * Starvation reserve. A timer every reserve/4 looks at the waiting tasks;
 * one that waited longer than reserve_ns moves to AXRT_DSQ_RESERVE, which
 * every dispatch serves first, and a CPU is kicked for it. This keeps every
 * wait far below the watchdog timeout. (Timers may move tasks between DSQs:
 * they run without a rq lock held.)
 *
 * Statistics: per-CPU counters (axrt_stats), per-group per-CPU stats with a
 * log2 wakeup-latency histogram (axrt_group_stats), and an event ring
 * buffer (axrt_events). Layouts are in intf.h.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Written by the loader before load (loader/src/sched.rs). */
const volatile u64 slice_ns = AXRT_SLICE_NS_DFL;
const volatile u32 queue_mode = AXRT_QUEUE_BITMAP;
const volatile u64 reserve_ns = AXRT_RESERVE_MS_DFL * 1000000ULL;
const volatile u32 host_prio = AXRT_PRIO_HOST_DFL;
const volatile bool boost_enabled = true;	/* false: --no-boost */

UEI_DEFINE(uei);

#define MAX_CPUS	1024		/* power of two: indices are masked */
/* cpu_prio[] of a CPU running a throttled background task: below every real priority. */
#define PRIO_BACKGROUND	AXRT_NR_PRIOS
#define CPU_NONE_PRIO	(AXRT_NR_PRIOS + 1)	/* cpu_prio[] of a CPU running nothing of ours */
#define UNCHARGED_UNIT	(2 * MAX_CPUS)	/* group_uncharged(): room for a count of CPUs */
#define MAX_DEPTH	16		/* cgroup ancestors looked at for a group */
#define SEQ_MID		(1ULL << 51)	/* vtime mode: tail seqs grow up, head seqs down */
#define SEQ_MASK	((1ULL << 52) - 1)
#define PRIO_SHIFT	52
#define CLOCK_MONOTONIC	1
#define TIMER_ABS	1		/* BPF_F_TIMER_ABS */

/* ---- maps shared with user space (layouts in intf.h) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u64));
	__uint(max_entries, AXRT_NR_STATS);
} axrt_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, struct axrt_group_spec);
	__uint(max_entries, 4096);
} axrt_group_spec SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, struct axrt_cgroup_bw);
	__uint(max_entries, 4096);
} axrt_cgroup_bw SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, s32);
	__type(value, struct axrt_task_spec);
	__uint(max_entries, 65536);
} axrt_task_spec SEC(".maps");

/* One u64: bumped (by the loader or by cgroup callbacks) to make tasks re-resolve. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, u64);
	__uint(max_entries, 1);
} axrt_generation SEC(".maps");

/* A group slot: what user space may read, then the replenishment timer. */
struct group {
	struct axrt_group_info info;
	u64 next_boundary;	/* absolute time the timer is armed for */
	u32 timer_armed;
	u32 pad;
	s64 lead_ns;		/* throttle this much early: the measured enforcement latency */
	struct bpf_timer timer;		/* period boundary */
	/* Demand of the current reservation window (deadline.bpf.h), under lock. */
	struct bpf_spin_lock lock;
	u32 demand_nr;		/* tasks of the group runnable right now */
	u64 demand_last;	/* when demand_nr last changed */
	u64 demand_acc;		/* runnable task-ns since the window began */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct group);
	__uint(max_entries, AXRT_MAX_GROUPS);
} axrt_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, struct axrt_group_stats);
	__uint(max_entries, AXRT_MAX_GROUPS);
} axrt_group_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AXRT_EVENTS_BYTES);
} axrt_events SEC(".maps");

/* Per-thread statistics: entries made by the loader, updated here. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, s32);
	__type(value, struct axrt_task_stats);
	__uint(max_entries, 65536);
} axrt_task_stats SEC(".maps");

/* ---- BPF-private state ---- */

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

/* cgroup id -> group slot, for the cgroups that have one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, u32);
	__uint(max_entries, AXRT_MAX_GROUPS);
} slot_of SEC(".maps");

struct reserve_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, u32);
	__type(value, struct reserve_timer);
	__uint(max_entries, 1);
} reserve_timer SEC(".maps");

struct task_ctx {
	u64 gen;		/* generation the fields below were resolved at; 0 = never */
	u64 enq_ts;		/* when it started waiting; 0 = not waiting */
	u64 run_start;		/* when it last got a CPU */
	u64 slice_given;	/* slice it got when it last started */
	u64 slice_dfl;		/* its slice: an override or slice_ns */
	u32 slot;		/* its group's slot, AXRT_HOST_SLOT if none */
	u32 prio;		/* effective priority: the best of the three below */
	u32 base_prio;		/* from its group or its spec */
	u32 yield_prio;		/* directed-yield boost, AXRT_NR_PRIOS = none (boost.bpf.h) */
	u32 lock_prio;		/* lock-chain boost, AXRT_NR_PRIOS = none (locks.bpf.h) */
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
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

/*
 * What each CPU runs: its priority (CPU_NONE_PRIO if none), its group slot,
 * and when its run time was last charged (0 if none). Written only by the
 * CPU itself, in running/tick/stopping (rq lock, IRQs off).
 */
u32 cpu_prio[MAX_CPUS];
u32 cpu_slot[MAX_CPUS];
u64 cpu_since[MAX_CPUS];
/* The level a CPU was last kicked for (bitmap mode), AXRT_NR_PRIOS if none: see wake_cpu_for(). */
u32 kick_level[MAX_CPUS];

/* Bitmap of non-empty priority levels (bitmap mode). */
u64 prio_bits[AXRT_NR_PRIOS / 64];

/* vtime mode sequence counters (see SEQ_MID). */
u64 tail_seq = SEQ_MID;
u64 head_seq = SEQ_MID;

/* Number of groups currently throttled: dispatch looks closer only when > 0. */
s32 nr_throttled;

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

/* Effective priority: the best of the base priority and the boosts (spec/POLICY.md). */
static __always_inline void update_prio(struct task_ctx *tc)
{
	u32 e = tc->base_prio;

	if (tc->yield_prio < e)
		e = tc->yield_prio;
	if (tc->lock_prio < e)
		e = tc->lock_prio;
	tc->prio = e < AXRT_NR_PRIOS ? e : AXRT_NR_PRIOS - 1;
}

static __always_inline u64 cur_generation(void)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&axrt_generation, &zero);

	return gen ? *gen : 0;
}

static __always_inline void bump_generation(void)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&axrt_generation, &zero);

	if (gen)
		__sync_fetch_and_add(gen, 1);
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

/* floor(log2(@x)) for @x > 0, clamped to the histogram. */
static __always_inline u32 lat_bucket(u64 x)
{
	u32 n;

	x |= x >> 1;
	x |= x >> 2;
	x |= x >> 4;
	x |= x >> 8;
	x |= x >> 16;
	x |= x >> 32;
	n = bit_index(x - (x >> 1));
	return n < AXRT_LAT_BUCKETS ? n : AXRT_LAT_BUCKETS - 1;
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

static void emit(u32 kind, u64 cgid, s32 pid, u32 prio, u64 arg)
{
	struct axrt_event *ev = ev_begin(kind, cgid, pid, prio);

	if (ev) {
		ev->arg = arg;
		bpf_ringbuf_submit(ev, 0);
	}
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

/* ---- groups ---- */

/*
 * Brings @g's parameters up to date with its spec and cpu.max: cpu.max wins
 * for the budget, the spec gives priority and overrun mode. Returns false
 * when the cgroup is no group any more.
 */
static bool refresh_group(struct group *g)
{
	struct axrt_group_spec *spec;
	struct axrt_cgroup_bw *bw;
	u64 cgid = g->info.cgid;

	spec = bpf_map_lookup_elem(&axrt_group_spec, &cgid);
	bw = bpf_map_lookup_elem(&axrt_cgroup_bw, &cgid);
	/*
	 * Branch on each pointer separately: "!spec && !bw" lets clang OR the
	 * two pointers, which the verifier refuses.
	 */
	if (spec) {
		g->info.prio = spec->prio < AXRT_NR_PRIOS ? spec->prio : host_prio;
		g->info.overrun = spec->overrun;
	} else if (bw) {
		g->info.prio = host_prio;
		g->info.overrun = AXRT_OVERRUN_THROTTLE;
	} else {
		return false;
	}
	if (bw && bw->period_ns) {
		g->info.quota_ns = bw->quota_ns;
		g->info.period_ns = bw->period_ns;
	} else if (spec && spec->quota_ns && spec->period_ns) {
		g->info.quota_ns = spec->quota_ns;
		g->info.period_ns = spec->period_ns;
	} else {
		g->info.quota_ns = 0;
		g->info.period_ns = 0;
	}
	return true;
}

/* Arms @g's boundary timer if it has a budget and no timer is pending. */
static void arm_group_timer(struct group *g)
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

/*
 * A slot taken by a new cgroup counts from zero: what its previous group
 * counted is the loader's to keep (its ledger credits it to that group).
 */
static void reset_slot_stats(u32 slot)
{
	struct axrt_group_stats *st;
	u32 cpu;

	bpf_for(cpu, 0, nr_cpus()) {
		st = bpf_map_lookup_percpu_elem(&axrt_group_stats, &slot, cpu);
		if (st)
			__builtin_memset(st, 0, sizeof(*st));
	}
}

/*
 * The slot of the group whose cgroup id is @cgid, taking a free slot if
 * the cgroup has a spec or a cpu.max budget but no slot yet; -1 if it is no
 * group. Slow path: runs only when a task (re)resolves.
 */
static s32 group_slot(u64 cgid)
{
	struct group *g;
	u32 *slotp, s;

	slotp = bpf_map_lookup_elem(&slot_of, &cgid);
	if (slotp)
		return *slotp;
	if (!bpf_map_lookup_elem(&axrt_group_spec, &cgid)) {
		void *bw = bpf_map_lookup_elem(&axrt_cgroup_bw, &cgid);

		barrier_var(bw);
		if (!bw)
			return -1;
	}

	bpf_for(s, 1, AXRT_MAX_GROUPS) {
		g = group_at(s);
		if (!g || g->info.cgid)
			continue;
		if (__sync_val_compare_and_swap(&g->info.cgid, 0, cgid) != 0)
			continue;
		if (bpf_map_update_elem(&slot_of, &cgid, &s, BPF_NOEXIST)) {
			/* Another CPU made this group meanwhile: use its slot. */
			g->info.cgid = 0;
			slotp = bpf_map_lookup_elem(&slot_of, &cgid);
			return slotp ? *slotp : -1;
		}
		reset_slot_stats(s);
		g->info.throttled = 0;
		g->info.nr_running = 0;
		g->info.budget_ns = 0;
		g->lead_ns = 0;
		g->demand_nr = 0;
		g->demand_acc = 0;
		g->demand_last = bpf_ktime_get_ns();
		refresh_group(g);
		arm_group_timer(g);
		return s;
	}
	scx_bpf_error("axrt: more than %d groups", AXRT_MAX_GROUPS - 1);
	return -1;
}

/*
 * Works out @p's group (nearest ancestor cgroup that is one), effective
 * priority and slice, and caches them in @tc. Runs under the rq lock
 * (enqueue/running), where scx_bpf_task_cgroup() is allowed.
 */
static void resolve(struct task_struct *p, struct task_ctx *tc, u64 gen)
{
	struct axrt_task_spec *ts;
	struct cgroup *cgrp, *anc;
	struct group *g;
	u32 slot = AXRT_HOST_SLOT, prio = host_prio;
	s32 s, i, level;
	s32 pid = p->pid;

	cgrp = scx_bpf_task_cgroup(p);
	if (cgrp) {
		level = cgrp->level;
		bpf_for(i, 0, MAX_DEPTH) {
			if (level - i < 0)
				break;
			anc = bpf_cgroup_ancestor(cgrp, level - i);
			if (!anc)
				break;
			s = group_slot(anc->kn->id);
			bpf_cgroup_release(anc);
			if (s > 0) {
				slot = s;
				break;
			}
		}
		bpf_cgroup_release(cgrp);
	}

	g = group_at(slot);
	if (g) {
		if (!refresh_group(g)) {
			slot = AXRT_HOST_SLOT;
		} else {
			prio = g->info.prio;
			arm_group_timer(g);
		}
	}

	tc->slice_dfl = slice_ns;
	tc->period_ns = 0;
	ts = bpf_map_lookup_elem(&axrt_task_spec, &pid);
	if (ts) {
		if (ts->prio < AXRT_NR_PRIOS)
			prio = ts->prio;
		if (ts->slice_ns)
			tc->slice_dfl = ts->slice_ns;
		tc->period_ns = ts->period_ns;
		tc->deadline_ns = ts->deadline_ns ?: ts->period_ns;
		tc->wcet_ns = ts->wcet_ns;
	}
	if (!tc->period_ns)
		tc->job_release = 0;
	tc->slot = slot;
	tc->base_prio = prio < AXRT_NR_PRIOS ? prio : AXRT_NR_PRIOS - 1;
	update_prio(tc);
	tc->gen = gen;
	stat_inc(AXRT_STAT_RESOLVE);
}

static __always_inline void ensure_resolved(struct task_struct *p, struct task_ctx *tc)
{
	u64 gen = cur_generation();

	/* Generations start at 0 and a fresh task has gen 0: use gen + 1. */
	if (tc->gen != gen + 1)
		resolve(p, tc, gen + 1);
}

/* Kicks every CPU running a task of group @slot so it stops at once. */
static void kick_group_cpus(u32 slot)
{
	u32 cpu, n = nr_cpus();

	bpf_for(cpu, 0, n) {
		if (cpu_slot[cpu & (MAX_CPUS - 1)] == slot)
			scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	}
}

/* @g is throttled in background mode: its tasks may only use idle CPUs. */
static __always_inline bool in_background(struct group *g)
{
	return g->info.throttled && g->info.overrun == AXRT_OVERRUN_BACKGROUND;
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
 * Charges what this CPU ran since its last charge to the group of what it
 * runs, and throttles the group if that used up its budget.
 */
static __always_inline void charge_cpu(u32 cpu, u64 now)
{
	struct axrt_group_stats *st;
	struct group *g;
	u64 since = cpu_since[cpu & (MAX_CPUS - 1)], delta;
	u32 slot = cpu_slot[cpu & (MAX_CPUS - 1)];
	s64 left;

	if (!since || now <= since)
		return;
	cpu_since[cpu & (MAX_CPUS - 1)] = now;
	delta = now - since;
	st = gstats(slot);
	if (st)
		st->runtime_ns += delta;
	g = group_at(slot);
	/* A background run uses time nobody wanted: not charged to the budget. */
	if (!g || !g->info.quota_ns || cpu_prio[cpu & (MAX_CPUS - 1)] == PRIO_BACKGROUND)
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
		c = cpu & (MAX_CPUS - 1);
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
 * (nearly) used up, else arms its exhaustion timer for when it will be if
 * its running tasks keep running. Called when one of its tasks starts, at
 * its period boundary and from the timer itself; a task stopping only
 * makes the timer early, and it then re-arms.
 *
 * "Used up" is "down to lead_ns": a throttle lands only when the group's
 * CPUs have stopped its tasks (timer latency, a kick, a context switch),
 * and the group runs on meanwhile. learn_lead() measures that overrun and
 * moves lead_ns to cancel it: about a millisecond under emulation (expected:
 * tens of us on hardware).
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
 * charged to the budget). Moves lead_ns a quarter of the way to cancel
 * that, within [0, quota / 2].
 */
static void learn_lead(struct group *g)
{
	s64 lead;

	lead = g->lead_ns - g->info.budget_ns / 4;
	if (lead < 0)
		lead = 0;
	if (lead > (s64)(g->info.quota_ns / 2))
		lead = g->info.quota_ns / 2;
	g->lead_ns = lead;
}

#include "deadline.bpf.h"

/* ---- queues ---- */

static __always_inline void set_level_bit(u32 prio)
{
	__sync_fetch_and_or(&prio_bits[(prio / 64) & 3], 1ULL << (prio % 64));
}

/* What worst_cpu() found. */
struct cpu_pick {
	s32 none_cpu;	/* an allowed CPU between two tasks, or -1 */
	u32 seen;	/* cpu_prio[] of the CPU returned, as read, for claim_cpu() */
};

/*
 * The allowed CPU running the worst priority, if that is worse than @prio
 * (with @force: whatever it runs), @prefer winning ties: preempting it costs
 * least (no IPI when it is this CPU). -1 if there is none; then
 * @pick->none_cpu says whether some allowed CPU is between two tasks.
 */
static s32 worst_cpu(struct task_struct *p, u32 prio, s32 prefer, bool force,
		     struct cpu_pick *pick)
{
	u32 cpu, worst = force ? 0 : prio, cp;
	s32 target = -1;

	pick->none_cpu = -1;
	bpf_for(cpu, 0, nr_cpus()) {
		cp = cpu_prio[cpu & (MAX_CPUS - 1)];
		/*
		 * A CPU between two tasks (CPU_NONE_PRIO) is dispatching or
		 * about to go idle: only the fallback, when no CPU runs
		 * anything worse.
		 */
		if (cp >= CPU_NONE_PRIO) {
			if (pick->none_cpu < 0 && bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
				pick->none_cpu = cpu;
			continue;
		}
		if ((cp > worst || (force && target < 0) ||
		     (cp == worst && target >= 0 && cpu == prefer)) &&
		    bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			worst = cp;
			target = cpu;
		}
	}
	pick->seen = worst;
	return target;
}

/*
 * Claims @cpu for a task of priority @prio that is about to preempt it:
 * cpu_prio[] goes from @seen (what the caller's scan read) to @prio at once,
 * not only when the task starts running. Tasks waking together (timers of the
 * same period expire in one interrupt) then each see the CPUs already taken
 * and spread out, instead of all picking the same worst CPU and queueing
 * behind each other on its local DSQ, where priority order no longer holds.
 * Fails if another waker claimed it first, or the CPU switched tasks.
 */
static __always_inline bool claim_cpu(s32 cpu, u32 seen, u32 prio)
{
	return __sync_bool_compare_and_swap(&cpu_prio[cpu & (MAX_CPUS - 1)], seen, prio);
}

static __always_inline void count_preemption(u32 slot)
{
	struct axrt_group_stats *st = gstats(slot);

	stat_inc(AXRT_STAT_PREEMPT);
	if (st)
		st->preemptions++;
}

/*
 * Wakes a CPU for @p (priority @prio) which just became queued: an idle CPU
 * it may use, else worst_cpu() (this CPU winning ties). The kicked CPU
 * re-checks @p's level bit (kick_level[]): a dispatch that ran between this
 * enqueue and the moment its insert landed may have cleared it.
 * The CPU is claimed first (claim_cpu()); a lost race scans again, up to
 * three times, then kicks without a claim.
 *
 * Else another CPU between two tasks gets a plain kick, in case it goes
 * idle; if it starts a worse task instead, that task's running() finds the
 * kick level better than its own and yields at once. This CPU, if it is
 * between tasks, dispatches next anyway: kicking it would only preempt
 * whatever it picks (a preempt storm).
 */
static void wake_cpu_for(struct task_struct *p, u32 prio, u32 slot, bool force)
{
	s32 cpu, self = bpf_get_smp_processor_id();
	struct cpu_pick pick;
	u32 tries;

	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		kick_level[cpu & (MAX_CPUS - 1)] = prio;
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		stat_inc(AXRT_STAT_KICK);
		return;
	}
	for (tries = 0; tries < 3; tries++) {
		cpu = worst_cpu(p, prio, self, force, &pick);
		if (cpu < 0 || claim_cpu(cpu, pick.seen, prio))
			break;
	}
	if (cpu < 0) {
		if (pick.none_cpu >= 0 && pick.none_cpu != self) {
			kick_level[pick.none_cpu & (MAX_CPUS - 1)] = prio;
			scx_bpf_kick_cpu(pick.none_cpu, 0);
		}
		return;
	}
	kick_level[cpu & (MAX_CPUS - 1)] = prio;
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	count_preemption(slot);
}

/* Inserts @p into the priority queue of its level (not waking anything). */
static __always_inline void insert_prio(struct task_struct *p, struct task_ctx *tc,
					u64 slice, u64 enq_flags)
{
	u32 prio = tc->prio & (AXRT_NR_PRIOS - 1);
	bool head = tc->head;
	u64 seq;

	tc->head = 0;
	if (queue_mode == AXRT_QUEUE_VTIME) {
		if (head)
			seq = __sync_fetch_and_sub(&head_seq, 1) - 1;
		else
			seq = __sync_fetch_and_add(&tail_seq, 1);
		scx_bpf_dsq_insert_vtime(p, AXRT_DSQ_VTIME, slice,
					 ((u64)prio << PRIO_SHIFT) | (seq & SEQ_MASK), enq_flags);
	} else {
		scx_bpf_dsq_insert(p, AXRT_DSQ_LEVEL0 + prio, slice,
				   enq_flags | (head ? SCX_ENQ_HEAD : 0));
		set_level_bit(prio);
	}
}

s32 BPF_STRUCT_OPS(axrt_select_cpu, struct task_struct *p, s32 prev_cpu,
		   u64 wake_flags)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;
	bool is_idle = false;
	s32 cpu, target;
	struct cpu_pick pick;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (!tc)
		return cpu;
	if (!is_idle) {
		/*
		 * No idle CPU: wake up on the CPU @p will preempt, if any
		 * (its priority as last resolved), so that enqueue can take it
		 * over directly, with no queue round trip and at most one IPI.
		 */
		target = worst_cpu(p, tc->prio, prev_cpu, false, &pick);
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
 * SCX_ENQ_LAST: @p is all this CPU has, and the CPU already chose to idle.
 * Queue @p locally and reschedule the CPU, or it would idle with @p queued.
 */
static __always_inline void run_on_last(struct task_struct *p, u64 slice, u64 enq_flags)
{
	scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice, enq_flags);
	scx_bpf_kick_cpu(bpf_get_smp_processor_id(), 0);
}

void BPF_STRUCT_OPS(axrt_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;
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

	g = group_at(tc->slot);
	if (g && g->info.throttled) {
		tc->head = 0;
		if (g->info.overrun == AXRT_OVERRUN_BACKGROUND) {
			stat_inc(AXRT_STAT_BG);
			/* This CPU found nothing else to run: time nobody wants. */
			if (enq_flags & SCX_ENQ_LAST) {
				run_on_last(p, tc->slice_dfl, enq_flags);
				return;
			}
			scx_bpf_dsq_insert(p, AXRT_DSQ_BG, tc->slice_dfl, enq_flags);
			/* Only an idle CPU may take it. */
			wake_cpu_for(p, PRIO_BACKGROUND, tc->slot, false);
		} else {
			scx_bpf_dsq_insert(p, AXRT_DSQ_PARK + tc->slot, tc->slice_dfl, enq_flags);
			stat_inc(AXRT_STAT_PARKED);
		}
		return;
	}

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
	cp = cpu_prio[cpu & (MAX_CPUS - 1)];
	if (tc->prio < cp && cp != CPU_NONE_PRIO && bpf_cpumask_test_cpu(cpu, p->cpus_ptr) &&
	    claim_cpu(cpu, cp, tc->prio)) {
		tc->head = 0;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, tc->slice_dfl, enq_flags | SCX_ENQ_PREEMPT);
		count_preemption(tc->slot);
		return;
	}

	insert_prio(p, tc, tc->slice_dfl, enq_flags);
	stat_inc(AXRT_STAT_QUEUED);
	wake_cpu_for(p, tc->prio, tc->slot, false);
}

/*
 * Slow pick from @dsq while some group is throttled: queued tasks of a
 * throttled group are parked on the way (or demoted) instead of run.
 * Returns true once a task was moved to this CPU.
 */
__noinline bool pick_slow(u64 dsq, s32 cpu)
{
	struct task_struct *p;
	struct task_ctx *tc;
	struct group *g;

	/* The iterator sees only the tasks queued when it started: bounded. */
	bpf_for_each(scx_dsq, p, dsq, 0) {
		tc = tctx(p);
		g = tc ? group_at(tc->slot) : NULL;
		if (g && g->info.throttled) {
			if (g->info.overrun == AXRT_OVERRUN_BACKGROUND)
				scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, AXRT_DSQ_BG, 0);
			else
				scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, AXRT_DSQ_PARK + tc->slot, 0);
			continue;
		}
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0))
			return true;
	}
	return false;
}

static __always_inline bool take_from(u64 dsq, s32 cpu)
{
	if (nr_throttled > 0)
		return pick_slow(dsq, cpu);
	return scx_bpf_dsq_move_to_local(dsq, 0);
}

/* The lowest non-empty level >= @from, or AXRT_NR_PRIOS if none. */
static __always_inline u32 first_level_from(u32 from)
{
	u64 word;
	int w;

#pragma unroll
	for (w = 0; w < AXRT_NR_PRIOS / 64; w++) {
		if (from >= (w + 1) * 64)
			continue;
		word = prio_bits[w];
		if (from > w * 64)
			word &= ~0ULL << (from - w * 64);
		if (word)
			return w * 64 + lowest_bit(word);
	}
	return AXRT_NR_PRIOS;
}

/* Bitmap mode: runs the best queued task of priority <= @limit. */
static bool pick_bitmap(u32 limit, s32 cpu)
{
	u32 tries, level, from = 0;

	bpf_for(tries, 0, 16) {
		level = first_level_from(from);
		if (level > limit || level >= AXRT_NR_PRIOS)
			return false;
		if (take_from(AXRT_DSQ_LEVEL0 + level, cpu))
			return true;
		/*
		 * Nothing this CPU could take. Clear the bit if the level is
		 * empty, then look again: an enqueue may have raced.
		 */
		if (scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + level) == 0) {
			__sync_fetch_and_and(&prio_bits[(level / 64) & 3], ~(1ULL << (level % 64)));
			if (scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + level) > 0)
				set_level_bit(level);
		}
		from = level + 1;
	}
	return false;
}

/*
 * ops.enqueue's inserts land after it returns, so a dispatching CPU can find
 * a level empty, clear its bit, and miss the task that arrives just after.
 * A CPU about to go idle re-derives the bits from the DSQs (256 cheap
 * counter reads, off the busy path); the reserve scan does the same.
 * Returns true if a bit was missing.
 */
static bool heal_bits(void)
{
	/* volatile: clang otherwise leaves it uninitialized on the empty-loop path */
	volatile u32 healed = 0;
	u32 level;

	bpf_for(level, 0, AXRT_NR_PRIOS) {
		if (prio_bits[(level / 64) & 3] & (1ULL << (level % 64)))
			continue;
		if (scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + level) > 0) {
			set_level_bit(level);
			healed = 1;
		}
	}
	return healed != 0;
}

/* vtime mode: runs the queue head if its priority is <= @limit. */
static bool pick_vtime(u32 limit, s32 cpu)
{
	struct task_struct *p;

	p = __COMPAT_scx_bpf_dsq_peek(AXRT_DSQ_VTIME);
	if (!p || (p->scx.dsq_vtime >> PRIO_SHIFT) > limit)
		return false;
	return take_from(AXRT_DSQ_VTIME, cpu);
}

/*
 * Takes the level this CPU was last kicked for (AXRT_NR_PRIOS if none) and
 * sets its bit if it has tasks: the kick's task is there, whatever the bit
 * says (see wake_cpu_for()).
 */
static __always_inline u32 take_kick_level(s32 cpu)
{
	u32 lvl = kick_level[cpu & (MAX_CPUS - 1)];

	if (lvl >= AXRT_NR_PRIOS)
		return AXRT_NR_PRIOS;
	kick_level[cpu & (MAX_CPUS - 1)] = AXRT_NR_PRIOS;
	if (queue_mode != AXRT_QUEUE_VTIME && scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + lvl))
		set_level_bit(lvl);
	return lvl;
}

#include "boost.bpf.h"
#include "locks.bpf.h"

/* ---- timer work: unparking and the starvation reserve ---- */

/* Puts @p, taken from a park/background DSQ by an iterator, back in its priority queue. */
static __always_inline void requeue_from_iter(struct bpf_iter_scx_dsq *it, struct task_struct *p,
					      struct task_ctx *tc)
{
	u32 prio = tc->prio & (AXRT_NR_PRIOS - 1);
	u64 seq;

	if (queue_mode == AXRT_QUEUE_VTIME) {
		seq = __sync_fetch_and_add(&tail_seq, 1);
		scx_bpf_dsq_move_set_vtime(it, ((u64)prio << PRIO_SHIFT) | (seq & SEQ_MASK));
		scx_bpf_dsq_move_vtime(it, p, AXRT_DSQ_VTIME, 0);
	} else {
		scx_bpf_dsq_move(it, p, AXRT_DSQ_LEVEL0 + prio, 0);
		set_level_bit(prio);
	}
	wake_cpu_for(p, tc->prio, tc->slot, false);
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

/* Ends @g's throttling (from its boundary timer) and moves its parked tasks back. */
static void unthrottle(struct group *g, u32 slot)
{
	if (__sync_val_compare_and_swap(&g->info.throttled, 1, 0) == 1)
		__sync_fetch_and_sub(&nr_throttled, 1);
	unpark(slot);
}

/*
 * Moves @p (waiting since tc->enq_ts) to the reserve DSQ if it waited
 * longer than reserve_ns. Returns false if it has not (so the rest of a
 * FIFO behind it has not either).
 */
static __always_inline bool rescue(struct bpf_iter_scx_dsq *it, struct task_struct *p, u64 now)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;
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
	g = group_at(tc->slot);
	emit(AXRT_EV_RESERVE, g ? g->info.cgid : 0, p->pid, tc->prio, waited);
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
			set_level_bit(level);	/* heals a bit lost to a race, see heal_bits() */
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

void BPF_STRUCT_OPS(axrt_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_ctx *pctx = NULL;
	struct group *g;
	u32 limit = AXRT_NR_PRIOS - 1;
	bool keep = false;

	take_kick_level(cpu);

	/* Starvation-reserve grants first, regardless of priority. */
	if (scx_bpf_dsq_nr_queued(AXRT_DSQ_RESERVE) &&
	    scx_bpf_dsq_move_to_local(AXRT_DSQ_RESERVE, 0)) {
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

	if (queue_mode == AXRT_QUEUE_VTIME ? pick_vtime(limit, cpu) : pick_bitmap(limit, cpu)) {
		stat_inc(AXRT_STAT_DISPATCH);
		return;
	}

	if (keep) {
		scx_bpf_task_set_slice(prev, pctx->slice_dfl);
		stat_inc(AXRT_STAT_KEEP);
		return;
	}

	/* A lost bit was found: dispatch again right away (kick self). */
	if (queue_mode != AXRT_QUEUE_VTIME && heal_bits())
		scx_bpf_kick_cpu(cpu, 0);

	/* The CPU would idle: throttled background groups may use it. */
	if (scx_bpf_dsq_nr_queued(AXRT_DSQ_BG) &&
	    scx_bpf_dsq_move_to_local(AXRT_DSQ_BG, 0))
		stat_inc(AXRT_STAT_BG_RUN);
}

void BPF_STRUCT_OPS(axrt_running, struct task_struct *p)
{
	struct axrt_group_stats *st;
	struct task_ctx *tc = tctx(p);
	struct group *g;
	u32 cpu = bpf_get_smp_processor_id() & (MAX_CPUS - 1);
	u64 now = bpf_ktime_get_ns(), slice, cap;
	s64 budget;
	s32 running;

	if (!tc)
		return;
	ensure_resolved(p, tc);

	st = gstats(tc->slot);
	if (st) {
		st->dispatches++;
		if (tc->enq_ts && now > tc->enq_ts)
			st->lat_hist[lat_bucket(now - tc->enq_ts) & (AXRT_LAT_BUCKETS - 1)]++;
	}
	boost_running(tc, st, now);
	demand_track(tc, now);
	tc->enq_ts = 0;
	tc->run_start = now;

	/* A reserve grant is not preempted for priority. */
	if (tc->reserve == 1) {
		tc->reserve = 2;
		cpu_prio[cpu] = 0;
		if (st)
			st->reserve_grants++;
	} else {
		cpu_prio[cpu] = tc->prio;
	}
	cpu_slot[cpu] = tc->slot;
	cpu_since[cpu] = now;
	/* Kicked for a better task while between tasks: this one yields at once (once). */
	if (take_kick_level(cpu) < cpu_prio[cpu])
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);

	/*
	 * Never give a budgeted task more than its group has left, shared
	 * among the group's tasks running right now, and re-time the group's
	 * exhaustion timer for one more running task. A demoted background
	 * task runs on time nobody else wants: any waking task may preempt it
	 * (worst priority), and the exhausted budget does not cap it. A
	 * throttle-mode task that got here throttled (queued on this CPU
	 * before the throttle) stops at once.
	 */
	slice = p->scx.slice;
	g = group_at(tc->slot);
	if (g) {
		running = __sync_add_and_fetch(&g->info.nr_running, 1);
		if (in_background(g)) {
			cpu_prio[cpu] = PRIO_BACKGROUND;
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
	}
	tc->slice_given = slice;
}

void BPF_STRUCT_OPS(axrt_tick, struct task_struct *p)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;

	charge_cpu(bpf_get_smp_processor_id(), bpf_ktime_get_ns());
	if (!tc)
		return;
	g = group_at(tc->slot);
	/* Throttle mode stops at once; background mode runs on until preempted. */
	if (g && g->info.throttled && !in_background(g))
		scx_bpf_task_set_slice(p, 0);
}

void BPF_STRUCT_OPS(axrt_stopping, struct task_struct *p, bool runnable)
{
	struct task_ctx *tc = tctx(p);
	struct group *g;
	u32 cpu = bpf_get_smp_processor_id() & (MAX_CPUS - 1);
	u64 now = bpf_ktime_get_ns();

	charge_cpu(cpu, now);
	cpu_prio[cpu] = CPU_NONE_PRIO;
	cpu_slot[cpu] = AXRT_HOST_SLOT;
	cpu_since[cpu] = 0;
	if (!tc)
		return;
	g = group_at(tc->slot);
	if (g)
		__sync_fetch_and_sub(&g->info.nr_running, 1);
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
	demand_runnable(p, tc, enq_flags, bpf_ktime_get_ns());
}

void BPF_STRUCT_OPS(axrt_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct task_ctx *tc = tctx(p);

	if (tc)
		demand_quiescent(p, tc, deq_flags, bpf_ktime_get_ns());
}

/* ---- timers ---- */

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
	u32 slot = *key, nr;
	u64 now = bpf_ktime_get_ns(), cgid, quota = g->info.quota_ns;
	s64 left, live;

	if (slot == AXRT_HOST_SLOT || !g->info.cgid)
		return 0;
	cgid = g->info.cgid;

	if (!refresh_group(g)) {
		/* No spec and no cpu.max any more: free the slot. */
		unthrottle(g, slot);
		bpf_map_delete_elem(&slot_of, &cgid);
		g->timer_armed = 0;
		g->info.cgid = 0;
		bump_generation();
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
	emit(AXRT_EV_REPLENISH, cgid, 0, g->info.prio, live > 0 ? live : 0);
	unthrottle(g, slot);
	enforce_budget(g, slot, now);

	g->next_boundary += g->info.period_ns;
	if (g->next_boundary <= now)
		g->next_boundary = now + g->info.period_ns;
	bpf_timer_start(&g->timer, g->next_boundary, TIMER_ABS);
	return 0;
}

/* ---- task and cgroup life cycle ---- */

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

/* Records a cgroup's cpu.max (in us; quota "max" is a huge value) as its budget. */
static void set_cgroup_bw(struct cgroup *cgrp, u64 period_us, u64 quota_us)
{
	struct axrt_cgroup_bw bw;
	u64 cgid = cgrp->kn->id;

	if (!period_us || quota_us >= (1ULL << 40)) {
		if (!bpf_map_delete_elem(&axrt_cgroup_bw, &cgid))
			bump_generation();
		return;
	}
	bw.quota_ns = quota_us * 1000;
	bw.period_ns = period_us * 1000;
	bpf_map_update_elem(&axrt_cgroup_bw, &cgid, &bw, BPF_ANY);
	bump_generation();
}

s32 BPF_STRUCT_OPS_SLEEPABLE(axrt_cgroup_init, struct cgroup *cgrp,
			     struct scx_cgroup_init_args *args)
{
	/* The bandwidth fields came with ops.cgroup_set_bandwidth (6.17). */
	if (bpf_core_field_exists(args->bw_quota_us))
		set_cgroup_bw(cgrp, args->bw_period_us, args->bw_quota_us);
	return 0;
}

/*
 * A cgroup is removed (it has no tasks left). If it is a group, its spec
 * goes too, and its boundary timer frees the slot (refresh_group() fails
 * now) and releases anything still parked there; unbudgeted groups have no
 * pending timer, so it is started for that. Without this, VMs that come and
 * go would use up the slots.
 */
void BPF_STRUCT_OPS(axrt_cgroup_exit, struct cgroup *cgrp)
{
	u64 cgid = cgrp->kn->id;
	struct group *g = NULL;
	u32 *slotp;

	bpf_map_delete_elem(&axrt_cgroup_bw, &cgid);
	slotp = bpf_map_lookup_elem(&slot_of, &cgid);
	if (slotp)
		g = group_at(*slotp);
	if (g) {
		bpf_map_delete_elem(&axrt_group_spec, &cgid);
		if (__sync_val_compare_and_swap(&g->timer_armed, 0, 1) == 0)
			bpf_timer_start(&g->timer, 0, 0);
	}
	bump_generation();
}

void BPF_STRUCT_OPS(axrt_cgroup_set_bandwidth, struct cgroup *cgrp, u64 period_us,
		    u64 quota_us, u64 burst_us)
{
	set_cgroup_bw(cgrp, period_us, quota_us);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(axrt_init)
{
	struct reserve_timer *rt;
	struct exhaust_timer *et;
	struct group *g;
	u32 i, zero = 0;
	s32 ret;

	bpf_for(i, 0, AXRT_NR_PRIOS) {
		ret = scx_bpf_create_dsq(AXRT_DSQ_LEVEL0 + i, NUMA_NO_NODE);
		if (ret)
			goto fail;
	}
	ret = scx_bpf_create_dsq(AXRT_DSQ_VTIME, NUMA_NO_NODE);
	if (!ret)
		ret = scx_bpf_create_dsq(AXRT_DSQ_RESERVE, NUMA_NO_NODE);
	if (!ret)
		ret = scx_bpf_create_dsq(AXRT_DSQ_BG, NUMA_NO_NODE);
	if (ret)
		goto fail;

	bpf_for(i, 0, AXRT_MAX_GROUPS) {
		ret = scx_bpf_create_dsq(AXRT_DSQ_PARK + i, NUMA_NO_NODE);
		if (ret)
			goto fail;
		g = group_at(i);
		if (!g)
			continue;
		ret = bpf_timer_init(&g->timer, &axrt_groups, CLOCK_MONOTONIC);
		if (!ret)
			ret = bpf_timer_set_callback(&g->timer, group_timer_fn);
		if (ret)
			goto fail;
		et = bpf_map_lookup_elem(&exhaust_timers, &i);
		if (!et)
			continue;
		ret = bpf_timer_init(&et->timer, &exhaust_timers, CLOCK_MONOTONIC);
		if (!ret)
			ret = bpf_timer_set_callback(&et->timer, exhaust_timer_fn);
		if (ret)
			goto fail;
	}

	bpf_for(i, 0, MAX_CPUS) {
		cpu_prio[i & (MAX_CPUS - 1)] = CPU_NONE_PRIO;
		kick_level[i & (MAX_CPUS - 1)] = AXRT_NR_PRIOS;
	}

	rt = bpf_map_lookup_elem(&reserve_timer, &zero);
	if (!rt) {
		ret = -ENOENT;
		goto fail;
	}
	ret = bpf_timer_init(&rt->timer, &reserve_timer, CLOCK_MONOTONIC);
	if (!ret)
		ret = bpf_timer_set_callback(&rt->timer, reserve_timer_fn);
	if (!ret)
		ret = bpf_timer_start(&rt->timer, reserve_ns / 4, 0);
	if (ret)
		goto fail;
	return 0;
fail:
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
