// SPDX-License-Identifier: GPL-2.0-only
/*
 * queue.bpf.c - priority queues, wakeup placement and preemption, dispatch
 * (docs/POLICY.md, "Choosing what runs").
 *
 * Queues. Tasks wait in priority order, FIFO within a level. Two designs,
 * chosen at load time (rodata queue_mode):
 *   bitmap  a 256-bit bitmap of non-empty levels (prio_bits) and one FIFO DSQ
 *           per level; dispatch takes the lowest set bit's DSQ.
 *   vtime   one DSQ ordered by key = prio << 52 | sequence; the sequence
 *           grows for tail inserts and shrinks for head inserts.
 * A preempted task goes back to the head of its level (tc->head), one whose
 * slice ran out to the tail.
 *
 * Placement. A queued task wakes an idle CPU it may use; else it preempts
 * the allowed CPU running the worst priority, if that is worse than its own.
 * It claims that CPU as it decides (claim_cpu(): cpu_prio[] goes to its
 * priority at once), so tasks that wake together spread over the CPUs
 * instead of all picking the same one. The kicked CPU re-checks the level it
 * was kicked for (kick_level[]), since a dispatch in between may have
 * cleared that level's bit.
 *
 * Dispatch takes the best queued task this CPU may run; while some group is
 * throttled (nr_throttled) it looks at each queued task, parking those of
 * throttled groups on the way.
 */
#include "axrt.bpf.h"

u64 prio_bits[AXRT_NR_PRIOS / 64];
u64 used_bits[AXRT_NR_PRIOS / 64];
u64 tail_seq = SEQ_MID;
u64 head_seq = SEQ_MID;
/* The level a CPU was last kicked for (bitmap mode), AXRT_NR_PRIOS if none. */
u32 kick_level[MAX_CPUS];

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
		cp = cpu_prio[CPU_IDX(cpu)];
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
 * The CPU waking task @p (context @tc) would preempt (select_cpu): one running
 * a worse priority, else, at the fair level, one running a task far enough
 * ahead in virtual time; -1 if none.
 */
__hidden s32 preempt_target(struct task_struct *p, struct task_ctx *tc, s32 prefer)
{
	struct cpu_pick pick;
	s32 cpu;
	u64 seen;

	cpu = worst_cpu(p, tc->prio, prefer, false, &pick);
	if (cpu < 0 && is_fair(tc->prio))
		cpu = fair_victim(p, tc->vtime, &seen);
	return cpu;
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
__hidden bool claim_cpu(s32 cpu, u32 seen, u32 prio)
{
	return __sync_bool_compare_and_swap(&cpu_prio[CPU_IDX(cpu)], seen, prio);
}

__hidden void count_preemption(u32 slot)
{
	struct axrt_group_stats *st = gstats(slot);

	stat_inc(AXRT_STAT_PREEMPT);
	if (st)
		st->preemptions++;
}

/*
 * Fair level, no worse priority to preempt: kicks a CPU running a task far
 * enough ahead in virtual time (fair_victim()), claimed first. True if one
 * was kicked; else *@cpu stays -1.
 */
static bool fair_wake(struct task_struct *p, s32 *cpu)
{
	struct task_ctx *tc = tctx(p);
	u64 seen;
	s32 c;

	if (!tc)
		return false;
	c = fair_victim(p, tc->vtime, &seen);
	if (c < 0 || !fair_claim(c, seen, tc->vtime))
		return false;
	kick_level[CPU_IDX(c)] = tc->prio;
	scx_bpf_kick_cpu(c, SCX_KICK_PREEMPT);
	count_preemption(tc->slot);
	return true;
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
__hidden void wake_cpu_for(struct task_struct *p, u32 prio, u32 slot, bool force)
{
	s32 cpu, self = bpf_get_smp_processor_id();
	struct cpu_pick pick;
	u32 tries;

	cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
	if (cpu >= 0) {
		kick_level[CPU_IDX(cpu)] = prio;
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		stat_inc(AXRT_STAT_KICK);
		return;
	}
	for (tries = 0; tries < 3; tries++) {
		cpu = worst_cpu(p, prio, self, force, &pick);
		if (cpu < 0 || claim_cpu(cpu, pick.seen, prio))
			break;
	}
	if (cpu < 0 && is_fair(prio) && fair_wake(p, &cpu))
		return;
	if (cpu < 0) {
		if (pick.none_cpu >= 0 && pick.none_cpu != self) {
			kick_level[CPU_IDX(pick.none_cpu)] = prio;
			scx_bpf_kick_cpu(pick.none_cpu, 0);
		}
		return;
	}
	kick_level[CPU_IDX(cpu)] = prio;
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
	count_preemption(slot);
}

/* Inserts @p into the priority queue of its level (not waking anything). */
__hidden void insert_prio(struct task_struct *p, struct task_ctx *tc, u64 slice, u64 enq_flags)
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
		scx_bpf_dsq_insert_vtime(p, AXRT_DSQ_VTIME, slice, vtime_key(prio, seq, tc),
					 enq_flags);
	} else if (is_fair(prio)) {
		/* The host level's queue is ordered by virtual time (fair.bpf.c). */
		scx_bpf_dsq_insert_vtime(p, AXRT_DSQ_LEVEL0 + prio, slice, tc->vtime, enq_flags);
		set_level_bit(prio);
	} else {
		scx_bpf_dsq_insert(p, AXRT_DSQ_LEVEL0 + prio, slice,
				   enq_flags | (head ? SCX_ENQ_HEAD : 0));
		set_level_bit(prio);
	}
}

/*
 * Slow pick from @dsq while some group is throttled: queued tasks of a
 * throttled group are parked on the way (or demoted) instead of run.
 * Returns true once a task was moved to this CPU. A global function, so
 * the verifier walks its loop once, not per caller.
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

/*
 * ops.enqueue's inserts land after it returns, so a dispatching CPU can find
 * a level empty, clear its bit, and miss the task that arrives just after.
 * While worse levels have tasks no CPU idles, so a lost bit would hide a
 * better task for as long as worse ones keep the CPUs (seen in the VM: a
 * priority-200 VM's hog got 60 ms instead of the 40 that two better VMs
 * left it in 3 of 72 periods; with this, 9 lost bits in 8 s were found and
 * none such period). So a dispatch, before it takes a level, re-derives
 * the clear bits of the better levels in [@from, @bound) that ever had a
 * task (used_bits) from their DSQs:
 * a counter read each, a handful for a configuration's few priorities
 * (reading all 256 levels cost a dispatch ~100 us under emulation, with the
 * runqueue locked). The reserve scan reads all of them. Returns the best
 * level whose bit was missing, AXRT_NR_PRIOS if none. A global function, so
 * the verifier walks its loops once, not per caller.
 */
__noinline u32 heal_bits(u32 from, u32 bound)
{
	/* volatile: clang otherwise leaves it uninitialized on the empty-loop path */
	volatile u32 best = AXRT_NR_PRIOS;
	u32 w, i, level;
	u64 word;

	bpf_for(w, 0, AXRT_NR_PRIOS / 64) {
		if (bound <= w * 64)
			break;
		if (from >= (w + 1) * 64)
			continue;
		word = used_bits[w & 3] & ~prio_bits[w & 3];
		if (from > w * 64)
			word &= ~0ULL << (from - w * 64);
		if (bound < (w + 1) * 64)
			word &= (1ULL << (bound - w * 64)) - 1;
		bpf_for(i, 0, 64) {
			if (!word)
				break;
			level = (w & 3) * 64 + lowest_bit(word);
			word &= word - 1;
			if (scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + level) > 0) {
				set_level_bit(level);
				stat_inc(AXRT_STAT_HEAL);
				if (level < best)
					best = level;
			}
		}
	}
	return best;
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
	/* volatile: clang otherwise reads an unset register on the empty-loop path */
	volatile bool found = false;
	u32 tries, level, healed, from = 0;

	bpf_for(tries, 0, 16) {
		level = first_level_from(from);
		/* A better level whose bit was lost comes first (heal_bits()). */
		healed = heal_bits(from, level <= limit ? level : limit + 1);
		if (healed < level)
			level = healed;
		if (level > limit || level >= AXRT_NR_PRIOS)
			break;
		if (take_from(AXRT_DSQ_LEVEL0 + level, cpu)) {
			found = true;
			break;
		}
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
	return found;
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

/* Runs the best queued task of priority <= @limit on @cpu; false if there is none. */
__hidden bool dispatch_queued(s32 cpu, u32 limit)
{
	if (queue_mode == AXRT_QUEUE_VTIME)
		return pick_vtime(limit, cpu);
	return pick_bitmap(limit, cpu);
}

/*
 * @cpu found nothing to run: heal lost level bits (and dispatch again at
 * once if one was), and let a throttled background group use the CPU.
 * pick_bitmap() healed the levels it looked at; this covers the ones its
 * 16 tries did not reach and inserts that landed since.
 */
__hidden void dispatch_idle(s32 cpu)
{
	if (queue_mode != AXRT_QUEUE_VTIME && heal_bits(0, AXRT_NR_PRIOS) < AXRT_NR_PRIOS)
		scx_bpf_kick_cpu(cpu, 0);
	if (scx_bpf_dsq_nr_queued(AXRT_DSQ_BG) && scx_bpf_dsq_move_to_local(AXRT_DSQ_BG, 0))
		stat_inc(AXRT_STAT_BG_RUN);
}

/*
 * Takes the level this CPU was last kicked for (AXRT_NR_PRIOS if none) and
 * sets its bit if it has tasks: the kick's task is there, whatever the bit
 * says (see wake_cpu_for()).
 */
__hidden u32 take_kick_level(s32 cpu)
{
	u32 lvl = kick_level[CPU_IDX(cpu)];

	if (lvl >= AXRT_NR_PRIOS)
		return AXRT_NR_PRIOS;
	kick_level[CPU_IDX(cpu)] = AXRT_NR_PRIOS;
	if (queue_mode != AXRT_QUEUE_VTIME && scx_bpf_dsq_nr_queued(AXRT_DSQ_LEVEL0 + lvl))
		set_level_bit(lvl);
	return lvl;
}

/* ops.init: the queues (one per level, the vtime queue, reserve and background). */
__hidden s32 queue_init(void)
{
	s32 ret;
	u32 i;

	bpf_for(i, 0, MAX_CPUS)
		kick_level[CPU_IDX(i)] = AXRT_NR_PRIOS;
	bpf_for(i, 0, AXRT_NR_PRIOS) {
		ret = scx_bpf_create_dsq(AXRT_DSQ_LEVEL0 + i, NUMA_NO_NODE);
		if (ret)
			return ret;
	}
	ret = scx_bpf_create_dsq(AXRT_DSQ_VTIME, NUMA_NO_NODE);
	if (!ret)
		ret = scx_bpf_create_dsq(AXRT_DSQ_RESERVE, NUMA_NO_NODE);
	if (!ret)
		ret = scx_bpf_create_dsq(AXRT_DSQ_BG, NUMA_NO_NODE);
	return ret;
}
