// SPDX-License-Identifier: GPL-2.0-only
//
// overhead.rs - the simulator's overhead model fitted from the BPF tier's own run-time
// statistics. With kernel.bpf_stats_enabled=1 the kernel adds up, per program, the time spent in
// it (run_time_ns) and the calls (run_cnt); `bpf-stats` reads them for every loaded program
// through the BPF prog-info interface (libbpf-rs), and `fit` turns two snapshots taken around a
// run into the two parameters:
//
// * switch = (T(running) + T(stopping)) / N(running): what scx_axrt's code costs per context
//   switch (each switch runs `stopping` for the old task and `running` for the new one);
// * decision = T(every other struct_ops callback except tick) / (N(runnable) + N(quiescent)):
//   the cost of one wake-up or block decision (select_cpu, enqueue, dispatch, runnable,
//   quiescent, yield, ... all run on behalf of those events).
//
// Not in the model, and said so in `fit`'s report: `tick` (run on every CPU at every timer tick
// whatever happens; its share of the machine is printed), the kernel's own context-switch and
// wake-up paths (BPF statistics do not see them), and the futex tracing programs.

//! The overhead model's parameters and their fit.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::engine::Overhead;

/// The parameters fitted in the x86_64 test VM (QEMU TCG, 2 vCPUs, kernel 7.2) by
/// tests/vm/sim_crosscheck.sh, run 2 of README.md's "axrt-sim" section (the runs gave 68–297 us
/// per decision and 10–66 us per switch with the host's load). Under emulation these are far
/// above what the same code costs on hardware.
pub const FITTED: Overhead = Overhead {
    decision: 90_000,
    switch: 18_000,
};

/// One program's counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgStat {
    /// Program name (the kernel keeps 15 bytes).
    pub name: String,
    /// Total run time, ns.
    pub run_time_ns: u64,
    /// Runs.
    pub run_cnt: u64,
}

/// The statistics of every loaded program whose name starts with `prefix`, as JSON (an array;
/// programs of the same name are added up).
pub fn snapshot_json(prefix: &str) -> Result<String> {
    let enabled = std::fs::read_to_string("/proc/sys/kernel/bpf_stats_enabled")
        .context("reading /proc/sys/kernel/bpf_stats_enabled")?;
    if enabled.trim() != "1" {
        bail!("kernel.bpf_stats_enabled is {}: the counters stay 0 (sysctl kernel.bpf_stats_enabled=1)", enabled.trim());
    }
    let mut by_name: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for p in libbpf_rs::query::ProgInfoIter::default() {
        let name = p.name.to_string_lossy().into_owned();
        if name.starts_with(prefix) {
            let e = by_name.entry(name).or_default();
            e.0 += p.run_time_ns;
            e.1 += p.run_cnt;
        }
    }
    if by_name.is_empty() {
        bail!("no loaded BPF program is named {prefix}*: is scx_axrt running?");
    }
    let stats: Vec<ProgStat> = by_name
        .into_iter()
        .map(|(name, (run_time_ns, run_cnt))| ProgStat {
            name,
            run_time_ns,
            run_cnt,
        })
        .collect();
    Ok(serde_json::to_string(&stats)?)
}

/// A fitted model and what it is made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    /// The parameters.
    pub overhead: Overhead,
    /// Per program: calls and mean ns per call over the interval.
    pub programs: Vec<(String, u64, f64)>,
    /// Time in `tick` over the interval, ns (not modelled).
    pub tick_ns: u64,
    /// Switches counted (`running` calls).
    pub switches: u64,
    /// Decisions counted (`runnable` + `quiescent` calls).
    pub decisions: u64,
}

fn parse(text: &str) -> Result<BTreeMap<String, (u64, u64)>> {
    let v: Vec<ProgStat> = serde_json::from_str(text).context("a bpf-stats snapshot")?;
    Ok(v.into_iter()
        .map(|p| (p.name, (p.run_time_ns, p.run_cnt)))
        .collect())
}

/// Fits the model from snapshots `before` and `after` (see the module documentation).
pub fn fit(before: &str, after: &str) -> Result<Fit> {
    let (b, a) = (parse(before)?, parse(after)?);
    let mut delta: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (name, &(t, n)) in &a {
        let (t0, n0) = b.get(name).copied().unwrap_or((0, 0));
        if t < t0 || n < n0 {
            bail!("{name}: the counters went down between the snapshots (scx_axrt reloaded?)");
        }
        delta.insert(name.clone(), (t - t0, n - n0));
    }
    let get = |n: &str| delta.get(n).copied().unwrap_or((0, 0));
    let (t_run, n_run) = get("axrt_running");
    let (t_stop, _) = get("axrt_stopping");
    let (_, n_runnable) = get("axrt_runnable");
    let (_, n_quiescent) = get("axrt_quiescent");
    let (t_tick, _) = get("axrt_tick");
    let decisions = n_runnable + n_quiescent;
    if n_run == 0 || decisions == 0 {
        bail!("no switch or no wake-up between the snapshots: nothing to fit");
    }
    let t_decide: u64 = delta
        .iter()
        .filter(|(n, _)| !matches!(n.as_str(), "axrt_running" | "axrt_stopping" | "axrt_tick"))
        .map(|(_, &(t, _))| t)
        .sum();
    Ok(Fit {
        overhead: Overhead {
            decision: t_decide / decisions,
            switch: (t_run + t_stop) / n_run,
        },
        programs: delta
            .iter()
            .filter(|(_, &(_, n))| n > 0)
            .map(|(name, &(t, n))| (name.clone(), n, t as f64 / n as f64))
            .collect(),
        tick_ns: t_tick,
        switches: n_run,
        decisions,
    })
}

impl fmt::Display for Fit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| BPF program | calls | mean ns per call |")?;
        writeln!(f, "|---|---|---|")?;
        for (name, n, mean) in &self.programs {
            writeln!(f, "| {name} | {n} | {mean:.0} |")?;
        }
        writeln!(
            f,
            "fit: decision_ns={} switch_ns={} (over {} decisions, {} switches; tick, not modelled: {} ns in all)",
            self.overhead.decision, self.overhead.switch, self.decisions, self.switches, self.tick_ns
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fit_divides_the_right_sums() {
        let before = r#"[{"name":"axrt_running","run_time_ns":100,"run_cnt":1},
            {"name":"axrt_stopping","run_time_ns":100,"run_cnt":1}]"#;
        let after = r#"[{"name":"axrt_running","run_time_ns":1100,"run_cnt":11},
            {"name":"axrt_stopping","run_time_ns":1100,"run_cnt":11},
            {"name":"axrt_enqueue","run_time_ns":3000,"run_cnt":6},
            {"name":"axrt_runnable","run_time_ns":1000,"run_cnt":5},
            {"name":"axrt_quiescent","run_time_ns":1000,"run_cnt":5},
            {"name":"axrt_tick","run_time_ns":9999,"run_cnt":3}]"#;
        let f = fit(before, after).unwrap();
        // (1000 + 1000) / 10 switches; (3000 + 1000 + 1000) / (5 + 5) decisions.
        assert_eq!(
            f.overhead,
            Overhead {
                decision: 500,
                switch: 200
            }
        );
        assert_eq!(f.tick_ns, 9999);
        assert!(
            fit(after, before).is_err(),
            "counters going down are refused"
        );
        assert!(
            fit(before, before).is_err(),
            "nothing happened: nothing to fit"
        );
    }
}
