//! Validation of Jobs and CronJobs as the API server does it on create
//! (docs/kubernetes-semantics.md §1.2, §2.1), plus warnings for things the server
//! accepts but that will not do what the author expects.
//!
//! Validators read the typed objects and report field paths; the line of
//! each finding comes from the YAML node tree, so every problem points at the
//! line to edit.

mod config_map;
mod cronjob;
mod job;
mod meta;
pub(crate) mod names;
mod pod;
mod selector;

use std::fmt;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ConfigMap;

use super::diagnostic::Severity;
use super::path::line_of;
use crate::yaml::Node;

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

    /// Requires `value >= 0` for a count or duration field. (Field paths are
    /// rendered only when something is wrong.)
    pub(crate) fn non_negative(&mut self, field: impl fmt::Display, value: Option<i64>) {
        if let Some(v) = value.filter(|v| *v < 0) {
            self.error(
                field.to_string(),
                format!("must be 0 or more, not {v}"),
                None,
            );
        }
    }

    /// Requires an optional string field to be one of `allowed`.
    pub(crate) fn one_of(
        &mut self,
        field: impl fmt::Display,
        value: Option<&str>,
        allowed: &[&str],
    ) {
        if let Some(v) = value
            && !allowed.contains(&v)
        {
            self.error(
                field.to_string(),
                format!("unsupported value {v:?}"),
                Some(&format!("use one of: {}", allowed.join(", "))),
            );
        }
    }
}

/// `base.name`, rendered on demand.
pub(crate) struct At<'a>(pub &'a str, pub &'a str);

impl fmt::Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Validates a Job as the API server would on create.
pub(crate) fn job(job: &Job, root: &Node) -> Vec<Finding> {
    let mut f = Findings::new(root);
    meta::object_meta(&mut f, &job.metadata, object_name_limit(super::Kind::Job));
    meta::jobcd_metadata(&mut f, &job.metadata, super::Kind::Job);
    match &job.spec {
        Some(spec) => job::spec(
            &mut f,
            spec,
            "spec",
            job::Owner::Job(job.metadata.name.as_deref().unwrap_or_default()),
        ),
        None => f.error(
            "spec",
            "required field is missing",
            Some("a Job needs spec.template"),
        ),
    }
    f.list
}

/// Validates a ConfigMap as the API server would on create.
pub(crate) fn config_map(map: &ConfigMap, root: &Node) -> Vec<Finding> {
    let mut f = Findings::new(root);
    config_map::config_map(&mut f, map);
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
    meta::jobcd_metadata(&mut f, &cronjob.metadata, super::Kind::CronJob);
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
