# SPDX-License-Identifier: GPL-2.0-only
#
# A high-priority thread keeps its wakeup latency while lower-priority hogs saturate every CPU.
# In this one VM run, with the same hogs: the default scheduler, SCHED_FIFO (the kernel's own
# strict priority: the reference) and scx_axrt with the thread's VM at priority 10 and the hogs'
# at 200. Two threads: an rt-app periodic thread (300 us of work every 1 ms, a vCPU-like load)
# and cyclictest (a wakeup every 1 ms with almost no work). After checking that the setup was in
# force (the rule matched, every job did the same work, every run ran its periods), axrt-check
# compares p99 wakeup latencies as ratios (emulated time is slow and noisy): the rt-app thread's
# must beat the default scheduler's; the other ratios (rt-app and cyclictest against SCHED_FIFO,
# cyclictest against the default) are reported (tools/axrt-check/src/priority.rs says why).
. ./lib.sh

secs=${PRIO_SECONDS:-12}
loops=$((secs * 1000))
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

# One calibration for all runs, made here before any load: calibrated at each start, next to the
# hogs, the jobs of the runs would do different work (axrt-check checks they did not). A thread
# that only sleeps would be served promptly by the default scheduler too, as sleepers are: hence
# the 300 us of work next to cyclictest's none.
cal=$(rtapp_calibrate)
check "rt-app calibrated its busy loop on the quiet VM (${cal:-none} ns per loop)" test -n "$cal"
rtapp_periodic /tmp/prio-rt.json "$secs" prio "${cal:-CPU0}"
rtapp_periodic /tmp/prio-fifo.json "$secs" prio "${cal:-CPU0}" fifo

hogs=$(($(nproc) * 4))
# hogs_start / hogs_stop: four hogs per CPU (more than a fair share is taken) in the hogs' VM.
hogs_start() {
	cg_spawn axrt-prio/hogs stress-ng --cpu $hogs --cpu-method loop --timeout 600s --quiet
	hogs_pid=$!
}
hogs_stop() {
	cg_kill axrt-prio/hogs
	wait $hogs_pid
}
# rtapp LABEL CONFIG: the rt-app thread in the thread's VM; its log to $AXRT_OUT/rt-app-LABEL.log.
rtapp() {
	rm -f /tmp/prio-rt-0.log
	cg_spawn axrt-prio/rt rt-app "$2" >/dev/null 2>&1
	wait $!
	cp /tmp/prio-rt-0.log "$AXRT_OUT/rt-app-$1.log"
}
# cyc LABEL [PRIO]: cyclictest in the thread's VM, SCHED_FIFO PRIO if given, else SCHED_OTHER; its
# histogram to $AXRT_OUT/cyclictest-LABEL.txt. No -p for SCHED_OTHER: any -p selects SCHED_FIFO,
# and -p 0 then becomes SCHED_FIFO 2 (cyclictest's "defaulting realtime priority"), a thread of
# the RT class that sched_ext never sees.
cyc() {
	cg_spawn axrt-prio/rt cyclictest -q -m ${2:+-p "$2"} -i 1000 -l $loops -h 20000 \
		>"$AXRT_OUT/cyclictest-$1.txt" 2>&1
	wait $!
}

hogs_start
rtapp default /tmp/prio-rt.json
cyc default
rtapp fifo /tmp/prio-fifo.json
cyc fifo 50
hogs_stop
scx_start_checked "scx_axrt starts with the priority config" --config /tmp/prio.toml --stats 5 --json || exit 0
hogs_start
rtapp axrt /tmp/prio-rt.json
cyc axrt
hogs_stop
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-priority.log"

: >"$AXRT_OUT/priority.txt"
o=$AXRT_OUT
axrt-check priority --notes "$o/priority.txt" --workload /tmp/prio-rt.json --hogs $hogs \
	--rtapp-logs "$o/rt-app-default.log" "$o/rt-app-fifo.log" "$o/rt-app-axrt.log" \
	--cyclictest "$o/cyclictest-default.txt" "$o/cyclictest-fifo.txt" "$o/cyclictest-axrt.txt" \
	--cyclictest-loops $loops --stats "$o/scx_axrt-priority.log" --vm rt 10
