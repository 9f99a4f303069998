# SPDX-License-Identifier: GPL-2.0-only
#
# scx_axrt's life cycle in a real sched_ext kernel: it loads and becomes the system's scheduler,
# schedules a stress-ng mix for several seconds with no stall, refuses to load twice, and leaves
# the system on its default scheduler when stopped by SIGINT or SIGTERM.
. ./lib.sh

ops_file=/sys/kernel/sched_ext/root/ops
enable_seq=$(cat /sys/kernel/sched_ext/enable_seq)
check_eq "sched_ext is disabled before the test" disabled "$(cat $SCX_STATE)"

if ! scx_start; then
	fail "scx_axrt reports that it is active" "$(tail -5 $SCX_LOG | tr '\n' ' ')"
	exit 0
fi
pass "scx_axrt reports that it is active"
check_eq "sched_ext state is enabled" enabled "$(cat $SCX_STATE)"
check_eq "the loaded scheduler is axrt" axrt "$(cat $ops_file 2>&1)"
check_eq "the kernel counted one more enable" $((enable_seq + 1)) "$(cat /sys/kernel/sched_ext/enable_seq)"

# A second instance must refuse and leave the first one in place.
scx_axrt >/tmp/second.log 2>&1
second=$?
check "a second scx_axrt refuses to load (exit 1)" test "$second" = 1
check "the refusal names the loaded scheduler" grep -q axrt /tmp/second.log
check_eq "the first instance is still the scheduler" enabled "$(cat $SCX_STATE)"

# Several seconds of mixed load: CPU hogs, context switches, yields, forks, timers.
dmesg -c >/dev/null
timeout 120 stress-ng --cpu 4 --switch 2 --yield 2 --fork 1 --timer 1 --timeout 8s --metrics-brief \
	>/tmp/stress.log 2>&1
stress=$?
check "stress-ng mix ran 8 s under scx_axrt (exit 0)" test "$stress" = 0
check "scx_axrt is still running after the load" kill -0 "$SCX_PID"
check_eq "sched_ext is still enabled after the load" enabled "$(cat $SCX_STATE)"
if dmesg | grep -iE 'sched_ext.*(stall|error|disabl)|runnable task stall' >/tmp/stall.log; then
	fail "the kernel reported no stall or error" "$(head -3 /tmp/stall.log | tr '\n' ' ')"
else
	pass "the kernel reported no stall or error"
fi
cp /tmp/stress.log "$AXRT_OUT/stress-ng.log"

# SIGINT: clean exit, reason printed, default scheduler back.
scx_stop INT
check "scx_axrt exits 0 on SIGINT" test $? = 0
check "scx_axrt prints why it exited" grep -q '^scx_axrt: exited: ' $SCX_LOG
check "sched_ext returns to disabled after SIGINT" wait_state disabled 10
cp $SCX_LOG "$AXRT_OUT/scx_axrt-sigint.log"

# SIGTERM: the same.
if scx_start; then
	check_eq "scx_axrt loads again after an unload" axrt "$(cat $ops_file 2>&1)"
	scx_stop TERM
	check "scx_axrt exits 0 on SIGTERM" test $? = 0
	check "sched_ext returns to disabled after SIGTERM" wait_state disabled 10
else
	fail "scx_axrt loads again after an unload" "$(tail -5 $SCX_LOG | tr '\n' ' ')"
fi
check "tasks run on the default scheduler afterwards" timeout 60 stress-ng --cpu 2 --cpu-ops 500 --quiet
