# SPDX-License-Identifier: GPL-2.0-only
#
# Scheduling overhead, run inside the test VM by scripts/bench-overhead: hackbench (fork-heavy,
# wakeup-heavy messaging) and a stress-ng mix (context switches, yields, CPU) under the default
# scheduler and under scx_axrt with each BPF queue design, interleaved over several rounds so
# drift hits every scheduler alike. Prints medians and ratios to the default scheduler.
. ./lib.sh

rounds=${ROUNDS:-3}
schedulers="default bitmap vtime"

# one_run: prints "hackbench_seconds stress_bogo_ops_per_s" for the current scheduler.
one_run() {
	hb=$(hackbench --groups 4 --loops 200 2>&1 | sed -n 's/^Time: *//p')
	stress-ng --switch 2 --yield 2 --cpu 2 --timeout 8s --metrics-brief >/tmp/ov-stress.log 2>&1
	ops=$(awk '$3 ~ /^\[/ && $5 ~ /^[0-9]+$/ { sum += $(NF-1) } END { printf "%.1f", sum }' /tmp/ov-stress.log)
	echo "$hb $ops"
}

: >/tmp/ov-results
r=1
while [ $r -le "$rounds" ]; do
	for s in $schedulers; do
		if [ "$s" != default ]; then
			scx_start --queue "$s" || { echo "overhead: scx_axrt --queue $s did not start"; cat $SCX_LOG; exit 1; }
		fi
		set -- $(one_run)
		echo "$s $1 $2" | tee -a /tmp/ov-results
		if [ "$s" != default ]; then
			scx_stop INT || { echo "overhead: scx_axrt --queue $s exited badly"; cat $SCX_LOG; exit 1; }
			wait_state disabled 10
		fi
	done
	r=$((r + 1))
done

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base_hb=$(awk '$1 == "default" { print $2 }' /tmp/ov-results | median)
base_ops=$(awk '$1 == "default" { print $3 }' /tmp/ov-results | median)
{
	echo "| scheduler | hackbench s (median of $rounds) | vs default | stress-ng bogo-ops/s | vs default |"
	echo "|---|---|---|---|---|"
	for s in $schedulers; do
		hb=$(awk -v s="$s" '$1 == s { print $2 }' /tmp/ov-results | median)
		ops=$(awk -v s="$s" '$1 == s { print $3 }' /tmp/ov-results | median)
		label=$s
		[ "$s" = default ] || label="scx_axrt --queue $s"
		awk -v l="$label" -v hb="$hb" -v bhb="$base_hb" -v ops="$ops" -v bops="$base_ops" \
			'BEGIN { printf "| %s | %.2f | %.2fx time | %.0f | %.2fx ops |\n", l, hb, hb / bhb, ops, ops / bops }'
	done
} | tee "$AXRT_OUT/overhead.md"
