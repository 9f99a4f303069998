// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-validate: the validation suite. For each scenario and each mode it prepares the VMs'
// cgroups (and cpu.max, or an scx_axrt configuration), runs the scenario's KVM micro-guests
// with axrt-vmload, and collects the figures; then it writes results.json, results.md and
// results.svg. Everything runs on this machine, one run after the other, so the modes compare.
// Exit status: 0 every run gave figures, 1 some run failed (the outputs are still written),
// 2 bad arguments or an unusable machine.

mod cgroups;
mod mode;
mod outcome;
mod report;
mod scenario;
mod scx;
mod story;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

use anyhow::{bail, Context, Result};
use axrt_vmload::cli::Workload;
use axrt_vmload::report::RunReport;
use clap::Parser;

use mode::Mode;
use outcome::RunOutcome;
use report::Results;
use scenario::Scenario;

/// Command-line options (see `--help`).
#[derive(Debug, Parser)]
#[command(
    name = "axrt-validate",
    version,
    about = "Validation suite: KVM vCPU scenarios under the default scheduler, SCHED_FIFO, \
             cpu.max and scx_axrt on this machine; writes results.{json,md,svg}",
    after_help = "Scenarios: 1 a real-time VM (2 vCPUs, periodic, 30 %) next to a hog VM \
                  (4 vCPUs per CPU, budget 50 % of the machine); 2 three hog VMs with budgets \
                  45/30/15 % of the machine; 3 150 % total demand (real-time, web and budgeted \
                  batch VMs, periodic). Needs root, /dev/kvm, cgroup v2, axrt-vmload and \
                  scx_axrt on PATH (or --vmload/--scx-axrt) and, for the axrt mode, a kernel \
                  with sched_ext and no scheduler attached."
)]
struct Cli {
    /// Scenarios to run, comma-separated
    #[arg(long, default_value = "1,2,3")]
    scenarios: String,
    /// Modes to run each scenario under, comma-separated (default, fifo, cpumax, axrt)
    #[arg(long, default_value = "default,fifo,cpumax,axrt")]
    modes: String,
    /// Period (= deadline) of the periodic vCPUs, µs (10 ms suits emulation; 1 ms hardware)
    #[arg(long, value_name = "US", default_value_t = 10_000)]
    period_us: u64,
    /// Budget period for cpu.max and scx_axrt, µs
    #[arg(long, value_name = "US", default_value_t = 100_000)]
    budget_period_us: u64,
    /// Length of each run, s
    #[arg(long, value_name = "S", default_value_t = 20.0)]
    duration_s: f64,
    /// Output directory
    #[arg(long, value_name = "DIR", default_value = "axrt-validate-out")]
    out: PathBuf,
    /// Parent cgroup of the VMs' cgroups (under /sys/fs/cgroup)
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/fs/cgroup/axrt-validate"
    )]
    cgroup_root: PathBuf,
    /// The axrt-vmload binary
    #[arg(long, value_name = "PATH", default_value = "axrt-vmload")]
    vmload: PathBuf,
    /// The scx_axrt binary
    #[arg(long, value_name = "PATH", default_value = "scx_axrt")]
    scx_axrt: PathBuf,
}

/// Settings of one suite run, validated.
struct Suite {
    cli: Cli,
    cpus: u32,
    cgroup_rel: String,
    scenarios: Vec<Scenario>,
    modes: Vec<Mode>,
}

fn usage_error(message: &str) -> ! {
    eprintln!("axrt-validate: {message} (see --help)");
    exit(2)
}

fn main() {
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        if e.use_stderr() {
            let text = e.to_string();
            usage_error(
                text.lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: "),
            )
        }
        let _ = e.print();
        exit(0)
    });
    let suite = Suite::new(cli).unwrap_or_else(|e| usage_error(&e));
    match suite.run() {
        Ok(true) => exit(0),
        Ok(false) => exit(1),
        Err(e) => {
            eprintln!("axrt-validate: {e:#}");
            exit(2)
        }
    }
}

impl Suite {
    fn new(cli: Cli) -> Result<Suite, String> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let all = scenario::all(cpus);
        let mut scenarios = Vec::new();
        for id in cli.scenarios.split(',') {
            let s = all
                .iter()
                .find(|s| s.id.to_string() == id.trim())
                .ok_or_else(|| format!("--scenarios: no scenario '{id}' (1, 2 or 3)"))?;
            scenarios.push(s.clone());
        }
        let modes = mode::parse_list(&cli.modes).map_err(|e| format!("--modes: {e}"))?;
        if !(100..=1_000_000).contains(&cli.period_us) {
            return Err("--period-us must be 100..=1000000".into());
        }
        if !(1_000..=1_000_000).contains(&cli.budget_period_us) {
            return Err("--budget-period-us must be 1000..=1000000".into());
        }
        if !(cli.duration_s >= 1.0 && cli.duration_s <= 3600.0) {
            return Err("--duration-s must be 1..=3600".into());
        }
        let cgroup_rel = cgroups::relative(&cli.cgroup_root)?;
        Ok(Suite {
            cli,
            cpus,
            cgroup_rel,
            scenarios,
            modes,
        })
    }

    /// Runs everything; Ok(true) when every run gave figures.
    fn run(&self) -> Result<bool> {
        let out = &self.cli.out;
        fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        if self.modes.contains(&Mode::Axrt) && scx::attached() {
            bail!("a sched_ext scheduler is already attached; the axrt mode needs it free");
        }
        cgroups::prepare_root(&self.cli.cgroup_root, self.modes.contains(&Mode::Cpumax))?;

        // Hog work per CPU-second of each budgeted hog VM's shape (its vCPU count), alone on
        // the machine under the default scheduler: what its budget buys when nothing competes.
        let mut hog_rates = BTreeMap::new();
        for spec in self.scenarios.iter().flat_map(|s| &s.vms) {
            if spec.workload != Workload::Hog
                || spec.budget_pct.is_none()
                || hog_rates.contains_key(&spec.vcpus)
            {
                continue;
            }
            let cal = Scenario {
                id: 0,
                title: "calibration",
                vms: vec![scenario::VmSpec {
                    name: format!("calibration-{}", spec.vcpus),
                    budget_pct: None,
                    ..spec.clone()
                }],
            };
            let tag = format!("calibration-{}", spec.vcpus);
            let duration = self.cli.duration_s.min(3.0);
            match self.vmload(&cal, Mode::Default, duration, &tag) {
                Ok(r) => {
                    if let Some(rate) = outcome::hog_rate(&r) {
                        println!(
                            "axrt-validate: a {}-vCPU hog VM alone does {rate:.0} iterations per CPU-second",
                            spec.vcpus
                        );
                        hog_rates.insert(spec.vcpus, rate);
                    }
                }
                Err(e) => println!("axrt-validate: hog calibration failed: {e:#}"),
            }
        }
        println!("axrt-validate: {} CPUs", self.cpus);

        let mut runs = Vec::new();
        for s in &self.scenarios {
            for &m in &self.modes {
                if !m.applies_to(s) {
                    println!("scenario {} under {}: not applicable", s.id, m.label());
                    continue;
                }
                let mut run = self.run_one(s, m, &hog_rates);
                if let Some(e) = run.error.clone().filter(|e| outcome::is_guest_fault(e)) {
                    println!(
                        "scenario {} under {}: a micro-VM faulted ({e}); repeating the run",
                        s.id,
                        m.label()
                    );
                    run = self.run_one(s, m, &hog_rates);
                    run.repeated_after = Some(e);
                }
                println!("{}", progress(s, &run));
                runs.push(run);
            }
        }
        let results = Results {
            cpus: self.cpus,
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            period_us: self.cli.period_us,
            budget_period_us: self.cli.budget_period_us,
            duration_s: self.cli.duration_s,
            hog_rates,
            modes: self.modes.clone(),
            runs,
        };
        let mut table = report::markdown(&results, &self.scenarios);
        let said = story::sentences(&results, &self.scenarios);
        if !said.is_empty() {
            table += "\nWhat the numbers say:\n\n";
            for line in &said {
                table += &format!("- {line}.\n");
            }
        }
        let scx_tables = report::scx_axrt_tables(&results, &self.scenarios);
        write(
            out,
            "results.json",
            &serde_json::to_string_pretty(&results)?,
        )?;
        write(out, "results.md", &table)?;
        write(
            out,
            "results.svg",
            &report::picture(&results, &self.scenarios),
        )?;
        write(out, "scx_axrt-totals.txt", &scx_tables)?;
        print!("\n{table}\n{scx_tables}");
        println!(
            "axrt-validate: wrote results.json, results.md, results.svg and scx_axrt-totals.txt to {}",
            out.display()
        );
        Ok(results.runs.iter().all(|r| r.error.is_none()))
    }

    /// One scenario under one mode; a failure becomes the run's error.
    fn run_one(&self, s: &Scenario, m: Mode, hog_rates: &BTreeMap<u32, f64>) -> RunOutcome {
        let tag = format!("s{}-{}", s.id, m.name());
        let mut scx_log = None;
        let result = (|| -> Result<Vec<outcome::VmOutcome>> {
            let report = {
                let groups = cgroups::VmGroups::create(&self.cli.cgroup_root, s)?;
                for vm in &s.vms {
                    if let Some(v) = m.cpu_max(vm, self.cpus, self.cli.budget_period_us) {
                        groups.set_cpu_max(&vm.name, &v)?;
                    }
                }
                let scx = if m == Mode::Axrt {
                    let config = self.cli.out.join(format!("{tag}.toml"));
                    let text = mode::axrt_config(
                        s,
                        &self.cgroup_rel,
                        self.cpus,
                        self.cli.budget_period_us,
                    );
                    write(&self.cli.out, &format!("{tag}.toml"), &text)?;
                    let log = self.cli.out.join(format!("{tag}-scx_axrt.log"));
                    scx_log = Some(log.clone());
                    Some(scx::Scx::start(&self.cli.scx_axrt, &config, &log)?)
                } else {
                    None
                };
                let report = self.vmload(s, m, self.cli.duration_s, &tag);
                if let Some(scx) = scx {
                    scx.stop()?;
                }
                report?
            };
            outcome::of_report(s, &report, self.cpus, self.cli.period_us, hog_rates)
                .map_err(anyhow::Error::msg)
        })();
        match result {
            Ok(vms) => RunOutcome {
                scenario: s.id,
                mode: m,
                vms,
                scx_axrt: scx_log
                    .and_then(|l| fs::read_to_string(l).ok())
                    .and_then(|l| scx::totals(&l)),
                error: None,
                repeated_after: None,
            },
            Err(e) => RunOutcome::failed(s.id, m, format!("{e:#}")),
        }
    }

    /// Runs axrt-vmload for `s` (under `m`'s SCHED_FIFO settings) and reads its report;
    /// its output goes to OUT/TAG.txt and OUT/TAG.json.
    fn vmload(&self, s: &Scenario, m: Mode, duration_s: f64, tag: &str) -> Result<RunReport> {
        let json = self.cli.out.join(format!("{tag}.json"));
        let text = self.cli.out.join(format!("{tag}.txt"));
        let mut cmd = Command::new(&self.cli.vmload);
        for vm in &s.vms {
            let spec = match vm.workload {
                Workload::Periodic => format!(
                    "{}:{}:periodic:{}:{}",
                    vm.name, vm.vcpus, vm.load_pct, self.cli.period_us
                ),
                w => format!("{}:{}:{w}", vm.name, vm.vcpus),
            };
            cmd.args(["--vm-spec", &spec]);
        }
        for vm in m.fifo_vms(s) {
            cmd.args(["--fifo", &vm.name]);
        }
        cmd.args(["--duration-s", &duration_s.to_string()])
            .arg("--cgroup-root")
            .arg(&self.cli.cgroup_root)
            .arg("--json")
            .arg(&json);
        let _ = fs::remove_file(&json);
        let output = cmd
            .output()
            .with_context(|| format!("running {}", self.cli.vmload.display()))?;
        let mut log = output.stdout;
        log.extend_from_slice(&output.stderr);
        fs::write(&text, &log).with_context(|| format!("writing {}", text.display()))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            bail!(
                "axrt-vmload {}: {}",
                output.status,
                stderr.lines().last().unwrap_or("no message")
            );
        }
        let doc =
            fs::read_to_string(&json).with_context(|| format!("reading {}", json.display()))?;
        serde_json::from_str(&doc).with_context(|| format!("parsing {}", json.display()))
    }
}

fn write(dir: &Path, name: &str, text: &str) -> Result<()> {
    let path = dir.join(name);
    fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// One line per finished run, for the console.
fn progress(s: &Scenario, r: &RunOutcome) -> String {
    let head = format!("scenario {} under {}:", s.id, r.mode.label());
    if let Some(e) = &r.error {
        return format!("{head} FAILED: {e}");
    }
    let figures: Vec<String> = r
        .vms
        .iter()
        .map(|v| {
            let mut f = format!("{} {:.1}% CPU", v.name, v.share_pct);
            if let Some(m) = v.miss_ratio {
                f += &format!(", {:.2}% missed", 100.0 * m);
            }
            if let Some(w) = v.work_vs_budget {
                f += &format!(", work {:.0}% of budget", 100.0 * w);
            }
            f
        })
        .collect();
    format!("{head} {}", figures.join("; "))
}
