# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 6 (2-4): boosts and deadlocks.
#
# Directed yield: a micro-VM of 3 vCPUs on 2 CPUs contends for one guest spinlock (200 us
# critical sections); a waiter issues KVM's sched-yield hypercall to the holder's vCPU, which KVM
# turns into yield_to() and sched_ext into ops.yield(from, to). With boosts the holder runs next
# on the waiter's CPU; with --no-boost the yield is declined and the waiter spins on. Both runs
# are in the same VM boot, one after the other, twice; the lock's throughput and acquisition
# waits are compared, and the yield-to-run latency of the boosts is reported.
#
# Lock chains and deadlocks (axrt-locks): a low-priority holder of a PI mutex, medium-priority
# hogs and a high-priority waiter on one CPU, with and without boosts and with two hog lengths;
# a two-thread AB/BA deadlock on PI mutexes; a PI-futex benchmark with the futex observation on
# and off.
. ./lib.sh

ROOT=$CG/axrt-bo
OUT=$AXRT_OUT/boosts.txt
: >"$OUT"
mkdir -p "$ROOT"

cat >/tmp/bo.toml <<'TOML'
[[vm]]
name = "lk"
cgroup = "axrt-bo/lk"
priority = 100

[[vm]]
name = "locks"
cgroup = "axrt-bo/locks"
priority = 128

[[task]]
vm = "locks"
comm = "pi-low"
priority = 200

[[task]]
vm = "locks"
comm = "pi-mid"
priority = 100

[[task]]
vm = "locks"
comm = "pi-high"
priority = 10
TOML

# --- directed yield -----------------------------------------------------------------------------
# lock_run MODE ROUND: one 3 s lock run under scx_axrt (MODE "boost" or "no-boost"); leaves the
# table in /tmp/bo-MODE-ROUND.txt, the report in /tmp/bo-MODE-ROUND.json and scx_axrt's log in
# $AXRT_OUT.
lock_run() {
	flags="--config /tmp/bo.toml --rescan-ms 100 --stats 0.5 --json --events $AXRT_OUT/boosts-$1-$2.jsonl"
	[ "$1" = no-boost ] && flags="$flags --no-boost"
	scx_start_checked "scx_axrt starts ($1, round $2)" $flags || return 1
	args="--vm-spec lk:3:lock --yield hypercall --cs-us 200 --ncs-us 50 --duration-s 3 --cgroup-root $ROOT
		--json /tmp/bo-$1-$2.json"
	axrt-vmload $args >/tmp/bo-$1-$2.txt 2>&1
	rerun_on_fault $? /tmp/bo-$1-$2.txt $args
	status=$?
	usleep 600000 # one more --stats interval, so the run's end is in a report
	scx_stop INT
	cp $SCX_LOG "$AXRT_OUT/scx_axrt-boosts-$1-$2.log"
	check_eq "the $1 lock run (round $2) ends with status 0$(error_of $status /tmp/bo-$1-$2.txt)" 0 $status
}
runs=
for round in 1 2; do
	for mode in boost no-boost; do
		rm -f /tmp/bo-$mode-$round.json
		lock_run $mode $round
		runs="$runs --run $mode $round /tmp/bo-$mode-$round.json $AXRT_OUT/scx_axrt-boosts-$mode-$round.log"
	done
done
# Acquisitions, boosts counted and boost events, against what boosts and --no-boost must give
# (tools/axrt-check/src/boosts.rs); the throughput ratio is reported, not asserted.
axrt-check boosts --notes "$OUT" yield $runs --events "$AXRT_OUT/boosts-boost-1.jsonl"

# --- lock chains: priority inversion --------------------------------------------------------------
# inv_run MODE HOG_MS: one inversion under scx_axrt (MODE boost or no-boost) with hogs of HOG_MS;
# the result in /tmp/inv-MODE-HOG_MS.json. The threads start when scx_axrt reports both named
# threads with their specs (the stats' task list), so their priorities are in force.
inv_run() {
	flags="--config /tmp/bo.toml --rescan-ms 100 --stats 0.2 --json --events $AXRT_OUT/inv-$1-$2.jsonl"
	[ "$1" = no-boost ] && flags="$flags --no-boost"
	scx_start_checked "scx_axrt starts (inversion, $1)" $flags || return 1
	cg_make axrt-bo/locks
	rm -f /tmp/inv.go && mkfifo /tmp/inv.go
	cg_spawn axrt-bo/locks axrt-locks inversion --hold-ms 20 --hog-ms $2 --hogs 2 --cpu 1 \
		--go /tmp/inv.go --json /tmp/inv-$1-$2.json
	prog=$!
	n=0
	until axrt-check has-tasks --stats "$SCX_LOG" locks/pi-low locks/pi-high; do
		n=$((n + 1))
		[ $n -gt 300 ] && break
		usleep 50000
	done
	echo go >/tmp/inv.go
	wait $prog
	status=$?
	scx_stop INT
	cp $SCX_LOG "$AXRT_OUT/scx_axrt-inv-$1-$2.log"
	check_eq "the inversion ($1, hogs $2 ms) ends with status 0" 0 $status
}
runs=
for mode in boost no-boost; do
	for hog in 200 400; do
		rm -f /tmp/inv-$mode-$hog.json
		inv_run $mode $hog
		runs="$runs --run $mode $hog /tmp/inv-$mode-$hog.json $AXRT_OUT/inv-$mode-$hog.jsonl"
	done
done
# The waits with and without inheritance, and the lock boost's events (axrt-check boosts
# inversion says why each bound is what it is).
axrt-check boosts --notes "$OUT" inversion $runs

# --- deadlock -----------------------------------------------------------------------------------
scx_start_checked "scx_axrt starts (deadlock)" --config /tmp/bo.toml --events $AXRT_OUT/deadlock.jsonl || exit 0
axrt-locks deadlock --json /tmp/dl.json
status=$?
usleep 200000 # the event thread polls every 100 ms
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-deadlock.log"
check_eq "the deadlock program ends with status 0" 0 $status
cat /tmp/dl.json | tee -a "$OUT"
axrt-check boosts --notes "$OUT" deadlock --result /tmp/dl.json --events "$AXRT_OUT/deadlock.jsonl"

# --- the cost of observing PI futexes ------------------------------------------------------------
# bench_run FILE FLAGS...: a 2 s PI-futex benchmark (4 threads) under scx_axrt FLAGS; its result
# in FILE.
bench_run() {
	f=$1
	shift
	rm -f "$f"
	scx_start_checked "scx_axrt starts (bench $*)" "$@" || return
	axrt-locks bench --threads 4 --duration-s 2 --json "$f" >/dev/null
	scx_stop INT
}
# Three setups: observed with boosts, observed without (--no-boost: the cost of watching alone),
# not observed (--no-lock-trace). The ratios are reported, not asserted (timing).
for round in 1 2; do
	bench_run /tmp/bench-on-$round.json --config /tmp/bo.toml
	bench_run /tmp/bench-watch-$round.json --config /tmp/bo.toml --no-boost
	bench_run /tmp/bench-off-$round.json --config /tmp/bo.toml --no-lock-trace
	axrt-check boosts --notes "$OUT" bench --round $round --observed /tmp/bench-on-$round.json \
		--watched /tmp/bench-watch-$round.json --unobserved /tmp/bench-off-$round.json
done
# stress-ng --futex (wait/wake, no PI) observed and not: reported.
scx_start_checked "scx_axrt starts (stress-ng --futex)" --config /tmp/bo.toml || exit 0
stress-ng --futex 2 -t 2 --metrics-brief >/tmp/futex-on.txt 2>&1
scx_stop INT
scx_start_checked "scx_axrt starts (stress-ng --futex, not observed)" --config /tmp/bo.toml --no-lock-trace || exit 0
stress-ng --futex 2 -t 2 --metrics-brief >/tmp/futex-off.txt 2>&1
scx_stop INT
axrt-check boosts --notes "$OUT" futex --observed /tmp/futex-on.txt --unobserved /tmp/futex-off.txt
