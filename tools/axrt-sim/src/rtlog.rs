// SPDX-License-Identifier: GPL-2.0-only
//
// rtlog.rs - rt-app's per-thread log format, written once: the simulator writes its threads'
// logs in it, and the summaries read real (rt-app in the VM) and simulated logs with the same
// code. A log is `<logdir>/<log_basename>-<task>-<index>.log` (rt-app 1.0's naming): a
// "# Policy" line, a column header, then one row per phase iteration:
//
//   idx perf run period start end rel_st slack c_duration c_period wu_lat
//
// with times in microseconds: `run` the wall time spent in run/runtime events, `period` the
// iteration's length, `slack` the time left before the timer's expiry when the thread reached
// it (negative: late), `wu_lat` how late the thread ran after its timer expired.

//! rt-app log rows: writing and reading.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// One row of an rt-app log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// Loops of the calibrated workload done.
    pub perf: u64,
    /// Wall time in run/runtime events, us.
    pub run: u64,
    /// Length of the iteration, us.
    pub period: u64,
    /// Start, us.
    pub start: u64,
    /// End, us.
    pub end: u64,
    /// Slack at the (last) timer, us (negative: late).
    pub slack: i64,
    /// Configured run/runtime durations, us.
    pub c_duration: u64,
    /// Configured timer periods, us.
    pub c_period: u64,
    /// Wake-up latency after the timer, us.
    pub wu_lat: u64,
}

/// The log file of thread `index` of task `task`.
pub fn log_path(dir: &Path, basename: &str, task: &str, index: usize) -> PathBuf {
    dir.join(format!("{basename}-{task}-{index}.log"))
}

/// A log's text: the header and `rows`, as rt-app 1.0 prints them.
pub fn format_log(index: usize, nice: i8, rows: &[Row]) -> String {
    let mut s = String::with_capacity(64 + rows.len() * 120);
    let _ = writeln!(s, "# Policy : SCHED_OTHER priority : {nice}");
    let _ = writeln!(
        s,
        "#idx {:>8} {:>8} {:>8} {:>15} {:>15} {:>15} {:>10} {:>10} {:>10} {:>10}",
        "perf",
        "run",
        "period",
        "start",
        "end",
        "rel_st",
        "slack",
        "c_duration",
        "c_period",
        "wu_lat"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:4} {:8} {:8} {:8} {:15} {:15} {:15} {:10} {:10} {:10} {:10}",
            index,
            r.perf,
            r.run,
            r.period,
            r.start,
            r.end,
            r.start,
            r.slack,
            r.c_duration,
            r.c_period,
            r.wu_lat
        );
    }
    s
}

/// The rows of a log's text (comment lines skipped); errors name the line.
pub fn parse_log(text: &str, file: &str) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 11 {
            bail!("{file}:{}: {} columns, rt-app writes 11", n + 1, f.len());
        }
        let u = |i: usize| -> Result<u64> {
            f[i].parse()
                .with_context(|| format!("{file}:{}: column {}: \"{}\"", n + 1, i + 1, f[i]))
        };
        rows.push(Row {
            perf: u(1)?,
            run: u(2)?,
            period: u(3)?,
            start: u(4)?,
            end: u(5)?,
            slack: f[7]
                .parse()
                .with_context(|| format!("{file}:{}: column 8: \"{}\"", n + 1, f[7]))?,
            c_duration: u(8)?,
            c_period: u(9)?,
            wu_lat: u(10)?,
        });
    }
    Ok(rows)
}

/// The rows of every log in `dir` named `<basename>-<task>-<index>.log`, as (task, index,
/// rows), sorted by index.
pub fn read_logs(dir: &Path, basename: &str) -> Result<Vec<(String, usize, Vec<Row>)>> {
    let mut out = Vec::new();
    let prefix = format!("{basename}-");
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name
            .strip_prefix(&prefix)
            .and_then(|s| s.strip_suffix(".log"))
        else {
            continue;
        };
        let Some((task, index)) = stem.rsplit_once('-') else {
            continue;
        };
        let Ok(index) = index.parse::<usize>() else {
            continue;
        };
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        out.push((
            task.to_string(),
            index,
            parse_log(&text, &path.display().to_string())?,
        ));
    }
    out.sort_by_key(|(_, i, _)| *i);
    Ok(out)
}

/// Per-thread figures of a log that both real and simulated runs are judged by.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogSummary {
    /// Rows counted.
    pub rows: usize,
    /// Rows whose slack is negative (the job reached its timer after the expiry).
    pub late: usize,
    /// 99th percentile of the wake-up latency, us.
    pub wu_p99: u64,
}

/// Summarises the rows that started at or after `from_us`.
pub fn summarize(rows: &[Row], from_us: u64) -> LogSummary {
    let rows: Vec<&Row> = rows.iter().filter(|r| r.start >= from_us).collect();
    let mut wu: Vec<u64> = rows.iter().map(|r| r.wu_lat).collect();
    wu.sort_unstable();
    LogSummary {
        rows: rows.len(),
        late: rows.iter().filter(|r| r.slack < 0).count(),
        wu_p99: crate::metrics::quantile(&wu, 0.99),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_a_round_trip_and_real_rt_app_lines_parse() {
        let rows = vec![
            Row {
                perf: 92164,
                run: 19935,
                period: 98965,
                start: 504549567051,
                end: 504549666016,
                slack: 78701,
                c_duration: 20000,
                c_period: 100000,
                wu_lat: 266,
            },
            Row {
                slack: -5,
                ..Row::default()
            },
        ];
        let text = format_log(3, 0, &rows);
        assert_eq!(parse_log(&text, "x").unwrap(), rows);
        // A line as rt-app prints it (rel_st differs from start there; it is not read).
        let real = "   0    92164    19408    99952    504549666063    504549766015          101455      80217      20000     100000        265\n";
        let r = parse_log(real, "x").unwrap();
        assert_eq!((r[0].run, r[0].slack, r[0].wu_lat), (19408, 80217, 265));
        assert!(parse_log("0 1 2\n", "f")
            .unwrap_err()
            .to_string()
            .contains("f:1: 3 columns"));
    }

    #[test]
    fn late_rows_are_those_with_negative_slack() {
        let mk = |start, slack| Row {
            start,
            slack,
            ..Row::default()
        };
        let s = summarize(&[mk(0, -1), mk(10, 5), mk(20, -3), mk(30, 0)], 10);
        assert_eq!((s.rows, s.late), (3, 1));
    }
}
