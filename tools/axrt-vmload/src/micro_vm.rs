// SPDX-License-Identifier: GPL-2.0-only
//
// A micro-VM: KVM_CREATE_VM, one anonymous memory slot at guest physical 0 holding the
// program, the in-kernel irqchip (so the sched-yield hypercall finds vCPUs by APIC id), and
// vCPUs set up for 16-bit real mode at CODE_ADDR with their index in SI.

use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use kvm_bindings::{kvm_mp_state, kvm_userspace_memory_region, KVM_MP_STATE_RUNNABLE};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};

use crate::guest_code::{
    exception_name, exception_stubs, field, ivt, vcpu_area, CODE_ADDR, CODE_MAX, EXC_STUBS,
    EXC_VECTORS, IVT_ADDR, LOCK_HYPERCALL_OFFSET, MEM_SIZE, PORT_EXCEPTION,
};

/// The guest's memory as the VMM sees it; shared by the vCPU threads of one VM.
pub struct GuestMem {
    ptr: *mut u8,
    size: usize,
}

// SAFETY: the mapping lives as long as the GuestMem and is only accessed with volatile
// 32-bit loads and stores at checked, aligned offsets, like memory shared with the guest.
unsafe impl Send for GuestMem {}
// SAFETY: see Send.
unsafe impl Sync for GuestMem {}

impl GuestMem {
    fn new(size: usize) -> Result<GuestMem> {
        // SAFETY: a fresh private anonymous mapping; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            bail!(
                "mmap of {size} bytes of guest memory: {}",
                std::io::Error::last_os_error()
            );
        }
        Ok(GuestMem {
            ptr: ptr.cast(),
            size,
        })
    }

    fn at(&self, addr: u64, len: usize) -> *mut u8 {
        assert!(
            addr as usize + len <= self.size,
            "guest address {addr:#x} out of range"
        );
        // SAFETY: in bounds (checked above).
        unsafe { self.ptr.add(addr as usize) }
    }

    /// Reads the 32-bit word at guest physical `addr` (4-byte aligned).
    pub fn read_u32(&self, addr: u64) -> u32 {
        assert_eq!(addr % 4, 0);
        // SAFETY: in bounds and aligned; volatile because the guest writes it concurrently.
        unsafe { self.at(addr, 4).cast::<u32>().read_volatile() }
    }

    /// Writes the 32-bit word at guest physical `addr` (4-byte aligned).
    pub fn write_u32(&self, addr: u64, value: u32) {
        assert_eq!(addr % 4, 0);
        // SAFETY: in bounds and aligned; volatile because the guest reads it concurrently.
        unsafe { self.at(addr, 4).cast::<u32>().write_volatile(value) }
    }

    fn write_bytes(&self, addr: u64, bytes: &[u8]) {
        // SAFETY: in bounds; done before any vCPU runs.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.at(addr, bytes.len()), bytes.len())
        }
    }
}

impl Drop for GuestMem {
    fn drop(&mut self) {
        // SAFETY: the mapping made in new(), unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.size) };
    }
}

/// One VM with its memory; vCPUs are created from it.
pub struct MicroVm {
    // Keep /dev/kvm open for the VM's lifetime.
    _kvm: Kvm,
    vm: VmFd,
    /// The guest's memory.
    pub mem: Arc<GuestMem>,
}

impl MicroVm {
    /// Creates the VM, its memory with `program` at CODE_ADDR, and the in-kernel irqchip.
    pub fn new(program: &[u8]) -> Result<MicroVm> {
        if program.len() > CODE_MAX {
            bail!("guest program of {} bytes does not fit", program.len());
        }
        let kvm = Kvm::new().map_err(|e| anyhow!("/dev/kvm: {e}"))?;
        let vm = kvm.create_vm().map_err(|e| anyhow!("KVM_CREATE_VM: {e}"))?;
        let mem = Arc::new(GuestMem::new(MEM_SIZE)?);
        let region = kvm_userspace_memory_region {
            slot: 0,
            flags: 0,
            guest_phys_addr: 0,
            memory_size: MEM_SIZE as u64,
            userspace_addr: mem.ptr as u64,
        };
        // SAFETY: the region is our own mapping, which outlives the VM (the Arc is held by
        // this struct and by every vCPU thread).
        unsafe { vm.set_user_memory_region(region) }
            .map_err(|e| anyhow!("KVM_SET_USER_MEMORY_REGION: {e}"))?;
        vm.create_irq_chip()
            .map_err(|e| anyhow!("KVM_CREATE_IRQCHIP: {e}"))?;
        mem.write_bytes(IVT_ADDR, &ivt());
        mem.write_bytes(EXC_STUBS, &exception_stubs());
        mem.write_bytes(CODE_ADDR, program);
        Ok(MicroVm { _kvm: kvm, vm, mem })
    }

    /// Creates vCPU `index` (APIC id = index), in real mode at CODE_ADDR with SI = index, and
    /// runnable at once (an AP would otherwise wait for INIT/SIPI under the in-kernel LAPIC).
    pub fn create_vcpu(&self, index: u32) -> Result<VcpuFd> {
        let vcpu = self
            .vm
            .create_vcpu(u64::from(index))
            .map_err(|e| anyhow!("KVM_CREATE_VCPU {index}: {e}"))?;
        let mut sregs = vcpu.get_sregs().context("KVM_GET_SREGS")?;
        for seg in [
            &mut sregs.cs,
            &mut sregs.ds,
            &mut sregs.es,
            &mut sregs.ss,
            &mut sregs.fs,
            &mut sregs.gs,
        ] {
            seg.base = 0;
            seg.selector = 0;
        }
        vcpu.set_sregs(&sregs).context("KVM_SET_SREGS")?;
        let mut regs = vcpu.get_regs().context("KVM_GET_REGS")?;
        regs.rip = CODE_ADDR;
        regs.rflags = 2;
        regs.rsi = u64::from(index);
        regs.rsp = vcpu_area(index) + field::STACK_TOP;
        vcpu.set_regs(&regs).context("KVM_SET_REGS")?;
        if index > 0 {
            vcpu.set_mp_state(kvm_mp_state {
                mp_state: KVM_MP_STATE_RUNNABLE,
            })
            .context("KVM_SET_MP_STATE")?;
        }
        Ok(vcpu)
    }

    /// For the halt program: gives the vCPUs KVM's CPUID (x2APIC, so the guest reaches its
    /// LAPIC through MSRs from real mode) and points the timer vector's IVT entry at the
    /// program's ISR (`isr_offset` from CODE_ADDR).
    pub fn prepare_timer(&self, vcpus: &[VcpuFd], isr_offset: u16) -> Result<()> {
        let cpuid = self
            ._kvm
            .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
            .map_err(|e| anyhow!("KVM_GET_SUPPORTED_CPUID: {e}"))?;
        for v in vcpus {
            v.set_cpuid2(&cpuid)
                .map_err(|e| anyhow!("KVM_SET_CPUID2: {e}"))?;
        }
        let entry = u32::from(CODE_ADDR as u16 + isr_offset); // segment 0
        self.mem
            .write_u32(IVT_ADDR + 4 * crate::guest_code::TIMER_VECTOR, entry);
        Ok(())
    }

    /// Runs `vcpu` until the guest writes to `port` (single-threaded use: calibration).
    pub fn run_until_out(&self, vcpu: &mut VcpuFd, port: u16) -> Result<()> {
        loop {
            match vcpu.run() {
                Ok(VcpuExit::IoOut(p, _)) if p == port => return Ok(()),
                Ok(VcpuExit::IoOut(p, _)) if guest_exception(&self.mem, 0, p).is_some() => {
                    return Err(guest_exception(&self.mem, 0, p).expect("checked"))
                }
                Ok(exit) => bail!("unexpected vCPU exit {}", describe_exit(&exit)),
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(e) => bail!("KVM_RUN: {e}"),
            }
        }
    }
}

/// If `port` is an exception stub's, the error describing vCPU `index`'s guest exception.
pub fn guest_exception(mem: &GuestMem, index: u32, port: u16) -> Option<anyhow::Error> {
    let vector = port
        .checked_sub(PORT_EXCEPTION)
        .filter(|v| *v < EXC_VECTORS)?;
    let ip = mem.read_u32(vcpu_area(index) + field::EXC_IP) as u16;
    let hint = if vector == 6 && u64::from(ip) == CODE_ADDR + LOCK_HYPERCALL_OFFSET as u64 {
        ": the sched-yield hypercall was refused (this host's KVM does not take vmcall/vmmcall from \
         the guest; a nested setup?); use --yield pause"
    } else {
        ""
    };
    Some(anyhow!(
        "guest exception {} (vector {vector}) at IP {ip:#x}{hint}",
        exception_name(vector)
    ))
}

/// A short description of an exit the programs never cause.
pub fn describe_exit(exit: &VcpuExit<'_>) -> String {
    match exit {
        VcpuExit::IoOut(port, _) => format!("out to port {port:#x}"),
        VcpuExit::IoIn(port, _) => format!("in from port {port:#x}"),
        VcpuExit::MmioRead(addr, _) | VcpuExit::MmioWrite(addr, _) => format!("MMIO at {addr:#x}"),
        VcpuExit::FailEntry(reason, cpu) => format!("entry failure {reason:#x} on CPU {cpu}"),
        other => format!("{other:?}"),
    }
}

/// The host CPU's vendor string (CPUID leaf 0), which decides vmcall versus vmmcall.
pub fn cpu_vendor() -> [u8; 12] {
    // SAFETY: CPUID leaf 0 exists on every x86_64 CPU (newer Rust declares __cpuid safe).
    #[allow(unused_unsafe)]
    let r = unsafe { core::arch::x86_64::__cpuid(0) };
    let mut v = [0u8; 12];
    v[..4].copy_from_slice(&r.ebx.to_le_bytes());
    v[4..8].copy_from_slice(&r.edx.to_le_bytes());
    v[8..].copy_from_slice(&r.ecx.to_le_bytes());
    v
}
