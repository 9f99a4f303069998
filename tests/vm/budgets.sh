# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (b): per-VM budgets. One VM cgroup has cpu.max "30000 100000" (30% of a CPU, no
# configuration), another gets 20% from the configuration file; both run more hog threads than
# their budget allows while a third hog group competes at the same priority. Over many periods
# each must receive its share within +-2% of one CPU, and its throttles must be counted.
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

# window SECONDS: prints "capped budgeted hog" CPU shares in % of one CPU over the window.
window() {
	cg_shares "$1" axrt-budget/capped axrt-budget/budgeted axrt-budget/hog
}

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
set -- $(window "$secs")
echo "budgets: default scheduler: capped $1%, budgeted(no budget there) $2%, hog $3%" | tee "$AXRT_OUT/budgets.txt"
stop_hogs

scx_start_checked "scx_axrt starts with the budget config" --config /tmp/budget.toml --stats 1 --json || exit 0
start_hogs
window 1 >/dev/null # let every group reach its steady state (one full second = 10 periods)
set -- $(window "$secs")
capped=$1 budgeted=$2 hog=$3
stop_hogs
scx_stop INT
cp $SCX_LOG "$AXRT_OUT/scx_axrt-budgets.log"
echo "budgets: scx_axrt: capped $capped% (cpu.max 30%), budgeted $budgeted% (config 20%), hog $hog%" | tee -a "$AXRT_OUT/budgets.txt"

check "cpu.max 30000/100000 VM gets 30% +-2% of a CPU under scx_axrt (got $capped%)" within "$capped" 30 2
check "config-budgeted VM gets 20% +-2% of a CPU under scx_axrt (got $budgeted%)" within "$budgeted" 20 2
check "the competing unbudgeted hog group gets more than both budgeted VMs together (got $hog%)" \
	awk -v h="$hog" -v c="$capped" -v b="$budgeted" 'BEGIN { exit !(h > c + b) }'

# Throttles, from scx_axrt's own JSON statistics (one object per line, per-interval counts).
throttles() {
	interval_reports $SCX_LOG | jq -s --arg n "$1" '[.[].groups[] | select(.name == $n) | .throttles] | add // 0'
}
periods=$((secs * 10))
# A cgroup whose budget comes only from cpu.max is reported as "cgroup:<id>" (its inode).
t_capped=$(throttles "cgroup:$(stat -c %i $CG/axrt-budget/capped)")
t_budgeted=$(throttles budgeted)
echo "budgets: throttles over ~$((periods + 10)) periods: capped $t_capped, budgeted $t_budgeted" | tee -a "$AXRT_OUT/budgets.txt"
check "throttles of the cpu.max VM are counted (>= one per two periods, got $t_capped)" test "$t_capped" -ge $((periods / 2))
check "throttles of the configured VM are counted (>= one per two periods, got $t_budgeted)" test "$t_budgeted" -ge $((periods / 2))
