// SPDX-License-Identifier: GPL-2.0-only
//
// build.rs - builds the kernel tier for the loader: compiles ../bpf/axrt.bpf.c with the clang
// named by BPF_CLANG (default `clang`; use clang-19) into a BPF object, generates its libbpf-rs
// skeleton (OUT_DIR/bpf_skel.rs) and the bindgen bindings of ../bpf/intf.h (OUT_DIR/bpf_intf.rs).
// vmlinux.h and the scx headers come from the scx_cargo crate.

fn main() {
    // The BPF tier is axrt.bpf.c and the parts it includes.
    println!("cargo:rerun-if-changed=../bpf");
    let mut builder = scx_cargo::BpfBuilder::new()
        .unwrap_or_else(|e| panic!("scx_axrt: cannot set up the BPF build (BPF_CLANG?): {e:#}"));
    builder
        .enable_intf("../bpf/intf.h", "bpf_intf.rs")
        .enable_skel("../bpf/axrt.bpf.c", "bpf");
    if let Err(e) = builder.build() {
        panic!("scx_axrt: building ../bpf/axrt.bpf.c failed: {e:#}");
    }
}
