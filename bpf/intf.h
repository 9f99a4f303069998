/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * intf.h - what the scx_axrt BPF tier (axrt.bpf.c) and its user-space loader
 * (loader/, through scx_cargo's bindgen) must agree on: DSQ ids, defaults,
 * the layouts of the maps the loader reads and writes (loader/src/maps.rs)
 * and the indices of the global counters.
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

/* Priorities: 0 is the best, 255 the worst (spec/POLICY.md). */
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

/* Wakeup latency histogram: bucket i counts waits of [2^i, 2^(i+1)) ns. */
#define AXRT_LAT_BUCKETS	32

/*
 * Per-group statistics, per-CPU array axrt_group_stats indexed by slot
 * (slot 0 = host); the loader sums the CPUs. Global = the sum of all slots.
 */
struct axrt_group_stats {
	u64 runtime_ns;		/* CPU time of the group's tasks */
	u64 dispatches;		/* times a task of the group was given a CPU */
	u64 preemptions;	/* CPUs kicked to preempt for a task of the group */
	u64 throttles;		/* times the budget ran out */
	u64 replenishments;	/* period boundaries that refilled the budget */
	u64 reserve_grants;	/* slices given by the starvation reserve */
	u64 lat_hist[AXRT_LAT_BUCKETS];	/* enqueue -> running, ns, log2 buckets */
};

/* Events, ring buffer axrt_events. */
enum axrt_event_kind {
	AXRT_EV_THROTTLE	= 1,	/* arg = overrun ns (negative budget) */
	AXRT_EV_REPLENISH	= 2,	/* arg = budget ns left unused */
	AXRT_EV_RESERVE		= 3,	/* arg = ns the task had waited */
};

struct axrt_event {
	u64 ts_ns;		/* bpf_ktime_get_ns() */
	u64 cgid;		/* the group's cgroup id, 0 = host */
	u64 arg;
	u32 kind;		/* enum axrt_event_kind */
	s32 pid;		/* tid concerned, 0 if none */
	s32 cpu;
	u32 prio;
};

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

/* Per-CPU event counters, summed by the loader (--verbose). */
enum axrt_stat {
	AXRT_STAT_DIRECT,	/* select_cpu found an idle CPU: straight to its local DSQ */
	AXRT_STAT_QUEUED,	/* enqueue put the task on a priority queue */
	AXRT_STAT_DISPATCH,	/* dispatch moved a queued task to a local DSQ */
	AXRT_STAT_KICK,		/* enqueue woke an idle CPU */
	AXRT_STAT_KEEP,		/* dispatch found nothing better and let prev run on */
	AXRT_STAT_PREEMPT,	/* enqueue kicked a CPU running a worse task */
	AXRT_STAT_PARKED,	/* enqueue parked a task of a throttled group */
	AXRT_STAT_BG,		/* a task went to the background queue */
	AXRT_STAT_RESERVE,	/* the starvation reserve rescued a task */
	AXRT_STAT_BG_RUN,	/* dispatch ran a background task on an idle CPU */
	AXRT_STAT_RESOLVE,	/* a task's group was (re)resolved */
	AXRT_STAT_EV_DROP,	/* events lost because the ring buffer was full */
	AXRT_NR_STATS,
};

#endif /* __AXRT_INTF_H */
