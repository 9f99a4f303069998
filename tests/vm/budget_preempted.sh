# SPDX-License-Identifier: GPL-2.0-only
#
# A budget that holds under preemption: VM batch (priority 200, a budget of one CPU: 100 ms per
# 100 ms) runs four hogs next to VM rt (priority 10), periodic vCPU-like threads (two of 3 ms,
# then two of 7 ms, every 10 ms) which preempt batch's hogs at every wakeup. Batch must get
# min(its budget, what rt and the host's tasks leave of the machine) to within 2 % of its
# budget: charged only for what its own tasks ran, throttled neither early nor late on average.
# The BPF tier's window events give each period's overshoot past the quota (the budget's
# precision). Figures and checks: tools/axrt-check/src/preempted.rs.
. ./lib.sh

secs=${BP_SECONDS:-10}
cg_make axrt-bp/rt
cg_make axrt-bp/batch
cat >/tmp/bp.toml <<'TOML'
[[vm]]
name = "rt"
cgroup = "axrt-bp/rt"
priority = 10

[[vm]]
name = "batch"
cgroup = "axrt-bp/batch"
priority = 200
quota_us = 100000
period_us = 100000
TOML
EV=$AXRT_OUT/budget_preempted-events.jsonl
scx_start_checked "scx_axrt starts with the budget-under-preemption config" --config /tmp/bp.toml \
	--stats 5 --json --events "$EV" || exit 0
cg_spawn axrt-bp/batch stress-ng --cpu 4 --cpu-method loop --timeout 600s --quiet
# window CASE WORKERS LOAD_PCT: rt's workers for a window, each busy LOAD_PCT % of every 10 ms
# in one slice (stress-ng --cpu-load times its slices by the clock, so the load does not depend
# on a calibration, which varies by a factor of two between runs under emulation); snapshots
# /tmp/bp-CASE-{0,1}.json.
window() {
	cg_spawn axrt-bp/rt stress-ng --cpu "$2" --cpu-load "$3" --cpu-load-slice $(($3 / 10)) \
		--cpu-method loop --timeout $((secs + 3))s --quiet
	rt=$!
	sleep 2 # a few periods for the throttle lead to settle
	cg_snapshot /tmp/bp-$1-0.json . axrt-bp/rt axrt-bp/batch
	sleep "$secs" # the measurement window
	cg_snapshot /tmp/bp-$1-1.json . axrt-bp/rt axrt-bp/batch
	wait $rt
}
# light: rt takes 60 % of a CPU and leaves 140 %, more than the budget; heavy: 140 %, leaving 60 %.
window light 2 30
window heavy 2 70
cg_kill axrt-bp/batch
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-budget_preempted.log"

: >"$AXRT_OUT/budget_preempted.txt"
for c in light heavy; do
	[ $c = heavy ] && events="--events $EV"
	axrt-check preempted --notes "$AXRT_OUT/budget_preempted.txt" --case $c ${events:-} \
		--window /tmp/bp-$c-0.json /tmp/bp-$c-1.json \
		--better axrt-bp/rt --all . --budgeted axrt-bp/batch --budgeted-vm batch --budget-pct 100 \
		--quota-us 100000 --cpus "$(nproc)" --stats "$AXRT_OUT/scx_axrt-budget_preempted.log"
done
