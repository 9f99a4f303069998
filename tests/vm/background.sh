# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (c): "background" overrun mode. A VM with a 10% budget in background mode may go on
# running after its budget is used up, but only on CPU time nobody else wants: alone on the
# machine it takes far more than 10%; next to a saturating hog group it gets its 10% and no
# more. A throttle-mode VM with the same budget stays at 10% even when the CPUs are idle. The
# shares and checks are axrt-check background's (tools/axrt-check/src/background.rs).
. ./lib.sh

secs=${BG_SECONDS:-10} # 100 periods per window: emulation noise averages out (6 s gave 7.9-10.5 %)
cg_make axrt-bg/bg
cg_make axrt-bg/thr
cg_make axrt-bg/other
cat >/tmp/bg.toml <<'TOML'
[[vm]]
name = "bg"
cgroup = "axrt-bg/bg"
quota_us = 10000
period_us = 100000
overrun = "background"

[[vm]]
name = "thr"
cgroup = "axrt-bg/thr"
quota_us = 10000
period_us = 100000
overrun = "throttle"

[[vm]]
name = "other"
cgroup = "axrt-bg/other"
TOML

hog() { cg_spawn "$1" stress-ng --cpu 2 --cpu-method loop --timeout 600s --quiet; }

# window GROUP NAME: the snapshots /tmp/bg-NAME-{0,1}.json of GROUP around one window, after a
# second for the group to reach its steady state.
window() {
	sleep 1
	cg_snapshot /tmp/bg-$2-0.json "$1"
	sleep "$secs" # the measurement window
	cg_snapshot /tmp/bg-$2-1.json "$1"
}

scx_start_checked "scx_axrt starts with the background config" --config /tmp/bg.toml || exit 0
hog axrt-bg/bg
window axrt-bg/bg alone
hog axrt-bg/other
window axrt-bg/bg busy
cg_kill axrt-bg/bg
cg_kill axrt-bg/other
hog axrt-bg/thr
window axrt-bg/thr thr
cg_kill axrt-bg/thr
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-background.log"

: >"$AXRT_OUT/background.txt"
axrt-check background --notes "$AXRT_OUT/background.txt" --bg-alone /tmp/bg-alone-0.json /tmp/bg-alone-1.json \
	--bg-busy /tmp/bg-busy-0.json /tmp/bg-busy-1.json --thr-alone /tmp/bg-thr-0.json /tmp/bg-thr-1.json
