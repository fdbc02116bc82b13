//! The pod template of a Job, as the API server checks it: the pod-level
//! fields here; containers, volumes, resources, probes, scheduling and
//! security contexts in their own modules.

mod containers;
mod env;
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
    if let Some(grace) = spec.termination_grace_period_seconds.filter(|g| *g < 0) {
        f.warning(
            format!("{base}.terminationGracePeriodSeconds"),
            format!("{grace}: must be >= 0; negative values are invalid and will be treated as 1"),
            None,
        );
    }
    deprecations(f, spec, &base);
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
    if let Some(overhead) = &spec.overhead {
        resources::overhead(f, overhead, &format!("{base}.overhead"));
    }
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

/// Node labels the API server warns about, and their replacements.
const DEPRECATED_NODE_LABELS: [(&str, &str, &str); 5] = [
    ("beta.kubernetes.io/os", "v1.14", "kubernetes.io/os"),
    ("beta.kubernetes.io/arch", "v1.14", "kubernetes.io/arch"),
    (
        "failure-domain.beta.kubernetes.io/zone",
        "v1.17",
        "topology.kubernetes.io/zone",
    ),
    (
        "failure-domain.beta.kubernetes.io/region",
        "v1.17",
        "topology.kubernetes.io/region",
    ),
    (
        "beta.kubernetes.io/instance-type",
        "v1.17",
        "node.kubernetes.io/instance-type",
    ),
];

/// Volume types the API server warns about: (field, what it says).
const DEPRECATED_VOLUMES: [(&str, &str); 9] = [
    (
        "gitRepo",
        "deprecated in v1.11, and disabled by default in v1.33+",
    ),
    (
        "photonPersistentDisk",
        "deprecated in v1.11, non-functional in v1.16+",
    ),
    ("scaleIO", "deprecated in v1.16, non-functional in v1.22+"),
    ("flocker", "deprecated in v1.22, non-functional in v1.25+"),
    ("storageos", "deprecated in v1.22, non-functional in v1.25+"),
    ("quobyte", "deprecated in v1.22, non-functional in v1.25+"),
    ("glusterfs", "deprecated in v1.25, non-functional in v1.26+"),
    ("cephfs", "deprecated in v1.28, non-functional in v1.31+"),
    ("rbd", "deprecated in v1.28, non-functional in v1.31+"),
];

/// What the API server accepts with a warning: deprecated node labels and
/// volume types, duplicate or empty image pull secrets, label selectors
/// that match nothing.
fn deprecations(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    for key in spec.node_selector.iter().flatten().map(|(k, _)| k) {
        if let Some((_, since, instead)) = DEPRECATED_NODE_LABELS.iter().find(|(k, _, _)| k == key)
        {
            f.warning(
                join_key(&format!("{base}.nodeSelector"), key),
                format!("deprecated since {since}, use {instead:?} instead"),
                None,
            );
        }
    }
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| r.node_selector_terms.as_slice())
        .unwrap_or_default();
    for (i, term) in terms.iter().enumerate() {
        for (j, r) in term.match_expressions.iter().flatten().enumerate() {
            if let Some((_, since, instead)) =
                DEPRECATED_NODE_LABELS.iter().find(|(k, _, _)| *k == r.key)
            {
                f.warning(
                    format!("{base}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}].matchExpressions[{j}].key"),
                    format!("{}: deprecated since {since}, use {instead:?} instead", r.key),
                    None,
                );
            }
        }
    }
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let value = serde_json::to_value(v).unwrap_or_default();
        for (field, status) in DEPRECATED_VOLUMES {
            if value.get(field).is_some() {
                f.warning(format!("{base}.volumes[{i}].{field}"), status, None);
            }
        }
        if value.get("rbd").is_some() {
            f.warning(
                format!("{base}.volumes[{i}].rbd"),
                "deprecated in v1.28, non-functional in v1.31+",
                None,
            );
        }
    }
    let mut secrets = std::collections::BTreeSet::new();
    for (i, secret) in spec.image_pull_secrets.iter().flatten().enumerate() {
        let at = format!("{base}.imagePullSecrets[{i}].name");
        if secret.name.is_empty() {
            f.warning(&at, "invalid empty name \"\"", None);
        } else if !secrets.insert(secret.name.as_str()) {
            f.warning(&at, format!("duplicate name {:?}", secret.name), None);
        }
    }
    for (i, c) in spec
        .topology_spread_constraints
        .iter()
        .flatten()
        .enumerate()
    {
        if c.label_selector.is_none() {
            f.warning(
                format!("{base}.topologySpreadConstraints[{i}].labelSelector"),
                "a null labelSelector results in matching no pod",
                None,
            );
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
