// SPDX-License-Identifier: GPL-2.0-only
//
// cli.rs - the scx_axrt binary as a user meets it, without loading anything into the kernel:
// a bad configuration is refused with its file, line and field and exit status 2; --check
// validates a good one; --strict refuses a VM whose cgroup is nowhere; and on a kernel without
// sched_ext the binary says so in one sentence and exits 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_scx_axrt");

/// A configuration file in a scratch directory, removed when dropped.
struct ConfigFile(PathBuf);

impl ConfigFile {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("scx_axrt-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        ConfigFile(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("cannot run scx_axrt")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_quota_without_a_period_exits_2_naming_file_line_and_field() {
    let cfg = ConfigFile::new(
        "quota.toml",
        "[defaults]\nslice_us = 5000\n\n[[vm]]\nname = \"a\"\ncgroup = \"a.scope\"\n\n\
         [[vm]]\nname = \"b\"\ncgroup = \"b.scope\"\nquota_us = 3000\n",
    );
    let file = cfg.path().display().to_string();
    let out = run(&["--config", &file]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(
        stderr(&out).trim_end(),
        format!(
            "scx_axrt: {file}:11: field 'vm[1].quota_us': vm \"b\": `quota_us` requires \
             `period_us`; nothing was loaded"
        )
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_keys_and_syntax_errors_exit_2() {
    let cfg = ConfigFile::new(
        "unknown.toml",
        "[[vm]]\nname = \"a\"\ncgroup = \"a\"\nprio = 3\n",
    );
    let file = cfg.path().display().to_string();
    let out = run(&["-c", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!(
            "scx_axrt: {file}:4: field 'vm[0].prio': unknown field `prio`"
        )),
        "{}",
        stderr(&out)
    );

    let cfg = ConfigFile::new("syntax.toml", "[defaults]\nreserve_ms = \n");
    let file = cfg.path().display().to_string();
    let out = run(&["-c", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!("scx_axrt: {file}:2: ")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn admission_refusal_names_the_vm_and_the_excess_and_exits_2() {
    // A budget of every CPU for the whole period is valid for one group but over the
    // admission bound of 0.95 x CPUs, by 0.05 x CPUs.
    // SAFETY: sysconf has no preconditions.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as u64;
    let cfg = ConfigFile::new(
        "admission.toml",
        &format!(
            "[[vm]]\nname = \"greedy\"\ncgroup = \"g\"\nquota_us = {}\nperiod_us = 1000\n",
            cpus * 1000
        ),
    );
    let out = run(&["-c", &cfg.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(":4: field 'vm[0].quota_us': vm \"greedy\" overflows CPUs"),
        "{err}"
    );
    let excess = cpus * 50_000;
    let want = format!(
        "(over by {}.{:06} CPU)",
        excess / 1_000_000,
        excess % 1_000_000
    );
    assert!(err.contains(&want), "{err} lacks {want}");
}

#[test]
fn a_missing_file_exits_2() {
    let out = run(&["-c", "/nonexistent/axrt.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("scx_axrt: /nonexistent/axrt.toml: cannot read"));
}

#[test]
fn check_accepts_a_good_configuration_without_loading() {
    let cfg = ConfigFile::new(
        "good.toml",
        "[defaults]\nreserve_ms = 500\n[[vm]]\nname = \"control\"\n\
         cgroup = \"nowhere.slice/vm-*.scope\"\npriority = 10\n\
         [[task]]\nvm = \"control\"\ncomm = \"/CPU \\\\d+/KVM/\"\npriority = 5\n",
    );
    let file = cfg.path().display().to_string();
    let out = run(&["--check", "-c", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("is valid") && text.contains("reserve 500 ms"),
        "{text}"
    );
    assert!(
        text.contains("vm control: priority 10, no budget"),
        "{text}"
    );
    // The glob matches nothing: a warning naming the field, not an error...
    assert!(
        stderr(&out).contains(&format!("{file}:5: field 'vm[0].cgroup'")),
        "{}",
        stderr(&out)
    );
    // ...unless --strict.
    let out = run(&["--check", "--strict", "-c", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with(&format!(
        "scx_axrt: {file}:5: field 'vm[0].cgroup': \"nowhere.slice/vm-*.scope\" matches no cgroup"
    )));
}

#[test]
fn without_sched_ext_the_refusal_is_one_sentence_and_exit_1() {
    if Path::new("/sys/kernel/sched_ext").exists() {
        eprintln!("skipped: this kernel has sched_ext (the test must not load a scheduler)");
        return;
    }
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "scx_axrt: this kernel has no sched_ext support (CONFIG_SCHED_CLASS_EXT); nothing was \
         loaded\n"
    );
}
