// SPDX-License-Identifier: GPL-2.0-only
//
// model.rs - the summary: per vCPU thread and per VM, where the time went (the states of
// intf.h), exits by reason with their host handling-time percentiles, wakeup-to-run and
// preempted-to-run latencies, migrations, who preempted, scx_axrt's decisions, and the
// kernel's own run_delay for the same threads next to the runnable wait measured here. Built
// from a snapshot of the BPF maps; serialised as the JSON output and printed as the table.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bpf_intf::{self, AXRT_F_DEAD, AXRT_F_HAS_EXIT};
use crate::decisions::Decisions;
use crate::hist::{Hist, Percentiles};
use crate::probe::ThreadData;
use crate::states::{exit_name, Isa, FIRST_PREEMPTED, NR_STATES, PREEMPTORS, STATE_NAMES};
use crate::vms::{vcpu_index, Names};

/// One exit reason of a thread or VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExitReason {
    /// perf kvm stat's name of the reason.
    pub reason: String,
    /// Exits (those still being handled included).
    pub count: u64,
    /// Host time handling one exit: on a CPU outside the guest, not halted, not waiting.
    pub handling: Percentiles,
    /// The histogram behind `handling`.
    #[serde(skip)]
    pub hist: Hist,
}

/// Counters and distributions of one vCPU thread, or summed over a VM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Time followed, ns (the sum of the states).
    pub traced_ns: u64,
    /// Time in each state, ns, by state name.
    pub states_ns: BTreeMap<String, u64>,
    /// Exits, all reasons.
    pub exits: u64,
    /// By reason, most frequent first.
    pub exit_reasons: Vec<ExitReason>,
    /// Halts that ended, and how many of them slept (the rest were ended by polling).
    pub halts: u64,
    /// ... that slept.
    pub halts_blocked: u64,
    /// sched_waking events.
    pub wakeups: u64,
    /// Preemptions by who took the CPU: same_vm, other_vm, host, kernel.
    pub preemptions: BTreeMap<String, u64>,
    /// CPU migrations.
    pub migrations: u64,
    /// Wakeup (sched_waking) to running.
    pub wake_latency: Percentiles,
    /// Preempted to running again.
    pub preempt_latency: Percentiles,
    /// Runnable but not running (woken and preempted waits), ns.
    pub runnable_wait_ns: u64,
    /// The kernel's schedstat run_delay over the same time, ns.
    pub run_delay_ns: u64,
    /// scx_axrt decisions by kind.
    pub decisions: BTreeMap<String, u64>,
    #[serde(skip)]
    wake_hist: Hist,
    #[serde(skip)]
    preempt_hist: Hist,
}

/// One vCPU thread.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vcpu {
    /// Thread id.
    pub tid: u32,
    /// Thread name.
    pub comm: String,
    /// vCPU index from a QEMU-style name.
    pub vcpu: Option<u32>,
    /// The thread exited during the recording.
    pub exited: bool,
    /// Its figures.
    #[serde(flatten)]
    pub figures: Figures,
}

/// One VM: its vCPU threads and their sums.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vm {
    /// Name (see vms.rs for where it comes from).
    pub name: String,
    /// VMM process id.
    pub pid: u32,
    /// Its cgroup.
    pub cgroup: String,
    /// Sums over the vCPUs (latencies merged).
    pub total: Figures,
    /// The vCPU threads, by vCPU index then tid.
    pub vcpus: Vec<Vcpu>,
}

/// What axrt-trace itself cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// User-space CPU time (user + system), s.
    pub user_space_cpu_s: f64,
    /// Time in the BPF programs, s (None: kernel.bpf_stats unavailable).
    pub bpf_cpu_s: Option<f64>,
    /// BPF program runs.
    pub bpf_runs: Option<u64>,
    /// Both, in % of one CPU over the recording.
    pub cpu_pct: f64,
}

/// The whole recording.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// "axrt-trace".
    pub tool: String,
    /// Its version.
    pub version: String,
    /// "summary" or "trace".
    pub mode: String,
    /// Recording start and end, CLOCK_MONOTONIC ns.
    pub start_ns: u64,
    /// ...
    pub end_ns: u64,
    /// "vmx", "svm" or "" (no exit seen).
    pub isa: String,
    /// Ring records lost (trace mode), per CPU.
    pub drops_per_cpu: Vec<u64>,
    /// Their sum.
    pub drops: u64,
    /// Trace records received.
    pub records: u64,
    /// scx_axrt's event stream: "connected", "not running", or why not.
    pub scx_axrt: String,
    /// Lines the loader's event socket dropped for us (a slow reader).
    pub scx_events_dropped: u64,
    /// The tool's own cost.
    pub cost: Cost,
    /// VMs, by name.
    pub vms: Vec<Vm>,
}

fn pct(h: &Hist) -> Percentiles {
    h.percentiles()
}

impl Figures {
    fn from_thread(d: &ThreadData, now: u64, run_delay_now: Option<u64>, isa: Isa) -> Self {
        let r = &d.rec;
        let mut states = r.state_ns;
        // Gone from /proc without an exit seen: its last switch-out is the last we know.
        let dead = r.flags & AXRT_F_DEAD != 0 || run_delay_now.is_none();
        let state = (r.cur & bpf_intf::AXRT_STATE_MASK as u64) as usize;
        let since = r.cur >> bpf_intf::AXRT_STATE_BITS;
        if !dead && state < NR_STATES && now > since {
            states[state] += now - since;
        }
        let mut f = Figures {
            traced_ns: states.iter().sum(),
            states_ns: STATE_NAMES
                .iter()
                .zip(states)
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            exits: r.exits,
            halts: r.halts,
            halts_blocked: r.halts_blocked,
            wakeups: r.wakeups,
            preemptions: PREEMPTORS
                .iter()
                .zip(r.preemptions)
                .map(|(n, v)| (n.to_string(), v))
                .collect(),
            migrations: r.migrations,
            runnable_wait_ns: states[crate::states::st::WAIT_WOKEN..].iter().sum(),
            ..Figures::default()
        };
        debug_assert_eq!(FIRST_PREEMPTED, crate::states::st::WAIT_WOKEN + 1);
        let last = run_delay_now.unwrap_or(r.run_delay_last_ns);
        f.run_delay_ns = last.saturating_sub(r.run_delay_first_ns);
        let mut reasons: BTreeMap<u16, ExitReason> = BTreeMap::new();
        for (&(kind, reason), h) in &d.hists {
            match u32::from(kind) {
                bpf_intf::axrt_hist_kind_AXRT_H_WAKE => f.wake_hist.merge(h),
                bpf_intf::axrt_hist_kind_AXRT_H_PREEMPT => f.preempt_hist.merge(h),
                bpf_intf::axrt_hist_kind_AXRT_H_EXIT => {
                    let e = reasons.entry(reason).or_default();
                    e.hist.merge(h);
                    e.count += h.count;
                }
                _ => {}
            }
        }
        if r.flags & AXRT_F_HAS_EXIT != 0 {
            // An exit still being handled counts (its time is not known yet).
            let key = if r.isa == bpf_intf::AXRT_ISA_VMX {
                (r.exit_reason & 0xffff) as u16
            } else {
                r.exit_reason.min(0xffff) as u16
            };
            reasons.entry(key).or_default().count += 1;
        }
        f.exit_reasons = reasons
            .into_iter()
            .map(|(code, mut e)| {
                e.reason = exit_name(isa, code);
                e.handling = pct(&e.hist);
                e
            })
            .collect();
        f.finish();
        f
    }

    /// Sorts reasons and computes the percentiles.
    fn finish(&mut self) {
        self.exit_reasons
            .sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
        for e in &mut self.exit_reasons {
            e.handling = pct(&e.hist);
        }
        self.wake_latency = pct(&self.wake_hist);
        self.preempt_latency = pct(&self.preempt_hist);
    }

    /// Adds another thread's figures (a VM's total).
    fn add(&mut self, o: &Figures) {
        self.traced_ns += o.traced_ns;
        for (k, v) in &o.states_ns {
            *self.states_ns.entry(k.clone()).or_default() += v;
        }
        self.exits += o.exits;
        for e in &o.exit_reasons {
            match self.exit_reasons.iter_mut().find(|x| x.reason == e.reason) {
                Some(x) => {
                    x.count += e.count;
                    x.hist.merge(&e.hist);
                }
                None => self.exit_reasons.push(e.clone()),
            }
        }
        self.halts += o.halts;
        self.halts_blocked += o.halts_blocked;
        self.wakeups += o.wakeups;
        for (k, v) in &o.preemptions {
            *self.preemptions.entry(k.clone()).or_default() += v;
        }
        self.migrations += o.migrations;
        self.wake_hist.merge(&o.wake_hist);
        self.preempt_hist.merge(&o.preempt_hist);
        self.runnable_wait_ns += o.runnable_wait_ns;
        self.run_delay_ns += o.run_delay_ns;
        for (k, v) in &o.decisions {
            *self.decisions.entry(k.clone()).or_default() += v;
        }
    }

    /// The wakeup-to-run histogram.
    pub fn wake_hist(&self) -> &Hist {
        &self.wake_hist
    }

    /// The preempted-to-run histogram.
    pub fn preempt_hist(&self) -> &Hist {
        &self.preempt_hist
    }

    /// Time in `state`, ns.
    pub fn state_ns(&self, state: &str) -> u64 {
        self.states_ns.get(state).copied().unwrap_or(0)
    }

    /// Fraction of the followed time in the states named, 0..=1.
    pub fn fraction(&self, states: &[&str]) -> f64 {
        if self.traced_ns == 0 {
            return 0.0;
        }
        states.iter().map(|s| self.state_ns(s)).sum::<u64>() as f64 / self.traced_ns as f64
    }

    /// Exits of the reason named.
    pub fn exits_of(&self, reason: &str) -> u64 {
        self.exit_reasons
            .iter()
            .filter(|e| e.reason == reason)
            .map(|e| e.count)
            .sum()
    }
}

/// The kernel's run_delay of a live thread (/proc/PID/task/TID/schedstat, second field), ns.
pub fn run_delay_of(tgid: u32, tid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{tgid}/task/{tid}/schedstat")).ok()?;
    s.split_whitespace().nth(1)?.parse().ok()
}

/// The ISA of the exits seen (the first thread with an exit says it).
pub fn isa_of(threads: &BTreeMap<u32, ThreadData>) -> Option<Isa> {
    threads.values().find_map(|t| {
        (t.rec.exits > 0)
            .then(|| Isa::from_raw(t.rec.isa))
            .flatten()
    })
}

/// Groups the threads by VM. `now` closes the live threads' current state; `run_delay` reads
/// a live thread's run_delay.
pub fn build(
    threads: &BTreeMap<u32, ThreadData>,
    names: &Names,
    decisions: &Decisions,
    now: u64,
    run_delay: &dyn Fn(u32, u32) -> Option<u64>,
) -> Vec<Vm> {
    let isa = isa_of(threads).unwrap_or(Isa::Svm);
    let mut vms: BTreeMap<u32, Vm> = BTreeMap::new();
    for (&tid, d) in threads {
        let tgid = d.rec.tgid;
        let info = names.vm(tgid);
        let vm = vms.entry(tgid).or_insert_with(|| Vm {
            name: info.name.clone(),
            pid: tgid,
            cgroup: info.cgroup.clone(),
            ..Vm::default()
        });
        let comm = names.comm(tid);
        let rd = run_delay(tgid, tid);
        let exited = d.rec.flags & AXRT_F_DEAD != 0 || rd.is_none();
        let mut figures = Figures::from_thread(d, now, rd, isa);
        figures.decisions = decisions.of_thread(tid);
        vm.vcpus.push(Vcpu {
            tid,
            vcpu: vcpu_index(&comm),
            comm,
            exited,
            figures,
        });
    }
    let mut out: Vec<Vm> = vms
        .into_values()
        .map(|mut vm| {
            vm.vcpus
                .sort_by_key(|v| (v.vcpu.unwrap_or(u32::MAX), v.tid));
            let mut total = Figures::default();
            for v in &vm.vcpus {
                total.add(&v.figures);
            }
            // Thread-less decisions (throttle, replenish, supply_miss) belong to the VM.
            for (k, n) in decisions.of_vm(&vm.name, names.vm(vm.pid).cgid) {
                *total.decisions.entry(k).or_default() += n;
            }
            total.finish();
            vm.total = total;
            vm
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.pid.cmp(&b.pid)));
    out
}
