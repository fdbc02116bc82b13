//! The downward API for a container's environment, as the kubelet resolves
//! it: `fieldRef` (the pod's name, namespace, uid, labels, annotations,
//! node, service account and addresses) and `resourceFieldRef` (the
//! container's requests and limits, a limit left unset being the node's
//! allocatable amount), on this machine as the one node.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Container, ObjectFieldSelector, PodTemplateSpec, ResourceFieldSelector,
};

use crate::manifest::quantity::Quantity;

/// What the downward API tells about one pod.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pod {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid`.
    pub uid: String,
    /// `metadata.labels`: the template's and the Job controller's.
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// `spec.serviceAccountName` (`default` when the template names none).
    pub service_account: String,
    /// The node: this machine.
    pub node: Node,
}

impl Pod {
    /// The pod `pod_name` of Job `namespace/job` (uid `job_uid`), made from
    /// `template` (completion `index` for an Indexed Job) on `node`: its
    /// labels are the template's with the Job controller's (the selector
    /// labels the API server adds, and the completion index), its uid
    /// derived from the Job's and its own name.
    pub fn of_job_pod(
        namespace: &str,
        job: &str,
        job_uid: &str,
        pod_name: &str,
        index: Option<i32>,
        template: &PodTemplateSpec,
        node: Node,
    ) -> Pod {
        let meta = template.metadata.clone().unwrap_or_default();
        let mut labels = meta.labels.unwrap_or_default();
        let mut annotations = meta.annotations.unwrap_or_default();
        for (key, value) in [
            ("batch.kubernetes.io/controller-uid", job_uid),
            ("batch.kubernetes.io/job-name", job),
            ("controller-uid", job_uid),
            ("job-name", job),
        ] {
            labels
                .entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
        if let Some(i) = index {
            labels.insert(INDEX_KEY.into(), i.to_string());
            annotations.insert(INDEX_KEY.into(), i.to_string());
        }
        let spec = template.spec.as_ref();
        let service_account = spec
            .and_then(|s| s.service_account_name.clone().or(s.service_account.clone()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        Pod {
            name: pod_name.to_string(),
            namespace: namespace.to_string(),
            uid: uid_of(job_uid, pod_name),
            labels,
            annotations,
            service_account,
            node,
        }
    }
}

/// The completion index's label and annotation on an Indexed Job's pod.
const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";

/// A pod's uid, in Kubernetes' form (8-4-4-4-12 hex digits), the same each
/// time for the same pod.
fn uid_of(job_uid: &str, pod_name: &str) -> String {
    use sha2::Digest;
    super::ids::uid(&sha2::Sha256::digest(format!("{job_uid}/{pod_name}")))
}

/// This machine as a node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// `spec.nodeName`: the host name.
    pub name: String,
    /// `status.hostIP`, and `status.podIP` (processes share the host's
    /// network, as a `hostNetwork` pod does).
    pub ip: String,
    /// Allocatable CPU, in millicores.
    pub cpu_millis: i64,
    /// Allocatable memory, in bytes.
    pub memory: i64,
    /// Allocatable ephemeral storage (the scratch file system), in bytes.
    pub ephemeral_storage: i64,
}

impl Node {
    /// This machine, its scratch directories on the file system at
    /// `scratch`.
    pub fn here(scratch: &std::path::Path) -> Node {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get() as i64);
        let memory = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|text| {
                let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            })
            .unwrap_or(0);
        let ephemeral_storage = nix::sys::statvfs::statvfs(scratch)
            .map(|s| (s.blocks() as i64).saturating_mul(s.fragment_size() as i64))
            .unwrap_or(0);
        Node {
            name,
            ip: outward_ip(),
            cpu_millis: cpus * 1000,
            memory,
            ephemeral_storage,
        }
    }
}

/// The address this machine's default route leaves from (no packet is
/// sent), else loopback.
fn outward_ip() -> String {
    std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|_| "127.0.0.1".into())
}

/// The value of `selector` for `pod`, or why there is none.
pub fn field(pod: &Pod, selector: &ObjectFieldSelector) -> Result<String, String> {
    let path = selector.field_path.as_str();
    if let Some((map, key)) = subscript(path) {
        return match map {
            "metadata.labels" => Ok(pod.labels.get(key).cloned().unwrap_or_default()),
            "metadata.annotations" => Ok(pod.annotations.get(key).cloned().unwrap_or_default()),
            _ => Err(format!("fieldPath {path:?} does not take a subscript")),
        };
    }
    Ok(match path {
        "metadata.name" => pod.name.clone(),
        "metadata.namespace" => pod.namespace.clone(),
        "metadata.uid" => pod.uid.clone(),
        "metadata.labels" => format_map(&pod.labels),
        "metadata.annotations" => format_map(&pod.annotations),
        "spec.nodeName" => pod.node.name.clone(),
        "spec.serviceAccountName" => pod.service_account.clone(),
        "status.hostIP" | "status.hostIPs" | "status.podIP" | "status.podIPs" => {
            pod.node.ip.clone()
        }
        other => {
            return Err(format!(
                "fieldPath {other:?} is not one the downward API has"
            ));
        }
    })
}

/// `metadata.labels['key']` → (`metadata.labels`, `key`).
fn subscript(path: &str) -> Option<(&str, &str)> {
    let (map, rest) = path.split_once("['")?;
    Some((map, rest.strip_suffix("']")?))
}

/// `key="value"` lines, sorted by key, values quoted as Go's `%q` quotes
/// them (the form the kubelet writes for a whole map).
fn format_map(map: &BTreeMap<String, String>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k}={}", serde_json::Value::String(v.clone())))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The value of `selector` for `container` (the one the env belongs to;
/// another container of the pod when the selector names it, found in
/// `containers`) on `node`.
pub fn resource(
    selector: &ResourceFieldSelector,
    container: &Container,
    containers: &[Container],
    node: &Node,
) -> Result<String, String> {
    let container = match selector.container_name.as_deref() {
        None | Some("") => container,
        Some(name) => containers
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| format!("no container {name:?} in the pod"))?,
    };
    let divisor = match &selector.divisor {
        Some(q) if !q.0.is_empty() => {
            let d = Quantity::parse(&q.0).map_err(|e| format!("divisor {:?}: {e}", q.0))?;
            if d.scaled(-3) == 0 {
                Quantity::parse("1").expect("1 is a quantity")
            } else {
                d
            }
        }
        _ => Quantity::parse("1").expect("1 is a quantity"),
    };
    let (kind, name) = selector.resource.split_once('.').ok_or_else(|| {
        format!(
            "resource {:?} is not one of limits.* or requests.*",
            selector.resource
        )
    })?;
    let resources = container.resources.clone().unwrap_or_default();
    let amount = |list: &Option<
        BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >| {
        list.as_ref()
            .and_then(|l| l.get(name))
            .and_then(|q| Quantity::parse(&q.0).ok())
            .filter(|q| q.scaled(-9) != 0)
    };
    let limit = amount(&resources.limits);
    // A request left unset is the limit (the API server's defaulting),
    // else nothing; a limit left unset is the node's allocatable amount.
    let value = match kind {
        "limits" => limit,
        "requests" => amount(&resources.requests).or(limit),
        _ => None,
    };
    let allocatable =
        |amount: i64| Quantity::parse(&amount.to_string()).expect("a number is a quantity");
    let ceil_div = |a: i64, b: i64| (a as f64 / b as f64).ceil() as i64;
    let result = match name {
        "cpu" => {
            let milli = match (kind, &value) {
                (_, Some(q)) => q.scaled(-3),
                ("limits", None) => node.cpu_millis,
                _ => 0,
            };
            ceil_div(milli, divisor.scaled(-3))
        }
        "memory" | "ephemeral-storage" => {
            let bytes = match (kind, &value) {
                (_, Some(q)) => q.scaled(0),
                ("limits", None) if name == "memory" => allocatable(node.memory).scaled(0),
                ("limits", None) => allocatable(node.ephemeral_storage).scaled(0),
                _ => 0,
            };
            ceil_div(bytes, divisor.scaled(0).max(1))
        }
        hugepages if hugepages.starts_with("hugepages-") => {
            let bytes = value.map_or(0, |q| q.scaled(0));
            ceil_div(bytes, divisor.scaled(0).max(1))
        }
        other => {
            return Err(format!(
                "resource {kind}.{other} is not one the downward API has"
            ));
        }
    };
    Ok(result.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ResourceRequirements;
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Q;

    fn pod() -> Pod {
        Pod {
            name: "pi-0-abcde".into(),
            namespace: "batch".into(),
            uid: "0f1e2d3c-0000-4000-8000-000000000000".into(),
            labels: BTreeMap::from([
                ("app".into(), "pi".into()),
                ("batch.kubernetes.io/job-name".into(), "pi".into()),
            ]),
            annotations: BTreeMap::from([("note".into(), "say \"hi\"".into())]),
            service_account: "default".into(),
            node: Node {
                name: "box".into(),
                ip: "192.0.2.2".into(),
                cpu_millis: 2000,
                memory: 8 << 30,
                ephemeral_storage: 100 << 30,
            },
        }
    }

    fn path(p: &str) -> ObjectFieldSelector {
        ObjectFieldSelector {
            field_path: p.into(),
            api_version: None,
        }
    }

    #[test]
    fn fields_of_the_pod_and_its_node() {
        let pod = pod();
        for (p, want) in [
            ("metadata.name", "pi-0-abcde"),
            ("metadata.namespace", "batch"),
            ("metadata.uid", "0f1e2d3c-0000-4000-8000-000000000000"),
            ("metadata.labels['app']", "pi"),
            ("metadata.labels['missing']", ""),
            ("metadata.annotations['note']", "say \"hi\""),
            (
                "metadata.labels",
                "app=\"pi\"\nbatch.kubernetes.io/job-name=\"pi\"",
            ),
            ("spec.nodeName", "box"),
            ("spec.serviceAccountName", "default"),
            ("status.podIP", "192.0.2.2"),
            ("status.hostIP", "192.0.2.2"),
        ] {
            assert_eq!(field(&pod, &path(p)).as_deref(), Ok(want), "{p}");
        }
        assert!(field(&pod, &path("metadata.generateName")).is_err());
        assert!(field(&pod, &path("metadata.name['x']")).is_err());
    }

    fn with(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> Container {
        let list = |items: &[(&str, &str)]| {
            (!items.is_empty()).then(|| {
                items
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), Q((*v).to_string())))
                    .collect()
            })
        };
        Container {
            name: "main".into(),
            resources: Some(ResourceRequirements {
                requests: list(requests),
                limits: list(limits),
                ..ResourceRequirements::default()
            }),
            ..Container::default()
        }
    }

    fn value(c: &Container, resource: &str, divisor: Option<&str>) -> String {
        let selector = ResourceFieldSelector {
            resource: resource.into(),
            divisor: divisor.map(|d| Q(d.into())),
            container_name: None,
        };
        super::resource(&selector, c, std::slice::from_ref(c), &pod().node).unwrap()
    }

    #[test]
    fn resources_round_up_in_the_divisor_and_default_as_the_kubelet_does() {
        let c = with(&[("cpu", "250m"), ("memory", "64Mi")], &[("memory", "1Gi")]);
        // CPU rounds up to whole cores unless the divisor says otherwise.
        assert_eq!(value(&c, "requests.cpu", None), "1");
        assert_eq!(value(&c, "requests.cpu", Some("1m")), "250");
        assert_eq!(value(&c, "requests.memory", None), "67108864");
        assert_eq!(value(&c, "requests.memory", Some("1Mi")), "64");
        assert_eq!(value(&c, "limits.memory", Some("1Gi")), "1");
        // An unset limit is the node's allocatable amount.
        assert_eq!(value(&c, "limits.cpu", None), "2");
        assert_eq!(value(&c, "limits.cpu", Some("1m")), "2000");
        assert_eq!(value(&c, "limits.ephemeral-storage", Some("1Gi")), "100");
        // An unset request is the limit, else zero.
        let only_limits = with(&[], &[("cpu", "1500m")]);
        assert_eq!(value(&only_limits, "requests.cpu", Some("1m")), "1500");
        assert_eq!(value(&only_limits, "requests.memory", None), "0");
        // Another container's, by name.
        let other = with(&[("cpu", "3")], &[]);
        let mut other = other;
        other.name = "sidecar".into();
        let selector = ResourceFieldSelector {
            resource: "requests.cpu".into(),
            divisor: None,
            container_name: Some("sidecar".into()),
        };
        assert_eq!(
            resource(&selector, &c, &[c.clone(), other], &pod().node).as_deref(),
            Ok("3")
        );
    }
}
