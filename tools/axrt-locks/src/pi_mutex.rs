// SPDX-License-Identifier: GPL-2.0-only
//
// pi_mutex.rs - a glibc pthread mutex with the priority-inheritance protocol (or a normal one,
// for comparison), at a stable heap address shared by reference between threads. Its first
// word is the futex word the kernel's PI futex calls take: `addr()` is what scx_axrt's
// deadlock reports name.

//! A pthread mutex, PTHREAD_PRIO_INHERIT by default.

use std::cell::UnsafeCell;

use anyhow::{bail, Result};

/// A pthread mutex. Lock and unlock return the pthread error number (0 = success).
pub struct PiMutex {
    inner: Box<UnsafeCell<libc::pthread_mutex_t>>,
}

// SAFETY: a pthread mutex is made to be used from several threads at once; its address never
// changes (boxed) and it is destroyed only when the last reference is gone.
unsafe impl Sync for PiMutex {}
// SAFETY: as above; nothing in it is tied to the creating thread.
unsafe impl Send for PiMutex {}

impl PiMutex {
    /// A new mutex: priority inheritance when `pi`, else the default protocol.
    pub fn new(pi: bool) -> Result<Self> {
        // SAFETY: a zeroed pthread_mutex_t is valid storage for pthread_mutex_init.
        let inner = Box::new(UnsafeCell::new(unsafe { std::mem::zeroed() }));
        // SAFETY: attr is initialised before use and destroyed after; the mutex storage is
        // valid, boxed and not shared yet.
        let rc = unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            let mut rc = 0;
            if pi {
                rc = libc::pthread_mutexattr_setprotocol(&mut attr, libc::PTHREAD_PRIO_INHERIT);
            }
            if rc == 0 {
                rc = libc::pthread_mutex_init(inner.get(), &attr);
            }
            libc::pthread_mutexattr_destroy(&mut attr);
            rc
        };
        if rc != 0 {
            bail!("pthread_mutex_init: {}", errno_name(rc));
        }
        Ok(Self { inner })
    }

    /// Locks, waiting as long as it takes.
    pub fn lock(&self) -> i32 {
        // SAFETY: the mutex was initialised in new() and lives as long as self.
        unsafe { libc::pthread_mutex_lock(self.inner.get()) }
    }

    /// FUTEX_LOCK_PI on the futex word, bypassing glibc's fast path and its error handling;
    /// waits at most until `deadline` (CLOCK_REALTIME). Returns 0 or the kernel's errno. Only
    /// for a lock that is taken (the kernel then queues the caller or refuses).
    pub fn lock_pi_raw(&self, deadline: &libc::timespec) -> i32 {
        // SAFETY: the futex word is valid for the mutex's lifetime; FUTEX_LOCK_PI reads the
        // timespec and the word only. glibc's PI mutexes are process-private.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.inner.get() as *const u32,
                libc::FUTEX_LOCK_PI | libc::FUTEX_PRIVATE_FLAG,
                0,
                deadline as *const libc::timespec,
            )
        };
        if rc == 0 {
            0
        } else {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        }
    }

    /// Unlocks (the caller must hold it).
    pub fn unlock(&self) -> i32 {
        // SAFETY: as in lock().
        unsafe { libc::pthread_mutex_unlock(self.inner.get()) }
    }

    /// The address of the futex word (the mutex's first word in glibc).
    pub fn addr(&self) -> u64 {
        self.inner.get() as u64
    }

    /// The futex word as it is now (owner tid | FUTEX_WAITERS | ...), read atomically.
    pub fn word(&self) -> u32 {
        // SAFETY: the futex word is the mutex's first, 4-byte aligned u32; the kernel and
        // glibc change it atomically, so an atomic load sees a whole value.
        unsafe {
            (*(self.inner.get() as *const std::sync::atomic::AtomicU32))
                .load(std::sync::atomic::Ordering::SeqCst)
        }
    }
}

impl Drop for PiMutex {
    fn drop(&mut self) {
        // SAFETY: nobody else holds a reference any more (we are dropped).
        unsafe { libc::pthread_mutex_destroy(self.inner.get()) };
    }
}

/// The symbolic name of an error number ("EDEADLK"), or "ok" for 0.
pub fn errno_name(rc: i32) -> String {
    match rc {
        0 => "ok".into(),
        libc::EDEADLK => "EDEADLK".into(),
        libc::ETIMEDOUT => "ETIMEDOUT".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::EPERM => "EPERM".into(),
        libc::EAGAIN => "EAGAIN".into(),
        libc::ENOTRECOVERABLE => "ENOTRECOVERABLE".into(),
        libc::EOWNERDEAD => "EOWNERDEAD".into(),
        n => format!("errno {n}"),
    }
}
