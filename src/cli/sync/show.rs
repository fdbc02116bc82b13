//! What `diff` and `sync` print: the plan with its diffs, the events of a
//! sync, and the JSON report.

use std::io::IsTerminal;

use serde::Serialize;

use super::{Args, Kind, Revision};
use crate::cli::{Format, print_report, short_sha};
use crate::manifest::{Diagnostic, ObjectRef, printable};
use crate::plan::diff::{ObjectDiff, diff};
use crate::plan::{Action, Plan};
use crate::reconcile::{Event, Reconciled, Refused};
use crate::target::{Outcome, RunEvent, RunResult};

/// The JSON report of both commands (documented in the README).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    source: &'a str,
    revision: &'a str,
    valid: bool,
    diagnostics: &'a [Diagnostic],
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<String>,
    plan: Vec<StepReport>,
    changes: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    applied: Option<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    runs: Vec<Outcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
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

/// Prints what `diff` and `sync` do, as text or as the JSON report.
pub(super) struct Printer<'a> {
    args: &'a Args,
    revision: &'a Revision,
    kind: Kind,
    /// The plan, for the JSON report.
    steps: Vec<StepReport>,
    changes: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(args: &'a Args, revision: &'a Revision, kind: Kind) -> Printer<'a> {
        Printer {
            args,
            revision,
            kind,
            steps: Vec::new(),
            changes: false,
        }
    }

    fn text(&self) -> bool {
        self.args.output == Format::Text
    }

    /// Text, and not `-q`: reports of success are printed.
    fn reports(&self) -> bool {
        self.text() && self.args.verbosity.reports()
    }

    /// The revision's diagnostics, on stderr (text only: JSON carries them).
    pub(super) fn diagnostics(&self) {
        if self.text() {
            for d in &self.revision.validation.diagnostics {
                eprintln!("{d}");
            }
        }
    }

    /// One event of the reconcile.
    pub(super) fn event(&mut self, event: Event<'_>) {
        let rehearsal = self.kind != Kind::Sync;
        match event {
            Event::Planned(plan) => {
                self.changes = plan.has_changes();
                let listed = self.args.verbosity.lists_unchanged();
                if !self.text() {
                    self.steps = steps(plan, rehearsal);
                } else if !self.reports() {
                    print_conflicts(plan);
                } else if rehearsal {
                    print_plan(plan, true, listed);
                    print_verdict(plan);
                } else {
                    println!("{}: {}", self.args.source, self.revision.label);
                    print_plan(plan, false, listed);
                }
            }
            Event::ApplyFailed(why) => {
                eprintln!("error: {why}; the operations after it were not attempted");
            }
            Event::Run(RunEvent::Ended(outcome)) if self.reports() => {
                println!("{}", describe(outcome));
            }
            // Quiet: only the runs that did not succeed, as problems.
            Event::Run(RunEvent::Ended(outcome))
                if self.text() && outcome.result != RunResult::Complete =>
            {
                eprintln!("{}", describe(outcome));
            }
            Event::Waiting { jobs, elapsed } if self.reports() => println!(
                "waiting for {} Job run(s) after {}s: {}",
                jobs.len(),
                elapsed.as_secs(),
                jobs.join(", ")
            ),
            Event::Run(_) | Event::Waiting { .. } => {}
        }
    }

    /// How it ended.
    pub(super) fn finish(
        &mut self,
        reconciled: &Reconciled<impl std::fmt::Display>,
    ) -> anyhow::Result<()> {
        let label = &self.revision.label;
        if self.text() {
            match reconciled {
                Reconciled::Invalid if self.kind != Kind::Sync => {
                    eprintln!("{label}: invalid; a sync of it would apply nothing")
                }
                Reconciled::Refused(Refused::Target(e)) if self.kind != Kind::Sync => {
                    eprintln!("{label}: {e}; a sync of it would apply nothing")
                }
                Reconciled::Refused(Refused::Unverified(refusal)) if self.kind != Kind::Sync => {
                    eprintln!("{label}: {refusal}; a sync of it would apply nothing")
                }
                Reconciled::Refused(Refused::Unverified(refusal)) => eprintln!(
                    "{label}: {refusal}; nothing was applied, the last good revision stays in force"
                ),
                Reconciled::Invalid => eprintln!(
                    "{label}: invalid; nothing was applied, the last good revision stays in force"
                ),
                Reconciled::Refused(Refused::Target(e)) => eprintln!(
                    "{label}: {e}; nothing was applied, the last good revision stays in force"
                ),
                Reconciled::Refused(Refused::Prune(refusal)) => eprintln!("{label}: {refusal}"),
                Reconciled::Rehearsed(_) if self.kind == Kind::DryRun && self.reports() => {
                    println!("dry run: nothing applied");
                }
                Reconciled::Rehearsed(_) | Reconciled::Unreadable(_) => {}
                Reconciled::Applied(_) if !self.reports() => {}
                Reconciled::Applied(synced) => {
                    println!("{}: {}", short_sha(&self.revision.sha), synced.summary);
                }
            }
            return Ok(());
        }
        let mut report = Report {
            source: &self.args.source,
            revision: &self.revision.sha,
            valid: self.revision.validation.is_valid(),
            diagnostics: &self.revision.validation.diagnostics,
            refused: None,
            plan: std::mem::take(&mut self.steps),
            changes: self.changes,
            applied: None,
            runs: Vec::new(),
            error: None,
        };
        match reconciled {
            Reconciled::Refused(Refused::Prune(refusal)) => {
                report.refused = Some(refusal.to_string());
            }
            Reconciled::Refused(Refused::Unverified(refusal)) => {
                report.refused = Some(refusal.to_string());
            }
            Reconciled::Refused(Refused::Target(e)) => report.error = Some(e.to_string()),
            Reconciled::Applied(synced) => {
                report.applied = Some(synced.done.len());
                report.error = synced.failure.as_ref().map(ToString::to_string);
                report.runs = synced.runs.clone();
            }
            Reconciled::Invalid | Reconciled::Rehearsed(_) | Reconciled::Unreadable(_) => {}
        }
        print_report(self.args.output, &report)
    }
}

fn describe(o: &Outcome) -> String {
    crate::report::runs::describe(o)
}

/// The plan's steps for the JSON report.
fn steps(plan: &Plan<'_>, with_diffs: bool) -> Vec<StepReport> {
    plan.steps()
        .iter()
        .map(|s| StepReport {
            id: s.id.clone(),
            action: s.action,
            reason: s.reason.clone(),
            diff: if with_diffs { diff(s) } else { None },
        })
        .collect()
}

/// `-q`: of the plan, only its conflicts, on stderr (they are problems).
fn print_conflicts(plan: &Plan<'_>) {
    for step in plan.steps().iter().filter(|s| s.action == Action::Conflict) {
        eprintln!("{}: conflict — {}", step.id, printable(&step.reason));
    }
}

/// The plan's steps, with diffs when `with_diffs`; unchanged objects are
/// only counted unless `verbose` (as kubectl and Flux print only changes).
fn print_plan(plan: &Plan<'_>, with_diffs: bool, verbose: bool) {
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut unchanged = 0;
    for step in plan.steps() {
        if step.action == Action::Unchanged && !verbose {
            unchanged += 1;
            continue;
        }
        println!(
            "{}: {} — {}",
            step.id,
            action_word(step.action),
            printable(&step.reason)
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
                printable(old.as_deref().unwrap_or("(none)")),
                printable(new.as_deref().unwrap_or("(none)"))
            );
        }
    }
    if unchanged > 0 {
        println!("{unchanged} unchanged (-v lists them)");
    }
}

/// The last line of a diff: whether a sync would change or fail anything.
fn print_verdict(plan: &Plan<'_>) {
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
