// SPDX-License-Identifier: GPL-2.0-only
//
// states.rs - the names of what the BPF side counts: the states of a vCPU thread (intf.h's
// enum axrt_state, in order) and the exit reasons of VMX and SVM. Exit reasons are named as
// `perf kvm stat` names them (the kernel's VMX_EXIT_REASONS / SVM_EXIT_REASONS tables), so the
// two tools' tables can be compared line by line.

use crate::bpf_intf;

/// Number of states.
pub const NR_STATES: usize = bpf_intf::axrt_state_AXRT_NR_STATES as usize;

/// The states' names, by index (JSON keys, table columns, Perfetto slice names).
pub const STATE_NAMES: [&str; NR_STATES] = [
    "guest",
    "host",
    "halt_poll",
    "halt_blocked",
    "blocked",
    "wait_woken",
    "wait_same_vm",
    "wait_other_vm",
    "wait_host",
    "wait_kernel",
];

/// Index of the first preempted-wait state; the preemptor classes follow in this order.
pub const FIRST_PREEMPTED: usize = bpf_intf::axrt_state_AXRT_ST_WAIT_SAME_VM as usize;
/// Who preempted: same VM, other VM, host task, kernel thread.
pub const PREEMPTORS: [&str; 4] = ["same_vm", "other_vm", "host", "kernel"];

/// State indices by meaning.
pub mod st {
    use crate::bpf_intf as b;
    pub const GUEST: usize = b::axrt_state_AXRT_ST_GUEST as usize;
    pub const HOST: usize = b::axrt_state_AXRT_ST_HOST as usize;
    pub const HALT_POLL: usize = b::axrt_state_AXRT_ST_HALT_POLL as usize;
    pub const HALT_BLOCKED: usize = b::axrt_state_AXRT_ST_HALT_BLOCKED as usize;
    pub const BLOCKED: usize = b::axrt_state_AXRT_ST_BLOCKED as usize;
    pub const WAIT_WOKEN: usize = b::axrt_state_AXRT_ST_WAIT_WOKEN as usize;
}

/// Which hardware's exit reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Intel VT-x.
    Vmx,
    /// AMD SVM.
    Svm,
}

impl Isa {
    /// The host CPU's: SVM on AMD and Hygon, VMX otherwise (/proc/cpuinfo's vendor).
    pub fn host() -> Isa {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if info.contains("AuthenticAMD") || info.contains("HygonGenuine") {
            Isa::Svm
        } else {
            Isa::Vmx
        }
    }

    /// From KVM's kvm_exit.isa (1 VMX, 2 SVM).
    pub fn from_raw(isa: u32) -> Option<Isa> {
        match isa {
            bpf_intf::AXRT_ISA_VMX => Some(Isa::Vmx),
            bpf_intf::AXRT_ISA_SVM => Some(Isa::Svm),
            _ => None,
        }
    }
}

const VMX: &[(u32, &str)] = &[
    (0, "EXCEPTION_NMI"),
    (1, "EXTERNAL_INTERRUPT"),
    (2, "TRIPLE_FAULT"),
    (3, "INIT_SIGNAL"),
    (4, "SIPI_SIGNAL"),
    (7, "INTERRUPT_WINDOW"),
    (8, "NMI_WINDOW"),
    (9, "TASK_SWITCH"),
    (10, "CPUID"),
    (12, "HLT"),
    (13, "INVD"),
    (14, "INVLPG"),
    (15, "RDPMC"),
    (16, "RDTSC"),
    (18, "VMCALL"),
    (19, "VMCLEAR"),
    (20, "VMLAUNCH"),
    (21, "VMPTRLD"),
    (22, "VMPTRST"),
    (23, "VMREAD"),
    (24, "VMRESUME"),
    (25, "VMWRITE"),
    (26, "VMOFF"),
    (27, "VMON"),
    (28, "CR_ACCESS"),
    (29, "DR_ACCESS"),
    (30, "IO_INSTRUCTION"),
    (31, "MSR_READ"),
    (32, "MSR_WRITE"),
    (33, "INVALID_STATE"),
    (34, "MSR_LOAD_FAIL"),
    (36, "MWAIT_INSTRUCTION"),
    (37, "MONITOR_TRAP_FLAG"),
    (39, "MONITOR_INSTRUCTION"),
    (40, "PAUSE_INSTRUCTION"),
    (41, "MCE_DURING_VMENTRY"),
    (43, "TPR_BELOW_THRESHOLD"),
    (44, "APIC_ACCESS"),
    (45, "EOI_INDUCED"),
    (46, "GDTR_IDTR"),
    (47, "LDTR_TR"),
    (48, "EPT_VIOLATION"),
    (49, "EPT_MISCONFIG"),
    (50, "INVEPT"),
    (51, "RDTSCP"),
    (52, "PREEMPTION_TIMER"),
    (53, "INVVPID"),
    (54, "WBINVD"),
    (55, "XSETBV"),
    (56, "APIC_WRITE"),
    (57, "RDRAND"),
    (58, "INVPCID"),
    (59, "VMFUNC"),
    (60, "ENCLS"),
    (61, "RDSEED"),
    (62, "PML_FULL"),
    (63, "XSAVES"),
    (64, "XRSTORS"),
    (67, "UMWAIT"),
    (68, "TPAUSE"),
    (74, "BUS_LOCK"),
    (75, "NOTIFY"),
];

const SVM: &[(u32, &str)] = &[
    (0x060, "interrupt"),
    (0x061, "nmi"),
    (0x062, "smi"),
    (0x063, "init"),
    (0x064, "vintr"),
    (0x065, "cr0_sel_write"),
    (0x066, "read_idtr"),
    (0x067, "read_gdtr"),
    (0x068, "read_ldtr"),
    (0x069, "read_rt"),
    (0x06a, "write_idtr"),
    (0x06b, "write_gdtr"),
    (0x06c, "write_ldtr"),
    (0x06d, "write_rt"),
    (0x06e, "rdtsc"),
    (0x06f, "rdpmc"),
    (0x070, "pushf"),
    (0x071, "popf"),
    (0x072, "cpuid"),
    (0x073, "rsm"),
    (0x074, "iret"),
    (0x075, "swint"),
    (0x076, "invd"),
    (0x077, "pause"),
    (0x078, "hlt"),
    (0x079, "invlpg"),
    (0x07a, "invlpga"),
    (0x07b, "io"),
    (0x07c, "msr"),
    (0x07d, "task_switch"),
    (0x07e, "ferr_freeze"),
    (0x07f, "shutdown"),
    (0x080, "vmrun"),
    (0x081, "hypercall"),
    (0x082, "vmload"),
    (0x083, "vmsave"),
    (0x084, "stgi"),
    (0x085, "clgi"),
    (0x086, "skinit"),
    (0x087, "rdtscp"),
    (0x088, "icebp"),
    (0x089, "wbinvd"),
    (0x08a, "monitor"),
    (0x08b, "mwait"),
    (0x08c, "mwait_cond"),
    (0x08d, "xsetbv"),
    (0x08e, "rdpru"),
    (0x08f, "write_efer_trap"),
    (0x0a2, "invpcid"),
    (0x0a6, "idle-halt"),
    (0x400, "npf"),
    (0x401, "avic_incomplete_ipi"),
    (0x402, "avic_unaccelerated_access"),
    (0x403, "vmgexit"),
    (0xffff, "invalid_guest_state"),
];

/// The name of exit `reason` (the histogram key's basic reason): perf's name, or
/// "reason_<n>" for one the tables lack.
pub fn exit_name(isa: Isa, reason: u16) -> String {
    let r = u32::from(reason);
    let table = match isa {
        Isa::Vmx => VMX,
        Isa::Svm => SVM,
    };
    if let Some((_, n)) = table.iter().find(|(c, _)| *c == r) {
        return (*n).to_string();
    }
    if isa == Isa::Svm {
        match r {
            0x000..=0x00f => return format!("read_cr{}", r),
            0x010..=0x01f => return format!("write_cr{}", r - 0x10),
            0x020..=0x02f => return format!("read_dr{}", r - 0x20),
            0x030..=0x03f => return format!("write_dr{}", r - 0x30),
            0x040..=0x05f => return format!("excp_{}", r - 0x40),
            0x090..=0x09f => return format!("write_cr{}_trap", r - 0x90),
            _ => {}
        }
    }
    format!("reason_{r}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_reasons_are_named_like_perf_kvm_stat() {
        assert_eq!(exit_name(Isa::Svm, 0x78), "hlt");
        assert_eq!(exit_name(Isa::Svm, 0x7b), "io");
        assert_eq!(exit_name(Isa::Svm, 0x400), "npf");
        assert_eq!(exit_name(Isa::Svm, 0x13), "write_cr3");
        assert_eq!(exit_name(Isa::Vmx, 30), "IO_INSTRUCTION");
        assert_eq!(exit_name(Isa::Vmx, 12), "HLT");
        assert_eq!(exit_name(Isa::Vmx, 200), "reason_200");
        assert_eq!(STATE_NAMES[FIRST_PREEMPTED], "wait_same_vm");
        assert_eq!(STATE_NAMES.len(), FIRST_PREEMPTED + PREEMPTORS.len());
    }
}
