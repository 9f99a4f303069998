# SPDX-License-Identifier: GPL-2.0-only
#
# The demo workload, run inside the x86_64 test VM by scripts/demo: the same small mix — CPU hogs
# plus a periodic cyclictest thread — first under the kernel's default scheduler, then under
# scx_axrt, and a side-by-side summary of what each did.
. ./lib.sh

secs=${DEMO_SECONDS:-6}

# run_mix LABEL: hogs and a 1 ms periodic thread for $secs seconds; appends a summary row.
run_mix() {
	stress-ng --cpu 3 --timeout "${secs}s" --metrics-brief >/tmp/stress.log 2>&1 &
	hogs=$!
	cyclictest --quiet --threads 1 --interval 1000 --duration "$secs" >/tmp/cyclic.log 2>&1
	wait $hogs
	bogo=$(awk '$4 == "cpu" {print $(NF-1); exit}' /tmp/stress.log)
	lat=$(sed -n 's/.*Min: *\([0-9]*\) Act: *[0-9]* Avg: *\([0-9]*\) Max: *\([0-9]*\).*/\1 \2 \3/p' /tmp/cyclic.log)
	set -- $lat
	printf '%-22s %16s %12s %12s %12s\n' "$LABEL" "${bogo:-?}" "${1:-?}" "${2:-?}" "${3:-?}" >>/tmp/summary
}

echo "demo: kernel $(uname -r), $(nproc) CPUs, sched_ext state: $(cat $SCX_STATE)"
printf '%-22s %16s %12s %12s %12s\n' scheduler "hog bogo-ops/s" "lat min us" "lat avg us" "lat max us" >/tmp/summary

echo "demo: ${secs}s of 3 CPU hogs + a 1 ms periodic thread under the default scheduler"
LABEL="default (EEVDF)" run_mix

echo "demo: starting scx_axrt"
if ! scx_start; then
	echo "demo: scx_axrt did not start:"
	cat $SCX_LOG
	exit 1
fi
echo "demo: sched_ext state: $(cat $SCX_STATE), ops: $(cat /sys/kernel/sched_ext/root/ops)"
echo "demo: the same ${secs}s mix under scx_axrt"
LABEL="scx_axrt" run_mix
scx_stop INT
status=$?
wait_state disabled 10
echo "demo: scx_axrt stopped (exit $status); sched_ext state: $(cat $SCX_STATE)"
echo
echo "scx_axrt said:"
sed 's/^/  /' $SCX_LOG
echo
cat /tmp/summary
cp /tmp/summary "$AXRT_OUT/summary.txt"
echo
echo "(guest time under QEMU emulation: compare the rows, not the absolute numbers)"
exit $status
