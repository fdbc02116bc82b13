//! `metadata`: name, namespace, labels and annotations.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Findings;
use super::names;
use crate::manifest::Kind;
use crate::manifest::path::join_key;

/// Annotations of one object may total at most 256 KiB.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// The longest name the API server accepts for a kind: a Job's name becomes
/// the value of its pods' `job-name` label (63 characters); a CronJob's Jobs
/// add an 11-character suffix to it; a ConfigMap's is any DNS subdomain.
pub(crate) fn object_name_limit(kind: Kind) -> usize {
    match kind {
        Kind::Job => 63,
        Kind::CronJob => 52,
        Kind::ConfigMap => 253,
    }
}

pub(super) fn object_meta(f: &mut Findings<'_>, meta: &ObjectMeta, name_limit: usize) {
    match meta.name.as_deref() {
        None | Some("") => f.error(
            "metadata.name",
            "required field is missing",
            Some(if meta.generate_name.is_some() {
                "generateName is not supported: jobcd needs a stable name to track what it applied"
            } else {
                "give the object a name"
            }),
        ),
        Some(name) => {
            if let Err(e) = names::dns_subdomain(name) {
                f.error("metadata.name", format!("invalid name {name:?}: {e}"), None);
            } else if name.len() > name_limit {
                f.error(
                    "metadata.name",
                    format!("{name:?} is {} characters; at most {name_limit} are allowed for this kind", name.len()),
                    Some("Job names become a pod label (63 characters at most) and CronJobs add an 11-character suffix to their Jobs' names"),
                );
            }
        }
    }
    if let Some(ns) = meta.namespace.as_deref()
        && let Err(e) = names::dns_label(ns)
    {
        f.error(
            "metadata.namespace",
            format!("invalid namespace {ns:?}: {e}"),
            None,
        );
    }
    labels(f, "metadata", meta);
}

/// Checks the annotations that steer jobcd (`jobcd.dev/on-change`,
/// `jobcd.dev/prune`, `jobcd.dev/max-age`) and warns about the metadata jobcd writes itself.
pub(super) fn jobcd_metadata(f: &mut Findings<'_>, meta: &ObjectMeta, kind: Kind) {
    use crate::ownership::{
        MANAGED_BY, MAX_AGE, ON_CHANGE, PATH, PRUNE, REVISION, SOURCE, SPEC_HASH,
    };
    let annotations = meta.annotations.as_ref();
    let get = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
    let field = |key: &str| join_key("metadata.annotations", key);
    f.one_of(field(ON_CHANGE), get(ON_CHANGE), &["rerun", "ignore"]);
    if kind != Kind::Job && get(ON_CHANGE).is_some() {
        f.warning(
            field(ON_CHANGE),
            format!("has no effect on a {kind}"),
            Some(&format!(
                "{kind}s are updated in place; the annotation applies to Jobs"
            )),
        );
    }
    f.one_of(field(PRUNE), get(PRUNE), &["enabled", "disabled"]);
    if let Some(value) = get(MAX_AGE) {
        if let Err(e) = crate::ownership::parse_max_age(value) {
            f.error(
                field(MAX_AGE),
                e,
                Some("e.g. 26h: a nightly job may be a little late"),
            );
        }
        if kind != Kind::CronJob {
            f.warning(
                field(MAX_AGE),
                format!("has no effect on a {kind}"),
                Some("it sets how old a CronJob's last success may be"),
            );
        }
    }
    for key in [REVISION, PATH, SPEC_HASH] {
        if get(key).is_some() {
            f.warning(
                field(key),
                "is written by jobcd; the value here is replaced when the object is applied",
                None,
            );
        }
    }
    for key in [MANAGED_BY, SOURCE] {
        if meta.labels.as_ref().is_some_and(|l| l.contains_key(key)) {
            f.warning(
                join_key("metadata.labels", key),
                "is written by jobcd; the value here is replaced when the object is applied",
                None,
            );
        }
    }
}

/// Checks `labels` and `annotations` of metadata at `base`.
pub(super) fn labels(f: &mut Findings<'_>, base: &str, meta: &ObjectMeta) {
    for (key, value) in meta.labels.iter().flatten() {
        let field = join_key(&format!("{base}.labels"), key);
        if let Err(e) = names::qualified_name(key) {
            f.error(&field, format!("invalid label key: {e}"), None);
        }
        if let Err(e) = names::label_value(value) {
            f.error(&field, format!("invalid label value {value:?}: {e}"), None);
        }
    }
    let mut total = 0;
    for (key, value) in meta.annotations.iter().flatten() {
        total += key.len() + value.len();
        if let Err(e) = names::qualified_name(key) {
            f.error(
                join_key(&format!("{base}.annotations"), key),
                format!("invalid annotation key: {e}"),
                None,
            );
        }
    }
    if total > ANNOTATIONS_MAX_BYTES {
        f.error(
            format!("{base}.annotations"),
            format!("annotations total {total} bytes; at most {ANNOTATIONS_MAX_BYTES} are allowed"),
            Some("move large data into a ConfigMap"),
        );
    }
}
