# SPDX-License-Identifier: GPL-2.0-only
#
# axrt-vmload in the x86_64 test VM (KVM nested in the TCG guest): real micro-VMs whose vCPU
# threads run guest code. Checks that a periodic VM completes its jobs and takes its share of a
# CPU, that vCPU threads are named like QEMU's ("CPU n/KVM") and each VM sits in its own cgroup,
# that a hog VM's work grows next to it, and that the lock workload progresses on every vCPU,
# with the sched-yield hypercall really reaching KVM in --yield hypercall mode. The measured
# figures are printed and saved in $AXRT_OUT/vmload.txt; the checks of figures are axrt-check
# vmload's (tools/axrt-check/src/vmload.rs). Durations are short: guest code runs under emulation
# and the machine may be shared.
. ./lib.sh

ROOT=$CG/axrt-vmload
TRACE=/sys/kernel/tracing
OUT=$AXRT_OUT/vmload.txt
: >"$OUT"
note() { echo "vmload: $*" | tee -a "$OUT"; }

# finish_run WHAT FILE: waits for the background run $run (axrt-vmload $args, output in FILE),
# repeats it on the fault, checks that it ended with status 0 and saves its output.
finish_run() {
	wait $run
	rerun_on_fault $? "$2" $args
	status=$?
	check_eq "the $1 run ends with status 0$(error_of $status "$2")" 0 $status
	cat "$2" | tee -a "$OUT"
}

check "/dev/kvm exists in the guest" test -c /dev/kvm

# --- usage and runtime errors -----------------------------------------------------------------
axrt-vmload --vcpus 0 >/dev/null 2>/tmp/vmload-err.txt
check_eq "a bad argument is a usage error (exit 2)" 2 $?
axrt-vmload --duration-s 1 --cgroup-root /proc/axrt-vmload >/dev/null 2>>/tmp/vmload-err.txt
check_eq "an unusable cgroup root is a runtime error (exit 1)" 1 $?
cat /tmp/vmload-err.txt | tee -a "$OUT"

# --- a periodic VM alone: 2 vCPUs, 30% of 10 ms, 5 s (axrt-check vmload periodic's scenario) ----
args="--vm-spec rt:2:periodic:30:10000 --duration-s 5 --cgroup-root $ROOT
	--json $AXRT_OUT/vmload-periodic.json"
axrt-vmload $args >/tmp/vmload-periodic.txt 2>&1 &
run=$!
if wait_vcpus rt 2 >/tmp/vmload-threads.txt; then
	pid=$(head -1 /tmp/vmload-threads.txt)
	check_eq "the periodic VM's vCPU threads are named like QEMU's" "CPU 0/KVM,CPU 1/KVM" \
		"$(tail -n +2 /tmp/vmload-threads.txt | tr '\n' ',' | sed 's/,$//')"
	check_eq "the periodic VM runs in its own cgroup" "0::/axrt-vmload/rt" "$(cat /proc/"$pid"/cgroup)"
else
	fail "the periodic VM's vCPU threads appear" "no 'CPU n/KVM' threads in $ROOT/rt within 120 s"
fi
finish_run periodic /tmp/vmload-periodic.txt
# Jobs per vCPU and CPU shares against the scenario's (axrt-check vmload periodic says why each
# bound is what it is).
axrt-check vmload --notes "$OUT" periodic --report "$AXRT_OUT/vmload-periodic.json"
check "the VM's cgroup is removed after the run" test ! -e "$ROOT/rt"

# --- mixed: the periodic VM next to a hog VM, one invocation ----------------------------------
args="--vm-spec rt:2:periodic:30:10000 --vm-spec hog:1:hog --duration-s 4 --cgroup-root $ROOT
	--json $AXRT_OUT/vmload-mixed.json"
axrt-vmload $args >/tmp/vmload-mixed.txt 2>&1 &
run=$!
if wait_vcpus hog 1 >/tmp/vmload-threads.txt && wait_vcpus rt 2 >/dev/null; then
	pid=$(head -1 /tmp/vmload-threads.txt)
	check_eq "the hog VM runs in a cgroup of its own" "0::/axrt-vmload/hog" "$(cat /proc/"$pid"/cgroup)"
	w1=$(grep -c . "$ROOT/hog/cgroup.procs")
	check_eq "each VM is one process in its cgroup" "1 1" "$w1 $(grep -c . "$ROOT/rt/cgroup.procs")"
else
	fail "the mixed scenario's VMs start" "vCPU threads missing in $ROOT/hog or $ROOT/rt"
fi
finish_run mixed /tmp/vmload-mixed.txt
axrt-check vmload --notes "$OUT" mixed --report "$AXRT_OUT/vmload-mixed.json"

# --- lock, pause waiting: 3 vCPUs on 2 CPUs, 200 us critical sections ---------------------------
args="--vm-spec lk:3:lock --yield pause --cs-us 200 --ncs-us 50 --duration-s 3 --json /tmp/vmload-lock.json"
axrt-vmload $args >/tmp/vmload-lock.txt 2>&1 &
run=$!
finish_run pause-lock /tmp/vmload-lock.txt
axrt-check vmload --notes "$OUT" lock --mode pause --report /tmp/vmload-lock.json

# --- lock, hypercall waiting: the guest's yields must reach kvm_sched_yield ---------------------
# Repeated on the wrong-IP fault like the others (here in the loop, which also re-arms the
# tracepoint and re-reads KVM's counters for each attempt); hypercalls make the fault frequent.
tp=$TRACE/events/kvm/kvm_hypercall
attempt=0
while :; do
	attempt=$((attempt + 1))
	if [ -e $tp/enable ]; then
		echo 0 >$TRACE/tracing_on
		: >$TRACE/trace
		echo 1 >$tp/enable
		echo 1 >$TRACE/tracing_on
	fi
	axrt-vmload --vm-spec lk:3:lock --yield hypercall --cs-us 200 --ncs-us 50 --duration-s 2 \
		--cgroup-root "$ROOT" --json "$AXRT_OUT/vmload-lock.json" >/tmp/vmload-hc.txt 2>&1 &
	run=$!
	# KVM's own count while the VM lives (debugfs sums the live VMs' vCPU statistics).
	attempted= successful=
	if wait_vcpus lk 3 >/dev/null; then
		sleep 1
		attempted=$(cat /sys/kernel/debug/kvm/directed_yield_attempted 2>/dev/null)
		successful=$(cat /sys/kernel/debug/kvm/directed_yield_successful 2>/dev/null)
	fi
	wait $run
	status=$?
	[ -e $tp/enable ] && echo 0 >$tp/enable
	[ $status = 0 ] && break
	grep -qE "$FAULT" /tmp/vmload-hc.txt && [ $attempt -lt 3 ] || break
	note "attempt $attempt hit the emulated CPU's wrong-IP fault, repeated: $(grep -E "$FAULT" /tmp/vmload-hc.txt | head -1)"
done
check_eq "the hypercall-lock run ends with status 0$(error_of $status /tmp/vmload-hc.txt)" 0 $status
cat /tmp/vmload-hc.txt | tee -a "$OUT"
# The guest's yields, and KVM's view of them: the tracepoint's lines (a copy of the trace buffer)
# and the debugfs count read while the VM lived.
trace_arg=
if [ -e $tp/enable ]; then
	cp $TRACE/trace /tmp/vmload-hc-trace.txt
	: >$TRACE/trace
	trace_arg="--trace /tmp/vmload-hc-trace.txt"
fi
axrt-check vmload --notes "$OUT" lock --mode hypercall --report "$AXRT_OUT/vmload-lock.json" $trace_arg \
	${attempted:+--directed-yield-attempted "$attempted"} ${successful:+--directed-yield-successful "$successful"}
rmdir "$ROOT" 2>/dev/null || true
