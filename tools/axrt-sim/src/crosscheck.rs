// SPDX-License-Identifier: GPL-2.0-only
//
// crosscheck.rs - the simulator against the real scheduler. The same rt-app workload and
// axrt.toml ran under scx_axrt (rt-app's logs, the taskgroups' cpu.stat); here they run
// through the AxRT system in virtual time and the two are compared per VM:
//
// * miss ratio: the share of rt-app log rows whose slack is negative (the thread reached its
//   timer after the expiry), read by the same code from the real and the simulated logs;
// * CPU share: the VM's CPU time over the run, in % of one CPU (real: cpu.stat usage_usec of its
//   taskgroups, created fresh by `place`; simulated: the VM's threads' CPU time).
//
// Tolerances come from the emulation's noise, measured in the same run on a probe: a VM
// (`--probe-vm`) that the scheduler never makes wait (the best priority, at most one thread per
// CPU), so whatever its threads see is the machine, not the scheduler. Under QEMU TCG on a shared
// host a vCPU runs at a speed that varies with the host's load, and now and then stops for
// milliseconds while the guest's clock goes on. From the probe's rows:
// * speed: the wall time its `run` events took over the work they asked for (rt-app calibrated
//   its loop once, at start); the simulation runs every `run` at that scale, and at x0.85 and
//   x1.15 of it (a guest CPU-second is worth +-15 % of work from run to run, README "Validation
//   with real vCPUs"); the real share must fall within the three results +- 3 points of a CPU
//   (budget enforcement lags about 1 ms per 100 ms period per CPU under emulation), and a VM of
//   worse priority than the host's may also lose what the host's own threads took (measured:
//   every other thread's CPU time from the scheduler's own clock, /proc/*/task/*/schedstat);
// * stalls: the share of the probe's rows that came late although nothing could delay them;
//   another VM's real miss ratio must fall within the simulated range widened by that share
//   and 5 points (a single stall costs a few rows).
// * cost of a wake-up: the probe's CPU time (cpu.stat) beyond the wall time of its work, per
//   row (one wake, switch and block each): the BPF statistics see only scx_axrt's programs, not
//   the kernel's own paths, so the simulated decision cost is raised to cover the difference.
// The probe's own share and miss ratio are these measurements, so they are reported, not checked.

//! `axrt-sim crosscheck`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use scx_axrt::config::Config;

use crate::engine::{self, Options, Overhead};
use crate::overhead;
use crate::rtlog::{self, Row};
use crate::scenario::Scenario;
use crate::sched::SystemSched;
use crate::workload::Workload;

/// Work scale of the emulated CPU, +- (see the module documentation).
pub const WORK_NOISE: f64 = 0.15;
/// Added to the miss-ratio range, absolute.
pub const MISS_SLACK: f64 = 0.05;
/// Added to the share range, points of one CPU.
pub const SHARE_SLACK: f64 = 3.0;

/// `axrt-sim crosscheck` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The rt-app workload that ran.
    #[arg(long)]
    pub workload: PathBuf,
    /// The axrt.toml scx_axrt ran with.
    #[arg(long)]
    pub config: PathBuf,
    /// CPUs of the machine it ran on.
    #[arg(long)]
    pub cpus: usize,
    /// Directory of the real run's rt-app logs.
    #[arg(long)]
    pub real_logs: PathBuf,
    /// Where the taskgroups are (cgroup2 mount).
    #[arg(long, default_value = "/sys/fs/cgroup")]
    pub cgroup_root: PathBuf,
    /// `axrt-sim place`'s output line (to check the threads were placed before they started).
    #[arg(long)]
    pub placed: PathBuf,
    /// `bpf-stats` snapshots around the real run: the overhead model is fitted from them
    /// (without them, the built-in fitted parameters are used).
    #[arg(long, requires = "bpf_after")]
    pub bpf_before: Option<PathBuf>,
    /// See --bpf-before.
    #[arg(long)]
    pub bpf_after: Option<PathBuf>,
    /// The VM whose threads the scheduler never delays, used to measure the emulation's noise.
    #[arg(long)]
    pub probe_vm: String,
    /// `cpu-snapshot`s taken after `place` and after rt-app ended: the CPU the host's own
    /// threads (those in both) took meanwhile; the simulation has none.
    #[arg(long, requires = "cpu_after")]
    pub cpu_before: Option<PathBuf>,
    /// See --root-before.
    #[arg(long)]
    pub cpu_after: Option<PathBuf>,
    /// Where to write the table and the simulated logs.
    #[arg(long)]
    pub out: PathBuf,
}

/// One VM's figures.
#[derive(Clone, Debug, Default)]
struct Figures {
    rows: usize,
    late: usize,
    share: f64,
}

impl Figures {
    fn miss(&self) -> f64 {
        if self.rows == 0 {
            0.0
        } else {
            self.late as f64 / self.rows as f64
        }
    }
}

fn add_rows(f: &mut Figures, rows: &[Row]) {
    let s = rtlog::summarize(rows, 0);
    f.rows += s.rows;
    f.late += s.late;
}

fn usage_usec(dir: &Path) -> Result<u64> {
    stat_usage(&dir.join("cpu.stat"))
}

/// CPU time of the threads present in both `cpu-snapshot`s (the workload's threads exist only
/// in the first), ns.
fn host_cpu_ns(before: &Path, after: &Path) -> Result<u64> {
    let read = |p: &Path| -> Result<std::collections::BTreeMap<u32, u64>> {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{}: a cpu-snapshot", p.display()))
    };
    let (b, a) = (read(before)?, read(after)?);
    Ok(a.iter()
        .filter_map(|(tid, ns)| b.get(tid).map(|old| ns.saturating_sub(*old)))
        .sum())
}

/// `usage_usec` of a cpu.stat file.
fn stat_usage(path: &Path) -> Result<u64> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .find_map(|l| l.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("{}: no usage_usec", path.display()))
}

/// Runs the comparison; prints the table and PASS/FAIL lines.
pub fn run(a: &Args) -> Result<ExitCode> {
    let w = Workload::load(&a.workload)?;
    let cfg = Config::load(&a.config, a.cpus)?;
    let Some(secs) = w.duration_s else {
        bail!("the workload must have a global.duration to compare shares");
    };
    let model = match (&a.bpf_before, &a.bpf_after) {
        (Some(b), Some(af)) => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
            };
            let fit = overhead::fit(&read(b)?, &read(af)?)?;
            println!("overhead model fitted from this run's BPF statistics:\n{fit}");
            fit.overhead
        }
        _ => overhead::FITTED,
    };
    let base = Scenario::build(&w, &cfg, a.cpus, None, 1.0)?;
    let nvm = cfg.vms.len() + 1; // index 0: host
    let slot = |vm: Option<usize>| vm.map_or(0, |v| v + 1);

    // The real run.
    let mut real = vec![Figures::default(); nvm];
    let logs = rtlog::read_logs(&a.real_logs, &w.log_basename)?;
    if logs.len() != base.threads.len() {
        bail!(
            "{}: {} rt-app logs named {}-*-N.log, the workload has {} threads",
            a.real_logs.display(),
            logs.len(),
            w.log_basename,
            base.threads.len()
        );
    }
    let probe = cfg
        .vm_index(&a.probe_vm)
        .with_context(|| format!("--probe-vm {}: no [[vm]] of that name", a.probe_vm))?;
    let (mut wall, mut asked, mut probe_rows, mut probe_late) = (0u64, 0u64, 0usize, 0usize);
    let mut first_start = u64::MAX;
    for (task, index, rows) in &logs {
        let t = base
            .threads
            .iter()
            .find(|t| t.index == *index && &t.task == task)
            .with_context(|| format!("log of {task}-{index}: no such thread in the workload"))?;
        add_rows(&mut real[slot(t.vm)], rows);
        if t.vm == Some(probe) {
            wall += rows.iter().map(|r| r.run).sum::<u64>();
            asked += rows.iter().map(|r| r.c_duration).sum::<u64>();
            probe_rows += rows.len();
            probe_late += rows.iter().filter(|r| r.slack < 0).count();
        }
        if let Some(r) = rows.first() {
            first_start = first_start.min(r.start);
        }
    }
    let mut seen = Vec::new();
    for t in &w.tasks {
        if let Some(g) = &t.taskgroup {
            let g = g.trim_matches('/');
            if seen.iter().any(|s: &String| s == g) {
                continue;
            }
            seen.push(g.to_string());
            let used = usage_usec(&a.cgroup_root.join(g))?;
            real[slot(cfg.vm_of_cgroup(g))].share += 100.0 * used as f64 / (secs as f64 * 1e6);
        }
    }

    // The host's threads (scx_axrt's brain, the shell, kernel threads) are not simulated; they
    // take their CPU from the VMs of worse priority than the host's.
    let host_share = match (&a.cpu_before, &a.cpu_after) {
        (Some(b), Some(af)) => 100.0 * host_cpu_ns(b, af)? as f64 / (secs as f64 * 1e9),
        _ => 0.0,
    };
    println!("the host's own threads took {host_share:.1} % of a CPU");

    // The simulations at the three work scales.
    if asked == 0 {
        bail!("the probe VM {} has no rows with run events", a.probe_vm);
    }
    let speed = wall as f64 / asked as f64;
    let stalls = probe_late as f64 / probe_rows as f64;
    println!(
        "emulation noise from the probe VM {}: run events took {speed:.2}x the wall time asked for; {:.1} % of its {probe_rows} rows were late",
        a.probe_vm,
        100.0 * stalls
    );
    // What a wake-up cycle (wake, switch in, block) costs in all: the probe's CPU time beyond
    // its work, per row. The BPF statistics see only scx_axrt's programs; under emulation the
    // kernel's own paths (timer interrupt, syscalls, the switch) cost more, and they are
    // charged to the threads as scx_axrt's are, so the decision cost takes up the difference.
    let probe_ns = real[slot(Some(probe))].share / 100.0 * secs as f64 * 1e9;
    let cycle = ((probe_ns - wall as f64 * 1e3) / probe_rows as f64).max(0.0) as u64;
    let model = Overhead {
        decision: model.decision.max(cycle.saturating_sub(model.switch) / 2),
        switch: model.switch,
    };
    println!(
        "a wake-up cycle of the probe costs {cycle} ns of CPU beyond its work: simulated with {} ns per decision, {} ns per switch",
        model.decision, model.switch
    );
    let scales = [
        speed * (1.0 - WORK_NOISE),
        speed,
        speed * (1.0 + WORK_NOISE),
    ];
    let mut sims: Vec<Vec<Figures>> = Vec::new();
    for &scale in &scales {
        let sc = Scenario::build(&w, &cfg, a.cpus, None, scale)?;
        let opt = Options {
            overhead: model,
            abort_late: false,
            logs: true,
            events: false,
        };
        let r = engine::run(&sc, Box::new(SystemSched::new(&sc)?), opt);
        let mut f = vec![Figures::default(); nvm];
        for (spec, out) in sc.threads.iter().zip(&r.threads) {
            add_rows(&mut f[slot(spec.vm)], &out.rows);
            f[slot(spec.vm)].share += 100.0 * out.cpu_ns as f64 / r.duration as f64;
        }
        if scale == 1.0 {
            crate::output::write_logs(&a.out.join("sim-logs"), &sc, &r)?;
        }
        sims.push(f);
    }

    // The table and the checks.
    let range = |v: Vec<f64>| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    };
    let mut table = String::from(
        "| VM | budget | CPU share, real | CPU share, simulated (work x0.85 / x1 / x1.15 of the measured speed) | miss ratio, real | miss ratio, simulated | rows real / simulated |\n|---|---|---|---|---|---|---|\n",
    );
    let mut checks: Vec<(bool, String)> = Vec::new();
    let placed = std::fs::read_to_string(&a.placed)
        .with_context(|| format!("reading {}", a.placed.display()))?;
    let done: u64 = serde_json::from_str::<serde_json::Value>(placed.trim())
        .ok()
        .and_then(|v| v["done_us"].as_u64())
        .with_context(|| format!("{}: no done_us", a.placed.display()))?;
    checks.push((
        done < first_start,
        format!(
            "sim crosscheck: the threads were in their taskgroups before the first iteration started ({} us before)",
            first_start as i64 - done as i64
        ),
    ));
    for i in 0..nvm {
        let vm = if i == 0 { None } else { Some(i - 1) };
        if !base.threads.iter().any(|t| t.vm == vm) {
            continue;
        }
        let name = base.vm_name(vm);
        let r = &real[i];
        let (slo, shi) = range(sims.iter().map(|s| s[i].share).collect());
        let (mlo, mhi) = range(sims.iter().map(|s| s[i].miss()).collect());
        let mid = &sims[1][i];
        let _ = writeln!(
            table,
            "| {name} | {} | {:.1} % | {:.1} / {:.1} / {:.1} % | {:.1} % | {:.1} / {:.1} / {:.1} % | {} / {} |",
            base.vm_budget(vm).map_or("–".into(), |b| format!("{:.0} %", 100.0 * b)),
            r.share,
            sims[0][i].share,
            mid.share,
            sims[2][i].share,
            100.0 * r.miss(),
            100.0 * sims[0][i].miss(),
            100.0 * mid.miss(),
            100.0 * sims[2][i].miss(),
            r.rows,
            mid.rows
        );
        let below_host = vm.is_some_and(|v| cfg.vms[v].params.priority > cfg.system.host_priority);
        let slack = SHARE_SLACK + if below_host { host_share } else { 0.0 };
        if vm != Some(probe) && (vm.is_some() || r.share > 0.0) {
            checks.push((
                r.share >= slo - slack && r.share <= shi + SHARE_SLACK,
                format!(
                    "sim crosscheck: VM {name}'s CPU share agrees (real {:.1} %, simulated {:.1}..{:.1} % -{slack:.1}/+{SHARE_SLACK})",
                    r.share, slo, shi
                ),
            ));
        }
        if mid.rows > 0 && vm != Some(probe) {
            let slack = MISS_SLACK + stalls;
            checks.push((
                r.rows > 0 && r.miss() >= mlo - slack && r.miss() <= mhi + slack,
                format!(
                    "sim crosscheck: VM {name}'s miss ratio agrees (real {:.1} % of {} rows, simulated {:.1}..{:.1} % +-{:.1})",
                    100.0 * r.miss(),
                    r.rows,
                    100.0 * mlo,
                    100.0 * mhi,
                    100.0 * slack
                ),
            ));
        }
    }
    std::fs::create_dir_all(&a.out)?;
    std::fs::write(a.out.join("crosscheck.md"), &table)?;
    println!(
        "overhead model: {} ns per decision, {} ns per switch\n\n{table}",
        model.decision, model.switch
    );
    let mut ok = true;
    for (pass, what) in &checks {
        println!("{}: {what}", if *pass { "PASS" } else { "FAIL" });
        ok &= pass;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
