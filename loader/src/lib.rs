// SPDX-License-Identifier: GPL-2.0-only
//
// lib.rs - scx_axrt's modules as a library: the binary (main.rs) is built from them, and the
// project's tools use the ones they share with it (the configuration file's parser, the
// statistics reports) rather than defining them again.

//! The user-space tier of the AxRT sched_ext scheduler, as a library.

// intf.h's lists of counters and event kinds as macros (build.rs), for the modules below.
include!(concat!(env!("OUT_DIR"), "/intf_lists.rs"));

pub mod bpf_intf;
pub mod bpf_skel;
pub mod cgroupfs;
pub mod cli;
pub mod config;
pub mod counters;
pub mod discovery;
pub mod event_tap;
pub mod events;
pub mod exit;
pub mod logger;
pub mod maps;
pub mod preflight;
pub mod sched;
pub mod stats;
