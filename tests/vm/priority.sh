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

# measure LABEL: hogs on every CPU (four per CPU: more than its fair share is taken) plus the
# periodic thread; its rt-app log goes to $AXRT_OUT/rt-app-LABEL.log.
hogs=$(($(nproc) * 4))
measure() {
	cg_spawn axrt-prio/hogs stress-ng --cpu $hogs --cpu-method loop --timeout $((secs + 5))s --quiet
	hogs_pid=$!
	cg_spawn axrt-prio/rt rt-app /tmp/prio-rt.json >/dev/null 2>&1
	wait $!
	cg_kill axrt-prio/hogs
	wait $hogs_pid
	cp /tmp/prio-rt-0.log "$AXRT_OUT/rt-app-$1.log"
}

rm -f /tmp/prio-rt-0.log
measure default
scx_start_checked "scx_axrt starts with the priority config" --config /tmp/prio.toml || exit 0
rm -f /tmp/prio-rt-0.log
measure axrt
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-priority.log"

# The logs' periods, late jobs and p99 wakeup latency, and the 2x bound, are axrt-check's.
: >"$AXRT_OUT/priority.txt"
axrt-check priority --notes "$AXRT_OUT/priority.txt" --workload /tmp/prio-rt.json --hogs $hogs \
	--default-log "$AXRT_OUT/rt-app-default.log" --axrt-log "$AXRT_OUT/rt-app-axrt.log"
