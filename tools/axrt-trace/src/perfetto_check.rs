// SPDX-License-Identifier: GPL-2.0-only
//
// perfetto_check.rs - reads a trace back with Perfetto's own schema (the perfetto_protos crate,
// generated from Perfetto's protos/perfetto/trace/*.proto) and compares it with the summary of
// the same recording: every VM a process track, every vCPU a thread track whose slices add up
// to the time the BPF maps counted in each state, exits/s counters that add up to the exits,
// scx_axrt's decisions as instants; and, for a VM scx_axrt throttled, that its vCPUs wait
// between each throttle and the replenishment that follows (one timeline). Built for the tests
// and with the `perfetto-check` feature only (perfetto_protos is Apache-2.0).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use perfetto_protos::trace::Trace;
use perfetto_protos::track_event::track_event::Type;
use protobuf::Message;

use crate::check::Verdicts;
use crate::model::Summary;
use crate::perfetto::COUNTER_BIN_NS;

/// What a track is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Track {
    /// A VM: pid and name.
    Process(u32, String),
    /// A vCPU thread: pid, tid and name.
    Thread(u32, u32, String),
    /// A counter, child of a thread track.
    Counter(u64),
}

/// A trace, decoded.
#[derive(Debug, Default)]
pub struct Decoded {
    /// Tracks by uuid.
    pub tracks: BTreeMap<u64, Track>,
    /// Slices per thread track: (start, end, name), in time order.
    pub slices: BTreeMap<u64, Vec<(u64, u64, String)>>,
    /// Counter samples per counter track: (ts, value).
    pub counters: BTreeMap<u64, Vec<(u64, f64)>>,
    /// Instants per track: (ts, name).
    pub instants: BTreeMap<u64, Vec<(u64, String)>>,
    /// Packets in the trace.
    pub packets: usize,
    /// A slice end without a begin, or a begin never ended.
    pub unbalanced: usize,
}

impl Decoded {
    /// Parses a `Trace` message.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let trace = Trace::parse_from_bytes(bytes).context("not a Perfetto trace")?;
        let mut d = Decoded {
            packets: trace.packet.len(),
            ..Decoded::default()
        };
        let mut events: Vec<(u64, u64, Type, String, f64)> = Vec::new();
        for p in &trace.packet {
            if p.has_track_descriptor() {
                let td = p.track_descriptor();
                let t = if let Some(th) = td.thread.as_ref() {
                    Track::Thread(
                        th.pid() as u32,
                        th.tid() as u32,
                        th.thread_name().to_string(),
                    )
                } else if let Some(pr) = td.process.as_ref() {
                    Track::Process(pr.pid() as u32, pr.process_name().to_string())
                } else if td.counter.is_some() {
                    Track::Counter(td.parent_uuid())
                } else {
                    continue;
                };
                d.tracks.insert(td.uuid(), t);
            }
            if p.has_track_event() {
                let e = p.track_event();
                events.push((
                    p.timestamp(),
                    e.track_uuid(),
                    e.type_(),
                    e.name().to_string(),
                    e.double_counter_value(),
                ));
            }
        }
        events.sort_by_key(|e| e.0);
        let mut open: BTreeMap<u64, (u64, String)> = BTreeMap::new();
        for (ts, track, ty, name, value) in events {
            match ty {
                Type::TYPE_SLICE_BEGIN => {
                    d.unbalanced += usize::from(open.insert(track, (ts, name)).is_some())
                }
                Type::TYPE_SLICE_END => match open.remove(&track) {
                    Some((start, name)) => {
                        d.slices.entry(track).or_default().push((start, ts, name))
                    }
                    None => d.unbalanced += 1,
                },
                Type::TYPE_INSTANT => d.instants.entry(track).or_default().push((ts, name)),
                Type::TYPE_COUNTER => d.counters.entry(track).or_default().push((ts, value)),
                _ => {}
            }
        }
        d.unbalanced += open.len();
        Ok(d)
    }

    fn thread_track(&self, tid: u32) -> Option<u64> {
        self.tracks
            .iter()
            .find(|(_, t)| matches!(t, Track::Thread(_, x, _) if *x == tid))
            .map(|(&u, _)| u)
    }

    /// The state a slice name stands for ("host: io" -> "host").
    fn state_of(name: &str) -> &str {
        name.split(':').next().unwrap_or(name)
    }

    /// Tracks, slices and counters against the summary (threads that exited during the
    /// recording: their summary is final, so the sums must be equal).
    pub fn matches_summary(&self, s: &Summary, v: &mut Verdicts) {
        v.check(
            self.unbalanced == 0,
            format!(
                "the trace parses with Perfetto's schema ({} packets), every slice begins and ends",
                self.packets
            ),
            || format!("{} unbalanced slice events", self.unbalanced),
        );
        for vm in &s.vms {
            let named = self
                .tracks
                .values()
                .any(|t| matches!(t, Track::Process(p, n) if *p == vm.pid && *n == vm.name));
            v.check(
                named,
                format!("VM {} is a process track (pid {})", vm.name, vm.pid),
                || "missing".into(),
            );
            let mut instants = 0;
            for c in &vm.vcpus {
                let Some(track) = self.thread_track(c.tid) else {
                    v.check(
                        false,
                        format!("{}/{} is a thread track", vm.name, c.comm),
                        || "missing".into(),
                    );
                    continue;
                };
                instants += self.instants.get(&track).map_or(0, |i| {
                    i.iter().filter(|(_, n)| !n.starts_with("migrate")).count()
                });
                if !c.exited {
                    continue;
                }
                let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
                for (a, b, n) in self.slices.get(&track).into_iter().flatten() {
                    *by_state.entry(Self::state_of(n)).or_default() += b - a;
                }
                let mismatched: Vec<String> = c
                    .figures
                    .states_ns
                    .iter()
                    .filter(|(st, ns)| by_state.get(st.as_str()).copied().unwrap_or(0) != **ns)
                    .map(|(st, ns)| {
                        format!(
                            "{st}: summary {ns} ns, slices {}",
                            by_state.get(st.as_str()).copied().unwrap_or(0)
                        )
                    })
                    .collect();
                v.check(
                    mismatched.is_empty(),
                    format!(
                        "{}/{}: its slices add up to the summary's time in every state ({:.3} s)",
                        vm.name,
                        c.comm,
                        c.figures.traced_ns as f64 / 1e9
                    ),
                    || mismatched.join("; "),
                );
                let counted: f64 = self
                    .tracks
                    .iter()
                    .filter(|(_, t)| **t == Track::Counter(track))
                    .flat_map(|(u, _)| self.counters.get(u).into_iter().flatten())
                    .map(|(_, val)| val * COUNTER_BIN_NS as f64 / 1e9)
                    .sum();
                v.check(
                    counted.round() as u64 == c.figures.exits,
                    format!("{}/{}: its exits/s counter adds up to its {} exits (counter: {counted:.0})", vm.name, c.comm, c.figures.exits),
                    || "differ".into(),
                );
            }
            let proc_instants = self
                .tracks
                .iter()
                .filter(|(_, t)| matches!(t, Track::Process(p, _) if *p == vm.pid))
                .map(|(u, _)| self.instants.get(u).map_or(0, Vec::len))
                .sum::<usize>();
            let decisions: u64 = vm.total.decisions.values().sum();
            v.check(
                (instants + proc_instants) as u64 == decisions,
                format!(
                    "VM {}: scx_axrt's decisions are instants on its tracks ({} of {decisions})",
                    vm.name,
                    instants + proc_instants
                ),
                || "differ".into(),
            );
        }
    }

    /// A throttled VM: at least 3 throttles on its track, and between each throttle (plus
    /// `lag`: the throttle takes effect when its CPUs switch away) and the next replenishment,
    /// its vCPUs spend >= 80 % of the time runnable but not running.
    pub fn throttles_and_waits(&self, s: &Summary, vm: &str, v: &mut Verdicts) {
        const LAG_NS: u64 = 3_000_000;
        let Some(info) = s.vms.iter().find(|x| x.name == vm) else {
            v.check(false, format!("VM {vm} is in the summary"), || {
                "not found".into()
            });
            return;
        };
        let Some((&ptrack, _)) = self
            .tracks
            .iter()
            .find(|(_, t)| matches!(t, Track::Process(p, _) if *p == info.pid))
        else {
            v.check(false, format!("VM {vm} has a process track"), || {
                "missing".into()
            });
            return;
        };
        let inst = self.instants.get(&ptrack).cloned().unwrap_or_default();
        let mut windows = Vec::new();
        for (t, n) in &inst {
            if n == "throttle" {
                if let Some((r, _)) = inst.iter().find(|(r, n)| n == "replenish" && r > t) {
                    if *r > t + LAG_NS {
                        windows.push((t + LAG_NS, *r));
                    }
                }
            }
        }
        let (mut waited, mut total) = (0u64, 0u64);
        for c in &info.vcpus {
            let Some(track) = self.thread_track(c.tid) else {
                continue;
            };
            let slices = self.slices.get(&track).map(Vec::as_slice).unwrap_or(&[]);
            // Only while the thread lived: a VM's process may be throttled before its vCPU
            // thread exists (building the VM) or after it ended.
            let born = slices.first().map_or(u64::MAX, |s| s.0);
            let gone = slices.iter().map(|s| s.1).max().unwrap_or(0);
            for &(a, b) in &windows {
                let (a, b) = (a.max(born), b.min(gone));
                if b <= a {
                    continue;
                }
                total += b - a;
                for (s0, s1, n) in slices {
                    let (lo, hi) = ((*s0).max(a), (*s1).min(b));
                    if hi > lo && n.starts_with("wait_") {
                        waited += hi - lo;
                    }
                }
            }
        }
        let pct = 100.0 * waited as f64 / total.max(1) as f64;
        v.check(
            windows.len() >= 3 && pct >= 80.0,
            format!(
                "VM {vm}: {} throttles on its track; between throttle (+3 ms) and replenishment its vCPUs wait {pct:.1} % of the time (>= 80 %)",
                windows.len()
            ),
            || "not the timeline of a throttled VM".into(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bpf_intf::{axrt_record, AXRT_NO_REASON};
    use crate::perfetto::TraceWriter;
    use crate::states::{st, Isa};
    use crate::vms::{Names, VmNames};

    fn seg(tid: u32, state: usize, start: u64, dur: u64, arg: u32) -> axrt_record {
        axrt_record {
            start_ns: start,
            dur_ns: dur,
            tid,
            tgid: 100,
            kind: crate::bpf_intf::axrt_rec_kind_AXRT_R_SEGMENT as u16,
            state: state as u16,
            arg,
            cpu: 0,
            pad: 0,
        }
    }

    #[test]
    fn written_traces_read_back_with_perfettos_schema() {
        let names = Names::new(VmNames::default());
        let mut w = TraceWriter::new(Vec::new(), Isa::Svm, 1_000, 2_000).unwrap();
        // Out of order across "CPUs": the writer sorts within its window.
        let recs = [
            seg(7, st::GUEST, 1_000_000, 500_000, 0x7b),
            seg(7, st::WAIT_WOKEN, 1_600_000, 400_000, AXRT_NO_REASON),
            seg(7, st::HOST, 1_500_000, 100_000, 0x7b),
            seg(7, st::GUEST, 2_000_000, 300_000_000, 0x78),
            seg(7, st::HALT_POLL, 302_000_000, 1_000, 0x78),
        ];
        for r in &recs {
            w.add(r, &names).unwrap();
        }
        let bytes = w.finish(&names).unwrap();
        let d = Decoded::parse(&bytes).unwrap();
        assert_eq!(d.unbalanced, 0);
        let track = d.thread_track(7).unwrap();
        let slices = &d.slices[&track];
        let named: Vec<&str> = slices.iter().map(|s| s.2.as_str()).collect();
        assert_eq!(
            named,
            ["guest", "host: io", "wait_woken", "guest", "halt_poll"]
        );
        assert_eq!(slices[3].1 - slices[3].0, 300_000_000);
        assert!(d
            .tracks
            .values()
            .any(|t| matches!(t, Track::Process(100, _))));
        // Two guest segments: two exits, one in bin 0, one in bin 3.
        let (cu, _) = d
            .tracks
            .iter()
            .find(|(_, t)| **t == Track::Counter(track))
            .unwrap();
        let total: f64 = d.counters[cu].iter().map(|(_, v)| v * 0.1).sum();
        assert_eq!(total.round(), 2.0);
    }
}
