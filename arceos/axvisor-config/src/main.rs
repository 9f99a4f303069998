// SPDX-License-Identifier: GPL-2.0-only
//
// axrt-axvisor - turns an axrt.toml validated on Linux into AxVisor VM scheduling entries:
// for every [[vm]], the [rt] table to add to the AxVisor VM configuration file of the same
// name (VM priority = the Linux priority − 192, so its vCPUs keep the priority they had; budget
// and deadline unchanged). The file is read by scx_axrt's own parser, so it is refused exactly
// as `scx_axrt --check` would refuse it; a VM whose priority is outside AxVisor's vCPU band
// 192..=223 is refused with its file and line. [[task]] rules have no AxVisor counterpart (one
// priority for all vCPUs of a VM) and are listed as not carried over.
//
//   axrt-axvisor axrt.toml [--cpus N]      (N: the hypervisor's CPUs for admission, default 1)

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use axrt_policy::axvisor::VmSched;
use scx_axrt::config::Config;

/// The AxVisor entries of `cfg` (file `file`), or the first refusal as `FILE:LINE: message`.
fn convert(cfg: &Config, file: &str) -> Result<String, String> {
    let mut out = String::new();
    for (i, vm) in cfg.vms.iter().enumerate() {
        let entry = VmSched::from_group(&vm.params)
            .map_err(|e| format!("{file}:{}: field 'vm[{i}].priority': {e}", vm.line))?;
        let _ = writeln!(
            out,
            "# vm \"{}\" ({file}, vm[{i}]): add to the AxVisor VM file whose [base] name is \"{}\"",
            vm.params.name, vm.params.name
        );
        out += &entry.to_table();
        out += "\n";
    }
    for (i, rule) in cfg.tasks.iter().enumerate() {
        let vm = &cfg.vms[rule.vm];
        let t = &rule.params.timing;
        let timed = t.period.is_some() || t.deadline.is_some() || t.wcet.is_some();
        if rule.params.priority != Some(vm.params.priority) || timed {
            let _ = writeln!(
                out,
                "# not carried over: task[{i}] of vm \"{}\" (AxVisor gives all vCPUs of a VM one priority and no job contract)",
                vm.params.name
            );
        }
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, cpus) = match args.as_slice() {
        [p] => (p.clone(), 1),
        [p, flag, n] if flag == "--cpus" => match n.parse::<usize>() {
            Ok(n) if n > 0 => (p.clone(), n),
            _ => {
                eprintln!("axrt-axvisor: --cpus needs a positive number, not '{n}'");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: axrt-axvisor AXRT_TOML [--cpus N]");
            return ExitCode::from(2);
        }
    };
    let cfg = match Config::load(Path::new(&path), cpus) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("axrt-axvisor: {e}");
            return ExitCode::from(2);
        }
    };
    match convert(&cfg, &path) {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("axrt-axvisor: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axrt_policy::axvisor::VmSched;

    const FILE: &str = r#"
[[vm]]
name = "control"
cgroup = "machine.slice/*control*"
priority = 192
quota_us = 3000
period_us = 10000
deadline_us = 10000

[[vm]]
name = "batch"
cgroup = "machine.slice/*batch*"
priority = 223

[[task]]
vm = "control"
comm = "CPU 0/KVM"
priority = 190
"#;

    #[test]
    fn every_vm_becomes_an_rt_table_that_reads_back_to_the_same_group() {
        let cfg = Config::parse(FILE, "axrt.toml", 2).unwrap();
        let out = convert(&cfg, "axrt.toml").unwrap();
        assert!(out.contains("[base] name is \"control\""));
        // Read each [rt] table back as AxVisor's side does and compare with the Linux group.
        let tables: Vec<&str> = out.split("[rt]\n").skip(1).collect();
        assert_eq!(tables.len(), 2);
        for (table, vm) in tables.iter().zip(&cfg.vms) {
            let mut back = VmSched::new(&vm.params.name, 0);
            for line in table.lines().take_while(|l| !l.is_empty()) {
                let (k, v) = line.split_once(" = ").unwrap();
                back.set(k, v.split_whitespace().next().unwrap().parse().unwrap())
                    .unwrap();
            }
            back.validate(2).unwrap();
            let mut g = back.group_params();
            g.overrun = vm.params.overrun;
            g.cpus = vm.params.cpus;
            assert_eq!(g, vm.params);
        }
        assert!(out.contains("# not carried over: task[0] of vm \"control\""));
    }

    #[test]
    fn a_priority_outside_the_vcpu_band_names_file_line_and_field() {
        let text = "[[vm]]\nname = \"rt\"\ncgroup = \"x\"\npriority = 10\n";
        let cfg = Config::parse(text, "axrt.toml", 1).unwrap();
        let err = convert(&cfg, "axrt.toml").unwrap_err();
        assert!(
            err.starts_with("axrt.toml:3: field 'vm[0].priority': vm \"rt\""),
            "{err}"
        );
        assert!(err.contains("192..=223"), "{err}");
    }
}
