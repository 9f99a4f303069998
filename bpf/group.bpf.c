// SPDX-License-Identifier: GPL-2.0-only
/*
 * group.bpf.c - VMs: which group (slot) a cgroup is, and which group,
 * priority, slice and timing contract a task has (docs/POLICY.md,
 * "Entities").
 *
 * A group is a cgroup and everything below it: the nearest ancestor cgroup
 * that has a spec (axrt_group_spec, written by the loader) or a cpu.max
 * budget (axrt_cgroup_bw, kept by the cgroup callbacks on 6.17+, else by the
 * loader). Each group has a slot in axrt_groups, taken the first time a task
 * resolves to it, and freed by its period timer once the cgroup has neither
 * (a removed cgroup loses both). Slot 0 is the host group.
 *
 * A task caches what it resolved to in its task_ctx, tagged with the
 * generation (axrt_generation) it was resolved at; the loader, a cgroup
 * move or a cgroup's budget change bumps the generation, and the task
 * resolves again at its next enqueue or run.
 */
#include "axrt.bpf.h"

#define MAX_DEPTH	16		/* cgroup ancestors looked at for a group */


/* The loader's groups, key = cgroup id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, struct axrt_group_spec);
	__uint(max_entries, 4096);
} axrt_group_spec SEC(".maps");

/* Cgroups whose cpu.max is not "max", key = cgroup id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, struct axrt_cgroup_bw);
	__uint(max_entries, 4096);
} axrt_cgroup_bw SEC(".maps");

/* The loader's per-thread overrides, key = tid. */
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

/* cgroup id -> group slot, for the cgroups that have one. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, u64);
	__type(value, u32);
	__uint(max_entries, AXRT_MAX_GROUPS);
} slot_of SEC(".maps");

static __always_inline u64 cur_generation(void)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&axrt_generation, &zero);

	return gen ? *gen : 0;
}

__hidden void bump_generation(void)
{
	u32 zero = 0;
	u64 *gen = bpf_map_lookup_elem(&axrt_generation, &zero);

	if (gen)
		__sync_fetch_and_add(gen, 1);
}

/*
 * Brings @g's parameters up to date with its spec and cpu.max: cpu.max wins
 * for the budget, the spec gives priority and overrun mode. Returns false
 * when the cgroup is no group any more.
 */
__hidden bool refresh_group(struct group *g)
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

/* The group @p is in: its nearest ancestor cgroup that is one (host if none). */
static u32 task_group(struct task_struct *p)
{
	struct cgroup *cgrp, *anc;
	u32 slot = AXRT_HOST_SLOT;
	s32 s, i, level;

	cgrp = scx_bpf_task_cgroup(p);
	if (!cgrp)
		return slot;
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
	return slot;
}

/*
 * Works out @p's group, effective priority, slice and timing contract and
 * caches them in @tc. Runs under the rq lock (enqueue/running), where
 * scx_bpf_task_cgroup() is allowed.
 */
static void resolve(struct task_struct *p, struct task_ctx *tc, u64 gen)
{
	struct axrt_task_spec *ts;
	u32 slot = task_group(p), prio = host_prio;
	struct group *g = group_at(slot);
	s32 pid = p->pid;

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

/* Resolves @p again if the generation moved since it last did. */
__hidden void ensure_resolved(struct task_struct *p, struct task_ctx *tc)
{
	u64 gen = cur_generation();

	/* Generations start at 0 and a fresh task has gen 0: use gen + 1. */
	if (tc->gen != gen + 1)
		resolve(p, tc, gen + 1);
}

/* Frees the slot of @g, whose cgroup is no group any more (from its period timer). */
__hidden void group_free(struct group *g)
{
	u64 cgid = g->info.cgid;

	bpf_map_delete_elem(&slot_of, &cgid);
	g->timer_armed = 0;
	g->info.cgid = 0;
	bump_generation();
}

/* Records a cgroup's cpu.max (in us; quota "max" is a huge value) as its budget. */
__hidden void group_cgroup_bw(struct cgroup *cgrp, u64 period_us, u64 quota_us)
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

/*
 * A cgroup is removed (it has no tasks left). If it is a group, its spec
 * goes too, and its period timer frees the slot (refresh_group() fails
 * now) and releases anything still parked there; unbudgeted groups have no
 * pending timer, so it is started for that. Without this, VMs that come and
 * go would use up the slots.
 */
__hidden void group_cgroup_exit(struct cgroup *cgrp)
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
