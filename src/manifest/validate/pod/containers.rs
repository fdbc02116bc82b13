//! Containers and init containers: names, images, ports, environment,
//! volume mounts, pull and restart policies, and (through the sibling
//! modules) resources, probes and security contexts.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, PodSpec, VolumeMount,
};

use super::super::{At, Findings, names};
use super::{probes, resources, security, volumes};

/// Downward-API fields an environment variable may read.
const ENV_FIELDS: [&str; 9] = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// Container resources an environment variable may read.
const ENV_RESOURCES: [&str; 6] = [
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
];

/// Checks every container of `spec` at `base` (the pod spec).
pub(super) fn check(f: &mut Findings<'_>, spec: &PodSpec, volumes: &BTreeSet<String>, base: &str) {
    if spec.containers.is_empty() {
        f.error(
            format!("{base}.containers"),
            "at least one container is required",
            None,
        );
    }
    let grace = spec.termination_grace_period_seconds.unwrap_or(30);
    let host_network = spec.host_network == Some(true);
    let mut seen: BTreeSet<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let at = format!("{base}.initContainers[{i}]");
        common(f, c, volumes, host_network, &at);
        let sidecar = c.restart_policy.as_deref() == Some("Always");
        if let Some(policy) = c.restart_policy.as_deref().filter(|p| *p != "Always") {
            f.error(
                format!("{at}.restartPolicy"),
                format!("unsupported value {policy:?}"),
                Some("an init container's restartPolicy can only be Always (a sidecar)"),
            );
        }
        if !c.name.is_empty() && !seen.insert(&c.name) {
            duplicate_name(f, &c.name, &at);
        }
        if sidecar {
            probes::container(f, c, grace, &at);
        } else {
            for (field, set) in [
                ("lifecycle", c.lifecycle.is_some()),
                ("livenessProbe", c.liveness_probe.is_some()),
                ("readinessProbe", c.readiness_probe.is_some()),
                ("startupProbe", c.startup_probe.is_some()),
            ] {
                if set {
                    f.error(
                        format!("{at}.{field}"),
                        "may not be set for init containers without restartPolicy: Always",
                        None,
                    );
                }
            }
        }
    }
    let mut names: BTreeSet<&str> = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let at = format!("{base}.containers[{i}]");
        common(f, c, volumes, host_network, &at);
        if !names.insert(&c.name) {
            duplicate_name(f, &c.name, &at);
        }
        probes::container(f, c, grace, &at);
        resize_policy(f, c, spec.restart_policy.as_deref(), &at);
        if c.restart_policy.is_some() {
            f.error(
                format!("{at}.restartPolicy"),
                "may not be set for non-init containers",
                Some("only init containers take a restartPolicy (Always makes a sidecar)"),
            );
        }
    }
    host_ports(f, spec, base);
    shared_ports(f, spec, base);
}

/// How a container's resources may be resized in place.
fn resize_policy(f: &mut Findings<'_>, c: &Container, pod_restart: Option<&str>, at: &str) {
    let at = format!("{at}.resizePolicy");
    let mut seen = BTreeSet::new();
    for (i, p) in c.resize_policy.iter().flatten().enumerate() {
        if !seen.insert(p.resource_name.as_str()) {
            f.error(
                format!("{at}[{i}]"),
                format!("duplicate resource {:?}", p.resource_name),
                None,
            );
        }
        if !["cpu", "memory"].contains(&p.resource_name.as_str()) {
            f.error(
                &at,
                format!("unsupported resource {:?}", p.resource_name),
                Some("use cpu or memory"),
            );
        }
        if !["NotRequired", "RestartContainer"].contains(&p.restart_policy.as_str()) {
            f.error(
                &at,
                format!("unsupported restart policy {:?}", p.restart_policy),
                Some("use NotRequired or RestartContainer"),
            );
        } else if pod_restart == Some("Never") && p.restart_policy != "NotRequired" {
            f.error(
                &at,
                "must be NotRequired when the pod's restartPolicy is Never",
                None,
            );
        }
    }
}

fn duplicate_name(f: &mut Findings<'_>, name: &str, at: &str) {
    f.error(
        format!("{at}.name"),
        format!("duplicate container name {name:?}"),
        Some("container and init container names must be unique within a pod"),
    );
}

/// What containers and init containers share.
fn common(
    f: &mut Findings<'_>,
    c: &Container,
    volumes: &BTreeSet<String>,
    host_network: bool,
    at: &str,
) {
    if c.name.is_empty() {
        f.error(format!("{at}.name"), "required field is missing", None);
    } else if let Err(e) = names::dns_label(&c.name) {
        f.error(
            format!("{at}.name"),
            format!("invalid container name {:?}: {e}", c.name),
            None,
        );
    }
    match c.image.as_deref() {
        None | Some("") => f.error(
            format!("{at}.image"),
            "required field is missing",
            Some("name the container image to run"),
        ),
        Some(image) if image.trim() != image => f.warning(
            format!("{at}.image"),
            format!("{image:?} has leading or trailing whitespace: the Job is accepted, but each of its pods will be refused"),
            Some("remove the spaces"),
        ),
        Some(_) => {}
    }
    f.one_of(
        At(at, "imagePullPolicy"),
        c.image_pull_policy.as_deref(),
        &["Always", "IfNotPresent", "Never"],
    );
    // An empty policy is defaulted to File.
    f.one_of(
        At(at, "terminationMessagePolicy"),
        c.termination_message_policy
            .as_deref()
            .filter(|p| !p.is_empty()),
        &["File", "FallbackToLogsOnError"],
    );
    ports(
        f,
        c.ports.as_deref().unwrap_or_default(),
        host_network,
        &format!("{at}.ports"),
    );
    env(
        f,
        c.env.as_deref().unwrap_or_default(),
        &format!("{at}.env"),
    );
    env_from(
        f,
        c.env_from.as_deref().unwrap_or_default(),
        &format!("{at}.envFrom"),
    );
    let privileged = c
        .security_context
        .as_ref()
        .is_some_and(|sc| sc.privileged == Some(true));
    mounts(
        f,
        c.volume_mounts.as_deref().unwrap_or_default(),
        volumes,
        privileged,
        &format!("{at}.volumeMounts"),
    );
    if let Some(r) = &c.resources {
        resources::container(f, r, &format!("{at}.resources"));
    }
    if let Some(sc) = &c.security_context {
        security::container(f, sc, &format!("{at}.securityContext"));
    }
}

fn ports(f: &mut Findings<'_>, ports: &[ContainerPort], host_network: bool, at: &str) {
    let mut seen = BTreeSet::new();
    for (i, p) in ports.iter().enumerate() {
        let at = format!("{at}[{i}]");
        if let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) {
            if let Err(e) = names::port_name(name) {
                f.error(
                    format!("{at}.name"),
                    format!("invalid port name {name:?}: {e}"),
                    None,
                );
            } else if !seen.insert(name) {
                f.error(
                    format!("{at}.name"),
                    format!("duplicate port name {name:?}"),
                    Some("port names must be unique within a container"),
                );
            }
        }
        if p.container_port == 0 {
            f.error(
                format!("{at}.containerPort"),
                "required field is missing",
                None,
            );
        } else if let Err(e) = names::port_number(p.container_port.into()) {
            f.error(format!("{at}.containerPort"), e, None);
        }
        if let Some(host) = p.host_port.filter(|h| *h != 0) {
            if let Err(e) = names::port_number(host.into()) {
                f.error(format!("{at}.hostPort"), e, None);
            } else if host_network && host != p.container_port {
                f.error(
                    format!("{at}.hostPort"),
                    format!(
                        "must match containerPort {} when hostNetwork is true",
                        p.container_port
                    ),
                    None,
                );
            }
        }
        f.one_of(
            At(&at, "protocol"),
            p.protocol.as_deref().filter(|p| !p.is_empty()),
            &["TCP", "UDP", "SCTP"],
        );
    }
}

/// Two containers may not claim one host port with one protocol.
fn host_ports(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    let mut taken: BTreeSet<(i32, String)> = BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let Some(host) = p.host_port.filter(|h| *h != 0) else {
                continue;
            };
            let protocol = p
                .protocol
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or("TCP".into());
            if !taken.insert((host, protocol.clone())) {
                f.error(
                    format!("{base}.containers[{i}].ports[{j}].hostPort"),
                    format!("host port {host}/{protocol} is already used by another container"),
                    None,
                );
            }
        }
    }
}

/// Ports that two containers of the pod (or one twice) define alike: the
/// API server accepts them and warns, as Services and probes that pick a
/// port by name or number get the first.
fn shared_ports(f: &mut Findings<'_>, spec: &PodSpec, base: &str) {
    let mut numbers: Vec<((i32, String), String)> = Vec::new();
    let mut names: Vec<(&str, String)> = Vec::new();
    let all = spec
        .init_containers
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, c)| (format!("{base}.initContainers[{i}]"), c))
        .chain(
            spec.containers
                .iter()
                .enumerate()
                .map(|(i, c)| (format!("{base}.containers[{i}]"), c)),
        );
    for (at, c) in all {
        for (j, p) in c.ports.iter().flatten().enumerate() {
            let here = format!("{at}.ports[{j}]");
            let protocol = p
                .protocol
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or("TCP".into());
            let key = (p.container_port, protocol);
            if let Some((_, first)) = numbers.iter().find(|(k, _)| *k == key) {
                f.warning(
                    &here,
                    format!("duplicate port definition with {first}"),
                    Some("remove one of them"),
                );
            } else {
                numbers.push((key, here.clone()));
            }
            let Some(name) = p.name.as_deref().filter(|n| !n.is_empty()) else {
                continue;
            };
            match names.iter().find(|(n, _)| *n == name) {
                // The same name twice in one container is an error (above).
                Some((_, first)) if !first.starts_with(&format!("{at}.")) => f.warning(
                    &here,
                    format!("duplicate port name {name:?} with {first}: Services and probes that select the port by name use {first}"),
                    None,
                ),
                Some(_) => {}
                None => names.push((name, here.clone())),
            }
        }
    }
}

fn env(f: &mut Findings<'_>, vars: &[EnvVar], at: &str) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for (i, var) in vars.iter().enumerate() {
        let at = format!("{at}[{i}]");
        if var.name.is_empty() {
            f.error(format!("{at}.name"), "required field is missing", None);
        } else if !var
            .name
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
        {
            f.error(
                format!("{at}.name"),
                format!("invalid environment variable name {:?}", var.name),
                Some("use printable ASCII characters other than '='"),
            );
        } else if !seen.insert(&var.name) {
            f.warning(
                format!("{at}.name"),
                format!("environment variable {:?} is defined more than once: only the last value is used", var.name),
                Some("remove the earlier definition (kubectl apply may also drop one of them)"),
            );
        }
        let Some(from) = &var.value_from else {
            continue;
        };
        let at = format!("{at}.valueFrom");
        let sources = [
            from.field_ref.is_some(),
            from.resource_field_ref.is_some(),
            from.config_map_key_ref.is_some(),
            from.secret_key_ref.is_some(),
        ]
        .iter()
        .filter(|s| **s)
        .count();
        if sources == 0 {
            f.error(
                &at,
                "must specify one of: fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef",
                None,
            );
        } else if var.value.as_deref().is_some_and(|v| !v.is_empty()) {
            f.error(
                &at,
                "may not be specified when value is not empty",
                Some("keep one of value and valueFrom"),
            );
        } else if sources > 1 {
            f.error(
                &at,
                "may not have more than one field specified at a time",
                None,
            );
        }
        if let Some(field) = &from.field_ref {
            field_path(f, &field.field_path, &format!("{at}.fieldRef"));
        }
        if let Some(resource) = &from.resource_field_ref {
            let r = resource.resource.as_str();
            let hugepages =
                r.starts_with("requests.hugepages-") || r.starts_with("limits.hugepages-");
            if r.is_empty() {
                f.error(
                    format!("{at}.resourceFieldRef.resource"),
                    "required field is missing",
                    None,
                );
            } else if !ENV_RESOURCES.contains(&r) && !hugepages {
                f.error(
                    format!("{at}.resourceFieldRef.resource"),
                    format!("unsupported value {r:?}"),
                    Some(&format!("use one of: {}", ENV_RESOURCES.join(", "))),
                );
            }
        }
        if let Some(key) = &from.config_map_key_ref {
            key_ref(f, &key.name, &key.key, &format!("{at}.configMapKeyRef"));
        }
        if let Some(key) = &from.secret_key_ref {
            key_ref(f, &key.name, &key.key, &format!("{at}.secretKeyRef"));
        }
    }
}

/// A downward-API field an environment variable reads.
fn field_path(f: &mut Findings<'_>, path: &str, at: &str) {
    if path.is_empty() {
        f.error(format!("{at}.fieldPath"), "required field is missing", None);
        return;
    }
    if let Some((map, rest)) = path.split_once('[') {
        let key = rest
            .strip_suffix(']')
            .and_then(|k| k.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')));
        match (map, key) {
            ("metadata.labels", Some(key)) => {
                if let Err(e) = names::qualified_name(key) {
                    f.error(at, format!("invalid label key {key:?}: {e}"), None);
                }
            }
            ("metadata.annotations", Some(key)) => {
                if let Err(e) = names::qualified_name(&key.to_ascii_lowercase()) {
                    f.error(at, format!("invalid annotation key {key:?}: {e}"), None);
                }
            }
            _ => f.error(
                at,
                format!("{path:?}: {map} does not support subscript"),
                None,
            ),
        }
        return;
    }
    if !ENV_FIELDS.contains(&path) {
        f.error(
            format!("{at}.fieldPath"),
            format!("unsupported value {path:?}"),
            Some(&format!(
                "use one of: {} (or metadata.labels['KEY'], metadata.annotations['KEY'])",
                ENV_FIELDS.join(", ")
            )),
        );
    }
}

/// A ConfigMap or Secret key reference.
fn key_ref(f: &mut Findings<'_>, name: &str, key: &str, at: &str) {
    if name.is_empty() {
        f.error(format!("{at}.name"), "required field is missing", None);
    } else if let Err(e) = names::dns_subdomain(name) {
        f.error(
            format!("{at}.name"),
            format!("invalid name {name:?}: {e}"),
            super::placeholder_hint(name),
        );
    }
    if key.is_empty() {
        f.error(format!("{at}.key"), "required field is missing", None);
    } else if let Err(e) = names::config_key(key) {
        f.error(
            format!("{at}.key"),
            format!("invalid key {key:?}: {e}"),
            None,
        );
    }
}

fn env_from(f: &mut Findings<'_>, sources: &[EnvFromSource], at: &str) {
    for (i, s) in sources.iter().enumerate() {
        let at = format!("{at}[{i}]");
        if let Some(prefix) = s.prefix.as_deref().filter(|p| !p.is_empty())
            && !prefix
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'=')
        {
            f.error(
                format!("{at}.prefix"),
                format!("invalid environment variable prefix {prefix:?}"),
                Some("use printable ASCII characters other than '='"),
            );
        }
        let refs = [
            (
                "configMapRef",
                s.config_map_ref.as_ref().map(|r| r.name.as_str()),
            ),
            ("secretRef", s.secret_ref.as_ref().map(|r| r.name.as_str())),
        ];
        let given: Vec<(&str, &str)> = refs
            .into_iter()
            .filter_map(|(field, name)| name.map(|n| (field, n)))
            .collect();
        match given.as_slice() {
            [] => f.error(&at, "must specify one of: configMapRef or secretRef", None),
            [(field, name)] => {
                if name.is_empty() {
                    f.error(
                        format!("{at}.{field}.name"),
                        "required field is missing",
                        None,
                    );
                } else if let Err(e) = names::dns_subdomain(name) {
                    f.error(
                        format!("{at}.{field}.name"),
                        format!("invalid name {name:?}: {e}"),
                        super::placeholder_hint(name),
                    );
                }
            }
            _ => f.error(
                &at,
                "may not have more than one field specified at a time",
                None,
            ),
        }
    }
}

fn mounts(
    f: &mut Findings<'_>,
    mounts: &[VolumeMount],
    volumes: &BTreeSet<String>,
    privileged: bool,
    at: &str,
) {
    let mut paths = BTreeSet::new();
    for (i, m) in mounts.iter().enumerate() {
        let item = format!("{at}[{i}]");
        if m.name.is_empty() {
            f.error(format!("{item}.name"), "required field is missing", None);
        }
        if !volumes.contains(&m.name) {
            f.error(
                format!("{item}.name"),
                format!("no volume named {:?} in this pod", m.name),
                Some("add it to the pod's volumes, or mount one that is there"),
            );
        }
        if m.mount_path.is_empty() {
            f.error(
                format!("{item}.mountPath"),
                "required field is missing",
                None,
            );
        }
        if !paths.insert(m.mount_path.as_str()) {
            f.error(
                format!("{item}.mountPath"),
                format!("{:?} must be unique: another mount uses it", m.mount_path),
                None,
            );
        }
        for (field, value) in [("subPath", &m.sub_path), ("subPathExpr", &m.sub_path_expr)] {
            let Some(path) = value.as_deref().filter(|p| !p.is_empty()) else {
                continue;
            };
            if path.starts_with('/') {
                f.error(
                    format!("{item}.{field}"),
                    format!("{path:?} must be a relative path"),
                    None,
                );
            }
            volumes::no_backsteps(f, path, &format!("{item}.{field}"));
        }
        if m.sub_path.as_deref().is_some_and(|p| !p.is_empty())
            && m.sub_path_expr.as_deref().is_some_and(|p| !p.is_empty())
        {
            f.error(
                format!("{item}.subPathExpr"),
                "subPathExpr and subPath are mutually exclusive",
                None,
            );
        }
        if let Some(p) = m.mount_propagation.as_deref() {
            match p {
                "None" | "HostToContainer" => {}
                "Bidirectional" if privileged => {}
                "Bidirectional" => f.error(
                    format!("{item}.mountPropagation"),
                    "Bidirectional mount propagation is available only to privileged containers",
                    None,
                ),
                other => f.error(
                    format!("{item}.mountPropagation"),
                    format!("unsupported value {other:?}"),
                    Some("use one of: None, HostToContainer, Bidirectional"),
                ),
            }
        }
    }
}
