# SPDX-License-Identifier: GPL-2.0-only
#
# Issue 4 (f): bad configurations are refused with a message naming file, line and field, exit
# code 2, and nothing is loaded — checked in a real sched_ext kernel, where loading would work.
. ./lib.sh

seq0=$(cat /sys/kernel/sched_ext/enable_seq)

# refuse NAME LINE WORD: the config in /tmp/NAME.toml must be refused with exit 2 and a message
# "/tmp/NAME.toml:LINE: ..." that mentions WORD.
refuse() {
	scx_axrt --config "/tmp/$1.toml" >"/tmp/$1.out" 2>&1
	status=$?
	cp "/tmp/$1.out" "$AXRT_OUT/bad-$1.txt"
	check "config '$1' is refused with exit 2 (got $status)" test "$status" = 2
	check "config '$1': the message names /tmp/$1.toml:$2 and '$3'" \
		sh -c "grep -F '/tmp/$1.toml:$2' /tmp/$1.out | grep -qF '$3'"
	check_eq "config '$1': nothing was loaded" disabled "$(cat $SCX_STATE)"
}

printf '[[vm]]\nname = "a"\ncgroup = "a"\nprioriti = 5\n' >/tmp/unknown-key.toml
refuse unknown-key 4 prioriti
printf '[[vm]]\nname = "a"\ncgroup = "a"\npriority = 300\n' >/tmp/priority-range.toml
refuse priority-range 4 priority
printf '[defaults]\nslice_us = 5000\n\n[[vm]]\nname = "a"\ncgroup = "a"\nquota_us = 3000\n' >/tmp/quota-no-period.toml
refuse quota-no-period 7 quota_us
printf '[[vm]]\nname = "a"\ncgroup = "a"\n\n[[task]]\nvm = "nope"\ncomm = "x"\n' >/tmp/unknown-vm.toml
refuse unknown-vm 6 vm
printf '[[vm]]\nname = "big1"\ncgroup = "a"\nquota_us = 100000\nperiod_us = 100000\n\n[[vm]]\nname = "big2"\ncgroup = "b"\nquota_us = 100000\nperiod_us = 100000\n' >/tmp/admission.toml
refuse admission 10 big2
printf '[[vm]\nname = "a"\n' >/tmp/syntax.toml
refuse syntax 1 ']'

check_eq "the kernel saw no scheduler enable during all of this" "$seq0" "$(cat /sys/kernel/sched_ext/enable_seq)"
