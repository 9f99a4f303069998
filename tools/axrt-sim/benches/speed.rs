// SPDX-License-Identifier: GPL-2.0-only
//
// Speed of the simulator: simulated scheduler events (wake, block, yield, tick calls) per
// second of host time, on generated periodic workloads of N tasks on M CPUs at 80 % load, under
// the AxRT system and under round robin (one pluggable policy per CPU).

fn main() {}
