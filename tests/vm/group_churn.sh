# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (cgroup lifecycle): VMs come and go. One [[vm]] glob matches every cgroup below
# axrt-churn/; more of them than the BPF tier has group slots (127) are created, get a running
# task (which takes a slot), and are removed again, one after another. The slot of a removed
# cgroup must be freed, or the BPF tier runs out of slots and exits with an error.
. ./lib.sh

vms=${CHURN_VMS:-160}
cg_make axrt-churn
cat >/tmp/churn.toml <<'TOML'
[[vm]]
name = "churn"
cgroup = "axrt-churn/*"
priority = 50
TOML

scx_start_checked "scx_axrt starts with a VM glob for the churn test" --config /tmp/churn.toml --rescan-ms 50 || exit 0
i=0
while [ $i -lt "$vms" ]; do
	cg_make axrt-churn/vm$i
	cg_spawn axrt-churn/vm$i stress-ng --cpu 1 --cpu-method loop --timeout 10s --quiet
	usleep 120000 # the task runs, resolves its group and holds a slot (rescans every 50 ms)
	cg_kill axrt-churn/vm$i
	rmdir $CG/axrt-churn/vm$i
	kill -0 "$SCX_PID" 2>/dev/null || break
	i=$((i + 1))
done
check_eq "VM cgroups came and went (more than the 127 group slots)" "$vms" "$i"
check_eq "scx_axrt stayed loaded through the churn" enabled "$(cat $SCX_STATE)"
check "scx_axrt is still running after the churn" kill -0 "$SCX_PID"
scx_stop INT
check "scx_axrt exits 0 after the churn" test $? = 0
cp $SCX_LOG "$AXRT_OUT/scx_axrt-churn.log"
