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
note() { echo "boosts: $*" | tee -a "$OUT"; }
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
# table in /tmp/bo-MODE-ROUND.txt and scx_axrt's log in $AXRT_OUT.
lock_run() {
	flags="--config /tmp/bo.toml --rescan-ms 100 --stats 0.5 --json --events $AXRT_OUT/boosts-$1-$2.jsonl"
	[ "$1" = no-boost ] && flags="$flags --no-boost"
	scx_start_checked "scx_axrt starts ($1, round $2)" $flags || return 1
	args="--vm-spec lk:3:lock --yield hypercall --cs-us 200 --ncs-us 50 --duration-s 3 --cgroup-root $ROOT"
	axrt-vmload $args >/tmp/bo-$1-$2.txt 2>&1
	rerun_on_fault $? /tmp/bo-$1-$2.txt $args
	status=$?
	usleep 600000 # one more --stats interval, so the run's end is in a report
	scx_stop INT
	cp $SCX_LOG "$AXRT_OUT/scx_axrt-boosts-$1-$2.log"
	check_eq "the $1 lock run (round $2) ends with status 0$(error_of $status /tmp/bo-$1-$2.txt)" 0 $status
}
# lk_sum LOG FIELD: the sum of group lk's FIELD over the --stats reports of LOG.
lk_sum() {
	interval_reports "$1" | jq -s --arg f "$2" '[.[].groups[] | select(.name == "lk") | .[$f]] | add // 0'
}
# lk_max LOG FIELD: the largest value of group lk's FIELD in the reports of LOG.
lk_max() {
	interval_reports "$1" | jq -s --arg f "$2" '[.[].groups[] | select(.name == "lk") | .[$f]] | max // 0'
}
for round in 1 2; do
	for mode in boost no-boost; do
		lock_run $mode $round || continue
		f=/tmp/bo-$mode-$round.txt log=$AXRT_OUT/scx_axrt-boosts-$mode-$round.log
		acq=0 p99=0
		for v in 0 1 2; do
			acq=$((acq + $(field $f lk $v 4)))
			p=$(field $f lk $v 8)
			p99=$(awk -v a="$p99" -v b="${p:-0}" 'BEGIN { print (b > a) ? b : a }')
		done
		boosts=$(lk_sum $log boosts_received)
		eval "acq_${mode%-*}_$round=$acq boosts_${mode%-*}_$round=$boosts"
		note "$mode round $round: $acq acquisitions in 3 s, worst vCPU acquisition-wait p99 $p99 us," \
			"boosts $boosts, yield-to-run p50 <= $(lk_max $log boost_p50_us) us, p99 <= $(lk_max $log boost_p99_us) us"
	done
done
sum_a=0 sum_n=0
for round in 1 2; do
	eval "a=\${acq_boost_$round:-0} n=\${acq_no_$round:-0} b=\${boosts_boost_$round:-0} nb=\${boosts_no_$round:-x}"
	check "round $round: directed yields boost the lock holder (boosts $b)" test "$b" -gt 0
	check_eq "round $round: --no-boost gives no boosts" 0 "$nb"
	note "round $round: throughput with boosts / without: $a / $n = $(awk -v a=$a -v n=$n 'BEGIN { printf "%.2f", n ? a / n : 0 }')"
	sum_a=$((sum_a + a)) sum_n=$((sum_n + n))
done
# A yield only happens while the holder is preempted (KVM's vcpu->ready), so boosts are rare
# (tens per 3 s run here) and each saves the waiter the rest of its slice. Measured: 1.19-1.66x
# the acquisitions in most rounds, 0.94x in one disturbed round; a timing figure, reported
# here, not asserted.
note "both rounds: $sum_a acquisitions with boosts, $sum_n without"
ev1=$AXRT_OUT/boosts-boost-1.jsonl
boost_ev=$(jq -s '[.[] | select(.kind == "boost" and .cause == "yield" and .vm == "lk" and .by > 0)] | length' "$ev1")
# A boost of a task that is still boosted (two waiters yield to one holder) extends the same
# boost: one end covers both. So: every boost is followed by an end of the same thread's boost.
unended=$(jq -s '[.[] | select(.cause == "yield")] as $e
	| [$e[] | select(.kind == "boost") as $b
	   | select([$e[] | select(.kind == "boost_end" and .tid == $b.tid and .ts_ns >= $b.ts_ns)] | length == 0)]
	| length' "$ev1")
note "round 1 events: $boost_ev yield boosts, $unended not followed by an end"
# The --stats reports may lack the run's last interval (the VM's cgroup, and its counters, are
# gone before the next report; the loader's own thread waits behind the priority-100 vCPUs), the
# event stream has every boost: at least as many events as counted boosts.
check "every counted yield boost is an event naming the yielding vCPU thread (events $boost_ev, counted ${boosts_boost_1:-0})" \
	test "$boost_ev" -ge "${boosts_boost_1:-0}"
check "every yield boost ends ($unended of $boost_ev not followed by an end of that thread's boost)" \
	test "$unended" -le 3

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
	until [ "$(interval_reports $SCX_LOG | tail -1 | jq '[.tasks[]? | select(.name == "locks/pi-low" or .name == "locks/pi-high")] | length')" = 2 ]; do
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
for mode in boost no-boost; do
	for hog in 200 400; do
		inv_run $mode $hog
		j=/tmp/inv-$mode-$hog.json
		w=$(jq .wait_ms $j 2>/dev/null) r=$(jq .remaining_hold_ms $j 2>/dev/null)
		eval "wait_${mode%-*}_$hog=${w:-0} rest_${mode%-*}_$hog=${r:-0}"
		note "inversion $mode, 2 hogs of $hog ms: pi-high waited $w ms for the rest of a 20 ms hold ($r ms)"
	done
done
# With inheritance, the holder runs at the waiter's priority at once: the wait is the rest of its
# hold, whatever the hogs do (bound: twice the rest + 15 ms of emulated scheduling).
for hog in 200 400; do
	eval "w=\$wait_boost_$hog r=\$rest_boost_$hog"
	check "with boosts the wait is bounded by the rest of the hold (hogs $hog ms: $w ms, rest $r ms)" \
		awk -v w=$w -v r=$r 'BEGIN { exit !(w <= 2 * r + 15) }'
done
# Without, the holder runs only when the hogs are done: the wait follows the hogs' length.
for hog in 200 400; do
	eval "w=\$wait_no_$hog"
	check "without boosts the wait covers the hogs' run ($hog ms: waited $w ms)" \
		awk -v w=$w -v h=$hog 'BEGIN { exit !(w >= 0.8 * h) }'
done
check "without boosts the wait grows with the hogs' run time ($wait_no_200 -> $wait_no_400 ms)" \
	awk -v a=$wait_no_200 -v b=$wait_no_400 'BEGIN { exit !(b >= a + 100) }'
ev=$AXRT_OUT/inv-boost-400.jsonl j=/tmp/inv-boost-400.json
low=$(jq .low_tid $j) high=$(jq .high_tid $j)
check "the holder's lock boost is an event naming holder and waiter" \
	jq -e --argjson l "$low" --argjson h "$high" 'select(.kind == "boost" and .cause == "lock" and .tid == $l and .by == $h and .prio == 10)' "$ev" >/dev/null
check "the holder's lock boost ends when it releases the lock" \
	jq -e --argjson l "$low" 'select(.kind == "boost_end" and .cause == "lock" and .tid == $l and .prio == 200)' "$ev" >/dev/null
check "--no-boost: no lock boost" test "$(jq -s '[.[] | select(.kind == "boost")] | length' $AXRT_OUT/inv-no-boost-400.jsonl)" = 0

# --- deadlock -----------------------------------------------------------------------------------
scx_start_checked "scx_axrt starts (deadlock)" --config /tmp/bo.toml --events $AXRT_OUT/deadlock.jsonl || exit 0
axrt-locks deadlock --json /tmp/dl.json
status=$?
usleep 200000 # the event thread polls every 100 ms
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-deadlock.log"
check_eq "the deadlock program ends with status 0" 0 $status
cat /tmp/dl.json | tee -a "$OUT"
d=$(jq -c 'select(.kind == "deadlock")' $AXRT_OUT/deadlock.jsonl | head -1)
note "deadlock event: $d"
check "the deadlock is reported" test -n "$d"
ta=$(jq .tid_a /tmp/dl.json) tb=$(jq .tid_b /tmp/dl.json)
fa=$(jq -r '.addr_a | tostring' /tmp/dl.json) fb=$(jq -r '.addr_b | tostring' /tmp/dl.json)
check_eq "it names both threads, dl-b first (it closed the cycle)" "$tb $ta" "$(echo "$d" | jq -r '[.cycle[].tid] | join(" ")')"
check_eq "it names both futex words (dl-b waits for A, dl-a for B)" \
	"$(printf '%#x %#x' "$fa" "$fb")" "$(echo "$d" | jq -r '[.cycle[].futex] | join(" ")')"
check_eq "it names the threads by comm" "dl-b dl-a" "$(echo "$d" | jq -r '[.cycle[].comm] | join(" ")')"
close=$(jq .close_ns /tmp/dl.json)
check "it is found within 1 ms of the closing lock call ($(echo "$d" | jq .ts_ns) - $close ns + detection $(echo "$d" | jq .detect_ns) ns)" \
	awk -v t="$(echo "$d" | jq .ts_ns)" -v c="$close" -v x="$(echo "$d" | jq .detect_ns)" 'BEGIN { exit !(t >= c && t - c + x < 1000000) }'
check_eq "the kernel refuses the closing lock too (EDEADLK)" '"EDEADLK"' "$(jq .b_result /tmp/dl.json)"

# --- the cost of observing PI futexes ------------------------------------------------------------
# bench_run FLAGS...: ops/s of a 2 s PI-futex benchmark (4 threads) under scx_axrt FLAGS.
bench_run() {
	scx_start_checked "scx_axrt starts (bench $*)" "$@" || { echo 0; return; }
	axrt-locks bench --threads 4 --duration-s 2 --json /tmp/bench.json >/dev/null
	scx_stop INT
	jq .ops_per_s /tmp/bench.json
}
# Three setups: observed with boosts, observed without (--no-boost: the cost of watching alone),
# not observed (--no-lock-trace). The ratios are reported, not asserted (timing).
ratio() { awk -v a=$1 -v b=$2 'BEGIN { printf "%.3f", b ? a / b : 0 }'; }
for round in 1 2; do
	on=$(bench_run --config /tmp/bo.toml)
	watch=$(bench_run --config /tmp/bo.toml --no-boost)
	off=$(bench_run --config /tmp/bo.toml --no-lock-trace)
	note "PI-futex bench round $round (4 threads, ops/s): observed+boosts $on, observed only $watch," \
		"not observed $off; ratios to not observed $(ratio $on $off), $(ratio $watch $off)"
	check "the PI-futex benchmark runs in all three setups" \
		awk -v a=$on -v b=$watch -v c=$off 'BEGIN { exit !(a > 0 && b > 0 && c > 0) }'
done
scx_start_checked "scx_axrt starts (stress-ng --futex)" --config /tmp/bo.toml || exit 0
futex_ops() { stress-ng --futex 2 -t 2 --metrics-brief 2>&1 | awk '$4 == "futex" && $5 ~ /^[0-9]/ { print $9 + 0 }'; }
fon=$(futex_ops)
scx_stop INT
scx_start_checked "scx_axrt starts (stress-ng --futex, not observed)" --config /tmp/bo.toml --no-lock-trace || exit 0
foff=$(futex_ops)
scx_stop INT
note "stress-ng --futex (wait/wake, no PI) bogo-ops/s: observed $fon, not observed $foff, ratio $(ratio $fon $foff)"
