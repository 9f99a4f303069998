// SPDX-License-Identifier: GPL-2.0-only
//
// cgroup v2 placement: the parent prepares the root (created if missing, +cpu enabled on the
// way down where the kernel allows it); each VM process creates its own child group and moves
// itself in before it creates any vCPU thread, so every vCPU thread is born inside it.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Creates `root` if needed and enables the cpu controller in its ancestors' and its own
/// cgroup.subtree_control where possible. Returns whether it created `root`.
pub fn prepare_root(root: &Path) -> Result<bool> {
    let created = !root.exists();
    if created {
        fs::create_dir_all(root)
            .with_context(|| format!("cgroup {}: cannot create", root.display()))?;
    }
    if !root.join("cgroup.procs").exists() {
        bail!(
            "{} is not a cgroup v2 directory (no cgroup.procs)",
            root.display()
        );
    }
    // Ancestors that are cgroups, from the top down, then the root itself. A level with
    // processes of its own refuses (EBUSY); the VMs still get their groups, without +cpu.
    let mut levels: Vec<&Path> = root
        .ancestors()
        .skip(1)
        .take_while(|p| p.join("cgroup.controllers").exists())
        .collect();
    levels.reverse();
    levels.push(root);
    for level in levels {
        let _ = fs::write(level.join("cgroup.subtree_control"), "+cpu");
    }
    Ok(created)
}

/// Creates (if needed) the VM's group `root/name` and moves the calling process into it.
pub fn join(root: &Path, name: &str) -> Result<PathBuf> {
    let group = root.join(name);
    match fs::create_dir(&group) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        Err(e) => bail!("cgroup {}: cannot create: {e}", group.display()),
    }
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    fs::write(group.join("cgroup.procs"), pid.to_string())
        .with_context(|| format!("cgroup {}: cannot move pid {pid} in", group.display()))?;
    Ok(group)
}

/// Removes a cgroup directory the run created, if it is empty by now (best effort).
pub fn remove(group: &Path) {
    let _ = fs::remove_dir(group);
}
