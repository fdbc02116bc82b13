//! Validation of Jobs and CronJobs as the API server does it on create
//! (K8S-SEMANTICS.md §1.2, §1.13, §2.1), plus warnings for things the server
//! accepts but that will not do what the author expects.
//!
//! Validators read the typed objects and report field paths; the line of
//! each finding comes from the YAML node tree, so every problem points at the
//! line to edit.

mod cronjob;
mod job;
mod meta;
mod names;
mod pod;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};

use super::diagnostic::Severity;
use super::yaml::{Node, Value};

pub(crate) use meta::object_name_limit;

/// One finding inside an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    pub severity: Severity,
    pub field: String,
    pub line: u32,
    pub message: String,
    pub hint: Option<String>,
}

/// Collects findings for one object, placing each on its line.
pub(crate) struct Findings<'a> {
    root: &'a Node,
    pub(crate) list: Vec<Finding>,
}

impl<'a> Findings<'a> {
    pub(crate) fn new(root: &'a Node) -> Self {
        Findings {
            root,
            list: Vec::new(),
        }
    }

    pub(crate) fn error(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.push(Severity::Error, field.into(), message.into(), hint);
    }

    pub(crate) fn warning(
        &mut self,
        field: impl Into<String>,
        message: impl Into<String>,
        hint: Option<&str>,
    ) {
        self.push(Severity::Warning, field.into(), message.into(), hint);
    }

    fn push(&mut self, severity: Severity, field: String, message: String, hint: Option<&str>) {
        let line = line_of(self.root, &field);
        self.list.push(Finding {
            severity,
            field,
            line,
            message,
            hint: hint.map(str::to_string),
        });
    }

    /// Requires `value >= 0` for a count or duration field.
    pub(crate) fn non_negative(&mut self, field: &str, value: Option<i64>) {
        if let Some(v) = value.filter(|v| *v < 0) {
            self.error(field, format!("must be 0 or more, not {v}"), None);
        }
    }

    /// Requires an optional string field to be one of `allowed`.
    pub(crate) fn one_of(&mut self, field: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.error(
                field,
                format!("unsupported value {v:?}"),
                Some(&format!("use one of: {}", allowed.join(", "))),
            );
        }
    }
}

/// Validates a Job as the API server would on create.
pub(crate) fn job(job: &Job, root: &Node) -> Vec<Finding> {
    let mut f = Findings::new(root);
    meta::object_meta(&mut f, &job.metadata, object_name_limit(super::Kind::Job));
    match &job.spec {
        Some(spec) => job::spec(&mut f, spec, "spec", job::Owner::Job),
        None => f.error(
            "spec",
            "required field is missing",
            Some("a Job needs spec.template"),
        ),
    }
    f.list
}

/// Validates a CronJob as the API server would on create.
pub(crate) fn cronjob(cronjob: &CronJob, root: &Node, now: Timestamp) -> Vec<Finding> {
    let mut f = Findings::new(root);
    meta::object_meta(
        &mut f,
        &cronjob.metadata,
        object_name_limit(super::Kind::CronJob),
    );
    match &cronjob.spec {
        Some(spec) => cronjob::spec(&mut f, spec, now),
        None => f.error(
            "spec",
            "required field is missing",
            Some("a CronJob needs spec.schedule and spec.jobTemplate"),
        ),
    }
    f.list
}

/// The line of the deepest node along `field` that exists; the line of the
/// key itself for a mapping entry.
fn line_of(root: &Node, field: &str) -> u32 {
    let mut node = root;
    let mut line = root.line;
    for step in steps(field) {
        let next = match (&node.value, step) {
            (Value::Map(entries), Step::Key(key)) => {
                entries.iter().find(|e| e.key == key).map(|e| {
                    line = e.key_line;
                    &e.value
                })
            }
            (Value::Seq(items), Step::Index(i)) => items.get(i).inspect(|n| line = n.line),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    line
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `a.b[0]["c.d"]` into its steps.
fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]").unwrap_or(r.len());
            out.push(Step::Key(&r[..end]));
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            out.push(Step::Index(r[..end].parse().unwrap_or(usize::MAX)));
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(Step::Key(&r[..end]));
            rest = &r[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_field_paths() {
        let docs = super::super::yaml::parse(
            "metadata:\n  labels:\n    app.kubernetes.io/name: x\nspec:\n  containers:\n  - name: a\n  - name: b\n    image: c\n",
        )
        .unwrap();
        let root = &docs[0].root;
        assert_eq!(
            line_of(root, "metadata.labels[\"app.kubernetes.io/name\"]"),
            3
        );
        assert_eq!(line_of(root, "spec.containers[1].image"), 8);
        assert_eq!(line_of(root, "spec.containers[1].missing"), 7);
        assert_eq!(line_of(root, "spec.nothing"), 4);
    }
}
