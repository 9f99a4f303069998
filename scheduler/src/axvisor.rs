//! AxVisor glue: a VM's scheduling entry in AxVisor's VM configuration and what it means to
//! the AxRT policy. AxVisor's RTOS design gives vCPU tasks the priorities 192–223: a VM has a
//! priority `0..=31` and its vCPUs run at `192 + priority`. The entry also carries the VM's
//! budget (`quota_us` per `period_us`) and reservation deadline (`deadline_us`), the same
//! fields, in the same units, as a `[[vm]]` of scx_axrt's `axrt.toml`, so a policy validated on
//! Linux moves into the hypervisor unchanged: [`VmSched::from_group`] takes a Linux VM's
//! parameters, [`VmSched::to_table`] writes the `[rt]` table of the AxVisor VM file, and
//! [`VmSched::set`] reads it back, key by key, in the hypervisor.
//!
//! ```toml
//! [rt]               # in an AxVisor VM configuration file, next to [base]
//! priority = 0       # VM priority 0..=31: its vCPUs run at priority 192
//! quota_us = 3000    # budget per period (optional; needs period_us)
//! period_us = 10000
//! deadline_us = 10000
//! ```

use alloc::format;
use alloc::string::String;
use core::fmt;

use crate::error::ParamError;
use crate::params::GroupParams;
use crate::types::{Prio, Time};

/// Priority of the vCPUs of a VM of priority 0 (AxVisor's RTOS design).
pub const VCPU_PRIO_BASE: Prio = 192;
/// Highest VM priority value (lowest priority): its vCPUs run at 223.
pub const MAX_VM_PRIORITY: u8 = 31;

const US: Time = 1_000;

/// The scheduling entry of one AxVisor VM (times in nanoseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSched {
    /// The VM's name (`[base] name` in its AxVisor file).
    pub name: String,
    /// VM priority `0..=MAX_VM_PRIORITY`.
    pub priority: u8,
    /// Budget per period.
    pub quota: Option<Time>,
    /// Budget period.
    pub period: Option<Time>,
    /// Reservation deadline (`<= period`).
    pub deadline: Option<Time>,
}

/// What is wrong with an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmSchedError {
    /// A vCPU priority outside `192..=223` (from Linux) or a VM priority above 31.
    OutsideBand {
        /// The VM.
        vm: String,
        /// The priority as given.
        priority: u16,
        /// `true` if it is a vCPU priority (Linux), `false` if a VM priority (AxVisor).
        vcpu: bool,
    },
    /// A key of the `[rt]` table that does not exist.
    UnknownKey(String),
    /// A value that does not fit (microseconds overflowing nanoseconds).
    TooLarge(String),
    /// The fields are inconsistent (the policy's own validation).
    Param(ParamError),
}

impl fmt::Display for VmSchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VmSchedError::OutsideBand {
                vm,
                priority,
                vcpu: true,
            } => write!(
                f,
                "vm \"{vm}\": `priority` {priority} is outside AxVisor's vCPU priorities {}..={}",
                VCPU_PRIO_BASE,
                VCPU_PRIO_BASE + MAX_VM_PRIORITY
            ),
            VmSchedError::OutsideBand {
                vm,
                priority,
                vcpu: false,
            } => write!(
                f,
                "vm \"{vm}\": `priority` {priority} is not a VM priority 0..={MAX_VM_PRIORITY}"
            ),
            VmSchedError::UnknownKey(k) => write!(f, "unknown key `{k}` in [rt]"),
            VmSchedError::TooLarge(k) => write!(f, "`{k}` is too large"),
            VmSchedError::Param(e) => e.fmt(f),
        }
    }
}

impl VmSched {
    /// VM `name` at VM priority `priority`, no budget.
    pub fn new(name: &str, priority: u8) -> Self {
        Self {
            name: String::from(name),
            priority,
            quota: None,
            period: None,
            deadline: None,
        }
    }

    /// The priority of the VM's vCPU tasks: `192 + priority` (valid entries only).
    pub fn vcpu_priority(&self) -> Prio {
        VCPU_PRIO_BASE.saturating_add(self.priority.min(MAX_VM_PRIORITY))
    }

    /// The VM as a group of the AxRT [`System`](crate::System): its vCPUs' priority, budget
    /// and deadline.
    pub fn group_params(&self) -> GroupParams {
        let mut g = GroupParams::new(&self.name, self.vcpu_priority());
        g.quota = self.quota;
        g.period = self.period;
        g.deadline = self.deadline;
        g
    }

    /// Checks the entry for a system of `ncpus` CPUs: the priority band, then the policy's
    /// rules for a group (a quota needs a period, a deadline within the period, ...).
    pub fn validate(&self, ncpus: usize) -> Result<(), VmSchedError> {
        if self.priority > MAX_VM_PRIORITY {
            return Err(VmSchedError::OutsideBand {
                vm: self.name.clone(),
                priority: u16::from(self.priority),
                vcpu: false,
            });
        }
        self.group_params()
            .validate(ncpus)
            .map_err(VmSchedError::Param)
    }

    /// The entry for a VM validated on Linux (a `[[vm]]` of `axrt.toml`): its priority must be
    /// a vCPU priority `192..=223`; budget and deadline carry over unchanged.
    pub fn from_group(g: &GroupParams) -> Result<Self, VmSchedError> {
        let band = VCPU_PRIO_BASE..=VCPU_PRIO_BASE + MAX_VM_PRIORITY;
        if !band.contains(&g.priority) {
            return Err(VmSchedError::OutsideBand {
                vm: g.name.clone(),
                priority: u16::from(g.priority),
                vcpu: true,
            });
        }
        Ok(Self {
            name: g.name.clone(),
            priority: g.priority - VCPU_PRIO_BASE,
            quota: g.quota,
            period: g.period,
            deadline: g.deadline,
        })
    }

    /// Sets one key of the `[rt]` table (`priority`, or `quota_us`, `period_us`,
    /// `deadline_us` in microseconds), as AxVisor reads its VM file.
    pub fn set(&mut self, key: &str, value: u64) -> Result<(), VmSchedError> {
        let us = |v: u64| {
            v.checked_mul(US)
                .ok_or_else(|| VmSchedError::TooLarge(String::from(key)))
        };
        match key {
            "priority" => {
                self.priority = u8::try_from(value)
                    .ok()
                    .filter(|&p| p <= MAX_VM_PRIORITY)
                    .ok_or_else(|| VmSchedError::OutsideBand {
                        vm: self.name.clone(),
                        priority: value.min(u64::from(u16::MAX)) as u16,
                        vcpu: false,
                    })?;
            }
            "quota_us" => self.quota = Some(us(value)?),
            "period_us" => self.period = Some(us(value)?),
            "deadline_us" => self.deadline = Some(us(value)?),
            _ => return Err(VmSchedError::UnknownKey(String::from(key))),
        }
        Ok(())
    }

    /// The `[rt]` table of the VM's AxVisor configuration file, as TOML.
    pub fn to_table(&self) -> String {
        let mut s = format!(
            "[rt]\npriority = {}    # vCPU priority {}\n",
            self.priority,
            self.vcpu_priority()
        );
        for (key, value) in [
            ("quota_us", self.quota),
            ("period_us", self.period),
            ("deadline_us", self.deadline),
        ] {
            if let Some(v) = value {
                s += &format!("{key} = {}\n", v / US);
            }
        }
        s
    }

    /// Gives the VM's group `group` of the ArceOS scheduler its budget (none: no budget).
    #[cfg(feature = "axsched")]
    pub fn apply(&self, shared: &crate::axsched_adapter::Shared, group: usize) -> bool {
        match (self.quota, self.period) {
            (Some(q), Some(p)) => shared.set_budget(group, q, p),
            _ => shared.set_budget(group, 0, 0),
        }
    }
}

/// AxVisor's name of a vCPU task (`VM[1]-VCpu[0]`).
pub fn vcpu_task_name(vm_id: usize, vcpu_id: usize) -> String {
    format!("VM[{vm_id}]-VCpu[{vcpu_id}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Field, Problem};

    const MS: Time = 1_000_000;

    #[test]
    fn vcpu_priority_is_192_plus_the_vm_priority() {
        assert_eq!(VmSched::new("a", 0).vcpu_priority(), 192);
        assert_eq!(VmSched::new("b", 31).vcpu_priority(), 223);
        let e = VmSched::new("c", 32).validate(2).unwrap_err();
        assert!(matches!(
            e,
            VmSchedError::OutsideBand {
                priority: 32,
                vcpu: false,
                ..
            }
        ));
    }

    #[test]
    fn linux_group_maps_to_an_entry_and_back_to_the_same_group() {
        let mut g = GroupParams::new("control", 200).budget(3 * MS, 10 * MS);
        g.deadline = Some(10 * MS);
        let vm = VmSched::from_group(&g).unwrap();
        assert_eq!(vm.priority, 8);
        assert_eq!(vm.group_params(), g);
        // The table written for AxVisor reads back to the same entry.
        let table = vm.to_table();
        let mut back = VmSched::new("control", 0);
        for line in table.lines().skip(1) {
            let (k, v) = line.split_once(" = ").unwrap();
            let v = v.split_whitespace().next().unwrap();
            back.set(k, v.parse().unwrap()).unwrap();
        }
        assert_eq!(back, vm);
        assert!(table.contains("quota_us = 3000\n") && table.contains("period_us = 10000\n"));
    }

    #[test]
    fn priorities_outside_the_vcpu_band_are_refused_with_the_vm_named() {
        for p in [10, 191, 224] {
            let e = VmSched::from_group(&GroupParams::new("rt", p)).unwrap_err();
            let msg = alloc::string::ToString::to_string(&e);
            assert!(
                msg.contains("vm \"rt\"") && msg.contains("192..=223"),
                "{msg}"
            );
        }
    }

    #[test]
    fn bad_tables_are_refused() {
        let mut vm = VmSched::new("x", 0);
        assert_eq!(
            vm.set("quota", 1),
            Err(VmSchedError::UnknownKey("quota".into()))
        );
        assert!(matches!(
            vm.set("priority", 300),
            Err(VmSchedError::OutsideBand { .. })
        ));
        assert_eq!(
            vm.set("period_us", u64::MAX),
            Err(VmSchedError::TooLarge("period_us".into()))
        );
        vm.set("quota_us", 1000).unwrap();
        let e = vm.validate(1).unwrap_err();
        assert!(matches!(
            e,
            VmSchedError::Param(ParamError {
                field: Field::Quota,
                problem: Problem::Requires(Field::Period),
                ..
            })
        ));
        assert_eq!(vcpu_task_name(1, 0), "VM[1]-VCpu[0]");
    }
}
