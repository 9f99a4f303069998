// SPDX-License-Identifier: GPL-2.0-only
//
// report.rs - what a person reads: the table per VM and vCPU (states in % of the time
// followed, exits, latencies, migrations, the runnable wait next to the kernel's run_delay),
// the exit reasons and decisions per VM, the progress line while recording, and the SVG plots
// (wakeup-latency CDFs per VM, state breakdown per VM) drawn with axrt-plot.

use std::fmt::Write as _;

use axrt_plot::{svg_panels, Chart, LineChart, Panel};
use axrt_vmload::report::aligned;

use crate::model::{Figures, Summary};
use crate::states::PREEMPTORS;

fn pct(f: &Figures, states: &[&str]) -> String {
    format!("{:.1}", 100.0 * f.fraction(states))
}

fn lat(p: &crate::hist::Percentiles) -> String {
    if p.count == 0 {
        return "-".into();
    }
    format!(
        "{:.0}/{:.0}/{:.0}/{:.0}",
        p.p50_us, p.p99_us, p.p999_us, p.max_us
    )
}

const WAITS_PREEMPTED: [&str; 4] = ["wait_same_vm", "wait_other_vm", "wait_host", "wait_kernel"];

fn row(label: &str, tid: String, f: &Figures) -> Vec<String> {
    let secs = f.traced_ns as f64 / 1e9;
    vec![
        label.to_string(),
        tid,
        pct(f, &["guest"]),
        pct(f, &["host"]),
        pct(f, &["halt_poll"]),
        pct(f, &["halt_blocked"]),
        pct(f, &["blocked"]),
        pct(f, &["wait_woken"]),
        pct(f, &WAITS_PREEMPTED),
        f.exits.to_string(),
        if secs > 0.0 {
            format!("{:.0}", f.exits as f64 / secs)
        } else {
            "-".into()
        },
        lat(&f.wake_latency),
        lat(&f.preempt_latency),
        f.migrations.to_string(),
        format!("{:.1}", f.runnable_wait_ns as f64 / 1e6),
        format!("{:.1}", f.run_delay_ns as f64 / 1e6),
    ]
}

/// The terminal summary.
pub fn table(s: &Summary) -> String {
    let mut rows = vec![[
        "VM/vCPU",
        "TID",
        "GUEST%",
        "HOST%",
        "POLL%",
        "HALT%",
        "BLOCK%",
        "WOKEN%",
        "PREEMPT%",
        "EXITS",
        "EXITS/s",
        "WAKE us p50/p99/p99.9/max",
        "PREEMPT us p50/p99/p99.9/max",
        "MIGR",
        "WAIT ms",
        "RUN_DELAY ms",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect::<Vec<_>>()];
    for vm in &s.vms {
        rows.push(row(&vm.name, format!("pid {}", vm.pid), &vm.total));
        for v in &vm.vcpus {
            let label = format!("  {}{}", v.comm, if v.exited { " (exited)" } else { "" });
            rows.push(row(&label, v.tid.to_string(), &v.figures));
        }
    }
    let mut out = aligned(&rows, &|c| c == 0);
    for vm in &s.vms {
        let t = &vm.total;
        let _ = write!(
            out,
            "\n{}: exits by reason (host handling time, us p50/p99/max):",
            vm.name
        );
        for e in t.exit_reasons.iter().take(8) {
            let _ = write!(
                out,
                " {} {} ({:.1}/{:.1}/{:.1});",
                e.reason, e.count, e.handling.p50_us, e.handling.p99_us, e.handling.max_us
            );
        }
        let halts = format!(
            "halts {} ({} slept, {} ended polling)",
            t.halts,
            t.halts_blocked,
            t.halts.saturating_sub(t.halts_blocked)
        );
        let pre: Vec<String> = PREEMPTORS
            .iter()
            .map(|p| format!("{p} {}", t.preemptions.get(*p).copied().unwrap_or(0)))
            .collect();
        let _ = write!(out, "\n  {halts}; preempted by: {}", pre.join(", "));
        if !t.decisions.is_empty() {
            let d: Vec<String> = t
                .decisions
                .iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            let _ = write!(out, "\n  scx_axrt: {}", d.join(", "));
        }
        out.push('\n');
    }
    let dur = (s.end_ns.saturating_sub(s.start_ns)) as f64 / 1e9;
    let _ = writeln!(
        out,
        "\n{:.1} s, mode {}; scx_axrt events: {}{}; dropped records: {} ({}); axrt-trace's own cost: {:.2} % of one CPU (user space {:.3} s, BPF {})",
        dur,
        s.mode,
        s.scx_axrt,
        if s.scx_events_dropped > 0 {
            format!(" ({} lines dropped by the loader)", s.scx_events_dropped)
        } else {
            String::new()
        },
        s.drops,
        s.drops_per_cpu
            .iter()
            .enumerate()
            .map(|(c, n)| format!("cpu{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        s.cost.cpu_pct,
        s.cost.user_space_cpu_s,
        s.cost
            .bpf_cpu_s
            .map_or("not measured".to_string(), |b| format!(
                "{b:.3} s in {} runs",
                s.cost.bpf_runs.unwrap_or(0)
            )),
    );
    out
}

/// The progress line printed while recording.
pub fn progress(s: &Summary, elapsed_s: f64) -> String {
    let vcpus: usize = s.vms.iter().map(|v| v.vcpus.len()).sum();
    let exits: u64 = s.vms.iter().map(|v| v.total.exits).sum();
    let wait: u64 = s.vms.iter().map(|v| v.total.runnable_wait_ns).sum();
    let decisions: u64 = s.vms.iter().flat_map(|v| v.total.decisions.values()).sum();
    format!(
        "axrt-trace: {elapsed_s:.0} s, {} VMs, {vcpus} vCPUs, {exits} exits, runnable wait {:.1} ms, {} scx_axrt decisions, {} records, {} dropped",
        s.vms.len(),
        wait as f64 / 1e6,
        decisions,
        s.records,
        s.drops
    )
}

/// The SVG picture: wakeup-to-run CDF per VM, preempted-to-run CDF per VM, and where each
/// VM's time went.
pub fn svg(s: &Summary) -> String {
    let cdf = |title: &str, pick: &dyn Fn(&Figures) -> &crate::hist::Hist| LineChart {
        title: title.into(),
        x_label: "latency (us, log scale)".into(),
        y_unit: "%",
        y_max: 100.0,
        log_x: true,
        series: s
            .vms
            .iter()
            // Every VM, with or without samples, so that colours match across the panels.
            .map(|v| (v.name.clone(), pick(&v.total).cdf_us()))
            .collect(),
    };
    let wake = cdf("wakeup -> running: CDF", &|f| f.wake_hist());
    let pre = cdf("preempted -> running: CDF", &|f| f.preempt_hist());
    let groups = [
        ("guest", vec!["guest"]),
        ("host", vec!["host"]),
        ("halted", vec!["halt_poll", "halt_blocked"]),
        ("blocked", vec!["blocked"]),
        ("runnable", {
            let mut w = vec!["wait_woken"];
            w.extend(WAITS_PREEMPTED);
            w
        }),
    ];
    let states = Chart {
        title: "where the vCPUs' time went".into(),
        unit: "%",
        series: s.vms.iter().map(|v| v.name.clone()).collect(),
        groups: groups
            .iter()
            .map(|(label, st)| {
                (
                    label.to_string(),
                    s.vms
                        .iter()
                        .map(|v| Some(100.0 * v.total.fraction(st)))
                        .collect(),
                )
            })
            .collect(),
        reference: None,
        y_max: Some(100.0),
    };
    let dur = (s.end_ns.saturating_sub(s.start_ns)) as f64 / 1e9;
    let panels: [&dyn Panel; 3] = [&wake, &pre, &states];
    svg_panels(
        &panels,
        &format!(
            "axrt-trace, {dur:.0} s, {} VMs; latencies are upper bounds of 1/16-octave buckets",
            s.vms.len()
        ),
    )
}
