// SPDX-License-Identifier: GPL-2.0-only
//
// exit.rs - how one run of the BPF scheduler ended. The BPF tier's ops.exit() copies the
// kernel's exit record into its `uei` variable (UEI_RECORD); this module turns that record into
// one readable line, a process exit status, and the restart decision.

//! The end of a run: reason, message, exit status, restart request.

use std::ffi::{c_char, CStr};

use scx_utils::ScxExitKind;

/// What the kernel reported when the scheduler stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// `enum scx_exit_kind`; 0 if nothing was recorded.
    pub kind: i32,
    /// The kernel's reason text, e.g. "unregistered from user space".
    pub reason: String,
    /// The detail message, e.g. which task stalled; may be empty.
    pub msg: String,
    /// CPU the exit was triggered on, if the kernel said.
    pub exit_cpu: Option<i32>,
    /// The exit code of a graceful (BPF- or kernel-initiated) unregistration.
    pub exit_code: Option<i64>,
    /// The kernel asked for the scheduler to be loaded again (e.g. after CPU hotplug).
    pub restart: bool,
    /// The kernel's debug dump (error exits), if any.
    pub dump: Option<String>,
}

impl ExitInfo {
    /// True if nothing has been recorded yet (the scheduler has not exited).
    pub fn is_empty(&self) -> bool {
        self.kind == ScxExitKind::None as i32
    }

    /// True for an error exit (runtime error, `scx_bpf_error()`, watchdog stall).
    pub fn is_error(&self) -> bool {
        self.kind >= ScxExitKind::Error as i32
    }

    /// The exit described in one line, without a program prefix.
    pub fn describe(&self) -> String {
        let mut line = if self.reason.is_empty() {
            format!("unknown reason (exit kind {})", self.kind)
        } else {
            self.reason.clone()
        };
        if !self.msg.is_empty() {
            line.push_str(": ");
            line.push_str(&self.msg);
        }
        if self.is_error() {
            if let Some(cpu) = self.exit_cpu {
                line.push_str(&format!(" (on CPU {cpu})"));
            }
        }
        line
    }

    /// Process exit status for this end of the run.
    ///
    /// 0 when user space asked for it (SIGINT/SIGTERM detached the scheduler) or the BPF tier
    /// exited cleanly with code 0; 1 for anything the kernel initiated (an error, the
    /// watchdog, sysrq-S, a kernel unregistration) and for a non-zero BPF exit code.
    pub fn status(&self) -> u8 {
        let kind = self.kind;
        if kind == ScxExitKind::Unreg as i32 {
            0
        } else if kind == ScxExitKind::UnregBPF as i32 {
            // Only the low 32 bits are the scheduler's own code; the rest are kernel flags.
            let user = self.exit_code.unwrap_or(0) & 0xffff_ffff;
            u8::from(user != 0)
        } else {
            1
        }
    }
}

/// Copies a NUL-terminated C string out of a fixed-size byte array.
pub fn c_array_to_string(bytes: &[c_char]) -> String {
    let raw: Vec<u8> = bytes
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&raw).into_owned()
}

/// Reads a NUL-terminated C string at `ptr`, or `None` if `ptr` is null or the string empty.
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that stays valid during the call.
pub unsafe fn c_ptr_to_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: guaranteed by the caller.
    let s = unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kind: ScxExitKind, reason: &str, msg: &str) -> ExitInfo {
        ExitInfo {
            kind: kind as i32,
            reason: reason.into(),
            msg: msg.into(),
            exit_cpu: Some(1),
            exit_code: None,
            restart: false,
            dump: None,
        }
    }

    #[test]
    fn user_unregistration_is_success() {
        let i = info(ScxExitKind::Unreg, "unregistered from user space", "");
        assert_eq!(i.describe(), "unregistered from user space");
        assert_eq!(i.status(), 0);
        assert!(!i.is_error());
        assert!(!i.is_empty());
    }

    #[test]
    fn watchdog_stall_is_a_failure_with_its_message() {
        let i = info(
            ScxExitKind::ErrorStall,
            "runnable task stall",
            "kworker/0:1[12] failed to run for 5.120s",
        );
        assert_eq!(
            i.describe(),
            "runnable task stall: kworker/0:1[12] failed to run for 5.120s (on CPU 1)"
        );
        assert_eq!(i.status(), 1);
        assert!(i.is_error());
    }

    #[test]
    fn kernel_initiated_exits_fail() {
        for kind in [
            ScxExitKind::UnregKern,
            ScxExitKind::SysRq,
            ScxExitKind::Error,
        ] {
            assert_eq!(info(kind, "x", "").status(), 1);
        }
    }

    #[test]
    fn bpf_exit_uses_the_user_code() {
        let mut i = info(ScxExitKind::UnregBPF, "unregistered from BPF", "");
        i.exit_code = Some(0);
        assert_eq!(i.status(), 0);
        i.exit_code = Some(3);
        assert_eq!(i.status(), 1);
        i.exit_code = Some(1 << 48); // a kernel action bit only
        assert_eq!(i.status(), 0);
    }

    #[test]
    fn missing_reason_is_named() {
        let i = info(ScxExitKind::None, "", "");
        assert!(i.is_empty());
        assert_eq!(i.describe(), "unknown reason (exit kind 0)");
    }

    #[test]
    fn c_strings_are_cut_at_nul() {
        let raw: Vec<c_char> = b"stall\0junk".iter().map(|&b| b as c_char).collect();
        assert_eq!(c_array_to_string(&raw), "stall");
        let full: Vec<c_char> = b"abc".iter().map(|&b| b as c_char).collect();
        assert_eq!(c_array_to_string(&full), "abc");
        assert_eq!(unsafe { c_ptr_to_string(std::ptr::null()) }, None);
    }
}
