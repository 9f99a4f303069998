// SPDX-License-Identifier: GPL-2.0-only
//
// record.rs - one recording: load the probe, follow scx_axrt's event socket, and until the
// duration is over (or SIGINT/SIGTERM) read the maps every interval — naming new VMs and
// threads, marking VMs traced or not, printing the progress line — while trace mode drains the
// ring into the Perfetto writer. At the end: the summary, with axrt-trace's own cost, and the
// outputs asked for.

use std::cell::RefCell;
use std::io::{BufWriter, IsTerminal, Write};
use std::mem::MaybeUninit;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::RingBufferBuilder;

use axrt_vmload::clock;

use crate::bpf_intf::axrt_record;
use crate::decisions::{self, Decisions};
use crate::model::{self, Cost, Summary};
use crate::perfetto::TraceWriter;
use crate::probe::{Probe, ProbeConfig};
use crate::states::Isa;
use crate::vms::{Names, VmNames};

/// What to record and where the results go.
#[derive(Clone, Debug)]
pub struct RecordOpts {
    /// Trace mode (every transition of the chosen VMs to the ring) instead of summary mode.
    pub trace: bool,
    /// Stop after this long (None: at SIGINT/SIGTERM).
    pub duration: Option<Duration>,
    /// How often the maps are read (names, progress line).
    pub interval: Duration,
    /// Trace mode: only these VMs (names); empty: all.
    pub vms: Vec<String>,
    /// scx_axrt's configuration, for VM names.
    pub config: Option<PathBuf>,
    /// Write the summary as JSON here.
    pub json: Option<PathBuf>,
    /// Trace mode: write the Perfetto trace here.
    pub perfetto: Option<PathBuf>,
    /// Write the SVG plots here.
    pub svg: Option<PathBuf>,
    /// No progress line.
    pub quiet: bool,
    /// Trace mode: ring size, MiB.
    pub ring_mb: u32,
    /// scx_axrt's event socket.
    pub events_socket: PathBuf,
}

fn own_cpu_s() -> f64 {
    // SAFETY: an all-zero rusage is valid, and getrusage fills it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn parse_record(data: &[u8]) -> Option<axrt_record> {
    if data.len() < std::mem::size_of::<axrt_record>() {
        return None;
    }
    // SAFETY: the ring's sample holds one axrt_record (intf.h).
    Some(unsafe { std::ptr::read_unaligned(data.as_ptr() as *const axrt_record) })
}

/// Runs one recording until its duration is over or `stop` is set.
pub fn record(opts: &RecordOpts, stop: Arc<AtomicBool>) -> Result<Summary> {
    let config = match &opts.config {
        Some(p) => VmNames::load(p)?,
        None => VmNames::default(),
    };
    let mut names = Names::new(config);
    let mut open_object = MaybeUninit::uninit();
    let mut probe = Probe::load(
        ProbeConfig {
            trace: opts.trace,
            trace_all: opts.vms.is_empty(),
            ring_bytes: opts.ring_mb.max(1).next_power_of_two() << 20,
        },
        &mut open_object,
    )?;
    let start_ns = clock::now_ns();
    let t0 = Instant::now();
    // The moment from which every vCPU thread is followed (scripts wait for this line).
    eprintln!(
        "axrt-trace: attached ({} mode)",
        if opts.trace { "trace" } else { "summary" }
    );
    let cpu0 = own_cpu_s();
    let bpf0 = probe.bpf_run_time();

    let shared = Arc::new(Mutex::new(Decisions::default()));
    let follower_stop = Arc::new(AtomicBool::new(false));
    let follower = decisions::follow(
        &opts.events_socket,
        Arc::clone(&shared),
        Arc::clone(&follower_stop),
    );

    let mut writer = match (&opts.perfetto, opts.trace) {
        (Some(p), true) => {
            let f = std::fs::File::create(p)
                .with_context(|| format!("--perfetto {}: cannot create it", p.display()))?;
            Some(TraceWriter::new(
                BufWriter::new(f),
                Isa::host(),
                start_ns,
                clock::read(libc::CLOCK_BOOTTIME),
            )?)
        }
        _ => None,
    };
    let pending: RefCell<Vec<axrt_record>> = RefCell::new(Vec::new());
    let received = std::cell::Cell::new(0u64);
    let ring = if opts.trace {
        let mut b = RingBufferBuilder::new();
        b.add(probe.records_map(), |data: &[u8]| {
            if let Some(r) = parse_record(data) {
                received.set(received.get() + 1);
                pending.borrow_mut().push(r);
            }
            0
        })?;
        Some(b.build()?)
    } else {
        None
    };

    let mut decided = std::collections::BTreeSet::new();
    let mut last_tick = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let summary_at = |probe: &mut Probe, names: &mut Names, now: u64| -> Result<Summary> {
        let threads = probe.snapshot()?;
        let d = shared.lock().map(|d| d.clone()).unwrap_or_default();
        for e in &d.events {
            if let Some(vm) = &e.vm {
                names.learn_scx_name(e.cgid, vm);
            }
        }
        for t in threads.values() {
            names.see(t.rec.tgid, t.rec.tid);
        }
        let drops = probe.drops_per_cpu().unwrap_or_default();
        Ok(Summary {
            tool: "axrt-trace".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            mode: if opts.trace { "trace" } else { "summary" }.into(),
            start_ns,
            end_ns: now,
            isa: match model::isa_of(&threads) {
                Some(Isa::Vmx) => "vmx",
                Some(Isa::Svm) => "svm",
                None => "",
            }
            .into(),
            drops: drops.iter().sum(),
            drops_per_cpu: drops,
            records: received.get(),
            scx_axrt: if d.connected {
                "connected".into()
            } else {
                format!("not running (nothing at {})", opts.events_socket.display())
            },
            scx_events_dropped: d.dropped,
            cost: Cost::default(),
            vms: model::build(&threads, names, &d, now, &model::run_delay_of),
        })
    };

    loop {
        let done = stop.load(Ordering::Relaxed) || opts.duration.is_some_and(|d| t0.elapsed() >= d);
        match &ring {
            Some(r) => {
                if let Err(e) = r.poll(Duration::from_millis(50)) {
                    if e.kind() != libbpf_rs::ErrorKind::Interrupted {
                        return Err(e.into());
                    }
                }
            }
            None if !done => std::thread::sleep(Duration::from_millis(50)),
            None => {}
        }
        if let Some(w) = writer.as_mut() {
            for r in pending.borrow_mut().drain(..) {
                w.add(&r, &names)?;
            }
        } else {
            pending.borrow_mut().clear();
        }
        if done {
            if let Some(r) = &ring {
                let _ = r.consume();
            }
            break;
        }
        if last_tick.elapsed() >= opts.interval {
            last_tick = Instant::now();
            let s = summary_at(&mut probe, &mut names, clock::now_ns())?;
            if opts.trace && !opts.vms.is_empty() {
                for vm in &s.vms {
                    if decided.insert(vm.pid) {
                        probe.set_traced(vm.pid, opts.vms.contains(&vm.name))?;
                    }
                }
            }
            if !opts.quiet {
                let line = crate::report::progress(&s, t0.elapsed().as_secs_f64());
                if tty {
                    eprint!("\r{line}\x1b[K");
                } else {
                    eprintln!("{line}");
                }
            }
        }
    }
    if tty && !opts.quiet {
        eprintln!();
    }
    // The records still in the ring.
    if let Some(w) = writer.as_mut() {
        for r in pending.borrow_mut().drain(..) {
            w.add(&r, &names)?;
        }
    }
    drop(ring);
    follower_stop.store(true, Ordering::Relaxed);
    let _ = follower.join();
    let end_ns = clock::now_ns();
    let mut summary = summary_at(&mut probe, &mut names, end_ns)?;
    let secs = (end_ns - start_ns) as f64 / 1e9;
    let user = own_cpu_s() - cpu0;
    let bpf = match (bpf0, probe.bpf_run_time()) {
        (Some(a), Some(b)) => Some((b.0.saturating_sub(a.0), b.1.saturating_sub(a.1))),
        _ => None,
    };
    summary.cost = Cost {
        user_space_cpu_s: user,
        bpf_cpu_s: bpf.map(|b| b.0 as f64 / 1e9),
        bpf_runs: bpf.map(|b| b.1),
        cpu_pct: 100.0 * (user + bpf.map_or(0.0, |b| b.0 as f64 / 1e9)) / secs.max(1e-9),
    };
    if let Some(mut w) = writer {
        let events = shared.lock().map(|d| d.events.clone()).unwrap_or_default();
        w.decisions(&events, &names)?;
        let mut out = w.finish(&names)?;
        out.flush()?;
    }
    if let Some(p) = &opts.json {
        let text = serde_json::to_string_pretty(&summary)?;
        std::fs::write(p, text + "\n")
            .with_context(|| format!("--json {}: cannot write it", p.display()))?;
    }
    if let Some(p) = &opts.svg {
        std::fs::write(p, crate::report::svg(&summary))
            .with_context(|| format!("--svg {}: cannot write it", p.display()))?;
    }
    Ok(summary)
}
