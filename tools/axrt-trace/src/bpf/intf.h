/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * intf.h - what axrt-trace's BPF programs (trace.bpf.c) and its user space
 * (src/maps.rs, through scx_cargo's bindgen) agree on: the states a vCPU
 * thread is accounted in, the per-thread record, the latency histograms and
 * the trace-mode records.
 *
 * Self-contained C: bindgen parses it without vmlinux.h, the BPF side
 * includes it after vmlinux.h. Plain data with explicit padding.
 */
#ifndef __AXRT_TRACE_INTF_H
#define __AXRT_TRACE_INTF_H

#ifndef __VMLINUX_H__
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
#endif

/*
 * Where a vCPU thread's time goes. Exactly one state at a time; the
 * per-state sums of a thread add up to the time it was traced.
 */
enum axrt_state {
	AXRT_ST_GUEST = 0,		/* between kvm_entry and kvm_exit */
	AXRT_ST_HOST,			/* on a CPU outside the guest: exit handling (kernel and VMM) */
	AXRT_ST_HALT_POLL,		/* on a CPU after a HLT exit, until KVM's halt ends */
	AXRT_ST_HALT_BLOCKED,		/* asleep in a halt */
	AXRT_ST_BLOCKED,		/* asleep for another reason (the VMM waits) */
	AXRT_ST_WAIT_WOKEN,		/* runnable after a wakeup, not running */
	AXRT_ST_WAIT_SAME_VM,		/* runnable after a preemption by a thread of its own VM */
	AXRT_ST_WAIT_OTHER_VM,		/* ... by a thread of another VM */
	AXRT_ST_WAIT_HOST,		/* ... by another user task of the host */
	AXRT_ST_WAIT_KERNEL,		/* ... by a kernel thread (or the idle task) */
	AXRT_NR_STATES,
};

/* Who preempted a vCPU thread (the preempted-wait states, in order). */
#define AXRT_NR_PREEMPTORS	4

/* axrt_thread.flags */
#define AXRT_F_HALTING		1u	/* a HLT exit is being handled */
#define AXRT_F_HAS_EXIT		2u	/* exit_reason is an exit whose handling has not ended */
#define AXRT_F_DEAD		4u	/* the thread exited: its record is final */

/* The ISA of an exit (KVM's kvm_exit.isa). */
#define AXRT_ISA_VMX		1
#define AXRT_ISA_SVM		2

/*
 * One vCPU thread: a thread seen in kvm_entry or kvm_exit. Written by the
 * thread's own events (on its CPU) and by the CPU that switches to it; the
 * wakeup and migration fields are also written by other CPUs, atomically.
 */
#define AXRT_STATE_BITS	4
#define AXRT_STATE_MASK	((1ull << AXRT_STATE_BITS) - 1)

struct axrt_thread {
	u32 tid;
	u32 tgid;			/* the VMM process: the VM */
	u32 flags;			/* AXRT_F_* */
	u32 pad0;
	u64 first_ns;			/* first seen (bpf_ktime_get_ns) */
	/*
	 * The current state and when it began, in one word (since_ns << 4 | state), so that
	 * a handler preempted by another one of the same thread (KVM's tracepoints run
	 * preemptible) cannot close the same segment twice: each change is one cmpxchg.
	 */
	u64 cur;
	u64 wake_ns;			/* last sched_waking while it slept */
	u64 exit_handled_ns;		/* host time of the exit being handled (on CPU) */
	u64 poll_ns;			/* time in HALT_POLL of the halt being handled */
	u32 exit_reason;		/* of the exit being handled (basic reason) */
	u32 isa;			/* AXRT_ISA_* of the last exit */
	u32 traced;			/* trace mode: 0 not decided yet, 1 traced, 2 not */
	u32 last_cpu;
	u64 state_ns[AXRT_NR_STATES];
	u64 exits;
	u64 halts;			/* halts that ended (kvm_vcpu_wakeup) */
	u64 halts_blocked;		/* ... of which slept (waited) */
	u64 wakeups;
	u64 preemptions[AXRT_NR_PREEMPTORS];
	u64 migrations;
	u64 run_delay_first_ns;		/* the kernel's schedstat run_delay when first seen */
	u64 run_delay_last_ns;		/* ... at its last switch-out, or its exit */
};

/* Latency histograms: log-linear buckets, 16 per power of two. */
#define AXRT_HIST_SUB_BITS	4
#define AXRT_HIST_SUB		(1 << AXRT_HIST_SUB_BITS)
#define AXRT_HIST_MAX_MSB	36	/* values >= 2^37 ns (137 s) land in the last bucket */
#define AXRT_HIST_BUCKETS	((AXRT_HIST_MAX_MSB - AXRT_HIST_SUB_BITS + 2) * AXRT_HIST_SUB)

enum axrt_hist_kind {
	AXRT_H_WAKE = 1,		/* sched_waking -> running */
	AXRT_H_PREEMPT = 2,		/* preempted -> running again */
	AXRT_H_EXIT = 3,		/* host time handling one exit (reason in the key) */
};

struct axrt_hist_key {
	u32 tid;
	u16 kind;			/* enum axrt_hist_kind */
	u16 reason;			/* AXRT_H_EXIT: the basic exit reason, else 0 */
};

struct axrt_hist {
	u64 count;
	u64 sum_ns;
	u64 max_ns;
	u64 buckets[AXRT_HIST_BUCKETS];
};

/* Trace mode: one record per closed state segment, and instants. */
enum axrt_rec_kind {
	AXRT_R_SEGMENT = 1,		/* [start_ns, start_ns + dur_ns) in state `state` */
	AXRT_R_MIGRATE = 2,		/* at start_ns, to CPU `arg` */
};

#define AXRT_NO_REASON	0xffffffffu

struct axrt_record {
	u64 start_ns;
	u64 dur_ns;
	u32 tid;
	u32 tgid;
	u16 kind;			/* enum axrt_rec_kind */
	u16 state;			/* enum axrt_state */
	u32 arg;			/* HOST/HALT segments: the exit reason; MIGRATE: the CPU */
	u32 cpu;			/* where the segment ended */
	u32 pad;
};

#endif /* __AXRT_TRACE_INTF_H */
