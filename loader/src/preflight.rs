// SPDX-License-Identifier: GPL-2.0-only
//
// preflight.rs - what scx_axrt checks before it loads anything: that the running kernel has
// sched_ext at all, and that no other sched_ext scheduler holds it.

//! Checks made before loading: sched_ext present and free.

use std::fmt;
use std::fs;
use std::path::Path;

/// Where the kernel publishes sched_ext's state (only with `CONFIG_SCHED_CLASS_EXT`).
pub const SYSFS_ROOT: &str = "/sys/kernel/sched_ext";

/// Why scx_axrt will not load. `Display` gives the one sentence shown to the user.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The kernel was built without `CONFIG_SCHED_CLASS_EXT`.
    NoSchedExt,
    /// sched_ext is not idle: `state` is its state file, `ops` the loaded scheduler's name.
    Busy {
        /// Contents of `state` (e.g. "enabled").
        state: String,
        /// Contents of `root/ops`, or "unknown" when it cannot be read.
        ops: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSchedExt => write!(
                f,
                "scx_axrt: this kernel has no sched_ext support (CONFIG_SCHED_CLASS_EXT); \
                 nothing was loaded"
            ),
            Refusal::Busy { state, ops } => write!(
                f,
                "scx_axrt: another sched_ext scheduler, \"{ops}\", is loaded (sched_ext state: \
                 {state}); stop it first; nothing was loaded"
            ),
        }
    }
}

/// Checks the sched_ext sysfs directory `root` (normally [`SYSFS_ROOT`]).
///
/// Ok when sched_ext exists and its state is `disabled`, i.e. no BPF scheduler is loaded.
pub fn check(root: &Path) -> Result<(), Refusal> {
    if !root.is_dir() {
        return Err(Refusal::NoSchedExt);
    }
    let state = read_trimmed(&root.join("state")).unwrap_or_else(|| "unknown".into());
    if state == "disabled" {
        return Ok(());
    }
    let ops = read_trimmed(&root.join("root/ops"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Err(Refusal::Busy { state, ops })
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch directory that is removed again when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("scx_axrt-preflight-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, rel: &str, contents: &str) {
            let path = self.0.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, contents).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn missing_sysfs_means_no_sched_ext() {
        let dir = Scratch::new("missing");
        let err = check(&dir.0.join("sched_ext")).unwrap_err();
        assert_eq!(err, Refusal::NoSchedExt);
        assert_eq!(
            err.to_string(),
            "scx_axrt: this kernel has no sched_ext support (CONFIG_SCHED_CLASS_EXT); \
             nothing was loaded"
        );
    }

    #[test]
    fn disabled_state_is_free() {
        let dir = Scratch::new("free");
        dir.write("state", "disabled\n");
        assert_eq!(check(&dir.0), Ok(()));
    }

    #[test]
    fn enabled_state_names_the_other_scheduler() {
        let dir = Scratch::new("busy");
        dir.write("state", "enabled\n");
        dir.write("root/ops", "simple\n");
        let err = check(&dir.0).unwrap_err();
        assert_eq!(
            err,
            Refusal::Busy {
                state: "enabled".into(),
                ops: "simple".into()
            }
        );
        assert!(err.to_string().contains("\"simple\""));
    }

    #[test]
    fn unreadable_ops_name_is_unknown() {
        let dir = Scratch::new("noops");
        dir.write("state", "disabling\n");
        let err = check(&dir.0).unwrap_err();
        assert_eq!(
            err,
            Refusal::Busy {
                state: "disabling".into(),
                ops: "unknown".into()
            }
        );
    }
}
