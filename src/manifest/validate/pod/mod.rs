//! The pod template of a Job, as the API server checks it: the pod-level
//! fields here; containers, volumes, resources, probes, scheduling and
//! security contexts in their own modules.

mod containers;
mod probes;
mod resources;
mod scheduling;
mod security;
mod volumes;

use k8s_openapi::api::core::v1::{PodDNSConfig, PodSpec, PodTemplateSpec};

use super::{At, Findings, meta, names};
use crate::manifest::path::join_key;

/// Validates `template` at `base` (e.g. `spec.template`).
pub(super) fn template(f: &mut Findings<'_>, template: &PodTemplateSpec, base: &str) {
    if let Some(meta) = &template.metadata {
        meta::labels(f, &format!("{base}.metadata"), meta);
    }
    let Some(spec) = &template.spec else {
        f.error(
            format!("{base}.spec"),
            "required field is missing",
            Some("the pod template needs a spec with containers and restartPolicy"),
        );
        return;
    };
    let base = format!("{base}.spec");
    restart_policy(f, spec, &base);
    f.non_negative(
        At(&base, "terminationGracePeriodSeconds"),
        spec.termination_grace_period_seconds,
    );
    if let Some(d) = spec
        .active_deadline_seconds
        .filter(|d| !(1..=i64::from(i32::MAX)).contains(d))
    {
        f.error(
            format!("{base}.activeDeadlineSeconds"),
            format!("must be between 1 and 2147483647, inclusive, not {d}"),
            None,
        );
    }
    let volumes = volumes::check(f, spec.volumes.as_deref().unwrap_or_default(), &base);
    containers::check(f, spec, &volumes, &base);
    scheduling::check(f, spec, &base);
    security::pod(f, spec, &base);
    object_names(f, spec, &base);
    dns(f, spec, &base);
    gates_and_aliases(f, spec, &base);
    f.one_of(
        At(&base, "preemptionPolicy"),
        spec.preemption_policy.as_deref(),
        &["PreemptLowerPriority", "Never"],
    );
}

fn restart_policy(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    match spec.restart_policy.as_deref() {
        Some("Never" | "OnFailure") => {}
        None => f.error(
            format!("{base}.restartPolicy"),
            "required field is missing",
            Some("Jobs need restartPolicy: Never or OnFailure (a pod's default, Always, is not allowed)"),
        ),
        Some(other) => f.error(
            format!("{base}.restartPolicy"),
            format!("unsupported value {other:?}"),
            Some("Jobs need restartPolicy: Never or OnFailure"),
        ),
    }
}

/// Names of other objects and of the pod's host, which must be valid
/// names of their kind.
fn object_names(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    let subdomains = [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
        ("runtimeClassName", &spec.runtime_class_name),
    ];
    for (field, value) in subdomains {
        // runtimeClassName is checked whenever it is given, even empty; the
        // others only when not empty.
        let given = if field == "runtimeClassName" {
            value.as_deref()
        } else {
            value.as_deref().filter(|v| !v.is_empty())
        };
        let Some(value) = given else {
            continue;
        };
        if let Err(e) = names::dns_subdomain(value) {
            f.error(
                format!("{base}.{field}"),
                format!("invalid name {value:?}: {e}"),
                placeholder_hint(value),
            );
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        if let Err(e) = names::dns_label(value) {
            f.error(
                format!("{base}.{field}"),
                format!("invalid {field} {value:?}: {e}"),
                placeholder_hint(value),
            );
        }
    }
    for (key, value) in spec.node_selector.iter().flatten() {
        let field = join_key(&format!("{base}.nodeSelector"), key);
        if let Err(e) = names::qualified_name(key) {
            f.error(&field, format!("invalid label key: {e}"), None);
        }
        if let Err(e) = names::label_value(value) {
            f.error(&field, format!("invalid label value {value:?}: {e}"), None);
        }
    }
}

/// Fields a template may not have or that name things: ephemeral
/// containers, scheduling and readiness gates, host aliases, the OS.
fn gates_and_aliases(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        f.error(
            format!("{base}.ephemeralContainers"),
            "ephemeral containers are not allowed in a pod template",
            Some("they are added to running pods with kubectl debug"),
        );
    }
    let mut gates = std::collections::BTreeSet::new();
    for (i, gate) in spec.scheduling_gates.iter().flatten().enumerate() {
        let at = format!("{base}.schedulingGates[{i}]");
        if let Err(e) = names::qualified_name(&gate.name) {
            f.error(
                &at,
                format!("invalid scheduling gate {:?}: {e}", gate.name),
                None,
            );
        }
        if !gates.insert(gate.name.as_str()) {
            f.error(
                &at,
                format!("duplicate scheduling gate {:?}", gate.name),
                None,
            );
        }
    }
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        if let Err(e) = names::qualified_name(&gate.condition_type) {
            f.error(
                format!("{base}.readinessGates[{i}].conditionType"),
                format!("invalid condition type {:?}: {e}", gate.condition_type),
                None,
            );
        }
    }
    for (i, alias) in spec.host_aliases.iter().flatten().enumerate() {
        let at = format!("{base}.hostAliases[{i}]");
        if alias.ip.parse::<std::net::IpAddr>().is_err() {
            f.error(
                format!("{at}.ip"),
                format!("{:?} must be a valid IP address", alias.ip),
                None,
            );
        }
        for (j, host) in alias.hostnames.iter().flatten().enumerate() {
            if let Err(e) = names::dns_subdomain(host) {
                f.error(
                    format!("{at}.hostnames[{j}]"),
                    format!("invalid hostname {host:?}: {e}"),
                    None,
                );
            }
        }
    }
    if let Some(os) = &spec.os {
        match os.name.as_str() {
            "linux" | "windows" => {}
            "" => f.error(format!("{base}.os.name"), "required field is missing", None),
            other => f.error(
                format!("{base}.os.name"),
                format!("unsupported value {other:?}"),
                Some("use one of: linux, windows"),
            ),
        }
    }
}

/// A hint for a value that looks like an unrendered template variable.
pub(super) fn placeholder_hint(value: &str) -> Option<&'static str> {
    (value.contains("${") || value.contains("{{")).then_some(
        "it looks like a template placeholder that was not rendered: render the manifest (envsubst, helm template, kustomize) before applying it",
    )
}

/// `dnsPolicy` and `dnsConfig`.
fn dns(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    f.one_of(
        At(base, "dnsPolicy"),
        spec.dns_policy.as_deref(),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
    );
    let none = spec.dns_policy.as_deref() == Some("None");
    let config = spec.dns_config.as_ref();
    let servers = config
        .and_then(|c| c.nameservers.as_deref())
        .unwrap_or_default();
    if none && config.is_none() {
        f.error(
            format!("{base}.dnsConfig"),
            "required when dnsPolicy is None",
            Some("give dnsConfig.nameservers, or choose another dnsPolicy"),
        );
    } else if none && servers.is_empty() {
        f.error(
            format!("{base}.dnsConfig.nameservers"),
            "at least one nameserver is required when dnsPolicy is None",
            None,
        );
    }
    if let Some(config) = config {
        dns_config(f, config, &format!("{base}.dnsConfig"));
    }
}

fn dns_config(f: &mut Findings<'_>, config: &PodDNSConfig, base: &str) {
    let servers = config.nameservers.as_deref().unwrap_or_default();
    if servers.len() > 3 {
        f.error(
            format!("{base}.nameservers"),
            format!("{} nameservers; at most 3 are allowed", servers.len()),
            None,
        );
    }
    for (i, server) in servers.iter().enumerate() {
        if server.parse::<std::net::IpAddr>().is_err() {
            f.error(
                format!("{base}.nameservers[{i}]"),
                format!("{server:?} must be a valid IP address"),
                None,
            );
        }
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > 32 {
        f.error(
            format!("{base}.searches"),
            format!("{} search paths; at most 32 are allowed", searches.len()),
            None,
        );
    }
    if searches.join(" ").len() > 2048 {
        f.error(
            format!("{base}.searches"),
            "at most 2048 characters (with the spaces between them) are allowed",
            None,
        );
    }
    for (i, search) in searches.iter().enumerate() {
        let domain = search.strip_suffix('.').unwrap_or(search);
        let relaxed = domain.replace('_', "a");
        if search != "." && names::dns_subdomain(&relaxed).is_err() {
            f.error(
                format!("{base}.searches[{i}]"),
                format!("invalid search domain {search:?}"),
                None,
            );
        }
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().is_none_or(str::is_empty) {
            f.error(
                format!("{base}.options[{i}].name"),
                "required field is missing",
                None,
            );
        }
    }
}
