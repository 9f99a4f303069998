# SPDX-License-Identifier: GPL-2.0-only
#
# axrt-trace in the x86_64 test VM, on axrt-vmload micro-VMs whose behaviour is known. The
# assertions are `axrt-trace check` (Rust); this script sets the runs up.
#
# 1. Summary mode, default scheduler, next to `perf kvm stat record` of the same run: two VMs
#    (a periodic one with 2 vCPUs, a hog) and a CPU hog, all on CPU 1. The port I/O exits
#    axrt-trace counts per vCPU equal the guest's own (axrt-vmload's io_exits); every exit
#    reason's count equals perf kvm stat's, less at most one exit per vCPU thread (and perf stat's count of the same tracepoint, all
#    exits and io, interrupt, npf); the hog vCPU, behind the CPU hog, waits, and its
#    runnable wait matches the kernel's run_delay.
# 2. Summary mode, a halting periodic vCPU alone (its guest waits for its own LAPIC timer in
#    hlt; jobs of 20 % of 10 ms): halted (polling or asleep) about 1 - duty of the time, the duty
#    being the thread's CPU share axrt-vmload measured; the HLT exits equal the guest's hlt
#    instructions.
# 3. Trace mode under scx_axrt: a hog VM with a budget of 20 ms per 100 ms. The Perfetto trace
#    reads back with Perfetto's schema and matches the summary (slices per state, exit
#    counters, decisions as instants); the throttles are on the VM's track, and between each
#    throttle and the replenishment its vCPU waits. Nothing was dropped.
. ./lib.sh

ROOT=$CG/axrt-trace
OUT=$AXRT_OUT/trace.txt
: >"$OUT"
note() { echo "trace: $*" | tee -a "$OUT"; }
mkdir -p "$ROOT"

# trace_start LOG ARGS...: starts axrt-trace in the background and waits for its "attached"
# line (read from a pipe: the moment it follows every vCPU thread). $TRACE_PID is its pid.
trace_start() {
	log=$1
	shift
	rm -f /tmp/axrt-trace.pipe
	mkfifo /tmp/axrt-trace.pipe
	axrt-trace "$@" >"$log.out" 2>/tmp/axrt-trace.pipe &
	TRACE_PID=$!
	exec 8</tmp/axrt-trace.pipe
	while IFS= read -r -t 60 line <&8; do
		echo "$line" >>"$log.err"
		case "$line" in
		"axrt-trace: attached"*)
			cat <&8 >>"$log.err" &
			exec 8<&-
			return 0
			;;
		esac
	done
	exec 8<&-
	return 1
}
trace_stop() {
	kill -INT "$TRACE_PID"
	wait "$TRACE_PID"
}
# traced_vmload WHAT TAG ARGS...: axrt-vmload ARGS while axrt-trace (started by trace_start
# /tmp/TAG) records, repeated on the emulated CPU's fault; then stops axrt-trace, checks the
# status and keeps both outputs.
traced_vmload() {
	what=$1 tag=$2
	shift 2
	axrt-vmload "$@" >/tmp/$tag-vmload.txt 2>&1
	rerun_on_fault $? /tmp/$tag-vmload.txt "$@"
	st=$?
	trace_stop
	check_eq "the $what ran$(error_of $st /tmp/$tag-vmload.txt)" 0 $st
	cat /tmp/$tag-vmload.txt /tmp/$tag.out >>"$OUT"
}
checks() { # runs axrt-trace check ARGS and records its PASS/FAIL lines
	axrt-trace check "$@" >/tmp/check.txt 2>&1
	st=$?
	grep -E '^(PASS|FAIL):' /tmp/check.txt | tee -a "$AXRT_OUT/results"
	[ $st -le 1 ] || fail "trace: axrt-trace check $1 ran" "$(tail -2 /tmp/check.txt | tr '\n' ' ')"
}

check "perf is in the guest" timeout 60 perf version
# perf 7.2 in this guest may abort at its very end ("double free or corruption") after it wrote
# its data: what counts is the data file.
timeout 120 perf kvm stat record -a -o /tmp/probe.data -- true >/tmp/perf-probe.txt 2>&1
note "perf kvm stat record (probe): exit status $?, $(grep -m1 'Captured' /tmp/perf-probe.txt)"
check "perf kvm stat records in the guest" test -s /tmp/probe.data

# --- 1. summary mode next to perf kvm stat ------------------------------------------------------
if trace_start /tmp/t1 --json "$AXRT_OUT/trace-summary.json" --svg "$AXRT_OUT/trace-summary.svg" \
	--interval-s 0.5; then
	taskset -c 1 stress-ng --cpu 1 --cpu-method loop --timeout 600s --quiet &
	hog=$!
	args="--vm-spec rt:2:periodic:30:10000 --vm-spec hog:1:hog --duration-s 4 --cgroup-root $ROOT
		--json $AXRT_OUT/trace-vmload.json"
	perf_run() { # perf stat counts kvm:kvm_exit (all, io, interrupt, npf) around perf kvm stat record
		timeout 300 taskset -c 1 perf stat -a -x, -o /tmp/perf-stat.csv -e kvm:kvm_exit \
			-e kvm:kvm_exit --filter 'exit_reason == 123' -e kvm:kvm_exit --filter 'exit_reason == 96' \
			-e kvm:kvm_exit --filter 'exit_reason == 1024' \
			-- perf kvm stat record -a -o /tmp/perf.data -- axrt-vmload $args >/tmp/t1-vmload.txt 2>&1
	}
	perf_run
	st=$?
	if grep -qE "$FAULT" /tmp/t1-vmload.txt; then
		note "the run hit the emulated CPU's wrong-IP fault, repeated: $(grep -E "$FAULT" /tmp/t1-vmload.txt | head -1)"
		perf_run
		st=$?
	fi
	kill $hog
	trace_stop
	# perf's exit status is not axrt-vmload's: the report says whether the VMs ran.
	note "perf kvm stat record -- axrt-vmload: exit status $st"
	check "the micro-VMs ran (axrt-vmload's report: 2 VMs, no error)" \
		jq -e '.errors == [] and (.vms | length) == 2' "$AXRT_OUT/trace-vmload.json"
	cat /tmp/t1-vmload.txt /tmp/t1.out >>"$OUT"
	LIBC_FATAL_STDERR_=1 timeout 300 perf kvm -i /tmp/perf.data stat report --event=vmexit >/tmp/perf-report.txt 2>&1
	note "perf kvm stat report: exit status $?"
	cp /tmp/perf-report.txt "$AXRT_OUT/trace-perf-report.txt"
	cat /tmp/perf-report.txt /tmp/perf-stat.csv >>"$OUT"
	checks --summary "$AXRT_OUT/trace-summary.json" --vmload "$AXRT_OUT/trace-vmload.json" \
		--perf-report /tmp/perf-report.txt --perf-stat /tmp/perf-stat.csv --perf-stat-reasons io,interrupt,npf \
		--wait-vm hog --min-wait-pct 20 --wait-tolerance-pct 5
	note "$(grep -E '^(hog|rt)' /tmp/t1.out | head -8 | tr -s ' ')"
else
	fail "trace: axrt-trace attaches in summary mode" "$(tail -3 /tmp/t1.err | tr '\n' ' ')"
fi

# --- 2. a halting vCPU ------------------------------------------------------------------------
if trace_start /tmp/t3 --json "$AXRT_OUT/trace-halt.json" --interval-s 0.5; then
	traced_vmload "halting micro-VM" t3 --vm-spec idle:1:halt:20:10000 --duration-s 3 \
		--cgroup-root "$ROOT" --json "$AXRT_OUT/trace-vmload-halt.json"
	# The duty is what the vCPU thread used (its CPU time: the job and its exits' handling,
	# slow under nested emulation), as axrt-vmload measured it.
	duty=$(jq '.vms[0].vcpus[0].cpu_share_pct' "$AXRT_OUT/trace-vmload-halt.json")
	checks --summary "$AXRT_OUT/trace-halt.json" --vmload "$AXRT_OUT/trace-vmload-halt.json" \
		--halt-vm idle --duty-pct "${duty:-20}" --halt-tolerance-pts 10
	note "$(grep -E '^(idle|  CPU)' /tmp/t3.out | head -3 | tr -s ' ')"
else
	fail "trace: axrt-trace attaches for the halting VM" "$(tail -3 /tmp/t3.err | tr '\n' ' ')"
fi

# --- 3. trace mode under scx_axrt: a throttled VM ----------------------------------------------
cat >/tmp/trace.toml <<'TOML'
[[vm]]
name = "batch"
cgroup = "axrt-trace/batch"
priority = 200
quota_us = 20000
period_us = 100000
TOML
if scx_start_checked "trace: scx_axrt starts with a budgeted VM" --config /tmp/trace.toml --rescan-ms 100; then
	if trace_start /tmp/t2 --mode trace --config /tmp/trace.toml --json "$AXRT_OUT/trace-throttle.json" \
		--perfetto "$AXRT_OUT/trace-throttle.pftrace" --svg "$AXRT_OUT/trace-throttle.svg" --interval-s 0.5; then
		traced_vmload "throttled micro-VM" t2 --vm-spec batch:1:hog --duration-s 3 \
			--cgroup-root "$ROOT" --json "$AXRT_OUT/trace-vmload2.json"
		checks --summary "$AXRT_OUT/trace-throttle.json" --vmload "$AXRT_OUT/trace-vmload2.json" --no-drops \
			--perfetto "$AXRT_OUT/trace-throttle.pftrace" --throttled-vm batch
		note "$(grep -E '^(batch|  scx_axrt)' /tmp/t2.out | head -4 | tr -s ' ')"
	else
		fail "trace: axrt-trace attaches in trace mode" "$(tail -3 /tmp/t2.err | tr '\n' ' ')"
	fi
	scx_stop INT
	cp $SCX_LOG "$AXRT_OUT/scx_axrt-trace.log"
fi
cp /tmp/t1.err /tmp/t2.err /tmp/t3.err "$AXRT_OUT/" 2>/dev/null
rmdir "$ROOT" 2>/dev/null || true
