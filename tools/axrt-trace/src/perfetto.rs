// SPDX-License-Identifier: GPL-2.0-only
//
// perfetto.rs - the trace mode's output: a Perfetto protobuf trace (a `Trace` message, written
// packet by packet as the records come). Each VM is a process track, each vCPU thread a thread
// track with its states as slices (one slice per segment the BPF side closed: "guest",
// "host: <exit reason>", "halt_poll", "wait_woken", ...), migrations and scx_axrt's decisions as
// instant events, and a counter track per vCPU with its exits per second (100 ms bins).
// Timestamps are CLOCK_MONOTONIC (clock 3), with one clock snapshot that makes it the trace's
// clock. The protobuf encoding is written here (varints and length-delimited fields); the
// field numbers are those of Perfetto's protos/perfetto/trace/*.proto.

use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::io::Write;

use crate::bpf_intf::{
    axrt_rec_kind_AXRT_R_MIGRATE as AXRT_R_MIGRATE, axrt_rec_kind_AXRT_R_SEGMENT as AXRT_R_SEGMENT,
    axrt_record, AXRT_NO_REASON,
};
use crate::decisions::Decision;
use crate::states::{exit_name, st, Isa, STATE_NAMES};
use crate::vms::Names;

/// Length of a bin of the exits/s counters, ns.
pub const COUNTER_BIN_NS: u64 = 100_000_000;
/// Records are held this long (ns of trace time) so that those of different CPUs go out in
/// time order.
const REORDER_NS: u64 = 500_000_000;
const SEQUENCE: u64 = 1;
const CLOCK_MONOTONIC: u64 = 3;
const CLOCK_BOOTTIME: u64 = 6;

/// Perfetto's TrackEvent.Type.
const SLICE_BEGIN: u64 = 1;
const SLICE_END: u64 = 2;
const INSTANT: u64 = 3;
const COUNTER: u64 = 4;

/// A protobuf message being built.
#[derive(Default)]
struct Msg(Vec<u8>);

impl Msg {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn uint(&mut self, field: u32, v: u64) -> &mut Self {
        self.varint(u64::from(field) << 3);
        self.varint(v);
        self
    }
    fn double(&mut self, field: u32, v: f64) -> &mut Self {
        self.varint((u64::from(field) << 3) | 1);
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Self {
        self.varint((u64::from(field) << 3) | 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, field: u32, s: &str) -> &mut Self {
        self.bytes(field, s.as_bytes())
    }
    fn msg(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.bytes(field, &m.0)
    }
}

/// Track uuids: one process track per VM, one thread track and one counter track per vCPU.
pub fn process_uuid(tgid: u32) -> u64 {
    (1 << 40) | u64::from(tgid)
}
/// ...
pub fn thread_uuid(tid: u32) -> u64 {
    (2 << 40) | u64::from(tid)
}
/// ...
pub fn counter_uuid(tid: u32) -> u64 {
    (3 << 40) | u64::from(tid)
}

/// The name of a segment's slice.
pub fn slice_name(state: usize, reason: u32, isa: Isa) -> String {
    let name = STATE_NAMES.get(state).copied().unwrap_or("unknown");
    if state == st::HOST && reason != AXRT_NO_REASON {
        let key = if isa == Isa::Vmx {
            (reason & 0xffff) as u16
        } else {
            reason.min(0xffff) as u16
        };
        return format!("host: {}", exit_name(isa, key));
    }
    name.to_string()
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    ts: std::cmp::Reverse<u64>,
    seq: std::cmp::Reverse<u64>,
    rec: [u64; 5],
}

/// Writes a trace as records arrive.
pub struct TraceWriter<W: Write> {
    out: W,
    isa: Isa,
    held: BinaryHeap<Held>,
    seq: u64,
    newest: u64,
    described: BTreeSet<u32>,
    /// The VMs described, with the name their process track was given.
    processes: BTreeMap<u32, String>,
    /// Exits per 100 ms bin, per thread, for the counters: (bin, count) of the open bin.
    bins: BTreeMap<u32, (u64, u64)>,
    /// Records written.
    pub records: u64,
    /// Slices written, by (tid, name): count and total duration.
    pub slices: BTreeMap<(u32, String), (u64, u64)>,
}

fn pack(r: &axrt_record) -> [u64; 5] {
    [
        r.start_ns,
        r.dur_ns,
        u64::from(r.tid) | (u64::from(r.tgid) << 32),
        u64::from(r.kind) | (u64::from(r.state) << 16) | (u64::from(r.arg) << 32),
        u64::from(r.cpu),
    ]
}

impl<W: Write> TraceWriter<W> {
    /// Starts the trace: the clock snapshot that makes CLOCK_MONOTONIC the trace's clock.
    pub fn new(mut out: W, isa: Isa, mono_ns: u64, boot_ns: u64) -> std::io::Result<Self> {
        let mut snap = Msg::default();
        let mut c1 = Msg::default();
        c1.uint(1, CLOCK_MONOTONIC).uint(2, mono_ns);
        let mut c2 = Msg::default();
        c2.uint(1, CLOCK_BOOTTIME).uint(2, boot_ns);
        snap.msg(1, &c1).msg(1, &c2).uint(2, CLOCK_MONOTONIC);
        let mut p = Msg::default();
        p.uint(8, mono_ns)
            .uint(58, CLOCK_MONOTONIC)
            .msg(6, &snap)
            .uint(10, SEQUENCE)
            .uint(13, 1); // SEQ_INCREMENTAL_STATE_CLEARED
        write_packet(&mut out, &p)?;
        Ok(TraceWriter {
            out,
            isa,
            held: BinaryHeap::new(),
            seq: 0,
            newest: 0,
            described: BTreeSet::new(),
            processes: BTreeMap::new(),
            bins: BTreeMap::new(),
            records: 0,
            slices: BTreeMap::new(),
        })
    }

    /// Takes one record of the ring; writes those old enough to be in order.
    pub fn add(&mut self, r: &axrt_record, names: &Names) -> std::io::Result<()> {
        self.seq += 1;
        self.newest = self.newest.max(r.start_ns + r.dur_ns);
        self.held.push(Held {
            ts: std::cmp::Reverse(r.start_ns),
            seq: std::cmp::Reverse(self.seq),
            rec: pack(r),
        });
        self.flush_until(self.newest.saturating_sub(REORDER_NS), names)
    }

    fn flush_until(&mut self, until: u64, names: &Names) -> std::io::Result<()> {
        while let Some(h) = self.held.peek() {
            if h.ts.0 > until {
                break;
            }
            let h = self.held.pop().expect("peeked");
            self.write_record(h.rec, names)?;
        }
        Ok(())
    }

    fn describe(&mut self, tgid: u32, tid: u32, names: &Names) -> std::io::Result<()> {
        if !self.processes.contains_key(&tgid) {
            self.describe_process(tgid, &names.vm(tgid).name)?;
        }
        if self.described.insert(tid) {
            let mut th = Msg::default();
            th.uint(1, u64::from(tgid))
                .uint(2, u64::from(tid))
                .str(5, &names.comm(tid));
            let mut td = Msg::default();
            td.uint(1, thread_uuid(tid))
                .uint(5, process_uuid(tgid))
                .msg(4, &th);
            self.track_descriptor(&td)?;
            let mut cd = Msg::default();
            cd.str(6, "exits/s");
            let mut ct = Msg::default();
            ct.uint(1, counter_uuid(tid))
                .uint(5, thread_uuid(tid))
                .str(2, &format!("{} exits/s", names.comm(tid)))
                .msg(8, &cd);
            self.track_descriptor(&ct)?;
        }
        Ok(())
    }

    /// The process track of VM `tgid`, named `name`. Written again when the VM's name changed
    /// during the recording (learnt from scx_axrt's events, or the process was first seen
    /// before it joined its cgroup): the newest descriptor of a track is the one Perfetto shows.
    fn describe_process(&mut self, tgid: u32, name: &str) -> std::io::Result<()> {
        let mut pd = Msg::default();
        pd.uint(1, u64::from(tgid)).str(6, name);
        let mut td = Msg::default();
        td.uint(1, process_uuid(tgid)).msg(3, &pd);
        self.processes.insert(tgid, name.to_string());
        self.track_descriptor(&td)
    }

    fn track_descriptor(&mut self, td: &Msg) -> std::io::Result<()> {
        let mut p = Msg::default();
        p.msg(60, td).uint(10, SEQUENCE);
        write_packet(&mut self.out, &p)
    }

    fn event(&mut self, ts: u64, ev: &Msg) -> std::io::Result<()> {
        let mut p = Msg::default();
        p.uint(8, ts)
            .uint(58, CLOCK_MONOTONIC)
            .msg(11, ev)
            .uint(10, SEQUENCE);
        write_packet(&mut self.out, &p)
    }

    fn write_record(&mut self, rec: [u64; 5], names: &Names) -> std::io::Result<()> {
        let (start, dur) = (rec[0], rec[1]);
        let tid = rec[2] as u32;
        let tgid = (rec[2] >> 32) as u32;
        let kind = (rec[3] & 0xffff) as u32;
        let state = ((rec[3] >> 16) & 0xffff) as usize;
        let arg = (rec[3] >> 32) as u32;
        self.describe(tgid, tid, names)?;
        self.records += 1;
        match kind {
            AXRT_R_SEGMENT => {
                let name = slice_name(state, arg, self.isa);
                let mut b = Msg::default();
                b.uint(9, SLICE_BEGIN)
                    .uint(11, thread_uuid(tid))
                    .str(23, &name);
                self.event(start, &b)?;
                let mut e = Msg::default();
                e.uint(9, SLICE_END).uint(11, thread_uuid(tid));
                self.event(start + dur, &e)?;
                let s = self.slices.entry((tid, name)).or_default();
                s.0 += 1;
                s.1 += dur;
                if state == st::GUEST {
                    // A guest segment ends with one exit.
                    self.count_exit(tid, start + dur)?;
                }
            }
            AXRT_R_MIGRATE => {
                let mut i = Msg::default();
                i.uint(9, INSTANT)
                    .uint(11, thread_uuid(tid))
                    .str(23, &format!("migrate to CPU {arg}"));
                self.event(start, &i)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn count_exit(&mut self, tid: u32, ts: u64) -> std::io::Result<()> {
        let bin = ts / COUNTER_BIN_NS;
        let (open, n) = self.bins.get(&tid).copied().unwrap_or((bin, 0));
        if open == bin {
            self.bins.insert(tid, (bin, n + 1));
            return Ok(());
        }
        self.write_counter(tid, open, n)?;
        // Bins without exits between the two show as zero.
        if bin > open + 1 {
            self.write_counter(tid, open + 1, 0)?;
        }
        self.bins.insert(tid, (bin, 1));
        Ok(())
    }

    fn write_counter(&mut self, tid: u32, bin: u64, n: u64) -> std::io::Result<()> {
        let mut c = Msg::default();
        c.uint(9, COUNTER)
            .uint(11, counter_uuid(tid))
            .double(44, n as f64 * 1e9 / COUNTER_BIN_NS as f64);
        self.event(bin * COUNTER_BIN_NS, &c)
    }

    /// Writes scx_axrt's decisions as instants: on the thread's track when the event names a
    /// thread the trace has, else on its VM's process track (matched by scx_axrt's VM name).
    pub fn decisions(&mut self, events: &[Decision], names: &Names) -> std::io::Result<u64> {
        let tgids: Vec<u32> = self.processes.keys().copied().collect();
        let mut n = 0;
        for d in events {
            let track = match d.tid {
                Some(t) if self.described.contains(&t) => Some(thread_uuid(t)),
                _ => tgids
                    .iter()
                    .find(|&&p| {
                        let vm = names.vm(p);
                        (d.cgid != 0 && vm.cgid == d.cgid) || d.vm.as_deref() == Some(&vm.name)
                    })
                    .map(|&p| process_uuid(p)),
            };
            let Some(track) = track else { continue };
            let mut ann = Msg::default();
            ann.str(10, "event").str(6, &d.line);
            let mut i = Msg::default();
            i.uint(9, INSTANT)
                .uint(11, track)
                .str(23, &d.kind)
                .str(22, "scx_axrt")
                .msg(4, &ann);
            self.event(d.ts_ns, &i)?;
            n += 1;
        }
        Ok(n)
    }

    /// Writes what is held and the last counter bins, and flushes the output.
    pub fn finish(mut self, names: &Names) -> std::io::Result<W> {
        self.flush_until(u64::MAX, names)?;
        let renamed: Vec<(u32, String)> = self
            .processes
            .iter()
            .filter_map(|(&tgid, written)| {
                let now = names.vm(tgid).name;
                (now != *written).then_some((tgid, now))
            })
            .collect();
        for (tgid, name) in renamed {
            self.describe_process(tgid, &name)?;
        }
        let bins: Vec<(u32, (u64, u64))> = self.bins.iter().map(|(&t, &b)| (t, b)).collect();
        for (tid, (bin, n)) in bins {
            self.write_counter(tid, bin, n)?;
            self.write_counter(tid, bin + 1, 0)?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_packet<W: Write>(out: &mut W, p: &Msg) -> std::io::Result<()> {
    let mut t = Msg::default();
    t.msg(1, p);
    out.write_all(&t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_fields_are_protobuf() {
        let mut m = Msg::default();
        m.uint(1, 150);
        assert_eq!(m.0, [0x08, 0x96, 0x01]);
        let mut s = Msg::default();
        s.str(2, "testing");
        assert_eq!(&s.0[..2], &[0x12, 0x07]);
        let mut d = Msg::default();
        d.double(44, 1.0);
        assert_eq!(d.0[..2], [0xe1, 0x02]);
    }
}
