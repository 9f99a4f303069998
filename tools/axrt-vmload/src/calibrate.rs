// SPDX-License-Identifier: GPL-2.0-only
//
// Calibration: how many iterations of the guest's spin loop make a microsecond, what one
// KVM_RUN round trip (entry, `out` exit, return to the VMM) costs, and how fast the TSC ticks.
// The arithmetic is pure; `measure` runs the periodic program in a throwaway VM to get the
// numbers, keeping the fastest of several runs (the least disturbed one).

use serde::{Deserialize, Serialize};

/// Measured speed of the guest and of the host's TSC.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Spin-loop iterations per microsecond of guest execution.
    pub iters_per_us: f64,
    /// Cost of one KVM_RUN with an immediate `out` exit, in microseconds.
    pub exit_overhead_us: f64,
    /// TSC ticks per microsecond (to turn the guest's rdtsc differences into time).
    pub tsc_per_us: f64,
}

impl Calibration {
    /// Derives the calibration from the fastest run of `iters` iterations (`fastest_ns`, one
    /// KVM_RUN round trip included), the fastest round trip with a 1-iteration job
    /// (`overhead_ns`), and `tsc_ticks` counted over `tsc_wall_ns` of wall time.
    pub fn from_runs(
        iters: u64,
        fastest_ns: u64,
        overhead_ns: u64,
        tsc_ticks: u64,
        tsc_wall_ns: u64,
    ) -> Result<Calibration, String> {
        // The loop time is the run minus its round trip; an overhead that is not clearly
        // smaller than the run (noise) is ignored rather than allowed to inflate the rate.
        let spin_ns = if overhead_ns * 2 < fastest_ns {
            fastest_ns - overhead_ns
        } else {
            fastest_ns
        };
        if iters == 0 || spin_ns == 0 || tsc_wall_ns == 0 {
            return Err(format!(
                "calibration failed: {iters} iterations in {fastest_ns} ns"
            ));
        }
        Ok(Calibration {
            iters_per_us: iters as f64 * 1000.0 / spin_ns as f64,
            exit_overhead_us: overhead_ns.min(fastest_ns) as f64 / 1000.0,
            tsc_per_us: tsc_ticks as f64 * 1000.0 / tsc_wall_ns as f64,
        })
    }

    /// Iterations that take `us` microseconds (at least 1).
    pub fn iterations(&self, us: f64) -> Result<u32, String> {
        let n = (us * self.iters_per_us).round();
        if n > f64::from(u32::MAX) {
            return Err(format!(
                "{us} us of guest work is more than 2^32 loop iterations"
            ));
        }
        Ok((n as u32).max(1))
    }

    /// Iterations of a periodic job whose whole round trip (loop plus exit) takes `us`.
    pub fn job_iterations(&self, us: f64) -> Result<u32, String> {
        self.iterations((us - self.exit_overhead_us).max(0.0))
    }

    /// The next periodic job's loop iterations, so that a job cycle's CPU time follows
    /// `target_ns` although the guest's speed drifts from the start-up calibration (emulation,
    /// contention between host threads, frequency changes): the count is scaled by a quarter of
    /// the relative error, at most -25 %/+25 % per job. The step is linear in `used_ns`, so noisy
    /// samples average out to the target (a step in target/used would settle above it).
    pub fn adjust_spin(spin: u32, used_ns: u64, target_ns: u64) -> u32 {
        if target_ns == 0 {
            return spin;
        }
        let error = (target_ns as f64 - used_ns as f64) / target_ns as f64;
        let factor = (1.0 + error / 4.0).clamp(0.75, 1.25);
        (f64::from(spin) * factor)
            .round()
            .clamp(1.0, f64::from(u32::MAX)) as u32
    }

    /// Nanoseconds of `cycles` TSC ticks.
    pub fn cycles_to_ns(&self, cycles: u32) -> u64 {
        if self.tsc_per_us <= 0.0 {
            return 0;
        }
        (f64::from(cycles) * 1000.0 / self.tsc_per_us).round() as u64
    }
}

/// Runs the spin loop in a throwaway one-vCPU VM and derives the calibration: a few warm-up
/// and overhead runs with a 1-iteration job, then the job size is doubled until a run takes at
/// least 10 ms, then the fastest of 5 runs of that size counts.
#[cfg(target_arch = "x86_64")]
pub fn measure() -> anyhow::Result<Calibration> {
    use crate::clock::now_ns;
    use crate::guest_code::{assemble, field, vcpu_area, PERIODIC};
    use crate::micro_vm::MicroVm;

    const TARGET_NS: u64 = 10_000_000;
    let vm = MicroVm::new(&assemble(PERIODIC))?;
    let mut vcpu = vm.create_vcpu(0)?;
    // SAFETY: rdtsc has no preconditions on x86_64.
    let tsc = || unsafe { core::arch::x86_64::_rdtsc() };
    let (tsc0, wall0) = (tsc(), now_ns());
    let mut run = |iters: u32| -> anyhow::Result<u64> {
        vm.mem.write_u32(vcpu_area(0) + field::SPIN, iters);
        let t0 = now_ns();
        vm.run_until_out(&mut vcpu, crate::guest_code::PORT_JOB_DONE)?;
        Ok(now_ns() - t0)
    };
    let fastest = |run: &mut dyn FnMut(u32) -> anyhow::Result<u64>, iters, times| {
        (0..times).try_fold(u64::MAX, |best, _| run(iters).map(|t| best.min(t)))
    };
    fastest(&mut run, 1, 3)?; // warm-up
    let overhead = fastest(&mut run, 1, 8)?;
    let mut iters: u32 = 10_000;
    while run(iters)? < TARGET_NS && iters < 1 << 30 {
        iters *= 2;
    }
    let best = fastest(&mut run, iters, 5)?;
    let (tsc1, wall1) = (tsc(), now_ns());
    Calibration::from_runs(u64::from(iters), best, overhead, tsc1 - tsc0, wall1 - wall0)
        .map_err(anyhow::Error::msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_excludes_the_round_trip() {
        // 1e6 iterations in 1.1 ms with a 0.1 ms round trip: 1000 iterations per us.
        let c =
            Calibration::from_runs(1_000_000, 1_100_000, 100_000, 3_000_000, 1_000_000).unwrap();
        assert!((c.iters_per_us - 1000.0).abs() < 1e-9);
        assert!((c.exit_overhead_us - 100.0).abs() < 1e-9);
        assert!((c.tsc_per_us - 3000.0).abs() < 1e-9);
        // A periodic job of 3000 us: 2900 us of loop after the 100 us round trip.
        assert_eq!(c.job_iterations(3000.0).unwrap(), 2_900_000);
        assert_eq!(c.iterations(200.0).unwrap(), 200_000);
        assert_eq!(c.job_iterations(50.0).unwrap(), 1); // never 0: the loop would wrap
        assert_eq!(c.cycles_to_ns(3000), 1000);
    }

    #[test]
    fn noisy_overhead_is_ignored() {
        let c = Calibration::from_runs(1000, 1000, 900, 1, 1).unwrap();
        assert!((c.iters_per_us - 1000.0).abs() < 1e-9);
    }

    #[test]
    fn impossible_numbers_are_errors() {
        assert!(Calibration::from_runs(0, 1000, 0, 1, 1).is_err());
        assert!(Calibration::from_runs(10, 0, 0, 1, 1).is_err());
        let c = Calibration::from_runs(1_000_000, 1_000, 0, 1, 1).unwrap();
        assert!(c.iterations(1e7).is_err());
    }

    #[test]
    fn job_size_follows_the_cpu_time_target() {
        // Jobs take twice their target: the count shrinks each job and converges on the count
        // that meets it.
        let (target, mut spin) = (3_000_000u64, 1000u32);
        let ns_per_iter = 6000.0; // this guest is half as fast as calibrated
        for _ in 0..40 {
            spin = Calibration::adjust_spin(spin, (f64::from(spin) * ns_per_iter) as u64, target);
        }
        assert!((495..=505).contains(&spin), "{spin}");
        // One wild sample moves it by at most a quarter.
        assert_eq!(Calibration::adjust_spin(1000, 1, target), 1250);
        assert_eq!(Calibration::adjust_spin(1000, u64::MAX / 2, target), 750);
        assert_eq!(Calibration::adjust_spin(1000, 3_000_000, target), 1000);
        // Noise symmetric around the target leaves the count where it is, on average.
        let (lo, hi) = (
            Calibration::adjust_spin(1000, 2_000_000, target),
            Calibration::adjust_spin(1000, 4_000_000, target),
        );
        assert_eq!(lo + hi, 2000);
    }
}
