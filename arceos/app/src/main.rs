#![no_std]
#![no_main]
use axstd::println;
#[unsafe(no_mangle)]
fn main() {
    let t0 = axhal::time::monotonic_time_nanos();
    println!("axrt-check: cpus {} t0 {}", axhal::cpu_num(), t0);
    axtask::sleep(core::time::Duration::from_secs(5));
    let t1 = axhal::time::monotonic_time_nanos();
    println!("axrt-check: slept {} ns", t1 - t0);
}
