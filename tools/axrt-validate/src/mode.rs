// SPDX-License-Identifier: GPL-2.0-only
//
// The four ways a scenario is scheduled, and what each one changes: the default scheduler
// (nothing), SCHED_FIFO for the real-time VM's vCPU threads, cpu.max on the budgeted VMs'
// cgroups, and scx_axrt with a configuration giving every VM its priority and budget.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::scenario::{Role, Scenario, VmSpec};

/// How a scenario is scheduled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The kernel's default scheduler (EEVDF), no settings.
    Default,
    /// The real-time VM's vCPU threads run SCHED_FIFO; nothing else changes.
    Fifo,
    /// Budgeted VMs get their budget as the cgroup's cpu.max.
    Cpumax,
    /// scx_axrt, configured with every VM's priority and budget.
    Axrt,
}

/// All modes, in the order they run and are shown.
pub const ALL: [Mode; 4] = [Mode::Default, Mode::Fifo, Mode::Cpumax, Mode::Axrt];

impl Mode {
    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Fifo => "fifo",
            Mode::Cpumax => "cpumax",
            Mode::Axrt => "axrt",
        }
    }

    /// The column heading in tables and plots.
    pub fn label(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Fifo => "SCHED_FIFO",
            Mode::Cpumax => "cpu.max",
            Mode::Axrt => "scx_axrt",
        }
    }

    /// The VMs whose vCPU threads run SCHED_FIFO in this mode.
    pub fn fifo_vms(self, scenario: &Scenario) -> Vec<&VmSpec> {
        match self {
            Mode::Fifo => scenario
                .vms
                .iter()
                .filter(|v| v.role == Role::Realtime)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the mode means anything for `scenario`: SCHED_FIFO needs a real-time VM.
    pub fn applies_to(self, scenario: &Scenario) -> bool {
        self != Mode::Fifo || !self.fifo_vms(scenario).is_empty()
    }

    /// The cpu.max value ("QUOTA PERIOD") of `vm`'s cgroup in this mode, if it gets one.
    pub fn cpu_max(self, vm: &VmSpec, cpus: u32, period_us: u64) -> Option<String> {
        match self {
            Mode::Cpumax => vm
                .budget_pct
                .map(|b| format!("{} {period_us}", quota_us(b, cpus, period_us))),
            _ => None,
        }
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ALL.into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mode '{s}' (default, fifo, cpumax or axrt)"))
    }
}

/// Modes given on the command line ("default,fifo,cpumax,axrt").
pub fn parse_list(list: &str) -> Result<Vec<Mode>, String> {
    list.split(',').map(str::parse).collect()
}

/// The quota per `period_us` of a budget of `budget_pct` % of a `cpus`-CPU machine.
pub fn quota_us(budget_pct: f64, cpus: u32, period_us: u64) -> u64 {
    (budget_pct / 100.0 * cpus as f64 * period_us as f64).round() as u64
}

/// The scx_axrt configuration for `scenario`: one `[[vm]]` per VM, matched by its cgroup
/// (`cgroup_rel` is the VMs' parent, relative to the cgroup2 mount), with its priority and, for a
/// budgeted VM, its quota per `period_us` (throttled when used up).
pub fn axrt_config(scenario: &Scenario, cgroup_rel: &str, cpus: u32, period_us: u64) -> String {
    let mut t = format!(
        "# axrt-validate, scenario {}: {}\n",
        scenario.id, scenario.title
    );
    for vm in &scenario.vms {
        let _ = write!(
            t,
            "\n[[vm]]\nname = \"{}\"\ncgroup = \"{cgroup_rel}/{}\"\npriority = {}\n",
            vm.name, vm.name, vm.priority
        );
        if let Some(b) = vm.budget_pct {
            let _ = write!(
                t,
                "quota_us = {}\nperiod_us = {period_us}\noverrun = \"throttle\"\n",
                quota_us(b, cpus, period_us)
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario;

    #[test]
    fn names_round_trip() {
        for m in ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        assert!("eevdf".parse::<Mode>().is_err());
    }

    #[test]
    fn each_mode_touches_only_its_own_knob() {
        let s = &scenario::all(2)[0];
        let (rt, hog) = (&s.vms[0], &s.vms[1]);
        assert_eq!(Mode::Fifo.fifo_vms(s), vec![rt]);
        for m in [Mode::Default, Mode::Cpumax, Mode::Axrt] {
            assert!(m.fifo_vms(s).is_empty());
        }
        // Half of a 2-CPU machine is one CPU: 100 ms per 100 ms.
        assert_eq!(
            Mode::Cpumax.cpu_max(hog, 2, 100_000).as_deref(),
            Some("100000 100000")
        );
        assert_eq!(Mode::Cpumax.cpu_max(rt, 2, 100_000), None);
        // Scenario 2 has no real-time VM: SCHED_FIFO does not apply there.
        let all = scenario::all(2);
        assert!(ALL
            .iter()
            .all(|m| m.applies_to(&all[0]) && m.applies_to(&all[2])));
        assert!(!Mode::Fifo.applies_to(&all[1]));
        for m in [Mode::Default, Mode::Fifo, Mode::Axrt] {
            assert_eq!(m.cpu_max(hog, 2, 100_000), None);
        }
    }

    #[test]
    fn config_gives_priorities_and_budgets() {
        let s = &scenario::all(4)[1];
        let c = axrt_config(s, "axrt-validate", 4, 100_000);
        assert_eq!(c.matches("[[vm]]").count(), 3);
        assert!(c.contains("cgroup = \"axrt-validate/s2-a\"\npriority = 100\nquota_us = 180000\n"));
        assert!(c.contains(
            "name = \"s2-c\"\ncgroup = \"axrt-validate/s2-c\"\npriority = 100\nquota_us = 60000\n"
        ));
        assert_eq!(c.matches("overrun = \"throttle\"").count(), 3);
    }
}
