//! The pod template of a Job: restart policy and containers.

use k8s_openapi::api::core::v1::{Container, PodTemplateSpec};

use super::{At, Findings, meta, names};

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
    f.non_negative(
        At(&base, "terminationGracePeriodSeconds"),
        spec.termination_grace_period_seconds,
    );
    if let Some(d) = spec.active_deadline_seconds.filter(|d| *d <= 0) {
        f.error(
            format!("{base}.activeDeadlineSeconds"),
            format!("must be greater than 0, not {d}"),
            None,
        );
    }
    if spec.containers.is_empty() {
        f.error(
            format!("{base}.containers"),
            "at least one container is required",
            None,
        );
    }
    let mut seen: Vec<&str> = Vec::new();
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
    for (path, c) in all {
        if !c.name.is_empty() && seen.contains(&c.name.as_str()) {
            f.error(
                format!("{path}.name"),
                format!("duplicate container name {:?}", c.name),
                Some("container and init container names must be unique within a pod"),
            );
        }
        seen.push(&c.name);
        container(f, c, &path);
    }
}

fn container(f: &mut Findings<'_>, c: &Container, path: &str) {
    if c.name.is_empty() {
        f.error(format!("{path}.name"), "required field is missing", None);
    } else if let Err(e) = names::dns_label(&c.name) {
        f.error(
            format!("{path}.name"),
            format!("invalid container name {:?}: {e}", c.name),
            None,
        );
    }
    if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        f.error(
            format!("{path}.image"),
            "required field is missing",
            Some("name the container image to run"),
        );
    }
    f.one_of(
        At(path, "imagePullPolicy"),
        c.image_pull_policy.as_deref(),
        &["Always", "IfNotPresent", "Never"],
    );
    for (i, env) in c.env.iter().flatten().enumerate() {
        let valid = !env.name.is_empty()
            && env
                .name
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'=');
        if !valid {
            f.error(
                format!("{path}.env[{i}].name"),
                format!("invalid environment variable name {:?}", env.name),
                Some("use printable ASCII characters other than '='"),
            );
        }
        if env.value.is_some() && env.value_from.is_some() {
            f.error(
                format!("{path}.env[{i}]"),
                "value and valueFrom are both set",
                Some("keep one of them"),
            );
        }
    }
    for (i, port) in c.ports.iter().flatten().enumerate() {
        if !(1..=65535).contains(&port.container_port) {
            f.error(
                format!("{path}.ports[{i}].containerPort"),
                format!("{} is not a port number (1-65535)", port.container_port),
                None,
            );
        }
    }
}
