// SPDX-License-Identifier: GPL-2.0-only
//
// The command line: clap's definition of the options, and their translation into a validated
// `RunPlan` (one `VmPlan` per VM, from --vm-spec entries and/or --vms copies of the defaults).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::guest_code::MAX_VCPUS;

const AFTER_HELP: &str = "\
VM specs: --vm-spec NAME:VCPUS:WORKLOAD[:LOAD_PCT[:PERIOD_US]] adds one VM with its own values;
the fields left out come from --load-pct and --period-us. --vms N adds N more VMs built from
--vcpus/--workload, named <--name>0, <--name>1, ... (N defaults to 1 without --vm-spec, to 0
with it). Every VM is a process of its own; with --cgroup-root R it runs in cgroup R/NAME.

Workloads:
  periodic  every period each vCPU runs one job of load-pct% of the period (a calibrated guest
            spin loop), then exits to the VMM, which records the response time (deadline =
            period) and sleeps until the next release
  hog       each vCPU increments a counter in guest memory forever
  lock      the VM's vCPUs contend for one guest spinlock: hold it --cs-us, then work --ncs-us;
            waiters spin with pause and/or KVM's sched-yield hypercall to the holder (--yield)

Examples:
  axrt-vmload --vms 1 --vcpus 2 --workload periodic --load-pct 30 --period-us 10000
  axrt-vmload --vm-spec rt:2:periodic:30:10000 --vm-spec batch:2:hog --cgroup-root /sys/fs/cgroup/vms
  axrt-vmload --vcpus 4 --workload lock --yield hypercall --duration-s 5 --json out.json

Exit status: 0 done, 1 runtime failure (no /dev/kvm, cgroup not writable, a VM failed),
2 bad arguments.";

/// What the vCPUs of a VM run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Periodic jobs with a deadline equal to the period.
    Periodic,
    /// A CPU hog counting its work.
    Hog,
    /// Spinlock contention between the VM's vCPUs.
    Lock,
    /// Periodic jobs released by the guest's own LAPIC timer: the vCPU waits in `hlt`.
    Halt,
}

impl Workload {
    /// Whether the vCPUs run periodic jobs (with a load and a period).
    pub fn is_periodic(self) -> bool {
        matches!(self, Workload::Periodic | Workload::Halt)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::Periodic => "periodic",
            Workload::Hog => "hog",
            Workload::Lock => "lock",
            Workload::Halt => "halt",
        })
    }
}

impl FromStr for Workload {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <Workload as ValueEnum>::from_str(s, true)
            .map_err(|_| format!("unknown workload '{s}' (periodic, halt, hog or lock)"))
    }
}

/// How a lock waiter waits while the lock is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum YieldMode {
    /// Spin with `pause` (the CPU's pause-loop exiting may yield on the guest's behalf).
    Pause,
    /// Issue KVM_HC_SCHED_YIELD to the holder's APIC id on every look at a taken lock.
    Hypercall,
    /// `--pauses-per-yield` pause spins, then one hypercall, and again.
    Both,
}

impl fmt::Display for YieldMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            YieldMode::Pause => "pause",
            YieldMode::Hypercall => "hypercall",
            YieldMode::Both => "both",
        })
    }
}

/// Command-line options (see `--help`).
#[derive(Debug, Parser)]
#[command(
    name = "axrt-vmload",
    version,
    about = "KVM micro-guest workload generator: VMs whose vCPU threads run periodic jobs, hogs \
             or spinlock contention, with per-vCPU response times and CPU shares",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// VMs built from --vcpus/--workload [default: 1 without --vm-spec, 0 with it]
    #[arg(long, value_name = "N")]
    pub vms: Option<u32>,
    /// vCPUs per VM (each a thread named "CPU <n>/KVM")
    #[arg(long, value_name = "M", default_value_t = 1)]
    pub vcpus: u32,
    /// What the vCPUs run
    #[arg(long, value_enum, default_value_t = Workload::Periodic)]
    pub workload: Workload,
    /// Period (and relative deadline) of a periodic vCPU, in microseconds
    #[arg(long, value_name = "US", default_value_t = 10_000)]
    pub period_us: u64,
    /// Work of a periodic job, in percent of the period
    #[arg(long, value_name = "PCT", default_value_t = 30.0)]
    pub load_pct: f64,
    /// How long the workload runs, in seconds (SIGINT/SIGTERM stop it earlier)
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    pub duration_s: f64,
    /// Put each VM in cgroup <ROOT>/<vm name> (created; +cpu enabled on the way where possible)
    #[arg(long, value_name = "ROOT")]
    pub cgroup_root: Option<PathBuf>,
    /// Name prefix of the --vms VMs (<NAME>0, <NAME>1, ...)
    #[arg(long, value_name = "NAME", default_value = "vm")]
    pub name: String,
    /// How lock waiters wait
    #[arg(long = "yield", value_enum, default_value_t = YieldMode::Pause)]
    pub yield_mode: YieldMode,
    /// Lock: length of the critical section, in microseconds
    #[arg(long, value_name = "US", default_value_t = 200)]
    pub cs_us: u64,
    /// Lock: non-critical work between two acquisitions, in microseconds
    #[arg(long, value_name = "US", default_value_t = 200)]
    pub ncs_us: u64,
    /// Lock with --yield both: pause spins between two hypercalls
    #[arg(long, value_name = "N", default_value_t = 128)]
    pub pauses_per_yield: u32,
    /// One more VM: NAME:VCPUS:WORKLOAD[:LOAD_PCT[:PERIOD_US]] (repeatable)
    #[arg(long = "vm-spec", value_name = "SPEC")]
    pub vm_specs: Vec<String>,
    /// Run VM's vCPU threads SCHED_FIFO at PRIO (1-99, default 50), like `chrt -f` on QEMU
    /// (repeatable)
    #[arg(long = "fifo", value_name = "VM[:PRIO]")]
    pub fifo: Vec<String>,
    /// Also write the results as one JSON document to FILE
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Print the guest program of WORKLOAD (offset, bytes, mnemonic) and exit
    #[arg(long, value_name = "WORKLOAD")]
    pub show_guest: Option<Workload>,
}

/// One VM to start.
#[derive(Clone, Debug, PartialEq)]
pub struct VmPlan {
    /// Its name: the cgroup's name and the `vm` column of the results.
    pub name: String,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// What they run.
    pub workload: Workload,
    /// Periodic: job size in percent of the period.
    pub load_pct: f64,
    /// Periodic: period and deadline in microseconds.
    pub period_us: u64,
    /// SCHED_FIFO priority of the vCPU threads (None: the default policy).
    pub fifo: Option<u8>,
}

/// Everything a run needs, validated.
#[derive(Clone, Debug)]
pub struct RunPlan {
    /// The VMs, in start order.
    pub vms: Vec<VmPlan>,
    /// How long the workloads run.
    pub duration: Duration,
    /// Parent cgroup of the VMs' cgroups.
    pub cgroup_root: Option<PathBuf>,
    /// Lock waiters' strategy.
    pub yield_mode: YieldMode,
    /// Lock critical section in microseconds.
    pub cs_us: u64,
    /// Lock non-critical section in microseconds.
    pub ncs_us: u64,
    /// Pause spins per hypercall with `YieldMode::Both`.
    pub pauses_per_yield: u32,
    /// Where to write the JSON document.
    pub json: Option<PathBuf>,
}

/// Parses NAME:VCPUS:WORKLOAD[:LOAD_PCT[:PERIOD_US]]; missing fields come from `defaults`.
pub fn parse_vm_spec(spec: &str, defaults: &VmPlan) -> Result<VmPlan, String> {
    let parts: Vec<&str> = spec.split(':').collect();
    if !(3..=5).contains(&parts.len()) {
        return Err(format!(
            "--vm-spec '{spec}': expected NAME:VCPUS:WORKLOAD[:LOAD_PCT[:PERIOD_US]]"
        ));
    }
    let bad = |what: &str, v: &str| format!("--vm-spec '{spec}': bad {what} '{v}'");
    let mut vm = defaults.clone();
    vm.name = parts[0].to_string();
    vm.vcpus = parts[1].parse().map_err(|_| bad("vCPU count", parts[1]))?;
    vm.workload = parts[2]
        .parse()
        .map_err(|e: String| format!("--vm-spec '{spec}': {e}"))?;
    if let Some(v) = parts.get(3) {
        vm.load_pct = v.parse().map_err(|_| bad("load percentage", v))?;
    }
    if let Some(v) = parts.get(4) {
        vm.period_us = v.parse().map_err(|_| bad("period", v))?;
    }
    Ok(vm)
}

/// Default SCHED_FIFO priority of `--fifo VM`.
pub const FIFO_DEFAULT_PRIORITY: u8 = 50;

/// Parses `--fifo VM[:PRIO]` into the VM name and priority.
pub fn parse_fifo(arg: &str) -> Result<(&str, u8), String> {
    let (name, prio) = match arg.split_once(':') {
        Some((name, p)) => match p.parse::<u8>() {
            Ok(p) if (1..=99).contains(&p) => (name, p),
            _ => return Err(format!("--fifo '{arg}': the priority must be 1..=99")),
        },
        None => (arg, FIFO_DEFAULT_PRIORITY),
    };
    Ok((name, prio))
}

fn check_vm(vm: &VmPlan) -> Result<(), String> {
    let name_ok = !vm.name.is_empty()
        && vm.name.len() <= 64
        && vm
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !vm.name.starts_with('.');
    if !name_ok {
        return Err(format!(
            "VM name '{}': use 1-64 of [A-Za-z0-9_.-], not starting with '.'",
            vm.name
        ));
    }
    if vm.vcpus == 0 || vm.vcpus > MAX_VCPUS {
        return Err(format!(
            "VM {}: vCPUs must be 1..={MAX_VCPUS}, got {}",
            vm.name, vm.vcpus
        ));
    }
    if vm.workload.is_periodic() {
        if !(vm.load_pct > 0.0 && vm.load_pct <= 100.0) {
            return Err(format!(
                "VM {}: load must be in (0, 100] %, got {}",
                vm.name, vm.load_pct
            ));
        }
        if !(100..=10_000_000).contains(&vm.period_us) {
            return Err(format!(
                "VM {}: period must be 100..=10000000 us, got {}",
                vm.name, vm.period_us
            ));
        }
        // The guest's timer counts nanoseconds in 32 bits.
        if vm.workload == Workload::Halt && vm.period_us > 4_000_000 {
            return Err(format!(
                "VM {}: a halt workload's period must be at most 4000000 us, got {}",
                vm.name, vm.period_us
            ));
        }
    }
    Ok(())
}

impl Cli {
    /// Builds and validates the run plan; the error is one line for a usage message.
    pub fn plan(&self) -> Result<RunPlan, String> {
        let defaults = VmPlan {
            name: self.name.clone(),
            vcpus: self.vcpus,
            workload: self.workload,
            load_pct: self.load_pct,
            period_us: self.period_us,
            fifo: None,
        };
        let mut vms = self
            .vm_specs
            .iter()
            .map(|s| parse_vm_spec(s, &defaults))
            .collect::<Result<Vec<_>, _>>()?;
        let copies = self.vms.unwrap_or(if vms.is_empty() { 1 } else { 0 });
        for i in 0..copies {
            vms.push(VmPlan {
                name: format!("{}{i}", self.name),
                ..defaults.clone()
            });
        }
        if vms.is_empty() {
            return Err("no VM to start (--vms 0 and no --vm-spec)".into());
        }
        for (i, vm) in vms.iter().enumerate() {
            check_vm(vm)?;
            if vms[..i].iter().any(|o| o.name == vm.name) {
                return Err(format!("two VMs are named '{}'", vm.name));
            }
        }
        for arg in &self.fifo {
            let (name, prio) = parse_fifo(arg)?;
            match vms.iter_mut().find(|v| v.name == name) {
                Some(vm) => vm.fifo = Some(prio),
                None => return Err(format!("--fifo '{arg}': there is no VM named '{name}'")),
            }
        }
        if !(self.duration_s > 0.0 && self.duration_s <= 86_400.0) {
            return Err(format!(
                "--duration-s must be in (0, 86400], got {}",
                self.duration_s
            ));
        }
        if self.cs_us == 0 || self.ncs_us == 0 || self.cs_us > 1_000_000 || self.ncs_us > 1_000_000
        {
            return Err("--cs-us and --ncs-us must be 1..=1000000".into());
        }
        if self.pauses_per_yield == 0 {
            return Err("--pauses-per-yield must be at least 1".into());
        }
        Ok(RunPlan {
            vms,
            duration: Duration::from_secs_f64(self.duration_s),
            cgroup_root: self.cgroup_root.clone(),
            yield_mode: self.yield_mode,
            cs_us: self.cs_us,
            ncs_us: self.ncs_us,
            pauses_per_yield: self.pauses_per_yield,
            json: self.json.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<RunPlan, String> {
        let mut argv = vec!["axrt-vmload"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map_err(|e| e.to_string())?.plan()
    }

    #[test]
    fn defaults_give_one_periodic_vm() {
        let p = plan(&[]).unwrap();
        assert_eq!(p.vms.len(), 1);
        assert_eq!(p.vms[0].name, "vm0");
        assert_eq!(p.vms[0].workload, Workload::Periodic);
        assert_eq!(p.vms[0].period_us, 10_000);
        assert_eq!(p.duration, Duration::from_secs(10));
    }

    #[test]
    fn copies_are_numbered() {
        let p = plan(&[
            "--vms",
            "3",
            "--vcpus",
            "2",
            "--workload",
            "hog",
            "--name",
            "bg",
        ])
        .unwrap();
        let names: Vec<_> = p.vms.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["bg0", "bg1", "bg2"]);
        assert!(p
            .vms
            .iter()
            .all(|v| v.vcpus == 2 && v.workload == Workload::Hog));
    }

    #[test]
    fn mixed_scenario_in_one_invocation() {
        let p = plan(&[
            "--vm-spec",
            "rt:2:periodic:30:1000",
            "--vm-spec",
            "batch:2:hog",
            "--load-pct",
            "50",
        ])
        .unwrap();
        assert_eq!(p.vms.len(), 2);
        assert_eq!(
            p.vms[0],
            VmPlan {
                name: "rt".into(),
                vcpus: 2,
                workload: Workload::Periodic,
                load_pct: 30.0,
                period_us: 1000,
                fifo: None,
            }
        );
        assert_eq!(p.vms[1].workload, Workload::Hog);
        assert_eq!(p.vms[1].load_pct, 50.0);
        let p = plan(&["--vm-spec", "a:1:lock", "--vms", "1"]).unwrap();
        assert_eq!(p.vms[1].name, "vm0");
    }

    #[test]
    fn fifo_names_a_vm() {
        let p = plan(&[
            "--vm-spec",
            "rt:2:periodic",
            "--vm-spec",
            "b:1:hog",
            "--fifo",
            "rt",
        ])
        .unwrap();
        assert_eq!(p.vms[0].fifo, Some(FIFO_DEFAULT_PRIORITY));
        assert_eq!(p.vms[1].fifo, None);
        let p = plan(&["--vms", "2", "--fifo", "vm1:70"]).unwrap();
        assert_eq!((p.vms[0].fifo, p.vms[1].fifo), (None, Some(70)));
    }

    #[test]
    fn bad_specs_are_rejected() {
        let defaults = plan(&[]).unwrap().vms[0].clone();
        for bad in [
            "a",
            "a:2",
            "a:x:hog",
            "a:2:spin",
            "a:2:periodic:x",
            "a:2:periodic:30:1:2",
            "a:2:hog:1:y",
        ] {
            assert!(parse_vm_spec(bad, &defaults).is_err(), "{bad}");
        }
        for bad in [
            &["--vcpus", "0"][..],
            &["--vcpus", "65"],
            &["--load-pct", "0"],
            &["--load-pct", "101"],
            &["--period-us", "10"],
            &["--duration-s", "0"],
            &["--vm-spec", "a:1:hog", "--vm-spec", "a:1:hog"],
            &["--vm-spec", "../x:1:hog"],
            &["--vms", "0"],
            &["--cs-us", "0"],
            &["--workload", "nope"],
            &["--fifo", "vm0:0"],
            &["--fifo", "vm0:100"],
            &["--fifo", "nosuchvm"],
        ] {
            assert!(plan(bad).is_err(), "{bad:?}");
        }
    }
}
