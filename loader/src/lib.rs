// SPDX-License-Identifier: GPL-2.0-only
//
// lib.rs - scx_axrt as a library, for tools that read the same configuration file (e.g.
// arceos/axvisor-config, which turns a validated axrt.toml into AxVisor VM entries): the one
// definition of axrt.toml, `config`, and the command-line limits it checks against. The
// scheduler itself is the binary (main.rs).

//! The configuration file of `scx_axrt` (`axrt.toml`), as a library.

mod bpf_intf;
// The command line itself is the binary's; the library needs only the limits it defines.
#[allow(dead_code)]
mod cli;
pub mod config;
