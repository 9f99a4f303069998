// SPDX-License-Identifier: GPL-2.0-only
//
// build.rs - builds axrt-trace's BPF programs: compiles src/bpf/trace.bpf.c with the clang named
// by BPF_CLANG (default `clang`; use clang-19), generates its libbpf-rs skeleton
// (OUT_DIR/trace_skel.rs) and the bindgen bindings of src/bpf/intf.h (OUT_DIR/trace_intf.rs).
// vmlinux.h comes from the scx_cargo crate, as for the loader.

fn main() {
    println!("cargo:rerun-if-changed=src/bpf");
    let mut builder = scx_cargo::BpfBuilder::new()
        .unwrap_or_else(|e| panic!("axrt-trace: cannot set up the BPF build (BPF_CLANG?): {e:#}"));
    builder
        .enable_intf("src/bpf/intf.h", "trace_intf.rs")
        .enable_skel("src/bpf/trace.bpf.c", "trace");
    if let Err(e) = builder.build() {
        panic!("axrt-trace: building src/bpf/trace.bpf.c failed: {e:#}");
    }
}
