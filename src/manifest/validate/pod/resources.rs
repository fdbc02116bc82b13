//! A container's resource requests and limits: names a container may ask
//! for, quantities as the API server parses them, and requests within
//! limits (equal to them for resources that cannot be overcommitted).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Text;

use super::super::{Findings, names};
use crate::manifest::path::join_key;
use crate::manifest::quantity::Quantity;

/// Checks `r` at `at` (a container's `resources`).
pub(super) fn container(f: &mut Findings<'_>, r: &ResourceRequirements, at: &str) {
    let (limits_at, requests_at) = (format!("{at}.limits"), format!("{at}.requests"));
    let limits = parsed(f, r.limits.as_ref(), &limits_at, &limits_at);
    let requests = parsed(f, r.requests.as_ref(), &requests_at, &requests_at);
    for (name, request) in &requests {
        let overcommit = native(name) && !hugepages(name);
        match limits.get(name) {
            Some(limit) if !overcommit && request != limit => f.error(
                format!("{at}.requests"),
                format!(
                    "{name}: the request must be equal to the limit, {}",
                    text(r.limits.as_ref(), name)
                ),
                Some("requests of extended resources and hugepages cannot be overcommitted"),
            ),
            Some(limit) if request > limit => f.error(
                format!("{at}.requests"),
                format!(
                    "{name}: the request {} must be less than or equal to the limit {}",
                    text(r.requests.as_ref(), name),
                    text(r.limits.as_ref(), name)
                ),
                None,
            ),
            None if !overcommit => f.error(
                format!("{at}.limits"),
                format!("{name}: a limit must be set for a resource that cannot be overcommitted"),
                Some("set the limit equal to the request"),
            ),
            _ => {}
        }
    }
    let any = |m: &BTreeMap<String, Quantity>, p: fn(&str) -> bool| m.keys().any(|k| p(k));
    let compute = |k: &str| k == "cpu" || k == "memory";
    if (any(&limits, hugepages) || any(&requests, hugepages))
        && !any(&limits, compute)
        && !any(&requests, compute)
    {
        f.error(at, "hugepages require cpu or memory", None);
    }
}

/// A pod's `overhead`, at `at`: checked as a container's limits are, and
/// named so in errors (`overhead.limits.cpu`), as the API server names
/// them; its warnings name `overhead.memory`, as the server's do.
pub(super) fn overhead(f: &mut Findings<'_>, overhead: &BTreeMap<String, Text>, at: &str) {
    parsed(f, Some(overhead), &format!("{at}.limits"), at);
}

/// The valid entries of `requests` or `limits` (at `at`; warnings at
/// `warn_at`), each checked.
fn parsed(
    f: &mut Findings<'_>,
    map: Option<&BTreeMap<String, Text>>,
    at: &str,
    warn_at: &str,
) -> BTreeMap<String, Quantity> {
    let mut out = BTreeMap::new();
    for (name, value) in map.into_iter().flatten() {
        let field = join_key(at, name);
        resource_name(f, name, &field);
        let q = match Quantity::parse(&value.0) {
            Ok(q) => q,
            Err(e) => {
                f.error(
                    &field,
                    format!("{:?}: {e}", value.0),
                    Some("e.g. 500m, 1.5, 256Mi, 2Gi"),
                );
                continue;
            }
        };
        if q.is_negative() {
            f.error(
                &field,
                format!("{:?} must be greater than or equal to 0", value.0),
                None,
            );
        } else if (name == "memory" || name == "ephemeral-storage") && !whole_in_millis(&q) {
            f.warning(
                join_key(warn_at, name),
                format!("{:?} is a fractional number of bytes: the API server accepts it, but it is invalid (must be an integer)", value.0),
                Some("`m` means thousandths: 100m of memory is a tenth of a byte; write 100M or 100Mi"),
            );
        } else if extended(name) && !whole_in_millis(&q) {
            f.error(&field, format!("{:?} must be an integer", value.0), None);
        } else if hugepages(name) && !page_size(name).is_some_and(|page| q.is_multiple_of(page)) {
            f.error(
                &field,
                format!("{:?} is not a positive integer multiple of {name}", value.0),
                None,
            );
        }
        out.insert(name.clone(), q);
    }
    out
}

/// A whole number, as the API server tells it: in thousandths (which
/// saturate at 2^63 − 1, so beyond about 9.2e15 no value is whole).
fn whole_in_millis(q: &Quantity) -> bool {
    q.as_u64()
        .is_some_and(|v| v <= i64::MAX.unsigned_abs() / 1000)
}

fn text<'a>(map: Option<&'a BTreeMap<String, Text>>, name: &str) -> &'a str {
    map.and_then(|m| m.get(name)).map_or("", |q| q.0.as_str())
}

/// A name a container may request: cpu, memory, ephemeral-storage,
/// hugepages-<size>, or an extended resource (`example.com/gpu`).
fn resource_name(f: &mut Findings<'_>, name: &str, field: &str) {
    if let Err(e) = names::qualified_name(name) {
        f.error(field, format!("invalid resource name {name:?}: {e}"), None);
        return;
    }
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !hugepages(name) {
            f.error(
                field,
                format!("{name:?} must be a standard resource for containers"),
                Some("use cpu, memory, ephemeral-storage or hugepages-<size>; other resources are named with a domain, e.g. nvidia.com/gpu"),
            );
        }
    } else if !native(name) && !extended(name) {
        f.error(
            field,
            format!("{name:?} doesn't follow extended resource name standard"),
            None,
        );
    }
}

fn hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// A resource of Kubernetes itself: no domain, or a `kubernetes.io/` one.
fn native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// A resource a device plugin or the like provides (`example.com/gpu`).
fn extended(name: &str) -> bool {
    !native(name)
        && !name.starts_with("requests.")
        && names::qualified_name(&format!("requests.{name}")).is_ok()
}

/// The page size of a `hugepages-<size>` resource, in bytes: a positive
/// whole number.
fn page_size(name: &str) -> Option<u64> {
    Quantity::parse(name.strip_prefix("hugepages-")?)
        .ok()?
        .as_u64()
        .filter(|size| *size > 0)
}
