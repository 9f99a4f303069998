# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 13 (3): the differential test of the two tiers. A run of budgeted VMs under scx_axrt with
# --events (which adds a window event per closed reservation window and a job event per
# completed job of a timed thread) is replayed through the policy crate's AxRT system by
# `axrt-sim replay`, which compares per VM throttles, windows, supply misses and deadline misses
# window by window; the checks and their tolerances are in tools/axrt-sim/src/replay.rs and it
# prints the PASS/FAIL lines.
#
# The workload on the 2 CPUs, every VM budgeted (only budgeted VMs have windows to replay):
# "rt" (priority 5, 20 ms per 100 ms) runs an rt-app thread with a timing contract, 1.5 ms
# every 5 ms, deadline 5 ms (30 % asked, 20 % allowed: throttled in every window, the job it is
# in then waits for the boundary and misses; the emulated CPU makes a job's work take 1.5-2x its
# nominal time, so a shorter deadline would be missed for the emulator's sake); "hi" (priority 10, 100 ms per 100 ms) two CPU hogs, throttled in
# every window; "low" (priority 200, 60 ms per 100 ms) one CPU hog that gets only what "hi" and
# "rt" leave (about 40 ms of its 60, under the threshold of 54): a supply miss in every window,
# never throttled. The budgets are the size the supply slack was measured for (20 ms per 100 ms
# got 18.5-21 ms under emulation): a 10 ms budget is enforced a few ms off under emulation too,
# which is more than its 1 ms slack.
. ./lib.sh

OUT=$AXRT_OUT/replay
mkdir -p "$OUT"
EV=$OUT/events.jsonl
secs=${REPLAY_SECONDS:-8}
for g in rt hi low; do cg_make axrt-replay/$g; done
cat >/tmp/replay.toml <<'TOML'
[[vm]]
name = "rt"
cgroup = "axrt-replay/rt"
priority = 5
quota_us = 20000
period_us = 100000

[[vm]]
name = "hi"
cgroup = "axrt-replay/hi"
priority = 10
quota_us = 100000
period_us = 100000

[[vm]]
name = "low"
cgroup = "axrt-replay/low"
priority = 200
quota_us = 60000
period_us = 100000

[[task]]
vm = "rt"
comm = "rtjob"
period_us = 5000
deadline_us = 5000
wcet_us = 3000
TOML
# A fixed calibration (rt-app's own is slow under emulation); the replay uses the CPU time
# each job really took, whatever the loop's speed.
cat >/tmp/replay.json <<JSON
{ "tasks": { "rtjob": { "loop": -1, "run": 1500,
                        "timer": { "ref": "tick", "period": 5000, "mode": "relative" } } },
  "global": { "duration": $secs, "default_policy": "SCHED_OTHER", "calibration": 400,
              "logdir": "/tmp", "log_basename": "replay", "lock_pages": false } }
JSON
cp /tmp/replay.toml /tmp/replay.json "$OUT/"

scx_start_checked "scx_axrt starts with the replay config and --events" --config /tmp/replay.toml \
	--rescan-ms 100 --stats 1 --json --events "$EV" || exit 0
cg_spawn axrt-replay/hi stress-ng --cpu 2 --cpu-method loop --timeout 600s --quiet
cg_spawn axrt-replay/low stress-ng --cpu 1 --cpu-method loop --timeout 600s --quiet
cg_spawn axrt-replay/rt rt-app /tmp/replay.json
rtapp=$!
wait $rtapp
status=$?
cg_kill axrt-replay/hi
cg_kill axrt-replay/low
scx_stop INT
cp $SCX_LOG "$OUT/scx_axrt.log"
check_eq "rt-app runs the workload to its end (exit status)" 0 $status
# That the contract is in force (the rule matched: the trace holds the thread's jobs) is one
# of axrt-sim replay's checks.
axrt-sim replay --events "$EV" --config /tmp/replay.toml --stats "$OUT/scx_axrt.log" --cpus "$(nproc)" \
	>"$OUT/replay.txt" 2>&1
rstatus=$?
axrt-sim replay --events "$EV" --config /tmp/replay.toml --stats "$OUT/scx_axrt.log" --cpus "$(nproc)" \
	--windows >"$OUT/replay-windows.txt" 2>&1
sed 's/^/replay: /' "$OUT/replay.txt"
grep -E '^(PASS|FAIL): ' "$OUT/replay.txt" >>"$AXRT_OUT/results"
check "axrt-sim replay ran its checks (exit status $rstatus: 0 all passed, 1 a check failed)" \
	test "$rstatus" -le 1 -a "$(grep -c '^PASS: \|^FAIL: ' "$OUT/replay.txt")" -ge 30
