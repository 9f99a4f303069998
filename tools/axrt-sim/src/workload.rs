// SPDX-License-Identifier: GPL-2.0-only
//
// workload.rs - rt-app JSON workloads: the subset axrt-sim runs, parsed with rt-app's meaning
// (version 1.0, the one in the test image). Keys are kept in file order, because rt-app runs a
// phase's events in the order they are written and tells them apart by prefix ("run0", "run1",
// "runtime": "runtime" is checked before "run", as rt-app does). Every value is checked as it is
// read, so an error names the file, the line and the field ("tasks.rt.phases.p0.timer").
//
// The subset: global duration, calibration, pi_enabled, logdir, log_basename, cumulative_slack
// (and the keys rt-app has that change nothing here); tasks with instance, delay, loop, phases,
// cpus, priority (a nice value: SCHED_OTHER only), policy, taskgroup; events run, runtime, sleep,
// timer (ref, period, mode), suspend, resume, yield, lock, unlock. Anything else is refused with
// a message, so a workload never runs with part of it silently left out.

//! Reading rt-app workload files.

use std::fmt;
use std::path::Path;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize as _;

/// Microseconds, as rt-app writes every duration.
pub type Us = u64;

/// A parsed workload.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// `global.duration` in seconds; `None` for -1 (until every thread has ended).
    pub duration_s: Option<u64>,
    /// `global.calibration`: the CPU rt-app calibrates on, or a fixed ns per loop.
    pub calibration: Calibration,
    /// `global.pi_enabled`: mutexes are priority-inheritance (PI futex) mutexes.
    pub pi_enabled: bool,
    /// `global.cumulative_slack`: a row's slack sums the slack of every timer of the phase.
    pub cumulative_slack: bool,
    /// `global.logdir`.
    pub logdir: String,
    /// `global.log_basename`.
    pub log_basename: String,
    /// The task objects, in file order.
    pub tasks: Vec<TaskSpec>,
}

/// `global.calibration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calibration {
    /// `"CPUn"`: rt-app measures its loop on CPU n.
    Cpu(usize),
    /// An integer: nanoseconds per loop, no calibration.
    NsPerLoop(u64),
}

/// One task object: `instance` threads with the same behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSpec {
    /// The key in `tasks`; rt-app 1.0 names every instance's thread after it.
    pub name: String,
    /// Number of threads.
    pub instance: u32,
    /// Initial delay before the first phase.
    pub delay_us: Us,
    /// How many times the phases run; `None`: forever (-1).
    pub loops: Option<u64>,
    /// CPU affinity (`None`: every CPU).
    pub cpus: Option<Vec<usize>>,
    /// Nice value (`priority` of a SCHED_OTHER thread).
    pub nice: i8,
    /// `taskgroup`: a cgroup path (relative to the cgroup2 root); `None` or empty: none.
    pub taskgroup: Option<String>,
    /// The phases, in file order (one unnamed phase when the events are in the task object).
    pub phases: Vec<Phase>,
}

/// One phase: events run in order, `loops` times.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// The key in `phases` (empty for the implicit phase).
    pub name: String,
    /// How many times the events run before the next phase.
    pub loops: u64,
    /// Affinity while in this phase (`None`: the task's).
    pub cpus: Option<Vec<usize>>,
    /// The events, in file order.
    pub events: Vec<Event>,
}

/// One event and the key it was written under.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The key (`run0`, `timer`, ...).
    pub key: String,
    /// What it does.
    pub kind: EventKind,
}

/// The events axrt-sim runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `run`: this much CPU work (it takes longer when the thread does not get the CPU).
    Run(Us),
    /// `runtime`: work until this much wall-clock time has passed, whatever CPU it got.
    Runtime(Us),
    /// `sleep`: sleep this long from now.
    Sleep(Us),
    /// `timer`: sleep until the timer's next expiry, `period` after its previous one.
    Timer {
        /// The timer's name; timers are shared by every thread naming them unless the name
        /// starts with "unique" (one timer per thread).
        reference: String,
        /// Period.
        period_us: Us,
        /// `mode: "absolute"`: a late expiry keeps the original grid; relative (the default)
        /// restarts the grid from the moment the late thread reached the timer.
        absolute: bool,
    },
    /// `suspend`: wait until some thread resumes the named condition (rt-app's workgen fills
    /// an empty name with the thread's own).
    Suspend(String),
    /// `resume`: wake every thread suspended on the named condition (none waiting: lost).
    Resume(String),
    /// `yield`: sched_yield().
    Yield,
    /// `lock`: take the named mutex (waiting if another thread holds it).
    Lock(String),
    /// `unlock`: release the named mutex.
    Unlock(String),
}

impl EventKind {
    /// Whether the event can make time pass (so a loop of events cannot spin in zero time).
    pub fn takes_time(&self) -> bool {
        match self {
            EventKind::Run(us) | EventKind::Runtime(us) | EventKind::Sleep(us) => *us > 0,
            EventKind::Timer { .. } | EventKind::Suspend(_) => true,
            _ => false,
        }
    }
}

/// A workload error: `FILE:LINE: field 'PATH': message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadError {
    /// The file, as named.
    pub file: String,
    /// 1-based line; 0 when the file could not be read.
    pub line: usize,
    /// The message (it names the field).
    pub message: String,
}

impl fmt::Display for WorkloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl std::error::Error for WorkloadError {}

impl Workload {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Workload, WorkloadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| WorkloadError {
            file: file.clone(),
            line: 0,
            message: format!("cannot read the workload: {e}"),
        })?;
        Workload::parse(&text, &file)
    }

    /// Parses and checks `text`; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<Workload, WorkloadError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let w = FileSeed
            .deserialize(&mut de)
            .and_then(|w| de.end().map(|_| w))
            .map_err(|e| WorkloadError {
                file: file.to_string(),
                // serde_json reports where it stopped reading: just past the value, which is
                // column 0 of the next line when the value ended its line.
                line: if e.column() == 0 && e.line() > 1 {
                    e.line() - 1
                } else {
                    e.line()
                },
                message: strip_position(&e.to_string()).to_string(),
            })?;
        Ok(w)
    }

    /// Number of threads (the sum of the instances).
    pub fn threads(&self) -> usize {
        self.tasks.iter().map(|t| t.instance as usize).sum()
    }
}

/// serde_json appends " at line L column C" to its messages; the line is reported apart.
fn strip_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

/// An error about field `path`, raised while its value is read (serde_json adds the line).
fn field_err<E: de::Error>(path: &str, msg: impl fmt::Display) -> E {
    E::custom(format!("field '{path}': {msg}"))
}

// Every value is checked by the visitor that reads it, so that an error leaves serde_json while
// it is still at the value and gets the value's line.

/// An integer field, checked by `check` as it is read.
struct Int<'p> {
    path: &'p str,
    check: fn(i64) -> Result<i64, String>,
}

impl<'de> DeserializeSeed<'de> for Int<'_> {
    type Value = i64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i64, D::Error> {
        d.deserialize_i64(self)
    }
}

impl<'de> Visitor<'de> for Int<'_> {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an integer for field '{}'", self.path)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        (self.check)(v).map_err(|m| field_err(self.path, m))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        match i64::try_from(v) {
            Ok(v) => self.visit_i64(v),
            Err(_) => Err(field_err(self.path, format!("{v} is too large"))),
        }
    }
}

/// Reads the next value as an integer accepted by `check`.
fn int<'de, A: MapAccess<'de>>(
    map: &mut A,
    path: &str,
    check: fn(i64) -> Result<i64, String>,
) -> Result<i64, A::Error> {
    map.next_value_seed(Int { path, check })
}

/// A string field, checked by `check` as it is read.
struct Text<'p> {
    path: &'p str,
    check: fn(&str) -> Result<(), String>,
}

impl<'de> DeserializeSeed<'de> for Text<'_> {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(self)
    }
}

impl<'de> Visitor<'de> for Text<'_> {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a string for field '{}'", self.path)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        (self.check)(v).map_err(|m| field_err(self.path, m))?;
        Ok(v.to_string())
    }
}

/// Reads the next value as a string accepted by `check`.
fn text<'de, A: MapAccess<'de>>(
    map: &mut A,
    path: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<String, A::Error> {
    map.next_value_seed(Text { path, check })
}

fn any_text(_: &str) -> Result<(), String> {
    Ok(())
}

/// A boolean field.
struct Flag<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for Flag<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_bool(self)
    }
}

impl<'de> Visitor<'de> for Flag<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "true or false for field '{}'", self.0)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }
}

/// A CPU list (`[0, 2]`).
struct Cpus<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for Cpus<'_> {
    type Value = Vec<usize>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<usize>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Cpus<'_> {
    type Value = Vec<usize>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a list of CPU numbers for field '{}'", self.0)
    }
    fn visit_seq<S: de::SeqAccess<'de>>(self, mut seq: S) -> Result<Vec<usize>, S::Error> {
        let mut v = Vec::new();
        while let Some(c) = seq.next_element_seed(Int {
            path: self.0,
            check: non_negative,
        })? {
            v.push(c as usize);
        }
        if v.is_empty() {
            return Err(field_err(self.0, "is empty (leave it out for every CPU)"));
        }
        Ok(v)
    }
}

/// `global.calibration`: "CPUn" or ns per loop.
struct CalibrationSeed<'p>(&'p str);

impl<'de> DeserializeSeed<'de> for CalibrationSeed<'_> {
    type Value = Calibration;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Calibration, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CalibrationSeed<'_> {
    type Value = Calibration;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "\"CPUn\" or ns per loop for field '{}'", self.0)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Calibration, E> {
        if v == 0 {
            return Err(field_err(self.0, "0 is not a number of ns per loop (> 0)"));
        }
        Ok(Calibration::NsPerLoop(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Calibration, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(field_err(
                self.0,
                format!("{v} is not a number of ns per loop (> 0)"),
            )),
        }
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Calibration, E> {
        match s.strip_prefix("CPU").and_then(|n| n.parse().ok()) {
            Some(cpu) => Ok(Calibration::Cpu(cpu)),
            None => Err(field_err(
                self.0,
                format!("\"{s}\" is not \"CPUn\" or ns per loop"),
            )),
        }
    }
}

fn non_negative(v: i64) -> Result<i64, String> {
    if v < 0 {
        Err(format!("{v} is negative"))
    } else {
        Ok(v)
    }
}

fn positive_count(v: i64) -> Result<i64, String> {
    if v > 0 && v <= i64::from(u32::MAX) {
        Ok(v)
    } else {
        Err(format!("{v} is not a count (> 0)"))
    }
}

fn loop_or_forever(v: i64) -> Result<i64, String> {
    if v == -1 || v > 0 {
        Ok(v)
    } else {
        Err(format!(
            "{v} is not a loop count (a positive count, or -1 for ever)"
        ))
    }
}

fn loop_count(v: i64) -> Result<i64, String> {
    if v > 0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a loop count (a positive count)"))
    }
}

fn nice_value(v: i64) -> Result<i64, String> {
    if (-20..=19).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not a nice value of SCHED_OTHER (-20..=19)"))
    }
}

fn duration_s(v: i64) -> Result<i64, String> {
    if v == -1 || v > 0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a duration (seconds > 0, or -1)"))
    }
}

fn period_us(v: i64) -> Result<i64, String> {
    if v > 0 {
        Ok(v)
    } else {
        Err(format!("{v} is not a period (> 0 us)"))
    }
}

/// Only SCHED_OTHER threads are scheduled by sched_ext (real-time and deadline classes rank
/// above it), so only they mean the same under scx_axrt and in the simulator.
fn sched_other(p: &str) -> Result<(), String> {
    if p == "SCHED_OTHER" {
        Ok(())
    } else {
        Err(format!(
            "\"{p}\" is not supported: only SCHED_OTHER threads are scheduled by sched_ext \
             (and so by scx_axrt and this simulator)"
        ))
    }
}

fn timer_mode(m: &str) -> Result<(), String> {
    match m {
        "absolute" | "relative" => Ok(()),
        other => Err(format!("\"{other}\" is not \"relative\" or \"absolute\"")),
    }
}

/// The keys of one object seen so far, to refuse duplicates (rt-app would keep only one).
#[derive(Default)]
struct Seen(Vec<String>);

impl Seen {
    fn add<E: de::Error>(&mut self, path: &str, key: &str) -> Result<(), E> {
        if self.0.iter().any(|k| k == key) {
            return Err(field_err(
                path,
                format!(
                    "duplicate key \"{key}\" (rt-app keeps only one; number repeated events: \
                     run0, run1, ...)"
                ),
            ));
        }
        self.0.push(key.to_string());
        Ok(())
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `DeserializeSeed` for a visitor of JSON objects.
macro_rules! map_seed {
    ($seed:ty, $value:ty) => {
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = $value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_map(self)
            }
        }
    };
}

// ---- the file --------------------------------------------------------------------------------

struct FileSeed;

map_seed!(FileSeed, Workload);

impl<'de> Visitor<'de> for FileSeed {
    type Value = Workload;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an rt-app workload object with \"tasks\"")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Workload, A::Error> {
        let mut w = Workload {
            duration_s: None,
            calibration: Calibration::Cpu(0),
            pi_enabled: false,
            cumulative_slack: false,
            logdir: "./".into(),
            log_basename: "rt-app".into(),
            tasks: Vec::new(),
        };
        let mut seen = Seen::default();
        let mut have_tasks = false;
        while let Some(key) = map.next_key::<String>()? {
            seen.add(&key, &key)?;
            match key.as_str() {
                "global" => map.next_value_seed(GlobalSeed(&mut w))?,
                "tasks" => {
                    w.tasks = map.next_value_seed(TasksSeed)?;
                    have_tasks = true;
                }
                // Kept by rt-app for old files; resources are created when first used.
                "resources" => {
                    map.next_value::<IgnoredAny>()?;
                }
                other => {
                    return Err(field_err(
                        other,
                        "unknown key (expected \"global\", \"tasks\" or \"resources\")",
                    ))
                }
            }
        }
        if !have_tasks {
            return Err(field_err("tasks", "is required but missing"));
        }
        if w.tasks.is_empty() {
            return Err(field_err("tasks", "has no task"));
        }
        Ok(w)
    }
}

struct GlobalSeed<'a>(&'a mut Workload);

map_seed!(GlobalSeed<'_>, ());

impl<'de> Visitor<'de> for GlobalSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the global object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let w = self.0;
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<String>()? {
            let path = join("global", &key);
            seen.add(&path, &key)?;
            match key.as_str() {
                "duration" => {
                    let v = int(&mut map, &path, duration_s)?;
                    w.duration_s = u64::try_from(v).ok();
                }
                "calibration" => w.calibration = map.next_value_seed(CalibrationSeed(&path))?,
                "default_policy" => {
                    text(&mut map, &path, sched_other)?;
                }
                "pi_enabled" => w.pi_enabled = map.next_value_seed(Flag(&path))?,
                "cumulative_slack" => w.cumulative_slack = map.next_value_seed(Flag(&path))?,
                "logdir" => w.logdir = text(&mut map, &path, any_text)?,
                "log_basename" => w.log_basename = text(&mut map, &path, any_text)?,
                // rt-app's own concerns (memory, logging mechanics, tracing): no effect here.
                "lock_pages" | "log_size" | "ftrace" | "gnuplot" | "io_device"
                | "mem_buffer_size" => {
                    map.next_value::<IgnoredAny>()?;
                }
                _ => return Err(field_err(&path, "unknown key")),
            }
        }
        Ok(())
    }
}

struct TasksSeed;

map_seed!(TasksSeed, Vec<TaskSpec>);

impl<'de> Visitor<'de> for TasksSeed {
    type Value = Vec<TaskSpec>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of task objects")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<TaskSpec>, A::Error> {
        let mut tasks = Vec::new();
        let mut seen = Seen::default();
        while let Some(name) = map.next_key::<String>()? {
            let path = join("tasks", &name);
            seen.add(&path, &name)?;
            if name.is_empty() {
                return Err(field_err(&path, "a task needs a name"));
            }
            tasks.push(map.next_value_seed(TaskSeed { name, path })?);
        }
        Ok(tasks)
    }
}

struct TaskSeed {
    name: String,
    path: String,
}

map_seed!(TaskSeed, TaskSpec);

impl<'de> Visitor<'de> for TaskSeed {
    type Value = TaskSpec;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TaskSpec, A::Error> {
        let mut t = TaskSpec {
            name: self.name,
            instance: 1,
            delay_us: 0,
            loops: None,
            cpus: None,
            nice: 0,
            taskgroup: None,
            phases: Vec::new(),
        };
        let mut seen = Seen::default();
        let mut phases: Option<Vec<Phase>> = None;
        let mut inline = Phase {
            name: String::new(),
            loops: 1,
            cpus: None,
            events: Vec::new(),
        };
        let mut loops: Option<i64> = None;
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            seen.add(&path, &key)?;
            match key.as_str() {
                "instance" => t.instance = int(&mut map, &path, positive_count)? as u32,
                "delay" => t.delay_us = int(&mut map, &path, non_negative)? as u64,
                "loop" => loops = Some(int(&mut map, &path, loop_or_forever)?),
                "cpus" => t.cpus = Some(map.next_value_seed(Cpus(&path))?),
                "priority" => t.nice = int(&mut map, &path, nice_value)? as i8,
                "policy" => {
                    text(&mut map, &path, sched_other)?;
                }
                "taskgroup" => {
                    let g = text(&mut map, &path, any_text)?;
                    t.taskgroup = Some(g).filter(|g| !g.trim_matches('/').is_empty());
                }
                "phases" => {
                    phases = Some(map.next_value_seed(PhasesSeed(path.clone()))?);
                }
                _ => {
                    let kind = map.next_value_seed(EventSeed::new(&key, &path)?)?;
                    inline.events.push(Event { key, kind });
                }
            }
        }
        let whole = |m: &str| field_err::<A::Error>(&self.path, m);
        match phases {
            Some(p) => {
                if !inline.events.is_empty() {
                    return Err(whole(
                        "has both \"phases\" and events of its own (rt-app would ignore the \
                         latter); move them into a phase",
                    ));
                }
                t.phases = p;
                t.loops = loops.and_then(|v| u64::try_from(v).ok());
            }
            None => {
                // rt-app 1.0: without "phases" the task's "loop" counts the phase's loops
                // and the thread repeats them for ever.
                if let Some(v) = loops {
                    inline.loops = u64::try_from(v).unwrap_or(1);
                }
                if inline.events.is_empty() {
                    return Err(whole("has no events and no \"phases\""));
                }
                t.phases = vec![inline];
            }
        }
        for p in &t.phases {
            if !p.events.iter().any(|e| e.kind.takes_time()) {
                let at = if p.name.is_empty() {
                    self.path.clone()
                } else {
                    join(&join(&self.path, "phases"), &p.name)
                };
                return Err(field_err(
                    &at,
                    "no event makes time pass (run/runtime/sleep > 0, timer or suspend): the \
                     thread would loop in zero time",
                ));
            }
        }
        Ok(t)
    }
}

struct PhasesSeed(String);

map_seed!(PhasesSeed, Vec<Phase>);

impl<'de> Visitor<'de> for PhasesSeed {
    type Value = Vec<Phase>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of phase objects")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Phase>, A::Error> {
        let mut phases = Vec::new();
        let mut seen = Seen::default();
        while let Some(name) = map.next_key::<String>()? {
            let path = join(&self.0, &name);
            seen.add(&path, &name)?;
            phases.push(map.next_value_seed(PhaseSeed { name, path })?);
        }
        if phases.is_empty() {
            return Err(field_err(&self.0, "has no phase"));
        }
        Ok(phases)
    }
}

struct PhaseSeed {
    name: String,
    path: String,
}

map_seed!(PhaseSeed, Phase);

impl<'de> Visitor<'de> for PhaseSeed {
    type Value = Phase;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a phase object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Phase, A::Error> {
        let mut p = Phase {
            name: self.name,
            loops: 1,
            cpus: None,
            events: Vec::new(),
        };
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            seen.add(&path, &key)?;
            match key.as_str() {
                "loop" => p.loops = int(&mut map, &path, loop_count)? as u64,
                "cpus" => p.cpus = Some(map.next_value_seed(Cpus(&path))?),
                _ => {
                    let kind = map.next_value_seed(EventSeed::new(&key, &path)?)?;
                    p.events.push(Event { key, kind });
                }
            }
        }
        if p.events.is_empty() {
            return Err(field_err(&self.path, "has no events"));
        }
        Ok(p)
    }
}

/// Which event a key names, by rt-app's prefix rules.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Prefix {
    Run,
    Runtime,
    Sleep,
    Timer,
    Suspend,
    Resume,
    Yield,
    Lock,
    Unlock,
}

/// rt-app's event prefixes in its matching order ("runtime" before "run"); those after the
/// supported ones are refused by name.
const PREFIXES: [(&str, Option<Prefix>); 16] = [
    ("lock", Some(Prefix::Lock)),
    ("unlock", Some(Prefix::Unlock)),
    ("wait", None),
    ("signal", None),
    ("broad", None),
    ("sync", None),
    ("sleep", Some(Prefix::Sleep)),
    ("runtime", Some(Prefix::Runtime)),
    ("run", Some(Prefix::Run)),
    ("timer", Some(Prefix::Timer)),
    ("suspend", Some(Prefix::Suspend)),
    ("resume", Some(Prefix::Resume)),
    ("mem", None),
    ("iorun", None),
    ("yield", Some(Prefix::Yield)),
    ("barrier", None),
];

struct EventSeed<'p> {
    prefix: Prefix,
    path: &'p str,
}

impl<'p> EventSeed<'p> {
    fn new<E: de::Error>(key: &str, path: &'p str) -> Result<Self, E> {
        match PREFIXES.iter().find(|(p, _)| key.starts_with(p)) {
            Some((_, Some(prefix))) => Ok(EventSeed {
                prefix: *prefix,
                path,
            }),
            Some((p, None)) => Err(field_err(
                path,
                format!("the rt-app event \"{p}\" is not supported by axrt-sim"),
            )),
            None => Err(field_err(path, "unknown key (not a property nor an event)")),
        }
    }
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = EventKind;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<EventKind, D::Error> {
        let path = self.path;
        let int = |d: D| -> Result<u64, D::Error> {
            Ok(d.deserialize_i64(Int {
                path,
                check: non_negative,
            })? as u64)
        };
        let text = |d: D| -> Result<String, D::Error> {
            d.deserialize_string(Text {
                path,
                check: any_text,
            })
        };
        Ok(match self.prefix {
            Prefix::Run => EventKind::Run(int(d)?),
            Prefix::Runtime => EventKind::Runtime(int(d)?),
            Prefix::Sleep => EventKind::Sleep(int(d)?),
            Prefix::Suspend => EventKind::Suspend(text(d)?),
            Prefix::Resume => EventKind::Resume(text(d)?),
            Prefix::Yield => {
                IgnoredAny::deserialize(d)?;
                EventKind::Yield
            }
            Prefix::Lock => EventKind::Lock(text(d)?),
            Prefix::Unlock => EventKind::Unlock(text(d)?),
            Prefix::Timer => d.deserialize_map(TimerVisitor(path))?,
        })
    }
}

struct TimerVisitor<'p>(&'p str);

impl<'de> Visitor<'de> for TimerVisitor<'_> {
    type Value = EventKind;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a timer object { \"ref\", \"period\", \"mode\" }")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EventKind, A::Error> {
        let mut reference = "unknown".to_string();
        let mut period = None;
        let mut absolute = false;
        let mut seen = Seen::default();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(self.0, &key);
            seen.add(&path, &key)?;
            match key.as_str() {
                "ref" => reference = text(&mut map, &path, any_text)?,
                "period" => period = Some(int(&mut map, &path, period_us)? as u64),
                "mode" => absolute = text(&mut map, &path, timer_mode)? == "absolute",
                _ => return Err(field_err(&path, "unknown key (ref, period, mode)")),
            }
        }
        let period_us = period.ok_or_else(|| field_err(self.0, "the timer needs a \"period\""))?;
        Ok(EventKind::Timer {
            reference,
            period_us,
            absolute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Workload, WorkloadError> {
        Workload::parse(text, "w.json")
    }

    fn refusal(text: &str) -> String {
        match parse(text) {
            Ok(w) => panic!("accepted: {w:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn events_keep_file_order_and_run_differs_from_runtime() {
        let w = parse(
            r#"{
  "global": { "duration": 2, "calibration": 250, "pi_enabled": true },
  "tasks": {
    "b": { "instance": 2, "delay": 100, "priority": 5, "cpus": [1],
           "taskgroup": "/axrt-sim/web",
           "runtime": 300, "run1": 200, "sleep": 10, "run0": 100,
           "timer": { "ref": "unique", "period": 1000, "mode": "absolute" } },
    "a": { "loop": 3, "phases": {
             "p1": { "loop": 2, "lock": "m", "run": 5, "unlock": "m", "resume": "b",
                     "sleep": 1 },
             "p0": { "cpus": [0, 1], "suspend": "", "yield": "" } } }
  }
}"#,
        )
        .unwrap();
        assert_eq!(w.duration_s, Some(2));
        assert_eq!(w.calibration, Calibration::NsPerLoop(250));
        assert!(w.pi_enabled);
        let names: Vec<&str> = w.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["b", "a"], "tasks in file order");
        let b = &w.tasks[0];
        assert_eq!((b.instance, b.delay_us, b.nice), (2, 100, 5));
        assert_eq!(b.taskgroup.as_deref(), Some("/axrt-sim/web"));
        let kinds: Vec<&EventKind> = b.phases[0].events.iter().map(|e| &e.kind).collect();
        assert_eq!(
            kinds,
            [
                &EventKind::Runtime(300),
                &EventKind::Run(200),
                &EventKind::Sleep(10),
                &EventKind::Run(100),
                &EventKind::Timer {
                    reference: "unique".into(),
                    period_us: 1000,
                    absolute: true
                },
            ]
        );
        assert_eq!(
            b.loops, None,
            "a task without phases repeats for ever (rt-app 1.0)"
        );
        let a = &w.tasks[1];
        assert_eq!(a.loops, Some(3));
        let phases: Vec<&str> = a.phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(phases, ["p1", "p0"], "phases in file order");
        assert_eq!(a.phases[0].loops, 2);
        assert_eq!(a.phases[1].cpus, Some(vec![0, 1]));
        assert_eq!(
            a.phases[1].events[0].kind,
            EventKind::Suspend(String::new())
        );
        assert_eq!(w.threads(), 3);
    }

    #[test]
    fn errors_name_line_and_field() {
        let e = refusal("{\n \"tasks\": {\n  \"t\": {\n   \"run\": -5\n  }\n }\n}");
        assert_eq!(e, "w.json:4: field 'tasks.t.run': -5 is negative");
        let e = refusal("{ \"tasks\": { \"t\": {\n \"run\": \"x\" } } }");
        assert!(
            e == "w.json:2: invalid type: string \"x\", expected an integer for field 'tasks.t.run'",
            "{e}"
        );
        let e = refusal("{ \"tasks\": { \"t\": { \"run\": 1,\n \"barrier\": \"b\" } } }");
        assert_eq!(
            e,
            "w.json:2: field 'tasks.t.barrier': the rt-app event \"barrier\" is not supported by axrt-sim"
        );
        let e = refusal("{ \"tasks\": { \"t\": { \"run\": 1,\n \"run\": 2 } } }");
        assert!(
            e.contains("field 'tasks.t.run': duplicate key \"run\""),
            "{e}"
        );
        let e = refusal("{ \"tasks\": { \"t\": { \"run\": 1, \"timer\": { \"ref\": \"x\" } } } }");
        assert!(
            e.contains("field 'tasks.t.timer': the timer needs a \"period\""),
            "{e}"
        );
        let e = refusal("{ \"tasks\": { \"t\": { \"policy\": \"SCHED_FIFO\", \"run\": 1 } } }");
        assert!(e.contains("only SCHED_OTHER"), "{e}");
        let e = refusal("{ \"tasks\": { \"t\": { \"resume\": \"x\" } } }");
        assert!(e.contains("no event makes time pass"), "{e}");
        let e =
            refusal("{ \"global\": { \"duration\": 0 }, \"tasks\": { \"t\": { \"run\": 1 } } }");
        assert!(
            e.contains("field 'global.duration': 0 is not a duration"),
            "{e}"
        );
        let e = refusal("{ \"tasks\": { \"t\": { \"run\": 1, \"prio\": 3 } } }");
        assert!(e.contains("field 'tasks.t.prio': unknown key"), "{e}");
        let e = refusal("{ \"global\": {} }");
        assert!(e.contains("field 'tasks': is required but missing"), "{e}");
        let e = refusal("{ \"tasks\": { \"t\": { \"run\": 1 } } } x");
        assert!(e.starts_with("w.json:1: trailing characters"), "{e}");
    }
}
