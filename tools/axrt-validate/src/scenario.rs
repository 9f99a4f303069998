// SPDX-License-Identifier: GPL-2.0-only
//
// The three validation scenarios as data: which VMs run, what their vCPUs do, and the priority
// and budget each would be given. Sizes scale with the machine's CPU count; the period is a
// parameter (10 ms under emulation, 1 ms on hardware).

use axrt_vmload::cli::Workload;

/// What a VM stands for in a scenario; decides which modes touch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The real-time VM: SCHED_FIFO in the fifo mode, the best priority under scx_axrt.
    Realtime,
    /// Any other VM.
    Other,
}

/// One VM of a scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct VmSpec {
    /// Name: the cgroup's and the scx_axrt configuration's (unique across scenarios).
    pub name: String,
    /// vCPU threads.
    pub vcpus: u32,
    /// What they run.
    pub workload: Workload,
    /// Periodic: each job's work in % of the period.
    pub load_pct: f64,
    /// scx_axrt priority (0 is the most urgent).
    pub priority: u8,
    /// Budget in % of the whole machine (all CPUs), if the VM has one.
    pub budget_pct: Option<f64>,
    /// Its role.
    pub role: Role,
}

/// A scenario: VMs that run together.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// 1, 2 or 3.
    pub id: u8,
    /// One line for tables and plots.
    pub title: &'static str,
    /// The VMs.
    pub vms: Vec<VmSpec>,
}

impl Scenario {
    /// Demand of the periodic VMs plus the hogs' full vCPU count, in % of the machine.
    pub fn demand_pct(&self, cpus: u32) -> f64 {
        let cpu_units: f64 = self
            .vms
            .iter()
            .map(|v| match v.workload {
                Workload::Periodic => v.vcpus as f64 * v.load_pct / 100.0,
                _ => v.vcpus as f64,
            })
            .sum();
        100.0 * cpu_units / cpus as f64
    }
}

fn vm(
    name: &str,
    vcpus: u32,
    workload: Workload,
    load_pct: f64,
    priority: u8,
    budget_pct: Option<f64>,
    role: Role,
) -> VmSpec {
    VmSpec {
        name: name.to_string(),
        vcpus,
        workload,
        load_pct,
        priority,
        budget_pct,
        role,
    }
}

/// The scenarios for a machine of `cpus` CPUs.
///
/// 1. A real-time VM (2 vCPUs, periodic, 30 % each) next to a hog VM with four vCPUs per CPU and
///    a budget of half the machine. Four, not two: with two, a fair share per thread (a third of
///    a CPU) would just cover the real-time vCPUs' 30 %, and the default scheduler would pass or
///    fail by a hair; an overcommitted host is what the scenario is about.
/// 2. Three hog VMs, each able to fill the machine, with budgets of 45 %, 30 % and 15 % (90 %);
///    none is real-time, so the SCHED_FIFO mode does not apply.
/// 3. 150 % total demand: a real-time VM, a "web" VM and a budgeted "batch" VM, all periodic, one
///    vCPU per CPU each, at 30 %, 45 % and 75 % of each period.
pub fn all(cpus: u32) -> Vec<Scenario> {
    use Role::{Other, Realtime};
    use Workload::{Hog, Periodic};
    vec![
        Scenario {
            id: 1,
            title: "real-time VM next to a hog VM",
            vms: vec![
                vm("s1-rt", 2, Periodic, 30.0, 10, None, Realtime),
                vm("s1-hog", 4 * cpus, Hog, 0.0, 200, Some(50.0), Other),
            ],
        },
        Scenario {
            id: 2,
            title: "three VMs with budgets adding up to 90 %",
            vms: vec![
                vm("s2-a", cpus, Hog, 0.0, 100, Some(45.0), Other),
                vm("s2-b", cpus, Hog, 0.0, 100, Some(30.0), Other),
                vm("s2-c", cpus, Hog, 0.0, 100, Some(15.0), Other),
            ],
        },
        Scenario {
            id: 3,
            title: "150 % total demand",
            vms: vec![
                vm("s3-rt", cpus, Periodic, 30.0, 10, None, Realtime),
                vm("s3-web", cpus, Periodic, 45.0, 100, None, Other),
                vm("s3-batch", cpus, Periodic, 75.0, 200, Some(25.0), Other),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_shapes_follow_the_issue() {
        for cpus in [1, 2, 4, 8] {
            let s = all(cpus);
            let rt = &s[0].vms[0];
            assert_eq!((rt.vcpus, rt.load_pct, rt.role), (2, 30.0, Role::Realtime));
            // The hog has more vCPUs than there are CPUs: it saturates every CPU.
            assert!(s[0].vms[1].vcpus > cpus);
            let budgets: f64 = s[1].vms.iter().filter_map(|v| v.budget_pct).sum();
            assert!((budgets - 90.0).abs() < 1e-9);
            assert!((s[2].demand_pct(cpus) - 150.0).abs() < 1e-9);
        }
    }

    #[test]
    fn names_are_unique_and_cgroup_safe() {
        let s = all(2);
        let names: Vec<&str> = s
            .iter()
            .flat_map(|s| s.vms.iter().map(|v| v.name.as_str()))
            .collect();
        for (i, n) in names.iter().enumerate() {
            assert!(!names[..i].contains(n), "{n} twice");
            assert!(n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        }
    }

    #[test]
    fn budgets_pass_admission() {
        // POLICY.md: the budgets of a configuration must not exceed 0.95 x CPUs.
        for s in all(2) {
            let sum: f64 = s.vms.iter().filter_map(|v| v.budget_pct).sum();
            assert!(sum <= 95.0, "scenario {}: {sum} %", s.id);
        }
    }
}
