//! A container's environment: variable names, values from the downward
//! API, resources, ConfigMaps and Secrets, and whole ConfigMaps and Secrets
//! through `envFrom`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{EnvFromSource, EnvVar};

use super::super::{Findings, names};

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

/// A container's `env` at `at`.
pub(super) fn vars(f: &mut Findings<'_>, vars: &[EnvVar], at: &str) {
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

/// A container's `envFrom` at `at`.
pub(super) fn from(f: &mut Findings<'_>, sources: &[EnvFromSource], at: &str) {
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
