# SPDX-License-Identifier: GPL-2.0-only
#
# Boot test, every architecture: the guest has what every later test stands on — sched_ext,
# KVM, the mounted kernel filesystems and working workload tools.
. ./lib.sh

check "sched_ext is present (/sys/kernel/sched_ext)" test -d /sys/kernel/sched_ext
check_eq "no sched_ext scheduler is loaded at boot" disabled "$(cat $SCX_STATE 2>&1)"
check "kernel built with CONFIG_SCHED_CLASS_EXT=y" grep -qx CONFIG_SCHED_CLASS_EXT=y /etc/axrt/kernel-config
check "kernel built with CONFIG_EXT_GROUP_SCHED=y" grep -qx CONFIG_EXT_GROUP_SCHED=y /etc/axrt/kernel-config
check "/dev/kvm is a character device" test -c /dev/kvm
for fs in proc sysfs devtmpfs debugfs tracefs bpf cgroup2; do
	check "$fs is mounted" grep -q " $fs " /proc/mounts
done
check "cgroup2 offers the cpu controller" grep -qw cpu /sys/fs/cgroup/cgroup.controllers
check "stress-ng runs" timeout 60 stress-ng --cpu 1 --cpu-ops 200 --quiet
check "cyclictest runs" timeout 60 cyclictest --quiet --loops 100 --interval 1000 --threads 1
cat >/tmp/rt-app.json <<'JSON'
{ "tasks": { "periodic": { "loop": 20, "run": 1000, "timer": { "ref": "t", "period": 5000 } } },
  "global": { "calibration": 100, "default_policy": "SCHED_OTHER", "logdir": "/tmp",
              "lock_pages": false, "duration": 2 } }
JSON
check "rt-app runs" timeout 60 rt-app /tmp/rt-app.json
