//! What a pod on a container engine needs before its supervisor gets it:
//! its volumes made on disk, and the registry credentials of its
//! `imagePullSecrets` in a file only jobcd's user can read.

use std::path::Path;

use super::{Error, JobRecord, Runtime, checks, refused};
use crate::target::local::downward;
use crate::target::local::engine::{Engine, OnEngine};
use crate::target::local::{environment, volumes};

/// What the engine needs for pod `name`: its volumes, made on disk now,
/// and the registry credentials of its `imagePullSecrets`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn engine_pod(
    rt: &Runtime,
    engine: &Engine,
    job: &JobRecord,
    pod_spec: &k8s_openapi::api::core::v1::PodSpec,
    facts: &downward::Pod,
    inputs: &checks::Inputs,
    dir: &Path,
    name: &str,
) -> Result<OnEngine, Error> {
    let scratch = rt.scratch_dir.join(name);
    let files_dir = dir.join("volumes");
    let prepared = volumes::prepare(
        pod_spec,
        volumes::Context {
            facts,
            containers: &pod_spec.containers,
            files_dir: &files_dir,
            scratch_dir: &scratch,
            config_maps: Some(&inputs.files),
            secrets: Some(&inputs.secrets),
            host_paths: &rt.allowed.host_paths,
        },
    )
    .map_err(|e| refused(&job.namespace, &job.name, checks::volume_problem(e)))?;
    // A subPath is a path inside its volume, made when missing (as the
    // kubelet makes it): a claim's volume is found (or made) on the engine
    // first.
    let mut volume_paths = std::collections::BTreeMap::new();
    let mut sub_dirs = Vec::new();
    for (mount, sub) in sub_paths(pod_spec) {
        let Some(volume) = prepared.volumes.iter().find(|v| v.name == mount.name) else {
            continue;
        };
        match &volume.source {
            volumes::Source::Bind(path) => sub_dirs.push(path.join(sub)),
            volumes::Source::Named(volume_name) => {
                let path =
                    engine
                        .volume_path(volume_name)
                        .await
                        .map_err(|source| Error::Spawn {
                            pod: name.to_string(),
                            source,
                        })?;
                sub_dirs.push(path.join(sub));
                volume_paths.insert(volume_name.clone(), path);
            }
            volumes::Source::Memory { .. } => {}
        }
    }
    let auth = registry_auth(pod_spec, &inputs.secrets);
    let auth_path = auth
        .as_ref()
        .map(|_| dir.join("registry").join("config.json"));
    let volumes = prepared.volumes.clone();
    let written = {
        let auth_path = auth_path.clone();
        tokio::task::spawn_blocking(move || {
            volumes::write(&prepared)?;
            // After the files: a subPath naming a ConfigMap's key is there.
            for dir in sub_dirs.iter().filter(|d| !d.exists()) {
                std::fs::create_dir_all(dir)?;
            }
            if let (Some(path), Some(auth)) = (auth_path, auth) {
                write_private(&path, &auth)?;
            }
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
    };
    written.map_err(|source| Error::Spawn {
        pod: name.to_string(),
        source,
    })?;
    Ok(OnEngine {
        engine: engine.clone(),
        pod: crate::target::local::engine::PodSpec {
            namespace: job.namespace.clone(),
            name: name.to_string(),
            host_network: pod_spec.host_network == Some(true),
            volumes,
            auth: auth_path,
            shared: pod_spec.containers.len() > 1,
            containers: pod_spec
                .init_containers
                .iter()
                .flatten()
                .chain(&pod_spec.containers)
                .map(|c| c.name.clone())
                .collect(),
            termination_dir: dir.join("termination"),
            volume_paths,
        },
    })
}

/// Each `volumeMounts` entry with a `subPath`: (the mount, the subPath).
fn sub_paths(
    spec: &k8s_openapi::api::core::v1::PodSpec,
) -> Vec<(&k8s_openapi::api::core::v1::VolumeMount, &str)> {
    spec.init_containers
        .iter()
        .flatten()
        .chain(&spec.containers)
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .filter_map(|m| Some((m, m.sub_path.as_deref().filter(|s| !s.is_empty())?)))
        .collect()
}

/// The registry credentials of `spec`'s `imagePullSecrets` that are
/// stored, merged into one Docker `config.json`; None when there are none.
fn registry_auth(
    spec: &k8s_openapi::api::core::v1::PodSpec,
    secrets: &environment::Secrets,
) -> Option<Vec<u8>> {
    let mut auths = serde_json::Map::new();
    for reference in spec.image_pull_secrets.iter().flatten() {
        let Some(data) = secrets.get(&reference.name) else {
            continue;
        };
        // `.dockerconfigjson` holds {"auths": {...}}; the older
        // `.dockercfg` holds the map itself.
        let found = data
            .get(".dockerconfigjson")
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            .and_then(|v| v.get("auths").cloned())
            .or_else(|| {
                data.get(".dockercfg")
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
            });
        if let Some(serde_json::Value::Object(map)) = found {
            for (registry, entry) in map {
                auths.entry(registry).or_insert(entry);
            }
        }
    }
    (!auths.is_empty()).then(|| {
        serde_json::to_vec(&serde_json::json!({ "auths": auths })).expect("JSON serializes")
    })
}

/// Writes `bytes` to `path`, readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    std::io::Write::write_all(&mut file, bytes)
}
