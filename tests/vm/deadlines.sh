# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 6 (1, 5): job deadlines, WCET overruns, reservation-window supply misses and the event
# stream, on real KVM vCPU threads (axrt-vmload) and CPU hogs.
#
# Jobs: a periodic micro-VM (2 vCPUs, jobs of 30% of 10 ms) whose vCPU threads have timing
# contracts in the configuration: "CPU 0/KVM" a generous one (deadline 10 ms, WCET 6 ms: a 3 ms
# job alone on its CPU meets both), "CPU 1/KVM" an impossible one (deadline 2 ms, WCET 1 ms:
# every 3 ms job misses and overruns). The BPF tier must count about as many jobs as the guest
# completed, nearly all misses and overruns on vCPU 1 and nearly none on vCPU 0, and emit one
# miss event per miss with the lateness.
#
# Supply: a VM with a budget of 20 ms per 100 ms at priority 200 next to a priority-10 hog group
# that saturates the one CPU both use gets (almost) nothing: nearly every window is a supply miss. Alone,
# the same VM is throttled at its budget: its windows supply what it was owed. The figures and
# checks are axrt-check deadlines' (tools/axrt-check/src/deadlines.rs).
. ./lib.sh

ROOT=$CG/axrt-dl
OUT=$AXRT_OUT/deadlines.txt
: >"$OUT"
EV=$AXRT_OUT/deadlines-events.jsonl
mkdir -p "$ROOT"

cat >/tmp/dl.toml <<'TOML'
[[vm]]
name = "rt"
cgroup = "axrt-dl/rt"
priority = 10

[[vm]]
name = "budgeted"
cgroup = "axrt-dl/budgeted"
priority = 200
quota_us = 20000
period_us = 100000

[[vm]]
name = "hi"
cgroup = "axrt-dl/hi"
priority = 10

[[task]]
vm = "rt"
comm = "CPU 0/KVM"
period_us = 10000
deadline_us = 10000
wcet_us = 6000

[[task]]
vm = "rt"
comm = "CPU 1/KVM"
period_us = 10000
deadline_us = 2000
wcet_us = 1000
TOML

scx_start_checked "scx_axrt starts with timing contracts" --config /tmp/dl.toml --rescan-ms 100 \
	--stats 0.2 --json --events "$EV" || exit 0

# --- jobs ---------------------------------------------------------------------------------------
secs=5
args="--vm-spec rt:2:periodic:30:10000 --duration-s $secs --cgroup-root $ROOT --json /tmp/dl-vmload.json"
axrt-vmload $args >/tmp/dl-vmload.txt 2>&1 &
run=$!
wait $run
rerun_on_fault $? /tmp/dl-vmload.txt $args
status=$?
check_eq "the periodic VM's run ends with status 0$(error_of $status /tmp/dl-vmload.txt)" 0 $status
cat /tmp/dl-vmload.txt >>"$OUT"
# A repeated run has new threads: the tids of the last run are in its events only, so the
# per-thread statistics are matched by name (axrt-check deadlines).
usleep 300000 # two more --stats intervals, so the last jobs are in a report

# --- supply: starved next to a better-priority hog group, then alone -----------------------------
cg_make axrt-dl/budgeted
cg_make axrt-dl/hi
# reports: how many reports the log has now; two of them mark a stretch of reports.
reports() { grep -c '^{' $SCX_LOG; }
# Both on CPU 1: the other CPU stays free for the host (this script, scx_axrt's brain).
cg_spawn axrt-dl/hi taskset -c 1 stress-ng --cpu 1 --cpu-method loop --timeout 600s --quiet
cg_spawn axrt-dl/budgeted taskset -c 1 stress-ng --cpu 2 --cpu-method loop --timeout 600s --quiet
sleep 1
starved_from=$(reports)
sleep 4 # the starved stretch
starved_to=$(reports)
cg_kill axrt-dl/hi
sleep 1
alone_from=$(reports)
sleep 4 # the stretch alone
alone_to=$(reports)
cg_kill axrt-dl/budgeted

scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-deadlines.log"

# --- the checks: jobs, supply, the event stream (axrt-check deadlines) ----------------------------
axrt-check deadlines --notes "$OUT" --stats "$AXRT_OUT/scx_axrt-deadlines.log" --vmload /tmp/dl-vmload.json \
	--starved "$starved_from" "$starved_to" --alone "$alone_from" "$alone_to" --events "$EV"
