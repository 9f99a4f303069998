// SPDX-License-Identifier: GPL-2.0-only
//
// output.rs - the files a run writes: the summary table (markdown), the per-job CSV (LITMUS^RT
// style), the event CSV, the rt-app logs of every thread and an SVG plot of the response-time
// distributions (one curve per scheduler, the share of jobs that completed within x; jobs that
// never completed keep a curve below 100 %).

//! Tables, CSV files, logs and the plot.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use axrt_policy::Time;

use crate::metrics::{RunResult, Summary};
use crate::rtlog;
use crate::scenario::Scenario;

fn ms(ns: f64) -> String {
    format!("{:.2}", ns / 1e6)
}

/// The summary table, one row per scheduler.
pub fn summary_table(rows: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str(
        "| scheduler | jobs | miss ratio | tardiness mean / max (ms) | response p50 / p99 / p99.9 / max (ms) | goodput | busy | overhead | Jain | switches | preemptions | migrations |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let [p50, p99, p999, max] = r.response.map(|v| ms(v as f64));
        let _ = writeln!(
            s,
            "| {} | {} | {:.2} % | {} / {} | {p50} / {p99} / {p999} / {max} | {:.1} % | {:.1} % | {:.2} % | {} | {} | {} | {} |",
            r.sched,
            r.jobs,
            100.0 * r.miss_ratio(),
            ms(r.tardiness_mean),
            ms(r.tardiness_max as f64),
            r.goodput_pct,
            r.busy_pct,
            r.overhead_pct,
            r.jain.map_or("–".into(), |j| format!("{j:.3}")),
            r.switches,
            r.preemptions,
            r.migrations,
        );
    }
    s
}

/// CPU share of every VM against its budget, one row per VM, one column per scheduler.
pub fn share_table(rows: &[Summary]) -> String {
    let mut s = String::from("| VM (% of one CPU) | budget |");
    for r in rows {
        let _ = write!(s, " {} |", r.sched);
    }
    s.push('\n');
    s.push_str(&"|---".repeat(rows.len() + 2));
    s.push_str("|\n");
    let Some(first) = rows.first() else { return s };
    for (i, vm) in first.vms.iter().enumerate() {
        let _ = write!(
            s,
            "| {} | {} |",
            vm.name,
            vm.budget_pct.map_or("–".into(), |b| format!("{b:.1} %"))
        );
        for r in rows {
            let _ = write!(s, " {:.1} % |", r.vms[i].share_pct);
        }
        s.push('\n');
    }
    s
}

/// The per-job CSV of one run.
pub fn jobs_csv(sc: &Scenario, r: &RunResult) -> String {
    let mut s = String::from(
        "scheduler,thread,task,job,release_ns,deadline_ns,completion_ns,response_ns,lateness_ns,tardiness_ns,missed,aborted,work_ns\n",
    );
    for j in &r.jobs {
        let (completion, response, lateness, tardiness) = match j.completion {
            Some(c) => {
                let late = c as i64 - j.deadline as i64;
                (
                    c.to_string(),
                    (c - j.release).to_string(),
                    late.to_string(),
                    late.max(0).to_string(),
                )
            }
            None => (String::new(), String::new(), String::new(), String::new()),
        };
        let _ = writeln!(
            s,
            "{},{},{},{},{},{},{completion},{response},{lateness},{tardiness},{},{},{}",
            r.sched,
            j.thread,
            sc.threads[j.thread].task,
            j.seq,
            j.release,
            j.deadline,
            u8::from(j.missed()),
            u8::from(j.aborted),
            j.work
        );
    }
    s
}

/// The event CSV of one run.
pub fn events_csv(sc: &Scenario, r: &RunResult) -> String {
    let mut s = String::from("scheduler,time_ns,cpu,thread,task,event,value\n");
    for e in &r.events {
        let cpu = e.cpu.map_or(String::new(), |c| c.to_string());
        let (thread, task) = match e.thread {
            Some(t) => (t.to_string(), sc.threads[t].task.as_str()),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            s,
            "{},{},{cpu},{thread},{task},{},{}",
            r.sched,
            e.time,
            e.kind.name(),
            e.value
        );
    }
    s
}

/// Writes every thread's rt-app log of run `r` into `dir`.
pub fn write_logs(dir: &Path, sc: &Scenario, r: &RunResult) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (spec, out) in sc.threads.iter().zip(&r.threads) {
        let path = rtlog::log_path(dir, &sc.log_basename, &spec.task, spec.index);
        std::fs::write(&path, rtlog::format_log(spec.index, spec.nice, &out.rows))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

const COLOURS: [&str; 7] = [
    "#4477aa", "#ee6677", "#228833", "#ccbb44", "#66ccee", "#aa3377", "#222222",
];

/// An SVG plot of the response-time distribution of each run: x the response time (ms, log
/// scale from the smallest response to the largest), y the share of all its jobs that completed
/// within x.
pub fn response_svg(title: &str, runs: &[RunResult]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 420.0, 60.0, 150.0, 40.0, 50.0);
    let pw = w - left - right;
    let ph = h - top - bottom;
    let all: Vec<Time> = runs
        .iter()
        .flat_map(|r| r.jobs.iter().filter_map(|j| j.response()))
        .filter(|&v| v > 0)
        .collect();
    let lo = all.iter().copied().min().unwrap_or(1_000) as f64;
    let hi = (all.iter().copied().max().unwrap_or(1_000_000) as f64).max(lo * 10.0);
    let (llo, lhi) = (lo.log10().floor(), hi.log10().ceil());
    let x = |v: f64| left + pw * ((v.max(lo).log10() - llo) / (lhi - llo));
    let y = |f: f64| top + ph * (1.0 - f);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">{}</text>"#,
        left + pw / 2.0,
        title.replace('&', "&amp;").replace('<', "&lt;")
    );
    for d in (llo as i32)..=(lhi as i32) {
        let xv = x(10f64.powi(d));
        let label = 10f64.powi(d) / 1e6;
        let _ = writeln!(
            s,
            r##"<line x1="{xv:.1}" y1="{top}" x2="{xv:.1}" y2="{:.1}" stroke="#ddd"/><text x="{xv:.1}" y="{:.1}" text-anchor="middle">{label}</text>"##,
            top + ph,
            top + ph + 16.0
        );
    }
    for k in 0..=4 {
        let f = k as f64 / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}%</text>"##,
            y(f),
            left + pw,
            y(f),
            left - 6.0,
            y(f) + 4.0,
            k * 25
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">response time (ms, log scale)</text>"#,
        left + pw / 2.0,
        h - 10.0
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">jobs completed within x</text>"#,
        top + ph / 2.0,
        top + ph / 2.0
    );
    for (i, r) in runs.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut v: Vec<Time> = r.jobs.iter().filter_map(|j| j.response()).collect();
        v.sort_unstable();
        let n = r.jobs.len().max(1) as f64;
        let mut pts = format!("{:.1},{:.1}", x(lo), y(0.0));
        // At most ~400 points per curve: the plot stays small for long runs.
        let step = (v.len() / 400).max(1);
        for (k, val) in v.iter().enumerate() {
            if k % step == 0 || k + 1 == v.len() {
                let _ = write!(pts, " {:.1},{:.1}", x(*val as f64), y((k + 1) as f64 / n));
            }
        }
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>"#
        );
        let ly = top + 16.0 * i as f64 + 10.0;
        let _ = writeln!(
            s,
            r#"<line x1="{:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{colour}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            left + pw + 12.0,
            left + pw + 32.0,
            left + pw + 38.0,
            ly + 4.0,
            r.sched
        );
    }
    s.push_str("</svg>\n");
    s
}
