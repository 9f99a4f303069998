// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-sim: runs an rt-app workload and an axrt.toml through the policies of axrt-policy in
// virtual time. The pieces, in the order data flows: workload.rs (rt-app JSON) and the loader's
// config (axrt.toml) → scenario.rs (threads, programs, VMs, rules) → engine.rs (the simulation)
// driving sched.rs (the AxRT system, or one pluggable policy per CPU) → metrics.rs (results and
// their summary) → output.rs and rtlog.rs (tables, CSV, rt-app logs, plot). experiment.rs holds
// the seed's RR-versus-joint experiment, crosscheck.rs the comparison with a real run,
// overhead.rs the overhead model's fit from BPF statistics, place.rs the VM-side placement of
// rt-app threads into their taskgroups, replay.rs a scx_axrt run's events replayed through the
// AxRT system and the two tiers compared.

//! A deterministic virtual-time simulator of the AxRT policies on rt-app workloads.

pub mod crosscheck;
pub mod engine;
pub mod experiment;
pub mod metrics;
pub mod output;
pub mod overhead;
pub mod place;
pub mod replay;
pub mod rtlog;
pub mod scenario;
pub mod sched;
pub mod workload;
