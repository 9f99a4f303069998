// SPDX-License-Identifier: GPL-2.0-only
//
// build.rs - builds the kernel tier for the loader: compiles ../bpf/axrt.bpf.c with the clang
// named by BPF_CLANG (default `clang`; use clang-19) into a BPF object, generates its libbpf-rs
// skeleton (OUT_DIR/bpf_skel.rs) and the bindgen bindings of ../bpf/intf.h (OUT_DIR/bpf_intf.rs).
// vmlinux.h and the scx headers come from the scx_cargo crate.

fn main() {
    // The BPF tier is axrt.bpf.c and the parts it includes.
    println!("cargo:rerun-if-changed=../bpf");
    println!("cargo:rerun-if-env-changed=BPF_CLANG");
    // Debian installs clang 19 as clang-19 (scripts/setup): use it when BPF_CLANG names none
    // and there is no plain clang, rather than failing on a missing `clang`.
    if std::env::var_os("BPF_CLANG").is_none() && !on_path("clang") && on_path("clang-19") {
        std::env::set_var("BPF_CLANG", "clang-19");
    }
    let mut builder = scx_cargo::BpfBuilder::new()
        .unwrap_or_else(|e| panic!("scx_axrt: cannot set up the BPF build (BPF_CLANG?): {e:#}"));
    builder
        .enable_intf("../bpf/intf.h", "bpf_intf.rs")
        .enable_skel("../bpf/axrt.bpf.c", "bpf");
    if let Err(e) = builder.build() {
        panic!("scx_axrt: building ../bpf/axrt.bpf.c failed: {e:#}");
    }
}

/// Whether an executable `name` is on PATH.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| dir.join(name).is_file())
    })
}
