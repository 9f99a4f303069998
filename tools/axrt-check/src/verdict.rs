// SPDX-License-Identifier: GPL-2.0-only
//
// verdict.rs - what a check run says: notes (the measured figures, for the test's text file)
// and one `PASS: name` or `FAIL: name: why` line per check, the VM tests' result format that
// scripts/test reads. A check whose figures are missing fails with the reason; it never
// disappears, so every check name shows up in every run.

//! Check results and their output.

use std::fmt::Display;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

/// A check's outcome: `Err` carries why it failed.
pub type Outcome = Result<(), String>;

/// `Ok` when `ok`, else the failure's reason.
pub fn require(ok: bool, why: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(why())
    }
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A measured figure or remark, prefixed with the test's name.
    Note(String),
    /// A check that held.
    Pass(String),
    /// A check that did not, and why.
    Fail(String, String),
}

impl Line {
    /// The line as printed.
    pub fn text(&self, prefix: &str) -> String {
        match self {
            Line::Note(n) => format!("{prefix}: {n}"),
            Line::Pass(name) => format!("PASS: {name}"),
            Line::Fail(name, why) => format!("FAIL: {name}: {why}"),
        }
    }
}

/// The lines of one check run, in the order they were recorded.
#[derive(Debug, Default)]
pub struct Verdicts {
    /// The lines.
    pub lines: Vec<Line>,
}

impl Verdicts {
    /// Records a note.
    pub fn note(&mut self, text: impl Into<String>) {
        self.lines.push(Line::Note(text.into()));
    }

    /// Records a check named `name` with its outcome.
    pub fn check(&mut self, name: impl Into<String>, outcome: Outcome) {
        let name = name.into();
        self.lines.push(match outcome {
            Ok(()) => Line::Pass(name),
            Err(why) => Line::Fail(name, why),
        });
    }

    /// Records a check that `actual` equals `expected`.
    pub fn check_eq<T: PartialEq + Display>(
        &mut self,
        name: impl Into<String>,
        expected: T,
        actual: T,
    ) {
        let outcome = require(expected == actual, || {
            format!("expected '{expected}', got '{actual}'")
        });
        self.check(name, outcome);
    }

    /// Number of failed checks.
    pub fn failed(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| matches!(l, Line::Fail(..)))
            .count()
    }

    /// The outcome of the check named `name` (tests).
    #[cfg(test)]
    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        self.lines.iter().find_map(|l| match l {
            Line::Pass(n) if n == name => Some(Ok(())),
            Line::Fail(n, why) if n == name => Some(Err(why.clone())),
            _ => None,
        })
    }

    /// Names of the checks that passed and of those that failed (tests).
    #[cfg(test)]
    pub fn names(&self) -> (Vec<&str>, Vec<&str>) {
        let mut pass = Vec::new();
        let mut fail = Vec::new();
        for l in &self.lines {
            match l {
                Line::Pass(n) => pass.push(n.as_str()),
                Line::Fail(n, _) => fail.push(n.as_str()),
                Line::Note(_) => {}
            }
        }
        (pass, fail)
    }

    /// Prints every line on stdout, appends the PASS/FAIL lines to `results` (the tests'
    /// $AXRT_OUT/results) and the notes to `notes`, when given.
    pub fn emit(
        &self,
        prefix: &str,
        results: Option<&Path>,
        notes: Option<&Path>,
    ) -> std::io::Result<()> {
        let mut res = String::new();
        let mut txt = String::new();
        let mut out = std::io::stdout().lock();
        for l in &self.lines {
            let text = l.text(prefix);
            writeln!(out, "{text}")?;
            match l {
                Line::Note(_) => txt.push_str(&(text + "\n")),
                _ => res.push_str(&(text + "\n")),
            }
        }
        out.flush()?;
        for (path, text) in [(results, res), (notes, txt)] {
            if let (Some(path), false) = (path, text.is_empty()) {
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?
                    .write_all(text.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// A figure that may be missing, shown as the tests show it ("none" when missing).
pub fn shown<T: Display>(v: Option<T>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_have_the_tests_format_and_failures_are_counted() {
        let mut v = Verdicts::default();
        v.note("x 3");
        v.check("a holds", Ok(()));
        v.check("b holds", require(false, || "b is 2".into()));
        v.check_eq("c is 1", 1, 2);
        let texts: Vec<String> = v.lines.iter().map(|l| l.text("t")).collect();
        assert_eq!(
            texts,
            [
                "t: x 3",
                "PASS: a holds",
                "FAIL: b holds: b is 2",
                "FAIL: c is 1: expected '1', got '2'"
            ]
        );
        assert_eq!(v.failed(), 2);
    }

    #[test]
    fn emit_appends_results_and_notes_apart() {
        let dir = std::env::temp_dir().join(format!("axrt-check-emit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (res, notes) = (dir.join("results"), dir.join("notes.txt"));
        std::fs::write(&res, "PASS: earlier\n").unwrap();
        let mut v = Verdicts::default();
        v.note("figure 1");
        v.check("later", Err("no".into()));
        v.emit("t", Some(&res), Some(&notes)).unwrap();
        assert_eq!(
            std::fs::read_to_string(&res).unwrap(),
            "PASS: earlier\nFAIL: later: no\n"
        );
        assert_eq!(std::fs::read_to_string(&notes).unwrap(), "t: figure 1\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
