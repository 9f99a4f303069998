//! axrt-policy: the AxRT real-time scheduling policy (see spec/POLICY.md), `no_std` + `alloc`.
//!
//! One definition of the semantics, used by the AxVisor hypervisor, the simulator and the
//! scx_axrt user-space brain. Time is always passed in; the crate has no clock and no global
//! state, so every run is deterministic.
#![no_std]

extern crate alloc;

// The AxRT core: vocabulary and the 256-level ready queue.
pub mod queue;
pub mod types;

pub use queue::ReadyQueue;
pub use types::{CpuId, CpuSet, GroupId, Prio, ResourceId, TaskId, Time};

// Other pluggable policies (FIFO, RR, fair, EDF, joint) behind one trait.
pub mod policies;
pub mod policy;

// ArceOS integration: `axsched::BaseScheduler` implementations.
#[cfg(feature = "axsched")]
pub mod axsched_adapter;
