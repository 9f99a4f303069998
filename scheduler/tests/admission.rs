//! Every parameter-validation and admission-control error path: each names the entity, the
//! field and the problem; admission names the overflowing group and by how much.

mod common;

use axrt_policy::params::MS;
use axrt_policy::{
    CpuSet, Error, Field, GroupId, GroupParams, ParamError, Problem, Subject, System, SystemConfig,
    TaskParams,
};
use common::sys;

fn group_err(name: &str, field: Field, problem: Problem) -> Error {
    Error::Param(ParamError {
        subject: Subject::Group(name.into()),
        field,
        problem,
    })
}

fn task_err(name: &str, field: Field, problem: Problem) -> Error {
    Error::Param(ParamError {
        subject: Subject::Task(name.into()),
        field,
        problem,
    })
}

type ConfigCase = (fn(&mut SystemConfig), Field, Problem);

#[test]
fn system_config_errors() {
    let cases: [ConfigCase; 6] = [
        (|c| c.cpus = 0, Field::CpuCount, Problem::Zero),
        (|c| c.cpus = 257, Field::CpuCount, Problem::TooLarge),
        (|c| c.slice = 0, Field::Slice, Problem::Zero),
        (|c| c.reserve = 0, Field::Reserve, Problem::Zero),
        (
            |c| c.utilization_bound_ppm = 0,
            Field::UtilizationBound,
            Problem::Zero,
        ),
        (
            |c| c.utilization_bound_ppm = 1_000_001,
            Field::UtilizationBound,
            Problem::TooLarge,
        ),
    ];
    for (edit, field, problem) in cases {
        let mut c = SystemConfig::new(4);
        edit(&mut c);
        let e = System::new(c).unwrap_err();
        assert_eq!(
            (e.subject, e.field, e.problem),
            (Subject::System, field, problem)
        );
    }
    assert!(System::new(SystemConfig::new(256)).is_ok());
}

#[test]
fn group_parameter_errors() {
    let mut s = sys(2);
    let base = || GroupParams::new("vm", 100);
    let mut quota_only = base();
    quota_only.quota = Some(MS);
    let mut period_only = base();
    period_only.period = Some(MS);
    let mut deadline_no_period = base();
    deadline_no_period.deadline = Some(MS);
    let mut late_deadline = base().budget(MS, 10 * MS);
    late_deadline.deadline = Some(11 * MS);
    let mut zero_deadline = base().budget(MS, 10 * MS);
    zero_deadline.deadline = Some(0);
    let cases = [
        (quota_only, Field::Quota, Problem::Requires(Field::Period)),
        (period_only, Field::Period, Problem::Requires(Field::Quota)),
        (base().budget(0, MS), Field::Quota, Problem::Zero),
        (base().budget(MS, 0), Field::Period, Problem::Zero),
        (
            deadline_no_period,
            Field::Deadline,
            Problem::Requires(Field::Period),
        ),
        (
            late_deadline,
            Field::Deadline,
            Problem::Exceeds(Field::Period),
        ),
        (zero_deadline, Field::Deadline, Problem::Zero),
        (base().cpus(CpuSet::empty()), Field::Cpus, Problem::Zero),
        (
            base().cpus(CpuSet::single(2)),
            Field::Cpus,
            Problem::OutsideSystem,
        ),
        // More than the group's CPUs could ever run in a period.
        (
            base().budget(21 * MS, 10 * MS),
            Field::Quota,
            Problem::Exceeds(Field::Cpus),
        ),
        (GroupParams::new("", 1), Field::Name, Problem::Zero),
    ];
    for (p, field, problem) in cases {
        let name = p.name.clone();
        assert_eq!(s.add_group(0, p), Err(group_err(&name, field, problem)));
    }
    s.add_group(0, base()).unwrap();
    assert_eq!(
        s.add_group(0, base()),
        Err(group_err("vm", Field::Name, Problem::Duplicate))
    );
    assert_eq!(
        s.add_group(0, GroupParams::new("host", 1)),
        Err(group_err("host", Field::Name, Problem::Duplicate))
    );
    // Quota above the period is fine for a multi-vCPU VM.
    s.add_group(0, GroupParams::new("wide", 1).budget(15 * MS, 10 * MS))
        .unwrap();
}

#[test]
fn task_parameter_errors() {
    let mut s = sys(2);
    let pinned = s
        .add_group(0, GroupParams::new("pinned", 1).cpus(CpuSet::single(1)))
        .unwrap();
    let t = |n: &str| TaskParams::new(n);
    let mut dl_over_period = t("a");
    dl_over_period.timing.period = Some(MS);
    dl_over_period.timing.deadline = Some(2 * MS);
    let mut wcet_over_dl = t("b");
    wcet_over_dl.timing.period = Some(2 * MS);
    wcet_over_dl.timing.deadline = Some(MS);
    wcet_over_dl.timing.wcet = Some(MS + 1);
    let mut wcet_over_period = t("c");
    wcet_over_period.timing.period = Some(MS);
    wcet_over_period.timing.wcet = Some(MS + 1);
    let mut wcet_alone = t("d");
    wcet_alone.timing.wcet = Some(MS);
    let mut zero_period = t("e");
    zero_period.timing.period = Some(0);
    let cases = [
        (t("s").slice(0), Field::Slice, Problem::Zero),
        (zero_period, Field::Period, Problem::Zero),
        (
            dl_over_period,
            Field::Deadline,
            Problem::Exceeds(Field::Period),
        ),
        (wcet_over_dl, Field::Wcet, Problem::Exceeds(Field::Deadline)),
        (
            wcet_over_period,
            Field::Wcet,
            Problem::Exceeds(Field::Period),
        ),
        (wcet_alone, Field::Wcet, Problem::Requires(Field::Deadline)),
        (
            t("f").affinity(CpuSet::empty()),
            Field::Affinity,
            Problem::Zero,
        ),
        (
            t("g").affinity(CpuSet::single(5)),
            Field::Affinity,
            Problem::OutsideSystem,
        ),
        (
            t("h").group(pinned).affinity(CpuSet::single(0)),
            Field::Affinity,
            Problem::Zero,
        ),
        (t("i").group(GroupId(9)), Field::Group, Problem::Unknown),
    ];
    for (p, field, problem) in cases {
        let name = p.name.clone();
        assert_eq!(s.add_task(p), Err(task_err(&name, field, problem)));
    }
    // The group's CPUs bound the affinity; set_affinity is checked the same way.
    let ok = s.add_task(t("ok").group(pinned)).unwrap();
    assert_eq!(s.affinity(ok), Some(CpuSet::single(1)));
    let mut out = Vec::new();
    assert_eq!(
        s.set_affinity(0, ok, CpuSet::single(0), &mut out),
        Err(task_err("ok", Field::Affinity, Problem::Zero))
    );
    // A deadline alone (no period) is a valid sporadic contract.
    let mut sporadic = t("sp");
    sporadic.timing.deadline = Some(MS);
    sporadic.timing.wcet = Some(MS / 2);
    assert!(s.add_task(sporadic).is_ok());
}

#[test]
fn admission_refuses_overflow_naming_group_and_excess() {
    let mut s = sys(2);
    // 2 CPUs: bound 1.9. 0.8 + 0.8 = 1.6 fits.
    s.add_group(0, GroupParams::new("a", 1).budget(8 * MS, 10 * MS))
        .unwrap();
    s.add_group(0, GroupParams::new("b", 1).budget(8 * MS, 10 * MS))
        .unwrap();
    // + 0.35 = 1.95: over by 0.05.
    let e = s
        .add_group(0, GroupParams::new("c", 1).budget(3_500_000, 10 * MS))
        .unwrap_err();
    let Error::Admission(a) = e else {
        panic!("{e:?}")
    };
    assert_eq!(a.group, "c");
    assert_eq!(a.cpus, CpuSet::all(2));
    assert_eq!((a.demand_ppm, a.limit_ppm), (1_950_000, 1_900_000));
    assert_eq!(a.excess_ppm(), 50_000);
    let msg = format!("{a}");
    assert!(msg.contains("\"c\"") && msg.contains("0.050000"), "{msg}");
    // Exactly at the bound is admitted; groups without budget do not count.
    s.add_group(0, GroupParams::new("d", 1).budget(3 * MS, 10 * MS))
        .unwrap();
    s.add_group(0, GroupParams::new("nobudget", 1)).unwrap();
}

#[test]
fn admission_is_checked_per_pinned_cpu_set() {
    let mut s = sys(4);
    let c0 = CpuSet::single(0);
    s.add_group(
        0,
        GroupParams::new("p1", 1).budget(6 * MS, 10 * MS).cpus(c0),
    )
    .unwrap();
    // 0.6 + 0.4 = 1.0 on CPU 0 alone: refused although the system has room.
    let e = s
        .add_group(
            0,
            GroupParams::new("p2", 1).budget(4 * MS, 10 * MS).cpus(c0),
        )
        .unwrap_err();
    let Error::Admission(a) = e else {
        panic!("{e:?}")
    };
    assert_eq!((a.group.as_str(), a.cpus), ("p2", c0));
    assert_eq!(a.excess_ppm(), 50_000);
    // A group on {0,1} sees the group pinned inside it: 0.6 + 1.4 = 2.0 > 1.9.
    let c01: CpuSet = [0, 1].into_iter().collect();
    let e = s
        .add_group(
            0,
            GroupParams::new("p3", 1).budget(14 * MS, 10 * MS).cpus(c01),
        )
        .unwrap_err();
    assert!(matches!(e, Error::Admission(ref a) if a.cpus == c01 && a.excess_ppm() == 100_000));
    // Elsewhere there is room.
    s.add_group(
        0,
        GroupParams::new("p4", 1)
            .budget(9 * MS, 10 * MS)
            .cpus(CpuSet::single(3)),
    )
    .unwrap();
}

#[test]
fn errors_display_field_keys() {
    let e = group_err("vm", Field::Quota, Problem::Requires(Field::Period));
    assert_eq!(format!("{e}"), "vm \"vm\": `quota_us` requires `period_us`");
    let e = task_err("CPU 0/KVM", Field::Wcet, Problem::Exceeds(Field::Deadline));
    assert_eq!(
        format!("{e}"),
        "task \"CPU 0/KVM\": `wcet_us` exceeds `deadline_us`"
    );
}
