# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (a): a high-priority periodic thread keeps its wakeup latency while lower-priority hogs
# saturate every CPU. The same workload runs under the default scheduler and under scx_axrt in
# this VM run; scx_axrt's 99th-percentile wakeup latency must be clearly better, at least 2x (a
# ratio, not absolute microseconds: emulated time is slow and noisy).
. ./lib.sh

secs=${PRIO_SECONDS:-15}
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

# The periodic thread (rtapp_periodic): 300 us of work every 1 ms, a 30% vCPU-like load. A thread
# that only sleeps would be served promptly by the default scheduler too, as sleepers are.
rtapp_periodic /tmp/prio-rt.json "$secs" prio

# measure LABEL: hogs on every CPU (four per CPU: more than its fair share is taken) plus the periodic thread; prints
# "p99 periods misses".
measure() {
	cg_spawn axrt-prio/hogs stress-ng --cpu $(($(nproc) * 4)) --cpu-method loop --timeout $((secs + 5))s --quiet
	hogs=$!
	cg_spawn axrt-prio/rt rt-app /tmp/prio-rt.json >/dev/null 2>&1
	wait $!
	cg_kill axrt-prio/hogs
	wait $hogs
	cp /tmp/prio-rt-0.log "$AXRT_OUT/rt-app-$1.log"
	rtapp_summary /tmp/prio-rt-0.log
}

set -- $(measure default)
default_p99=$1 default_n=$2 default_miss=$3
scx_start_checked "scx_axrt starts with the priority config" --config /tmp/prio.toml || exit 0
set -- $(measure axrt)
axrt_p99=$1 axrt_n=$2 axrt_miss=$3
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-priority.log"

echo "priority: periodic thread (300 us every 1 ms) next to $(($(nproc) * 4)) hogs: p99 wakeup latency default ${default_p99} us, scx_axrt ${axrt_p99} us; late jobs default ${default_miss}/${default_n}, scx_axrt ${axrt_miss}/${axrt_n}" |
	tee "$AXRT_OUT/priority.txt"
check "the periodic thread ran its periods under both schedulers (${default_n} and ${axrt_n}, want > $((secs * 500)))" \
	test "$default_n" -gt $((secs * 500)) -a "$axrt_n" -gt $((secs * 500))
check "the high-priority thread's p99 wakeup latency under scx_axrt is at least 2x better than under the default scheduler (${axrt_p99} vs ${default_p99} us)" \
	test $((axrt_p99 * 2)) -le "$default_p99"
