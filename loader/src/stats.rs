// SPDX-License-Identifier: GPL-2.0-only
//
// stats.rs - the statistics scx_axrt shows: per VM and for the host group, over an interval,
// the CPU share, throttles, replenishments, deadline and supply misses, reserve grants and
// wakeup-latency percentiles. A `Sample` is the cumulative counters at one moment (read from
// the BPF maps, grouped by VM); a `Report` is the difference of two samples. The same report
// is printed by --stats (a table or, with --json, one JSON object per line) and served over
// scx_stats' UNIX socket, from which --monitor reads it in another process.

//! Samples, interval reports, their text and JSON forms, the stats server and --monitor.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Result;
use scx_stats::prelude::*;
use scx_stats_derive::Stats;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::counters::{quantile_ns, GroupStats, TaskStats};
use crate::discovery::State;
use crate::maps::GroupState;

/// scx_stats' default socket, where the scheduler serves and --monitor connects.
pub const SOCKET: &str = "/var/run/scx/root/stats";

/// [`Report::scope`] of a report over one --stats interval.
pub const SCOPE_INTERVAL: &str = "interval";
/// [`Report::scope`] of the report over a whole run, printed when the scheduler stops.
pub const SCOPE_RUN: &str = "run";

/// Name of the group of every task outside the configured VMs.
pub const HOST: &str = "host";

/// Cumulative counters of every group at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Monotonic time of the reading, ns.
    pub at_ns: u64,
    /// Groups in display order: VMs in file order, other BPF groups, then the host group.
    pub groups: Vec<GroupSample>,
    /// Threads with a spec (a `[[task]]` rule), by tid.
    pub tasks: Vec<TaskSample>,
}

/// One thread's counters in a [`Sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSample {
    /// `VM/comm`.
    pub name: String,
    /// Thread id.
    pub tid: i32,
    /// Its priority (its rule's, or its VM's).
    pub prio: u8,
    /// Counters since it got its spec.
    pub stats: TaskStats,
}

/// One group's counters in a [`Sample`].
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSample {
    /// VM name, `host`, or `cgroup:ID` for a group the configuration does not name (a cgroup
    /// with a cpu.max budget).
    pub name: String,
    /// Number of cgroups discovery registered for the group (0 for a VM not found yet; 1 for a
    /// `cgroup:ID` group). The BPF tier reports a cgroup only once a task of it has run.
    pub cgroups: u64,
    /// Default priority of its threads.
    pub prio: u8,
    /// Counters since the scheduler started, summed over the group's cgroups.
    pub stats: GroupStats,
}

/// The name a cgroup's group is shown under: its VM's, or `cgroup:ID` for a cgroup with a
/// cpu.max budget that no `[[vm]]` names.
pub fn group_name(cfg: &Config, state: &State, cgid: u64) -> String {
    match state.vm_of(cgid) {
        Some(vm) => cfg.vms[vm].params.name.clone(),
        None => format!("cgroup:{cgid}"),
    }
}

/// The counters of each BPF group slot, kept across the slot's life: when a VM's cgroup goes
/// away (its slot is freed, or taken by another cgroup), what it counted stays with its group
/// name, so a VM's cumulative counters never go back and a run's totals include VMs that are
/// gone. The BPF tier zeroes a slot's counters when a cgroup takes it; what a group counted
/// after the last observation is lost, so the loader observes at every poll (100 ms).
#[derive(Debug, Default)]
pub struct Ledger {
    /// Slot -> (cgroup id, group name, counters) as last observed.
    live: BTreeMap<u32, (u64, String, GroupStats)>,
    /// Group name -> counters of its slots that are gone.
    retired: BTreeMap<String, GroupStats>,
}

impl Ledger {
    /// Takes in the groups the BPF tier has now; `name` names a cgroup's group.
    pub fn observe(&mut self, groups: &[(GroupState, GroupStats)], name: impl Fn(u64) -> String) {
        let live: BTreeMap<u32, (u64, String, GroupStats)> = groups
            .iter()
            .map(|(g, st)| (g.slot, (g.cgid, name(g.cgid), *st)))
            .collect();
        for (slot, (cgid, name, st)) in std::mem::take(&mut self.live) {
            if live.get(&slot).is_none_or(|(c, _, _)| *c != cgid) {
                self.retired.entry(name).or_default().add(&st);
            }
        }
        self.live = live;
    }

    /// Counters of groups whose slots are gone, by group name.
    pub fn retired(&self) -> &BTreeMap<String, GroupStats> {
        &self.retired
    }
}

impl Sample {
    /// Groups the BPF tier's per-cgroup statistics by VM, adding what groups whose cgroups are
    /// gone counted (`retired`, by group name). `state` says which cgroup is which VM's; every
    /// VM of `cfg` appears, found or not.
    pub fn build(
        cfg: &Config,
        state: &State,
        host: GroupStats,
        groups: &[(GroupState, GroupStats)],
        retired: &BTreeMap<String, GroupStats>,
        at_ns: u64,
    ) -> Self {
        let mut out: Vec<GroupSample> = cfg
            .vms
            .iter()
            .enumerate()
            .map(|(i, vm)| GroupSample {
                name: vm.params.name.clone(),
                cgroups: state.cgroups_of(i) as u64,
                prio: vm.params.priority,
                stats: GroupStats::default(),
            })
            .collect();
        let mut add = |name: String, cgroups: u64, st: &GroupStats| {
            let i = match out.iter().position(|g| g.name == name) {
                Some(i) => i,
                None => {
                    // A cgroup no [[vm]] names (its cpu.max made it a group): host priority.
                    out.push(GroupSample {
                        name,
                        cgroups,
                        prio: cfg.system.host_priority,
                        stats: GroupStats::default(),
                    });
                    out.len() - 1
                }
            };
            out[i].stats.add(st);
        };
        for (gs, st) in groups {
            add(group_name(cfg, state, gs.cgid), 1, st);
        }
        for (name, st) in retired {
            add(name.clone(), 0, st);
        }
        out.push(GroupSample {
            name: HOST.into(),
            cgroups: 0,
            prio: cfg.system.host_priority,
            stats: host,
        });
        Sample {
            at_ns,
            groups: out,
            tasks: Vec::new(),
        }
    }
}

/// Statistics of every group over one interval.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(top, desc = "scx_axrt statistics over one interval")]
pub struct Report {
    /// Length of the interval.
    #[stat(desc = "length of the interval (s)")]
    pub interval_s: f64,
    /// What the interval is: `interval` (one --stats period) or `run` (the whole run, printed
    /// once when the scheduler stops).
    #[stat(desc = "interval, or run: the whole run (printed at exit)")]
    #[serde(default)]
    pub scope: String,
    /// One entry per group, VMs first, the host group last.
    #[stat(desc = "per group (VM, host)")]
    pub groups: Vec<GroupReport>,
    /// One entry per thread with a spec, by tid.
    #[stat(desc = "per thread with a spec")]
    pub tasks: Vec<TaskReport>,
}

/// One thread with a spec over one interval (its worst cases: since it got its spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
#[stat(desc = "one thread with a spec over the interval")]
pub struct TaskReport {
    /// `VM/comm`.
    #[stat(desc = "VM/comm")]
    pub name: String,
    /// Thread id.
    #[stat(desc = "thread id")]
    pub tid: i64,
    /// Its priority (its rule's, or its VM's).
    #[stat(desc = "priority")]
    #[serde(default)]
    pub prio: u64,
    /// Jobs completed.
    #[stat(desc = "jobs completed")]
    pub jobs: u64,
    /// Of which over their deadline.
    #[stat(desc = "deadline misses")]
    pub misses: u64,
    /// Of which ran longer than the WCET.
    #[stat(desc = "WCET overruns")]
    pub wcet_overruns: u64,
    /// 99th-percentile response time: upper bound of its log2 bucket, µs.
    #[stat(desc = "response time p99 upper bound (us)")]
    pub resp_p99_us: f64,
    /// Worst response time since it got its spec, µs.
    #[stat(desc = "worst response time so far (us)")]
    pub max_response_us: f64,
    /// Worst lateness of a missed job since it got its spec, µs.
    #[stat(desc = "worst lateness so far (us)")]
    pub max_lateness_us: f64,
    /// Boosts it received.
    #[stat(desc = "boosts received")]
    pub boosts_received: u64,
    /// Boosts it gave.
    #[stat(desc = "boosts given")]
    pub boosts_given: u64,
}

macro_rules! group_report {
    ($($f:ident $desc:literal;)*) => {
        /// One group over one interval: every counter of the BPF tier's list (intf.h,
        /// AXRT_GROUP_COUNTERS) as it counted over the interval, and what is derived from them.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, Stats)]
        #[stat(desc = "one group (a VM or the host group) over the interval")]
        pub struct GroupReport {
            /// VM name, `host`, or `cgroup:ID`.
            #[stat(desc = "group name")]
            pub name: String,
            /// Default priority of the group's threads (0 is the best).
            #[stat(desc = "priority of its threads")]
            #[serde(default)]
            pub prio: u64,
            /// Cgroups making up the group at the end of the interval.
            #[stat(desc = "cgroups making up the group")]
            pub cgroups: u64,
            /// CPU time used, in percent of one CPU over the interval (200 = two CPUs).
            #[stat(desc = "CPU time, % of one CPU")]
            pub cpu_pct: f64,
            $(
                #[doc = $desc]
                #[stat(desc = $desc)]
                #[serde(default)]
                pub $f: u64,
            )*
            /// Wakeups measured (enqueue to running).
            #[stat(desc = "wakeups measured")]
            pub wakeups: u64,
            /// Wakeup latency p50: bound of its log2 bucket, µs.
            #[stat(desc = "wakeup latency p50 upper bound (us)")]
            pub lat_p50_us: f64,
            /// Wakeup latency p99: bound of its log2 bucket, µs.
            #[stat(desc = "wakeup latency p99 upper bound (us)")]
            pub lat_p99_us: f64,
            /// Directed yield to the boosted thread running, p50, µs.
            #[stat(desc = "yield-to-run latency p50 upper bound (us)")]
            pub boost_p50_us: f64,
            /// Directed yield to the boosted thread running, p99, µs.
            #[stat(desc = "yield-to-run latency p99 upper bound (us)")]
            pub boost_p99_us: f64,
        }

        impl GroupReport {
            /// Copies every counter of `d`.
            fn set_counters(&mut self, d: &GroupStats) {
                $(self.$f = d.$f;)*
            }
        }
    };
}
axrt_group_counters!(group_report);

impl Report {
    /// What happened between `prev` and `cur`. Groups are matched by name; a group absent
    /// from `prev` counts from zero, and counters that went backwards (a VM's cgroup vanished
    /// with its counters) count as zero.
    pub fn between(prev: &Sample, cur: &Sample) -> Self {
        let span_ns = cur.at_ns.saturating_sub(prev.at_ns);
        let groups = cur
            .groups
            .iter()
            .map(|g| {
                let before = prev
                    .groups
                    .iter()
                    .find(|p| p.name == g.name)
                    .map(|p| p.stats)
                    .unwrap_or_default();
                GroupReport::new(g, &g.stats.since(&before), span_ns)
            })
            .collect();
        let tasks = cur
            .tasks
            .iter()
            .map(|t| {
                let before = prev
                    .tasks
                    .iter()
                    .find(|p| p.tid == t.tid)
                    .map(|p| p.stats)
                    .unwrap_or_default();
                TaskReport::new(t, &before)
            })
            .collect();
        Report {
            interval_s: span_ns as f64 / 1e9,
            scope: SCOPE_INTERVAL.into(),
            groups,
            tasks,
        }
    }

    /// The report as a table, one line per group after a header.
    /// The same report, marked as the totals of a whole run.
    pub fn as_totals(mut self) -> Self {
        self.scope = SCOPE_RUN.into();
        self
    }

    /// True for the totals of a whole run.
    pub fn is_totals(&self) -> bool {
        self.scope == SCOPE_RUN
    }

    pub fn format_table(&self) -> String {
        let mut s = format!(
            "scx_axrt: {}{:.2}s\n{:<16} {:>7} {:>4} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9} {:>8} {:>8}\n",
            if self.is_totals() { "totals over " } else { "" },
            self.interval_s,
            "group",
            "cpu%",
            "cgs",
            "throttle",
            "replenish",
            "dl_miss",
            "sup_miss",
            "reserve",
            "wakeups",
            "lat_p50",
            "lat_p99",
        );
        for g in &self.groups {
            s.push_str(&format!(
                "{:<16} {:>7.1} {:>4} {:>9} {:>9} {:>7} {:>8} {:>7} {:>9} {:>8} {:>8}\n",
                g.name,
                g.cpu_pct,
                g.cgroups,
                g.throttles,
                g.replenishments,
                g.deadline_misses,
                g.supply_misses,
                g.reserve_grants,
                g.wakeups,
                format_us(g.lat_p50_us, g.wakeups),
                format_us(g.lat_p99_us, g.wakeups),
            ));
        }
        let active = |g: &&GroupReport| g.jobs + g.windows + g.boosts_received + g.boosts_given > 0;
        if self.groups.iter().any(|g| active(&g)) {
            s.push_str(&format!(
                "{:<16} {:>7} {:>7} {:>5} {:>7} {:>8} {:>7} {:>7} {:>9}\n",
                "group",
                "jobs",
                "dl_miss",
                "wcet",
                "windows",
                "sup_miss",
                "boosted",
                "boosts",
                "boost_p99"
            ));
            for g in self.groups.iter().filter(active) {
                s.push_str(&format!(
                    "{:<16} {:>7} {:>7} {:>5} {:>7} {:>8} {:>7} {:>7} {:>9}\n",
                    g.name,
                    g.jobs,
                    g.deadline_misses,
                    g.wcet_overruns,
                    g.windows,
                    g.supply_misses,
                    g.boosts_received,
                    g.boosts_given,
                    format_us(g.boost_p99_us, g.boosts_received),
                ));
            }
        }
        if !self.tasks.is_empty() {
            s.push_str(&format!(
                "{:<24} {:>7} {:>7} {:>7} {:>5} {:>9} {:>11} {:>11} {:>7}\n",
                "thread",
                "tid",
                "jobs",
                "dl_miss",
                "wcet",
                "resp_p99",
                "max_resp",
                "max_late",
                "boosted"
            ));
            for t in &self.tasks {
                s.push_str(&format!(
                    "{:<24} {:>7} {:>7} {:>7} {:>5} {:>9} {:>9.0}us {:>9.0}us {:>7}\n",
                    t.name,
                    t.tid,
                    t.jobs,
                    t.misses,
                    t.wcet_overruns,
                    format_us(t.resp_p99_us, t.jobs),
                    t.max_response_us,
                    t.max_lateness_us,
                    t.boosts_received,
                ));
            }
        }
        s
    }

    /// The report as one line of JSON.
    pub fn format_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// Writes the report in the chosen form.
    pub fn print(&self, json: bool, out: &mut impl Write) -> std::io::Result<()> {
        if json {
            writeln!(out, "{}", self.format_json())?;
        } else {
            write!(out, "{}", self.format_table())?;
        }
        out.flush()
    }
}

impl GroupReport {
    fn new(g: &GroupSample, d: &GroupStats, span_ns: u64) -> Self {
        let mut r = GroupReport {
            name: g.name.clone(),
            prio: u64::from(g.prio),
            cgroups: g.cgroups,
            cpu_pct: if span_ns == 0 {
                0.0
            } else {
                d.runtime_ns as f64 * 100.0 / span_ns as f64
            },
            wakeups: d.lat_hist.iter().sum(),
            lat_p50_us: us(quantile_ns(&d.lat_hist, 0.50)),
            lat_p99_us: us(quantile_ns(&d.lat_hist, 0.99)),
            boost_p50_us: us(quantile_ns(&d.boost_hist, 0.50)),
            boost_p99_us: us(quantile_ns(&d.boost_hist, 0.99)),
            ..GroupReport::default()
        };
        r.set_counters(d);
        r
    }
}

impl TaskReport {
    fn new(t: &TaskSample, before: &TaskStats) -> Self {
        let s = &t.stats;
        let mut hist = s.resp_hist;
        for (a, b) in hist.iter_mut().zip(before.resp_hist) {
            *a = a.saturating_sub(b);
        }
        TaskReport {
            name: t.name.clone(),
            tid: i64::from(t.tid),
            prio: u64::from(t.prio),
            jobs: s.jobs.saturating_sub(before.jobs),
            misses: s.misses.saturating_sub(before.misses),
            wcet_overruns: s.wcet_overruns.saturating_sub(before.wcet_overruns),
            resp_p99_us: us(quantile_ns(&hist, 0.99)),
            max_response_us: s.max_response_ns as f64 / 1000.0,
            max_lateness_us: s.max_lateness_ns as f64 / 1000.0,
            boosts_received: s.boosts_received.saturating_sub(before.boosts_received),
            boosts_given: s.boosts_given.saturating_sub(before.boosts_given),
        }
    }
}

/// A quantile bound in µs, 0 without samples.
fn us(ns: Option<u64>) -> f64 {
    ns.map_or(0.0, |ns| ns as f64 / 1000.0)
}

/// A latency bound in µs for the table: "≤16us", "≤1.0ms"; "-" without wakeups.
fn format_us(us: f64, wakeups: u64) -> String {
    if wakeups == 0 {
        "-".into()
    } else if us < 1000.0 {
        format!("<={us:.0}us")
    } else {
        format!("<={:.1}ms", us / 1000.0)
    }
}

/// The stats server's data: each client connection keeps its own previous sample, so every
/// request reports the interval since that client's last one. The scheduler's loop answers
/// each `()` request with a fresh [`Sample`].
pub fn server_data() -> StatsServerData<(), Sample> {
    let open: Box<dyn StatsOpener<(), Sample>> = Box::new(|(req, res)| {
        req.send(())?;
        let mut prev = res.recv()?;
        let read: Box<dyn StatsReader<(), Sample>> = Box::new(move |_args, (req, res)| {
            req.send(())?;
            let cur = res.recv()?;
            let report = Report::between(&prev, &cur);
            prev = cur;
            report.to_json()
        });
        Ok(read)
    });
    StatsServerData::new()
        .add_meta(Report::meta())
        .add_meta(GroupReport::meta())
        .add_meta(TaskReport::meta())
        .add_ops("top", StatsOps { open, close: None })
}

/// `--monitor`: prints the reports of the scx_axrt already running every `interval` until
/// `stop` is set (retrying while no instance is running).
pub fn monitor(interval: Duration, json: bool, stop: &AtomicBool) -> Result<()> {
    if UnixStream::connect(SOCKET).is_err() {
        eprintln!(
            "scx_axrt: no scx_axrt is running (nothing answers on {SOCKET}); waiting for one"
        );
    }
    // The first report of a connection covers only the moment since connecting: skip it.
    let mut fresh = true;
    scx_utils::monitor_stats::<Report>(
        &[],
        interval,
        || stop.load(Ordering::Relaxed),
        |report| {
            if std::mem::take(&mut fresh) && report.interval_s < interval.as_secs_f64() / 2.0 {
                return Ok(());
            }
            Ok(report.print(json, &mut std::io::stdout())?)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::GroupEntry;
    use axrt_policy::Overrun;

    const CFG: &str =
        "[[vm]]\nname = \"control\"\ncgroup = \"c*\"\nquota_us = 3000\nperiod_us = 10000\n\
                       [[vm]]\nname = \"batch\"\ncgroup = \"b*\"\n";

    fn cfg() -> Config {
        Config::parse(CFG, "t.toml", 4).unwrap()
    }

    fn state(cgid: u64) -> GroupState {
        GroupState {
            cgid,
            slot: 1,
            quota_ns: 0,
            period_ns: 0,
            budget_ns: 0,
            prio: 0,
            overrun: Overrun::Throttle,
            throttled: false,
            nr_running: 0,
        }
    }

    fn stats(runtime_ns: u64, throttles: u64, lat: &[(usize, u64)]) -> GroupStats {
        let mut s = GroupStats {
            runtime_ns,
            throttles,
            replenishments: throttles * 2,
            reserve_grants: 1,
            ..GroupStats::default()
        };
        for &(b, n) in lat {
            s.lat_hist[b] = n;
        }
        s
    }

    fn discovered() -> State {
        let mut st = State::default();
        for (cgid, vm) in [(10, 0), (11, 0)] {
            let path = format!("c{cgid}");
            st.groups.insert(cgid, GroupEntry { vm, path });
        }
        st
    }

    #[test]
    fn samples_group_cgroups_by_vm() {
        let groups = [
            (state(10), stats(100, 1, &[(11, 1)])),
            (state(11), stats(50, 2, &[(11, 1)])),
            (state(99), stats(7, 0, &[])),
        ];
        let s = Sample::build(
            &cfg(),
            &discovered(),
            stats(1, 0, &[]),
            &groups,
            &BTreeMap::new(),
            5,
        );
        let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["control", "batch", "cgroup:99", "host"]);
        assert_eq!(s.groups[0].cgroups, 2);
        assert_eq!(s.groups[0].stats.runtime_ns, 150);
        assert_eq!(s.groups[0].stats.throttles, 3);
        assert_eq!(s.groups[0].stats.lat_hist[11], 2);
        assert_eq!(s.groups[1].cgroups, 0);
        assert_eq!(s.groups[2].stats.runtime_ns, 7);
    }

    fn sample(at_ns: u64, control: GroupStats, host: GroupStats) -> Sample {
        let groups = [(state(10), control)];
        Sample::build(
            &cfg(),
            &discovered(),
            host,
            &groups,
            &BTreeMap::new(),
            at_ns,
        )
    }

    #[test]
    fn a_vm_whose_cgroup_went_keeps_what_it_counted() {
        let (cfg, st) = (cfg(), discovered());
        let name = |c| group_name(&cfg, &st, c);
        let mut ledger = Ledger::default();
        let mut other = state(99);
        other.slot = 2;
        ledger.observe(
            &[(state(10), stats(100, 1, &[])), (other, stats(5, 0, &[]))],
            name,
        );
        // Cgroup 10 is gone and cgroup 11 (the same VM) took its slot, counting from zero;
        // cgroup 99's slot was freed.
        let mut new = state(11);
        new.slot = 1;
        let now = [(new, stats(30, 1, &[]))];
        ledger.observe(&now, name);
        assert_eq!(
            ledger.retired().get("control").map(|s| s.runtime_ns),
            Some(100)
        );
        let s = Sample::build(&cfg, &st, GroupStats::default(), &now, ledger.retired(), 1);
        let control = &s.groups[0];
        assert_eq!(
            (control.stats.runtime_ns, control.stats.throttles),
            (130, 2)
        );
        let gone = s.groups.iter().find(|g| g.name == "cgroup:99").unwrap();
        assert_eq!((gone.cgroups, gone.stats.runtime_ns), (0, 5));
        // Observing the same groups again retires nothing more.
        ledger.observe(&now, name);
        assert_eq!(
            ledger.retired().get("control").map(|s| s.runtime_ns),
            Some(100)
        );
    }

    #[test]
    fn reports_are_differences_over_the_interval() {
        let prev = sample(
            1_000_000_000,
            stats(100_000_000, 1, &[(10, 10)]),
            stats(0, 0, &[]),
        );
        // 2 s later: control ran 0.6 s more (30 % of one CPU), 99 wakeups in [512, 1024) ns
        // (bucket 10) and one in [2^20, 2^21) ns (bucket 21) on top of the earlier 10.
        let cur = sample(
            3_000_000_000,
            stats(700_000_000, 4, &[(10, 109), (21, 1)]),
            stats(3_000_000_000, 0, &[]),
        );
        let r = Report::between(&prev, &cur);
        assert_eq!(r.interval_s, 2.0);
        let c = &r.groups[0];
        assert_eq!(c.name, "control");
        assert!((c.cpu_pct - 30.0).abs() < 1e-9, "{}", c.cpu_pct);
        assert_eq!(c.throttles, 3);
        assert_eq!(c.replenishments, 6);
        assert_eq!(c.reserve_grants, 0);
        assert_eq!(c.wakeups, 100);
        assert_eq!(c.lat_p50_us, 1.024);
        assert_eq!(c.lat_p99_us, 1.024);
        let host = r.groups.last().unwrap();
        assert_eq!(host.name, HOST);
        assert!((host.cpu_pct - 150.0).abs() < 1e-9);
        assert_eq!(host.wakeups, 0);
        assert_eq!(host.lat_p99_us, 0.0);
    }

    #[test]
    fn the_p99_reaches_the_tail_bucket() {
        let prev = sample(0, GroupStats::default(), GroupStats::default());
        let cur = sample(1, stats(0, 0, &[(10, 98), (21, 2)]), GroupStats::default());
        let c = &Report::between(&prev, &cur).groups[0];
        assert_eq!(c.lat_p50_us, 1.024);
        assert_eq!(c.lat_p99_us, 2097.152);
    }

    #[test]
    fn counters_that_go_backwards_count_as_zero() {
        let prev = sample(0, stats(500, 5, &[(4, 5)]), GroupStats::default());
        let cur = sample(10, stats(100, 1, &[(4, 1)]), GroupStats::default());
        let c = &Report::between(&prev, &cur).groups[0];
        assert_eq!((c.cpu_pct, c.throttles, c.wakeups), (0.0, 0, 0));
    }

    #[test]
    fn the_table_has_one_line_per_group_and_every_column() {
        let prev = sample(0, GroupStats::default(), GroupStats::default());
        let cur = sample(
            2_000_000_000,
            stats(600_000_000, 3, &[(14, 50), (23, 1)]),
            stats(1_000_000_000, 0, &[]),
        );
        let text = Report::between(&prev, &cur).format_table();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + 3, "{text}");
        assert_eq!(lines[0], "scx_axrt: 2.00s");
        for col in [
            "group",
            "cpu%",
            "throttle",
            "replenish",
            "dl_miss",
            "sup_miss",
            "reserve",
            "lat_p50",
            "lat_p99",
        ] {
            assert!(lines[1].contains(col), "{col} missing: {}", lines[1]);
        }
        let control: Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(
            control,
            ["control", "30.0", "2", "3", "6", "0", "0", "1", "51", "<=16us", "<=8.4ms"]
        );
        let batch: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(
            batch,
            ["batch", "0.0", "0", "0", "0", "0", "0", "0", "0", "-", "-"]
        );
        assert!(lines[4].starts_with("host "));
    }

    #[test]
    fn every_counter_of_intf_h_is_a_report_field() {
        macro_rules! names {
            ($($f:ident $desc:literal;)*) => {
                [$(stringify!($f)),*]
            };
        }
        let json = serde_json::to_value(GroupReport::default()).unwrap();
        for name in axrt_group_counters!(names) {
            assert!(json.get(name).is_some(), "{name} is not in the report");
        }
    }

    #[test]
    fn json_is_one_line_that_reads_back() {
        let prev = sample(0, GroupStats::default(), GroupStats::default());
        let cur = sample(
            1_000_000_000,
            stats(10, 1, &[(6, 2)]),
            GroupStats::default(),
        );
        let r = Report::between(&prev, &cur);
        let line = r.format_json();
        assert!(!line.contains('\n'));
        assert!(line.contains("\"name\":\"control\"") && line.contains("\"supply_misses\":0"));
        let back: Report = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn the_stats_server_serves_interval_reports() {
        let path = std::env::temp_dir().join(format!("scx_axrt-stats-{}", std::process::id()));
        let server = StatsServer::new(server_data())
            .set_path(&path)
            .launch()
            .unwrap();
        // The scheduler's side: sample n is taken at n seconds, control has run n × 0.25 s.
        let (tx, rx) = server.channels();
        let responder = std::thread::spawn(move || {
            for n in 1..=3u64 {
                rx.recv().unwrap();
                let control = stats(n * 250_000_000, n, &[]);
                tx.send(sample(n * 1_000_000_000, control, GroupStats::default()))
                    .unwrap();
            }
        });
        let mut client = StatsClient::new()
            .set_path(&path)
            .connect(Some(5000))
            .unwrap();
        // Opening the connection takes sample 1; each request then reports since the last.
        for _ in 0..2 {
            let r: Report = client.request("stats", vec![]).unwrap();
            assert_eq!(r.interval_s, 1.0);
            assert_eq!(r.groups[0].name, "control");
            assert!((r.groups[0].cpu_pct - 25.0).abs() < 1e-9);
            assert_eq!(r.groups[0].throttles, 1);
        }
        responder.join().unwrap();
        drop(server);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_server_metadata_is_complete() {
        // launch() verifies that every nested struct has its metadata; do the same here.
        let meta = Report::meta();
        assert!(meta.fields.contains_key("groups"));
        assert!(GroupReport::meta().fields.contains_key("lat_p99_us"));
    }
}
