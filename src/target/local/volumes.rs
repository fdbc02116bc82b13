//! A pod's volumes on a container engine, made as the kubelet makes them.
//!
//! - `emptyDir`: a directory of the pod's (mode 0777) that its containers
//!   share and that goes with the pod; `medium: Memory` is a tmpfs volume
//!   of the engine, `sizeLimit` its size on Docker (Podman 4.3 refuses a
//!   size for a tmpfs volume). A disk `emptyDir`'s `sizeLimit` is not
//!   enforced (the kubelet evicts the pod; nothing does here).
//! - `configMap`, `secret`, `downwardAPI` and `projected`: their keys as
//!   files (all keys, or the `items` with their `path` and `mode`,
//!   `defaultMode` 0644 otherwise), written before the pod starts into the
//!   pod's directory under the state directory and mounted read-only. A
//!   ConfigMap, Secret or key that is missing keeps the pod from starting
//!   unless `optional`; an optional one that is missing gives an empty
//!   volume (or leaves its items out).
//! - `hostPath`: only under the directories the configuration allows
//!   (`--allow-host-path`, `target.hostPaths`); `type` is checked as the
//!   kubelet checks it, and `DirectoryOrCreate`/`FileOrCreate` create.
//! - `persistentVolumeClaim`: the engine's named volume
//!   `jobcd-pvc-<namespace>-<claim>`, made on first use and kept after the
//!   pod, so the next pod that claims it finds the data.
//!
//! Other volume types (NFS, CSI, cloud disks, ephemeral volumes) need a
//! cluster; a pod using one is refused, naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, DownwardAPIVolumeFile, KeyToPath, PodSpec, SecretProjection,
    Volume as ApiVolume,
};

use super::downward;
use super::secrets::Data;

/// Mode of a key's file when neither the item nor `defaultMode` says.
pub const DEFAULT_MODE: i32 = 0o644;

/// Where a volume's contents live.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// A directory (or file) of this machine, bound into the containers.
    Bind(PathBuf),
    /// The engine's named volume, kept after the pod (a claim).
    Named(String),
    /// A tmpfs volume of the engine made for the pod and removed with it.
    Memory {
        /// The engine's volume name.
        name: String,
        /// Its size in bytes (`sizeLimit`), if set.
        size: Option<u64>,
    },
}

/// One of the pod's volumes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Volume {
    /// Its name in the pod.
    pub name: String,
    /// Its contents.
    pub source: Source,
    /// Mounted read-only whatever the mount says (files made from
    /// ConfigMaps, Secrets and the downward API; a claim marked so).
    pub read_only: bool,
}

/// A file to write before the pod starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Where.
    pub path: PathBuf,
    /// What.
    pub bytes: Vec<u8>,
    /// Its mode.
    pub mode: u32,
}

/// The pod's volumes, and what to make on disk for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prepared {
    /// The volumes.
    pub volumes: Vec<Volume>,
    /// Directories to make first (with their mode).
    pub dirs: Vec<(PathBuf, u32)>,
    /// Files to write.
    pub files: Vec<File>,
    /// `hostPath`s to create when missing (`DirectoryOrCreate`: true;
    /// `FileOrCreate`: false), left as they are when there.
    pub host_paths: Vec<(PathBuf, bool)>,
}

/// Why the pod's volumes cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field below the pod spec, e.g. `volumes[2].hostPath.path`.
    pub field: String,
    /// What is wrong, and what to do.
    pub problem: String,
    /// A ConfigMap, Secret or key is missing (the pod would wait).
    pub missing: bool,
}

/// What volumes are made from.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The pod, for the downward API.
    pub facts: &'a downward::Pod,
    /// Its containers (a `resourceFieldRef` names one).
    pub containers: &'a [k8s_openapi::api::core::v1::Container],
    /// Where files made for volumes go (in the state directory).
    pub files_dir: &'a Path,
    /// Where `emptyDir` directories go (outside it).
    pub scratch_dir: &'a Path,
    /// ConfigMaps (data and binaryData) by name; None when not looked up.
    pub config_maps: Option<&'a BTreeMap<String, Data>>,
    /// Secrets by name; None when not looked up.
    pub secrets: Option<&'a BTreeMap<String, Data>>,
    /// Directories under which `hostPath` volumes are allowed.
    pub host_paths: &'a [PathBuf],
}

/// The names of the ConfigMaps and of the Secrets `spec`'s volumes read.
pub fn named(spec: &PodSpec) -> (Vec<String>, Vec<String>) {
    let (mut maps, mut secrets) = (Vec::new(), Vec::new());
    for v in spec.volumes.iter().flatten() {
        if let Some(c) = &v.config_map {
            maps.push(c.name.clone());
        }
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.push(s);
        }
        for source in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(c) = &source.config_map {
                maps.push(c.name.clone());
            }
            if let Some(s) = &source.secret {
                secrets.push(s.name.clone());
            }
        }
    }
    (maps, secrets)
}

/// Makes `spec`'s volumes in `ctx`.
pub fn prepare(spec: &PodSpec, ctx: Context<'_>) -> Result<Prepared, Problem> {
    let mut out = Prepared::default();
    // What is made for the volumes is for the pod's containers (each
    // volume's own directory is bound into them): other users of this
    // machine do not get past these two.
    if spec.volumes.as_ref().is_some_and(|v| !v.is_empty()) {
        out.dirs.push((ctx.files_dir.to_path_buf(), 0o700));
        out.dirs.push((ctx.scratch_dir.join("volumes"), 0o700));
    }
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        let field = format!("volumes[{i}]");
        let volume = one(v, &field, ctx, &mut out)?;
        out.volumes.push(volume);
    }
    Ok(out)
}

fn problem(field: String, problem: String) -> Problem {
    Problem {
        field,
        problem,
        missing: false,
    }
}

fn one(
    v: &ApiVolume,
    field: &str,
    ctx: Context<'_>,
    out: &mut Prepared,
) -> Result<Volume, Problem> {
    let files_dir = ctx.files_dir.join(&v.name);
    let files = |read_only| Volume {
        name: v.name.clone(),
        source: Source::Bind(files_dir.clone()),
        read_only,
    };
    if let Some(empty) = &v.empty_dir {
        let size = empty
            .size_limit
            .as_ref()
            .and_then(|q| crate::manifest::quantity::Quantity::parse(&q.0).ok())
            .map(|q| q.scaled(0).max(0) as u64)
            .filter(|s| *s > 0);
        if empty.medium.as_deref() == Some("Memory") {
            return Ok(Volume {
                name: v.name.clone(),
                source: Source::Memory {
                    name: format!(
                        "jobcd_{}_{}_{}",
                        ctx.facts.namespace, ctx.facts.name, v.name
                    ),
                    size,
                },
                read_only: false,
            });
        }
        let dir = ctx.scratch_dir.join("volumes").join(&v.name);
        out.dirs.push((dir.clone(), 0o777));
        return Ok(Volume {
            name: v.name.clone(),
            source: Source::Bind(dir),
            read_only: false,
        });
    }
    if let Some(c) = &v.config_map {
        out.dirs.push((files_dir.clone(), 0o755));
        let mode = c.default_mode.unwrap_or(DEFAULT_MODE);
        let source = Keys {
            kind: Kind::ConfigMap,
            name: &c.name,
            items: c.items.as_deref(),
            optional: c.optional,
        };
        keys(
            source,
            mode,
            &format!("{field}.configMap"),
            &files_dir,
            ctx,
            out,
        )?;
        return Ok(files(true));
    }
    if let Some(s) = &v.secret {
        out.dirs.push((files_dir.clone(), 0o755));
        let mode = s.default_mode.unwrap_or(DEFAULT_MODE);
        let name = s.secret_name.clone().unwrap_or_default();
        let source = Keys {
            kind: Kind::Secret,
            name: &name,
            items: s.items.as_deref(),
            optional: s.optional,
        };
        keys(
            source,
            mode,
            &format!("{field}.secret"),
            &files_dir,
            ctx,
            out,
        )?;
        return Ok(files(true));
    }
    if let Some(d) = &v.downward_api {
        out.dirs.push((files_dir.clone(), 0o755));
        let mode = d.default_mode.unwrap_or(DEFAULT_MODE);
        downward_files(
            d.items.as_deref().unwrap_or_default(),
            mode,
            &format!("{field}.downwardAPI"),
            &files_dir,
            ctx,
            out,
        )?;
        return Ok(files(true));
    }
    if let Some(p) = &v.projected {
        out.dirs.push((files_dir.clone(), 0o755));
        let mode = p.default_mode.unwrap_or(DEFAULT_MODE);
        for (j, s) in p.sources.iter().flatten().enumerate() {
            let field = format!("{field}.projected.sources[{j}]");
            let source = match (&s.config_map, &s.secret) {
                (
                    Some(ConfigMapProjection {
                        name,
                        items,
                        optional,
                    }),
                    _,
                ) => Some((Kind::ConfigMap, "configMap", name, items, optional)),
                (
                    None,
                    Some(SecretProjection {
                        name,
                        items,
                        optional,
                    }),
                ) => Some((Kind::Secret, "secret", name, items, optional)),
                (None, None) => None,
            };
            if let Some((kind, key, name, items, optional)) = source {
                let source = Keys {
                    kind,
                    name,
                    items: items.as_deref(),
                    optional: *optional,
                };
                keys(
                    source,
                    mode,
                    &format!("{field}.{key}"),
                    &files_dir,
                    ctx,
                    out,
                )?;
            } else if let Some(d) = &s.downward_api {
                let items = d.items.as_deref().unwrap_or_default();
                downward_files(
                    items,
                    mode,
                    &format!("{field}.downwardAPI"),
                    &files_dir,
                    ctx,
                    out,
                )?;
            } else if s.service_account_token.is_some() {
                return Err(problem(
                    format!("{field}.serviceAccountToken"),
                    "the local target has no API server to issue service account tokens; remove this source, or run the Job on a cluster".into(),
                ));
            } else {
                return Err(problem(
                    field,
                    "this projected source needs a cluster; the local target projects configMap, secret and downwardAPI".into(),
                ));
            }
        }
        return Ok(files(true));
    }
    if let Some(h) = &v.host_path {
        let path = PathBuf::from(&h.path);
        host_path::check(
            &path,
            h.type_.as_deref(),
            &format!("{field}.hostPath"),
            ctx,
            out,
        )?;
        return Ok(Volume {
            name: v.name.clone(),
            source: Source::Bind(path),
            read_only: false,
        });
    }
    if let Some(c) = &v.persistent_volume_claim {
        return Ok(Volume {
            name: v.name.clone(),
            source: Source::Named(claim_volume(&ctx.facts.namespace, &c.claim_name)),
            read_only: c.read_only.unwrap_or(false),
        });
    }
    Err(problem(
        field.to_string(),
        format!(
            "volume {:?} is of a type the local target cannot provide (it has emptyDir, configMap, secret, downwardAPI, projected, hostPath and persistentVolumeClaim); run this Job on a cluster",
            v.name
        ),
    ))
}

/// The engine's volume that stands for claim `claim` in `namespace`.
pub fn claim_volume(namespace: &str, claim: &str) -> String {
    format!("jobcd-pvc-{namespace}-{claim}")
}

#[derive(Clone, Copy)]
enum Kind {
    ConfigMap,
    Secret,
}

/// A ConfigMap or Secret whose keys become files.
#[derive(Clone, Copy)]
struct Keys<'a> {
    kind: Kind,
    name: &'a str,
    items: Option<&'a [KeyToPath]>,
    optional: Option<bool>,
}

/// The files of a ConfigMap's or Secret's keys.
fn keys(
    source: Keys<'_>,
    default_mode: i32,
    field: &str,
    dir: &Path,
    ctx: Context<'_>,
    out: &mut Prepared,
) -> Result<(), Problem> {
    let Keys {
        kind,
        name,
        items,
        optional,
    } = source;
    let (found, what, remedy) = match kind {
        Kind::ConfigMap => (
            ctx.config_maps.map(|m| m.get(name)),
            "configmap",
            "apply it with the revision, or mark the volume optional",
        ),
        Kind::Secret => (
            ctx.secrets.map(|s| s.get(name)),
            "secret",
            "create it with `jobcd local secret create`, or mark the volume optional",
        ),
    };
    let missing = |what: String| Problem {
        field: field.to_string(),
        problem: format!(
            "{what} in namespace {:?} (on a cluster the pod would wait for it): {remedy}",
            ctx.facts.namespace
        ),
        missing: true,
    };
    let data = match found {
        // Not looked up (a Job checked before it runs).
        None => return Ok(()),
        Some(Some(data)) => data,
        Some(None) if optional == Some(true) => return Ok(()),
        Some(None) => return Err(missing(format!("{what} {name:?} not found"))),
    };
    match items {
        None | Some([]) => {
            for (key, bytes) in data {
                out.files.push(File {
                    path: dir.join(key),
                    bytes: bytes.clone(),
                    mode: default_mode as u32,
                });
            }
        }
        Some(items) => {
            for item in items {
                match data.get(&item.key) {
                    Some(bytes) => out.files.push(File {
                        path: dir.join(&item.path),
                        bytes: bytes.clone(),
                        mode: item.mode.unwrap_or(default_mode) as u32,
                    }),
                    None if optional == Some(true) => {}
                    None => {
                        return Err(missing(format!(
                            "{what} {name:?} has no key {:?}",
                            item.key
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The files of downward API items.
fn downward_files(
    items: &[DownwardAPIVolumeFile],
    default_mode: i32,
    field: &str,
    dir: &Path,
    ctx: Context<'_>,
    out: &mut Prepared,
) -> Result<(), Problem> {
    for (i, item) in items.iter().enumerate() {
        let value = match (&item.field_ref, &item.resource_field_ref) {
            (Some(f), _) => downward::field(ctx.facts, f),
            (None, Some(r)) => {
                let name = r.container_name.as_deref().unwrap_or_default();
                match ctx.containers.iter().find(|c| c.name == name) {
                    Some(c) => downward::resource(r, c, ctx.containers, &ctx.facts.node),
                    None => Err(format!("no container {name:?} in the pod")),
                }
            }
            (None, None) => continue,
        }
        .map_err(|e| problem(format!("{field}.items[{i}]"), e))?;
        out.files.push(File {
            path: dir.join(&item.path),
            bytes: value.into_bytes(),
            mode: item.mode.unwrap_or(default_mode) as u32,
        });
    }
    Ok(())
}

/// Makes the directories and writes the files of `prepared`. Blocking.
pub fn write(prepared: &Prepared) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    for (path, directory) in &prepared.host_paths {
        if *directory {
            std::fs::create_dir_all(path)?;
        } else if !path.exists() {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
        }
    }
    for (dir, mode) in &prepared.dirs {
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(*mode))?;
    }
    for file in &prepared.files {
        if let Some(parent) = file.path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&file.path)?;
        std::io::Write::write_all(&mut f, &file.bytes)?;
        f.set_permissions(std::fs::Permissions::from_mode(file.mode & 0o7777))?;
    }
    Ok(())
}

mod host_path;
#[cfg(test)]
mod tests;
