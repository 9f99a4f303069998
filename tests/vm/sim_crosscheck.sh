# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 16, part 6 (and the overhead fit of part 2): the simulator against the real scheduler.
# One rt-app workload and one axrt.toml run under scx_axrt here, with the BPF programs' run-time
# statistics on; then axrt-sim fits its overhead model from those statistics, simulates the same
# two files with the AxRT system and compares per VM the miss ratio (rt-app log rows that reached
# their timer late, read by the same code from both logs) and the CPU share (the taskgroups'
# cpu.stat against the simulation). The checks and their tolerances are axrt-sim crosscheck's
# (tools/axrt-sim/src/crosscheck.rs): it prints the PASS/FAIL lines.
#
# The workload on the 2 CPUs: "rt" (priority 10, 2 threads of 2 ms every 10 ms: never late),
# "batch" (priority 50, 2 CPU hogs in 5 ms steps, budget 30 ms per 100 ms: held to 30 % of a
# CPU) and "web"
# (priority 100, 3 threads of 7 ms every 10 ms: 210 % asked of the 130 % left, so late). rt-app
# 1.0 has no taskgroups: `axrt-sim place` moves its threads into them during their 0.5 s delay.
# "rt" is the probe of the emulation's noise (see crosscheck.rs): the scheduler never delays it.
# The calibration is fixed (400 ns per loop, about the idle emulated CPU's): rt-app's own took
# over 30 s in a run on a loaded host, and the probe measures the speed the run really had.
. ./lib.sh

OUT=$AXRT_OUT/sim_crosscheck
mkdir -p "$OUT" /tmp/xc-logs
rm -f /tmp/xc-logs/*
cat >/tmp/xc.json <<'JSON'
{
  "global": { "duration": 10, "calibration": 400, "default_policy": "SCHED_OTHER",
              "logdir": "/tmp/xc-logs", "log_basename": "xc", "lock_pages": false },
  "tasks": {
    "rt": { "instance": 2, "taskgroup": "/axrt-sim/rt", "delay": 500000,
            "run": 2000, "timer": { "ref": "unique", "period": 10000, "mode": "absolute" } },
    "web": { "instance": 3, "taskgroup": "/axrt-sim/web", "delay": 500000,
             "run": 7000, "timer": { "ref": "unique", "period": 10000, "mode": "absolute" } },
    "batch": { "instance": 2, "taskgroup": "/axrt-sim/batch", "delay": 500000,
               "run": 5000 }
  }
}
JSON
cat >/tmp/xc.toml <<'TOML'
[defaults]
host_priority = 60

[[vm]]
name = "rt"
cgroup = "axrt-sim/rt"
priority = 10

[[vm]]
name = "batch"
cgroup = "axrt-sim/batch"
priority = 50
quota_us = 30000
period_us = 100000

[[vm]]
name = "web"
cgroup = "axrt-sim/web"
priority = 100
TOML
cp /tmp/xc.json /tmp/xc.toml "$OUT/"

check "axrt-sim creates the taskgroups (threaded cgroups)" axrt-sim place --workload /tmp/xc.json
echo 1 >/proc/sys/kernel/bpf_stats_enabled
check_eq "BPF run-time statistics are on" 1 "$(cat /proc/sys/kernel/bpf_stats_enabled)"
scx_start_checked "scx_axrt starts with the cross-check config" --config /tmp/xc.toml --rescan-ms 100 || exit 0
axrt-sim bpf-stats >"$OUT/bpf-before.json" 2>"$OUT/bpf-before.err"
rt-app /tmp/xc.json >"$OUT/rt-app.log" 2>&1 &
rtapp=$!
axrt-sim place --workload /tmp/xc.json --pid $rtapp --timeout-ms 120000 >"$OUT/placed.json" 2>"$OUT/place.err"
placed=$?
axrt-sim cpu-snapshot >"$OUT/cpu-before.json"
wait $rtapp
status=$?
axrt-sim cpu-snapshot >"$OUT/cpu-after.json"
axrt-sim bpf-stats >"$OUT/bpf-after.json" 2>"$OUT/bpf-after.err"
scx_stop INT
cp $SCX_LOG "$OUT/scx_axrt.log"
cp /tmp/xc-logs/* "$OUT/" 2>/dev/null
check_eq "rt-app's threads are placed in their taskgroups ($(cat "$OUT/place.err"))" 0 $placed
check_eq "rt-app runs the workload to its end (exit status)" 0 $status

axrt-sim crosscheck --workload /tmp/xc.json --config /tmp/xc.toml --cpus "$(nproc)" \
	--real-logs /tmp/xc-logs --placed "$OUT/placed.json" --probe-vm rt \
	--bpf-before "$OUT/bpf-before.json" --bpf-after "$OUT/bpf-after.json" \
	--cpu-before "$OUT/cpu-before.json" --cpu-after "$OUT/cpu-after.json" --out "$OUT" \
	>"$OUT/crosscheck.txt" 2>&1
cstatus=$?
sed 's/^/sim_crosscheck: /' "$OUT/crosscheck.txt"
grep -E '^(PASS|FAIL): ' "$OUT/crosscheck.txt" >>"$AXRT_OUT/results"
check "axrt-sim crosscheck ran its checks (exit status $cstatus: 0 all passed, 1 a check failed)" \
	test "$cstatus" -le 1 -a "$(grep -c '^PASS: \|^FAIL: ' "$OUT/crosscheck.txt")" -ge 5
