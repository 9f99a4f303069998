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
# the same VM is throttled at its budget: its windows supply what it was owed.
. ./lib.sh

ROOT=$CG/axrt-dl
OUT=$AXRT_OUT/deadlines.txt
: >"$OUT"
note() { echo "deadlines: $*" | tee -a "$OUT"; }
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
args="--vm-spec rt:2:periodic:30:10000 --duration-s $secs --cgroup-root $ROOT"
axrt-vmload $args >/tmp/dl-vmload.txt 2>&1 &
run=$!
wait_vcpus rt 2 >/tmp/dl-threads.txt
tid0= tid1=
if pid=$(head -1 /tmp/dl-threads.txt) && [ -n "$pid" ]; then
	for t in /proc/"$pid"/task/*; do
		case "$(cat $t/comm)" in
		"CPU 0/KVM") tid0=${t##*/} ;;
		"CPU 1/KVM") tid1=${t##*/} ;;
		esac
	done
fi
wait $run
rerun_on_fault $? /tmp/dl-vmload.txt $args
status=$?
check_eq "the periodic VM's run ends with status 0$(error_of $status /tmp/dl-vmload.txt)" 0 $status
cat /tmp/dl-vmload.txt >>"$OUT"
# A repeated run has new threads: the tids of the last run are in its events only, so match the
# per-thread statistics by name and the events by the tids seen in them.
usleep 300000 # two more --stats intervals, so the last jobs are in a report
# task_sum NAME FIELD: the sum of FIELD over the --stats reports for thread NAME.
task_sum() {
	interval_reports $SCX_LOG | jq -s --arg n "$1" --arg f "$2" '[.[].tasks[]? | select(.name == $n) | .[$f]] | add // 0'
}
for v in 0 1; do
	eval "guest_jobs$v=\$(field /tmp/dl-vmload.txt rt $v 4)"
	eval "jobs$v=\$(task_sum 'rt/CPU $v/KVM' jobs)"
	eval "miss$v=\$(task_sum 'rt/CPU $v/KVM' misses)"
	eval "over$v=\$(task_sum 'rt/CPU $v/KVM' wcet_overruns)"
done
note "vCPU 0 (D 10 ms, C 6 ms): guest jobs $guest_jobs0, scheduler jobs $jobs0, misses $miss0, WCET overruns $over0"
note "vCPU 1 (D 2 ms, C 1 ms):  guest jobs $guest_jobs1, scheduler jobs $jobs1, misses $miss1, WCET overruns $over1"
# Jobs: the thread gets its contract within a rescan (0.1 s) of appearing, and the last report
# may lack a fraction of a second: within 10% of the guest's count. Wake-ups that are not jobs
# (a vCPU blocking twice in one period) would show as more jobs than the guest's.
for v in 0 1; do
	eval "g=\$guest_jobs$v j=\$jobs$v"
	check "the scheduler counts vCPU $v's jobs within 10% of the guest's (guest $g, scheduler $j)" \
		within "${j:-0}" "${g:-0}" $(( ${g:-0} / 10 + 1 ))
done
check "vCPU 1's impossible contract: >= 90% of its jobs miss (got $miss1 of $jobs1)" \
	awk -v m="$miss1" -v j="$jobs1" 'BEGIN { exit !(j > 0 && m >= 0.9 * j) }'
check "vCPU 1's impossible contract: >= 90% of its jobs overrun the WCET (got $over1 of $jobs1)" \
	awk -v m="$over1" -v j="$jobs1" 'BEGIN { exit !(j > 0 && m >= 0.9 * j) }'
check "vCPU 0's generous contract: <= 5% of its jobs miss (got $miss0 of $jobs0)" \
	awk -v m="$miss0" -v j="$jobs0" 'BEGIN { exit !(j > 0 && m <= 0.05 * j) }'
check "vCPU 0's generous contract: <= 5% overrun the WCET (got $over0 of $jobs0)" \
	awk -v m="$over0" -v j="$jobs0" 'BEGIN { exit !(j > 0 && m <= 0.05 * j) }'

# --- supply: starved next to a better-priority hog group, then alone -----------------------------
cg_make axrt-dl/budgeted
cg_make axrt-dl/hi
reports() { grep -c '^{' $SCX_LOG; }
# window_sum NAME FIELD FROM: the sum of FIELD of group NAME over the reports after line FROM.
window_sum() {
	interval_reports $SCX_LOG | tail -n +$(($3 + 1)) | jq -s --arg n "$1" --arg f "$2" \
		'[.[].groups[] | select(.name == $n) | .[$f]] | add // 0'
}
# Both on CPU 1: the other CPU stays free for the host (this script, scx_axrt's brain).
cg_spawn axrt-dl/hi taskset -c 1 stress-ng --cpu 1 --cpu-method loop --timeout 600s --quiet
cg_spawn axrt-dl/budgeted taskset -c 1 stress-ng --cpu 2 --cpu-method loop --timeout 600s --quiet
sleep 1
from=$(reports)
sleep 4
starved_w=$(window_sum budgeted windows $from) starved_m=$(window_sum budgeted supply_misses $from)
cg_kill axrt-dl/hi
sleep 1
from=$(reports)
sleep 4
alone_w=$(window_sum budgeted windows $from) alone_m=$(window_sum budgeted supply_misses $from)
alone_t=$(window_sum budgeted throttles $from)
cg_kill axrt-dl/budgeted
note "supply: starved by a priority-10 hog: $starved_m supply misses in $starved_w windows;" \
	"alone: $alone_m in $alone_w windows ($alone_t throttles)"
check "a budgeted VM starved by better priorities misses supply in >= 80% of its windows ($starved_m of $starved_w)" \
	awk -v m="$starved_m" -v w="$starved_w" 'BEGIN { exit !(w >= 20 && m >= 0.8 * w) }'
check "the same VM alone is throttled at its budget ($alone_t throttles in $alone_w windows)" \
	awk -v t="$alone_t" -v w="$alone_w" 'BEGIN { exit !(w >= 20 && t >= 0.8 * w) }'
check "alone, it is supplied what it is owed in >= 90% of its windows ($alone_m misses of $alone_w)" \
	awk -v m="$alone_m" -v w="$alone_w" 'BEGIN { exit !(w >= 20 && m <= 0.1 * w) }'

scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-deadlines.log"

# --- the event stream ---------------------------------------------------------------------------
check "the event stream is JSON lines" jq -e . "$EV" >/dev/null
kinds=$(jq -r .kind "$EV" | sort | uniq -c | tr '\n' ' ')
note "events: $kinds"
for k in throttle replenish miss wcet_overrun supply_miss; do
	check "the event stream has $k events" jq -e --arg k $k 'select(.kind == $k)' "$EV" >/dev/null
done
# Miss events carry the thread and its lateness: response - 2 ms, so > 0 (vCPU 1 only mostly).
late_bad=$(jq -s '[.[] | select(.kind == "miss" and (.lateness_ns <= 0 or .response_ns - .lateness_ns != 2000000 and .response_ns - .lateness_ns != 10000000))] | length' "$EV")
check_eq "every miss event has lateness = response - deadline > 0" 0 "$late_bad"
miss_ev=$(jq -s '[.[] | select(.kind == "miss" and .vm == "rt")] | length' "$EV")
check "miss events of the rt VM match the counted misses (events $miss_ev, counted $((miss0 + miss1)))" \
	test "$miss_ev" -ge $((miss0 + miss1))
