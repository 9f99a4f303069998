# SPDX-License-Identifier: GPL-2.0-only
#
# The demo workload, run inside the x86_64 test VM by scripts/demo. Two "VMs" (cgroups): control,
# a periodic thread doing 300 us of work every 1 ms, and batch, CPU hogs on every CPU. The same mix
# runs first under the kernel's default scheduler, then under scx_axrt with a configuration that
# gives control priority 10 and batch priority 200 with a budget of one CPU (100 ms per 100 ms);
# a side-by-side summary shows what each scheduler did.
. ./lib.sh

secs=${DEMO_SECONDS:-8}
cg_make demo/control
cg_make demo/batch
cat >/tmp/demo.toml <<'TOML'
[[vm]]
name = "control"
cgroup = "demo/control"
priority = 10

[[vm]]
name = "batch"
cgroup = "demo/batch"
priority = 200
quota_us = 100000
period_us = 100000
TOML
rtapp_periodic /tmp/demo-rt.json "$secs" demo

# run_mix LABEL: the mix for $secs seconds; appends a summary row.
run_mix() {
	cg_spawn demo/batch stress-ng --cpu $(($(nproc) * 2)) --cpu-method loop --timeout $((secs + 5))s --quiet
	cg_spawn demo/control rt-app /tmp/demo-rt.json >/dev/null 2>&1
	control=$!
	sleep 1 # batch's share is measured from here on, past the start-up of the hogs and rt-app
	u0=$(cg_usage demo/batch) t0=$(now_us)
	wait $control
	u1=$(cg_usage demo/batch) t1=$(now_us)
	cg_kill demo/batch
	set -- $(rtapp_summary /tmp/demo-rt-0.log)
	printf '%-18s %18s %16s %18s\n' "$1" "$3/$2" "$(share_pct $((u1 - u0)) $((t1 - t0)))%" "$LABEL" |
		awk '{ printf "%-18s %16s %14s %16s\n", $4 " " $5, $1, $2, $3 }' >>/tmp/summary
}

echo "demo: kernel $(uname -r), $(nproc) CPUs, sched_ext state: $(cat $SCX_STATE)"
printf '%-18s %16s %14s %16s\n' scheduler "control p99 us" "control late" "batch CPU" >/tmp/summary

echo "demo: ${secs}s of the mix under the default scheduler"
LABEL="default (EEVDF)" run_mix

echo "demo: starting scx_axrt --config demo.toml --stats 2"
cat /tmp/demo.toml | sed 's/^/  | /'
if ! scx_start --config /tmp/demo.toml --stats 2; then
	echo "demo: scx_axrt did not start:"
	cat $SCX_LOG
	exit 1
fi
echo "demo: sched_ext state: $(cat $SCX_STATE), ops: $(cat /sys/kernel/sched_ext/root/ops)"
echo "demo: the same ${secs}s mix under scx_axrt"
LABEL="scx_axrt (config)" run_mix
scx_stop INT
status=$?
wait_state disabled 10
echo "demo: scx_axrt stopped (exit $status); sched_ext state: $(cat $SCX_STATE)"
echo
echo "scx_axrt said (the last statistics table):"
awk '/^group / { n = NR - 1 } { line[NR] = $0 } END { for (i = n; i <= NR && n; i++) print line[i] }' \
	$SCX_LOG | sed 's/^/  /' | tail -12
echo
echo "control: 300 us of work every 1 ms (p99 wakeup latency; late = periods whose job ended after the period)"
echo "batch:   $(($(nproc) * 2)) CPU hogs; scx_axrt caps them at their budget, one CPU (100%)"
echo
cat /tmp/summary
cp /tmp/summary "$AXRT_OUT/summary.txt"
echo
echo "(guest time under QEMU emulation: compare the rows, not the absolute numbers)"
exit $status
