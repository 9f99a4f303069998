// SPDX-License-Identifier: GPL-2.0-only
//
// sched.rs - one run of the BPF tier: open the skeleton built from ../bpf/axrt.bpf.c, hand it
// the configuration (slice, queue design, starvation reserve, watchdog timeout), load and attach
// its struct_ops (through scx_utils' compat macros, which adapt the ops to the running kernel:
// on kernels before 6.17 they clear ops.cgroup_set_bandwidth, and the loader must then feed
// cpu.max itself, see `Scheduler::kernel_tracks_cpu_max`), wait until told to stop or ejected,
// detach, and read back why it ended. The maps are reached through `Scheduler::maps`.

//! Loading, running and detaching the BPF scheduler.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{AsRawLibbpf, Link, OpenObject};
use scx_utils::{scx_ops_attach, scx_ops_load, scx_ops_open, uei_exited, UserExitInfo};

use crate::bpf_intf;
use crate::bpf_skel::{BpfSkel, BpfSkelBuilder};
use crate::cli::Opts;
use crate::counters::STAT_NAMES;
use crate::exit::{c_array_to_string, c_ptr_to_string, ExitInfo};
use crate::maps::Maps;

/// The struct_ops name the kernel shows in /sys/kernel/sched_ext/root/ops.
pub const OPS_NAME: &str = "axrt";

/// How often the run loop looks at the stop flag and the exit record.
const POLL: Duration = Duration::from_millis(100);
/// How often `--verbose` prints the counters.
const STATS_EVERY: Duration = Duration::from_secs(1);
/// How long to wait for ops.exit() to record the exit after the link is dropped.
const EXIT_RECORD_WAIT: Duration = Duration::from_secs(2);

/// The shortest watchdog timeout we ask for, whatever the reserve (ms).
const MIN_TIMEOUT_MS: u64 = bpf_intf::AXRT_TIMEOUT_MS as u64;
/// The kernel's cap on the watchdog timeout (ms).
const MAX_TIMEOUT_MS: u64 = 30_000;

/// The BPF scheduler, loaded and attached.
pub struct Scheduler<'obj> {
    skel: BpfSkel<'obj>,
    /// The struct_ops link; while it exists, the kernel schedules with our ops.
    link: Option<Link>,
    maps: Maps,
    /// The kernel calls ops.cgroup_set_bandwidth (6.17+): the BPF tier sees cpu.max itself.
    cpu_max_in_kernel: bool,
    verbose: bool,
}

impl<'obj> Scheduler<'obj> {
    /// Opens, configures, loads and attaches the BPF tier. On success sched_ext is enabled with
    /// our ops; on failure nothing stays attached.
    pub fn load(opts: &Opts, open_object: &'obj mut MaybeUninit<OpenObject>) -> Result<Self> {
        scx_utils::try_set_rlimit_infinity();

        let builder = BpfSkelBuilder::default();
        let mut open = scx_ops_open!(
            builder,
            open_object,
            axrt_ops,
            None::<libbpf_rs::libbpf_sys::bpf_object_open_opts>
        )
        .context("cannot open the BPF scheduler")?;

        // scx_ops_open! appends the scx_utils version to the ops name; keep it plain "axrt".
        set_ops_name(&mut open.struct_ops.axrt_ops_mut().name, OPS_NAME);
        // scx_ops_attach! attaches the struct_ops map itself, after the other programs;
        // keep libbpf's skeleton attach away from it (libbpf-rs skeletons have no link slot
        // for it, so libbpf would warn about that on every start).
        let ops_map = open.maps.axrt_ops.as_libbpf_object().as_ptr();
        // SAFETY: `ops_map` is a valid map of the open object, which outlives this call.
        unsafe { libbpf_rs::libbpf_sys::bpf_map__set_autoattach(ops_map, false) };

        let reserve_ms = opts.reserve_ms();
        let rodata = open
            .maps
            .rodata_data
            .as_mut()
            .context("the BPF object has no .rodata")?;
        rodata.slice_ns = opts.slice_ns();
        rodata.host_prio = u32::from(opts.host_priority);
        rodata.queue_mode = opts.queue.to_raw();
        rodata.reserve_ns = reserve_ms * 1_000_000;
        rodata.boost_enabled = !opts.no_boost;
        // The per-window and per-job events are for the --events file (a replay's input).
        rodata.detail_events = opts.events.is_some();
        if opts.no_lock_trace {
            for prog in [
                &mut open.progs.axrt_futex_lock_pi,
                &mut open.progs.axrt_futex_lock_pi_exit,
                &mut open.progs.axrt_futex_unlock_pi,
            ] {
                prog.set_autoload(false);
            }
        }
        // The watchdog stays far above the reserve (which keeps every wait under it).
        let timeout_ms = opts.watchdog_ms().clamp(MIN_TIMEOUT_MS, MAX_TIMEOUT_MS);
        open.struct_ops.axrt_ops_mut().timeout_ms = timeout_ms as u32;
        log::debug!(
            "queue {:?}, slice {} ns, reserve {reserve_ms} ms, watchdog {timeout_ms} ms",
            opts.queue,
            opts.slice_ns()
        );

        // scx_ops_load! clears ops.cgroup_set_bandwidth on kernels without it (before 6.17);
        // then cpu.max must come from cgroupfs (Maps::set_cgroup_bw).
        let cpu_max_in_kernel =
            scx_utils::compat::struct_has_field("sched_ext_ops", "cgroup_set_bandwidth")
                .unwrap_or(false);

        let mut skel = scx_ops_load!(open, axrt_ops, uei)
            .map_err(hint_permissions)
            .context("cannot load the BPF scheduler")?;
        let link = scx_ops_attach!(skel, axrt_ops)
            .map_err(hint_permissions)
            .context("cannot attach the BPF scheduler")?;

        let maps = Maps::new(&skel)?;
        Ok(Self {
            skel,
            link: Some(link),
            maps,
            cpu_max_in_kernel,
            verbose: opts.verbose,
        })
    }

    /// A second, independent set of map handles (e.g. for another thread).
    pub fn new_maps(&self) -> Result<Maps> {
        Maps::new(&self.skel)
    }

    /// True when the kernel reports cpu.max changes to the BPF tier (ops.cgroup_init and
    /// ops.cgroup_set_bandwidth, Linux 6.17+). When false, the loader must read each group's
    /// cpu.max from cgroupfs and pass it with `Maps::set_cgroup_bw`.
    pub fn kernel_tracks_cpu_max(&self) -> bool {
        self.cpu_max_in_kernel
    }

    /// True once the kernel has recorded an exit (ops.exit() ran).
    /// The maps of the loaded object (readable after detaching, until the scheduler is dropped).
    pub fn maps(&self) -> &Maps {
        &self.maps
    }

    pub fn exited(&self) -> bool {
        uei_exited!(&self.skel, uei)
    }

    /// Runs until `stop` is set or the kernel ends the scheduler, calling `tick` with the maps
    /// every poll period (100 ms) while attached (an error from `tick` is logged and the
    /// scheduler keeps running); then detaches it (the host returns to its default scheduler)
    /// and returns how it ended.
    pub fn run_with(
        &mut self,
        stop: &AtomicBool,
        mut tick: impl FnMut(&Maps) -> Result<()>,
    ) -> Result<ExitInfo> {
        let mut last_print = Instant::now();
        let mut last_stats = [0u64; STAT_NAMES.len()];

        while !stop.load(Ordering::Relaxed) && !self.exited() {
            sleep(POLL);
            if let Err(e) = tick(&self.maps) {
                log::warn!("{e:#}");
            }
            if self.verbose && last_print.elapsed() >= STATS_EVERY {
                last_print = Instant::now();
                match self.read_stats() {
                    Ok(now) => {
                        eprintln!("scx_axrt: stats/s: {}", format_delta(&now, &last_stats));
                        last_stats = now;
                    }
                    Err(e) => log::warn!("cannot read the counters: {e:#}"),
                }
            }
        }

        // Dropping the link unregisters the ops; ops.exit() then records SCX_EXIT_UNREG unless
        // the kernel had already recorded its own reason.
        drop(self.link.take());
        let deadline = Instant::now() + EXIT_RECORD_WAIT;
        while !self.exited() && Instant::now() < deadline {
            sleep(Duration::from_millis(10));
        }
        Ok(self.exit_info())
    }

    /// Sums the per-CPU counters of the `axrt_stats` map.
    pub fn read_stats(&self) -> Result<[u64; STAT_NAMES.len()]> {
        Ok(self.maps.read_global()?.1)
    }

    /// Reads the exit record the BPF tier's ops.exit() wrote.
    fn exit_info(&self) -> ExitInfo {
        let Some(data) = self.skel.maps.data_data.as_ref() else {
            return ExitInfo {
                kind: 0,
                reason: String::new(),
                msg: String::new(),
                exit_cpu: None,
                exit_code: None,
                restart: false,
                dump: None,
            };
        };
        // SAFETY: `data.uei` is plain data in the map's memory, which the kernel writes to;
        // a volatile copy makes sure we see what it wrote.
        let uei = unsafe { std::ptr::read_volatile(&data.uei) };

        // scx_utils interprets exit codes and the restart request; its reason and message
        // decoding would panic on non-UTF-8 text (task names), so it gets empty strings and
        // we decode those ourselves, lossily.
        let empty: [std::ffi::c_char; 1] = [0];
        let helper = UserExitInfo::new(
            &uei.kind,
            &uei.exit_code,
            &uei.exit_cpu,
            empty.as_ptr(),
            empty.as_ptr(),
            std::ptr::null(),
        );

        let mut info = ExitInfo {
            kind: uei.kind,
            reason: c_array_to_string(&uei.reason),
            msg: c_array_to_string(&uei.msg),
            exit_cpu: helper.exit_cpu(),
            exit_code: helper.exit_code(),
            restart: helper.should_restart(),
            dump: None,
        };
        if info.is_error() {
            let ptr = scx_utils::UEI_DUMP_PTR_MUTEX
                .lock()
                .map(|p| p.ptr)
                .unwrap_or(std::ptr::null());
            // SAFETY: scx_ops_load! pointed UEI_DUMP_PTR_MUTEX at this skeleton's dump
            // buffer, which lives as long as `self.skel`; the kernel NUL-terminates it
            // (bpf_probe_read_kernel_str) and it starts zeroed.
            info.dump = unsafe { c_ptr_to_string(ptr) };
        }
        info
    }
}

/// Writes `name` into the fixed-size, NUL-terminated ops name, clearing the rest.
fn set_ops_name(field: &mut [std::ffi::c_char], name: &str) {
    field.fill(0);
    let max = field.len().saturating_sub(1);
    for (dst, src) in field.iter_mut().zip(name.bytes().take(max)) {
        *dst = src as std::ffi::c_char;
    }
}

/// Adds a hint when the kernel refused for lack of privileges.
fn hint_permissions(e: anyhow::Error) -> anyhow::Error {
    let denied = e.chain().any(|cause| {
        cause
            .downcast_ref::<libbpf_rs::Error>()
            .is_some_and(|le| le.kind() == libbpf_rs::ErrorKind::PermissionDenied)
    });
    if denied {
        e.context("permission denied: run scx_axrt as root (it needs CAP_BPF and CAP_SYS_ADMIN)")
    } else {
        e
    }
}

/// "name +delta" pairs for the counters that moved since `prev`.
fn format_delta(now: &[u64], prev: &[u64]) -> String {
    STAT_NAMES
        .iter()
        .zip(now.iter().zip(prev))
        .map(|(name, (n, p))| format!("{name} +{}", n.saturating_sub(*p)))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_name_is_written_and_terminated() {
        let mut field = [b'x' as std::ffi::c_char; 8];
        set_ops_name(&mut field, "axrt");
        assert_eq!(c_array_to_string(&field), "axrt");
        assert!(field[4..].iter().all(|&c| c == 0));

        let mut small = [0 as std::ffi::c_char; 3];
        set_ops_name(&mut small, "axrt");
        assert_eq!(c_array_to_string(&small), "ax");
    }

    #[test]
    fn deltas_are_named() {
        let now = [2u64; STAT_NAMES.len()];
        let prev = [1u64; STAT_NAMES.len()];
        let text = format_delta(&now, &prev);
        assert!(text.starts_with("direct +1, queued +1, dispatched +1"));
    }
}
