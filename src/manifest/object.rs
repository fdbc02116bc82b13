//! The objects a revision asks for: typed for reading and validating, and
//! kept as the user wrote them (untyped) for hashing, diffing and applying,
//! because the typed structs drop fields they do not know.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ConfigMap;
use serde::Serialize;

use super::path::line_of;
use crate::yaml::Node;

/// The kinds jobcd manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// `batch/v1` Job: runs once per spec.
    Job,
    /// `batch/v1` CronJob: updated in place.
    CronJob,
    /// `v1` ConfigMap: configuration a Job's pods read (`envFrom`,
    /// `configMapKeyRef`, volumes); updated in place.
    ConfigMap,
}

impl Kind {
    /// Every kind, in the order a plan applies them: configuration before
    /// what reads it.
    pub const ALL: [Kind; 3] = [Kind::ConfigMap, Kind::CronJob, Kind::Job];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::ConfigMap => "ConfigMap",
        })
    }
}

/// Kind, namespace and name: what identifies an object on a cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// Job or CronJob.
    pub kind: Kind,
    /// Namespace (`default` when the manifest sets none).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Where a document starts: file (relative to the manifest root) and line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Location {
    /// Path relative to the root, with `/` separators.
    pub file: String,
    /// 1-based line of the document's first key.
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", super::path::printable(&self.file), self.line)
    }
}

/// The decoded object, shared: a revision's objects are handed from the
/// load to the plan to the target without copying (a typed CronJob is
/// several kilobytes; 10,000 of them copied twice made most of a large
/// `diff`'s peak memory).
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// A Job.
    Job(Arc<Job>),
    /// A CronJob.
    CronJob(Arc<CronJob>),
    /// A ConfigMap.
    ConfigMap(Arc<ConfigMap>),
}

/// A valid Job or CronJob from the repository.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// Kind, namespace and name.
    pub id: ObjectRef,
    /// Where it is written.
    pub location: Location,
    /// The typed form.
    pub typed: Typed,
    /// The manifest as written.
    pub manifest: Manifest,
}

impl Object {
    /// An annotation of the object's metadata, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        let metadata = match &self.typed {
            Typed::Job(job) => &job.metadata,
            Typed::CronJob(cron) => &cron.metadata,
            Typed::ConfigMap(map) => &map.metadata,
        };
        metadata.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

/// A manifest exactly as written — every field the author set, nothing
/// defaulted, nothing dropped — for hashing, diffing and applying. It is kept
/// as compact JSON text (a tenth of the memory of a parsed tree) together
/// with the file it came from, so that a later error about a field can still
/// name its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    json: Arc<str>,
    source: Arc<str>,
    document: usize,
    items: Vec<usize>,
}

impl Manifest {
    pub(crate) fn new(
        root: &Node,
        source: Arc<str>,
        document: usize,
        items: Vec<usize>,
    ) -> Manifest {
        Manifest {
            json: serde_json::to_string(root)
                .expect("a YAML node always serializes")
                .into(),
            source,
            document,
            items,
        }
    }

    /// The JSON the API server would receive, keys in the order written.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The same, parsed.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::from_str(&self.json).expect("jobcd wrote this JSON itself")
    }

    /// The line of a field such as `spec.template.spec.containers[0].image`
    /// (of its nearest existing parent when it is not set). Parses the
    /// source document again: this is for error messages, not hot paths.
    pub fn line_of(&self, field: &str) -> u32 {
        let Ok(documents) = crate::yaml::parse(&self.source) else {
            return 0;
        };
        let Some(mut node) = documents.get(self.document).map(|d| &d.root) else {
            return 0;
        };
        for i in &self.items {
            match node.get("items").map(|n| &n.value) {
                Some(crate::yaml::Value::Seq(items)) if *i < items.len() => node = &items[*i],
                _ => return 0,
            }
        }
        line_of(node, field)
    }
}

/// A document of another kind: reported, never applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ignored {
    /// `apiVersion` as written.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind` as written.
    pub kind: String,
    /// `metadata.name`, if any.
    pub name: Option<String>,
    /// Where it is written.
    pub location: Location,
}
