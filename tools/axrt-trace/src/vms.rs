// SPDX-License-Identifier: GPL-2.0-only
//
// vms.rs - who is who: the VM a vCPU thread belongs to (its process, the process's cgroup) and
// the names shown for them. A VM is named, in this order, by the scx_axrt configuration given
// with --config (the first [[vm]] whose cgroup glob matches the process's cgroup, as scx_axrt
// matches them), by the VM names scx_axrt's own events carry for that cgroup, by QEMU's
// `-name`, by the last part of its cgroup, else by the process name and pid. Threads are named
// by their comm ("CPU 0/KVM"). Names are cached when first seen: a VM that ended before the
// report keeps them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// glob options of scx_axrt's cgroup patterns: `*` and `?` do not cross `/`.
const GLOB: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// The [[vm]] tables of an scx_axrt configuration: name and cgroup glob, in file order.
#[derive(Debug, Default, Clone)]
pub struct VmNames {
    vms: Vec<(String, glob::Pattern)>,
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    vm: Vec<RawVm>,
}

#[derive(Deserialize)]
struct RawVm {
    name: String,
    cgroup: String,
}

impl VmNames {
    /// Reads the [[vm]] names and cgroup globs of `path` (the rest of the file is scx_axrt's;
    /// `scx_axrt --check -c FILE` validates all of it).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses configuration text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1))
                .unwrap_or(0);
            anyhow::anyhow!("{file}:{line}: {}", e.message())
        })?;
        let mut vms = Vec::new();
        for (i, v) in raw.vm.into_iter().enumerate() {
            let pat = glob::Pattern::new(v.cgroup.trim_start_matches('/')).map_err(|e| {
                anyhow::anyhow!(
                    "{file}: field 'vm[{i}].cgroup': \"{}\" is not a valid glob: {e}",
                    v.cgroup
                )
            })?;
            vms.push((v.name, pat));
        }
        Ok(VmNames { vms })
    }

    /// The VM name of a cgroup path relative to the cgroup2 root: the first [[vm]] whose glob
    /// matches it or one of its ancestors (a VM is its cgroup and everything below it).
    pub fn name_of(&self, rel: &str) -> Option<&str> {
        let mut path = rel.trim_matches('/');
        loop {
            if let Some((n, _)) = self.vms.iter().find(|(_, p)| p.matches_with(path, GLOB)) {
                return Some(n);
            }
            match path.rfind('/') {
                Some(i) => path = &path[..i],
                None => return None,
            }
        }
    }
}

/// A VM: the process of its vCPU threads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmInfo {
    /// Process id.
    pub pid: u32,
    /// Name shown.
    pub name: String,
    /// Its cgroup, relative to the cgroup2 root ("" for the root).
    pub cgroup: String,
    /// The cgroup's id (its inode number), as scx_axrt's events give it; 0 if unknown.
    pub cgid: u64,
}

/// Names of VMs and threads, as far as the host still shows them.
pub struct Names {
    proc_root: PathBuf,
    cgroup_root: PathBuf,
    config: VmNames,
    /// scx_axrt's VM names by cgroup id (from its events).
    scx: BTreeMap<u64, String>,
    vms: BTreeMap<u32, VmInfo>,
    comms: BTreeMap<u32, String>,
}

fn read_trimmed(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// QEMU's `-name guest=foo,...` or `-name foo` in a NUL-separated command line.
pub fn qemu_name(cmdline: &[u8]) -> Option<String> {
    let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
    let i = args.iter().position(|a| *a == b"-name")?;
    let v = String::from_utf8_lossy(args.get(i + 1)?).into_owned();
    let first = v.split(',').next().unwrap_or("");
    let name = first.strip_prefix("guest=").unwrap_or(first);
    (!name.is_empty()).then(|| name.to_string())
}

impl Names {
    /// Names from the running host, with an optional configuration.
    pub fn new(config: VmNames) -> Self {
        Names {
            proc_root: PathBuf::from("/proc"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            config,
            scx: BTreeMap::new(),
            vms: BTreeMap::new(),
            comms: BTreeMap::new(),
        }
    }

    /// A VM name scx_axrt uses for a cgroup id (learnt from its events).
    pub fn learn_scx_name(&mut self, cgid: u64, name: &str) {
        if cgid == 0 || name.is_empty() {
            return;
        }
        self.scx.insert(cgid, name.to_string());
        for vm in self.vms.values_mut() {
            if vm.cgid == cgid && self.config.name_of(&vm.cgroup).is_none() {
                vm.name = name.to_string();
            }
        }
    }

    /// Looks at thread `tid` of process `tgid` if it is new (names, VM). Threads that are
    /// gone keep what was seen, or get placeholders.
    pub fn see(&mut self, tgid: u32, tid: u32) {
        if !self.comms.contains_key(&tid) {
            let p = self.proc_root.join(format!("{tgid}/task/{tid}/comm"));
            if let Some(c) = read_trimmed(&p) {
                self.comms.insert(tid, c);
            }
        }
        if self.vms.contains_key(&tgid) {
            return;
        }
        let base = self.proc_root.join(tgid.to_string());
        let Some(comm) = read_trimmed(&base.join("comm")) else {
            return; // gone before we looked: named as pid later
        };
        let cgroup = read_trimmed(&base.join("cgroup"))
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("0::")
                        .map(|p| p.trim_matches('/').to_string())
                })
            })
            .unwrap_or_default();
        let cgid = std::fs::metadata(self.cgroup_root.join(&cgroup))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap_or(0);
        let cmdline = std::fs::read(base.join("cmdline")).unwrap_or_default();
        let name = self
            .config
            .name_of(&cgroup)
            .map(str::to_string)
            .or_else(|| self.scx.get(&cgid).cloned())
            .or_else(|| qemu_name(&cmdline))
            .or_else(|| {
                cgroup
                    .rsplit('/')
                    .next()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| format!("{comm}[{tgid}]"));
        self.vms.insert(
            tgid,
            VmInfo {
                pid: tgid,
                name,
                cgroup,
                cgid,
            },
        );
    }

    /// The VM of process `tgid` (a placeholder named by pid if it was never seen).
    pub fn vm(&self, tgid: u32) -> VmInfo {
        self.vms.get(&tgid).cloned().unwrap_or_else(|| VmInfo {
            pid: tgid,
            name: format!("pid{tgid}"),
            cgroup: String::new(),
            cgid: 0,
        })
    }

    /// The name of thread `tid` ("tid N" if never seen).
    pub fn comm(&self, tid: u32) -> String {
        self.comms
            .get(&tid)
            .cloned()
            .unwrap_or_else(|| format!("tid {tid}"))
    }
}

/// The vCPU index in a QEMU-style thread name ("CPU 3/KVM" -> 3).
pub fn vcpu_index(comm: &str) -> Option<u32> {
    comm.strip_prefix("CPU ")?
        .strip_suffix("/KVM")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_match_like_scx_axrt() {
        let n = VmNames::parse(
            "[defaults]\nslice_us = 5000\n[[vm]]\nname = \"rt\"\ncgroup = \"machine.slice/*rt*\"\npriority = 10\n\
             [[vm]]\nname = \"any\"\ncgroup = \"machine.slice/*\"\n",
            "a.toml",
        )
        .unwrap();
        assert_eq!(n.name_of("machine.slice/qemu-rt.scope"), Some("rt"));
        assert_eq!(n.name_of("/machine.slice/qemu-rt.scope/vcpu0"), Some("rt"));
        assert_eq!(n.name_of("machine.slice/web"), Some("any"));
        assert_eq!(n.name_of("machine.slice"), None);
        assert_eq!(n.name_of("user.slice/x"), None);
        let e = VmNames::parse("[[vm]]\nname = \"x\"\n", "b.toml").unwrap_err();
        assert!(e.to_string().starts_with("b.toml:1: "), "{e}");
        let e = VmNames::parse("[[vm]]\nname = \"x\"\ncgroup = \"[a\"\n", "c.toml").unwrap_err();
        assert!(e.to_string().contains("vm[0].cgroup"), "{e}");
    }

    #[test]
    fn qemu_names_and_vcpu_indices() {
        assert_eq!(
            qemu_name(
                b"qemu-system-x86_64\x00-name\x00guest=web1,debug-threads=on\x00-m\x00512\x00"
            ),
            Some("web1".into())
        );
        assert_eq!(qemu_name(b"qemu\0-name\0db\0"), Some("db".into()));
        assert_eq!(qemu_name(b"qemu\x00-m\x00512\x00"), None);
        assert_eq!(vcpu_index("CPU 12/KVM"), Some(12));
        assert_eq!(vcpu_index("qemu-system-x86"), None);
    }
}
