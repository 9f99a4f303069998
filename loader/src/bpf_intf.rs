// SPDX-License-Identifier: GPL-2.0-only
//
// bpf_intf.rs - Rust bindings of ../bpf/intf.h (constants shared with the BPF tier), generated
// by bindgen in build.rs. The names are C's, hence the lint exceptions.
#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/bpf_intf.rs"));
