// SPDX-License-Identifier: GPL-2.0-only
//
// The parent process: checks /dev/kvm, calibrates, prepares the cgroup root, forks one process
// per VM (each reports back through a pipe as JSON), forwards SIGINT/SIGTERM to them, and
// gathers their reports into one RunReport. It creates no thread before the last fork.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::thread;

use anyhow::{bail, Result};

use crate::calibrate;
use crate::cgroup;
use crate::cli::RunPlan;
use crate::guest_code::hypercall_byte;
use crate::micro_vm::cpu_vendor;
use crate::report::{ChildMessage, RunReport};
use crate::start_sync::{pipe, StartSync};
use crate::stop;
use crate::vm_process::{self, Shared, START_DELAY_NS};

struct Child {
    name: String,
    pid: libc::pid_t,
    output: thread::JoinHandle<String>,
    status: Option<i32>,
}

/// The body of a forked VM process: run the VM, send the message, exit without unwinding.
fn child_main(index: usize, shared: &Shared, out: OwnedFd) -> ! {
    let vm = &shared.plan.vms[index];
    let message = match vm_process::run_vm(vm, shared) {
        Ok(report) => ChildMessage::Done(report),
        Err(e) => ChildMessage::Failed(format!("VM {}: {e:#}", vm.name)),
    };
    let failed = matches!(message, ChildMessage::Failed(_));
    let mut f = File::from(out);
    let json = serde_json::to_string(&message).unwrap_or_default();
    let ok = f.write_all(json.as_bytes()).is_ok();
    drop(f);
    // SAFETY: _exit ends the child at once, without running the parent's exit handlers twice.
    unsafe { libc::_exit(if ok && !failed { 0 } else { 1 }) }
}

/// Runs the whole plan; an Err is a failure before any VM ran.
pub fn run(plan: &RunPlan) -> Result<RunReport> {
    if !Path::new("/dev/kvm").exists() {
        bail!("/dev/kvm does not exist (KVM not available on this host)");
    }
    stop::block_term_signals();
    let calibration = calibrate::measure()?;
    let vendor = cpu_vendor();
    let shared = Shared {
        plan,
        calibration,
        hypercall_byte: hypercall_byte(&vendor),
        start: StartSync::new()?,
    };
    let mut made_groups: Vec<PathBuf> = Vec::new();
    let root_created = match &plan.cgroup_root {
        Some(root) => {
            let created = cgroup::prepare_root(root)?;
            made_groups.extend(
                plan.vms
                    .iter()
                    .map(|vm| root.join(&vm.name))
                    .filter(|g| !g.exists()),
            );
            created
        }
        None => false,
    };

    let mut pending = Vec::new();
    for (i, vm) in plan.vms.iter().enumerate() {
        let (rx, tx) = pipe()?;
        // SAFETY: the process is single-threaded here (no thread is made before the last fork).
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            bail!("fork: {}", std::io::Error::last_os_error());
        }
        if pid == 0 {
            drop(rx);
            child_main(i, &shared, tx);
        }
        drop(tx);
        pending.push((vm.name.clone(), pid, rx));
    }
    shared.start.release(plan.vms.len(), START_DELAY_NS);
    let mut children: Vec<Child> = pending
        .into_iter()
        .map(|(name, pid, rx)| Child {
            name,
            pid,
            output: thread::spawn(move || {
                let mut s = String::new();
                let _ = File::from(rx).read_to_string(&mut s);
                s
            }),
            status: None,
        })
        .collect();

    // Reap the VM processes; a SIGINT/SIGTERM to the parent is passed on to each of them.
    while children.iter().any(|c| c.status.is_none()) {
        if stop::wait_term_signal(20_000_000).is_some() {
            for c in children.iter().filter(|c| c.status.is_none()) {
                // SAFETY: our own unreaped child.
                unsafe { libc::kill(c.pid, libc::SIGTERM) };
            }
        }
        for c in children.iter_mut().filter(|c| c.status.is_none()) {
            let mut status = 0;
            // SAFETY: our own child; status is a valid int.
            if unsafe { libc::waitpid(c.pid, &mut status, libc::WNOHANG) } == c.pid {
                c.status = Some(status);
            }
        }
    }

    let mut report = RunReport {
        tool: "axrt-vmload".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        duration_s: plan.duration.as_secs_f64(),
        yield_mode: plan.yield_mode.to_string(),
        hypercall_insn: if shared.hypercall_byte == 0xD9 {
            "vmmcall"
        } else {
            "vmcall"
        }
        .into(),
        calibration,
        vms: Vec::new(),
        errors: Vec::new(),
    };
    for c in children {
        let text = c.output.join().unwrap_or_default();
        match serde_json::from_str::<ChildMessage>(&text) {
            Ok(ChildMessage::Done(vm)) => report.vms.push(vm),
            Ok(ChildMessage::Failed(e)) => report.errors.push(e),
            Err(_) => report.errors.push(format!(
                "VM {}: ended without results ({})",
                c.name,
                describe_status(c.status)
            )),
        }
    }
    for g in made_groups {
        cgroup::remove(&g);
    }
    if let (true, Some(root)) = (root_created, &plan.cgroup_root) {
        cgroup::remove(root);
    }
    Ok(report)
}

fn describe_status(status: Option<i32>) -> String {
    match status {
        Some(s) if libc::WIFSIGNALED(s) => format!("killed by signal {}", libc::WTERMSIG(s)),
        Some(s) if libc::WIFEXITED(s) => format!("exit status {}", libc::WEXITSTATUS(s)),
        _ => "unknown status".into(),
    }
}
