//! A container that runs from an image on a container engine: what the
//! engine is asked for, made from the manifest as the kubelet makes a
//! container's configuration.
//!
//! - `command` replaces the image's ENTRYPOINT and `args` its CMD; with
//!   `command` and no `args` the image's CMD is not used; with neither, the
//!   image's own ENTRYPOINT and CMD run.
//! - `imagePullPolicy` defaults as the API server defaults it: `Always` for
//!   an image tagged `:latest` or not tagged at all (and not pinned by
//!   digest), `IfNotPresent` otherwise.
//! - `resources.limits.memory` is the cgroup's memory limit (no swap
//!   beyond it), `limits.cpu` its CPU quota, `requests.cpu` its CPU shares.
//! - `securityContext` fields come from the container, else from the pod's
//!   `securityContext`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSecurityContext, SecurityContext};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;

use crate::manifest::quantity::Quantity;

/// When the engine pulls the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pull {
    /// Before every start.
    Always,
    /// When the engine does not have it.
    IfNotPresent,
    /// Never: a missing image keeps the pod waiting (`ErrImageNeverPull`).
    Never,
}

impl Pull {
    /// The policy of `image` when the manifest says `policy`.
    pub fn of(image: &str, policy: Option<&str>) -> Pull {
        match policy {
            Some("Always") => Pull::Always,
            Some("Never") => Pull::Never,
            Some("IfNotPresent") => Pull::IfNotPresent,
            _ if is_latest(image) => Pull::Always,
            _ => Pull::IfNotPresent,
        }
    }
}

/// Whether `image` means its `latest` tag: tagged so, or not tagged nor
/// pinned by digest (the API server's rule for the default pull policy).
fn is_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    // A tag is after the last `:` that comes after the last `/` (a `:`
    // before it belongs to a registry's port).
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// A volume mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mount {
    /// The pod volume's name.
    pub volume: String,
    /// Where, in the container.
    pub path: String,
    /// Read-only.
    pub read_only: bool,
    /// A path inside the volume, mounted instead of all of it.
    pub sub_path: Option<String>,
}

/// The container's identity and privileges.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Security {
    /// `runAsUser`.
    pub user: Option<i64>,
    /// `runAsGroup`.
    pub group: Option<i64>,
    /// The pod's `supplementalGroups` (and `fsGroup`).
    pub supplemental_groups: Vec<i64>,
    /// `runAsNonRoot`: refuse to start as root.
    pub non_root: bool,
    /// `readOnlyRootFilesystem`.
    pub read_only_root: bool,
    /// `capabilities.add`.
    pub add: Vec<String>,
    /// `capabilities.drop`.
    pub drop: Vec<String>,
    /// `privileged`.
    pub privileged: bool,
    /// `allowPrivilegeEscalation: false`.
    pub no_new_privileges: bool,
}

impl Security {
    /// The container's settings over the pod's.
    pub fn of(container: Option<&SecurityContext>, pod: Option<&PodSecurityContext>) -> Security {
        let c = container.cloned().unwrap_or_default();
        let p = pod.cloned().unwrap_or_default();
        let caps = c.capabilities.unwrap_or_default();
        let mut supplemental = p.supplemental_groups.unwrap_or_default();
        supplemental.extend(p.fs_group);
        Security {
            user: c.run_as_user.or(p.run_as_user),
            group: c.run_as_group.or(p.run_as_group),
            supplemental_groups: supplemental,
            non_root: c.run_as_non_root.or(p.run_as_non_root).unwrap_or(false),
            read_only_root: c.read_only_root_filesystem.unwrap_or(false),
            add: caps.add.unwrap_or_default(),
            drop: caps.drop.unwrap_or_default(),
            privileged: c.privileged.unwrap_or(false),
            no_new_privileges: c.allow_privilege_escalation == Some(false),
        }
    }

    /// Why `image_user` (the image's USER, `""` for none) may not run,
    /// when the container must run as non-root: the kubelet's check.
    pub fn refuses(&self, image_user: &str) -> Option<String> {
        if !self.non_root {
            return None;
        }
        match self.user {
            Some(0) => Some("container's runAsUser breaks non-root policy".into()),
            Some(_) => None,
            None => {
                let user = image_user.split(':').next().unwrap_or_default();
                match user.parse::<i64>() {
                    Ok(0) => Some("container has runAsNonRoot and image will run as root".into()),
                    Ok(_) => None,
                    Err(_) if user.is_empty() || user == "root" => {
                        Some("container has runAsNonRoot and image will run as root".into())
                    }
                    Err(_) => Some(format!(
                        "container has runAsNonRoot and image has non-numeric user ({user}), cannot verify user is non-root"
                    )),
                }
            }
        }
    }
}

/// The cgroup limits of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Bytes of memory.
    pub memory: Option<u64>,
    /// CPU quota in thousandths of a CPU.
    pub cpu_millis: Option<u64>,
    /// CPU shares (`requests.cpu` × 1024).
    pub cpu_shares: Option<u64>,
}

impl Limits {
    /// From `resources`; an amount that does not parse was refused by
    /// validation, and is left out here.
    pub fn of(container: &Container) -> Limits {
        let resources = container.resources.clone().unwrap_or_default();
        let get = |list: &Option<BTreeMap<String, ApiQuantity>>, name: &str, scale: i64| {
            list.as_ref()
                .and_then(|l| l.get(name))
                .and_then(|q| Quantity::parse(&q.0).ok())
                .map(|q| q.scaled(scale))
                .filter(|v| *v > 0)
                .map(|v| v as u64)
        };
        let limit_cpu = get(&resources.limits, "cpu", -3);
        // An unset request is the limit (the API server's defaulting).
        let request_cpu = get(&resources.requests, "cpu", -3).or(limit_cpu);
        Limits {
            memory: get(&resources.limits, "memory", 0),
            cpu_millis: limit_cpu,
            // The kubelet's MilliCPUToShares, at least 2.
            cpu_shares: request_cpu.map(|m| (m * 1024 / 1000).max(2)),
        }
    }
}

/// What an engine runs for one container.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Image {
    /// The image reference.
    pub reference: String,
    /// `command`, expanded: replaces the ENTRYPOINT.
    pub command: Option<Vec<String>>,
    /// `args`, expanded: replace the CMD.
    pub args: Option<Vec<String>>,
    /// When to pull.
    pub pull: Pull,
    /// Volumes mounted.
    pub mounts: Vec<Mount>,
    /// cgroup limits.
    pub limits: Limits,
    /// Identity and privileges.
    pub security: Security,
    /// `terminationMessagePath` (default `/dev/termination-log`).
    pub termination_message_path: String,
    /// `terminationMessagePolicy: FallbackToLogsOnError`.
    pub fallback_to_logs: bool,
}

/// `terminationMessagePath`'s default.
pub const DEFAULT_TERMINATION_MESSAGE_PATH: &str = "/dev/termination-log";

impl Image {
    /// Whether the engine may remove the container as it ends: only a
    /// container with a memory limit can be killed for its own memory, and
    /// then the engine must be asked about it first.
    pub fn removed_as_it_ends(&self) -> bool {
        self.limits.memory.is_none()
    }

    /// The image part of `container`, with `command` and `args` already
    /// expanded by the caller.
    pub fn of(
        container: &Container,
        pod_security: Option<&PodSecurityContext>,
        command: Option<Vec<String>>,
        args: Option<Vec<String>>,
    ) -> Image {
        let reference = container.image.clone().unwrap_or_default();
        Image {
            pull: Pull::of(&reference, container.image_pull_policy.as_deref()),
            reference,
            command,
            args,
            mounts: container
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| Mount {
                    volume: m.name.clone(),
                    path: m.mount_path.clone(),
                    read_only: m.read_only.unwrap_or(false),
                    sub_path: m.sub_path.clone().filter(|s| !s.is_empty()),
                })
                .collect(),
            limits: Limits::of(container),
            security: Security::of(container.security_context.as_ref(), pod_security),
            termination_message_path: container
                .termination_message_path
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| DEFAULT_TERMINATION_MESSAGE_PATH.into()),
            fallback_to_logs: container.termination_message_policy.as_deref()
                == Some("FallbackToLogsOnError"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_pull_policy_depends_on_the_latest_tag() {
        for (image, want) in [
            ("busybox", Pull::Always),
            ("busybox:latest", Pull::Always),
            ("busybox:1.36", Pull::IfNotPresent),
            ("localhost:5000/tools", Pull::Always),
            ("localhost:5000/tools:v2", Pull::IfNotPresent),
            ("busybox@sha256:abc", Pull::IfNotPresent),
        ] {
            assert_eq!(Pull::of(image, None), want, "{image}");
        }
        assert_eq!(Pull::of("busybox", Some("Never")), Pull::Never);
        assert_eq!(Pull::of("busybox:1", Some("Always")), Pull::Always);
    }

    #[test]
    fn run_as_non_root_refuses_root_as_the_kubelet_does() {
        let mut s = Security {
            non_root: true,
            ..Security::default()
        };
        assert!(s.refuses("").unwrap().contains("will run as root"));
        assert!(s.refuses("0:0").is_some());
        assert!(s.refuses("root").is_some());
        assert_eq!(s.refuses("1000"), None);
        assert!(s.refuses("app").unwrap().contains("non-numeric user (app)"));
        s.user = Some(1000);
        assert_eq!(s.refuses(""), None, "runAsUser decides over the image");
        s.user = Some(0);
        assert!(s.refuses("1000").is_some());
    }

    #[test]
    fn limits_are_the_kubelets_cgroup_values() {
        let c: Container = serde_json::from_value(serde_json::json!({
            "name": "main",
            "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}}
        }))
        .unwrap();
        let l = Limits::of(&c);
        assert_eq!(l.memory, Some(64 * 1024 * 1024));
        assert_eq!(l.cpu_millis, Some(500));
        assert_eq!(l.cpu_shares, Some(256));
    }
}
