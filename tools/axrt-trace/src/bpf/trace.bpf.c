// SPDX-License-Identifier: GPL-2.0-only
/*
 * trace.bpf.c - axrt-trace's kernel side: follows every KVM vCPU thread
 * through its states and aggregates in the kernel.
 *
 * A vCPU thread is any thread that runs kvm_entry/kvm_exit; it gets a record
 * in `threads` the first time (so threads created after the start are
 * followed from their first guest entry, without user space). Its time is
 * accounted in the state machine of intf.h:
 *
 *   kvm_entry                 -> GUEST
 *   kvm_exit                  -> HOST (HALT_POLL after a HLT exit)
 *   kvm_vcpu_wakeup           -> HOST (the halt is over)
 *   sched_switch out, asleep  -> HALT_BLOCKED in a halt, else BLOCKED
 *   sched_switch out, runnable-> WAIT_<preemptor>: same VM, other VM, host, kernel
 *   sched_switch in           -> HOST (GUEST never spans a switch), closing a
 *                                sleep as [asleep .. wakeup) + [wakeup .. now) WAIT_WOKEN
 *
 * sched_waking runs on the waker's CPU: it only stores the wakeup time, and
 * the switch-in splits the off-CPU interval there. A HLT exit that ends in
 * kvm_entry without a halt (an interrupt was pending) gives its HALT_POLL
 * time back to HOST. Latencies (wakeup -> run, preempted -> run) and the
 * host time of each exit, per reason, go to log-linear histograms.
 *
 * The KVM programs are classic tracepoint programs: they return 1, because a 0 would drop
 * the event for every perf user of the tracepoint (perf kvm stat, perf record) too.
 *
 * Summary mode writes nothing to the ring: user space reads the maps. Trace
 * mode (rodata trace_mode) also sends every closed segment of a traced
 * thread to the `records` ring buffer; a full ring is counted per CPU in
 * `drops`, never waited for.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Written by user space before load (src/probe.rs). */
const volatile bool trace_mode = false;
const volatile bool trace_all = false;	/* trace mode without a VM filter */

#define MAX_THREADS	8192
#define PF_KTHREAD	0x00200000
#define VMX_EXIT_HLT	12
#define SVM_EXIT_HLT	0x78
#define KEEP_EVENT	1	/* classic tracepoint programs: let perf have the event */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, u32);
	__type(value, struct axrt_thread);
} threads SEC(".maps");

/* tgids of VMM processes (a tgid with a vCPU thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, u32);
	__type(value, u32);
} vm_procs SEC(".maps");

/* Trace mode with a VM filter: tgid -> 1 traced, 2 not (written by user space). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_THREADS);
	__type(key, u32);
	__type(value, u32);
} traced_vms SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4 * MAX_THREADS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct axrt_hist_key);
	__type(value, struct axrt_hist);
} hists SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);	/* user space may resize it before load */
} records SEC(".maps");

/* Records the ring had no room for, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

/* Zeroed values to insert (too large for the BPF stack). */
static const struct axrt_hist zero_hist;
static const struct axrt_thread zero_thread;

/* The fields of KVM's trace records that are read (CO-RE against kvm's BTF). */
struct trace_event_raw_kvm_exit___axrt {
	unsigned int exit_reason;
	u32 isa;
} __attribute__((preserve_access_index));

struct trace_event_raw_kvm_vcpu_wakeup___axrt {
	u64 ns;
	bool waited;
} __attribute__((preserve_access_index));

/* ---- histograms ---- */

static __always_inline u32 msb64(u64 v)
{
	u32 r = 0;

	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

/* Bucket of a value: exact below 2^SUB_BITS, then SUB buckets per power of two. */
static __always_inline u32 hist_bucket(u64 v)
{
	u32 m, b;

	if (v < AXRT_HIST_SUB)
		return v;
	m = msb64(v);
	if (m > AXRT_HIST_MAX_MSB)
		return AXRT_HIST_BUCKETS - 1;
	b = (m - AXRT_HIST_SUB_BITS + 1) * AXRT_HIST_SUB +
	    ((v >> (m - AXRT_HIST_SUB_BITS)) & (AXRT_HIST_SUB - 1));
	return b < AXRT_HIST_BUCKETS ? b : AXRT_HIST_BUCKETS - 1;
}

static __always_inline void hist_add(u32 tid, u16 kind, u16 reason, u64 v)
{
	struct axrt_hist_key key = { .tid = tid, .kind = kind, .reason = reason };
	struct axrt_hist *h;
	u32 b;

	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &zero_hist, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return;
	}
	b = hist_bucket(v);
	if (b >= AXRT_HIST_BUCKETS)
		return;
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum_ns, v);
	__sync_fetch_and_add(&h->buckets[b], 1);
	if (v > h->max_ns)
		h->max_ns = v;
}

/* The reason in a histogram key: VMX's basic reason, SVM's code (0xffff: none fits). */
static __always_inline u16 reason_key(u32 isa, u32 reason)
{
	if (isa == AXRT_ISA_VMX)
		return reason & 0xffff;
	return reason > 0xffff ? 0xffff : reason;
}

/* ---- state machine ---- */

static __always_inline bool is_traced(struct axrt_thread *t)
{
	u32 *v;

	if (!trace_mode)
		return false;
	if (t->traced == 0) {
		if (trace_all) {
			t->traced = 1;
		} else {
			v = bpf_map_lookup_elem(&traced_vms, &t->tgid);
			if (v)
				t->traced = *v;
		}
	}
	return t->traced == 1;
}

static __always_inline void emit(struct axrt_thread *t, u16 kind, u16 state, u64 start,
				 u64 dur, u32 arg)
{
	struct axrt_record *r;
	u32 zero = 0;
	u64 *d;

	if (!is_traced(t))
		return;
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		d = bpf_map_lookup_elem(&drops, &zero);
		if (d)
			*d += 1;
		return;
	}
	r->start_ns = start;
	r->dur_ns = dur;
	r->tid = t->tid;
	r->tgid = t->tgid;
	r->kind = kind;
	r->state = state;
	r->arg = arg;
	r->cpu = bpf_get_smp_processor_id();
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
}

/*
 * Closes the current segment at `now` (if it lasted) and enters `next`. The change is one
 * cmpxchg of t->cur: if another handler of the thread changed the state meanwhile (it
 * preempted this one), the segment it left open is the one closed here.
 */
static __always_inline void enter(struct axrt_thread *t, u32 next, u64 now)
{
	u64 cur, since, d;
	u32 st, i;

	for (i = 0; i < 4; i++) {
		cur = t->cur;
		st = cur & AXRT_STATE_MASK;
		since = cur >> AXRT_STATE_BITS;
		if (now < since)
			now = since;
		if (__sync_val_compare_and_swap(&t->cur, cur,
						(now << AXRT_STATE_BITS) | next) != cur)
			continue;
		d = now - since;
		if (st < AXRT_NR_STATES && d) {
			__sync_fetch_and_add(&t->state_ns[st], d);
			if (st == AXRT_ST_HOST && (t->flags & AXRT_F_HAS_EXIT))
				__sync_fetch_and_add(&t->exit_handled_ns, d);
			if (st == AXRT_ST_HALT_POLL)
				__sync_fetch_and_add(&t->poll_ns, d);
			emit(t, AXRT_R_SEGMENT, st, since, d,
			     (t->flags & AXRT_F_HAS_EXIT) ? t->exit_reason : AXRT_NO_REASON);
		}
		return;
	}
}

/* The kernel's own total runnable wait of the current thread (schedstat run_delay). */
static __always_inline u64 run_delay(void)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

	return BPF_CORE_READ(cur, sched_info.run_delay);
}

/* The record of the current thread, created when `create` (a KVM event). */
static __always_inline struct axrt_thread *current_thread(bool create, u64 now)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id, tgid = id >> 32, one = 1;
	struct axrt_thread *t;

	t = bpf_map_lookup_elem(&threads, &tid);
	if (t || !create)
		return t;
	bpf_map_update_elem(&threads, &tid, &zero_thread, BPF_NOEXIST);
	t = bpf_map_lookup_elem(&threads, &tid);
	if (!t)
		return NULL;
	t->tid = tid;
	t->tgid = tgid;
	t->first_ns = now;
	t->cur = (now << AXRT_STATE_BITS) | AXRT_ST_HOST;
	t->last_cpu = bpf_get_smp_processor_id();
	t->run_delay_first_ns = run_delay();
	bpf_map_update_elem(&vm_procs, &tgid, &one, BPF_ANY);
	return t;
}

/* The end of an exit's handling: its host time goes to the reason's histogram. */
static __always_inline void exit_done(struct axrt_thread *t)
{
	if (!(t->flags & AXRT_F_HAS_EXIT))
		return;
	hist_add(t->tid, AXRT_H_EXIT, reason_key(t->isa, t->exit_reason), t->exit_handled_ns);
	t->flags &= ~AXRT_F_HAS_EXIT;
}

SEC("tracepoint/kvm/kvm_entry")
int axrt_kvm_entry(void *ctx)
{
	u64 now = bpf_ktime_get_ns();
	struct axrt_thread *t = current_thread(true, now);

	if (!t || (t->flags & AXRT_F_DEAD))
		return KEEP_EVENT;
	if (t->flags & AXRT_F_HALTING) {
		/* No halt happened (an event was pending): that was exit handling. */
		enter(t, AXRT_ST_GUEST, now);
		if (t->state_ns[AXRT_ST_HALT_POLL] >= t->poll_ns) {
			t->state_ns[AXRT_ST_HALT_POLL] -= t->poll_ns;
			t->state_ns[AXRT_ST_HOST] += t->poll_ns;
			t->exit_handled_ns += t->poll_ns;
		}
		t->poll_ns = 0;
		t->flags &= ~AXRT_F_HALTING;
	} else {
		enter(t, AXRT_ST_GUEST, now);
	}
	exit_done(t);
	return KEEP_EVENT;
}

SEC("tracepoint/kvm/kvm_exit")
int axrt_kvm_exit(struct trace_event_raw_kvm_exit___axrt *ctx)
{
	u64 now = bpf_ktime_get_ns();
	struct axrt_thread *t = current_thread(true, now);
	u32 reason = ctx->exit_reason, isa = ctx->isa;
	bool hlt;

	if (!t || (t->flags & AXRT_F_DEAD))
		return KEEP_EVENT;
	exit_done(t);	/* two exits without an entry between: close the first */
	hlt = (isa == AXRT_ISA_VMX && (reason & 0xffff) == VMX_EXIT_HLT) ||
	      (isa == AXRT_ISA_SVM && reason == SVM_EXIT_HLT);
	t->exit_reason = reason;
	t->isa = isa;
	t->exit_handled_ns = 0;
	t->flags |= AXRT_F_HAS_EXIT;
	t->exits++;
	if (hlt) {
		t->flags |= AXRT_F_HALTING;
		t->poll_ns = 0;
		enter(t, AXRT_ST_HALT_POLL, now);
	} else {
		enter(t, AXRT_ST_HOST, now);
	}
	return KEEP_EVENT;
}

SEC("tracepoint/kvm/kvm_vcpu_wakeup")
int axrt_kvm_vcpu_wakeup(struct trace_event_raw_kvm_vcpu_wakeup___axrt *ctx)
{
	u64 now = bpf_ktime_get_ns();
	struct axrt_thread *t = current_thread(false, now);

	if (!t || (t->flags & AXRT_F_DEAD))
		return KEEP_EVENT;
	t->halts++;
	if (ctx->waited)
		t->halts_blocked++;
	if (t->flags & AXRT_F_HALTING) {
		enter(t, AXRT_ST_HOST, now);
		t->flags &= ~AXRT_F_HALTING;
		t->poll_ns = 0;
	}
	return KEEP_EVENT;
}

/* Who took the CPU from a preempted vCPU thread: an offset into the WAIT_* states. */
static __always_inline u32 preemptor(struct task_struct *prev, struct task_struct *next)
{
	u32 ntgid = BPF_CORE_READ(next, tgid), ptgid = BPF_CORE_READ(prev, tgid);

	if (BPF_CORE_READ(next, pid) == 0 || (BPF_CORE_READ(next, flags) & PF_KTHREAD))
		return 3;
	if (ntgid == ptgid)
		return 0;
	if (bpf_map_lookup_elem(&vm_procs, &ntgid))
		return 1;
	return 2;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(axrt_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	u64 now = bpf_ktime_get_ns();
	u32 ptid = BPF_CORE_READ(prev, pid), ntid = BPF_CORE_READ(next, pid);
	struct axrt_thread *t;
	u32 who, cpu = bpf_get_smp_processor_id();

	t = bpf_map_lookup_elem(&threads, &ptid);
	if (t && !(t->flags & AXRT_F_DEAD)) {
		/* Every wait so far is in it (the kernel adds a wait at the switch-in). */
		t->run_delay_last_ns = BPF_CORE_READ(prev, sched_info.run_delay);
		if (prev_state == 0) {	/* TASK_RUNNING: preempted */
			who = preemptor(prev, next);
			if (who < AXRT_NR_PREEMPTORS) {
				t->preemptions[who]++;
				enter(t, AXRT_ST_WAIT_SAME_VM + who, now);
			}
		} else {
			enter(t, (t->flags & AXRT_F_HALTING) ? AXRT_ST_HALT_BLOCKED : AXRT_ST_BLOCKED,
			      now);
		}
	}
	t = bpf_map_lookup_elem(&threads, &ntid);
	if (t && !(t->flags & AXRT_F_DEAD)) {
		u64 cur = t->cur;
		u32 st = cur & AXRT_STATE_MASK;
		u64 since = cur >> AXRT_STATE_BITS;
		/* Any wakeup seen belongs to this off-CPU interval (or is stale): consume it. */
		u64 w = __sync_lock_test_and_set(&t->wake_ns, 0);

		if (st == AXRT_ST_BLOCKED || st == AXRT_ST_HALT_BLOCKED) {
			/*
			 * Asleep until the wakeup, then waiting for a CPU. A wakeup that
			 * raced ahead of the switch-out (w <= since) makes it all a wait.
			 */
			if (w && w < now) {
				if (w > since) {
					enter(t, AXRT_ST_WAIT_WOKEN, w);
					since = w;
				} else {
					enter(t, AXRT_ST_WAIT_WOKEN, since);
				}
				hist_add(ntid, AXRT_H_WAKE, 0, now - since);
			}
		} else if (st >= AXRT_ST_WAIT_SAME_VM && st < AXRT_NR_STATES) {
			hist_add(ntid, AXRT_H_PREEMPT, 0, now - since);
		} else if (st == AXRT_ST_WAIT_WOKEN) {
			hist_add(ntid, AXRT_H_WAKE, 0, now - since);
		}
		enter(t, (t->flags & AXRT_F_HALTING) ? AXRT_ST_HALT_POLL : AXRT_ST_HOST, now);
		t->last_cpu = cpu;
	}
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(axrt_sched_waking, struct task_struct *p)
{
	u32 tid = BPF_CORE_READ(p, pid);
	struct axrt_thread *t = bpf_map_lookup_elem(&threads, &tid);

	if (!t)
		return 0;
	/* Read by the switch-in, which splits the sleep here. */
	t->wake_ns = bpf_ktime_get_ns();
	__sync_fetch_and_add(&t->wakeups, 1);
	return 0;
}

SEC("tp_btf/sched_migrate_task")
int BPF_PROG(axrt_sched_migrate_task, struct task_struct *p, int dest_cpu)
{
	u32 tid = BPF_CORE_READ(p, pid);
	struct axrt_thread *t = bpf_map_lookup_elem(&threads, &tid);

	if (!t)
		return 0;
	__sync_fetch_and_add(&t->migrations, 1);
	emit(t, AXRT_R_MIGRATE, 0, bpf_ktime_get_ns(), 0, dest_cpu);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(axrt_sched_process_exit, struct task_struct *p)
{
	u64 now = bpf_ktime_get_ns();
	struct axrt_thread *t = current_thread(false, now);

	if (!t || (t->flags & AXRT_F_DEAD))
		return 0;
	enter(t, AXRT_ST_HOST, now);
	exit_done(t);
	t->run_delay_last_ns = run_delay();
	t->flags |= AXRT_F_DEAD;
	return 0;
}
