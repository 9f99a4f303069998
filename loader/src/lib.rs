// SPDX-License-Identifier: GPL-2.0-only
//
// lib.rs - the parts of scx_axrt that other tools use as a library: the configuration file
// (axrt.toml), so that a tool reading the same file (axrt-sim) applies the loader's own parser
// and rules instead of a second one. The binary (main.rs) uses this module from here.

//! The `axrt.toml` configuration of scx_axrt, as a library.

pub mod config;
