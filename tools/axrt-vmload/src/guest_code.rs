// SPDX-License-Identifier: GPL-2.0-only
//
// The guest side: the micro-guest memory layout and the three hand-assembled 16-bit real-mode
// programs (periodic jobs, hog, spinlock) the vCPUs run. Every instruction is listed with its
// bytes and mnemonic; jumps name their target label so the unit tests can recompute every
// displacement. The VMM passes the vCPU index in SI; each program turns it into DI = the address
// of the vCPU's parameter area (see `field`) and exits to the VMM with `out imm8, al`.

/// Size of the guest's memory: one slot at guest physical address 0.
pub const MEM_SIZE: usize = 2 << 20;
/// The real-mode interrupt vector table (vectors 0-31 point at `EXC_STUBS`).
pub const IVT_ADDR: u64 = 0;
/// 32 exception stubs of 4 bytes: `out PORT_EXCEPTION + vector, al; jmp $`, so a guest fault
/// is reported to the VMM instead of silently restarting the program at address 0.
pub const EXC_STUBS: u64 = 0x0C00;
/// Where the program is loaded and where every vCPU starts (CS base 0, IP = CODE_ADDR).
pub const CODE_ADDR: u64 = 0x1000;
/// Upper bound for a program (it must not run into the lock page).
pub const CODE_MAX: usize = 0x1000;
/// The lock workload's spinlock word: 0 free, 1 taken.
pub const LOCK_WORD: u64 = 0x2000;
/// The APIC id of the last vCPU that took the lock (the directed-yield target of the waiters).
pub const LOCK_HOLDER: u64 = 0x2004;
/// First per-vCPU parameter area; vCPU `i`'s area is at `VCPU_AREA_BASE + i * VCPU_AREA_SIZE`.
pub const VCPU_AREA_BASE: u64 = 0x3000;
/// Size of one per-vCPU area (a power of two: the guest computes it with a shift).
pub const VCPU_AREA_SIZE: u64 = 1 << VCPU_AREA_SHIFT;
/// log2 of `VCPU_AREA_SIZE`, the shift count in the programs' prologue.
pub const VCPU_AREA_SHIFT: u8 = 6;
/// Most vCPUs a micro-VM may have (the areas must stay inside the first 64 KiB real mode sees).
pub const MAX_VCPUS: u32 = 64;

/// I/O port the periodic program writes when a job is done.
pub const PORT_JOB_DONE: u16 = 0x10;
/// I/O port the hog program writes after every batch of iterations.
pub const PORT_HOG_BATCH: u16 = 0x11;
/// I/O port the lock program writes after every release of the lock.
pub const PORT_LOCK_RELEASED: u16 = 0x12;

/// I/O port base of the exception stubs: port PORT_EXCEPTION + v reports exception vector v.
pub const PORT_EXCEPTION: u16 = 0x40;
/// Number of exception vectors with a stub.
pub const EXC_VECTORS: u16 = 32;

/// Offsets of the 32-bit fields of a per-vCPU area. The VMM writes the parameters before the
/// first KVM_RUN; the guest writes the counters.
pub mod field {
    /// Loop iterations: of a periodic job, of a hog batch, of the lock's critical section.
    pub const SPIN: u64 = 0x00;
    /// Lock: loop iterations of the non-critical work after each release.
    pub const NCS: u64 = 0x04;
    /// Counter the guest increments: hog iterations, lock acquisitions (wraps at 2^32).
    pub const WORK: u64 = 0x08;
    /// Lock: sched-yield hypercalls this vCPU issued.
    pub const YIELDS: u64 = 0x0C;
    /// Lock: `pause` instructions this vCPU executed while waiting.
    pub const PAUSES: u64 = 0x10;
    /// Lock: this vCPU's APIC id, published next to the lock word by the holder.
    pub const APIC_ID: u64 = 0x14;
    /// Lock: how to wait, `MODE_PAUSE` and/or `MODE_HYPERCALL`.
    pub const MODE: u64 = 0x18;
    /// Lock: TSC cycles (low 32 bits) the last acquisition waited.
    pub const WAIT_CYCLES: u64 = 0x1C;
    /// Lock: `pause` spins between two hypercalls (with both modes) or between re-reads.
    pub const PAUSE_BUDGET: u64 = 0x20;
    /// Halt: the period of the guest's LAPIC timer, ns (KVM's APIC bus runs at 1 GHz).
    pub const PERIOD_NS: u64 = 0x24;
    /// Halt: `hlt` instructions the guest executed (wraps at 2^32).
    pub const HALTS: u64 = 0x28;
    /// After a guest exception: IP (low 16 bits) of the faulting instruction, pushed there by
    /// the CPU because SP starts at `STACK_TOP` (each vCPU has its own tiny stack).
    pub const EXC_IP: u64 = 0x38;
    /// Initial SP offset: an exception pushes FLAGS, CS, IP to STACK_TOP-2 .. EXC_IP.
    pub const STACK_TOP: u64 = 0x3E;
}

/// `field::MODE` bit: spin with `pause` while the lock is taken.
pub const MODE_PAUSE: u32 = 1;
/// `field::MODE` bit: issue KVM_HC_SCHED_YIELD to the holder while the lock is taken.
pub const MODE_HYPERCALL: u32 = 2;
/// KVM's paravirtual directed-yield hypercall number (include/uapi/linux/kvm_para.h); the
/// immediate of `mov eax, 11` in `LOCK` (checked by the tests).
#[cfg_attr(not(test), allow(dead_code))]
pub const KVM_HC_SCHED_YIELD: u32 = 11;

// The layout's invariants, checked at compile time.
const _: () = {
    assert!(IVT_ADDR + 4 * EXC_VECTORS as u64 <= EXC_STUBS);
    assert!(EXC_STUBS + 4 * EXC_VECTORS as u64 <= CODE_ADDR);
    assert!(CODE_ADDR + CODE_MAX as u64 <= LOCK_WORD);
    assert!(LOCK_HOLDER + 4 <= VCPU_AREA_BASE);
    assert!(field::HALTS + 4 <= field::EXC_IP);
    assert!(field::STACK_TOP - 6 == field::EXC_IP); // an exception pushes FLAGS, CS, IP
    assert!(field::STACK_TOP + 2 <= VCPU_AREA_SIZE);
    assert!(VCPU_AREA_BASE + MAX_VCPUS as u64 * VCPU_AREA_SIZE <= 0x10000); // real mode: 64 KiB
                                                                            // The exception ports do not collide with the workload ports.
    assert!(PORT_EXCEPTION > PORT_LOCK_RELEASED && PORT_EXCEPTION + EXC_VECTORS <= 0x100);
};

/// One instruction: an optional label, its bytes and its mnemonic (Intel syntax).
pub struct Insn {
    /// Label naming this instruction's address ("" for none).
    pub label: &'static str,
    /// The encoded instruction.
    pub bytes: &'static [u8],
    /// The mnemonic; a jump's last word is its target label.
    pub asm: &'static str,
}

const fn at(label: &'static str, bytes: &'static [u8], asm: &'static str) -> Insn {
    Insn { label, bytes, asm }
}

const fn op(bytes: &'static [u8], asm: &'static str) -> Insn {
    at("", bytes, asm)
}

// The 16-bit real-mode encodings below use 0x66 (operand size 32) for 32-bit registers and
// memory; memory operands are [di+disp8] (ModRM mod=01 rm=101) or absolute [disp16] (rm=110).

/// Periodic job (also the calibration loop): spin SPIN iterations, report, repeat.
pub static PERIODIC: &[Insn] = &[
    op(&[0x89, 0xF7], "mov di, si"),                 // DI = vCPU index
    op(&[0xC1, 0xE7, VCPU_AREA_SHIFT], "shl di, 6"), // * VCPU_AREA_SIZE
    op(&[0x81, 0xC7, 0x00, 0x30], "add di, 0x3000"), // + VCPU_AREA_BASE
    at("job", &[0x66, 0x8B, 0x0D], "mov ecx, [di]"), // ECX = field::SPIN
    at("spin", &[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xFC], "jnz spin"),
    op(&[0xE6, PORT_JOB_DONE as u8], "out 0x10, al"), // job done: exit to the VMM
    op(&[0xEB, 0xF5], "jmp job"),                     // the VMM re-enters at the next release
];

/// Hog: increment field::WORK forever, reporting every SPIN iterations.
pub static HOG: &[Insn] = &[
    op(&[0x89, 0xF7], "mov di, si"),
    op(&[0xC1, 0xE7, VCPU_AREA_SHIFT], "shl di, 6"),
    op(&[0x81, 0xC7, 0x00, 0x30], "add di, 0x3000"),
    at("batch", &[0x66, 0x8B, 0x0D], "mov ecx, [di]"), // ECX = field::SPIN
    at("count", &[0x66, 0xFF, 0x45, 0x08], "inc dword [di+0x08]"), // field::WORK
    op(&[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xF8], "jnz count"),
    op(&[0xE6, PORT_HOG_BATCH as u8], "out 0x11, al"), // batch done: the VMM counts work
    op(&[0xEB, 0xF1], "jmp batch"),
];

/// The interrupt vector of the halt program's LAPIC timer (its IVT entry points at `isr`).
pub const TIMER_VECTOR: u64 = 0x20;

/// Halt: periodic jobs released by the guest's own timer. The guest puts its LAPIC in x2APIC
/// mode (MSRs, reachable from real mode; the VMM gives the vCPU a CPUID with x2APIC), starts
/// the timer periodic at field::PERIOD_NS, and then waits for each release in `hlt` — so KVM
/// halts the vCPU (halt polling, then the thread sleeps) — spins the job (interrupts off),
/// reports it and halts again. A release that came during the job is pending at the next `sti`,
/// so the next job starts at once. The ISR only acknowledges the interrupt (EOI).
pub static HALT: &[Insn] = &[
    op(&[0x89, 0xF7], "mov di, si"),
    op(&[0xC1, 0xE7, VCPU_AREA_SHIFT], "shl di, 6"),
    op(&[0x81, 0xC7, 0x00, 0x30], "add di, 0x3000"),
    op(&[0x66, 0xB9, 0x1B, 0x00, 0x00, 0x00], "mov ecx, 0x1b"), // IA32_APIC_BASE
    op(&[0x0F, 0x32], "rdmsr"),
    op(&[0x0D, 0x00, 0x0C], "or ax, 0x0c00"), // enable, x2APIC mode
    op(&[0x0F, 0x30], "wrmsr"),
    op(&[0x66, 0xB9, 0x0F, 0x08, 0x00, 0x00], "mov ecx, 0x80f"), // spurious vector register
    op(&[0x66, 0xB8, 0xFF, 0x01, 0x00, 0x00], "mov eax, 0x1ff"), // software enable
    op(&[0x66, 0x31, 0xD2], "xor edx, edx"),
    op(&[0x0F, 0x30], "wrmsr"),
    op(&[0x66, 0xB9, 0x3E, 0x08, 0x00, 0x00], "mov ecx, 0x83e"), // divide configuration
    op(&[0x66, 0xB8, 0x0B, 0x00, 0x00, 0x00], "mov eax, 0xb"),   // divide by 1
    op(&[0x0F, 0x30], "wrmsr"),
    op(&[0x66, 0xB9, 0x32, 0x08, 0x00, 0x00], "mov ecx, 0x832"), // LVT timer
    op(&[0x66, 0xB8, 0x20, 0x00, 0x02, 0x00], "mov eax, 0x20020"), // periodic, vector 0x20
    op(&[0x0F, 0x30], "wrmsr"),
    op(&[0x66, 0xB9, 0x38, 0x08, 0x00, 0x00], "mov ecx, 0x838"), // initial count: starts it
    op(&[0x66, 0x8B, 0x45, 0x24], "mov eax, [di+0x24]"),         // field::PERIOD_NS
    op(&[0x0F, 0x30], "wrmsr"),
    at("wait", &[0xFB], "sti"),
    op(&[0xF4], "hlt"), // until the timer's interrupt (the ISR returns after it)
    op(&[0xFA], "cli"),
    op(&[0x66, 0xFF, 0x45, 0x28], "inc dword [di+0x28]"), // field::HALTS
    op(&[0x66, 0x8B, 0x0D], "mov ecx, [di]"),             // field::SPIN
    at("spin", &[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xFC], "jnz spin"),
    op(&[0xE6, PORT_JOB_DONE as u8], "out 0x10, al"),
    op(&[0xEB, 0xEE], "jmp wait"),
    at(
        "isr",
        &[0x66, 0xB9, 0x0B, 0x08, 0x00, 0x00],
        "mov ecx, 0x80b",
    ), // EOI
    op(&[0x66, 0x31, 0xC0], "xor eax, eax"),
    op(&[0x66, 0x31, 0xD2], "xor edx, edx"),
    op(&[0x0F, 0x30], "wrmsr"),
    op(&[0xCF], "iret"),
];

/// Offset of the instruction labelled `label` in `program`.
pub fn label_offset(program: &[Insn], label: &str) -> Option<usize> {
    let mut off = 0;
    for i in program {
        if i.label == label {
            return Some(off);
        }
        off += i.bytes.len();
    }
    None
}

/// Offset of the sched-yield hypercall instruction in `LOCK`; its third byte is patched to
/// `vmcall` (0xC1) on Intel and `vmmcall` (0xD9) on AMD.
pub const LOCK_HYPERCALL_OFFSET: usize = 75;

/// Lock: test-and-test-and-set spinlock shared by all vCPUs of the VM.
pub static LOCK: &[Insn] = &[
    op(&[0x89, 0xF7], "mov di, si"),
    op(&[0xC1, 0xE7, VCPU_AREA_SHIFT], "shl di, 6"),
    op(&[0x81, 0xC7, 0x00, 0x30], "add di, 0x3000"),
    at("top", &[0x0F, 0x31], "rdtsc"), // EAX = TSC low: wait starts
    op(&[0x66, 0x89, 0xC5], "mov ebp, eax"), // EBP = start of the wait
    at("try", &[0x66, 0xB8, 0x01, 0x00, 0x00, 0x00], "mov eax, 1"),
    op(&[0x66, 0x87, 0x06, 0x00, 0x20], "xchg eax, [0x2000]"), // atomic: take the lock
    op(&[0x66, 0x85, 0xC0], "test eax, eax"),
    op(&[0x74, 0x3A], "jz acquired"), // it was free: ours now
    op(&[0x66, 0x8B, 0x4D, 0x20], "mov ecx, [di+0x20]"), // ECX = field::PAUSE_BUDGET
    at(
        "wait",
        &[0x66, 0x83, 0x3E, 0x00, 0x20, 0x00],
        "cmp dword [0x2000], 0",
    ), // read-only spin
    op(&[0x74, 0xE4], "je try"),      // looks free: try the xchg again
    op(&[0xF6, 0x45, 0x18, 0x01], "test byte [di+0x18], 1"), // field::MODE & MODE_PAUSE
    op(&[0x74, 0x0A], "jz yield"),
    op(&[0xF3, 0x90], "pause"), // pause-loop exiting sees this
    op(&[0x66, 0xFF, 0x45, 0x10], "inc dword [di+0x10]"), // field::PAUSES
    op(&[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xE8], "jnz wait"), // pause budget left: re-read the lock
    at("yield", &[0xF6, 0x45, 0x18, 0x02], "test byte [di+0x18], 2"), // MODE_HYPERCALL
    op(&[0x74, 0x12], "jz reload"),
    op(&[0x66, 0xB8, 0x0B, 0x00, 0x00, 0x00], "mov eax, 11"), // KVM_HC_SCHED_YIELD
    op(&[0x66, 0x8B, 0x1E, 0x04, 0x20], "mov ebx, [0x2004]"), // a0 = holder's APIC id
    op(&[0x0F, 0x01, 0xD9], "vmmcall"),                       // patched to vmcall on Intel
    op(&[0x66, 0xFF, 0x45, 0x0C], "inc dword [di+0x0c]"),     // field::YIELDS
    at("reload", &[0x66, 0x8B, 0x4D, 0x20], "mov ecx, [di+0x20]"), // new pause budget
    op(&[0xEB, 0xCA], "jmp wait"),
    at("acquired", &[0x66, 0x8B, 0x45, 0x14], "mov eax, [di+0x14]"), // field::APIC_ID
    op(&[0x66, 0xA3, 0x04, 0x20], "mov [0x2004], eax"),              // publish the holder
    op(&[0x0F, 0x31], "rdtsc"),
    op(&[0x66, 0x29, 0xE8], "sub eax, ebp"), // cycles waited
    op(&[0x66, 0x89, 0x45, 0x1C], "mov [di+0x1c], eax"), // field::WAIT_CYCLES
    op(&[0x66, 0x8B, 0x0D], "mov ecx, [di]"), // critical section: field::SPIN iterations
    at("cs", &[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xFC], "jnz cs"),
    op(&[0x66, 0xFF, 0x45, 0x08], "inc dword [di+0x08]"), // field::WORK: acquisitions
    op(
        &[0x66, 0xC7, 0x06, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00],
        "mov dword [0x2000], 0",
    ), // release (a plain store releases on x86)
    op(&[0xE6, PORT_LOCK_RELEASED as u8], "out 0x12, al"), // report the acquisition
    op(&[0x66, 0x8B, 0x4D, 0x04], "mov ecx, [di+0x04]"),  // field::NCS
    at("ncs", &[0x66, 0x49], "dec ecx"),
    op(&[0x75, 0xFC], "jnz ncs"),
    op(&[0xEB, 0x80], "jmp top"),
];

/// The program's bytes, ready to copy to `CODE_ADDR`.
pub fn assemble(program: &[Insn]) -> Vec<u8> {
    program
        .iter()
        .flat_map(|i| i.bytes.iter().copied())
        .collect()
}

/// The program's listing: offset from CODE_ADDR, bytes, label and mnemonic per line.
pub fn listing(program: &[Insn]) -> String {
    let mut out = String::new();
    let mut off = 0;
    for i in program {
        let hex: Vec<String> = i.bytes.iter().map(|b| format!("{b:02x}")).collect();
        let label = if i.label.is_empty() {
            String::new()
        } else {
            format!("{}:", i.label)
        };
        out.push_str(&format!(
            "{:#06x}  {:<27} {:<10} {}\n",
            CODE_ADDR as usize + off,
            hex.join(" "),
            label,
            i.asm
        ));
        off += i.bytes.len();
    }
    out
}

/// The interrupt vector table: entry v = segment 0, offset `EXC_STUBS + 4 v`.
pub fn ivt() -> Vec<u8> {
    (0..u64::from(EXC_VECTORS))
        .flat_map(|v| {
            let off = (EXC_STUBS + 4 * v) as u16;
            [off.to_le_bytes(), 0u16.to_le_bytes()].concat()
        })
        .collect()
}

/// The exception stubs: for vector v, `out PORT_EXCEPTION+v, al` (E6 ib) then `jmp $` (EB FE).
pub fn exception_stubs() -> Vec<u8> {
    (0..EXC_VECTORS)
        .flat_map(|v| [0xE6, (PORT_EXCEPTION + v) as u8, 0xEB, 0xFE])
        .collect()
}

/// The usual name of exception vector `v`.
pub fn exception_name(v: u16) -> &'static str {
    const NAMES: [&str; 20] = [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS",
        "#GP", "#PF", "reserved", "#MF", "#AC", "#MC", "#XM",
    ];
    NAMES.get(v as usize).copied().unwrap_or("exception")
}

/// Guest physical address of vCPU `index`'s parameter area.
pub fn vcpu_area(index: u32) -> u64 {
    VCPU_AREA_BASE + u64::from(index) * VCPU_AREA_SIZE
}

/// The third byte of the hypercall instruction for the host's CPU vendor (CPUID leaf 0).
pub fn hypercall_byte(vendor: &[u8; 12]) -> u8 {
    match vendor {
        b"AuthenticAMD" | b"HygonGenuine" => 0xD9, // vmmcall
        _ => 0xC1,                                 // vmcall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(program: &[Insn]) -> Vec<usize> {
        let mut off = 0;
        program
            .iter()
            .map(|i| {
                let o = off;
                off += i.bytes.len();
                o
            })
            .collect()
    }

    /// Every rel8 jump lands on the instruction its mnemonic names.
    fn check_jumps(program: &[Insn]) {
        let offs = offsets(program);
        for (i, insn) in program.iter().enumerate() {
            if !matches!(insn.bytes[0], 0x74 | 0x75 | 0xEB) {
                continue;
            }
            let target = insn.asm.split_whitespace().last().unwrap();
            let t = program.iter().position(|j| j.label == target);
            let t = t.unwrap_or_else(|| panic!("{}: no label {target}", insn.asm));
            let next = offs[i] + insn.bytes.len();
            let rel = offs[t] as isize - next as isize;
            assert_eq!(
                insn.bytes[1] as i8 as isize, rel,
                "{} at {}",
                insn.asm, offs[i]
            );
        }
    }

    /// Every [di+0xNN] operand has disp8 NN and every [0xNNNN] operand has disp16 NNNN.
    fn check_operands(program: &[Insn]) {
        for insn in program {
            if let Some(rest) = insn.asm.split("[di+0x").nth(1) {
                let disp = u8::from_str_radix(&rest[..2], 16).unwrap();
                let m = insn.bytes.iter().position(|b| b & 0xC7 == 0x45).unwrap();
                assert_eq!(insn.bytes[m + 1], disp, "{}", insn.asm);
            } else if let Some(rest) = insn.asm.split("[0x").nth(1) {
                let addr = u16::from_str_radix(&rest[..4], 16).unwrap().to_le_bytes();
                assert!(insn.bytes.windows(2).any(|w| w == addr), "{}", insn.asm);
            }
        }
    }

    #[test]
    fn programs_fit_and_jumps_match_labels() {
        for p in [PERIODIC, HOG, LOCK, HALT] {
            assert!(assemble(p).len() <= CODE_MAX);
            check_jumps(p);
            check_operands(p);
        }
    }

    #[test]
    fn prologue_matches_area_layout() {
        for p in [PERIODIC, HOG, LOCK, HALT] {
            assert_eq!(p[1].bytes[2], VCPU_AREA_SHIFT);
            let base = u16::from_le_bytes([p[2].bytes[2], p[2].bytes[3]]);
            assert_eq!(u64::from(base), VCPU_AREA_BASE);
        }
        assert_eq!(vcpu_area(1) - vcpu_area(0), VCPU_AREA_SIZE);
    }

    #[test]
    fn field_offsets_match_the_code() {
        let expected: [(&[Insn], String); 9] = [
            (HOG, format!("inc dword [di+0x{:02x}]", field::WORK)),
            (LOCK, format!("inc dword [di+0x{:02x}]", field::YIELDS)),
            (LOCK, format!("inc dword [di+0x{:02x}]", field::PAUSES)),
            (LOCK, format!("mov eax, [di+0x{:02x}]", field::APIC_ID)),
            (LOCK, format!("mov [di+0x{:02x}], eax", field::WAIT_CYCLES)),
            (LOCK, format!("mov ecx, [di+0x{:02x}]", field::NCS)),
            (LOCK, format!("mov ecx, [di+0x{:02x}]", field::PAUSE_BUDGET)),
            (LOCK, format!("test byte [di+0x{:02x}], 1", field::MODE)),
            (LOCK, format!("mov eax, {KVM_HC_SCHED_YIELD}")),
        ];
        for (program, asm) in &expected {
            assert!(
                program.iter().any(|i| i.asm == asm),
                "no `{asm}` in the program"
            );
        }
        assert_eq!(field::SPIN, 0);
    }

    #[test]
    fn exception_vectors_reach_their_stubs() {
        let (ivt, stubs) = (ivt(), exception_stubs());
        let ud = u16::from_le_bytes([ivt[6 * 4], ivt[6 * 4 + 1]]) as u64;
        let stub = &stubs[(ud - EXC_STUBS) as usize..][..4];
        assert_eq!(stub, &[0xE6, (PORT_EXCEPTION + 6) as u8, 0xEB, 0xFE]);
        assert_eq!(exception_name(6), "#UD");
    }

    #[test]
    fn ports_and_hypercall_offset() {
        let code = assemble(LOCK);
        assert_eq!(
            &code[LOCK_HYPERCALL_OFFSET..LOCK_HYPERCALL_OFFSET + 2],
            &[0x0F, 0x01]
        );
        let outs = |p: &[Insn]| -> Vec<u8> {
            p.iter()
                .filter(|i| i.bytes[0] == 0xE6)
                .map(|i| i.bytes[1])
                .collect()
        };
        assert_eq!(outs(PERIODIC), vec![PORT_JOB_DONE as u8]);
        assert_eq!(outs(HOG), vec![PORT_HOG_BATCH as u8]);
        assert_eq!(outs(LOCK), vec![PORT_LOCK_RELEASED as u8]);
        assert_eq!(hypercall_byte(b"AuthenticAMD"), 0xD9);
        assert_eq!(hypercall_byte(b"GenuineIntel"), 0xC1);
    }
}
