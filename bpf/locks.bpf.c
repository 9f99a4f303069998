// SPDX-License-Identifier: GPL-2.0-only
/*
 * locks.bpf.c - lock chains of PI futexes, their priority inheritance and
 * deadlock detection, docs/POLICY.md "Boosts (priority inheritance) and
 * deadlocks".
 *
 * Observation. Three fentry/fexit programs on the kernel's PI futex paths
 * (the loader leaves them unloaded with --no-lock-trace):
 *   futex_lock_pi entry   w starts waiting on the futex word at uaddr: its
 *                         owner is the tid in the word (FUTEX_TID_MASK).
 *                         Edge w -> lock, lock -> owner (lock_waits,
 *                         lock_owners); the owner chain is walked.
 *   futex_lock_pi exit    w stops waiting: the edge goes; if it got the
 *                         lock (return 0) it is the lock's owner now.
 *   futex_unlock_pi entry the owner releases: the lock has no owner until
 *                         the woken waiter returns.
 * A lock is (tgid, uaddr): futex words are addresses in one process.
 *
 * Per-lock waiters. Each lock with waiters keeps a summary of them (count,
 * best priority, how many wait at it: lock_waiters), so the thread that
 * takes a contended lock inherits from its waiters in O(1). Only when the
 * last waiter at the best priority leaves while others remain, or a summary
 * was evicted, is the waiter map walked (rare: it takes different
 * priorities waiting on one lock).
 *
 * Inheritance. A new edge passes e(w) along the owner chain, to depth
 * AXRT_CHAIN_MAX, lowering each owner's lock_prio where it is better
 * (boosts never lower a priority). When an edge goes, the owner's lock_prio
 * is recomputed from its remaining waiters (lock_waits records each
 * waiter's effective priority), and so on up its chain. A changed task that
 * is queued is moved by a dispatch (boost.bpf.c, requeue_q). With
 * --no-boost the graph is kept (for deadlocks) but no priority changes.
 *
 * Deadlock. If the walk from a new edge w -> owner comes back to w, the
 * edge closed a cycle: one AXRT_EV_DEADLOCK event names the tids and futex
 * addresses, in the same program run as the edge (well within 1 ms). The
 * kernel itself then refuses that FUTEX_LOCK_PI with EDEADLK.
 *
 * Tids in futex words are of the waiter's pid namespace; this assumes the
 * initial one (the host's view of its VMs' threads).
 */

#include "axrt.bpf.h"

#define FUTEX_TID_MASK	0x3fffffff
#define FUTEX_WAITERS	0x80000000

struct lock_key {
	u64 uaddr;
	u32 tgid;
	u32 pad;
};

struct lock_wait {
	struct lock_key lock;
	u64 since;
	u32 prio;		/* the waiter's effective priority */
	u32 pad;
};

/*
 * Waiter tid -> the lock it waits for. Recomputing a boost walks the whole
 * map (every bucket), so it is kept small: waits beyond 1024 at once are
 * not followed.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, s32);
	__type(value, struct lock_wait);
	__uint(max_entries, 1024);
} lock_waits SEC(".maps");

/*
 * Lock -> owner tid, as last seen. An owner that later releases without
 * contention (in user space) leaves a stale entry, which only a new wait
 * on the lock reads again, after refreshing it: LRU bounds them.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lock_key);
	__type(value, s32);
	__uint(max_entries, 8192);
} lock_owners SEC(".maps");

/*
 * Lock -> summary of its waiters, one word changed by compare-and-swap:
 * count (bits 32-47), best priority (16-31, AXRT_NR_PRIOS = none) and how
 * many wait at that priority (0-15). LRU: a summary evicted while the lock
 * has waiters only costs the walk it saves.
 */
struct lock_waiters {
	u64 word;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lock_key);
	__type(value, struct lock_waiters);
	__uint(max_entries, 4096);
} lock_waiters SEC(".maps");

#define W_COUNT(w)		((u32)((w) >> 32) & 0xffff)
#define W_BEST(w)		((u32)((w) >> 16) & 0xffff)
#define W_AT_BEST(w)		((u32)(w) & 0xffff)
#define W_MAKE(n, best, at)	(((u64)(n) << 32) | ((u64)(best) << 16) | (u64)(at))
#define W_EMPTY			W_MAKE(0, AXRT_NR_PRIOS, 0)

/* Scratch for building a deadlock report (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, u32);
	__type(value, struct axrt_deadlock_event);
	__uint(max_entries, 1);
} cycle_buf SEC(".maps");

/*
 * Sets task @pid's lock boost to @prio (AXRT_NR_PRIOS = none): with
 * @raise_only only if that betters its effective priority, set exactly
 * otherwise (a boost no better than the task's own priority is dropped).
 * Reports and counts a boost that starts (given by @by) or ends; a queued
 * task whose priority changed is requeued. Returns @pid's effective
 * priority after, AXRT_NR_PRIOS if unknown.
 */
static u32 set_lock_prio(s32 pid, u32 prio, bool raise_only, s32 by, u32 by_slot)
{
	struct task_struct *p;
	struct task_ctx *tc;
	u32 was, old, e = AXRT_NR_PRIOS;

	p = bpf_task_from_pid(pid);
	if (!p)
		return AXRT_NR_PRIOS;
	tc = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (!tc)
		goto out;
	e = tc->prio;
	if (!raise_only && prio >= tc->base_prio && prio >= tc->yield_prio)
		prio = AXRT_NR_PRIOS;
	if (!boost_enabled || (raise_only && prio >= tc->prio) || prio == tc->lock_prio)
		goto out;
	was = tc->lock_prio;
	old = tc->prio;
	tc->lock_prio = prio;
	update_prio(tc);
	e = tc->prio;
	if (was >= AXRT_NR_PRIOS) {
		count_boost(by_slot, by, tc->slot, pid);
		boost_event(AXRT_EV_BOOST, tc->slot, pid, by, e, old, AXRT_BOOST_LOCK);
	} else if (prio >= AXRT_NR_PRIOS) {
		boost_event(AXRT_EV_BOOST_END, tc->slot, pid, 0, e, old, AXRT_BOOST_LOCK);
	}
	if (e != old && is_prio_dsq(queued_on(p)))
		request_requeue(pid, scx_bpf_task_cpu(p));
out:
	bpf_task_release(p);
	return e;
}

struct best_ctx {
	s32 owner;
	u32 best;
};

static long best_waiter_cb(struct bpf_map *map, s32 *tid, struct lock_wait *w, struct best_ctx *c)
{
	s32 *owner = bpf_map_lookup_elem(&lock_owners, &w->lock);

	if (owner && *owner == c->owner && w->prio < c->best)
		c->best = w->prio;
	return 0;
}

/* The summary of @key's waiters, created empty if it has none. */
static struct lock_waiters *waiters_of(struct lock_key *key)
{
	struct lock_waiters *lw = bpf_map_lookup_elem(&lock_waiters, key), empty = { W_EMPTY };

	if (lw)
		return lw;
	bpf_map_update_elem(&lock_waiters, key, &empty, BPF_NOEXIST);
	return bpf_map_lookup_elem(&lock_waiters, key);
}

/*
 * One waiter of @key at priority @add arrives and/or one at @del leaves
 * (AXRT_NR_PRIOS: none). Returns false if the summary no longer knows its
 * best waiter (the last one at the best priority left, others remain) or is
 * missing; waiters_rescan() then rebuilds it.
 */
static bool waiters_change(struct lock_key *key, u32 add, u32 del)
{
	struct lock_waiters *lw = waiters_of(key);
	u32 n, best, at, tries;
	bool unknown;
	u64 old, new;

	if (!lw)
		return false;
	bpf_for(tries, 0, 8) {
		old = lw->word;
		n = W_COUNT(old);
		best = W_BEST(old);
		at = W_AT_BEST(old);
		/* n > 0 with none at the best: the best is unknown until a rescan. */
		unknown = n > 0 && !at;
		if (del < AXRT_NR_PRIOS && n > 0) {
			n--;
			if (del == best && at > 0)
				at--;
		}
		if (add < AXRT_NR_PRIOS && unknown) {
			n++;
		} else if (add < AXRT_NR_PRIOS) {
			if (add < best) {
				best = add;
				at = 1;
			} else if (add == best) {
				at++;
			}
			n++;
		}
		if (!n)
			new = W_EMPTY;
		else if (!at)
			new = W_MAKE(n, AXRT_NR_PRIOS, 0);
		else
			new = W_MAKE(n, best, at);
		if (__sync_bool_compare_and_swap(&lw->word, old, new))
			return !n || at;
	}
	return false;
}

struct rescan_ctx {
	struct lock_key key;
	u32 n;
	u32 best;
	u32 at;
};

static long rescan_cb(struct bpf_map *map, s32 *tid, struct lock_wait *w, struct rescan_ctx *c)
{
	if (w->lock.uaddr != c->key.uaddr || w->lock.tgid != c->key.tgid)
		return 0;
	c->n++;
	if (w->prio < c->best) {
		c->best = w->prio;
		c->at = 1;
	} else if (w->prio == c->best) {
		c->at++;
	}
	return 0;
}

/* Rebuilds the summary of @key's waiters from the waiter map; returns the best priority. */
static u32 waiters_rescan(struct lock_key *key)
{
	struct rescan_ctx c = { .key = *key, .best = AXRT_NR_PRIOS };
	struct lock_waiters *lw;

	bpf_for_each_map_elem(&lock_waits, rescan_cb, &c, 0);
	lw = waiters_of(key);
	if (lw)
		lw->word = c.n ? W_MAKE(c.n, c.best, c.at) : W_EMPTY;
	return c.best;
}

/* Waiter @w's effective priority becomes @e: its lock's summary follows. */
static void wait_set_prio(struct lock_wait *w, u32 e)
{
	u32 old = w->prio;

	if (e == old)
		return;
	w->prio = e;
	if (!waiters_change(&w->lock, e, old))
		waiters_rescan(&w->lock);
}

/* True if task @pid has a lock boost now. */
static bool has_lock_boost(s32 pid)
{
	struct task_struct *p = bpf_task_from_pid(pid);
	struct task_ctx *tc;
	bool boosted = false;

	if (!p)
		return false;
	tc = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (tc)
		boosted = tc->lock_prio < AXRT_NR_PRIOS;
	bpf_task_release(p);
	return boosted;
}

/*
 * Task @pid's waiters changed: recompute its lock boost from the waiters it
 * has now, then its own owner's, up the chain. A task without a boost can
 * only gain one (@gain: it just took a lock that has waiters); losing
 * waiters changes nothing for it, which ends the walk.
 */
static void recompute_chain(s32 pid, bool gain)
{
	struct best_ctx c;
	struct lock_wait *w;
	s32 *next;
	u32 depth, e;

	if (!boost_enabled)
		return;
	bpf_for(depth, 0, AXRT_CHAIN_MAX) {
		if (pid <= 0 || (!(gain && depth == 0) && !has_lock_boost(pid)))
			break;
		c.owner = pid;
		c.best = AXRT_NR_PRIOS;
		bpf_for_each_map_elem(&lock_waits, best_waiter_cb, &c, 0);
		e = set_lock_prio(pid, c.best, false, 0, AXRT_HOST_SLOT);
		w = bpf_map_lookup_elem(&lock_waits, &pid);
		if (!w)
			break;
		if (e < AXRT_NR_PRIOS)
			wait_set_prio(w, e);
		next = bpf_map_lookup_elem(&lock_owners, &w->lock);
		if (!next)
			break;
		pid = *next;
	}
}

/* Reports the cycle in @ev (its tids/addrs filled up to @len). */
static void report_deadlock(struct axrt_deadlock_event *cyc, u32 len, u64 seen, u32 prio)
{
	struct axrt_deadlock_event *ev;
	struct task_struct *p;
	u32 i;

	stat_inc(AXRT_STAT_DEADLOCK);
	ev = bpf_ringbuf_reserve(&axrt_events, sizeof(*ev), 0);
	if (!ev) {
		stat_inc(AXRT_STAT_EV_DROP);
		return;
	}
	__builtin_memcpy(ev->tids, cyc->tids, sizeof(ev->tids));
	__builtin_memcpy(ev->addrs, cyc->addrs, sizeof(ev->addrs));
	__builtin_memcpy(ev->tgids, cyc->tgids, sizeof(ev->tgids));
	/* Their names now: the threads may be gone when user space reads the event. */
	bpf_for(i, 0, AXRT_CYCLE_MAX) {
		if (i >= len)
			break;
		p = bpf_task_from_pid(cyc->tids[i]);
		if (!p) {
			ev->comms[i][0] = 0;
			continue;
		}
		bpf_probe_read_kernel_str(ev->comms[i], sizeof(ev->comms[i]), p->comm);
		bpf_task_release(p);
	}
	ev_fill(&ev->head, AXRT_EV_DEADLOCK, 0, cyc->tids[0], prio);
	ev->head.arg = len;
	ev->head.arg2 = ev->head.ts_ns - seen;	/* detection latency */
	ev->head.ts_ns = seen;
	bpf_ringbuf_submit(ev, 0);
}

/*
 * The new edge @self -> @key -> @owner: pass @self's priority @prio along
 * the owner chain, and report a deadlock if the chain leads back to @self.
 */
static void walk_chain(s32 self, u32 self_slot, struct lock_key *key, s32 owner, u32 prio, u64 now)
{
	struct axrt_deadlock_event *cyc;
	struct lock_wait *w;
	u32 zero = 0, i, e;
	s32 cur = owner, *next;

	cyc = bpf_map_lookup_elem(&cycle_buf, &zero);
	if (!cyc)
		return;
	cyc->tids[0] = self;
	cyc->addrs[0] = key->uaddr;
	cyc->tgids[0] = key->tgid;
	bpf_for(i, 1, AXRT_CYCLE_MAX + 1) {
		if (cur == self) {
			report_deadlock(cyc, i, now, prio);
			return;
		}
		if (i > AXRT_CHAIN_MAX || i >= AXRT_CYCLE_MAX)
			return;
		e = set_lock_prio(cur, prio, true, self, self_slot);
		w = bpf_map_lookup_elem(&lock_waits, &cur);
		if (!w)
			return;
		if (e < w->prio)
			wait_set_prio(w, e);
		cyc->tids[i & (AXRT_CYCLE_MAX - 1)] = cur;
		cyc->addrs[i & (AXRT_CYCLE_MAX - 1)] = w->lock.uaddr;
		cyc->tgids[i & (AXRT_CYCLE_MAX - 1)] = w->lock.tgid;
		next = bpf_map_lookup_elem(&lock_owners, &w->lock);
		if (!next)
			return;
		cur = *next;
	}
}

static __always_inline void lock_key_of(struct lock_key *key, u32 *uaddr)
{
	key->uaddr = (u64)uaddr;
	key->tgid = bpf_get_current_pid_tgid() >> 32;
	key->pad = 0;
}

SEC("fentry/futex_lock_pi")
int BPF_PROG(axrt_futex_lock_pi, u32 *uaddr, unsigned int flags, void *time, int trylock)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	struct lock_wait w = {};
	struct task_ctx *tc;
	s32 self = cur->pid, owner;
	u32 word;

	if (trylock || bpf_probe_read_user(&word, sizeof(word), uaddr))
		return 0;
	owner = word & FUTEX_TID_MASK;
	if (!owner || owner == self)
		return 0;
	tc = bpf_task_storage_get(&task_ctxs, cur, 0, 0);
	lock_key_of(&w.lock, uaddr);
	w.since = bpf_ktime_get_ns();
	w.prio = tc ? tc->prio : AXRT_NR_PRIOS - 1;
	stat_inc(AXRT_STAT_LOCK_WAIT);
	bpf_map_update_elem(&lock_waits, &self, &w, BPF_ANY);
	if (!waiters_change(&w.lock, w.prio, AXRT_NR_PRIOS))
		waiters_rescan(&w.lock);
	bpf_map_update_elem(&lock_owners, &w.lock, &owner, BPF_ANY);
	walk_chain(self, tc ? tc->slot : AXRT_HOST_SLOT, &w.lock, owner, w.prio, w.since);
	return 0;
}

SEC("fexit/futex_lock_pi")
int BPF_PROG(axrt_futex_lock_pi_exit, u32 *uaddr, unsigned int flags, void *time, int trylock,
	     int ret)
{
	s32 self = bpf_get_current_pid_tgid(), old = 0, *ownerp;
	struct lock_waiters *lw;
	struct lock_wait *w;
	struct lock_key key;
	u32 word = 0, prio, best;

	w = bpf_map_lookup_elem(&lock_waits, &self);
	if (!w)
		return 0;
	key = w->lock;
	prio = w->prio;
	bpf_map_delete_elem(&lock_waits, &self);
	if (!waiters_change(&key, AXRT_NR_PRIOS, prio))
		waiters_rescan(&key);
	ownerp = bpf_map_lookup_elem(&lock_owners, &key);
	if (ownerp)
		old = *ownerp;
	if (ret == 0)
		bpf_map_update_elem(&lock_owners, &key, &self, BPF_ANY);
	if (old && old != self)
		recompute_chain(old, false);
	/*
	 * It owns the lock now; others still wait on it if the kernel says so,
	 * and it inherits the best of them (O(1): the lock's summary).
	 */
	if (ret == 0 && !bpf_probe_read_user(&word, sizeof(word), uaddr) && (word & FUTEX_WAITERS)) {
		lw = bpf_map_lookup_elem(&lock_waiters, &key);
		best = lw ? W_BEST(lw->word) : AXRT_NR_PRIOS;
		if (!lw || (W_COUNT(lw->word) && !W_AT_BEST(lw->word)))
			recompute_chain(self, true);
		else if (best < AXRT_NR_PRIOS)
			set_lock_prio(self, best, true, 0, AXRT_HOST_SLOT);
	}
	return 0;
}

SEC("fentry/futex_unlock_pi")
int BPF_PROG(axrt_futex_unlock_pi, u32 *uaddr, unsigned int flags)
{
	s32 self = bpf_get_current_pid_tgid(), *ownerp;
	struct lock_key key;

	lock_key_of(&key, uaddr);
	ownerp = bpf_map_lookup_elem(&lock_owners, &key);
	if (ownerp && *ownerp == self)
		bpf_map_delete_elem(&lock_owners, &key);
	recompute_chain(self, false);
	return 0;
}
