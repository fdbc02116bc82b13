//! The normalised form of an object, and the spec hash taken from it.
//!
//! Two manifests that Kubernetes would store the same way hash the same: the
//! object is read through its typed form (so key order, comments, quoting and
//! YAML spellings are gone), the API server's defaults are filled in (so
//! writing `backoffLimit: 6` is the same as leaving it out), empty lists and
//! nulls are dropped (as the API server's `omitempty` drops them), the
//! metadata jobcd adds itself is removed, and the result is written as JSON
//! with sorted keys. The spec hash leaves out the policy annotations too
//! (`jobcd.dev/prune`, `jobcd.dev/on-change`): they say what jobcd should do
//! with the object, and changing them runs no Job again.

use k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::hex::hex;
use crate::manifest::{Object, Typed};
use crate::ownership;

/// The object as Kubernetes would store it, minus jobcd's own metadata.
pub fn normalized(object: &Object) -> Value {
    let mut value = match &object.typed {
        Typed::Job(job) => {
            let mut job = (**job).clone();
            default_job(&mut job);
            serde_json::to_value(job)
        }
        Typed::CronJob(cron) => {
            let mut cron = (**cron).clone();
            default_cronjob(&mut cron);
            serde_json::to_value(cron)
        }
        // A ConfigMap has no defaults of its own.
        Typed::ConfigMap(map) => serde_json::to_value(&**map),
    }
    .expect("typed objects always serialize");
    if let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.insert("namespace".into(), object.id.namespace.clone().into());
    }
    ownership::strip(&mut value);
    prune_empty(&mut value);
    value
}

/// SHA-256 (hex) of the normalised object without its policy annotations,
/// in canonical JSON.
pub fn spec_hash(object: &Object) -> String {
    let mut value = normalized(object);
    ownership::strip_policy(&mut value);
    hash(&value)
}

/// The spec hash jobcd 0.1 gave the object (its policy annotations
/// included), when it differs from [`spec_hash`]: objects applied and Jobs
/// run before policy annotations were left out are known by it.
pub fn legacy_spec_hash(object: &Object) -> Option<String> {
    // Only an object with a policy annotation hashes otherwise; asking the
    // annotations first keeps this off the plan's hot path for the rest.
    let annotated = ownership::POLICY
        .iter()
        .any(|key| object.annotation(key).is_some());
    annotated.then(|| hash(&normalized(object)))
}

fn hash(value: &Value) -> String {
    let mut text = String::with_capacity(4096);
    canonical(value, &mut text);
    hex(&Sha256::digest(text.as_bytes()))
}

/// JSON with object keys sorted, whatever order the map keeps them in,
/// byte for byte what `serde_json` writes for a map with sorted keys (the
/// stored hashes depend on it), written without a value or string made
/// per key or scalar.
pub fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut first = true;
            let mut member = |key: &str, value: &Value| {
                if !std::mem::take(&mut first) {
                    out.push(',');
                }
                push_string(key, out);
                out.push(':');
                canonical(value, out);
            };
            // serde_json's map is sorted already unless a crate turns on
            // its `preserve_order`; then sort here.
            if map.keys().is_sorted() {
                map.iter().for_each(|(k, v)| member(k, v));
            } else {
                let mut members: Vec<_> = map.iter().collect();
                members.sort_unstable_by_key(|(k, _)| *k);
                members.into_iter().for_each(|(k, v)| member(k, v));
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        Value::String(s) => push_string(s, out),
        Value::Number(n) => {
            use std::fmt::Write as _;
            let _ = write!(out, "{n}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

/// A JSON string as `serde_json` escapes it: quotes, backslashes and
/// control characters (short forms where JSON has them), nothing else.
fn push_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // An ASCII byte: always a character boundary.
        out.push_str(&s[start..i]);
        start = i + 1;
        if short.is_empty() {
            use std::fmt::Write as _;
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(short);
        }
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Drops nulls and empty lists, recursively. Empty objects stay: some mean
/// something (`emptyDir: {}`).
fn prune_empty(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| {
                prune_empty(v);
                !(v.is_null() || v.as_array().is_some_and(Vec::is_empty))
            });
        }
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        _ => {}
    }
}

/// The Job defaults of the API server (docs/kubernetes-semantics.md §1.1).
fn default_job(job: &mut Job) {
    if let Some(spec) = job.spec.as_mut() {
        default_job_spec(spec);
        let template_labels = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone());
        if job.metadata.labels.as_ref().is_none_or(|l| l.is_empty()) {
            job.metadata.labels = template_labels;
        }
    }
}

fn default_job_spec(spec: &mut JobSpec) {
    if spec.completions.is_none() && spec.parallelism.is_none() {
        spec.completions = Some(1);
    }
    spec.parallelism.get_or_insert(1);
    spec.backoff_limit
        .get_or_insert(if spec.backoff_limit_per_index.is_some() {
            i32::MAX
        } else {
            6
        });
    spec.completion_mode
        .get_or_insert_with(|| "NonIndexed".into());
    spec.suspend.get_or_insert(false);
    spec.manual_selector.get_or_insert(false);
    spec.pod_replacement_policy.get_or_insert_with(|| {
        if spec.pod_failure_policy.is_some() {
            "Failed".into()
        } else {
            "TerminatingOrFailed".into()
        }
    });
    if let Some(policy) = spec.pod_failure_policy.as_mut() {
        for rule in &mut policy.rules {
            for condition in rule.on_pod_conditions.iter_mut().flatten() {
                if condition.status.is_empty() {
                    condition.status = "True".into();
                }
            }
        }
    }
    if let Some(pod) = spec.template.spec.as_mut() {
        default_pod(pod);
    }
}

/// The CronJob defaults of the API server.
fn default_cronjob(cron: &mut CronJob) {
    if let Some(spec) = cron.spec.as_mut() {
        spec.concurrency_policy
            .get_or_insert_with(|| "Allow".into());
        spec.suspend.get_or_insert(false);
        spec.successful_jobs_history_limit.get_or_insert(3);
        spec.failed_jobs_history_limit.get_or_insert(1);
        if let Some(job) = spec.job_template.spec.as_mut() {
            default_job_spec(job);
        }
    }
}

/// The pod and container defaults of the API server that a Job's template
/// can leave out.
fn default_pod(pod: &mut PodSpec) {
    pod.termination_grace_period_seconds.get_or_insert(30);
    pod.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    pod.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    pod.security_context.get_or_insert_with(Default::default);
    pod.enable_service_links.get_or_insert(true);
    for container in pod
        .init_containers
        .iter_mut()
        .flatten()
        .chain(pod.containers.iter_mut())
    {
        default_container(container);
    }
}

fn default_container(c: &mut Container) {
    c.termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy
        .get_or_insert_with(|| "File".into());
    let image = c.image.as_deref().unwrap_or_default();
    c.image_pull_policy.get_or_insert_with(|| {
        if pulls_always(image) {
            "Always".into()
        } else {
            "IfNotPresent".into()
        }
    });
    for port in c.ports.iter_mut().flatten() {
        port.protocol.get_or_insert_with(|| "TCP".into());
    }
}

/// Whether an image reference defaults to `imagePullPolicy: Always`: no tag
/// and no digest, or the tag `latest`.
fn pulls_always(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    // A tag follows the last colon after the last slash (a colon before it
    // belongs to a registry's port).
    let name = image.rsplit('/').next().unwrap_or(image);
    match name.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

#[cfg(test)]
mod tests;
