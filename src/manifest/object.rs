//! The objects a revision asks for: typed for reading and validating, and
//! kept as the user wrote them (untyped) for hashing, diffing and applying,
//! because the typed structs drop fields they do not know.

use std::fmt;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use serde::Serialize;

use super::path::line_of;
use super::yaml::Node;

/// The kinds jobcd manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    /// `batch/v1` Job: runs once per spec.
    Job,
    /// `batch/v1` CronJob: updated in place.
    CronJob,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
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
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The decoded object.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    /// A Job.
    Job(Box<Job>),
    /// A CronJob.
    CronJob(Box<CronJob>),
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

/// A manifest exactly as written — every field the author set, nothing
/// defaulted, nothing dropped — with the line of every value, for hashing,
/// diffing and applying, and for pointing at the line a later error is about.
/// Kept as a compact node tree (about 80 bytes a field) and turned into JSON
/// on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest(pub(crate) Node);

impl Manifest {
    /// The JSON the API server would receive.
    pub fn to_json(&self) -> serde_json::Value {
        self.0.to_json()
    }

    /// The line of a field such as `spec.template.spec.containers[0].image`
    /// (of its nearest existing parent when it is not set).
    pub fn line_of(&self, field: &str) -> u32 {
        line_of(&self.0, field)
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
