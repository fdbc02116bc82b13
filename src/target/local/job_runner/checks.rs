//! Whether a Job's containers can run here, before anything is recorded:
//! what the runtime cannot do or the configuration does not allow, and
//! the ConfigMaps and Secrets they read that are not there.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};

use super::{Error, Runtime};
use crate::manifest::Kind;
use crate::target::local::container::{self, Unsupported};
use crate::target::local::engine::{Allowed, ContainerRuntime};
use crate::target::local::secrets::Data;
use crate::target::local::{downward, environment, volumes};

/// Checks that every container of the Job can run on `runtime` with what
/// `allowed` allows; the error names the field.
pub fn check(job: &Job, runtime: ContainerRuntime, allowed: &Allowed) -> Result<(), Unsupported> {
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
    resolve_all(spec, pod, runtime)?;
    if runtime == ContainerRuntime::Process {
        return Ok(());
    }
    let privileged = containers_of(spec)
        .find(|(_, c)| c.security_context.as_ref().and_then(|s| s.privileged) == Some(true));
    if let Some((path, _)) = privileged
        && !allowed.privileged
    {
        return Err(Unsupported {
            field: format!("{path}.securityContext.privileged"),
            problem: "privileged containers are not allowed on the local target; allow them with --allow-privileged (target.allowPrivileged in the serve configuration)".into(),
            missing_config: false,
        });
    }
    let memory = |name: &str| {
        spec.volumes.iter().flatten().any(|v| {
            v.name == name
                && v.empty_dir.as_ref().and_then(|e| e.medium.as_deref()) == Some("Memory")
        })
    };
    for (path, c) in containers_of(spec) {
        let sub_path =
            c.volume_mounts.iter().flatten().position(|m| {
                m.sub_path.as_deref().is_some_and(|s| !s.is_empty()) && memory(&m.name)
            });
        if let Some(j) = sub_path {
            return Err(Unsupported {
                field: format!("{path}.volumeMounts[{j}].subPath"),
                problem: "a subPath inside an emptyDir of medium Memory is not supported by the local target; mount the volume whole".into(),
                missing_config: false,
            });
        }
    }
    check_volumes(spec, &facts, None, &allowed.host_paths)
}

/// Checks that `spec`'s volumes can be made (with `inputs`' ConfigMaps and
/// Secrets, when they were looked up), making nothing.
fn check_volumes(
    spec: &PodSpec,
    facts: &downward::Pod,
    inputs: Option<&Inputs>,
    host_paths: &[std::path::PathBuf],
) -> Result<(), Unsupported> {
    // Nothing is written: the directories are only placeholders.
    let root = std::path::Path::new("/");
    volumes::prepare(
        spec,
        volumes::Context {
            facts,
            containers: &spec.containers,
            files_dir: root,
            scratch_dir: root,
            config_maps: inputs.map(|i| &i.files),
            secrets: inputs.map(|i| &i.secrets),
            host_paths,
        },
    )
    .map(drop)
    .map_err(volume_problem)
}

/// A volume's problem as a container's.
pub(super) fn volume_problem(e: volumes::Problem) -> Unsupported {
    Unsupported {
        field: format!("spec.template.spec.{}", e.field),
        problem: e.problem,
        missing_config: e.missing,
    }
}

/// Checks that the ConfigMaps (applied) and Secrets (stored) and their keys
/// that `job`'s containers read are in `namespace` now: a Job whose pods
/// could not start is refused before it is recorded.
pub async fn check_config(rt: &Runtime, namespace: &str, job: &Job) -> Result<(), Error> {
    let Some(spec) = job.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
        return Ok(());
    };
    let inputs = inputs_for(rt, namespace, spec).await?;
    let facts = downward::Pod {
        namespace: namespace.to_string(),
        ..downward::Pod::default()
    };
    let pod = container::Pod {
        provided: &[],
        facts: &facts,
        containers: &spec.containers,
        config_maps: Some(&inputs.config_maps),
        secrets: Some(&inputs.secrets),
    };
    let runtime = rt.container_runtime();
    resolve_all(spec, pod, runtime).map_err(|e| refused(namespace, job_name(job), e))?;
    if runtime == ContainerRuntime::Process {
        return Ok(());
    }
    check_volumes(spec, &facts, Some(&inputs), &rt.allowed.host_paths)
        .map_err(|e| refused(namespace, job_name(job), e))
}

/// Every container of `spec`, init containers first, with its field path.
fn containers_of(spec: &PodSpec) -> impl Iterator<Item = (String, &Container)> {
    let init = spec.init_containers.iter().flatten().enumerate();
    let init = init.map(|(i, c)| (format!("spec.template.spec.initContainers[{i}]"), c));
    let main = spec.containers.iter().enumerate();
    init.chain(main.map(|(i, c)| (format!("spec.template.spec.containers[{i}]"), c)))
}

/// Resolves every container of `spec` (init containers first) in `pod`.
fn resolve_all(
    spec: &PodSpec,
    pod: container::Pod<'_>,
    runtime: ContainerRuntime,
) -> Result<(), Unsupported> {
    let security = spec.security_context.as_ref();
    for (path, c) in containers_of(spec) {
        container::resolve(c, &path, pod, runtime, security)?;
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

/// What a pod's containers and volumes read: ConfigMaps as applied now,
/// Secrets as stored, those that exist.
pub(super) struct Inputs {
    /// ConfigMaps' `data`, for the environment.
    pub config_maps: environment::ConfigMaps,
    /// ConfigMaps' `data` and `binaryData` as bytes, for volumes.
    pub files: BTreeMap<String, Data>,
    /// Secrets (for the environment, volumes and `imagePullSecrets`).
    pub secrets: environment::Secrets,
}

/// The ConfigMaps and Secrets in `namespace` that `spec` reads.
pub(super) async fn inputs_for(
    rt: &Runtime,
    namespace: &str,
    spec: &PodSpec,
) -> Result<Inputs, Error> {
    let containers: Vec<&Container> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .collect();
    let (mut maps, mut secrets) = environment::named(&containers);
    let (volume_maps, volume_secrets) = volumes::named(spec);
    maps.extend(volume_maps);
    secrets.extend(volume_secrets);
    secrets.extend(
        spec.image_pull_secrets
            .iter()
            .flatten()
            .map(|s| s.name.clone())
            .filter(|n| !n.is_empty()),
    );
    let mut inputs = Inputs {
        config_maps: environment::ConfigMaps::new(),
        files: BTreeMap::new(),
        secrets: environment::Secrets::new(),
    };
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
            let map = serde_json::from_str::<k8s_openapi::api::core::v1::ConfigMap>(&manifest)
                .unwrap_or_default();
            let data = map.data.unwrap_or_default();
            let mut files: Data = data
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
                .collect();
            files.extend(
                map.binary_data
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, v.0)),
            );
            inputs.files.insert(name.clone(), files);
            inputs.config_maps.insert(name, data);
        }
    }
    if !secrets.is_empty() {
        let (store, ns) = (rt.secrets.clone(), namespace.to_string());
        inputs.secrets = tokio::task::spawn_blocking(move || {
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
    Ok(inputs)
}
