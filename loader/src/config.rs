// SPDX-License-Identifier: GPL-2.0-only
//
// config.rs - the TOML configuration of scx_axrt (docs/POLICY.md, "Configuration (Linux)"):
// [defaults], [[vm]] and [[task]]. Parsing keeps the span of every value, so that each error
// names the file, the line and the field ("vm[1].quota_us"). The rules themselves (zero values,
// a quota without a period, a deadline beyond the period, admission control) are axrt-policy's;
// this module only adds what belongs to the file: keys, types, ranges, cgroup globs, comm
// patterns and references between tables. Nothing here touches the kernel.

//! Loading and validating the configuration file.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use axrt_policy::{admission, Field, GroupParams, Overrun, ParamError, Prio, Problem, Subject};
use axrt_policy::{SystemConfig, TaskParams, Time};
use regex::Regex;
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use glob::MatchOptions;

use crate::cli::{
    MAX_RESERVE_MS, MAX_SLICE_US, MIN_SLICE_US, WATCHDOG_MAX_MS, WATCHDOG_PER_RESERVE,
};

/// The kernel keeps at most this many bytes of a thread name (`TASK_COMM_LEN` − 1).
pub const COMM_MAX: usize = 15;

/// A configuration error: where it is and what is wrong. `Display` gives the one line shown
/// to the user: `FILE:LINE: field 'vm[1].quota_us': ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as named on the command line.
    pub file: String,
    /// 1-based line of the offending value (or of its table when the key is missing); 0 when
    /// the file could not be read at all.
    pub line: usize,
    /// Path of the field (`defaults.reserve_ms`, `vm[0].cgroup`, `task[2]`); empty for a
    /// syntax error that belongs to no field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else if self.field.is_empty() {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        } else {
            write!(
                f,
                "{}:{}: field '{}': {}",
                self.file, self.line, self.field, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// How a `[[task]]` rule recognises threads by name.
#[derive(Debug, Clone)]
pub enum CommMatch {
    /// The whole name, exactly (`comm = "CPU 0/KVM"`).
    Exact(String),
    /// A regular expression that must match the whole name (`comm = "/CPU \\d+/KVM/"`).
    Regex(Regex),
}

impl CommMatch {
    /// Whether a thread called `comm` (as in /proc/TID/comm, without the newline) matches.
    pub fn matches(&self, comm: &str) -> bool {
        match self {
            CommMatch::Exact(s) => s == comm,
            CommMatch::Regex(re) => re.is_match(comm),
        }
    }
}

/// One `[[vm]]`: a group of the policy and the cgroups that belong to it.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The group's parameters, in nanoseconds (name, priority, budget, overrun, deadline).
    pub params: GroupParams,
    /// The cgroup path or glob relative to the cgroup2 root, as written (minus a leading `/`).
    pub cgroup: String,
    /// `cgroup` compiled.
    pub pattern: glob::Pattern,
    /// Line of the `cgroup` key, for messages about matches.
    pub line: usize,
}

/// One `[[task]]`: threads of a VM, recognised by name, that get their own parameters.
#[derive(Debug, Clone)]
pub struct TaskRule {
    /// Index of the VM in [`Config::vms`].
    pub vm: usize,
    /// The name pattern.
    pub comm: CommMatch,
    /// Priority and timing contract, in nanoseconds (`priority` already resolved to the VM's
    /// when the rule has none).
    pub params: TaskParams,
}

/// A validated configuration. [`Config::default`] is the whole-host scheduler: no VMs, every
/// task in the host group at priority 128.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from (`None`: built-in defaults).
    pub file: Option<String>,
    /// `[defaults] slice_us`, if set (the command line overrides it).
    pub slice_us: Option<u64>,
    /// `[defaults] reserve_ms`, if set (the command line overrides it).
    pub reserve_ms: Option<u64>,
    /// System parameters: CPUs, slice, reserve, host priority (nanoseconds).
    pub system: SystemConfig,
    /// The `[[vm]]` tables, in file order.
    pub vms: Vec<VmConfig>,
    /// The `[[task]]` tables, in file order (the first rule that matches a thread wins).
    pub tasks: Vec<TaskRule>,
}

impl Config {
    /// The configuration without a file, for a system of `cpus` CPUs.
    pub fn host_only(cpus: usize) -> Self {
        Config {
            file: None,
            slice_us: None,
            reserve_ms: None,
            system: SystemConfig::new(cpus),
            vms: Vec::new(),
            tasks: Vec::new(),
        }
    }

    /// Reads and validates `path` for a system of `cpus` CPUs.
    pub fn load(path: &Path, cpus: usize) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            line: 0,
            field: String::new(),
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::parse(&text, &file, cpus)
    }

    /// Parses and validates `text`; `file` names it in messages.
    pub fn parse(text: &str, file: &str, cpus: usize) -> Result<Self, ConfigError> {
        let src = Source { text, file };
        let raw: RawFile = toml::from_str(text).map_err(|e| src.toml_error(&e))?;
        Builder { src, cpus }.build(raw)
    }

    /// Index of the VM called `name`.
    pub fn vm_index(&self, name: &str) -> Option<usize> {
        self.vms.iter().position(|v| v.params.name == name)
    }
}

// ---- the file as serde sees it: every value keeps its span ----------------------------------

type Int = Spanned<i64>;
type Text = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawDefaults>,
    #[serde(default)]
    vm: Vec<Spanned<RawVm>>,
    #[serde(default)]
    task: Vec<Spanned<RawTask>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    slice_us: Option<Int>,
    host_priority: Option<Int>,
    reserve_ms: Option<Int>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVm {
    name: Option<Text>,
    cgroup: Option<Text>,
    priority: Option<Int>,
    quota_us: Option<Int>,
    period_us: Option<Int>,
    overrun: Option<Text>,
    deadline_us: Option<Int>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    vm: Option<Text>,
    comm: Option<Text>,
    priority: Option<Int>,
    period_us: Option<Int>,
    deadline_us: Option<Int>,
    wcet_us: Option<Int>,
}

/// The text being parsed and its name, to turn byte offsets into lines.
#[derive(Clone, Copy)]
struct Source<'a> {
    text: &'a str,
    file: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn error(&self, span: Range<usize>, field: &str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_string(),
            line: self.line_of(span.start),
            field: field.to_string(),
            message: message.into(),
        }
    }

    /// A TOML syntax or type error, with the field path found from its span.
    fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span().unwrap_or(0..0);
        let field = DeTable::parse(self.text)
            .ok()
            .and_then(|doc| path_at(doc.get_ref(), span.start))
            .unwrap_or_default();
        let message = e.message().trim_end().replace('\n', "; ");
        self.error(span, &field, message)
    }
}

/// The path (`vm[1].quota_us`) of the innermost key or value of `table` at byte `offset`.
/// Containers are searched whatever their span: the parser gives an array-of-tables element
/// only the span of its `[[header]]`.
fn path_at(table: &DeTable<'_>, offset: usize) -> Option<String> {
    let inside = |r: Range<usize>| r.start <= offset && offset < r.end.max(r.start + 1);
    for (key, value) in table.iter() {
        let here = key.get_ref().to_string();
        let below = match value.get_ref() {
            DeValue::Table(t) => path_at(t, offset).map(|p| format!("{here}.{p}")),
            DeValue::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let elem = format!("{here}[{i}]");
                match item.get_ref() {
                    DeValue::Table(t) => match path_at(t, offset) {
                        Some(p) => Some(format!("{elem}.{p}")),
                        None => inside(item.span()).then_some(elem),
                    },
                    _ => inside(item.span()).then_some(elem),
                }
            }),
            _ => None,
        };
        if below.is_some() {
            return below;
        }
        if inside(key.span()) || inside(value.span()) {
            return Some(here);
        }
    }
    None
}

/// Validation of the parsed file against the rules and the system.
struct Builder<'a> {
    src: Source<'a>,
    cpus: usize,
}

impl Builder<'_> {
    fn build(&self, raw: RawFile) -> Result<Config, ConfigError> {
        let mut cfg = Config::host_only(self.cpus);
        cfg.file = Some(self.src.file.to_string());
        if let Some(d) = &raw.defaults {
            self.defaults(d, &mut cfg)?;
        }
        for (i, vm) in raw.vm.iter().enumerate() {
            let parsed = self.vm(i, vm, &cfg)?;
            cfg.vms.push(parsed);
        }
        self.admit(&raw.vm, &cfg)?;
        for (i, task) in raw.task.iter().enumerate() {
            let parsed = self.task(i, task, &cfg)?;
            cfg.tasks.push(parsed);
        }
        Ok(cfg)
    }

    fn defaults(&self, d: &RawDefaults, cfg: &mut Config) -> Result<(), ConfigError> {
        let path = |key: &str| format!("defaults.{key}");
        if let Some(v) = &d.slice_us {
            let us = self.range(v, &path("slice_us"), MIN_SLICE_US, MAX_SLICE_US)?;
            cfg.slice_us = Some(us);
            cfg.system.slice = us * 1000;
        }
        if let Some(v) = &d.host_priority {
            cfg.system.host_priority = self.priority(v, &path("host_priority"))?;
        }
        if let Some(v) = &d.reserve_ms {
            let ms = self.unsigned(v, &path("reserve_ms"))?;
            if ms > MAX_RESERVE_MS {
                return Err(self.src.error(
                    v.span(),
                    &path("reserve_ms"),
                    format!(
                        "{ms} ms is too close to the sched_ext watchdog (at most \
                         {WATCHDOG_MAX_MS} ms, kept at {WATCHDOG_PER_RESERVE} x the reserve); \
                         use at most {MAX_RESERVE_MS}"
                    ),
                ));
            }
            cfg.reserve_ms = Some(ms);
            cfg.system.reserve = ms * 1_000_000;
        }
        cfg.system.validate().map_err(|e| {
            let (key, span) = match e.field {
                Field::Slice => ("slice_us", d.slice_us.as_ref().map(Spanned::span)),
                Field::Reserve => ("reserve_ms", d.reserve_ms.as_ref().map(Spanned::span)),
                _ => ("", None),
            };
            let field = if key.is_empty() {
                "defaults".into()
            } else {
                path(key)
            };
            self.src.error(span.unwrap_or(0..0), &field, e.to_string())
        })
    }

    fn vm(&self, i: usize, raw: &Spanned<RawVm>, cfg: &Config) -> Result<VmConfig, ConfigError> {
        let path = |key: &str| format!("vm[{i}].{key}");
        let v = raw.get_ref();
        let name = self.required(&v.name, raw, &path("name"))?;
        if cfg.vms.iter().any(|o| o.params.name == *name.get_ref()) {
            let e = param_error(
                Subject::Group(name.get_ref().clone()),
                Field::Name,
                Problem::Duplicate,
            );
            return Err(self.src.error(name.span(), &path("name"), e.to_string()));
        }
        let cgroup_raw = self.required(&v.cgroup, raw, &path("cgroup"))?;
        let (cgroup, pattern) = self.cgroup(cgroup_raw, &path("cgroup"))?;

        let mut params = GroupParams::new(name.get_ref(), cfg.system.host_priority);
        if let Some(p) = &v.priority {
            params.priority = self.priority(p, &path("priority"))?;
        }
        params.quota = self.opt_nanos(&v.quota_us, &path("quota_us"), 1000)?;
        params.period = self.opt_nanos(&v.period_us, &path("period_us"), 1000)?;
        params.deadline = self.opt_nanos(&v.deadline_us, &path("deadline_us"), 1000)?;
        if let Some(o) = &v.overrun {
            params.overrun = match o.get_ref().as_str() {
                "throttle" => Overrun::Throttle,
                "background" => Overrun::Background,
                other => {
                    return Err(self.src.error(
                        o.span(),
                        &path("overrun"),
                        format!(
                        "\"{other}\" is not an overrun mode (use \"throttle\" or \"background\")"
                    ),
                    ))
                }
            };
        }
        params.validate(self.cpus).map_err(|e| {
            let key = e.field.key();
            let span = vm_key_span(v, key).unwrap_or(raw.span());
            self.src.error(span, &path(key), e.to_string())
        })?;
        Ok(VmConfig {
            params,
            cgroup,
            pattern,
            line: self.src.line_of(cgroup_raw.span().start),
        })
    }

    /// Admission control over every budgeted VM (all of them may use every CPU).
    fn admit(&self, raw: &[Spanned<RawVm>], cfg: &Config) -> Result<(), ConfigError> {
        let groups: Vec<&GroupParams> = cfg.vms.iter().map(|v| &v.params).collect();
        admission::check(&groups, self.cpus, cfg.system.utilization_bound_ppm).map_err(|e| {
            let i = cfg.vm_index(&e.group).unwrap_or(0);
            let span = raw
                .get(i)
                .and_then(|r| r.get_ref().quota_us.as_ref().map(Spanned::span))
                .unwrap_or(0..0);
            self.src
                .error(span, &format!("vm[{i}].quota_us"), e.to_string())
        })
    }

    fn task(
        &self,
        i: usize,
        raw: &Spanned<RawTask>,
        cfg: &Config,
    ) -> Result<TaskRule, ConfigError> {
        let path = |key: &str| format!("task[{i}].{key}");
        let t = raw.get_ref();
        let vm_name = self.required(&t.vm, raw, &path("vm"))?;
        let comm_raw = self.required(&t.comm, raw, &path("comm"))?;
        let comm = self.comm(comm_raw, &path("comm"))?;
        let subject = Subject::Task(comm_raw.get_ref().clone());
        let Some(vm) = cfg.vm_index(vm_name.get_ref()) else {
            let e = param_error(subject, Field::Group, Problem::Unknown);
            return Err(self.src.error(
                vm_name.span(),
                &path("vm"),
                format!("{e}: no [[vm]] is named \"{}\"", vm_name.get_ref()),
            ));
        };
        let mut params = TaskParams::new(comm_raw.get_ref());
        params.priority = Some(match &t.priority {
            Some(p) => self.priority(p, &path("priority"))?,
            None => cfg.vms[vm].params.priority,
        });
        params.timing.period = self.opt_nanos(&t.period_us, &path("period_us"), 1000)?;
        params.timing.deadline = self.opt_nanos(&t.deadline_us, &path("deadline_us"), 1000)?;
        params.timing.wcet = self.opt_nanos(&t.wcet_us, &path("wcet_us"), 1000)?;
        params.validate().map_err(|e| {
            let key = e.field.key();
            let span = task_key_span(t, key).unwrap_or(raw.span());
            self.src.error(span, &path(key), e.to_string())
        })?;
        Ok(TaskRule { vm, comm, params })
    }

    // ---- single values ----

    fn required<'v, T>(
        &self,
        v: &'v Option<Spanned<T>>,
        table: &Spanned<impl Sized>,
        field: &str,
    ) -> Result<&'v Spanned<T>, ConfigError> {
        v.as_ref().ok_or_else(|| {
            self.src
                .error(table.span(), field, "is required but missing")
        })
    }

    fn unsigned(&self, v: &Int, field: &str) -> Result<u64, ConfigError> {
        u64::try_from(*v.get_ref()).map_err(|_| {
            self.src
                .error(v.span(), field, format!("{} is negative", v.get_ref()))
        })
    }

    fn range(&self, v: &Int, field: &str, lo: u64, hi: u64) -> Result<u64, ConfigError> {
        let n = *v.get_ref();
        match u64::try_from(n) {
            Ok(u) if (lo..=hi).contains(&u) => Ok(u),
            _ => Err(self
                .src
                .error(v.span(), field, format!("{n} is outside {lo}..={hi}"))),
        }
    }

    fn priority(&self, v: &Int, field: &str) -> Result<Prio, ConfigError> {
        let n = *v.get_ref();
        Prio::try_from(n).map_err(|_| {
            self.src.error(
                v.span(),
                field,
                format!("{n} is outside 0..=255 (0 is the highest priority)"),
            )
        })
    }

    /// A non-negative count of `unit` nanoseconds, in nanoseconds.
    fn nanos(&self, v: &Int, field: &str, unit: u64) -> Result<Time, ConfigError> {
        let n = self.unsigned(v, field)?;
        n.checked_mul(unit)
            .ok_or_else(|| self.src.error(v.span(), field, format!("{n} is too large")))
    }

    fn opt_nanos(
        &self,
        v: &Option<Int>,
        field: &str,
        unit: u64,
    ) -> Result<Option<Time>, ConfigError> {
        v.as_ref().map(|v| self.nanos(v, field, unit)).transpose()
    }

    /// The cgroup glob, checked: relative to the cgroup2 root, no `..`, a valid pattern.
    fn cgroup(&self, v: &Text, field: &str) -> Result<(String, glob::Pattern), ConfigError> {
        let fail = |msg: String| self.src.error(v.span(), field, msg);
        let text = v.get_ref().trim_start_matches('/').trim_end_matches('/');
        if text.is_empty() {
            return Err(fail("must name a cgroup below /sys/fs/cgroup".into()));
        }
        if text
            .split('/')
            .any(|c| c == ".." || c == "." || c.is_empty())
        {
            return Err(fail(format!(
                "\"{}\" has an empty, \".\" or \"..\" component",
                v.get_ref()
            )));
        }
        let pattern = glob::Pattern::new(text).map_err(|e| {
            fail(format!(
                "\"{}\" is not a valid glob: {}",
                v.get_ref(),
                e.msg
            ))
        })?;
        Ok((text.to_string(), pattern))
    }

    /// `comm`: an exact thread name, or `/regex/` matched against the whole name.
    fn comm(&self, v: &Text, field: &str) -> Result<CommMatch, ConfigError> {
        let fail = |msg: String| self.src.error(v.span(), field, msg);
        let s = v.get_ref();
        if let Some(body) = s
            .strip_prefix('/')
            .and_then(|r| r.strip_suffix('/'))
            .filter(|_| s.len() >= 2)
        {
            if body.is_empty() {
                return Err(fail("the regular expression \"//\" is empty".into()));
            }
            let re = Regex::new(&format!("^(?:{body})$"))
                .map_err(|e| fail(format!("invalid regular expression: {e}").replace('\n', " ")))?;
            return Ok(CommMatch::Regex(re));
        }
        if s.is_empty() {
            return Err(fail("must not be empty".into()));
        }
        if s.len() > COMM_MAX {
            return Err(fail(format!(
                "\"{s}\" is {} bytes; the kernel keeps only {COMM_MAX} bytes of a thread name, \
                 so it can never match (use a /regex/)",
                s.len()
            )));
        }
        Ok(CommMatch::Exact(s.clone()))
    }
}

/// `*` and `?` stop at `/`, as in a shell.
const GLOB_OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// Which VM, if any, a cgroup path (relative to the root) belongs to: the first in file order
/// whose glob matches it.
pub fn match_vm(vms: &[VmConfig], rel: &str) -> Option<usize> {
    vms.iter()
        .position(|vm| vm.pattern.matches_with(rel, GLOB_OPTIONS))
}

/// The first rule of VM `vm` whose comm pattern matches `comm`.
pub fn match_task(rules: &[TaskRule], vm: usize, comm: &str) -> Option<usize> {
    rules
        .iter()
        .position(|r| r.vm == vm && r.comm.matches(comm))
}

impl Config {
    /// The VM that owns cgroup `path` (relative to the cgroup2 root, leading `/` allowed): a VM
    /// owns the cgroup its glob matches and everything below it, so this is the VM of the
    /// shallowest ancestor-or-self of `path` that matches one (discovery's walk from the root
    /// down applies the same rule to the live tree).
    pub fn vm_of_cgroup(&self, path: &str) -> Option<usize> {
        let path = path.trim_matches('/');
        let mut end = 0;
        while end < path.len() {
            end = path[end..].find('/').map_or(path.len(), |i| end + i);
            if let Some(vm) = match_vm(&self.vms, &path[..end]) {
                return Some(vm);
            }
            end += 1;
        }
        None
    }
}

fn param_error(subject: Subject, field: Field, problem: Problem) -> ParamError {
    ParamError {
        subject,
        field,
        problem,
    }
}

fn vm_key_span(v: &RawVm, key: &str) -> Option<Range<usize>> {
    let int = |x: &Option<Int>| x.as_ref().map(Spanned::span);
    match key {
        "name" => v.name.as_ref().map(Spanned::span),
        "priority" => int(&v.priority),
        "quota_us" => int(&v.quota_us),
        "period_us" => int(&v.period_us),
        "deadline_us" => int(&v.deadline_us),
        _ => None,
    }
}

fn task_key_span(t: &RawTask, key: &str) -> Option<Range<usize>> {
    let int = |x: &Option<Int>| x.as_ref().map(Spanned::span);
    match key {
        "priority" => int(&t.priority),
        "period_us" => int(&t.period_us),
        "deadline_us" => int(&t.deadline_us),
        "wcet_us" => int(&t.wcet_us),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPUS: usize = 4;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "axrt.toml", CPUS)
    }

    /// The one-line message for `text`, which must be refused.
    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    const EXAMPLE: &str = r#"
[defaults]
slice_us = 5000
host_priority = 128
reserve_ms = 1000

[[vm]]
name = "control"
cgroup = "machine.slice/machine-qemu*control*.scope"
priority = 192
quota_us = 3000
period_us = 10000
overrun = "throttle"

[[task]]
vm = "control"
comm = "CPU 0/KVM"
priority = 190
period_us = 1000
deadline_us = 1000
wcet_us = 300
"#;

    #[test]
    fn the_policy_example_is_accepted() {
        let cfg = parse(EXAMPLE).unwrap();
        assert_eq!(cfg.slice_us, Some(5000));
        assert_eq!(cfg.system.reserve, 1_000_000_000);
        assert_eq!(cfg.vms.len(), 1);
        let vm = &cfg.vms[0];
        assert_eq!(vm.params.name, "control");
        assert_eq!(vm.params.priority, 192);
        assert_eq!(vm.params.budget_pair(), Some((3_000_000, 10_000_000)));
        assert_eq!(vm.params.overrun, Overrun::Throttle);
        assert_eq!(vm.cgroup, "machine.slice/machine-qemu*control*.scope");
        assert_eq!(vm.line, 9);
        let task = &cfg.tasks[0];
        assert_eq!(task.vm, 0);
        assert_eq!(task.params.priority, Some(190));
        assert_eq!(task.params.timing.period, Some(1_000_000));
        assert_eq!(task.params.timing.wcet, Some(300_000));
        assert!(task.comm.matches("CPU 0/KVM"));
        assert!(!task.comm.matches("CPU 1/KVM"));
    }

    #[test]
    fn an_empty_file_is_the_whole_host_scheduler() {
        let cfg = parse("").unwrap();
        assert!(cfg.vms.is_empty() && cfg.tasks.is_empty());
        assert_eq!(cfg.system.host_priority, 128);
        assert_eq!(cfg.slice_us, None);
    }

    #[test]
    fn defaults_inherit_into_vms_and_tasks() {
        let cfg = parse(
            "[defaults]\nhost_priority = 100\n[[vm]]\nname = \"a\"\ncgroup = \"a.scope\"\n\
             [[task]]\nvm = \"a\"\ncomm = \"/CPU \\\\d+/KVM/\"\n",
        )
        .unwrap();
        assert_eq!(cfg.vms[0].params.priority, 100);
        assert_eq!(cfg.tasks[0].params.priority, Some(100));
        assert!(cfg.tasks[0].comm.matches("CPU 12/KVM"));
        assert!(!cfg.tasks[0].comm.matches("xCPU 1/KVM"));
        assert!(!cfg.tasks[0].comm.matches("CPU 1/KVMx"));
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\nquota = 5\n"),
            "axrt.toml:4: field 'vm[0].quota': unknown field `quota`, expected one of `name`, \
             `cgroup`, `priority`, `quota_us`, `period_us`, `overrun`, `deadline_us`"
        );
        let msg = refusal("[defaults]\nslice = 1\n");
        assert!(
            msg.starts_with("axrt.toml:2: field 'defaults.slice': unknown field `slice`"),
            "{msg}"
        );
        let msg = refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\n[[vm]]\nname = \"b\"\ncgroup = \"b\"\nbogus = 1\n");
        assert!(
            msg.starts_with("axrt.toml:7: field 'vm[1].bogus': unknown field"),
            "{msg}"
        );
        let msg = refusal("[machine]\nx = 1\n");
        assert!(
            msg.starts_with("axrt.toml:1: field 'machine': unknown field `machine`"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_and_type_errors_have_a_line() {
        let msg = refusal("[defaults]\nslice_us = = 3\n");
        assert!(msg.starts_with("axrt.toml:2: "), "{msg}");
        let msg = refusal("[[vm]]\nname = 3\ncgroup = \"a\"\n");
        assert!(
            msg.starts_with("axrt.toml:2: field 'vm[0].name': invalid type"),
            "{msg}"
        );
        let msg = refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\npriority = \"high\"\n");
        assert!(
            msg.starts_with("axrt.toml:4: field 'vm[0].priority': invalid type"),
            "{msg}"
        );
    }

    #[test]
    fn priorities_outside_0_255_are_refused() {
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\npriority = 256\n"),
            "axrt.toml:4: field 'vm[0].priority': 256 is outside 0..=255 (0 is the highest priority)"
        );
        assert_eq!(
            refusal("[defaults]\nhost_priority = -1\n"),
            "axrt.toml:2: field 'defaults.host_priority': -1 is outside 0..=255 (0 is the highest priority)"
        );
    }

    #[test]
    fn a_quota_without_a_period_is_refused_by_the_policy_rule() {
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\n\n[[vm]]\nname = \"b\"\ncgroup = \"b\"\nquota_us = 3000\n"),
            "axrt.toml:8: field 'vm[1].quota_us': vm \"b\": `quota_us` requires `period_us`"
        );
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\nquota_us = 3000\nperiod_us = 1000\ndeadline_us = 2000\n"),
            "axrt.toml:6: field 'vm[0].deadline_us': vm \"a\": `deadline_us` exceeds `period_us`"
        );
        // More than every CPU for a whole period.
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\nquota_us = 50000\nperiod_us = 10000\n"),
            "axrt.toml:4: field 'vm[0].quota_us': vm \"a\": `quota_us` exceeds `cpus`"
        );
    }

    #[test]
    fn missing_and_duplicate_names() {
        assert_eq!(
            refusal("[[vm]]\ncgroup = \"a\"\n"),
            "axrt.toml:1: field 'vm[0].name': is required but missing"
        );
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\n[[vm]]\nname = \"a\"\ncgroup = \"b\"\n"),
            "axrt.toml:5: field 'vm[1].name': vm \"a\": `name` is already used"
        );
    }

    #[test]
    fn a_task_of_an_unknown_vm_is_refused() {
        assert_eq!(
            refusal("[[vm]]\nname = \"a\"\ncgroup = \"a\"\n[[task]]\nvm = \"b\"\ncomm = \"CPU 0/KVM\"\n"),
            "axrt.toml:5: field 'task[0].vm': task \"CPU 0/KVM\": `vm` refers to nothing known: \
             no [[vm]] is named \"b\""
        );
    }

    #[test]
    fn task_contracts_follow_the_policy_rules() {
        let base = "[[vm]]\nname = \"a\"\ncgroup = \"a\"\n[[task]]\nvm = \"a\"\ncomm = \"x\"\n";
        assert_eq!(
            refusal(&format!("{base}period_us = 1000\nwcet_us = 2000\n")),
            "axrt.toml:8: field 'task[0].wcet_us': task \"x\": `wcet_us` exceeds `period_us`"
        );
        assert_eq!(
            refusal(&format!("{base}period_us = 0\n")),
            "axrt.toml:7: field 'task[0].period_us': task \"x\": `period_us` must not be zero or empty"
        );
        assert_eq!(
            refusal(&format!("{base}deadline_us = -5\n")),
            "axrt.toml:7: field 'task[0].deadline_us': -5 is negative"
        );
    }

    #[test]
    fn comm_patterns_are_checked() {
        let base = "[[vm]]\nname = \"a\"\ncgroup = \"a\"\n[[task]]\nvm = \"a\"\n";
        let msg = refusal(&format!("{base}comm = \"/CPU (/\"\n"));
        assert!(
            msg.starts_with("axrt.toml:6: field 'task[0].comm': invalid regular expression"),
            "{msg}"
        );
        let msg = refusal(&format!("{base}comm = \"a-thread-name-too-long\"\n"));
        assert!(
            msg.starts_with(
                "axrt.toml:6: field 'task[0].comm': \"a-thread-name-too-long\" is 22 bytes"
            ),
            "{msg}"
        );
        assert_eq!(
            refusal(&format!("{base}comm = \"\"\n")),
            "axrt.toml:6: field 'task[0].comm': must not be empty"
        );
        // A lone "/" is an exact name, not an empty regex.
        assert!(parse(&format!("{base}comm = \"/\"\n")).is_ok());
    }

    #[test]
    fn cgroup_globs_are_checked() {
        let vm = |cg: &str| format!("[[vm]]\nname = \"a\"\ncgroup = \"{cg}\"\n");
        assert_eq!(
            refusal(&vm("machine.slice/../x")),
            "axrt.toml:3: field 'vm[0].cgroup': \"machine.slice/../x\" has an empty, \".\" or \"..\" component"
        );
        let msg = refusal(&vm("machine.slice/[abc"));
        assert!(
            msg.starts_with(
                "axrt.toml:3: field 'vm[0].cgroup': \"machine.slice/[abc\" is not a valid glob"
            ),
            "{msg}"
        );
        assert_eq!(
            refusal(&vm("/")),
            "axrt.toml:3: field 'vm[0].cgroup': must name a cgroup below /sys/fs/cgroup"
        );
        // A leading "/" (as /proc/PID/cgroup writes it) is accepted.
        assert_eq!(
            parse(&vm("/machine.slice/a.scope")).unwrap().vms[0].cgroup,
            "machine.slice/a.scope"
        );
    }

    #[test]
    fn overrun_modes() {
        let vm = |o: &str| format!("[[vm]]\nname = \"a\"\ncgroup = \"a\"\noverrun = \"{o}\"\n");
        assert_eq!(
            parse(&vm("background")).unwrap().vms[0].params.overrun,
            Overrun::Background
        );
        assert_eq!(
            refusal(&vm("drop")),
            "axrt.toml:4: field 'vm[0].overrun': \"drop\" is not an overrun mode (use \"throttle\" or \"background\")"
        );
    }

    #[test]
    fn the_reserve_must_fire_before_the_watchdog() {
        assert_eq!(
            refusal("[defaults]\nreserve_ms = 6001\n"),
            "axrt.toml:2: field 'defaults.reserve_ms': 6001 ms is too close to the sched_ext \
             watchdog (at most 30000 ms, kept at 5 x the reserve); use at most 6000"
        );
        assert_eq!(
            refusal("[defaults]\nreserve_ms = 0\n"),
            "axrt.toml:2: field 'defaults.reserve_ms': defaults: `reserve_ms` must not be zero or empty"
        );
        assert_eq!(
            parse("[defaults]\nreserve_ms = 6000\n").unwrap().reserve_ms,
            Some(6000)
        );
        assert_eq!(
            refusal("[defaults]\nslice_us = 10\n"),
            "axrt.toml:2: field 'defaults.slice_us': 10 is outside 50..=1000000"
        );
    }

    #[test]
    fn admission_names_the_vm_and_the_excess() {
        // 4 CPUs, bound 3.8: 2.0 + 2.0 overflows at "b" by 0.2 CPU.
        let text = "[[vm]]\nname = \"a\"\ncgroup = \"a\"\nquota_us = 20000\nperiod_us = 10000\n\
                    [[vm]]\nname = \"b\"\ncgroup = \"b\"\nquota_us = 2000\nperiod_us = 1000\n";
        assert_eq!(
            refusal(text),
            "axrt.toml:9: field 'vm[1].quota_us': vm \"b\" overflows CPUs {0, 1, 2, 3}: sum of \
             quota/period 4.000000 > bound 3.800000 (over by 0.200000 CPU)"
        );
    }

    #[test]
    fn unreadable_files_are_named() {
        let e = Config::load(Path::new("/nonexistent/axrt.toml"), CPUS).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/axrt.toml: cannot read the configuration"),
            "{e}"
        );
    }
}
