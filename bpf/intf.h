/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * intf.h - what the scx_axrt BPF tier (the bpf/ units) and its user-space loader
 * (loader/, through scx_cargo's bindgen) must agree on: DSQ ids, defaults,
 * the layouts of the maps the loader reads and writes (loader/src/bpf_maps.rs)
 * and the lists of counters and event kinds.
 *
 * The lists (AXRT_STATS, AXRT_GROUP_COUNTERS, AXRT_TASK_COUNTERS,
 * AXRT_EVENT_KINDS) are X-macros: C expands them into enums and struct
 * fields here, and loader/build.rs reads the same lines to generate the Rust
 * names, fields and sums. A new counter is one line in its list plus the
 * code that increments it. Keep each entry on one line of its own, in the
 * form shown.
 *
 * The defaults and limits below (priorities, slices, reserve) are the policy
 * crate's (scheduler/src/params.rs); a loader test checks they are equal.
 *
 * Keep it self-contained C: bindgen parses it without vmlinux.h, and the BPF
 * side includes it after vmlinux.h. Every struct here is plain data with
 * explicit padding, so both sides see the same layout.
 */
#ifndef __AXRT_INTF_H
#define __AXRT_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;
#endif

/* Priorities: 0 is the best, 255 the worst (docs/POLICY.md). */
#define AXRT_NR_PRIOS		256
#define AXRT_PRIO_HOST_DFL	128	/* tasks outside every group */
#define AXRT_PRIO_UNSET		0xffffffffu /* task spec: use the group's priority */

/*
 * Dispatch queues, all created in ops.init(). User DSQ ids must stay below
 * 2^63 (the kernel reserves the top bit for built-in queues).
 *
 *   0..255            one FIFO per priority level (queue_mode bitmap)
 *   AXRT_DSQ_VTIME    one queue ordered by (priority, enqueue order)
 *                     (queue_mode vtime)
 *   AXRT_DSQ_RESERVE  tasks the starvation reserve rescued; served first
 *   AXRT_DSQ_BG       tasks of throttled "background" groups; served only
 *                     when a CPU would otherwise idle
 *   AXRT_DSQ_PARK+s   tasks of the throttled group in slot s, until its
 *                     next period boundary
 */
#define AXRT_DSQ_LEVEL0		0
#define AXRT_DSQ_VTIME		256
#define AXRT_DSQ_RESERVE	257
#define AXRT_DSQ_BG		258
#define AXRT_DSQ_PARK		512

/* Queue designs, rodata queue_mode (loader --queue). */
enum axrt_queue_mode {
	AXRT_QUEUE_BITMAP	= 0,	/* 256-bit bitmap of non-empty levels + a DSQ per level */
	AXRT_QUEUE_VTIME	= 1,	/* one DSQ keyed by (priority << 52 | sequence) */
};

/*
 * Groups (VMs) live in slots 1..AXRT_MAX_GROUPS-1; slot 0 is the host group
 * (every task in no group: no budget, priority host_prio). A slot is taken
 * the first time a task resolves to the group and kept until the group has
 * neither a spec nor a cpu.max entry any more.
 */
#define AXRT_MAX_GROUPS		128
#define AXRT_HOST_SLOT		0

/* Overrun modes of a budgeted group. */
enum axrt_overrun {
	AXRT_OVERRUN_THROTTLE	= 0,	/* nothing of the group runs until the boundary */
	AXRT_OVERRUN_BACKGROUND	= 1,	/* it runs only where a CPU would otherwise idle */
};

/*
 * A group as the loader configures it: map axrt_group_spec, key = cgroup id
 * (the cgroup directory's inode number), written by user space only. A
 * quota of 0 means no budget from the configuration; a cgroup whose cpu.max
 * is not "max" uses its cpu.max instead (map axrt_cgroup_bw).
 */
struct axrt_group_spec {
	u32 prio;		/* default priority of the group's tasks, 0..255 */
	u32 overrun;		/* enum axrt_overrun */
	u64 quota_ns;		/* budget per period, 0 = none */
	u64 period_ns;		/* period, required when quota_ns != 0 */
};

/*
 * A cgroup's cpu.max, map axrt_cgroup_bw, key = cgroup id. Present only for
 * cgroups whose cpu.max is not "max". Written by ops.cgroup_init/
 * cgroup_set_bandwidth on kernels that have them (6.17+), else by the
 * loader from cgroupfs.
 */
struct axrt_cgroup_bw {
	u64 quota_ns;
	u64 period_ns;
};

/*
 * A per-thread override, map axrt_task_spec, key = tid (s32). Takes effect
 * when the loader bumps the generation.
 */
struct axrt_task_spec {
	u32 prio;		/* 0..255, or AXRT_PRIO_UNSET for the group's */
	u32 flags;		/* reserved, 0 */
	u64 slice_ns;		/* 0 = the default slice */
	/*
	 * Timing contract (docs/POLICY.md, "Deadlines"): period_ns != 0 makes
	 * the thread's jobs tracked: released when it wakes, completed when it
	 * blocks, a miss when the response exceeds deadline_ns (0 = the
	 * period), a WCET overrun when a job runs longer than wcet_ns (0 = not
	 * checked).
	 */
	u64 period_ns;
	u64 deadline_ns;
	u64 wcet_ns;
};

/*
 * Per-thread statistics, map axrt_task_stats, key = tid (s32). The loader
 * creates a zeroed entry for every thread it gives a spec; the BPF tier
 * only updates existing entries (never allocates on a hot path).
 * X(field, description): u64 counters, then the response histogram.
 */
#define AXRT_TASK_COUNTERS(X) \
	X(jobs, "jobs completed") \
	X(misses, "of which over the deadline") \
	X(wcet_overruns, "of which ran longer than the WCET") \
	X(max_lateness_ns, "worst response - deadline of a missed job (ns)") \
	X(max_response_ns, "worst response time (ns)") \
	X(boosts_received, "directed-yield and lock boosts it got") \
	X(boosts_given, "boosts it gave (yielded to, or waited for, a worse task)")

struct axrt_task_stats {
#define AXRT_FIELD(name, desc) u64 name;
	AXRT_TASK_COUNTERS(AXRT_FIELD)
#undef AXRT_FIELD
	u64 resp_hist[32];	/* response times, AXRT_LAT_BUCKETS log2 buckets */
};

/*
 * The state of one group slot as user space may read it: the head of each
 * value of the BPF-owned array axrt_groups (the rest is the replenishment
 * timer). cgid == 0 means the slot is free.
 */
struct axrt_group_info {
	u64 cgid;
	u64 quota_ns;		/* budget in force this period, 0 = none */
	u64 period_ns;
	s64 budget_ns;		/* what is left of it this period */
	u64 period_start_ns;	/* bpf_ktime_get_ns() of the last boundary */
	u32 prio;
	u32 overrun;
	u32 throttled;		/* 1 while the budget is used up */
	s32 nr_running;		/* tasks of the group on a CPU right now */
};

/*
 * Log2 histograms (latencies, responses): bucket 0 counts the value 0, bucket
 * k (1..AXRT_LAT_BUCKETS-2) counts [2^(k-1), 2^k) ns, the last bucket
 * everything from 2^(AXRT_LAT_BUCKETS-2) ns (about 1.07 s) up. The policy
 * crate's hist.rs is the same definition, and its quantile serves both tiers.
 */
#define AXRT_LAT_BUCKETS	32

/*
 * Per-group statistics, per-CPU array axrt_group_stats indexed by slot
 * (slot 0 = host); the loader sums the CPUs. X(field, description): u64
 * counters, then the two histograms.
 */
#define AXRT_GROUP_COUNTERS(X) \
	X(runtime_ns, "CPU time of the group's tasks (ns)") \
	X(dispatches, "times a task of the group was given a CPU") \
	X(preemptions, "CPUs kicked to preempt for a task of the group") \
	X(throttles, "times the budget ran out") \
	X(replenishments, "period boundaries that refilled the budget") \
	X(reserve_grants, "slices given by the starvation reserve") \
	X(jobs, "jobs of its timed tasks completed") \
	X(deadline_misses, "of which over the deadline") \
	X(wcet_overruns, "of which ran longer than the WCET") \
	X(windows, "reservation windows (budget periods) closed") \
	X(supply_misses, "of which supplied less than min(quota, demand) - slack") \
	X(demand_ns, "runnable time of its tasks over closed windows (ns)") \
	X(supply_ns, "budget used over closed windows (ns)") \
	X(boosts_received, "boosts its tasks got (directed yield, lock chains)") \
	X(boosts_given, "boosts its tasks gave")

struct axrt_group_stats {
#define AXRT_FIELD(name, desc) u64 name;
	AXRT_GROUP_COUNTERS(AXRT_FIELD)
#undef AXRT_FIELD
	u64 lat_hist[AXRT_LAT_BUCKETS];	/* enqueue -> running, ns */
	u64 boost_hist[AXRT_LAT_BUCKETS]; /* directed yield -> boosted task running, ns */
};

/*
 * Supply-miss slack: a window is a supply miss when the budget it supplied
 * fell short of min(quota, demand) by more than
 * max(quota / AXRT_SUPPLY_EPS_DIV, AXRT_SUPPLY_EPS_MIN_NS) - the policy
 * crate's rule (params.rs, supply_slack). Enforcement stops a throttled
 * group about a millisecond early or late under emulation (measured: a VM
 * alone at 20 ms per 100 ms got 18.5-21 ms per window).
 */
#define AXRT_SUPPLY_EPS_DIV	10
#define AXRT_SUPPLY_EPS_MIN_NS	500000

/*
 * Events, ring buffer axrt_events. X(NAME, json name, value, what arg/arg2
 * carry); the loader names and decodes each kind. The detail kinds (window,
 * job) are emitted only when the loader asks for them (rodata
 * detail_events, set by --events): one per budget period of each budgeted
 * group, one per job of each thread with a timing contract - what a replay
 * of the run through the policy crate needs (axrt-sim replay). Like every
 * event, one the ring has no room for is counted in ev_drop.
 */
#define AXRT_EVENT_KINDS(X) \
	X(THROTTLE, throttle, 1, "arg = overrun ns (negative budget)") \
	X(REPLENISH, replenish, 2, "arg = budget ns left unused, arg2 = throttle lead ns for the new period") \
	X(RESERVE, reserve, 3, "arg = ns the task had waited") \
	X(MISS, miss, 4, "a job missed its deadline: arg = lateness ns, arg2 = response ns") \
	X(WCET, wcet_overrun, 5, "a job ran longer than its WCET: arg = CPU ns, arg2 = WCET ns") \
	X(SUPPLY_MISS, supply_miss, 6, "arg = supply ns, arg2 = min(quota, demand) ns") \
	X(BOOST, boost, 7, "pid boosted by other: prio = new, arg = old prio, arg2 = cause") \
	X(BOOST_END, boost_end, 8, "pid's boost ended: prio = now, arg = ns it lasted, arg2 = cause") \
	X(DEADLOCK, deadlock, 9, "a wait-for cycle: struct axrt_deadlock_event") \
	X(WINDOW, window, 10, "a reservation window closed (detail): arg = supply ns, arg2 = demand ns") \
	X(JOB, job, 11, "pid completed a job (detail): arg = response ns, arg2 = CPU ns")

enum axrt_event_kind {
#define AXRT_ENUM(name, key, value, desc) AXRT_EV_##name = value,
	AXRT_EVENT_KINDS(AXRT_ENUM)
#undef AXRT_ENUM
};

/* Why a task was boosted (AXRT_EV_BOOST's arg2). */
enum axrt_boost_cause {
	AXRT_BOOST_YIELD	= 1,	/* directed yield: other yielded its CPU to pid */
	AXRT_BOOST_LOCK		= 2,	/* lock chain: other waits (transitively) for pid */
};

struct axrt_event {
	u64 ts_ns;		/* bpf_ktime_get_ns() */
	u64 cgid;		/* the group's cgroup id, 0 = host */
	u64 arg;
	u64 arg2;
	u32 kind;		/* enum axrt_event_kind */
	s32 pid;		/* tid concerned, 0 if none */
	s32 cpu;
	u32 prio;
	s32 other;		/* the other tid (boosts), 0 if none */
	u32 pad;
};

/*
 * A deadlock: the wait-for cycle closed when tids[0] started waiting on
 * addrs[0] (owned by tids[1], which waits on addrs[1], ...; the last waits
 * on a lock tids[0] owns). ts_ns is the moment the closing wait was seen.
 */
#define AXRT_CYCLE_MAX		16
struct axrt_deadlock_event {
	struct axrt_event head;	/* kind AXRT_EV_DEADLOCK, pid = tids[0], arg = len */
	s32 tids[AXRT_CYCLE_MAX];
	u64 addrs[AXRT_CYCLE_MAX];	/* futex word addresses, in tids[i]'s address space */
	u32 tgids[AXRT_CYCLE_MAX];
	char comms[AXRT_CYCLE_MAX][16];	/* the threads' names when the cycle closed */
};

/* Longest chain of lock owners a boost is passed along (docs/POLICY.md). */
#define AXRT_CHAIN_MAX		16

#define AXRT_EVENTS_BYTES	(64 * 1024)

/* Default time slice in nanoseconds; the loader overrides it (--slice-us). */
#define AXRT_SLICE_NS_DFL	5000000	/* 5 ms */
/* Shortest slice ever given (a nearly empty budget would give less). */
#define AXRT_SLICE_NS_MIN	50000	/* 50 us */
/*
 * A group is throttled when its live budget is below this per running task:
 * throttling takes a kick (an IPI) to land, so stopping a little early keeps
 * the overrun within POLICY.md's 0.5 ms per CPU.
 */
#define AXRT_EXHAUST_SLACK_NS	20000	/* 20 us */

/* Starvation reserve: the longest any runnable task waits (--reserve-ms). */
#define AXRT_RESERVE_MS_DFL	1000

/*
 * sched_ext watchdog: a runnable task not scheduled within this many ms
 * makes the kernel eject the scheduler. The starvation reserve keeps every
 * wait below reserve + reserve/4, but the kernel's own watchdog work is a
 * normal task that runs every timeout/2 and may itself wait a reserve
 * before checking in: 10 s leaves room for that even under emulation. The
 * loader uses max(this, 5 x reserve), at most 30 s (the kernel's cap).
 */
#define AXRT_TIMEOUT_MS		10000

/*
 * Per-CPU event counters, summed by the loader (--verbose). X(NAME, name
 * shown, description).
 */
#define AXRT_STATS(X) \
	X(DIRECT, direct, "select_cpu found an idle CPU: straight to its local DSQ") \
	X(QUEUED, queued, "enqueue put the task on a priority queue") \
	X(DISPATCH, dispatched, "dispatch moved a queued task to a local DSQ") \
	X(KICK, kicks, "enqueue woke an idle CPU") \
	X(KEEP, kept, "dispatch found nothing better and let prev run on") \
	X(PREEMPT, preempt_kicks, "enqueue kicked a CPU running a worse task") \
	X(PARKED, parked, "enqueue parked a task of a throttled group") \
	X(BG, background, "a task went to the background queue") \
	X(RESERVE, reserve, "the starvation reserve rescued a task") \
	X(BG_RUN, bg_run, "dispatch ran a background task on an idle CPU") \
	X(RESOLVE, resolved, "a task's group was (re)resolved") \
	X(EV_DROP, ev_drop, "events (or requeue requests) lost because a buffer was full") \
	X(BOOST, boosts, "boosts given (directed yields and lock chains)") \
	X(LOCK_WAIT, lock_waits, "PI futex waits observed") \
	X(DEADLOCK, deadlocks, "wait-for cycles found") \
	X(HEAL, healed, "dispatch found a queued level whose bit a racing dispatch had cleared")

enum axrt_stat {
#define AXRT_ENUM(name, key, desc) AXRT_STAT_##name,
	AXRT_STATS(AXRT_ENUM)
#undef AXRT_ENUM
	AXRT_NR_STATS,
};

#endif /* __AXRT_INTF_H */
