//! The client arguments that make a pod and run its containers.

use std::ffi::OsString;

use super::{Engine, Kind, LABEL_POD, LABEL_STATE};
use crate::target::local::container::Process;
use crate::target::local::image::Image;
use crate::target::local::volumes::{Source, Volume};

/// What the engine needs to know of the pod a container runs in.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodSpec {
    /// Namespace.
    pub namespace: String,
    /// Name (also its hostname).
    pub name: String,
    /// `hostNetwork: true`.
    pub host_network: bool,
    /// Its volumes.
    pub volumes: Vec<Volume>,
    /// Registry credentials (a Docker `config.json`) from
    /// `imagePullSecrets`, when there are any.
    pub auth: Option<std::path::PathBuf>,
    /// Whether its containers run together and so need shared namespaces
    /// (a Podman pod, a Docker infra container); a pod of one container
    /// (after its init containers) gets its hostname directly.
    pub shared: bool,
    /// The names of all its containers, init containers included.
    pub containers: Vec<String>,
    /// Where each container's termination message file is (`<dir>/<name>`),
    /// bound at its `terminationMessagePath`.
    pub termination_dir: std::path::PathBuf,
    /// Where the named volumes that are mounted with a `subPath` are on
    /// this machine (the path inside one is bound).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub volume_paths: std::collections::BTreeMap<String, std::path::PathBuf>,
}

impl PodSpec {
    /// `namespace/name`, the value of [`LABEL_POD`].
    pub fn label(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The engine's name of the pod (Podman) or its infra container
    /// (Docker).
    pub fn engine_name(&self) -> String {
        format!("jobcd_{}_{}", self.namespace, self.name)
    }
}

/// The engine's name of container `container` of `pod`.
pub fn container_name(pod: &PodSpec, container: &str) -> String {
    format!("jobcd_{}_{}_{}", pod.namespace, pod.name, container)
}

impl Engine {
    fn labels(&self, pod: &PodSpec) -> Vec<OsString> {
        vec![
            "--label".into(),
            format!("{LABEL_STATE}={}", self.owner).into(),
            "--label".into(),
            format!("{LABEL_POD}={}", pod.label()).into(),
        ]
    }

    /// The arguments that make `pod`'s shared namespaces: a Podman pod, or
    /// on Docker an infra container the containers join. Its hostname is
    /// the pod's name; its network the host's for `hostNetwork`, else the
    /// engine's default.
    pub fn pod_create(&self, pod: &PodSpec) -> Vec<OsString> {
        let mut args: Vec<OsString> = match self.kind {
            Kind::Podman => vec!["pod".into(), "create".into()],
            Kind::Docker => vec!["run".into(), "--detach".into()],
        };
        args.extend(["--name".into(), pod.engine_name().into()]);
        args.extend(self.labels(pod));
        if pod.host_network {
            args.extend(["--network".into(), "host".into()]);
        } else {
            args.extend(["--hostname".into(), pod.name.clone().into()]);
        }
        if self.kind == Kind::Docker {
            // The containers join its IPC namespace, as a pod's share one.
            args.extend(["--ipc".into(), "shareable".into()]);
            args.extend(["--pull".into(), "missing".into()]);
            args.push(self.pause_image.clone().into());
        }
        args
    }

    /// The arguments that remove `pod`'s shared namespaces.
    pub fn pod_remove(&self, pod: &PodSpec) -> Vec<OsString> {
        match self.kind {
            Kind::Podman => vec![
                "pod".into(),
                "rm".into(),
                "--force".into(),
                pod.engine_name().into(),
            ],
            Kind::Docker => vec!["rm".into(), "--force".into(), pod.engine_name().into()],
        }
    }

    /// The arguments that make `pod`'s tmpfs volumes.
    pub fn memory_volumes(&self, pod: &PodSpec) -> Vec<Vec<OsString>> {
        pod.volumes
            .iter()
            .filter_map(|v| match &v.source {
                Source::Memory { name, size } => {
                    let mut options = "mode=1777".to_string();
                    // Podman (4.3) takes a `size` for an XFS project quota
                    // whatever the volume's type, and refuses it elsewhere:
                    // there the tmpfs is as large as the kernel allows.
                    if let (Some(size), Kind::Docker) = (size, self.kind) {
                        options.push_str(&format!(",size={size}"));
                    }
                    let mut args: Vec<OsString> = vec!["volume".into(), "create".into()];
                    args.extend(self.labels(pod));
                    args.extend([
                        "--driver".into(),
                        "local".into(),
                        "--opt".into(),
                        "type=tmpfs".into(),
                        "--opt".into(),
                        "device=tmpfs".into(),
                        "--opt".into(),
                        format!("o={options}").into(),
                        name.into(),
                    ]);
                    Some(args)
                }
                _ => None,
            })
            .collect()
    }

    /// The arguments that run `process` (with its image) in `pod`,
    /// attached: its output comes on the client's stdout and stderr, and
    /// the client exits with the container. Its environment goes by name
    /// only (`--env NAME`): the values are in the client's environment
    /// ([`Engine::run_env`]), never on a command line.
    pub fn run(&self, pod: &PodSpec, process: &Process, image: &Image) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![
            "run".into(),
            "--name".into(),
            container_name(pod, &process.name).into(),
            "--pull".into(),
            "never".into(),
            "--sig-proxy=false".into(),
        ];
        // The engine removes the container as it ends, unless an OOM kill
        // must be asked about: one client call fewer.
        if image.removed_as_it_ends() {
            args.push("--rm".into());
        }
        args.extend(self.labels(pod));
        match (pod.shared, self.kind) {
            (false, _) if pod.host_network => args.extend(["--network".into(), "host".into()]),
            (false, _) => args.extend(["--hostname".into(), pod.name.clone().into()]),
            (true, Kind::Podman) => args.extend(["--pod".into(), pod.engine_name().into()]),
            (true, Kind::Docker) => {
                let shared = format!("container:{}", pod.engine_name());
                args.extend([
                    "--network".into(),
                    shared.clone().into(),
                    "--ipc".into(),
                    shared.into(),
                ]);
            }
        }
        for (name, value) in &process.env {
            // A variable the client itself reads (PATH, HOME, …) keeps the
            // client's value in its environment and goes on the command
            // line instead.
            if self.env.iter().any(|(n, _)| n == name) {
                args.extend(["--env".into(), format!("{name}={value}").into()]);
            } else {
                args.extend(["--env".into(), name.into()]);
            }
        }
        if let Some(dir) = &process.working_dir {
            args.extend(["--workdir".into(), dir.into()]);
        }
        self.mounts(pod, image, &mut args);
        if !image.termination_message_path.is_empty() {
            args.extend([
                "--mount".into(),
                format!(
                    "type=bind,source={},target={}",
                    pod.termination_dir.join(&process.name).display(),
                    image.termination_message_path
                )
                .into(),
            ]);
        }
        let limits = &image.limits;
        if let Some(memory) = limits.memory {
            // No swap beyond the limit, as on a node.
            args.extend([
                "--memory".into(),
                memory.to_string().into(),
                "--memory-swap".into(),
                memory.to_string().into(),
            ]);
        }
        if let Some(millis) = limits.cpu_millis {
            args.extend([
                "--cpus".into(),
                format!("{}.{:03}", millis / 1000, millis % 1000).into(),
            ]);
        }
        if let Some(shares) = limits.cpu_shares {
            args.extend(["--cpu-shares".into(), shares.to_string().into()]);
        }
        let security = &image.security;
        match (security.user, security.group) {
            (Some(user), Some(group)) => {
                args.extend(["--user".into(), format!("{user}:{group}").into()])
            }
            (Some(user), None) => args.extend(["--user".into(), user.to_string().into()]),
            // A group without a user keeps the image's user.
            (None, _) => {}
        }
        for group in &security.supplemental_groups {
            args.extend(["--group-add".into(), group.to_string().into()]);
        }
        if security.read_only_root {
            args.push("--read-only".into());
            if self.kind == Kind::Podman {
                // Podman adds writable tmpfs mounts to a read-only root
                // unless told not to; a node does not.
                args.push("--read-only-tmpfs=false".into());
            }
        }
        for cap in &security.add {
            args.extend(["--cap-add".into(), cap.into()]);
        }
        for cap in &security.drop {
            args.extend(["--cap-drop".into(), cap.into()]);
        }
        if security.privileged {
            args.push("--privileged".into());
        }
        if security.no_new_privileges {
            args.extend(["--security-opt".into(), "no-new-privileges".into()]);
        }
        // `command` replaces the ENTRYPOINT (the client takes one word
        // for it; the rest goes before `args`), which also drops the
        // image's CMD; `args` replace the CMD.
        let mut tail: Vec<OsString> = Vec::new();
        if let Some(command) = &image.command {
            let (first, rest) = command
                .split_first()
                .map_or(("", &[][..]), |(f, r)| (f.as_str(), r));
            args.extend(["--entrypoint".into(), first.into()]);
            tail.extend(rest.iter().map(Into::into));
        }
        if let Some(more) = &image.args {
            tail.extend(more.iter().map(Into::into));
        }
        args.push(image.reference.clone().into());
        args.extend(tail);
        args
    }

    fn mounts(&self, pod: &PodSpec, image: &Image, args: &mut Vec<OsString>) {
        for mount in &image.mounts {
            let Some(volume) = pod.volumes.iter().find(|v| v.name == mount.volume) else {
                continue;
            };
            let read_only = mount.read_only || volume.read_only;
            let spec = match &volume.source {
                Source::Bind(path) => {
                    let source = match &mount.sub_path {
                        Some(sub) => path.join(sub),
                        None => path.clone(),
                    };
                    format!(
                        "type=bind,source={},target={}",
                        source.display(),
                        mount.path
                    )
                }
                Source::Named(name) => match (&mount.sub_path, pod.volume_paths.get(name)) {
                    (Some(sub), Some(path)) => format!(
                        "type=bind,source={},target={}",
                        path.join(sub).display(),
                        mount.path
                    ),
                    _ => format!("type=volume,source={name},target={}", mount.path),
                },
                Source::Memory { name, .. } => {
                    format!("type=volume,source={name},target={}", mount.path)
                }
            };
            let spec = if read_only { spec + ",readonly" } else { spec };
            args.extend(["--mount".into(), spec.into()]);
        }
    }

    /// The client's environment for running `process`: the engine's own,
    /// and the container's variables that `--env NAME` passes on.
    pub fn run_env(&self, process: &Process) -> Vec<(String, String)> {
        let mut env = self.env.clone();
        let own = self.env.len();
        env.extend(
            process
                .env
                .iter()
                .filter(|(name, _)| !self.env[..own].iter().any(|(n, _)| n == name))
                .cloned(),
        );
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::local::image::{Limits, Mount, Pull, Security};

    fn engine(kind: Kind) -> Engine {
        Engine {
            kind,
            program: "/usr/bin/podman".into(),
            version: "4.3.1".into(),
            env: vec![("PATH".into(), "/usr/bin".into())],
            owner: "0123456789abcdef".into(),
            pause_image: "pause:1".into(),
        }
    }

    fn pod() -> PodSpec {
        PodSpec {
            namespace: "batch".into(),
            name: "job-abcde".into(),
            host_network: false,
            volumes: vec![Volume {
                name: "config".into(),
                source: Source::Bind("/state/pods/job-abcde/volumes/config".into()),
                read_only: true,
            }],
            auth: None,
            shared: true,
            containers: vec!["main".into()],
            termination_dir: "/state/pods/job-abcde/termination".into(),
            volume_paths: Default::default(),
        }
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn a_container_runs_attached_with_its_env_by_name_and_its_overrides() {
        let process = Process {
            name: "main".into(),
            argv: Vec::new(),
            env: vec![
                ("PASSWORD".into(), "hunter2".into()),
                ("PATH".into(), "/opt/bin".into()),
            ],
            working_dir: Some("/work".into()),
            image: None,
        };
        let image = Image {
            reference: "postgres:16".into(),
            command: Some(vec!["psql".into(), "-c".into()]),
            args: Some(vec!["select 1".into()]),
            pull: Pull::IfNotPresent,
            mounts: vec![Mount {
                volume: "config".into(),
                path: "/etc/app".into(),
                read_only: false,
                sub_path: None,
            }],
            limits: Limits {
                memory: Some(64 << 20),
                cpu_millis: Some(500),
                cpu_shares: Some(512),
            },
            security: Security {
                user: Some(1000),
                group: Some(2000),
                read_only_root: true,
                drop: vec!["ALL".into()],
                ..Security::default()
            },
            termination_message_path: "/dev/termination-log".into(),
            fallback_to_logs: false,
        };
        let podman = engine(Kind::Podman);
        let args = strings(podman.run(&pod(), &process, &image));
        let joined = args.join(" ");
        assert!(
            joined.starts_with("run --name jobcd_batch_job-abcde_main --pull never --sig-proxy=false --label dev.jobcd.state=0123456789abcdef --label dev.jobcd.pod=batch/job-abcde --pod jobcd_batch_job-abcde"),
            "{joined}"
        );
        assert!(
            joined.contains("--env PASSWORD --env PATH=/opt/bin --workdir /work"),
            "a secret goes by name; a variable the client reads goes by value: {joined}"
        );
        assert!(!joined.contains("hunter2"), "{joined}");
        assert!(
            joined.contains("--mount type=bind,source=/state/pods/job-abcde/volumes/config,target=/etc/app,readonly --mount type=bind,source=/state/pods/job-abcde/termination/main,target=/dev/termination-log"),
            "{joined}"
        );
        assert!(
            joined
                .contains("--memory 67108864 --memory-swap 67108864 --cpus 0.500 --cpu-shares 512"),
            "{joined}"
        );
        assert!(
            joined.contains("--user 1000:2000 --read-only --read-only-tmpfs=false --cap-drop ALL"),
            "{joined}"
        );
        assert!(
            joined.ends_with("--entrypoint psql postgres:16 -c select 1"),
            "{joined}"
        );
        let env = podman.run_env(&process);
        assert!(env.contains(&("PASSWORD".into(), "hunter2".into())));
        assert!(
            env.contains(&("PATH".into(), "/usr/bin".into()))
                && !env.iter().any(|(_, v)| v == "/opt/bin"),
            "the client keeps its own PATH: {env:?}"
        );

        let docker = strings(engine(Kind::Docker).run(&pod(), &process, &image)).join(" ");
        assert!(
            docker.contains(
                "--network container:jobcd_batch_job-abcde --ipc container:jobcd_batch_job-abcde"
            ),
            "{docker}"
        );
        assert!(!docker.contains("--read-only-tmpfs"), "{docker}");
    }

    #[test]
    fn a_pod_of_one_container_needs_no_shared_namespaces() {
        let process = Process {
            name: "main".into(),
            argv: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            image: None,
        };
        let image = Image::of(
            &k8s_openapi::api::core::v1::Container {
                image: Some("tools:1".into()),
                ..Default::default()
            },
            None,
            None,
            None,
        );
        let mut alone = pod();
        alone.shared = false;
        let args = strings(engine(Kind::Podman).run(&alone, &process, &image)).join(" ");
        assert!(args.contains("--hostname job-abcde"), "{args}");
        assert!(!args.contains("--pod"), "{args}");
        alone.host_network = true;
        let args = strings(engine(Kind::Docker).run(&alone, &process, &image)).join(" ");
        assert!(
            args.contains("--network host") && !args.contains("--hostname"),
            "{args}"
        );
    }

    #[test]
    fn a_pod_is_a_podman_pod_or_a_docker_infra_container() {
        let podman = strings(engine(Kind::Podman).pod_create(&pod())).join(" ");
        assert_eq!(
            podman,
            "pod create --name jobcd_batch_job-abcde --label dev.jobcd.state=0123456789abcdef --label dev.jobcd.pod=batch/job-abcde --hostname job-abcde"
        );
        let docker = strings(engine(Kind::Docker).pod_create(&pod())).join(" ");
        assert_eq!(
            docker,
            "run --detach --name jobcd_batch_job-abcde --label dev.jobcd.state=0123456789abcdef --label dev.jobcd.pod=batch/job-abcde --hostname job-abcde --ipc shareable --pull missing pause:1"
        );
        let mut host = pod();
        host.host_network = true;
        let host = strings(engine(Kind::Podman).pod_create(&host)).join(" ");
        assert!(host.ends_with("--network host"), "{host}");
    }
}
