# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (b): per-VM budgets. One VM cgroup has cpu.max "30000 100000" (30% of a CPU, no
# configuration), another gets 20% from the configuration file; both run more hog threads than
# their budget allows while a third hog group competes at the same priority. Over many periods
# each must receive its share within +-2% of one CPU, and its throttles must be counted. The
# figures and checks are axrt-check budgets' (tools/axrt-check/src/budgets.rs).
. ./lib.sh

secs=${BUDGET_SECONDS:-10}
cg_make axrt-budget/capped "30000 100000"
cg_make axrt-budget/budgeted
cg_make axrt-budget/hog
cat >/tmp/budget.toml <<'TOML'
[[vm]]
name = "budgeted"
cgroup = "axrt-budget/budgeted"
quota_us = 20000
period_us = 100000
overrun = "throttle"

[[vm]]
name = "hog"
cgroup = "axrt-budget/hog"
TOML

BUDGET_CGROUPS="axrt-budget/capped axrt-budget/budgeted axrt-budget/hog"

start_hogs() {
	for g in capped budgeted hog; do
		cg_spawn axrt-budget/$g stress-ng --cpu 2 --cpu-method loop --timeout 600s --quiet
	done
}
stop_hogs() {
	for g in capped budgeted hog; do cg_kill axrt-budget/$g; done
}

# Reference: the default scheduler honours cpu.max (the "budgeted" VM has no budget there).
start_hogs
cg_snapshot /tmp/budget-default-0.json $BUDGET_CGROUPS
sleep "$secs" # the measurement window
cg_snapshot /tmp/budget-default-1.json $BUDGET_CGROUPS
stop_hogs

scx_start_checked "scx_axrt starts with the budget config" --config /tmp/budget.toml --stats 1 --json || exit 0
start_hogs
sleep 1 # let every group reach its steady state (one full second = 10 periods)
cg_snapshot /tmp/budget-0.json $BUDGET_CGROUPS
sleep "$secs" # the measurement window
cg_snapshot /tmp/budget-1.json $BUDGET_CGROUPS
stop_hogs
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-budgets.log"

# The shares, the budgets' tolerance and the throttles (scx_axrt's own per-interval counts) are
# axrt-check's. A cgroup whose budget comes only from cpu.max is reported as "cgroup:<id>" (its
# inode).
: >"$AXRT_OUT/budgets.txt"
axrt-check budgets --notes "$AXRT_OUT/budgets.txt" \
	--default-window /tmp/budget-default-0.json /tmp/budget-default-1.json \
	--window /tmp/budget-0.json /tmp/budget-1.json --stats "$AXRT_OUT/scx_axrt-budgets.log" \
	--capped-group "cgroup:$(stat -c %i $CG/axrt-budget/capped)"
