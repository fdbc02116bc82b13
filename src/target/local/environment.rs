//! A container's environment, made as the kubelet's
//! `makeEnvironmentVariables` makes it (`pkg/kubelet/kubelet_pods.go`): a
//! container-like base and the variables Kubernetes sets, then every
//! `envFrom` ConfigMap's `data` (with its `prefix`), then `env` in order,
//! each value expanding `$(VAR)` from what came before, or taken from its
//! `valueFrom`: the downward API ([`super::downward`]) or a ConfigMap key.
//! A ConfigMap or key that is missing fails the container
//! (`CreateContainerConfigError`) unless the reference is `optional`, and
//! an optional key that is missing leaves its variable unset. Secrets are
//! not held by the local target yet: a reference to one is refused.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Container;

use super::container::{DEFAULT_PATH, expand};
use super::downward;

/// ConfigMaps' `data`, by name, in the pod's namespace.
pub type ConfigMaps = BTreeMap<String, BTreeMap<String, String>>;

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

/// The names of the ConfigMaps `containers` read their environment from.
pub fn config_maps_named(containers: &[&Container]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for c in containers {
        for from in c.env_from.iter().flatten() {
            if let Some(map) = &from.config_map_ref {
                names.insert(map.name.clone());
            }
        }
        for var in c.env.iter().flatten() {
            if let Some(key) = var
                .value_from
                .as_ref()
                .and_then(|v| v.config_map_key_ref.as_ref())
            {
                names.insert(key.name.clone());
            }
        }
    }
    names
}

/// What a lookup of a ConfigMap found.
enum Found<'a> {
    /// Its data.
    Data(&'a BTreeMap<String, String>),
    /// None of that name.
    Missing,
    /// Not looked up.
    Unknown,
}

fn lookup<'a>(pod: &Pod<'a>, name: &str) -> Found<'a> {
    match pod.config_maps {
        None => Found::Unknown,
        Some(maps) => maps.get(name).map_or(Found::Missing, Found::Data),
    }
}

/// `container`'s environment in `pod`.
pub fn of(container: &Container, pod: Pod<'_>) -> Result<Vec<(String, String)>, Problem> {
    let problem = |field: String, problem: String| Problem {
        field,
        problem,
        missing: false,
    };
    let absent = |field: String, problem: String| Problem {
        field,
        problem,
        missing: true,
    };
    let missing = |what: String| {
        format!(
            "CreateContainerConfigError: {what} in namespace {:?} (on a cluster the pod would wait for it): apply it with the revision, or mark the reference optional",
            pod.facts.namespace
        )
    };
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), "/root".into()),
    ];
    set_all(&mut env, pod.provided);
    for (i, from) in container.env_from.iter().flatten().enumerate() {
        if from.secret_ref.is_some() {
            return Err(problem(format!("envFrom[{i}].secretRef"), SECRETS.into()));
        }
        let Some(reference) = &from.config_map_ref else {
            continue;
        };
        let optional = reference.optional == Some(true);
        match lookup(&pod, &reference.name) {
            Found::Data(data) => {
                let prefix = from.prefix.as_deref().unwrap_or_default();
                for (key, value) in data {
                    set_all(&mut env, &[(format!("{prefix}{key}"), value.clone())]);
                }
            }
            Found::Missing if !optional => {
                return Err(absent(
                    format!("envFrom[{i}].configMapRef"),
                    missing(format!("configmap {:?} not found", reference.name)),
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
                if let Some(selector) = &from.field_ref {
                    downward::field(pod.facts, selector)
                        .map_err(|e| problem(field("fieldRef"), e))?
                } else if let Some(selector) = &from.resource_field_ref {
                    downward::resource(selector, container, pod.containers, &pod.facts.node)
                        .map_err(|e| problem(field("resourceFieldRef"), e))?
                } else if let Some(key) = &from.config_map_key_ref {
                    let optional = key.optional == Some(true);
                    match lookup(&pod, &key.name) {
                        Found::Data(data) => match data.get(&key.key) {
                            Some(value) => value.clone(),
                            None if optional => continue,
                            None => {
                                return Err(absent(
                                    field("configMapKeyRef"),
                                    missing(format!(
                                        "couldn't find key {:?} in ConfigMap {:?}",
                                        key.key, key.name
                                    )),
                                ));
                            }
                        },
                        Found::Missing if optional => continue,
                        Found::Missing => {
                            return Err(absent(
                                field("configMapKeyRef"),
                                missing(format!("configmap {:?} not found", key.name)),
                            ));
                        }
                        Found::Unknown => String::new(),
                    }
                } else {
                    return Err(problem(field("secretKeyRef"), SECRETS.into()));
                }
            }
        };
        set_all(&mut env, &[(var.name.clone(), value)]);
    }
    Ok(env)
}

/// Why a Secret reference is refused.
const SECRETS: &str = "Secrets are not held by the local target yet (they must never be in git in plain text); give the value another way, or run on a cluster";

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
        let facts = facts();
        of(
            c,
            Pod {
                provided: &[],
                facts: &facts,
                containers: std::slice::from_ref(c),
                config_maps: maps,
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
            config_maps_named(&[&Container {
                env: Some(vec![key_ref("X", "b", "k", false)]),
                ..c.clone()
            }]),
            BTreeSet::from(["absent".to_string(), "b".to_string()])
        );
    }
}
