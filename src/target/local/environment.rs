//! A container's environment, made as the kubelet's
//! `makeEnvironmentVariables` makes it (`pkg/kubelet/kubelet_pods.go`):
//! the variables Kubernetes sets, then every
//! `envFrom` ConfigMap's or Secret's data (with its `prefix`), then `env`
//! in order, each value expanding `$(VAR)` from what came before, or taken
//! from its `valueFrom`: the downward API ([`super::downward`]), a
//! ConfigMap key or a Secret key. ConfigMaps are the ones the revision
//! applied, Secrets come from the local target's store
//! ([`super::secrets`]). A ConfigMap, Secret or key that is missing fails
//! the container (`CreateContainerConfigError`) unless the reference is
//! `optional`, and an optional key that is missing leaves its variable
//! unset.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Container;

use super::container::expand;
use super::downward;

/// ConfigMaps' `data`, by name, in the pod's namespace.
pub type ConfigMaps = BTreeMap<String, BTreeMap<String, String>>;

/// Secrets' data, by name, in the pod's namespace.
pub type Secrets = BTreeMap<String, super::secrets::Data>;

/// The pod a container runs in, as its environment sees it.
#[derive(Debug, Clone, Copy)]
pub struct Pod<'a> {
    /// The variables Kubernetes sets (HOSTNAME, JOB_COMPLETION_INDEX).
    pub provided: &'a [(String, String)],
    /// What the downward API tells.
    pub facts: &'a downward::Pod,
    /// The pod's containers (a `resourceFieldRef` may name another).
    pub containers: &'a [Container],
    /// The ConfigMaps the containers name that exist; None when they were
    /// not looked up (a Job checked before it runs: any reference goes).
    pub config_maps: Option<&'a ConfigMaps>,
    /// The Secrets they name that are stored, likewise.
    pub secrets: Option<&'a Secrets>,
}

/// Why the environment cannot be made: the field (below the container)
/// and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// E.g. `env[2].valueFrom.configMapKeyRef`.
    pub field: String,
    /// What is wrong, and what to do.
    pub problem: String,
    /// Whether a ConfigMap or key it needs is missing (the kubelet's
    /// `CreateContainerConfigError`), rather than something the local
    /// target cannot do.
    pub missing: bool,
}

/// The names of the ConfigMaps and of the Secrets `containers` read their
/// environment from.
pub fn named(containers: &[&Container]) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut maps, mut secrets) = (BTreeSet::new(), BTreeSet::new());
    for c in containers {
        for from in c.env_from.iter().flatten() {
            if let Some(map) = &from.config_map_ref {
                maps.insert(map.name.clone());
            }
            if let Some(secret) = &from.secret_ref {
                secrets.insert(secret.name.clone());
            }
        }
        for from in c.env.iter().flatten().filter_map(|v| v.value_from.as_ref()) {
            if let Some(key) = &from.config_map_key_ref {
                maps.insert(key.name.clone());
            }
            if let Some(key) = &from.secret_key_ref {
                secrets.insert(key.name.clone());
            }
        }
    }
    (maps, secrets)
}

/// Where a variable's values come from: a ConfigMap or a Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    /// As the kubelet names it in "… not found".
    fn lower(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmap",
            Kind::Secret => "secret",
        }
    }

    /// How to provide one.
    fn remedy(self) -> &'static str {
        match self {
            Kind::ConfigMap => "apply it with the revision, or mark the reference optional",
            Kind::Secret => {
                "create it with `jobcd local secret create NAME -n NAMESPACE --from-literal KEY=VALUE …`, or mark the reference optional"
            }
        }
    }
}

/// One object's values, as text.
type Values = BTreeMap<String, String>;

/// What a lookup found.
enum Found {
    /// Its values.
    Values(Values),
    /// None of that name.
    Missing,
    /// Not looked up.
    Unknown,
}

fn lookup(pod: &Pod<'_>, kind: Kind, name: &str) -> Found {
    match kind {
        Kind::ConfigMap => match pod.config_maps {
            None => Found::Unknown,
            Some(maps) => maps
                .get(name)
                .map_or(Found::Missing, |d| Found::Values(d.clone())),
        },
        // A value is bytes; the environment is text (as Go's string()).
        Kind::Secret => match pod.secrets {
            None => Found::Unknown,
            Some(secrets) => secrets.get(name).map_or(Found::Missing, |d| {
                Found::Values(
                    d.iter()
                        .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                        .collect(),
                )
            }),
        },
    }
}

/// `container`'s environment in `pod`.
pub fn of(container: &Container, pod: Pod<'_>) -> Result<Vec<(String, String)>, Problem> {
    let problem = |field: String, problem: String| Problem {
        field,
        problem,
        missing: false,
    };
    let absent = |field: String, kind: Kind, what: String| Problem {
        field,
        problem: format!(
            "CreateContainerConfigError: {what} in namespace {:?} (on a cluster the pod would wait for it): {}",
            pod.facts.namespace,
            kind.remedy()
        ),
        missing: true,
    };
    let mut env: Vec<(String, String)> = Vec::new();
    set_all(&mut env, pod.provided);
    for (i, from) in container.env_from.iter().flatten().enumerate() {
        let (kind, field, name, optional) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(r), _) => (Kind::ConfigMap, "configMapRef", &r.name, r.optional),
            (None, Some(r)) => (Kind::Secret, "secretRef", &r.name, r.optional),
            (None, None) => continue,
        };
        match lookup(&pod, kind, name) {
            Found::Values(values) => {
                let prefix = from.prefix.as_deref().unwrap_or_default();
                for (key, value) in values {
                    set_all(&mut env, &[(format!("{prefix}{key}"), value)]);
                }
            }
            Found::Missing if optional != Some(true) => {
                return Err(absent(
                    format!("envFrom[{i}].{field}"),
                    kind,
                    format!("{} {name:?} not found", kind.lower()),
                ));
            }
            Found::Missing | Found::Unknown => {}
        }
    }
    for (i, var) in container.env.iter().flatten().enumerate() {
        let field = |what: &str| format!("env[{i}].valueFrom.{what}");
        let value = match &var.value_from {
            None => expand(var.value.as_deref().unwrap_or_default(), &env),
            Some(from) => {
                let reference = match (&from.config_map_key_ref, &from.secret_key_ref) {
                    (Some(r), _) => Some((
                        Kind::ConfigMap,
                        "configMapKeyRef",
                        &r.name,
                        &r.key,
                        r.optional,
                    )),
                    (None, Some(r)) => {
                        Some((Kind::Secret, "secretKeyRef", &r.name, &r.key, r.optional))
                    }
                    (None, None) => None,
                };
                if let Some((kind, what, name, key, optional)) = reference {
                    let optional = optional == Some(true);
                    match lookup(&pod, kind, name) {
                        Found::Values(mut values) => match values.remove(key) {
                            Some(value) => value,
                            None if optional => continue,
                            None => {
                                return Err(absent(
                                    field(what),
                                    kind,
                                    format!("couldn't find key {key:?} in {kind:?} {name:?}"),
                                ));
                            }
                        },
                        Found::Missing if optional => continue,
                        Found::Missing => {
                            return Err(absent(
                                field(what),
                                kind,
                                format!("{} {name:?} not found", kind.lower()),
                            ));
                        }
                        Found::Unknown => String::new(),
                    }
                } else if let Some(selector) = &from.field_ref {
                    downward::field(pod.facts, selector)
                        .map_err(|e| problem(field("fieldRef"), e))?
                } else if let Some(selector) = &from.resource_field_ref {
                    downward::resource(selector, container, pod.containers, &pod.facts.node)
                        .map_err(|e| problem(field("resourceFieldRef"), e))?
                } else {
                    String::new()
                }
            }
        };
        set_all(&mut env, &[(var.name.clone(), value)]);
    }
    Ok(env)
}

fn set_all(env: &mut Vec<(String, String)>, vars: &[(String, String)]) {
    for (name, value) in vars {
        match env.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value.clone(),
            None => env.push((name.clone(), value.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{
        ConfigMapEnvSource, ConfigMapKeySelector, EnvFromSource, EnvVar, EnvVarSource,
    };

    fn facts() -> downward::Pod {
        downward::Pod {
            name: "p".into(),
            namespace: "batch".into(),
            ..downward::Pod::default()
        }
    }

    fn key_ref(name: &str, map: &str, key: &str, optional: bool) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(EnvVarSource {
                config_map_key_ref: Some(ConfigMapKeySelector {
                    name: map.into(),
                    key: key.into(),
                    optional: optional.then_some(true),
                }),
                ..EnvVarSource::default()
            }),
        }
    }

    fn from(map: &str, prefix: Option<&str>, optional: bool) -> EnvFromSource {
        EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource {
                name: map.into(),
                optional: optional.then_some(true),
            }),
            prefix: prefix.map(String::from),
            secret_ref: None,
        }
    }

    fn env_of(c: &Container, maps: Option<&ConfigMaps>) -> Result<Vec<(String, String)>, Problem> {
        env_with(c, maps, None)
    }

    fn env_with(
        c: &Container,
        maps: Option<&ConfigMaps>,
        secrets: Option<&Secrets>,
    ) -> Result<Vec<(String, String)>, Problem> {
        let facts = facts();
        of(
            c,
            Pod {
                provided: &[],
                facts: &facts,
                containers: std::slice::from_ref(c),
                config_maps: maps,
                secrets,
            },
        )
    }

    fn maps() -> ConfigMaps {
        BTreeMap::from([(
            "settings".to_string(),
            BTreeMap::from([
                ("MODE".to_string(), "prod".to_string()),
                ("LEVEL".to_string(), "3".to_string()),
            ]),
        )])
    }

    #[test]
    fn env_from_and_key_refs_read_config_maps_and_env_expands_them() {
        let c = Container {
            name: "c".into(),
            env_from: Some(vec![
                from("settings", None, false),
                from("settings", Some("APP_"), false),
                from("absent", None, true),
            ]),
            env: Some(vec![
                key_ref("ONE", "settings", "LEVEL", false),
                key_ref("SKIPPED", "settings", "NOPE", true),
                key_ref("ALSO_SKIPPED", "absent", "X", true),
                EnvVar {
                    name: "SAY".into(),
                    value: Some("$(MODE)/$(APP_LEVEL)/$(SKIPPED)".into()),
                    value_from: None,
                },
                // env overrides what envFrom set.
                EnvVar {
                    name: "MODE".into(),
                    value: Some("mine".into()),
                    value_from: None,
                },
            ]),
            ..Container::default()
        };
        let env: BTreeMap<String, String> =
            env_of(&c, Some(&maps())).unwrap().into_iter().collect();
        assert_eq!(env["MODE"], "mine");
        assert_eq!(env["LEVEL"], "3");
        assert_eq!(env["APP_MODE"], "prod");
        assert_eq!(env["ONE"], "3");
        assert_eq!(env["SAY"], "prod/3/$(SKIPPED)");
        assert!(!env.contains_key("SKIPPED") && !env.contains_key("ALSO_SKIPPED"));
    }

    #[test]
    fn a_missing_config_map_or_key_fails_the_container_unless_optional() {
        let needs = |c: Container| env_of(&c, Some(&maps())).unwrap_err();
        let e = needs(Container {
            env_from: Some(vec![from("absent", None, false)]),
            ..Container::default()
        });
        assert_eq!(e.field, "envFrom[0].configMapRef");
        assert!(e.missing);
        assert!(
            e.problem.starts_with(
                "CreateContainerConfigError: configmap \"absent\" not found in namespace \"batch\""
            ),
            "{}",
            e.problem
        );
        let e = needs(Container {
            env: Some(vec![key_ref("X", "settings", "NOPE", false)]),
            ..Container::default()
        });
        assert_eq!(e.field, "env[0].valueFrom.configMapKeyRef");
        assert!(
            e.problem
                .contains("couldn't find key \"NOPE\" in ConfigMap \"settings\""),
            "{}",
            e.problem
        );
        // Not looked up (checked before running): accepted.
        let c = Container {
            env_from: Some(vec![from("absent", None, false)]),
            ..Container::default()
        };
        assert!(env_of(&c, None).is_ok());
        assert_eq!(
            named(&[&Container {
                env: Some(vec![key_ref("X", "b", "k", false)]),
                ..c.clone()
            }])
            .0,
            BTreeSet::from(["absent".to_string(), "b".to_string()])
        );
    }

    #[test]
    fn secrets_are_read_like_config_maps_and_never_named_by_value() {
        use k8s_openapi::api::core::v1::{SecretEnvSource, SecretKeySelector};
        let secrets = Secrets::from([(
            "db".to_string(),
            BTreeMap::from([("password".to_string(), b"s3cret".to_vec())]),
        )]);
        let c = Container {
            env_from: Some(vec![EnvFromSource {
                secret_ref: Some(SecretEnvSource {
                    name: "db".into(),
                    optional: None,
                }),
                prefix: Some("DB_".into()),
                config_map_ref: None,
            }]),
            env: Some(vec![EnvVar {
                name: "PASSWORD".into(),
                value: None,
                value_from: Some(EnvVarSource {
                    secret_key_ref: Some(SecretKeySelector {
                        name: "db".into(),
                        key: "password".into(),
                        optional: None,
                    }),
                    ..EnvVarSource::default()
                }),
            }]),
            ..Container::default()
        };
        let env: BTreeMap<String, String> = env_with(&c, None, Some(&secrets))
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(env["DB_password"], "s3cret");
        assert_eq!(env["PASSWORD"], "s3cret");
        let mut wrong = c.clone();
        wrong.env_from = None;
        wrong.env.as_mut().unwrap()[0]
            .value_from
            .as_mut()
            .unwrap()
            .secret_key_ref
            .as_mut()
            .unwrap()
            .key = "user".into();
        let e = env_with(&wrong, None, Some(&secrets)).unwrap_err();
        assert!(e.missing);
        assert!(
            e.problem
                .contains("couldn't find key \"user\" in Secret \"db\"")
                && e.problem.contains("jobcd local secret create")
                && !e.problem.contains("s3cret"),
            "{}",
            e.problem
        );
    }
}
