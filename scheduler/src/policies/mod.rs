//! The pluggable policies, one file per algorithm, all implementing [`Policy`](crate::policy::Policy):
//!
//! | policy | file | order | preemption |
//! |---|---|---|---|
//! | [`FifoPolicy`] | `fifo.rs` | arrival | none (runs until it blocks or yields) |
//! | [`RrPolicy`] | `rr.rs` | arrival, rotating | at slice end |
//! | [`FairPolicy`] | `fair.rs` | least weighted virtual runtime | slice, lag |
//! | [`EdfPolicy`] | `edf.rs` | earliest absolute deadline | earlier deadline arrives |
//! | [`JointPolicy`] | `joint.rs` | latency-sensitive by EDF, then CPU-bound by WFQ | both |
//! | [`RtPolicy`] | `rt.rs` | AxRT: priority, FIFO within a level | better priority, slice end |
//!
//! Shared pieces are written once: FIFO and round robin are [`RtPolicy`] restricted to one level
//! (via [`Discipline`]); fair and EDF order their queue with one indexed heap ([`KeyedHeap`]);
//! the joint policy is composed of an [`EdfPolicy`] and a [`FairPolicy`]; every policy keeps its
//! per-task state and its current run with the same bookkeeping (`table.rs`).

pub mod edf;
pub mod fair;
pub mod fifo;
pub mod heap;
pub mod joint;
pub mod rr;
pub mod rt;
mod table;

pub use edf::EdfPolicy;
pub use fair::FairPolicy;
pub use fifo::FifoPolicy;
pub use heap::KeyedHeap;
pub use joint::{Class, JointPolicy};
pub use rr::RrPolicy;
pub use rt::{Discipline, RtPolicy};

/// Implements [`Policy`](crate::policy::Policy) for a newtype `$ty(inner)` by forwarding every
/// method to the wrapped policy.
macro_rules! forward_policy {
    ($ty:ty) => {
        impl $crate::policy::Policy for $ty {
            #[inline]
            fn name(&self) -> &'static str {
                self.0.name()
            }
            #[inline]
            fn reserve(&mut self, ids: usize) {
                self.0.reserve(ids)
            }
            #[inline]
            fn enqueue(
                &mut self,
                now: $crate::types::Time,
                task: $crate::types::TaskId,
                params: &$crate::policy::PolicyParams,
            ) {
                self.0.enqueue(now, task, params)
            }
            #[inline]
            fn remove(&mut self, now: $crate::types::Time, task: $crate::types::TaskId) -> bool {
                self.0.remove(now, task)
            }
            #[inline]
            fn pick_next(&mut self, now: $crate::types::Time) -> Option<$crate::types::TaskId> {
                self.0.pick_next(now)
            }
            #[inline]
            fn put_prev(
                &mut self,
                now: $crate::types::Time,
                task: $crate::types::TaskId,
                ran: $crate::types::Time,
                preempted: bool,
            ) {
                self.0.put_prev(now, task, ran, preempted)
            }
            #[inline]
            fn block(
                &mut self,
                now: $crate::types::Time,
                task: $crate::types::TaskId,
                ran: $crate::types::Time,
            ) {
                self.0.block(now, task, ran)
            }
            #[inline]
            fn forget(&mut self, task: $crate::types::TaskId) {
                self.0.forget(task)
            }
            #[inline]
            fn tick(&mut self, now: $crate::types::Time, current: $crate::types::TaskId) -> bool {
                self.0.tick(now, current)
            }
            #[inline]
            fn slice_for(&self, task: $crate::types::TaskId) -> Option<$crate::types::Time> {
                self.0.slice_for(task)
            }
            #[inline]
            fn set_params(
                &mut self,
                now: $crate::types::Time,
                task: $crate::types::TaskId,
                params: &$crate::policy::PolicyParams,
            ) {
                self.0.set_params(now, task, params)
            }
            #[inline]
            fn len(&self) -> usize {
                self.0.len()
            }
        }
    };
}
use forward_policy;
