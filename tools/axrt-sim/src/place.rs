// SPDX-License-Identifier: GPL-2.0-only
//
// place.rs - puts a running rt-app's threads into their tasks' taskgroups. rt-app 1.0 (the one
// in the test image) has no `taskgroup` key, and newer ones only know cgroup v1, so the test
// does it for them: the taskgroups must be children of one parent cgroup; they are created
// fresh as threaded cgroups (so one process's threads can sit in different ones, with the cpu
// controller), the rt-app process is moved into the parent, and each thread, once it carries
// its task's name, into its task's taskgroup. The workload's `delay` gives the time to do it
// before the threads start working; the time it finished is printed (CLOCK_MONOTONIC, the
// clock of rt-app's logs) so the cross-check can verify that it came first.

//! Placing rt-app threads into taskgroup cgroups.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::workload::Workload;

/// `axrt-sim place` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The rt-app workload the process runs.
    #[arg(long)]
    pub workload: PathBuf,
    /// The rt-app process. Without it the cgroups are only created (fresh, so their cpu.stat
    /// counts from zero): do that before starting scx_axrt, so it finds the VMs at once.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Where cgroup2 is mounted.
    #[arg(long, default_value = "/sys/fs/cgroup")]
    pub cgroup_root: PathBuf,
    /// How long to wait for the threads, ms.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// CLOCK_MONOTONIC in microseconds.
pub fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}

fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).with_context(|| format!("writing \"{value}\" to {}", path.display()))
}

/// Every thread's CPU time so far, ns, by tid: the first field of /proc/PID/task/TID/schedstat
/// (the scheduler's own clock, exact even where tick-based counters lose time). Threads that end
/// while it reads are skipped.
pub fn cpu_snapshot() -> Result<BTreeMap<u32, u64>> {
    let mut out = BTreeMap::new();
    for p in fs::read_dir("/proc").context("reading /proc")? {
        let p = p?.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_none_or(|n| n.parse::<u32>().is_err())
        {
            continue;
        }
        let Ok(tasks) = fs::read_dir(p.join("task")) else {
            continue;
        };
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let ns = fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()));
            if let Some(ns) = ns {
                out.insert(tid, ns);
            }
        }
    }
    Ok(out)
}

/// The parent of every taskgroup, and the taskgroup (relative path) of each task name.
fn groups(w: &Workload) -> Result<(String, BTreeMap<String, String>)> {
    let mut parent: Option<String> = None;
    let mut of_task = BTreeMap::new();
    for t in &w.tasks {
        let Some(g) = &t.taskgroup else { continue };
        let g = g.trim_matches('/').to_string();
        let Some((p, _)) = g.rsplit_once('/') else {
            bail!(
                "task {}: taskgroup \"{g}\" must be a child of a parent cgroup (\"parent/{g}\")",
                t.name
            );
        };
        match &parent {
            Some(q) if q != p => {
                bail!("taskgroups must share one parent cgroup: \"{q}\" and \"{p}\"")
            }
            _ => parent = Some(p.to_string()),
        }
        if of_task.insert(t.name.clone(), g).is_some() {
            bail!("two tasks are named {}", t.name);
        }
    }
    match parent {
        Some(p) => Ok((p, of_task)),
        None => bail!("no task has a taskgroup: nothing to place"),
    }
}

/// Creates the cgroups (no pid), or moves the process and its threads; prints a JSON line.
pub fn run(a: &Args) -> Result<()> {
    let w = Workload::load(&a.workload)?;
    let (parent, of_task) = groups(&w)?;
    let root = &a.cgroup_root;
    // The cpu controller on the way down to the parent, then the parent and its children.
    let mut path = root.clone();
    for part in parent.split('/') {
        write(&path.join("cgroup.subtree_control"), "+cpu")?;
        path = path.join(part);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
    }
    let mut made = Vec::new();
    for g in of_task.values() {
        let dir = root.join(g);
        if made.contains(&dir) {
            continue;
        }
        if a.pid.is_none() {
            if dir.exists() {
                fs::remove_dir(&dir).with_context(|| {
                    format!(
                        "{} exists and cannot be removed (still in use?)",
                        dir.display()
                    )
                })?;
            }
            fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            write(&dir.join("cgroup.type"), "threaded")?;
            made.push(dir);
            continue;
        }
        if !dir.exists() {
            bail!(
                "{} does not exist: run `axrt-sim place` without --pid first",
                dir.display()
            );
        }
        made.push(dir);
    }
    let Some(pid) = a.pid else {
        println!("{{\"created\":{}}}", made.len());
        return Ok(());
    };
    write(&path.join("cgroup.procs"), &pid.to_string())?;
    write(&path.join("cgroup.subtree_control"), "+cpu")?;

    // Wait until every thread exists and carries its name (rt-app names them as they start).
    let want: usize = w
        .tasks
        .iter()
        .filter(|t| t.taskgroup.is_some())
        .map(|t| t.instance as usize)
        .sum();
    let deadline = Instant::now() + Duration::from_millis(a.timeout_ms);
    let task_dir = PathBuf::from(format!("/proc/{pid}/task"));
    let named = loop {
        let mut named = Vec::new();
        for e in
            fs::read_dir(&task_dir).with_context(|| format!("reading {}", task_dir.display()))?
        {
            let tid: u32 = match e?.file_name().to_str().and_then(|s| s.parse().ok()) {
                Some(t) => t,
                None => continue,
            };
            if tid == pid {
                continue;
            }
            let comm =
                fs::read_to_string(task_dir.join(tid.to_string()).join("comm")).unwrap_or_default();
            if let Some(g) = of_task.get(comm.trim_end()) {
                named.push((tid, g.clone()));
            }
        }
        if named.len() >= want {
            break named;
        }
        if Instant::now() > deadline {
            bail!(
                "after {} ms only {} of {want} threads of pid {pid} carry a task's name",
                a.timeout_ms,
                named.len()
            );
        }
        // No event announces a new thread or its name: look again in a millisecond.
        std::thread::sleep(Duration::from_millis(1));
    };
    for (tid, g) in &named {
        write(&root.join(g).join("cgroup.threads"), &tid.to_string())?;
    }
    println!(
        "{{\"placed\":{},\"done_us\":{}}}",
        named.len(),
        monotonic_us()
    );
    Ok(())
}
