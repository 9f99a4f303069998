# SPDX-License-Identifier: GPL-2.0-only
#
# Shell helpers for scripts that run inside the test VM (busybox sh): starting and stopping
# scx_axrt, reading sched_ext's state, and recording check results. Sourced by the demo and by
# the VM tests; scripts/vm-run puts it in /job next to them.

SCX_STATE=/sys/kernel/sched_ext/state
SCX_LOG=/tmp/scx_axrt.log
SCX_PID=

# Starts scx_axrt with the given arguments and waits until it reports that it is active (its
# "scx_axrt: active" line, read from a pipe: an event, not a guess). Returns non-zero if the
# scheduler exits or stays silent for 60 s. The loader's output keeps going to $SCX_LOG.
scx_start() {
	rm -f /tmp/scx_axrt.pipe
	mkfifo /tmp/scx_axrt.pipe
	: >"$SCX_LOG"
	scx_axrt "$@" >/tmp/scx_axrt.pipe 2>&1 &
	SCX_PID=$!
	exec 7</tmp/scx_axrt.pipe
	while IFS= read -r -t 60 line <&7; do
		echo "$line" >>"$SCX_LOG"
		case "$line" in
		"scx_axrt: active"*)
			cat <&7 >>"$SCX_LOG" &
			SCX_DRAIN=$!
			exec 7<&-
			return 0
			;;
		esac
	done
	exec 7<&-
	return 1
}

# scx_start_checked WHAT ARGS...: scx_start ARGS; if it fails, records "FAIL: WHAT" with the
# loader's last words and returns non-zero.
scx_start_checked() {
	local what=$1
	shift
	scx_start "$@" && return 0
	fail "$what" "$(tail -5 $SCX_LOG | tr '\n' ' ')"
	return 1
}

# Sends a signal (default INT) to the running scx_axrt, waits for it and returns its exit status.
scx_stop() {
	kill -"${1:-INT}" "$SCX_PID" 2>/dev/null
	wait "$SCX_PID"
	status=$?
	wait "$SCX_DRAIN" 2>/dev/null
	SCX_PID=
	return $status
}

# Waits until sched_ext's state is $1, for at most $2 seconds. The kernel disables a scheduler
# asynchronously and offers no event for it, so this polls the state file every 50 ms.
wait_state() {
	n=0
	while [ "$(cat $SCX_STATE)" != "$1" ]; do
		n=$((n + 1))
		[ $n -gt $(($2 * 20)) ] && return 1
		usleep 50000
	done
	return 0
}

# Test results: one line each, "PASS: what" or "FAIL: what: why", on the console and in
# $AXRT_OUT/results. These record what the script itself sees (exit statuses, states, files);
# checks of measured figures are axrt-check's (tools/axrt-check), which prints the same lines.
pass() { echo "PASS: $1" | tee -a "$AXRT_OUT/results"; }
fail() { echo "FAIL: $1: $2" | tee -a "$AXRT_OUT/results"; }
# check_eq WHAT EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}
# check WHAT COMMAND... — passes when the command succeeds.
check() {
	what=$1
	shift
	if "$@" >/tmp/check.out 2>&1; then pass "$what"; else fail "$what" "'$*' failed: $(tail -3 /tmp/check.out | tr '\n' ' ')"; fi
}

# --- cgroups -------------------------------------------------------------------------------

CG=/sys/fs/cgroup

# cg_make NAME [CPU_MAX]: creates cgroup NAME (nested paths allowed) with the cpu controller
# enabled on the way down, and sets its cpu.max ("QUOTA PERIOD" in us) when given.
cg_make() {
	path=$CG
	for part in $(echo "$1" | tr '/' ' '); do
		echo +cpu >"$path/cgroup.subtree_control" 2>/dev/null
		path=$path/$part
		mkdir -p "$path"
	done
	[ -n "${2:-}" ] && echo "$2" >"$path/cpu.max"
	return 0
}

# cg_spawn NAME COMMAND...: starts COMMAND in the background inside cgroup NAME; $! is its pid.
cg_spawn() {
	name=$1
	shift
	sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$CG/$name" "$@" &
}

# cg_snapshot FILE NAME...: the cgroups' CPU time and the time now (axrt-check cg-snapshot), in
# FILE; two of them around a window give the shares, computed by axrt-check.
cg_snapshot() {
	local f=$1
	shift
	axrt-check cg-snapshot "$@" >"$f"
}

# cg_kill NAME: kills every process in the cgroup and waits until it is empty (at most 10 s;
# cgroupfs files have size 0, so emptiness is read, not stat'ed). Returns 1 if it is not empty.
cg_kill() {
	n=0
	while [ -n "$(cat "$CG/$1/cgroup.procs")" ]; do
		if [ $n -ge 200 ]; then
			fail "cgroup $1 is emptied by cg_kill" "left: $(cat "$CG/$1/cgroup.procs" | tr '\n' ' ')"
			return 1
		fi
		echo 1 >"$CG/$1/cgroup.kill"
		n=$((n + 1))
		usleep 50000
	done
}

# rtapp_calibrate: prints rt-app's nanoseconds per busy-loop iteration on this (quiet) machine, the
# least of three one-second calibrations: emulated code runs faster once translated, so the
# first one overstates it. Empty if rt-app printed none.
rtapp_calibrate() {
	rtapp_periodic /tmp/rtapp-cal.json 1 rtapp-cal CPU0
	for i in 1 2 3; do
		rt-app /tmp/rtapp-cal.json 2>&1 | sed -n 's/.*pLoad = \([0-9]*\)ns.*/\1/p'
	done | sort -n | head -1
}

# rtapp_periodic FILE SECONDS NAME CALIBRATION [fifo]: writes an rt-app configuration for one
# periodic thread doing 300 us of work every 1 ms (a 30% vCPU-like load) for SECONDS; its log goes
# to /tmp/NAME-rt-0.log. CALIBRATION is rt-app's: ns per loop (rtapp_calibrate), or "CPU0" to
# calibrate at start. With "fifo" the thread runs under SCHED_FIFO at priority 50.
rtapp_periodic() {
	case "$4" in [0-9]*) cal=$4 ;; *) cal="\"$4\"" ;; esac
	policy=SCHED_OTHER prio=""
	[ "${5:-}" = fifo ] && policy=SCHED_FIFO prio='"priority": 50, '
	cat >"$1" <<JSON
{ "tasks": { "rt": { "loop": -1, "run": 300, $prio"timer": { "ref": "tick", "period": 1000 } } },
  "global": { "duration": $2, "default_policy": "$policy", "calibration": $cal,
              "logdir": "/tmp", "log_basename": "$3", "lock_pages": false } }
JSON
}

# ---- axrt-vmload runs (tests/vm/vmload.sh, deadlines.sh, boosts.sh) ----

# wait_vcpus VM N: waits (at most 120 s: calibration and VM creation are slow under emulation)
# until VM's process in $ROOT/VM ($ROOT: the run's --cgroup-root) has N vCPU threads, then
# prints its pid and the sorted thread names, one per line.
wait_vcpus() {
	n=0
	while [ $n -lt 1200 ]; do
		pid=$(head -1 "$ROOT/$1/cgroup.procs" 2>/dev/null)
		if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/task/*/comm 2>/dev/null | grep -c '^CPU [0-9]*/KVM$')" -ge "$2" ]; then
			echo "$pid"
			cat /proc/"$pid"/task/*/comm | grep '^CPU' | sort
			return 0
		fi
		usleep 100000
		n=$((n + 1))
	done
	return 1
}

# The emulated CPU's wrong-IP fault: under TCG the x86 CPU has no NRIP-save, so KVM in this guest
# steps over instructions with its emulator, and now and then a micro-VM's vCPU resumes at a wrong
# IP (it then reports a stray "out"/"in", a triple fault or an exception at a wrong IP), whatever
# the workload: measured in 3 of 30 three-second hypercall-lock runs, 0 of 24 pause-lock runs,
# once in a CI run's pause-lock run, a few times in 4-minute validation suites. Hardware with
# NRIP-save does not take that path. A run that hits it is noted and repeated, three attempts at
# most; any other failure counts.
FAULT='unexpected vCPU exit|guest exception'
# rerun_on_fault STATUS FILE ARGS...: if the run that wrote FILE ended with STATUS because of the
# fault, runs axrt-vmload ARGS again (output to FILE) until it passes or three attempts are made.
# Returns the last status.
rerun_on_fault() {
	st=$1 f=$2 attempt=1
	shift 2
	while [ "$st" != 0 ] && [ $attempt -lt 3 ] && grep -qE "$FAULT" "$f"; do
		echo "vmload: attempt $attempt hit the emulated CPU's wrong-IP fault, repeated: $(grep -E "$FAULT" "$f" | head -1)"
		attempt=$((attempt + 1))
		axrt-vmload "$@" >"$f" 2>&1
		st=$?
	done
	return "$st"
}
# error_of STATUS FILE: nothing if STATUS is 0, else " (the tool's error line)", for a check's name.
error_of() { [ "$1" = 0 ] || echo " ($(grep axrt-vmload: "$2" | tail -1))"; }
