// SPDX-License-Identifier: GPL-2.0-only
//
// The VMs' cgroups: the suite creates one per VM before each run (so scx_axrt's configuration
// matches them from the start and cpu.max is in place before the first vCPU thread), and
// removes them after it. axrt-vmload keeps groups it did not create.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::scenario::Scenario;

/// Where cgroup v2 is mounted.
const MOUNT: &str = "/sys/fs/cgroup";

/// `root` relative to the cgroup2 mount, as scx_axrt's configuration names cgroups.
pub fn relative(root: &Path) -> Result<String, String> {
    root.strip_prefix(MOUNT)
        .ok()
        .map(|p| p.to_string_lossy().trim_matches('/').to_string())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            format!(
                "--cgroup-root {}: must be a directory under {MOUNT}",
                root.display()
            )
        })
}

/// Creates `root` if needed and enables the cpu controller from the mount down to it (as
/// axrt-vmload does). When `need_cpu` (cpu.max is used), a root whose children cannot get the
/// controller is an error.
pub fn prepare_root(root: &Path, need_cpu: bool) -> Result<()> {
    axrt_vmload::cgroup::prepare_root(root)?;
    let enabled = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
    if need_cpu && !enabled.split_whitespace().any(|c| c == "cpu") {
        bail!(
            "cgroup {}: the cpu controller cannot be enabled for its children (cpu.max mode)",
            root.display()
        );
    }
    Ok(())
}

/// The cgroups of one run's VMs; removed when dropped.
pub struct VmGroups {
    dirs: Vec<(String, PathBuf)>,
}

impl VmGroups {
    /// Creates `root/NAME` for every VM of `s`; a leftover empty group is recreated.
    pub fn create(root: &Path, s: &Scenario) -> Result<VmGroups> {
        let mut groups = VmGroups { dirs: Vec::new() };
        for vm in &s.vms {
            let dir = root.join(&vm.name);
            if dir.exists() {
                fs::remove_dir(&dir).with_context(|| {
                    format!(
                        "cgroup {} is left from an earlier run and busy",
                        dir.display()
                    )
                })?;
            }
            fs::create_dir(&dir).with_context(|| format!("creating cgroup {}", dir.display()))?;
            groups.dirs.push((vm.name.clone(), dir));
        }
        Ok(groups)
    }

    /// Writes `value` ("QUOTA PERIOD") to VM `name`'s cpu.max.
    pub fn set_cpu_max(&self, name: &str, value: &str) -> Result<()> {
        let (_, dir) = self
            .dirs
            .iter()
            .find(|(n, _)| n == name)
            .with_context(|| format!("no cgroup for VM {name}"))?;
        let file = dir.join("cpu.max");
        fs::write(&file, value).with_context(|| format!("writing '{value}' to {}", file.display()))
    }
}

impl Drop for VmGroups {
    fn drop(&mut self) {
        for (_, dir) in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_must_be_under_the_mount() {
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup/axrt-validate")).as_deref(),
            Ok("axrt-validate")
        );
        assert_eq!(
            relative(Path::new("/sys/fs/cgroup/a/b/")).as_deref(),
            Ok("a/b")
        );
        assert!(relative(Path::new("/sys/fs/cgroup")).is_err());
        assert!(relative(Path::new("/tmp/x")).is_err());
        assert!(relative(Path::new("/sys/fs/cgroupx/y")).is_err());
    }
}
