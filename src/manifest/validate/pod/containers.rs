//! Containers and init containers: names, images, ports, environment,
//! volume mounts, pull and restart policies, and (through the sibling
//! modules) resources, probes and security contexts.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, ContainerPort, PodSpec, VolumeMount};

use super::super::{At, Findings, names};
use super::{env, probes, resources, security, volumes};

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
    env::vars(
        f,
        c.env.as_deref().unwrap_or_default(),
        &format!("{at}.env"),
    );
    env::from(
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
