// axrt-policy: the AxRT real-time scheduling policy (see docs/POLICY.md), `no_std` + `alloc`.
// The crate documentation is README.md, so its example is compiled and run as a doctest.
#![doc = include_str!("../README.md")]
#![no_std]

extern crate alloc;

// The AxRT core: vocabulary, the timing contract and the 256-level ready queue.
pub mod queue;
pub mod timing;
pub mod types;

// The AxRT system: per-CPU state, groups and budgets, deadlines, boosts, deadlocks, events.
pub mod action;
pub mod admission;
pub mod boost;
pub mod cpu;
pub mod deadline;
pub mod deadlock;
pub mod error;
pub mod group;
pub mod hist;
pub mod params;
pub mod runq;
pub mod state;
pub mod stats;
pub mod system;

pub use action::Action;
pub use deadlock::Cycle;
pub use error::{AdmissionError, Error, Field, ParamError, Problem, Subject};
pub use params::{GroupParams, Overrun, SystemConfig, TaskParams};
pub use queue::ReadyQueue;
pub use state::{BlockReason, StateKind, TaskState};
pub use system::System;
pub use timing::Timing;
pub use types::{CpuId, CpuSet, GroupId, Prio, ResourceId, TaskId, Time};

// Other pluggable policies (FIFO, RR, fair, EDF, joint) behind one trait.
pub mod policies;
pub mod policy;

// ArceOS integration: `axsched::BaseScheduler` implementations.
#[cfg(feature = "axsched")]
pub mod axsched_adapter;

// AxVisor glue: a VM's scheduling entry (vCPU priority 192 + VM priority, budget, deadline).
pub mod axvisor;
