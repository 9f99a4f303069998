# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (d): the starvation reserve. A lowest-priority task next to a saturating
# highest-priority load still runs (one slice per reserve period, counted as reserve grants),
# and an aggressive stress-ng mix runs 60 s without the sched_ext watchdog ejecting scx_axrt.
. ./lib.sh

secs=${RESERVE_SECONDS:-10}
cg_make axrt-res/high
cg_make axrt-res/low
cat >/tmp/res.toml <<'TOML'
[defaults]
reserve_ms = 1000

[[vm]]
name = "high"
cgroup = "axrt-res/high"
priority = 0

[[vm]]
name = "low"
cgroup = "axrt-res/low"
priority = 255
TOML

scx_start_checked "scx_axrt starts with the reserve config" --config /tmp/res.toml --stats 1 --json || exit 0
cg_spawn axrt-res/high stress-ng --cpu $(($(nproc) * 2)) --cpu-method loop --timeout 600s --quiet
cg_spawn axrt-res/low stress-ng --cpu 1 --cpu-method loop --timeout 600s --quiet
cg_snapshot /tmp/res-0.json axrt-res/low
sleep "$secs" # the measurement window
cg_snapshot /tmp/res-1.json axrt-res/low
cg_kill axrt-res/high
cg_kill axrt-res/low
# The share, its bound and the reserve grants (scx_axrt's --stats) are axrt-check's.
: >"$AXRT_OUT/reserve.txt"
axrt-check reserve --notes "$AXRT_OUT/reserve.txt" --window /tmp/res-0.json /tmp/res-1.json --stats "$SCX_LOG"
check_eq "scx_axrt is still the scheduler after the starvation test" enabled "$(cat $SCX_STATE)"

dmesg -c >/dev/null
timeout 180 stress-ng --cpu 4 --switch 4 --fork 2 --yield 4 --timer 2 --sem 2 --pipe 2 --mq 2 \
	--timeout 60s --metrics-brief >/tmp/stress60.log 2>&1
status=$?
cp /tmp/stress60.log "$AXRT_OUT/stress-60s.log"
check "an aggressive stress-ng mix ran 60 s under scx_axrt (exit $status)" test "$status" = 0
check "scx_axrt is still running after 60 s of stress" kill -0 "$SCX_PID"
check_eq "no watchdog ejection: sched_ext still enabled after 60 s of stress" enabled "$(cat $SCX_STATE)"
scx_stop INT
check "scx_axrt exits 0 after the stress" test $? = 0
cp $SCX_LOG "$AXRT_OUT/scx_axrt-reserve.log"
