// SPDX-License-Identifier: GPL-2.0-only
//
// main.rs - entry point of scx_axrt: parse the command line and the configuration (a bad one
// exits 2 before anything touches the kernel), refuse early when sched_ext is missing or
// taken, then load the BPF tier and keep it attached until SIGINT/SIGTERM or until the kernel
// ends it, reloading when the kernel asks for a restart. While attached, the loop below keeps
// the VM and thread maps in step with the host (discovery), prints --stats and answers the
// stats server; `--monitor` instead only reads the statistics of an instance already running.

//! `scx_axrt`: the user-space tier of the AxRT sched_ext scheduler.

mod bpf_intf;
mod bpf_skel;
mod cli;
use scx_axrt::config;
mod discovery;
mod events;
mod exit;
mod logger;
mod maps;
mod preflight;
mod sched;
mod stats;

use std::io::Write;
use std::mem::MaybeUninit;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use clap::Parser;
use scx_stats::prelude::StatsServer;

use crate::cli::Opts;
use crate::config::{Config, ConfigError};
use crate::discovery::{Host, State};
use crate::maps::Maps;
use crate::sched::{Scheduler, OPS_NAME};
use crate::stats::{Report, Sample, TaskSample};

/// Exit status for a configuration that cannot be used (nothing was loaded).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let mut opts = Opts::parse();
    logger::init(opts.verbose);

    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("scx_axrt: cannot install the SIGINT/SIGTERM handler: {e}; nothing was loaded");
        return ExitCode::FAILURE;
    }

    if let Some(secs) = opts.monitor {
        return match stats::monitor(Duration::from_secs_f64(secs), opts.json, &stop) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("scx_axrt: monitor: {e:#}");
                ExitCode::FAILURE
            }
        };
    }

    // Everything about the configuration is settled before the kernel is touched.
    let host = Host::real(online_cpus());
    let cfg = match &opts.config {
        Some(path) => match Config::load(path, host.cpus) {
            Ok(cfg) => cfg,
            Err(e) => return config_refusal(&e),
        },
        None => Config::host_only(host.cpus),
    };
    opts.apply_config(&cfg);
    let (first, findings) = discovery::scan(&cfg, &host, &State::default());
    if let Err(e) = check_matches(&cfg, &first, opts.strict) {
        return config_refusal(&e);
    }
    report_findings(&cfg, &findings);
    if opts.check {
        print_summary(&cfg, &opts, &first);
        return ExitCode::SUCCESS;
    }

    if let Err(refusal) = preflight::check(Path::new(preflight::SYSFS_ROOT)) {
        eprintln!("{refusal}");
        return ExitCode::FAILURE;
    }

    let server = match StatsServer::new(stats::server_data())
        .set_path(stats::SOCKET)
        .launch()
    {
        Ok(server) => Some(server),
        Err(e) => {
            log::warn!("no stats server, --monitor will not work: {e:#}");
            None
        }
    };
    // The event stream's file is opened (and a bad path refused) before the kernel is touched;
    // a restart appends to it.
    let mut events_out: Option<Box<dyn Write + Send>> = match opts.events.as_deref() {
        None => None,
        Some(p) if p == Path::new("-") => Some(Box::new(std::io::stdout())),
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Some(Box::new(std::io::BufWriter::new(f))),
            Err(e) => {
                eprintln!("scx_axrt: --events {}: {e}", p.display());
                return ExitCode::from(2);
            }
        },
    };
    let names = events::Names::default();
    let mut brain = Brain::new(&cfg, host, &opts, server.as_ref(), &names);

    let mut open_object = MaybeUninit::uninit();
    loop {
        let mut sched = match Scheduler::load(&opts, &mut open_object) {
            Ok(sched) => sched,
            Err(e) => {
                eprintln!("scx_axrt: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        announce(&opts, &cfg);

        // A fresh load has empty maps: discovery starts over. Kernels before 6.17 do not tell
        // the BPF tier about cpu.max: then discovery reads it.
        brain.reset(!sched.kernel_tracks_cpu_max());
        // The event ring buffer is drained on its own thread, with its own map handles.
        let done = AtomicBool::new(false);
        let info = std::thread::scope(|scope| {
            match sched.new_maps() {
                Ok(ev_maps) => {
                    let (done, names, verbose) = (&done, &names, opts.verbose);
                    let out = events_out
                        .as_deref_mut()
                        .map(|w| w as &mut (dyn Write + Send));
                    scope.spawn(move || {
                        match events::consume(&ev_maps, done, names, verbose, out) {
                            Ok(tally) if verbose => {
                                eprintln!("scx_axrt: {} events in this run", tally.total())
                            }
                            Ok(_) => {}
                            Err(e) => log::warn!("event stream: {e:#}"),
                        }
                    });
                }
                Err(e) => log::warn!("no event stream: {e:#}"),
            }
            let info = sched.run_with(&stop, |maps| brain.tick(maps));
            done.store(true, Ordering::Relaxed);
            info
        });
        let info = match info {
            Ok(info) => info,
            Err(e) => {
                eprintln!("scx_axrt: {e:#}");
                return ExitCode::FAILURE;
            }
        };
        drop(sched);

        if info.restart && !stop.load(Ordering::Relaxed) {
            println!("scx_axrt: restarting: {}", info.describe());
            continue;
        }
        if let Some(dump) = &info.dump {
            eprintln!("scx_axrt: kernel debug dump follows\n{}", dump.trim_end());
        }
        if info.is_empty() {
            println!("scx_axrt: exited: detached (the kernel recorded no exit reason)");
        } else {
            println!("scx_axrt: exited: {}", info.describe());
        }
        let _ = std::io::stdout().flush();
        return ExitCode::from(info.status());
    }
}

/// The user-space tier while the BPF tier is attached: discovery, --stats, the stats server.
struct Brain<'a> {
    cfg: &'a Config,
    host: Host,
    opts: &'a Opts,
    /// The stats server: its connections ask this loop for samples.
    server: Option<&'a StatsServer<(), Sample>>,
    start: Instant,
    /// What the maps hold.
    applied: State,
    last_scan: Option<Instant>,
    /// When --stats last printed, and the sample it printed up to.
    last_print: Option<(Instant, Sample)>,
    /// VM names by cgroup id, for the event thread.
    names: &'a events::Names,
    /// --stats could not be written any more.
    stats_closed: bool,
}

impl<'a> Brain<'a> {
    fn new(
        cfg: &'a Config,
        host: Host,
        opts: &'a Opts,
        server: Option<&'a StatsServer<(), Sample>>,
        names: &'a events::Names,
    ) -> Self {
        Brain {
            cfg,
            host,
            opts,
            server,
            start: Instant::now(),
            applied: State::default(),
            last_scan: None,
            last_print: None,
            names,
            stats_closed: false,
        }
    }

    /// Forgets what was written: the maps of a new load are empty.
    fn reset(&mut self, feed_cpu_max: bool) {
        self.host.feed_cpu_max = feed_cpu_max;
        self.applied = State::default();
        self.last_scan = None;
        self.last_print = None;
    }

    /// Called every poll period while attached: rescans when due, answers the stats server,
    /// prints --stats when due.
    fn tick(&mut self, maps: &Maps) -> Result<()> {
        if self
            .last_scan
            .is_none_or(|t| t.elapsed() >= Duration::from_millis(self.opts.rescan_ms))
        {
            self.last_scan = Some(Instant::now());
            self.rescan(maps);
        }
        if let Some((tx, rx)) = self.server.map(|s| s.channels()) {
            // Requests in, samples out.
            while rx.try_recv().is_ok() {
                // Always answer: the connection waits for a sample. An unreadable map gives
                // an empty one (and the error).
                match self.sample(maps) {
                    Ok(sample) => tx.send(sample)?,
                    Err(e) => {
                        tx.send(Sample::default())?;
                        return Err(e);
                    }
                }
            }
        }
        if let (Some(secs), false) = (self.opts.stats, self.stats_closed) {
            let due = self
                .last_print
                .as_ref()
                .is_none_or(|(t, _)| t.elapsed() >= Duration::from_secs_f64(secs));
            if due {
                let cur = self.sample(maps)?;
                if let Some((_, prev)) = &self.last_print {
                    let report = Report::between(prev, &cur);
                    if let Err(e) = report.print(self.opts.json, &mut std::io::stdout()) {
                        // Whoever read --stats went away (e.g. `| head`): keep scheduling.
                        self.stats_closed = true;
                        log::warn!("--stats output stopped: {e}");
                    }
                }
                self.last_print = Some((Instant::now(), cur));
            }
        }
        Ok(())
    }

    /// One discovery pass: scans, writes the difference, returns what the maps now hold.
    fn rescan(&mut self, maps: &Maps) {
        let (next, findings) = discovery::scan(self.cfg, &self.host, &self.applied);
        if next == self.applied {
            return;
        }
        match discovery::apply(self.cfg, &self.applied, &next, maps) {
            Ok(_) => {
                for line in discovery::describe_changes(self.cfg, &self.applied, &next) {
                    eprintln!("scx_axrt: {line}");
                }
                report_findings(self.cfg, &findings);
                if let Ok(mut names) = self.names.lock() {
                    names.clear();
                    for (cgid, g) in &next.groups {
                        names.insert(*cgid, self.cfg.vms[g.vm].params.name.clone());
                    }
                }
                self.applied = next;
            }
            // Sets are idempotent and removals of absent entries succeed: retry next time.
            Err(e) => log::warn!("cannot update the VM maps: {e:#}"),
        }
    }

    /// The cumulative statistics now, grouped by VM.
    fn sample(&self, maps: &Maps) -> Result<Sample> {
        let host = maps.read_host()?;
        let groups = maps.read_groups()?;
        let at_ns = self.start.elapsed().as_nanos() as u64;
        let mut sample = Sample::build(self.cfg, &self.applied, host, &groups, at_ns);
        for (tid, t) in &self.applied.tasks {
            if let Some(stats) = maps.read_task(*tid)? {
                let vm = &self.cfg.vms[self.cfg.tasks[t.rule].vm].params.name;
                sample.tasks.push(TaskSample {
                    name: format!("{vm}/{}", t.comm),
                    tid: *tid,
                    stats,
                });
            }
        }
        Ok(sample)
    }
}

/// A VM whose glob matches nothing at start: an error with --strict, else a warning (the VM
/// may be started later; discovery keeps looking).
fn check_matches(cfg: &Config, found: &State, strict: bool) -> Result<(), ConfigError> {
    for (i, vm) in cfg.vms.iter().enumerate() {
        if found.cgroups_of(i) > 0 {
            continue;
        }
        let mut e = ConfigError {
            file: cfg.file.clone().unwrap_or_default(),
            line: vm.line,
            field: format!("vm[{i}].cgroup"),
            message: format!(
                "\"{}\" matches no cgroup below {}",
                vm.cgroup,
                discovery::CGROUP_ROOT
            ),
        };
        if strict {
            return Err(e);
        }
        e.message
            .push_str(" yet; the VM joins when its cgroup appears");
        eprintln!("scx_axrt: warning: {e}");
    }
    Ok(())
}

/// Prints what a scan found that the user must know once.
fn report_findings(cfg: &Config, f: &discovery::Findings) {
    for (vm, path, why) in &f.refused {
        eprintln!(
            "scx_axrt: warning: vm {}: cgroup {path} left in the host group: {why}",
            cfg.vms[*vm].params.name
        );
    }
    for (owner, other, path) in &f.nested {
        eprintln!(
            "scx_axrt: warning: cgroup {path} matches vm {} but lies inside vm {}; it stays with vm {}",
            cfg.vms[*other].params.name,
            cfg.vms[*owner].params.name,
            cfg.vms[*owner].params.name
        );
    }
}

/// Refuses a configuration: its one line on stderr, exit status 2.
fn config_refusal(e: &ConfigError) -> ExitCode {
    eprintln!("scx_axrt: {e}; nothing was loaded");
    ExitCode::from(EXIT_CONFIG)
}

/// `--check`: what the configuration sets up, on this host, now.
fn print_summary(cfg: &Config, opts: &Opts, found: &State) {
    println!(
        "scx_axrt: configuration {} is valid: slice {} us, reserve {} ms, host priority {}, {} CPUs",
        cfg.file.as_deref().unwrap_or("(none)"),
        opts.slice_ns() / 1000,
        opts.reserve_ms(),
        opts.host_priority,
        cfg.system.cpus
    );
    for (i, vm) in cfg.vms.iter().enumerate() {
        let p = &vm.params;
        let budget = p.budget_pair().map_or("no budget".to_string(), |(q, per)| {
            format!(
                "budget {} us per {} us ({})",
                q / 1000,
                per / 1000,
                format!("{:?}", p.overrun).to_lowercase()
            )
        });
        println!(
            "  vm {}: priority {}, {budget}, cgroup \"{}\": {} found now",
            p.name,
            p.priority,
            vm.cgroup,
            found.cgroups_of(i)
        );
    }
    let threads = found.tasks.len();
    println!(
        "  {} [[task]] rules, {threads} threads matched now",
        cfg.tasks.len()
    );
}

/// Prints the line that says the scheduler is in charge (tests wait for it), and flushes it.
fn announce(opts: &Opts, cfg: &Config) {
    let read = |path: String| {
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let ops = read(format!("{}/root/ops", preflight::SYSFS_ROOT)).unwrap_or(OPS_NAME.into());
    let kernel = read("/proc/sys/kernel/osrelease".into()).unwrap_or("unknown".into());
    println!("scx_axrt: active (ops {ops}, kernel {kernel})");
    if opts.verbose {
        eprintln!(
            "scx_axrt: slice {} us, reserve {} ms, {} vms, {} task rules",
            opts.slice_ns() / 1000,
            opts.reserve_ms(),
            cfg.vms.len(),
            cfg.tasks.len()
        );
    }
    let _ = std::io::stdout().flush();
}

/// Number of online CPUs (at least 1).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}
