# SPDX-License-Identifier: GPL-2.0-only
#
# The guest side of scripts/bench-trace: axrt-trace's overhead, in one VM run. For each mode —
# axrt-trace off, summary mode, trace mode (every VM traced) — and ROUNDS rounds, interleaved:
# an axrt-vmload hog VM (2 vCPUs, its work = guest loop iterations) and scenario 1 of
# axrt-validate under scx_axrt (the real-time VM's deadline misses next to a hog VM). Each run's
# files go to $AXRT_OUT/bench/MODE-ROUND*; axrt-trace's summary (its drops, its own CPU cost)
# next to them.
. ./lib.sh
ROUNDS=${ROUNDS:-2}
SECS=${SECS:-8}
B=$AXRT_OUT/bench
mkdir -p "$B"

tracer() { # MODE TAG: starts axrt-trace for MODE (nothing for off), waits for it to attach
	TRACE_PID=
	case $1 in
	off) return 0 ;;
	summary) set -- --json "$B/$2-trace.json" ;;
	trace) set -- --mode trace --json "$B/$2-trace.json" --perfetto /tmp/bench.pftrace ;;
	esac
	rm -f /tmp/bench.pipe
	mkfifo /tmp/bench.pipe
	axrt-trace -q "$@" >/dev/null 2>/tmp/bench.pipe &
	TRACE_PID=$!
	exec 8</tmp/bench.pipe
	while IFS= read -r -t 60 line <&8; do
		case "$line" in "axrt-trace: attached"*) cat <&8 >/dev/null & break ;; esac
	done
	exec 8<&-
}
untracer() { [ -n "$TRACE_PID" ] && kill -INT "$TRACE_PID" && wait "$TRACE_PID"; rm -f /tmp/bench.pftrace; }

for r in $(seq 1 "$ROUNDS"); do
	for m in off summary trace; do
		tracer $m "$m-$r-hog"
		axrt-vmload --vm-spec hog:2:hog --duration-s "$SECS" --json "$B/$m-$r-hog.json" >/dev/null 2>&1
		untracer
		tracer $m "$m-$r-s1"
		axrt-validate --scenarios 1 --modes axrt --duration-s "$SECS" --out "$B/$m-$r-s1" >/dev/null 2>&1
		untracer
		echo "bench-trace: round $r, $m done"
	done
done
