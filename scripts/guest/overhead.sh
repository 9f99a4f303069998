# SPDX-License-Identifier: GPL-2.0-only
#
# Scheduling overhead, run inside the test VM by scripts/bench-overhead: hackbench (fork-heavy,
# wakeup-heavy messaging) and a stress-ng mix (cpu, switch, pipe, futex, yield: one instance of
# each, running together) under the default scheduler, scx_axrt with each BPF queue design and,
# when scripts/bench-overhead built one, a sched_ext scheduler of the scx project (./peer-*),
# interleaved over several rounds so drift hits every scheduler alike. Each stressor's
# bogo-ops/s is reported on its own, with its ratio to the default scheduler's: stressors count
# different things, so their figures are never added up.
. ./lib.sh

rounds=${ROUNDS:-3}
stressors="cpu switch pipe futex yield"
peers=$(ls peer-* 2>/dev/null | tr '\n' ' ')
schedulers="default bitmap vtime $peers"
raw=$AXRT_OUT/overhead.raw
: >"$raw"

# start_peer NAME: starts the scx scheduler ./NAME; waits until sched_ext says it is enabled.
start_peer() {
	LD_LIBRARY_PATH=$PWD/lib ./"$1" >/tmp/peer.log 2>&1 &
	PEER_PID=$!
	wait_state enabled 60
}
stop_peer() {
	kill -INT "$PEER_PID" 2>/dev/null
	wait "$PEER_PID"
	wait_state disabled 10
}

# one_run SCHED: appends "SCHED hackbench SECONDS" and "SCHED STRESSOR OPS_PER_S" lines to $raw.
one_run() {
	hb=$(hackbench --groups 4 --loops 200 2>&1 | sed -n 's/^Time: *//p')
	echo "$1 hackbench ${hb:-nan}" >>"$raw"
	args=""
	for st in $stressors; do args="$args --$st 1"; done
	stress-ng $args --timeout 8s --metrics-brief >/tmp/ov-stress.log 2>&1
	# metrics-brief rows: "stress-ng: metrc: [pid] NAME OPS REAL USR SYS OPS/S(real) OPS/S(cpu)"
	for st in $stressors; do
		ops=$(awk -v s="$st" '$3 ~ /^\[/ && $4 == s && $5 ~ /^[0-9]+$/ { print $9 }' /tmp/ov-stress.log)
		echo "$1 $st ${ops:-nan}" >>"$raw"
	done
}

r=1
while [ $r -le "$rounds" ]; do
	for s in $schedulers; do
		case "$s" in
		default) ;;
		peer-*) start_peer "$s" || { echo "overhead: $s did not load"; tail -20 /tmp/peer.log; exit 1; } ;;
		*) scx_start --queue "$s" || { echo "overhead: scx_axrt --queue $s did not start"; cat $SCX_LOG; exit 1; } ;;
		esac
		one_run "$s"
		case "$s" in
		default) ;;
		peer-*) stop_peer ;;
		*)
			scx_stop INT || { echo "overhead: scx_axrt --queue $s exited badly"; cat $SCX_LOG; exit 1; }
			wait_state disabled 10
			;;
		esac
		grep "^$s " "$raw" | tail -6 | tr '\n' ' '
		echo
	done
	r=$((r + 1))
done

# The table: medians over the rounds, and each one's ratio to the default scheduler's median.
awk -v rounds="$rounds" -v order="$schedulers" -v figs="hackbench $stressors" '
	{ n = ++cnt[$1, $2]; v[$1, $2, n] = $3 }
	function median(s, f,   k, i, j, t, a) {
		k = cnt[s, f]
		for (i = 1; i <= k; i++) a[i] = v[s, f, i]
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
		return a[int((k + 1) / 2)]
	}
	END {
		ns = split(order, sc, " "); nf = split(figs, fg, " ")
		printf "| scheduler | hackbench s | vs default |"
		for (j = 2; j <= nf; j++) printf " %s ops/s | vs default |", fg[j]
		printf "\n|---|---|---|"
		for (j = 2; j <= nf; j++) printf "---|---|"
		printf "\n"
		for (i = 1; i <= ns; i++) {
			s = sc[i]; label = s
			if (s == "bitmap" || s == "vtime") label = "scx_axrt --queue " s
			else if (s ~ /^peer-/) label = substr(s, 6) " (scx, crates.io)"
			printf "| %s |", label
			for (j = 1; j <= nf; j++) {
				m = median(s, fg[j]); b = median("default", fg[j])
				printf (j == 1 ? " %.2f | %.2fx time |" : " %.0f | %.2fx |"), m, (b > 0 ? m / b : 0)
			}
			printf "\n"
		}
		printf "\nMedians of %d rounds, one VM run; ratios to the default scheduler (hackbench: time, lower is better; stress-ng: bogo-ops/s of each stressor, higher is better).\n", rounds
	}' "$raw" | tee "$AXRT_OUT/overhead.md"
