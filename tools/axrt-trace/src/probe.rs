// SPDX-License-Identifier: GPL-2.0-only
//
// probe.rs - the BPF side from user space: opens trace.bpf.c's skeleton, sets the mode before
// load, attaches the KVM and scheduler tracepoints (with a clear error when KVM's are missing),
// reads the per-thread records and histograms, retires the records of exited threads (so the
// maps never fill when left on), counts ring drops per CPU and reads the BPF programs' own run
// time (kernel.bpf_stats through BPF_ENABLE_STATS).

use std::collections::BTreeMap;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject};

use crate::bpf_intf::{axrt_hist, axrt_hist_key, axrt_thread};
use crate::bpf_skel::{TraceSkel, TraceSkelBuilder};
use crate::hist::Hist;

/// Tracepoints that must exist (the KVM ones come with the kvm module).
pub const KVM_TRACEPOINTS: [&str; 3] = ["kvm_entry", "kvm_exit", "kvm_vcpu_wakeup"];

/// How the BPF side runs.
#[derive(Clone, Copy, Debug)]
pub struct ProbeConfig {
    /// Stream every closed segment of traced threads to the ring.
    pub trace: bool,
    /// Trace every VM (no filter).
    pub trace_all: bool,
    /// Ring size, bytes (power of two, >= a page).
    pub ring_bytes: u32,
}

/// One thread's record and histograms at one moment.
#[derive(Clone, Debug)]
pub struct ThreadData {
    /// The BPF record.
    pub rec: axrt_thread,
    /// Histograms by (kind, reason).
    pub hists: BTreeMap<(u16, u16), Hist>,
}

/// The loaded, attached programs.
pub struct Probe<'obj> {
    skel: TraceSkel<'obj>,
    _links: Vec<Link>,
    /// Keeps kernel.bpf_stats on while open (None: the kernel refused).
    stats_fd: Option<OwnedFd>,
    /// Final data of exited threads, removed from the maps.
    retired: BTreeMap<u32, ThreadData>,
}

fn read_struct<T: Copy>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the slice holds at least size_of::<T>() bytes of a plain-data C struct (intf.h).
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const T) })
}

fn as_bytes<T>(v: &T) -> &[u8] {
    // SAFETY: T is a plain-data C struct without padding holes that matter (keys of intf.h).
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, std::mem::size_of::<T>()) }
}

/// Whether a kernel tracepoint exists (tracefs, or debugfs's copy).
pub fn tracepoint_exists(group: &str, name: &str) -> bool {
    ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
        .iter()
        .any(|root| std::path::Path::new(&format!("{root}/events/{group}/{name}")).exists())
}

impl<'obj> Probe<'obj> {
    /// Opens, configures, loads and attaches every program.
    pub fn load(cfg: ProbeConfig, open_object: &'obj mut MaybeUninit<OpenObject>) -> Result<Self> {
        let missing: Vec<&str> = KVM_TRACEPOINTS
            .iter()
            .copied()
            .filter(|t| !tracepoint_exists("kvm", t))
            .collect();
        if !missing.is_empty() {
            bail!(
                "the kernel has no tracepoint kvm:{} (is the kvm module loaded? tracefs mounted?)",
                missing.join(", kvm:")
            );
        }
        let mut open = TraceSkelBuilder::default()
            .open(open_object)
            .context("cannot open the BPF programs")?;
        let rodata = open
            .maps
            .rodata_data
            .as_mut()
            .context("the BPF object has no .rodata")?;
        rodata.trace_mode = cfg.trace;
        rodata.trace_all = cfg.trace_all;
        open.maps
            .records
            .set_max_entries(if cfg.trace { cfg.ring_bytes } else { 4096 })
            .context("cannot size the record ring")?;
        let mut skel = open.load().context(
            "cannot load the BPF programs (root? a kernel with BTF and the kvm module's BTF?)",
        )?;
        let mut links = Vec::new();
        for (name, prog) in [
            ("kvm:kvm_entry", &mut skel.progs.axrt_kvm_entry),
            ("kvm:kvm_exit", &mut skel.progs.axrt_kvm_exit),
            ("kvm:kvm_vcpu_wakeup", &mut skel.progs.axrt_kvm_vcpu_wakeup),
            ("sched:sched_switch", &mut skel.progs.axrt_sched_switch),
            ("sched:sched_waking", &mut skel.progs.axrt_sched_waking),
            (
                "sched:sched_migrate_task",
                &mut skel.progs.axrt_sched_migrate_task,
            ),
            (
                "sched:sched_process_exit",
                &mut skel.progs.axrt_sched_process_exit,
            ),
        ] {
            links.push(
                prog.attach()
                    .with_context(|| format!("cannot attach to the tracepoint {name}"))?,
            );
        }
        // SAFETY: bpf_enable_stats has no memory arguments; it returns an fd or a negative errno.
        let fd = unsafe {
            libbpf_rs::libbpf_sys::bpf_enable_stats(libbpf_rs::libbpf_sys::BPF_STATS_RUN_TIME)
        };
        // SAFETY: a non-negative return is a new fd that we own.
        let stats_fd = (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(Probe {
            skel,
            _links: links,
            stats_fd,
            retired: BTreeMap::new(),
        })
    }

    /// The ring of trace mode's records.
    pub fn records_map(&self) -> &libbpf_rs::Map<'obj> {
        &self.skel.maps.records
    }

    /// Marks VM process `tgid` as traced or not (trace mode with a VM filter).
    pub fn set_traced(&self, tgid: u32, traced: bool) -> Result<()> {
        let v: u32 = if traced { 1 } else { 2 };
        self.skel
            .maps
            .traced_vms
            .update(&tgid.to_ne_bytes(), &v.to_ne_bytes(), MapFlags::ANY)
            .context("cannot update traced_vms")
    }

    /// Every thread's data now, exited ones included; exited threads are removed from the
    /// kernel's maps once read (their data stays here).
    pub fn snapshot(&mut self) -> Result<BTreeMap<u32, ThreadData>> {
        let maps = &self.skel.maps;
        let mut out: BTreeMap<u32, ThreadData> = BTreeMap::new();
        for key in maps.threads.keys() {
            let Some(bytes) = maps.threads.lookup(&key, MapFlags::ANY)? else {
                continue;
            };
            let Some(rec) = read_struct::<axrt_thread>(&bytes) else {
                continue;
            };
            out.insert(
                rec.tid,
                ThreadData {
                    rec,
                    hists: BTreeMap::new(),
                },
            );
        }
        for key in maps.hists.keys() {
            let Some(k) = read_struct::<axrt_hist_key>(&key) else {
                continue;
            };
            let Some(t) = out.get_mut(&k.tid) else {
                continue;
            };
            let Some(bytes) = maps.hists.lookup(&key, MapFlags::ANY)? else {
                continue;
            };
            // The value is too large to copy onto the stack in one read: take its parts.
            let head = std::mem::size_of::<u64>() * 3;
            if bytes.len() < std::mem::size_of::<axrt_hist>() {
                continue;
            }
            let word = |i: usize| u64::from_ne_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
            let buckets: Vec<u64> = bytes[head..std::mem::size_of::<axrt_hist>()]
                .chunks_exact(8)
                .map(|c| u64::from_ne_bytes(c.try_into().unwrap()))
                .collect();
            t.hists.insert(
                (k.kind, k.reason),
                Hist::from_raw(word(0), word(1), word(2), &buckets),
            );
        }
        // Retire the exited threads: their records are final.
        let dead: Vec<u32> = out
            .iter()
            .filter(|(_, t)| t.rec.flags & crate::bpf_intf::AXRT_F_DEAD != 0)
            .map(|(&tid, _)| tid)
            .collect();
        for tid in dead {
            let data = out.remove(&tid).expect("listed");
            for &(kind, reason) in data.hists.keys() {
                let k = axrt_hist_key { tid, kind, reason };
                let _ = maps.hists.delete(as_bytes(&k));
            }
            let _ = maps.threads.delete(&tid.to_ne_bytes());
            self.retired.insert(tid, data);
        }
        for (tid, data) in &self.retired {
            out.insert(*tid, data.clone());
        }
        Ok(out)
    }

    /// Records lost because the ring was full, per CPU.
    pub fn drops_per_cpu(&self) -> Result<Vec<u64>> {
        let v = self
            .skel
            .maps
            .drops
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)?
            .unwrap_or_default();
        Ok(v.iter()
            .map(|b| u64::from_ne_bytes(b[..8].try_into().unwrap_or([0; 8])))
            .collect())
    }

    /// Run time of all programs (ns) and their runs, when kernel.bpf_stats is on.
    pub fn bpf_run_time(&self) -> Option<(u64, u64)> {
        self.stats_fd.as_ref()?;
        let progs = &self.skel.progs;
        let mut total = (0u64, 0u64);
        for fd in [
            progs.axrt_kvm_entry.as_fd(),
            progs.axrt_kvm_exit.as_fd(),
            progs.axrt_kvm_vcpu_wakeup.as_fd(),
            progs.axrt_sched_switch.as_fd(),
            progs.axrt_sched_waking.as_fd(),
            progs.axrt_sched_migrate_task.as_fd(),
            progs.axrt_sched_process_exit.as_fd(),
        ] {
            let mut info = libbpf_rs::libbpf_sys::bpf_prog_info::default();
            let mut len = std::mem::size_of_val(&info) as u32;
            // SAFETY: info is a valid bpf_prog_info of `len` bytes.
            let r = unsafe {
                libbpf_rs::libbpf_sys::bpf_prog_get_info_by_fd(fd.as_raw_fd(), &mut info, &mut len)
            };
            if r == 0 {
                total.0 += info.run_time_ns;
                total.1 += info.run_cnt;
            }
        }
        Some(total)
    }
}
