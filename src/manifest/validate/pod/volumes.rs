//! A pod's volumes: unique DNS-label names, exactly one source each, and
//! the rules of the sources Jobs use (ConfigMaps, Secrets, emptyDir,
//! hostPath, claims, projected and downward-API files, NFS, CSI).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{DownwardAPIVolumeFile, KeyToPath, Volume};

use super::super::{Findings, names};
use crate::manifest::quantity::Quantity;

/// Checks `volumes` at `base` (the pod spec); the names a mount may use.
pub(super) fn check(f: &mut Findings<'_>, volumes: &[Volume], base: &str) -> BTreeSet<String> {
    let mut valid = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let at = format!("{base}.volumes[{i}]");
        let before = f.list.len();
        if volume.name.is_empty() {
            f.error(format!("{at}.name"), "required field is missing", None);
        } else if let Err(e) = names::dns_label(&volume.name) {
            f.error(
                format!("{at}.name"),
                format!("invalid volume name {:?}: {e}", volume.name),
                None,
            );
        }
        if !seen.insert(volume.name.as_str()) {
            f.error(
                format!("{at}.name"),
                format!("duplicate volume name {:?}", volume.name),
                Some("volume names must be unique within a pod"),
            );
        }
        source(f, volume, &at);
        if f.list.len() == before {
            valid.insert(volume.name.clone());
        }
    }
    valid
}

/// The volume's one source.
fn source(f: &mut Findings<'_>, v: &Volume, at: &str) {
    let given: Vec<&str> = [
        ("emptyDir", v.empty_dir.is_some()),
        ("hostPath", v.host_path.is_some()),
        ("secret", v.secret.is_some()),
        ("configMap", v.config_map.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("projected", v.projected.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("nfs", v.nfs.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("fc", v.fc.is_some()),
        ("cephfs", v.cephfs.is_some()),
        ("rbd", v.rbd.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("cinder", v.cinder.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("flocker", v.flocker.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("storageos", v.storageos.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    // A volume with no source at all is an emptyDir: the API server
    // defaults it so.
    if given.len() > 1 {
        f.error(
            format!("{at}.{}", given[1]),
            format!(
                "may not specify more than 1 volume type (this volume has {})",
                given.join(" and ")
            ),
            Some("split it into one volume per source"),
        );
        return;
    }
    if let Some(dir) = &v.empty_dir
        && let Some(limit) = &dir.size_limit
    {
        match Quantity::parse(&limit.0) {
            Err(e) => f.error(format!("{at}.emptyDir.sizeLimit"), e.to_string(), None),
            Ok(q) if q.is_negative() => f.error(
                format!("{at}.emptyDir.sizeLimit"),
                "must be a valid resource quantity (0 or more)",
                None,
            ),
            Ok(_) => {}
        }
    }
    if let Some(host) = &v.host_path {
        if host.path.is_empty() {
            f.error(
                format!("{at}.hostPath.path"),
                "required field is missing",
                None,
            );
        } else {
            no_backsteps(f, &host.path, &format!("{at}.hostPath.path"));
        }
        f.one_of(
            format!("{at}.hostPath.type"),
            host.type_.as_deref(),
            &[
                "",
                "DirectoryOrCreate",
                "Directory",
                "FileOrCreate",
                "File",
                "Socket",
                "CharDevice",
                "BlockDevice",
            ],
        );
    }
    if let Some(secret) = &v.secret {
        if secret.secret_name.as_deref().is_none_or(str::is_empty) {
            f.error(
                format!("{at}.secret.secretName"),
                "required field is missing",
                None,
            );
        }
        mode(f, secret.default_mode, &format!("{at}.secret.defaultMode"));
        items(f, secret.items.as_deref(), &format!("{at}.secret.items"));
    }
    if let Some(map) = &v.config_map {
        if map.name.is_empty() {
            f.error(
                format!("{at}.configMap.name"),
                "required field is missing",
                None,
            );
        }
        mode(f, map.default_mode, &format!("{at}.configMap.defaultMode"));
        items(f, map.items.as_deref(), &format!("{at}.configMap.items"));
    }
    if let Some(claim) = &v.persistent_volume_claim
        && claim.claim_name.is_empty()
    {
        f.error(
            format!("{at}.persistentVolumeClaim.claimName"),
            "required field is missing",
            None,
        );
    }
    if let Some(api) = &v.downward_api {
        mode(
            f,
            api.default_mode,
            &format!("{at}.downwardAPI.defaultMode"),
        );
        for file in api.items.iter().flatten() {
            downward_file(f, file, &format!("{at}.downwardAPI"));
        }
    }
    if let Some(projected) = &v.projected {
        let at = format!("{at}.projected");
        mode(f, projected.default_mode, &format!("{at}.defaultMode"));
        for (i, s) in projected.sources.iter().flatten().enumerate() {
            let at = format!("{at}.sources[{i}]");
            if let Some(map) = &s.config_map {
                if map.name.is_empty() {
                    f.error(
                        format!("{at}.configMap.name"),
                        "required field is missing",
                        None,
                    );
                }
                items(f, map.items.as_deref(), &format!("{at}.configMap.items"));
            }
            if let Some(secret) = &s.secret {
                if secret.name.is_empty() {
                    f.error(
                        format!("{at}.secret.name"),
                        "required field is missing",
                        None,
                    );
                }
                items(f, secret.items.as_deref(), &format!("{at}.secret.items"));
            }
            if let Some(api) = &s.downward_api {
                for file in api.items.iter().flatten() {
                    downward_file(f, file, &format!("{at}.downwardAPI"));
                }
            }
        }
    }
    if let Some(nfs) = &v.nfs {
        if nfs.server.is_empty() {
            f.error(
                format!("{at}.nfs.server"),
                "required field is missing",
                None,
            );
        }
        if !nfs.path.starts_with('/') {
            f.error(format!("{at}.nfs.path"), "must be an absolute path", None);
        }
    }
    if let Some(csi) = &v.csi
        && csi.driver.is_empty()
    {
        f.error(
            format!("{at}.csi.driver"),
            "required field is missing",
            None,
        );
    }
}

/// A file mode: 0 to 0777 (511).
fn mode(f: &mut Findings<'_>, mode: Option<i32>, at: &str) {
    if let Some(m) = mode.filter(|m| !(0..=0o777).contains(m)) {
        f.error(
            at,
            format!(
                "{m} is not a file mode: it must be between 0 and 0777 (octal), both inclusive"
            ),
            Some("YAML reads 0644 as octal only in YAML 1.1; write it as 420 (decimal) or 0o644"),
        );
    }
}

/// ConfigMap and Secret items: a key, and a relative path without `..`.
fn items(f: &mut Findings<'_>, items: Option<&[KeyToPath]>, at: &str) {
    for (i, item) in items.unwrap_or_default().iter().enumerate() {
        let at = format!("{at}[{i}]");
        if item.key.is_empty() {
            f.error(format!("{at}.key"), "required field is missing", None);
        }
        file_path(f, &item.path, &format!("{at}.path"));
        mode(f, item.mode, &format!("{at}.mode"));
    }
}

fn downward_file(f: &mut Findings<'_>, file: &DownwardAPIVolumeFile, at: &str) {
    file_path(f, &file.path, &format!("{at}.path"));
    match (&file.field_ref, &file.resource_field_ref) {
        (Some(_), Some(_)) => f.error(
            at,
            "fieldRef and resourceFieldRef can not be specified simultaneously",
            None,
        ),
        (None, None) => f.error(at, "one of fieldRef and resourceFieldRef is required", None),
        _ => {}
    }
    mode(f, file.mode, &format!("{at}.mode"));
}

/// A file's path inside a volume: relative, no `..` element, and not
/// starting with `..` (kubelet keeps its own `..data` there).
fn file_path(f: &mut Findings<'_>, path: &str, at: &str) {
    if path.is_empty() {
        f.error(at, "required field is missing", None);
        return;
    }
    if path.starts_with('/') {
        f.error(at, format!("{path:?} must be a relative path"), None);
    }
    no_backsteps(f, path, at);
    if path.starts_with("..") {
        f.error(at, format!("{path:?} must not start with '..'"), None);
    }
}

/// No `..` path element.
pub(super) fn no_backsteps(f: &mut Findings<'_>, path: &str, at: &str) {
    if path.split('/').any(|part| part == "..") {
        f.error(at, format!("{path:?} must not contain '..'"), None);
    }
}
