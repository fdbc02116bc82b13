//! What `diff` and `sync` print: the plan with its diffs, the events of a
//! sync, and the JSON report.

use std::io::IsTerminal;

use serde::Serialize;

use super::{Args, Revision};
use crate::daemon::sync::Event;
use crate::manifest::{Diagnostic, ObjectRef};
use crate::plan::diff::{ObjectDiff, diff};
use crate::plan::{Action, Plan};
use crate::target::Outcome;

/// The JSON report of both commands (documented in the README).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Report<'a> {
    source: &'a str,
    revision: &'a str,
    valid: bool,
    diagnostics: &'a [Diagnostic],
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    plan: Vec<StepReport>,
    changes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) applied: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) runs: Vec<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
}

#[derive(Debug, Serialize)]
struct StepReport {
    #[serde(flatten)]
    id: ObjectRef,
    action: Action,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<ObjectDiff>,
}

pub(super) fn print_event(event: &Event<'_>) {
    match event {
        Event::ApplyFailed(why) => {
            eprintln!("error: {why}; the operations after it were not attempted");
        }
        Event::RunEnded(outcome) => println!("{}", describe(outcome)),
        Event::Waiting { jobs, elapsed } => println!(
            "waiting for {} Job run(s) after {}s: {}",
            jobs.len(),
            elapsed.as_secs(),
            jobs.join(", ")
        ),
        Event::Undelivered(why) => eprintln!("warning: status not delivered yet: {why}"),
    }
}

/// Statuses not delivered yet go to stderr (stdout may be JSON).
pub(super) fn warn_undelivered(event: Event<'_>) {
    if let Event::Undelivered(why) = event {
        eprintln!("warning: status not delivered yet: {why}");
    }
}

fn describe(o: &Outcome) -> String {
    let reason = o
        .reason
        .as_deref()
        .map_or(String::new(), |r| format!(" ({r})"));
    format!(
        "Job {}/{}: {}{reason}; {} succeeded, {} failed",
        o.namespace, o.name, o.result, o.succeeded, o.failed
    )
}

pub(super) fn report<'a>(
    args: &'a Args,
    revision: &'a Revision,
    plan: Option<&Plan<'_>>,
    refused: Option<String>,
    with_diffs: bool,
) -> Report<'a> {
    let steps = plan.map(|p| p.steps.as_slice()).unwrap_or_default();
    Report {
        source: &args.source,
        revision: &revision.sha,
        valid: revision.validation.is_valid(),
        diagnostics: &revision.validation.diagnostics,
        refused,
        changes: plan.is_some_and(Plan::has_changes),
        plan: steps
            .iter()
            .map(|s| StepReport {
                id: s.id.clone(),
                action: s.action,
                reason: s.reason.clone(),
                diff: if with_diffs { diff(s) } else { None },
            })
            .collect(),
        applied: None,
        runs: Vec::new(),
        error: None,
    }
}

pub(super) fn print_plan(plan: &Plan<'_>, with_diffs: bool) {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for step in &plan.steps {
        println!(
            "{}: {} — {}",
            step.id,
            action_word(step.action),
            step.reason
        );
        if !with_diffs {
            continue;
        }
        let Some(d) = diff(step) else { continue };
        for line in d.user.lines() {
            let paint = match line.as_bytes().first() {
                _ if !colour => None,
                Some(b'+') if !line.starts_with("+++") => Some("32"),
                Some(b'-') if !line.starts_with("---") => Some("31"),
                Some(b'@') => Some("36"),
                _ => None,
            };
            match paint {
                Some(code) => println!("    \x1b[{code}m{line}\x1b[0m"),
                None => println!("    {line}"),
            }
        }
        for (key, old, new) in &d.jobcd {
            println!(
                "    jobcd {key}: {} → {}",
                old.as_deref().unwrap_or("(none)"),
                new.as_deref().unwrap_or("(none)")
            );
        }
    }
}

/// The last line of a diff: whether a sync would change or fail anything.
pub(super) fn print_verdict(plan: &Plan<'_>) {
    let conflicts = plan.count(Action::Conflict);
    if conflicts > 0 {
        println!("{conflicts} conflict(s): a sync would report them and fail");
    } else if !plan.has_changes() {
        println!("no changes");
    }
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Rerun => "re-run",
        Action::Prune => "prune",
        Action::Unchanged => "unchanged",
        Action::Skip => "skip",
        Action::Keep => "keep",
        Action::Conflict => "conflict",
        Action::Revert => "revert",
        Action::Drifted => "drifted",
    }
}
