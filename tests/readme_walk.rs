//! The README, walked top to bottom as a new user would (and the schedule
//! examples of docs/kubernetes-semantics.md, each run): every example that
//! shows a command with its output (a block whose lines start with `$ `) is
//! run, in the README's order, in one fresh clone of this repository with a
//! fresh HOME, and what it prints must match what the README shows. A
//! documented output that drifts fails here.
//!
//! How the README's text is compared with real output:
//! - `cargo run --` and `jobcd` at the start of a command run the binary
//!   under test; a `  # comment` after a command is not part of it;
//! - commit shas (seven hex digits) and times (`2026-11-27T06:21:28.5Z`,
//!   `2026-11-28 00:00:00 UTC`) stand for any sha and any time;
//! - `…` within a line stands for any text, a line of only `…` for any
//!   lines; runs of spaces are one space;
//! - a `<!-- walk: any order (why) -->` line before a block lets its lines
//!   come in any order (Jobs end as they end); `<!-- walk: skip (why) -->`
//!   leaves a block out, saying why. Every other block is walked.

use std::path::Path;
use std::process::Command;

/// One README block of commands and the output each shows.
#[derive(Debug)]
struct Example {
    /// The README line of its first command.
    line: usize,
    /// `$ ` lines and the output lines after each.
    steps: Vec<(String, Vec<String>)>,
    any_order: bool,
}

/// The walked examples of the README, in order, and the skipped blocks'
/// lines and reasons.
fn examples(readme: &str) -> (Vec<Example>, Vec<(usize, String)>) {
    let mut walked = Vec::new();
    let mut skipped = Vec::new();
    let mut note: Option<String> = None;
    let mut lines = readme.lines().enumerate().peekable();
    while let Some((i, line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("<!-- walk: ") {
            note = Some(rest.trim_end_matches("-->").trim().to_owned());
            continue;
        }
        if !line.starts_with("```") || line.len() == 3 {
            if !line.trim().is_empty() {
                note = None;
            }
            continue;
        }
        let mut body = Vec::new();
        for (_, inner) in lines.by_ref() {
            if inner.starts_with("```") {
                break;
            }
            body.push(inner.to_owned());
        }
        let block_note = note.take();
        if !body.first().is_some_and(|l| l.starts_with("$ ")) {
            continue;
        }
        match block_note.as_deref() {
            Some(n) if n.starts_with("skip") => {
                assert!(
                    n.len() > "skip ()".len(),
                    "README.md:{}: say why a block is not walked",
                    i + 1
                );
                skipped.push((i + 2, n.to_owned()));
                continue;
            }
            Some(n) if !n.starts_with("any order") => {
                panic!("README.md:{}: unknown walk note {n:?}", i + 1)
            }
            _ => {}
        }
        let mut steps: Vec<(String, Vec<String>)> = Vec::new();
        for l in body {
            match l.strip_prefix("$ ") {
                Some(command) => steps.push((command.to_owned(), Vec::new())),
                None => steps.last_mut().expect("starts with $").1.push(l),
            }
        }
        walked.push(Example {
            line: i + 2,
            steps,
            any_order: block_note.is_some(),
        });
    }
    (walked, skipped)
}

/// The command as the shell runs it here: the binary for `jobcd` and
/// `cargo run --`, the comment dropped.
fn command_line(command: &str, jobcd: &str) -> String {
    let command = command.split("  #").next().unwrap_or_default().trim();
    for prefix in ["cargo run -- ", "jobcd "] {
        if let Some(rest) = command.strip_prefix(prefix) {
            return format!("{jobcd} {rest}");
        }
    }
    command.to_owned()
}

/// `text` with shas and times replaced by placeholders and runs of spaces
/// made one.
fn normalized(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if boundary && let Some(n) = time_at(&chars[i..]) {
            out.push_str("TIME");
            i += n;
        } else if boundary && sha_at(&chars[i..]) {
            out.push_str("SHA");
            i += 7;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Seven hex digits, not part of a longer word.
fn sha_at(chars: &[char]) -> bool {
    chars.len() >= 7
        && chars[..7]
            .iter()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        && chars[..7].iter().any(char::is_ascii_digit)
        && chars.get(7).is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// The length of a time at the start of `chars`: `YYYY-MM-DD`, `T` or a
/// space, `HH:MM`, then optional seconds, fraction, `Z` or a zone
/// abbreviation.
fn time_at(chars: &[char]) -> Option<usize> {
    let shape = "dddd-dd-dd?dd:dd";
    if chars.len() < shape.len() {
        return None;
    }
    for (c, want) in chars.iter().zip(shape.chars()) {
        let ok = match want {
            'd' => c.is_ascii_digit(),
            '?' => *c == 'T' || *c == ' ',
            other => *c == other,
        };
        if !ok {
            return None;
        }
    }
    let mut n = shape.len();
    let digits = |from: usize| {
        chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    if chars.get(n) == Some(&':') && digits(n + 1) == 2 {
        n += 3;
    }
    if chars.get(n) == Some(&'.') && digits(n + 1) > 0 {
        n += 1 + digits(n + 1);
    }
    if chars.get(n) == Some(&'Z') {
        n += 1;
    } else if chars.get(n) == Some(&' ') {
        let zone = chars[n + 1..]
            .iter()
            .take_while(|c| c.is_ascii_uppercase())
            .count();
        if (3..=4).contains(&zone) {
            n += 1 + zone;
        }
    }
    Some(n)
}

/// One expected line (with `…` for any text) against one real line.
fn line_matches(expected: &str, actual: &str) -> bool {
    let parts: Vec<&str> = expected.split('…').map(str::trim).collect();
    if parts.len() == 1 {
        return expected == actual;
    }
    let mut rest = actual;
    for (k, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        let found = if k == 0 {
            rest.starts_with(part).then_some(0)
        } else {
            rest.find(part)
        };
        let Some(at) = found else { return false };
        rest = &rest[at + part.len()..];
    }
    parts
        .last()
        .is_none_or(|last| last.is_empty() || actual.ends_with(last))
}

/// Expected lines (a line of `…` for any lines) against real ones, in order.
fn lines_match(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "…" => {
            (0..=actual.len()).any(|skip| lines_match(rest, &actual[skip..]))
        }
        Some((first, rest)) => actual
            .split_first()
            .is_some_and(|(a, more)| line_matches(first, a) && lines_match(rest, more)),
    }
}

/// The same, in any order: each expected line matches a real line of its own.
fn lines_match_any_order(expected: &[String], actual: &[String]) -> bool {
    let mut left: Vec<&String> = actual.iter().collect();
    expected.len() == actual.len()
        && expected.iter().all(|e| {
            let found = left.iter().position(|a| line_matches(e, a));
            found.map(|at| left.remove(at)).is_some()
        })
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

#[test]
fn every_command_the_readme_shows_prints_what_the_readme_says() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let (walked, skipped) = examples(&readme);
    assert!(walked.len() >= 4, "{walked:?}");
    eprintln!("not walked: {skipped:?}");

    let home = tempfile::tempdir().unwrap();
    let clone = home.path().join("jobcd");
    git(
        home.path(),
        &[
            "clone",
            "-q",
            root.to_str().unwrap(),
            clone.to_str().unwrap(),
        ],
    );
    let jobcd = env!("CARGO_BIN_EXE_jobcd");
    for example in &walked {
        for (command, shown) in &example.steps {
            let run = command_line(command, jobcd);
            let out = Command::new("bash")
                .args(["-c", &run])
                .current_dir(&clone)
                .env("HOME", home.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env_remove("XDG_STATE_HOME")
                .env_remove("JOBCD_STATE_DIR")
                .env_remove("NO_COLOR")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "README.md:{}: `{command}` failed: {out:?}",
                example.line
            );
            let actual: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(normalized)
                .collect();
            let expected: Vec<String> = shown.iter().map(|l| normalized(l)).collect();
            let matched = if example.any_order {
                lines_match_any_order(&expected, &actual)
            } else {
                lines_match(&expected, &actual)
            };
            assert!(
                matched,
                "README.md:{}: `{command}` printed\n{}\nbut the README shows\n{}",
                example.line,
                String::from_utf8_lossy(&out.stdout),
                shown.join("\n")
            );
        }
    }
}

#[test]
fn the_comparison_catches_what_it_should() {
    assert_eq!(
        normalized("3e01bc2: at 2026-11-27T06:21:28.513752186Z, next 2026-12-07 01:00:00 CET"),
        "SHA: at TIME, next TIME"
    );
    assert_eq!(
        normalized("  success   jobcd/sync  deadbee1 "),
        "success jobcd/sync deadbee1"
    );
    assert!(line_matches(
        "5 created, … 3 Job run(s)",
        "5 created, 0 updated, 3 Job run(s)"
    ));
    assert!(!line_matches(
        "5 created, … 3 Job run(s)",
        "4 created, 0 updated, 3 Job run(s)"
    ));
    assert!(!line_matches("a … b", "a x b c"));
    let lines = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert!(lines_match(
        &lines(&["a", "…", "d"]),
        &lines(&["a", "b", "c", "d"])
    ));
    assert!(!lines_match(&lines(&["a", "d"]), &lines(&["a", "b", "d"])));
    assert!(lines_match_any_order(
        &lines(&["b", "a"]),
        &lines(&["a", "b"])
    ));
    assert!(!lines_match_any_order(
        &lines(&["a", "a"]),
        &lines(&["a", "b"])
    ));
    assert_eq!(
        command_line(
            "jobcd status          # (long lines shortened here)",
            "/bin/j"
        ),
        "/bin/j status"
    );
}

/// One row of the schedule examples in docs/kubernetes-semantics.md:
/// schedule, zone, from, the next start times, and whether the row says
/// none follow.
fn schedule_rows(doc: &str) -> Vec<(String, String, String, Vec<String>, bool)> {
    doc.lines()
        .filter(|l| l.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
            assert!(cells.len() >= 4, "{line}");
            let times = cells[3];
            let ends = times.ends_with("none");
            let listed = times
                .split(", ")
                .map(|t| t.trim_start_matches("then ").trim())
                .filter(|t| *t != "none")
                .map(str::to_owned)
                .collect();
            (
                cells[0].trim_matches('`').to_owned(),
                cells[1].to_owned(),
                cells[2].to_owned(),
                listed,
                ends,
            )
        })
        .collect()
}

#[test]
fn the_semantics_documents_schedule_examples_are_what_jobcd_computes() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/kubernetes-semantics.md"),
    )
    .unwrap();
    let rows = schedule_rows(&doc);
    assert!(rows.len() >= 10, "{rows:?}");
    for (schedule, zone, from, listed, ends) in rows {
        // One more than listed, to see that none follows where the row says so.
        let count = (listed.len() + usize::from(ends)).max(1).to_string();
        let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
            .args([
                "schedule", &schedule, "--tz", &zone, "--from", &from, "-c", &count, "-o", "json",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{schedule}: {out:?}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let next: Vec<String> = report["next"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            next, listed,
            "docs/kubernetes-semantics.md: `{schedule}` in {zone} from {from}"
        );
    }
}
