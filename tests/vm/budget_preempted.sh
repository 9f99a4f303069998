# SPDX-License-Identifier: GPL-2.0-only
#
# A budget that holds under preemption: VM batch (priority 200, a budget of one CPU: 100 ms per
# 100 ms) runs four hogs next to VM rt (priority 10), periodic vCPU-like threads (two of 3 ms,
# then four of 8 ms, every 10 ms) which preempt batch's hogs at every wakeup. Batch must get
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
cal=$(rtapp_calibrate)
check "rt-app calibrated its busy loop on the quiet VM (${cal:-none} ns per loop)" test -n "$cal"
# rt_json FILE THREADS RUN_US: THREADS periodic threads of RUN_US every 10 ms.
rt_json() {
	cat >"$1" <<JSON
{ "tasks": { "vcpu": { "instance": $2, "loop": -1, "run": $3,
                       "timer": { "ref": "tick", "period": 10000 } } },
  "global": { "duration": $((secs + 4)), "default_policy": "SCHED_OTHER", "calibration": ${cal:-\"CPU0\"},
              "logdir": "/tmp", "log_basename": "bp", "lock_pages": false } }
JSON
}

EV=$AXRT_OUT/budget_preempted-events.jsonl
scx_start_checked "scx_axrt starts with the budget-under-preemption config" --config /tmp/bp.toml \
	--stats 5 --json --events "$EV" || exit 0
cg_spawn axrt-bp/batch stress-ng --cpu 4 --cpu-method loop --timeout 600s --quiet
# window CASE THREADS RUN_US: rt's threads for a window; snapshots /tmp/bp-CASE-{0,1}.json.
window() {
	rt_json /tmp/bp-rt.json "$2" "$3"
	cg_spawn axrt-bp/rt rt-app /tmp/bp-rt.json >/dev/null 2>&1
	rt=$!
	sleep 2 # a few periods for the throttle lead to settle
	cg_snapshot /tmp/bp-$1-0.json . axrt-bp/rt axrt-bp/batch
	sleep "$secs" # the measurement window
	cg_snapshot /tmp/bp-$1-1.json . axrt-bp/rt axrt-bp/batch
	wait $rt
}
# light: rt leaves more than the budget; heavy: four threads of 8 ms per 10 ms leave clearly
# less (rt-app's calibration under emulation makes a job shorter than asked: 40-50 %, measured).
window light 2 3000
window heavy 4 8000
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
