//! Whether a Job's containers can run here, before anything is recorded:
//! what the process runtime cannot do, and the ConfigMaps and Secrets they
//! read that are not there.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{Error, Runtime};
use crate::manifest::Kind;
use crate::target::local::container::{self, Unsupported};
use crate::target::local::{downward, environment};

/// Checks that every container of the Job can run here; the error names the field.
pub fn check(job: &Job) -> Result<(), Unsupported> {
    let Some(spec) = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Ok(());
    };
    let facts = downward::Pod::default();
    let pod = container::Pod {
        provided: &[],
        facts: &facts,
        containers: &spec.containers,
        // Whether they exist is the pod's business when it starts.
        config_maps: None,
        secrets: None,
    };
    resolve_all(spec, pod)
}

/// Checks that the ConfigMaps (applied) and Secrets (stored) and their keys
/// that `job`'s containers read are in `namespace` now: a Job whose pods
/// could not start is refused before it is recorded.
pub async fn check_config(rt: &Runtime, namespace: &str, job: &Job) -> Result<(), Error> {
    let Some(spec) = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Ok(());
    };
    let (config_maps, secrets) = inputs_for(rt, namespace, spec).await?;
    let facts = downward::Pod {
        namespace: namespace.to_string(),
        ..downward::Pod::default()
    };
    let pod = container::Pod {
        provided: &[],
        facts: &facts,
        containers: &spec.containers,
        config_maps: Some(&config_maps),
        secrets: Some(&secrets),
    };
    resolve_all(spec, pod).map_err(|e| refused(namespace, job_name(job), e))
}

/// Resolves every container of `spec` (init containers first) in `pod`.
fn resolve_all(spec: &PodSpec, pod: container::Pod<'_>) -> Result<(), Unsupported> {
    let init = spec.init_containers.iter().flatten().enumerate();
    for (i, c) in init {
        container::resolve(c, &format!("spec.template.spec.initContainers[{i}]"), pod)?;
    }
    for (i, c) in spec.containers.iter().enumerate() {
        container::resolve(c, &format!("spec.template.spec.containers[{i}]"), pod)?;
    }
    Ok(())
}

fn job_name(job: &Job) -> &str {
    job.metadata.name.as_deref().unwrap_or_default()
}

/// A container's refusal as the runner's error.
pub(super) fn refused(namespace: &str, name: &str, e: Unsupported) -> Error {
    let (namespace, name, problem) = (namespace.to_string(), name.to_string(), e.to_string());
    if e.missing_config {
        Error::MissingConfig {
            namespace,
            name,
            problem,
        }
    } else {
        Error::Unsupported {
            namespace,
            name,
            problem,
        }
    }
}

/// The ConfigMaps (as applied now) and Secrets (as stored) in `namespace`
/// that `spec`'s containers read, those that exist.
pub(super) async fn inputs_for(
    rt: &Runtime,
    namespace: &str,
    spec: &PodSpec,
) -> Result<(environment::ConfigMaps, environment::Secrets), Error> {
    let containers: Vec<&Container> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .collect();
    let (maps, secrets) = environment::named(&containers);
    let mut config_maps = environment::ConfigMaps::new();
    if !maps.is_empty() {
        let ns = namespace.to_string();
        let stored = rt
            .with_store(move |s| {
                maps.into_iter()
                    .filter_map(|name| {
                        s.object(Kind::ConfigMap, &ns, &name)
                            .transpose()
                            .map(|o| o.map(|o| (name, o.manifest)))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        for (name, manifest) in stored {
            let data = serde_json::from_str::<k8s_openapi::api::core::v1::ConfigMap>(&manifest)
                .ok()
                .and_then(|map| map.data)
                .unwrap_or_default();
            config_maps.insert(name, data);
        }
    }
    let mut found = environment::Secrets::new();
    if !secrets.is_empty() {
        let (store, ns) = (rt.secrets.clone(), namespace.to_string());
        found = tokio::task::spawn_blocking(move || {
            let mut found = environment::Secrets::new();
            for name in secrets {
                if let Some(data) = store.get(&ns, &name)? {
                    found.insert(name, data);
                }
            }
            Ok::<_, crate::target::local::secrets::Error>(found)
        })
        .await
        .expect("reading secrets does not panic")?;
    }
    Ok((config_maps, found))
}
