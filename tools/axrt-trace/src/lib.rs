// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-trace as a library: the recorder's modules, so the binary (main.rs) and the tests share
// one definition of the summary, the trace format and the checks.

pub mod bpf_intf;
mod bpf_skel;
pub mod check;
pub mod decisions;
pub mod hist;
pub mod model;
pub mod perfetto;
#[cfg(any(test, feature = "perfetto-check"))]
pub mod perfetto_check;
pub mod probe;
pub mod record;
pub mod report;
pub mod states;
pub mod vms;
