// SPDX-License-Identifier: GPL-2.0-only
//
// A common start for all VMs of a run. Creating a micro-VM is slow (much slower under nested
// emulation) and is kernel work; if each VM started its workload as soon as it was built, the
// first VMs' jobs would run next to the later VMs' construction. So every VM process reports
// "ready" once its vCPU threads exist, and the parent, once all are ready (or gone), sends them
// one start time. Two pipes: "ready" (children to parent, one byte each) and "go" (parent to
// children, the start time as 8 bytes per child).

use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};

use anyhow::{bail, Result};

use crate::clock::now_ns;

/// The two pipes, created by the parent before it forks.
pub struct StartSync {
    ready: [RawFd; 2],
    go: [RawFd; 2],
}

/// A close-on-exec pipe: (read end, write end). Also the VM processes' report channel.
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        bail!("pipe: {}", std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A pipe as raw descriptors, which each side closes selectively (see `StartSync`).
fn raw_pipe() -> Result<[RawFd; 2]> {
    let (r, w) = pipe()?;
    Ok([r.into_raw_fd(), w.into_raw_fd()])
}

fn close(fd: RawFd) {
    // SAFETY: closing a descriptor this struct created; it is not used afterwards on this side.
    unsafe { libc::close(fd) };
}

impl StartSync {
    /// Creates the pipes.
    pub fn new() -> Result<StartSync> {
        Ok(StartSync {
            ready: raw_pipe()?,
            go: raw_pipe()?,
        })
    }

    /// In a VM process: says it is ready (closing its end, so a VM that fails before this
    /// point never holds the parent up), then waits for the common start time.
    pub fn ready_then_wait(&self) -> Result<u64> {
        // SAFETY: writing one byte from a valid buffer to our pipe's write end.
        let wrote = unsafe { libc::write(self.ready[1], [1u8].as_ptr().cast(), 1) };
        close(self.ready[1]);
        if wrote != 1 {
            bail!("start sync: {}", std::io::Error::last_os_error());
        }
        let mut buf = [0u8; 8];
        let mut got = 0;
        while got < buf.len() {
            // SAFETY: reading into the unfilled tail of a valid buffer.
            let n =
                unsafe { libc::read(self.go[0], buf[got..].as_mut_ptr().cast(), buf.len() - got) };
            match n {
                n if n > 0 => got += n as usize,
                0 => bail!("start sync: the parent went away"),
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => bail!("start sync: {}", std::io::Error::last_os_error()),
            }
        }
        Ok(u64::from_ne_bytes(buf))
    }

    /// In the parent, after the last fork: waits until every VM process is ready or gone, then
    /// gives all of them the start time now + `delay_ns`. Returns how many were ready.
    pub fn release(&self, vms: usize, delay_ns: u64) -> usize {
        close(self.ready[1]);
        close(self.go[0]);
        let mut ready = 0;
        let mut byte = [0u8; 1];
        while ready < vms {
            // SAFETY: reading one byte into a valid buffer.
            match unsafe { libc::read(self.ready[0], byte.as_mut_ptr().cast(), 1) } {
                1 => ready += 1,
                0 => break, // every VM process has either reported or exited
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => break,
            }
        }
        let start = (now_ns() + delay_ns).to_ne_bytes();
        for _ in 0..ready {
            // SAFETY: writing 8 bytes (atomic: below PIPE_BUF) from a valid buffer. A VM that
            // exited since leaves its record unread, which is harmless.
            unsafe { libc::write(self.go[1], start.as_ptr().cast(), start.len()) };
        }
        close(self.ready[0]);
        close(self.go[1]);
        ready
    }
}
