//! Admission control: the sum of `Q/P` over budgeted groups must not exceed the bound
//! (`0.95 × CPUs`) on the whole system and on every CPU set some group is pinned to (counting
//! the groups pinned inside that set). Integer arithmetic in millionths of a CPU.

use crate::error::AdmissionError;
use crate::params::GroupParams;
use crate::types::{CpuSet, Time};

/// `Q/P` in millionths of a CPU, rounded up.
pub fn utilization_ppm(quota: Time, period: Time) -> u64 {
    let v = (quota as u128 * 1_000_000).div_ceil(period.max(1) as u128);
    v.min(u64::MAX as u128) as u64
}

/// Checks `groups` in order against a system of `ncpus` CPUs and a bound of `bound_ppm` per
/// CPU. The error names the first group whose admission makes some CPU set overflow.
/// Groups without a budget are ignored. Parameters are assumed valid.
pub fn check(groups: &[&GroupParams], ncpus: usize, bound_ppm: u64) -> Result<(), AdmissionError> {
    let system = CpuSet::all(ncpus);
    for (i, g) in groups.iter().enumerate() {
        if g.budget_pair().is_none() {
            continue;
        }
        // Sets to check once `g` is in: the whole system and every pinned set among groups
        // admitted so far that `g` lies within.
        let admitted = &groups[..=i];
        let gset = g.cpus.unwrap_or(system);
        let candidates = core::iter::once(system)
            .chain(admitted.iter().filter_map(|h| h.cpus))
            .filter(|s| gset.is_subset(s));
        for set in candidates {
            let demand: u64 = admitted
                .iter()
                .filter(|h| h.cpus.unwrap_or(system).is_subset(&set))
                .filter_map(|h| h.budget_pair())
                .map(|(q, p)| utilization_ppm(q, p))
                .sum();
            let limit = bound_ppm * set.count() as u64;
            if demand > limit {
                return Err(AdmissionError {
                    group: g.name.clone(),
                    cpus: set,
                    demand_ppm: demand,
                    limit_ppm: limit,
                });
            }
        }
    }
    Ok(())
}
