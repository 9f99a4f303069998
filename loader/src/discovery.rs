// SPDX-License-Identifier: GPL-2.0-only
//
// discovery.rs - finds the configured VMs and their special threads on the running host and
// keeps the BPF tier's group and task maps in step with them. A scan walks the cgroup2 tree,
// matches directories against the [[vm]] globs (the first VM in file order wins; a VM owns
// its whole subtree), lists the threads of each VM subtree (cgroup.threads) and matches their
// names (/proc/TID/comm) against the VM's [[task]] rules. The scan is compared with what was
// applied before, and only the difference is written, followed by one generation bump. It runs
// at start and then every --rescan-ms, so VMs that start or stop later are picked up and stale
// entries (vanished cgroups, exited or renamed threads, reused tids) are removed.

//! VM and vCPU-thread discovery, and syncing it into the BPF maps.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use axrt_policy::{admission, GroupParams, SystemConfig};

use crate::cgroupfs::{cgroup_id, parse_cpu_max};
pub use crate::config::{match_task, match_vm};
use crate::config::{Config, TaskRule, VmConfig};
use crate::maps::{GroupSpec, Maps, TaskSpec};

/// Where cgroup2 is mounted; [[vm]] globs are relative to it.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// Where thread names are read.
pub const PROC_ROOT: &str = "/proc";

/// A cgroup registered as (part of) a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Index of the VM in [`Config::vms`].
    pub vm: usize,
    /// Path relative to the cgroup root.
    pub path: String,
}

/// A thread with its own parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEntry {
    /// Index of the rule in [`Config::tasks`].
    pub rule: usize,
    /// Its name when it was matched.
    pub comm: String,
}

/// What the BPF maps should hold (or hold now): groups by cgroup id, threads by tid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    /// Registered cgroups.
    pub groups: BTreeMap<u64, GroupEntry>,
    /// Threads with an override.
    pub tasks: BTreeMap<i32, TaskEntry>,
    /// cpu.max of registered cgroups that have one (quota, period in ns), when the loader
    /// must pass it on (kernels before 6.17, see [`Host::feed_cpu_max`]).
    pub cpu_max: BTreeMap<u64, (u64, u64)>,
}

impl State {
    /// Number of cgroups registered for VM `vm`.
    pub fn cgroups_of(&self, vm: usize) -> usize {
        self.groups.values().filter(|g| g.vm == vm).count()
    }

    /// The VM a cgroup id belongs to.
    pub fn vm_of(&self, cgid: u64) -> Option<usize> {
        self.groups.get(&cgid).map(|g| g.vm)
    }
}

/// What one scan found that the user should hear about once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Cgroups that matched a VM but were left out because admitting another instance of a
    /// budgeted VM would overflow the CPUs: (VM index, path, admission message).
    pub refused: Vec<(usize, String, String)>,
    /// Cgroups inside a VM's subtree that also match a later VM: (owner, other, path).
    pub nested: Vec<(usize, usize, String)>,
}

/// Where to find things; [`Host::real`] is the running system, tests use a scratch tree.
#[derive(Debug, Clone)]
pub struct Host {
    /// The cgroup2 mount.
    pub cgroup_root: PathBuf,
    /// The proc mount.
    pub proc_root: PathBuf,
    /// Number of CPUs, for admission of extra instances.
    pub cpus: usize,
    /// Read each VM cgroup's cpu.max and pass it to the BPF tier: the kernel does not report
    /// it (no ops.cgroup_set_bandwidth before Linux 6.17).
    pub feed_cpu_max: bool,
}

impl Host {
    /// The running system.
    pub fn real(cpus: usize) -> Self {
        Host {
            cgroup_root: PathBuf::from(CGROUP_ROOT),
            proc_root: PathBuf::from(PROC_ROOT),
            cpus,
            feed_cpu_max: false,
        }
    }
}

/// Scans the host for `cfg`'s VMs and threads. `previous` is what is applied now: cgroups
/// already admitted keep their place when admission has to leave a new one out.
pub fn scan(cfg: &Config, host: &Host, previous: &State) -> (State, Findings) {
    let mut found: Vec<Found> = Vec::new();
    let mut findings = Findings::default();
    if !cfg.vms.is_empty() {
        walk(cfg, &host.cgroup_root, "", &mut found, &mut findings);
    }

    // Admission per instance: a glob that matches several cgroups makes several groups.
    found.sort_by_key(|f| {
        (
            !previous.groups.contains_key(&f.cgid),
            f.entry.vm,
            f.entry.path.clone(),
        )
    });
    let mut state = State::default();
    let mut admitted: Vec<GroupParams> = Vec::new();
    let mut subtree_of: BTreeMap<u64, Vec<PathBuf>> = BTreeMap::new();
    for Found { cgid, entry, dirs } in found {
        // The budget the BPF tier will enforce: the cgroup's cpu.max where it has one (it wins
        // over the file's quota), so that is what admission counts.
        let cpu_max = read_cpu_max(&host.cgroup_root.join(&entry.path));
        let mut params = cfg.vms[entry.vm].params.clone();
        if let Some((quota, period)) = cpu_max {
            params.quota = Some(quota);
            params.period = Some(period);
        }
        if params.budget_pair().is_some() {
            admitted.push(params);
            let refs: Vec<&GroupParams> = admitted.iter().collect();
            if let Err(e) = admission::check(&refs, host.cpus, bound(&cfg.system)) {
                admitted.pop();
                let from = if cpu_max.is_some() {
                    " (its budget is its cgroup's cpu.max)"
                } else {
                    ""
                };
                findings
                    .refused
                    .push((entry.vm, entry.path.clone(), format!("{e}{from}")));
                continue;
            }
        }
        if let (true, Some(bw)) = (host.feed_cpu_max, cpu_max) {
            state.cpu_max.insert(cgid, bw);
        }
        subtree_of.insert(cgid, dirs);
        state.groups.insert(cgid, entry);
    }

    // Threads of admitted VM subtrees.
    for (cgid, entry) in &state.groups {
        if !cfg.tasks.iter().any(|r| r.vm == entry.vm) {
            continue;
        }
        for dir in subtree_of.get(cgid).into_iter().flatten() {
            for tid in threads_of(dir) {
                let Some(comm) = comm_of(&host.proc_root, tid) else {
                    continue;
                };
                if let Some(rule) = match_task(&cfg.tasks, entry.vm, &comm) {
                    state.tasks.insert(tid, TaskEntry { rule, comm });
                }
            }
        }
    }
    (state, findings)
}

/// A cgroup directory's cpu.max as (quota, period) in ns; `None` for "max" or unreadable.
fn read_cpu_max(dir: &Path) -> Option<(u64, u64)> {
    let text = fs::read_to_string(dir.join("cpu.max")).ok()?;
    parse_cpu_max(&text).ok().flatten()
}

fn bound(system: &SystemConfig) -> u64 {
    system.utilization_bound_ppm
}

/// A cgroup that matched a VM, with every directory of its subtree.
struct Found {
    cgid: u64,
    entry: GroupEntry,
    dirs: Vec<PathBuf>,
}

/// Walks `dir` (relative path `rel`): a directory that matches a VM is registered with its
/// whole subtree; others are descended into.
fn walk(cfg: &Config, dir: &Path, rel: &str, found: &mut Vec<Found>, findings: &mut Findings) {
    for child in subdirs(dir) {
        let Some(name) = child.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let child_rel = if rel.is_empty() {
            name.to_string()
        } else {
            format!("{rel}/{name}")
        };
        match match_vm(&cfg.vms, &child_rel) {
            Some(vm) => {
                let Ok(cgid) = cgroup_id(&child) else {
                    continue; // vanished meanwhile
                };
                let mut dirs = vec![child.clone()];
                collect_subtree(&child, &child_rel, &mut dirs, cfg, vm, findings);
                found.push(Found {
                    cgid,
                    entry: GroupEntry {
                        vm,
                        path: child_rel,
                    },
                    dirs,
                });
            }
            None => walk(cfg, &child, &child_rel, found, findings),
        }
    }
}

/// Every directory below `dir` (a VM's cgroup), noting ones that would match another VM.
fn collect_subtree(
    dir: &Path,
    rel: &str,
    out: &mut Vec<PathBuf>,
    cfg: &Config,
    owner: usize,
    findings: &mut Findings,
) {
    for child in subdirs(dir) {
        let Some(name) = child.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let child_rel = format!("{rel}/{name}");
        if let Some(other) = match_vm(&cfg.vms, &child_rel) {
            findings.nested.push((owner, other, child_rel.clone()));
        }
        out.push(child.clone());
        collect_subtree(&child, &child_rel, out, cfg, owner, findings);
    }
}

/// Subdirectories of `dir`, sorted, not following symlinks; none if it cannot be read.
fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The thread ids listed in a cgroup's `cgroup.threads`.
fn threads_of(dir: &Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.threads"))
        .map(|s| s.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// A thread's name, without the trailing newline.
fn comm_of(proc_root: &Path, tid: i32) -> Option<String> {
    fs::read_to_string(proc_root.join(tid.to_string()).join("comm"))
        .ok()
        .map(|s| s.trim_end_matches('\n').to_string())
}

/// Where discovery writes: the BPF maps, or a recorder in tests.
pub trait Target {
    /// Registers cgroup `cgid` as a group with `vm`'s parameters.
    fn set_group(&self, cgid: u64, vm: &VmConfig) -> Result<()>;
    /// Forgets cgroup `cgid`.
    fn remove_group(&self, cgid: u64) -> Result<()>;
    /// Gives thread `tid` the parameters of `rule`.
    fn set_task(&self, tid: i32, rule: &TaskRule) -> Result<()>;
    /// Removes thread `tid`'s override.
    fn remove_task(&self, tid: i32) -> Result<()>;
    /// Sets (`Some((quota, period))` in ns) or clears cgroup `cgid`'s cpu.max budget.
    fn set_cpu_max(&self, cgid: u64, bw: Option<(u64, u64)>) -> Result<()>;
    /// Makes the changes take effect (one generation bump).
    fn commit(&self) -> Result<()>;
}

/// Writes the difference between `old` (what the target holds) and `new` into `target`.
/// Returns the number of entries written or removed; nothing is committed when it is 0.
pub fn apply(cfg: &Config, old: &State, new: &State, target: &dyn Target) -> Result<usize> {
    let mut n = 0;
    for cgid in old.groups.keys().filter(|c| !new.groups.contains_key(c)) {
        target.remove_group(*cgid)?;
        n += 1;
    }
    for tid in old.tasks.keys().filter(|t| !new.tasks.contains_key(t)) {
        target.remove_task(*tid)?;
        n += 1;
    }
    for (cgid, g) in &new.groups {
        if old.groups.get(cgid).map(|o| o.vm) != Some(g.vm) {
            target.set_group(*cgid, &cfg.vms[g.vm])?;
            n += 1;
        }
    }
    for (tid, t) in &new.tasks {
        if old.tasks.get(tid).map(|o| o.rule) != Some(t.rule) {
            target.set_task(*tid, &cfg.tasks[t.rule])?;
            n += 1;
        }
    }
    for cgid in old.cpu_max.keys().filter(|c| !new.cpu_max.contains_key(c)) {
        target.set_cpu_max(*cgid, None)?;
        n += 1;
    }
    for (cgid, bw) in &new.cpu_max {
        if old.cpu_max.get(cgid) != Some(bw) {
            target.set_cpu_max(*cgid, Some(*bw))?;
            n += 1;
        }
    }
    if n > 0 {
        target.commit()?;
    }
    Ok(n)
}

/// Lines describing what changed between two scans, for the log.
pub fn describe_changes(cfg: &Config, old: &State, new: &State) -> Vec<String> {
    let mut out = Vec::new();
    let name = |vm: usize| cfg.vms[vm].params.name.as_str();
    for (cgid, g) in &new.groups {
        if !old.groups.contains_key(cgid) {
            out.push(format!(
                "vm {}: cgroup {} (id {cgid}) joined",
                name(g.vm),
                g.path
            ));
        }
    }
    for (cgid, g) in &old.groups {
        if !new.groups.contains_key(cgid) {
            out.push(format!(
                "vm {}: cgroup {} (id {cgid}) left",
                name(g.vm),
                g.path
            ));
        }
    }
    let tids = |s: &State| s.tasks.keys().copied().collect::<BTreeSet<_>>();
    let (before, after) = (tids(old), tids(new));
    let added = after.difference(&before).count();
    let removed = before.difference(&after).count();
    if added + removed > 0 {
        out.push(format!(
            "threads with an override: {} (+{added} -{removed})",
            after.len()
        ));
    }
    out
}

/// The BPF group parameters of a VM.
pub fn group_spec(vm: &VmConfig) -> GroupSpec {
    let (quota_ns, period_ns) = vm.params.budget_pair().unwrap_or((0, 0));
    GroupSpec {
        prio: vm.params.priority,
        quota_ns,
        period_ns,
        overrun: vm.params.overrun,
    }
}

/// The BPF parameters of a thread rule.
pub fn task_spec(rule: &TaskRule) -> TaskSpec {
    let timing = &rule.params.timing;
    TaskSpec {
        prio: rule.params.priority,
        slice_ns: rule.params.slice,
        period_ns: timing.period,
        deadline_ns: timing.deadline,
        wcet_ns: timing.wcet,
    }
}

impl Target for Maps {
    fn set_group(&self, cgid: u64, vm: &VmConfig) -> Result<()> {
        Maps::set_group(self, cgid, &group_spec(vm))
    }

    fn remove_group(&self, cgid: u64) -> Result<()> {
        Maps::remove_group(self, cgid)
    }

    fn set_task(&self, tid: i32, rule: &TaskRule) -> Result<()> {
        Maps::set_task(self, tid, &task_spec(rule))
    }

    fn remove_task(&self, tid: i32) -> Result<()> {
        Maps::remove_task(self, tid)
    }

    fn set_cpu_max(&self, cgid: u64, bw: Option<(u64, u64)>) -> Result<()> {
        self.set_cgroup_bw(cgid, bw)
    }

    fn commit(&self) -> Result<()> {
        self.bump_generation().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch cgroup tree and /proc, removed when dropped.
    struct Scratch {
        dir: PathBuf,
        host: Host,
    }

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("scx_axrt-discovery-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("cg")).unwrap();
            fs::create_dir_all(dir.join("proc")).unwrap();
            let host = Host {
                cgroup_root: dir.join("cg"),
                proc_root: dir.join("proc"),
                cpus: 2,
                feed_cpu_max: false,
            };
            Scratch { dir, host }
        }

        /// A cgroup holding `threads` (tid, comm).
        fn cgroup(&self, rel: &str, threads: &[(i32, &str)]) -> u64 {
            let path = self.host.cgroup_root.join(rel);
            fs::create_dir_all(&path).unwrap();
            let list: String = threads.iter().map(|(t, _)| format!("{t}\n")).collect();
            fs::write(path.join("cgroup.threads"), list).unwrap();
            for (tid, comm) in threads {
                self.rename(*tid, comm);
            }
            cgroup_id(&path).unwrap()
        }

        fn rename(&self, tid: i32, comm: &str) {
            let p = self.host.proc_root.join(tid.to_string());
            fs::create_dir_all(&p).unwrap();
            fs::write(p.join("comm"), format!("{comm}\n")).unwrap();
        }

        fn remove(&self, rel: &str) {
            fs::remove_dir_all(self.host.cgroup_root.join(rel)).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }

    /// Records what discovery writes.
    #[derive(Default)]
    struct Recorder {
        log: std::cell::RefCell<Vec<String>>,
    }

    impl Recorder {
        fn log(&self) -> Vec<String> {
            self.log.borrow().clone()
        }
    }

    impl Target for Recorder {
        fn set_group(&self, cgid: u64, vm: &VmConfig) -> Result<()> {
            let spec = group_spec(vm);
            self.log.borrow_mut().push(format!(
                "set_group {cgid} prio {} quota {}",
                spec.prio, spec.quota_ns
            ));
            Ok(())
        }
        fn remove_group(&self, cgid: u64) -> Result<()> {
            self.log.borrow_mut().push(format!("remove_group {cgid}"));
            Ok(())
        }
        fn set_task(&self, tid: i32, rule: &TaskRule) -> Result<()> {
            self.log
                .borrow_mut()
                .push(format!("set_task {tid} prio {:?}", task_spec(rule).prio));
            Ok(())
        }
        fn remove_task(&self, tid: i32) -> Result<()> {
            self.log.borrow_mut().push(format!("remove_task {tid}"));
            Ok(())
        }
        fn set_cpu_max(&self, cgid: u64, bw: Option<(u64, u64)>) -> Result<()> {
            self.log
                .borrow_mut()
                .push(format!("set_cpu_max {cgid} {bw:?}"));
            Ok(())
        }
        fn commit(&self) -> Result<()> {
            self.log.borrow_mut().push("commit".into());
            Ok(())
        }
    }

    const CFG: &str = r#"
[[vm]]
name = "control"
cgroup = "machine.slice/machine-qemu*control*.scope"
priority = 10
quota_us = 5000
period_us = 10000

[[vm]]
name = "batch"
cgroup = "machine.slice/*.scope"
priority = 200

[[task]]
vm = "control"
comm = "CPU 0/KVM"
priority = 2

[[task]]
vm = "control"
comm = "/CPU \\d+/KVM/"
priority = 5
"#;

    fn cfg() -> Config {
        Config::parse(CFG, "t.toml", 2).unwrap()
    }

    #[test]
    fn globs_match_whole_components_in_file_order() {
        let cfg = cfg();
        let m = |p: &str| match_vm(&cfg.vms, p);
        assert_eq!(
            m("machine.slice/machine-qemu\\x2d1\\x2dcontrol.scope"),
            Some(0)
        );
        assert_eq!(m("machine.slice/machine-qemu-2-web.scope"), Some(1));
        // `*` does not cross `/`.
        assert_eq!(m("machine.slice/x/y.scope"), None);
        assert_eq!(m("machine.slice"), None);
        assert_eq!(m("system.slice/a.scope"), None);
    }

    #[test]
    fn comm_rules_first_match_wins_within_the_vm() {
        let cfg = cfg();
        assert_eq!(match_task(&cfg.tasks, 0, "CPU 0/KVM"), Some(0));
        assert_eq!(match_task(&cfg.tasks, 0, "CPU 13/KVM"), Some(1));
        assert_eq!(match_task(&cfg.tasks, 0, "IO mon_iothread"), None);
        assert_eq!(match_task(&cfg.tasks, 1, "CPU 0/KVM"), None);
    }

    #[test]
    fn scan_finds_vms_threads_and_follows_changes() {
        let s = Scratch::new("scan");
        let cfg = cfg();
        let ctl = s.cgroup(
            "machine.slice/machine-qemu-1-control.scope",
            &[(100, "qemu-system-x86"), (101, "CPU 0/KVM")],
        );
        // libvirt puts vCPU threads in sub-cgroups; they belong to the VM too.
        s.cgroup(
            "machine.slice/machine-qemu-1-control.scope/libvirt/vcpu1",
            &[(102, "CPU 1/KVM")],
        );
        let web = s.cgroup("machine.slice/web.scope", &[(200, "CPU 0/KVM")]);
        s.cgroup("system.slice/sshd.service", &[(300, "CPU 0/KVM")]);

        let (st, findings) = scan(&cfg, &s.host, &State::default());
        assert_eq!(findings, Findings::default());
        assert_eq!(st.vm_of(ctl), Some(0));
        assert_eq!(st.vm_of(web), Some(1));
        assert_eq!(st.groups.len(), 2);
        // Threads: only the control VM has rules; the first matching rule wins.
        let rules: Vec<(i32, usize)> = st.tasks.iter().map(|(t, e)| (*t, e.rule)).collect();
        assert_eq!(rules, [(101, 0), (102, 1)]);

        let rec = Recorder::default();
        assert_eq!(apply(&cfg, &State::default(), &st, &rec).unwrap(), 4);
        // Groups are written in cgroup-id order; the ids are inode numbers the file system
        // chose, so the expected order is derived from them.
        let mut expected = vec![
            (ctl, format!("set_group {ctl} prio 10 quota 5000000")),
            (web, format!("set_group {web} prio 200 quota 0")),
        ];
        expected.sort();
        let mut expected: Vec<String> = expected.into_iter().map(|(_, line)| line).collect();
        expected.extend([
            "set_task 101 prio Some(2)".into(),
            "set_task 102 prio Some(5)".into(),
            "commit".into(),
        ]);
        assert_eq!(rec.log(), expected);

        // Nothing changed: nothing written, no generation bump.
        let (again, _) = scan(&cfg, &s.host, &st);
        assert_eq!(again, st);
        let rec = Recorder::default();
        assert_eq!(apply(&cfg, &st, &again, &rec).unwrap(), 0);
        assert!(rec.log().is_empty());

        // The web VM stops, thread 100 becomes a vCPU, thread 101 is renamed away.
        s.remove("machine.slice/web.scope");
        s.rename(100, "CPU 7/KVM");
        s.rename(101, "worker");
        let (next, _) = scan(&cfg, &s.host, &st);
        let rec = Recorder::default();
        apply(&cfg, &st, &next, &rec).unwrap();
        assert_eq!(
            rec.log(),
            [
                format!("remove_group {web}"),
                "remove_task 101".into(),
                "set_task 100 prio Some(5)".into(),
                "commit".into(),
            ]
        );
        let changes = describe_changes(&cfg, &st, &next);
        assert_eq!(
            changes,
            [
                format!("vm batch: cgroup machine.slice/web.scope (id {web}) left"),
                "threads with an override: 2 (+1 -1)".to_string(),
            ]
        );
    }

    #[test]
    fn unmatched_vms_have_no_cgroups() {
        let s = Scratch::new("unmatched");
        s.cgroup("machine.slice/web.scope", &[]);
        let (st, _) = scan(&cfg(), &s.host, &State::default());
        assert_eq!(st.cgroups_of(0), 0);
        assert_eq!(st.cgroups_of(1), 1);
    }

    #[test]
    fn extra_instances_of_a_budgeted_vm_must_pass_admission() {
        let s = Scratch::new("admission");
        // Each control instance asks for 0.5 CPU; 2 CPUs admit 1.9, so three fit, not four.
        let ids: Vec<u64> = (1..=4)
            .map(|i| {
                s.cgroup(
                    &format!("machine.slice/machine-qemu-{i}-control.scope"),
                    &[],
                )
            })
            .collect();
        let (st, findings) = scan(&cfg(), &s.host, &State::default());
        assert_eq!(st.cgroups_of(0), 3);
        assert_eq!(findings.refused.len(), 1);
        let (vm, path, why) = &findings.refused[0];
        assert_eq!(
            (*vm, path.as_str()),
            (0, "machine.slice/machine-qemu-4-control.scope")
        );
        assert!(why.contains("vm \"control\" overflows"), "{why}");
        assert!(!st.groups.contains_key(&ids[3]));

        // Already admitted instances keep their place when a new one sorts before them.
        let early = s.cgroup("machine.slice/machine-qemu-0-control.scope", &[]);
        let (next, findings) = scan(&cfg(), &s.host, &st);
        assert!(!next.groups.contains_key(&early));
        assert_eq!(
            findings.refused[0].1,
            "machine.slice/machine-qemu-0-control.scope"
        );
        for id in &ids[..3] {
            assert!(next.groups.contains_key(id));
        }
    }

    #[test]
    fn nested_matches_stay_with_the_outer_vm() {
        let s = Scratch::new("nested");
        let text = "[[vm]]\nname = \"outer\"\ncgroup = \"a.slice\"\n\
                    [[vm]]\nname = \"inner\"\ncgroup = \"a.slice/b.scope\"\n";
        let cfg = Config::parse(text, "t.toml", 2).unwrap();
        s.cgroup("a.slice/b.scope", &[]);
        let (st, findings) = scan(&cfg, &s.host, &State::default());
        assert_eq!((st.cgroups_of(0), st.cgroups_of(1)), (1, 0));
        assert_eq!(findings.nested, [(0, 1, "a.slice/b.scope".to_string())]);
    }

    #[test]
    fn admission_counts_a_cgroups_cpu_max() {
        // 2 CPUs admit 1.9. The web VM has no quota in the file, but its cgroup's cpu.max is
        // 1.5 CPUs, which the BPF tier will enforce: with a control instance (0.5) it overflows.
        let s = Scratch::new("admit-cpumax");
        s.cgroup("machine.slice/machine-qemu-1-control.scope", &[]);
        let web = s.cgroup("machine.slice/web.scope", &[]);
        let dir = s.host.cgroup_root.join("machine.slice/web.scope");
        fs::write(dir.join("cpu.max"), "150000 100000\n").unwrap();
        let (st, findings) = scan(&cfg(), &s.host, &State::default());
        assert!(!st.groups.contains_key(&web));
        let (vm, _, why) = &findings.refused[0];
        assert_eq!(*vm, 1);
        assert!(why.contains("its budget is its cgroup's cpu.max"), "{why}");
        // Within the bound it is admitted.
        fs::write(dir.join("cpu.max"), "100000 100000\n").unwrap();
        let (st, findings) = scan(&cfg(), &s.host, &State::default());
        assert!(st.groups.contains_key(&web) && findings.refused.is_empty());
    }

    #[test]
    fn cpu_max_is_fed_only_when_the_kernel_does_not_report_it() {
        let mut s = Scratch::new("cpumax");
        let web = s.cgroup("machine.slice/web.scope", &[]);
        let ctl = s.cgroup("machine.slice/machine-qemu-1-control.scope", &[]);
        let dir = s.host.cgroup_root.join("machine.slice/web.scope");
        fs::write(dir.join("cpu.max"), "30000 100000\n").unwrap();
        let dir = s
            .host
            .cgroup_root
            .join("machine.slice/machine-qemu-1-control.scope");
        fs::write(dir.join("cpu.max"), "max 100000\n").unwrap();
        let (st, _) = scan(&cfg(), &s.host, &State::default());
        assert!(st.cpu_max.is_empty());

        s.host.feed_cpu_max = true;
        let (st, _) = scan(&cfg(), &s.host, &State::default());
        assert_eq!(st.cpu_max.get(&web), Some(&(30_000_000, 100_000_000)));
        assert!(!st.cpu_max.contains_key(&ctl));
        let rec = Recorder::default();
        apply(&cfg(), &State::default(), &st, &rec).unwrap();
        assert!(rec
            .log()
            .contains(&format!("set_cpu_max {web} Some((30000000, 100000000))")));

        let dir = s.host.cgroup_root.join("machine.slice/web.scope");
        fs::write(dir.join("cpu.max"), "max 100000\n").unwrap();
        let (next, _) = scan(&cfg(), &s.host, &st);
        let rec = Recorder::default();
        apply(&cfg(), &st, &next, &rec).unwrap();
        assert_eq!(
            rec.log(),
            [format!("set_cpu_max {web} None"), "commit".into()]
        );
    }

    #[test]
    fn a_missing_cgroup_root_finds_nothing() {
        let mut host = Host::real(2);
        host.cgroup_root = PathBuf::from("/nonexistent/cgroup");
        let (st, _) = scan(&cfg(), &host, &State::default());
        assert_eq!(st, State::default());
    }
}
