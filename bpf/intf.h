/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * intf.h - what the scx_axrt BPF tier (axrt.bpf.c) and its user-space loader
 * (loader/, through scx_cargo's bindgen) must agree on: DSQ ids, defaults and
 * the indices of the statistics counters.
 *
 * Keep it self-contained C: bindgen parses it without vmlinux.h, and the BPF
 * side includes it after vmlinux.h.
 */
#ifndef __AXRT_INTF_H
#define __AXRT_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned int u32;
typedef unsigned long long u64;
#endif

/*
 * Dispatch queues created in ops.init(). User DSQ ids must stay below
 * 2^63 (the kernel reserves the top bit for built-in queues). A priority
 * scheduler will add one DSQ per level above AXRT_DSQ_SHARED.
 */
#define AXRT_DSQ_SHARED		0	/* the one global FIFO of version 1 */

/* Default time slice in nanoseconds; the loader overrides it (--slice-us). */
#define AXRT_SLICE_NS_DFL	5000000	/* 5 ms */

/*
 * sched_ext watchdog: a runnable task not scheduled within this many ms
 * makes the kernel eject the scheduler. A FIFO cannot starve a task, so
 * reaching it means a bug; 5 s notices one quickly yet leaves a wide margin
 * even under slow emulation. SCX_TIMEOUT_MS in the environment overrides it.
 */
#define AXRT_TIMEOUT_MS		5000

/* Per-CPU event counters, summed by the loader (--verbose). */
enum axrt_stat {
	AXRT_STAT_DIRECT,	/* select_cpu found an idle CPU: straight to its local DSQ */
	AXRT_STAT_SHARED,	/* enqueue put the task on the shared FIFO */
	AXRT_STAT_DISPATCH,	/* dispatch moved a task from the FIFO to a local DSQ */
	AXRT_STAT_KICK,		/* enqueue woke an idle CPU to pull from the FIFO */
	AXRT_STAT_KEEP,		/* dispatch found the FIFO empty and let prev run on */
	AXRT_NR_STATS,
};

#endif /* __AXRT_INTF_H */
