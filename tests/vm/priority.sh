# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (a): a high-priority periodic thread keeps its wakeup latency while lower-priority hogs
# saturate every CPU. The same workload runs under the default scheduler and under scx_axrt in
# this VM run; scx_axrt's 99th-percentile latency must be clearly better, at least 2x (a ratio, not absolute
# microseconds: emulated time is slow and noisy).
. ./lib.sh

secs=${PRIO_SECONDS:-10}
cg_make axrt-prio/rt
cg_make axrt-prio/hogs
cat >/tmp/prio.toml <<'TOML'
[[vm]]
name = "rt"
cgroup = "axrt-prio/rt"
priority = 10

[[vm]]
name = "hogs"
cgroup = "axrt-prio/hogs"
priority = 200
TOML

# p99 of a cyclictest histogram file (one "usec count" line per bucket, comments start with #).
p99_of() {
	awk '/^# Histogram Overflows:/ { over = $4 + 0 }
	     !/^#/ && NF >= 2 { n[$1 + 0] = $2; total += $2 }
	     END { total += over; want = total * 0.99; seen = 0
	           for (us = 0; us <= 20000; us++) { seen += n[us]; if (seen >= want) { print us; exit } }
	           print 20001 }' "$1"
}

# measure LABEL: hogs on every CPU (twice as many as CPUs) plus a 1 ms periodic thread.
measure() {
	cg_spawn axrt-prio/hogs stress-ng --cpu $(($(nproc) * 2)) --cpu-method loop --timeout $((secs + 2))s --quiet
	hogs=$!
	cg_spawn axrt-prio/rt cyclictest --quiet --threads 1 --interval 1000 --duration "$secs" \
		--histogram 20000 --histfile "/tmp/hist-$1" >/dev/null 2>&1
	wait $!
	wait $hogs
	cp "/tmp/hist-$1" "$AXRT_OUT/cyclictest-$1.hist"
	p99_of "/tmp/hist-$1"
}

default_p99=$(measure default)
scx_start_checked "scx_axrt starts with the priority config" --config /tmp/prio.toml || exit 0
axrt_p99=$(measure axrt)
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-priority.log"

echo "priority: p99 wakeup latency, default ${default_p99} us, scx_axrt ${axrt_p99} us" |
	tee "$AXRT_OUT/priority.txt"
check "the high-priority thread's p99 latency under scx_axrt is at least 2x better than under the default scheduler (${axrt_p99} vs ${default_p99} us)" \
	test $((axrt_p99 * 2)) -le "$default_p99"
cg_kill axrt-prio/hogs
