// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-vmload as a library: the workload generator's modules, so the binary (main.rs) and the
// validation suite (tools/axrt-validate, which reads the JSON reports) share one definition of
// the command line and the report format.

pub mod calibrate;
pub mod cgroup;
pub mod cli;
pub mod clock;
pub mod guest_code;
pub mod report;
pub mod stats;

#[cfg(target_arch = "x86_64")]
pub mod launcher;
#[cfg(target_arch = "x86_64")]
mod micro_vm;
#[cfg(target_arch = "x86_64")]
mod start_sync;
#[cfg(target_arch = "x86_64")]
mod stop;
#[cfg(target_arch = "x86_64")]
mod vcpu_thread;
#[cfg(target_arch = "x86_64")]
mod vm_process;
