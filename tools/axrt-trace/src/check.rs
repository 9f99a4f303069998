// SPDX-License-Identifier: GPL-2.0-only
//
// check.rs - `axrt-trace check`: the VM tests' assertions, in Rust. Each compares a recording's
// summary (its JSON) with an independent account of the same run — axrt-vmload's own counts,
// the kernel's schedstat run_delay, `perf kvm stat` — and prints one `PASS: ...` or
// `FAIL: ...: why` line per assertion (the tests' result format); the exit status is 1 if any
// failed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::model::{Summary, Vcpu};

/// Results of a check run.
#[derive(Default)]
pub struct Verdicts {
    /// One line per assertion.
    pub lines: Vec<String>,
    /// Failed assertions.
    pub failed: usize,
}

impl Verdicts {
    /// Records an assertion.
    pub fn check(&mut self, ok: bool, what: String, why: impl FnOnce() -> String) {
        if ok {
            self.lines.push(format!("PASS: {what}"));
        } else {
            self.failed += 1;
            self.lines.push(format!("FAIL: {what}: {}", why()));
        }
    }
}

/// Reads a summary written by `--json`.
pub fn load_summary(path: &Path) -> Result<Summary> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the summary", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not an axrt-trace summary", path.display()))
}

fn vcpus(s: &Summary) -> impl Iterator<Item = (&str, &Vcpu)> {
    s.vms
        .iter()
        .flat_map(|vm| vm.vcpus.iter().map(move |v| (vm.name.as_str(), v)))
}

/// The reason names of port I/O, hypercall and HLT exits on this summary's ISA.
fn guest_reasons(s: &Summary) -> (&'static str, &'static str, &'static str) {
    if s.isa == "vmx" {
        ("IO_INSTRUCTION", "VMCALL", "HLT")
    } else {
        ("io", "hypercall", "hlt")
    }
}

/// Exits the guest made itself (axrt-vmload's JSON: `io_exits`, `yields`, `halts`) against
/// the exits axrt-trace counted for the same threads (by tid). Equal: both count the same
/// instructions (a halt interrupted by the end of the run may add one HLT exit).
pub fn exits(s: &Summary, vmload: &Path, v: &mut Verdicts) -> Result<()> {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(vmload)
            .with_context(|| format!("{}: cannot read", vmload.display()))?,
    )
    .with_context(|| format!("{}: not JSON", vmload.display()))?;
    let (io, hc, hlt) = guest_reasons(s);
    let by_tid: BTreeMap<u32, (&str, &Vcpu)> = vcpus(s).map(|(n, c)| (c.tid, (n, c))).collect();
    let mut seen = 0;
    for vc in doc["vms"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|vm| vm["vcpus"].as_array().into_iter().flatten())
    {
        let tid = vc["tid"].as_u64().unwrap_or(0) as u32;
        let name = format!("{}/{}", vc["vm"].as_str().unwrap_or("?"), vc["vcpu"]);
        let guest_io = vc["io_exits"].as_u64().unwrap_or(0);
        let yields = vc["yields"].as_u64().unwrap_or(0);
        let halts = vc["halts"].as_u64().unwrap_or(0);
        seen += 1;
        let Some((_, t)) = by_tid.get(&tid) else {
            v.check(
                false,
                format!("vCPU {name} (tid {tid}) is in the trace"),
                || "not found".into(),
            );
            continue;
        };
        let got = t.figures.exits_of(io);
        v.check(
            got == guest_io && guest_io > 0,
            format!("vCPU {name}: '{io}' exits traced = the guest's port I/O exits (traced {got}, guest {guest_io})"),
            || format!("differ by {}", got as i64 - guest_io as i64),
        );
        if halts > 0 {
            let got = t.figures.exits_of(hlt);
            v.check(
                got == halts || got == halts + 1,
                format!("vCPU {name}: '{hlt}' exits traced = the guest's hlt instructions (+1) (traced {got}, guest {halts})"),
                || format!("differ by {}", got as i64 - halts as i64),
            );
        }
        if yields > 0 {
            let got = t.figures.exits_of(hc);
            v.check(
                got == yields,
                format!("vCPU {name}: '{hc}' exits traced = the guest's hypercalls (traced {got}, guest {yields})"),
                || format!("differ by {}", got as i64 - yields as i64),
            );
        }
    }
    v.check(seen > 0, "the axrt-vmload report has vCPUs".into(), || {
        "none".into()
    });
    Ok(())
}

/// The runnable wait of VM `vm`'s vCPUs against the kernel's run_delay of the same threads:
/// the wait must be in force (at least `min_pct` of the time) and match run_delay within
/// `tol_pct` % (plus 2 ms for the moments before a thread's first guest entry).
pub fn waits(s: &Summary, vm: &str, min_pct: f64, tol_pct: f64, v: &mut Verdicts) {
    let mut n = 0;
    for (name, c) in vcpus(s).filter(|(n, _)| *n == vm) {
        n += 1;
        let f = &c.figures;
        let wait_pct = 100.0 * f.runnable_wait_ns as f64 / f.traced_ns.max(1) as f64;
        v.check(
            wait_pct >= min_pct,
            format!("{name}/{}: runnable wait is {wait_pct:.1} % of its time (>= {min_pct} %: behind the hog)", c.comm),
            || "the setup is not in force".into(),
        );
        let (w, d) = (f.runnable_wait_ns as f64 / 1e6, f.run_delay_ns as f64 / 1e6);
        let bound = tol_pct / 100.0 * d.max(w) + 2.0;
        v.check(
            (w - d).abs() <= bound,
            format!("{name}/{}: runnable wait {w:.1} ms matches the kernel's run_delay {d:.1} ms (+-{bound:.1} ms)", c.comm),
            || format!("off by {:.1} ms", w - d),
        );
    }
    v.check(n > 0, format!("VM {vm} is in the summary"), || {
        "not found".into()
    });
}

/// Halted time of VM `vm`'s vCPUs: about (1 - duty) of the time.
pub fn halted(s: &Summary, vm: &str, duty_pct: f64, tol_pts: f64, v: &mut Verdicts) {
    let mut n = 0;
    for (name, c) in vcpus(s).filter(|(n, _)| *n == vm) {
        n += 1;
        let h = 100.0 * c.figures.fraction(&["halt_poll", "halt_blocked"]);
        let want = 100.0 - duty_pct;
        v.check(
            (h - want).abs() <= tol_pts,
            format!(
                "{name}/{}: halted {h:.1} % of the time, 1 - duty = {want:.1} % (+-{tol_pts} pts)",
                c.comm
            ),
            || format!("off by {:.1} pts", h - want),
        );
    }
    v.check(n > 0, format!("VM {vm} is in the summary"), || {
        "not found".into()
    });
}

/// `perf kvm stat report` (its table: event name, samples, ...) parsed as reason -> count.
pub fn parse_perf_report(text: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    let mut in_table = false;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.first() == Some(&"VM-EXIT") || cols.first() == Some(&"Event") {
            in_table = true;
            continue;
        }
        if !in_table || cols.len() < 2 {
            continue;
        }
        if cols[0] == "Total" {
            break;
        }
        // Names may contain spaces ("UD excp"): the count is the first number after them.
        if let Some(i) = cols.iter().position(|c| c.parse::<u64>().is_ok()) {
            if i > 0 {
                m.insert(cols[..i].join(" "), cols[i].parse().unwrap_or(0));
            }
        }
    }
    m
}

/// Exits per reason over all VMs against `perf kvm stat report` of the same run. perf kvm
/// stat counts an exit when it sees the guest entry that ends it, so it may miss the last exit
/// of each vCPU thread (one that never re-entered): axrt-trace's count minus perf's is within
/// 0..=the number of vCPU threads, per reason and in total.
pub fn perf(s: &Summary, report: &Path, v: &mut Verdicts) -> Result<()> {
    let text = std::fs::read_to_string(report)
        .with_context(|| format!("{}: cannot read", report.display()))?;
    let theirs = parse_perf_report(&text);
    let mut ours: BTreeMap<String, u64> = BTreeMap::new();
    for vm in &s.vms {
        for e in &vm.total.exit_reasons {
            *ours.entry(e.reason.clone()).or_default() += e.count;
        }
    }
    v.check(
        !theirs.is_empty(),
        format!("perf kvm stat reports exits ({} reasons)", theirs.len()),
        || format!("no table in {}", report.display()),
    );
    let reasons: std::collections::BTreeSet<&String> = ours.keys().chain(theirs.keys()).collect();
    let threads = s.vms.iter().map(|vm| vm.vcpus.len()).sum::<usize>() as i64;
    let mut total = 0;
    for r in reasons {
        let (a, b) = (
            ours.get(r).copied().unwrap_or(0),
            theirs.get(r).copied().unwrap_or(0),
        );
        let d = a as i64 - b as i64;
        total += d;
        v.check(
            (0..=threads).contains(&d),
            format!("exit reason '{r}': axrt-trace {a}, perf kvm stat {b} (0..={threads} more: the last exit of each vCPU thread)"),
            || "differ".into(),
        );
    }
    v.check(
        (0..=threads).contains(&total),
        format!("all exits: axrt-trace - perf kvm stat = {total} (0..={threads})"),
        || "differ".into(),
    );
    Ok(())
}

/// The counts of `perf stat -x, -o FILE -e kvm:kvm_exit -e kvm:kvm_exit --filter
/// 'exit_reason == N' ...` (CSV, one line per event in command-line order): the first is all
/// exits, then one per name of `reasons`.
pub fn parse_perf_stat(text: &str) -> Vec<u64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains("kvm:kvm_exit"))
        .filter_map(|l| l.split(',').next()?.trim().parse().ok())
        .collect()
}

/// Exits over all VMs, in total and for each of `reasons`, against `perf stat` counting the
/// same tracepoint over the same run: equal.
pub fn perf_stat(s: &Summary, file: &Path, reasons: &[String], v: &mut Verdicts) -> Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("{}: cannot read", file.display()))?;
    let counts = parse_perf_stat(&text);
    v.check(
        counts.len() == reasons.len() + 1,
        format!("perf stat counted kvm:kvm_exit {} ways", reasons.len() + 1),
        || format!("{} counts in {}", counts.len(), file.display()),
    );
    let total: u64 = s.vms.iter().map(|vm| vm.total.exits).sum();
    if let Some(&n) = counts.first() {
        v.check(
            n == total,
            format!("all exits: axrt-trace {total}, perf stat {n}"),
            || "differ".into(),
        );
    }
    for (r, &n) in reasons.iter().zip(counts.iter().skip(1)) {
        let ours: u64 = s.vms.iter().map(|vm| vm.total.exits_of(r)).sum();
        v.check(
            ours == n,
            format!("exit reason '{r}': axrt-trace {ours}, perf stat {n}"),
            || "differ".into(),
        );
    }
    Ok(())
}

/// No record was lost.
pub fn no_drops(s: &Summary, v: &mut Verdicts) {
    v.check(
        s.drops == 0,
        format!(
            "no trace record dropped (dropped {}, {} received)",
            s.drops, s.records
        ),
        || format!("per CPU {:?}", s.drops_per_cpu),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_stat_csv_is_read_in_order() {
        let t = "# started on x\n\n1850,,kvm:kvm_exit,2000,100.00,,\n1800,,kvm:kvm_exit,2000,100.00,,\n<not counted>,,kvm:kvm_exit,0,0,,\n";
        assert_eq!(parse_perf_stat(t), vec![1850, 1800]);
    }

    #[test]
    fn perf_kvm_stat_tables_are_read() {
        let text = "\nAnalyze events for all VMs, all VCPUs:\n\n             VM-EXIT    Samples  Samples%     Time%    Min Time    Max Time         Avg time \n\n                  io       2512    61.11%     3.01%      5.63us    931.56us     20.28us ( +-   4.94% )\n                 npf        120     2.92%     0.10%      3.06us    153.30us     13.87us ( +-  15.34% )\n              UD excp          3     0.07%     0.00%      3.06us    153.30us     13.87us ( +-  15.34% )\n\nTotal Samples:4110, Total events handled time:1694072.64us.\n";
        let m = parse_perf_report(text);
        assert_eq!(m.get("io"), Some(&2512));
        assert_eq!(m.get("npf"), Some(&120));
        assert_eq!(m.get("UD excp"), Some(&3));
        assert_eq!(m.len(), 3);
    }
}
