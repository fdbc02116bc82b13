//! Container engines for the local target: Podman and Docker, driven
//! through their command-line clients.
//!
//! Why the clients and not the Docker-compatible REST API both can serve:
//! Podman has no daemon, and its API exists only while `podman system
//! service` runs — jobcd would have to start, supervise and secure that
//! service. The two clients take the same `run`, `inspect`, `stop`, `rm`
//! and `pull` options for everything a pod needs, so one code path drives
//! both, and whatever the user configured for the engine (storage, runtime,
//! registries, `DOCKER_HOST`, a rootless socket) applies as it does to
//! their own commands. The cost is one short-lived client process per
//! container operation; `benches/container_start` measures it against a
//! plain `podman run --rm`.
//!
//! Every container and pod jobcd makes carries the labels
//! [`LABEL_STATE`] (which state directory owns it) and [`LABEL_POD`]:
//! after a crash, the next start finds them by label and removes those
//! whose pod is no longer running.

mod args;
mod pod;

use std::path::{Path, PathBuf};
use std::process::Stdio;

pub use args::{PodSpec, container_name};
pub use pod::{OnEngine, Waiting};

/// Label naming the state directory (its [`owner`] id) a container belongs to.
pub const LABEL_STATE: &str = "dev.jobcd.state";
/// Label naming the pod (`namespace/name`) a container belongs to.
pub const LABEL_POD: &str = "dev.jobcd.pod";

/// Where a pod's containers run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRuntime {
    /// Host processes (the container's `command`, no image), each in a
    /// bubblewrap sandbox where bubblewrap works.
    #[default]
    Process,
    /// Podman: images, volumes, limits; no daemon needed.
    Podman,
    /// Docker, through its daemon.
    Docker,
}

impl ContainerRuntime {
    /// The variable that chooses the runtime when no flag or setting does.
    pub const ENV: &'static str = "JOBCD_RUNTIME";

    /// The engine it runs containers with (None for host processes).
    pub fn engine(self) -> Option<Kind> {
        match self {
            ContainerRuntime::Process => None,
            ContainerRuntime::Podman => Some(Kind::Podman),
            ContainerRuntime::Docker => Some(Kind::Docker),
        }
    }
}

/// A runtime name that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown runtime {0:?}: use process, podman or docker")]
pub struct UnknownRuntime(pub String);

impl std::str::FromStr for ContainerRuntime {
    type Err = UnknownRuntime;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(ContainerRuntime::Process),
            "podman" => Ok(ContainerRuntime::Podman),
            "docker" => Ok(ContainerRuntime::Docker),
            other => Err(UnknownRuntime(other.to_string())),
        }
    }
}

impl std::fmt::Display for ContainerRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ContainerRuntime::Process => "process",
            ContainerRuntime::Podman => "podman",
            ContainerRuntime::Docker => "docker",
        })
    }
}

/// A container engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Podman.
    Podman,
    /// Docker.
    Docker,
}

impl Kind {
    /// The client's usual name, and the variable that overrides where it is.
    fn program(self) -> (&'static str, &'static str) {
        match self {
            Kind::Podman => ("podman", "JOBCD_PODMAN"),
            Kind::Docker => ("docker", "JOBCD_DOCKER"),
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.program().0)
    }
}

/// The image of each pod's infra container on Docker (which has no pods):
/// the one the kubelet's container runtimes use for a pod sandbox.
/// Podman makes its own pods, infra container included.
pub const DEFAULT_PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.10";

/// The variable that names another pause image.
pub const PAUSE_IMAGE_ENV: &str = "JOBCD_PAUSE_IMAGE";

/// An engine that answered, ready to run pods.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Engine {
    /// Which.
    pub kind: Kind,
    /// Its client.
    pub program: PathBuf,
    /// The version it reported.
    pub version: String,
    /// The client's own environment: the variables that configure it,
    /// taken from jobcd's (a container's variables are added per run).
    pub env: Vec<(String, String)>,
    /// The state directory's id, labelling everything jobcd makes.
    pub owner: String,
    /// The infra container's image on Docker.
    pub pause_image: String,
}

/// Why an engine cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    /// Its client is not installed.
    #[error(
        "the {kind} runtime needs the {kind} client, which is not on PATH; install {kind}, set {variable} to its path, or use --runtime process"
    )]
    NotInstalled {
        /// Which.
        kind: Kind,
        /// The variable naming the client.
        variable: &'static str,
    },
    /// It did not answer.
    #[error("{} does not work here: {detail}; fix the engine (try `{} info`) or use another --runtime", program.display(), kind)]
    NotWorking {
        /// Which.
        kind: Kind,
        /// Its client.
        program: PathBuf,
        /// What it said.
        detail: String,
    },
}

/// The variables of jobcd's environment an engine's client needs: where
/// it is configured, where its socket and storage are, proxies for pulls.
fn engine_env() -> Vec<(String, String)> {
    const NAMES: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "TMPDIR",
        "XDG_RUNTIME_DIR",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "REGISTRY_AUTH_FILE",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "no_proxy",
    ];
    std::env::vars()
        .filter(|(name, _)| {
            NAMES.contains(&name.as_str())
                || name.starts_with("CONTAINERS_")
                || name.starts_with("DOCKER_")
        })
        .collect()
}

/// The id of the state directory `state_dir`, for [`LABEL_STATE`]: the
/// same directory always gets the same id.
pub fn owner(state_dir: &Path) -> String {
    use sha2::Digest;
    let path = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let digest = sha2::Sha256::digest(path.as_os_str().as_encoded_bytes());
    crate::hex::hex(&digest[..8])
}

impl Engine {
    /// Finds `kind`'s client and checks that it works (Docker: that its
    /// daemon answers). Blocking: call it off the async runtime.
    pub fn probe(kind: Kind, state_dir: &Path) -> Result<Engine, Unavailable> {
        Engine::probe_in(kind, state_dir, engine_env())
    }

    /// [`Engine::probe`], the client configured by `env` instead of
    /// jobcd's environment (benchmarks and tests of their own engines).
    pub fn probe_in(
        kind: Kind,
        state_dir: &Path,
        env: Vec<(String, String)>,
    ) -> Result<Engine, Unavailable> {
        let (name, variable) = kind.program();
        let program = std::env::var_os(variable)
            .map(PathBuf::from)
            .or_else(|| crate::programs::on_path(name))
            .ok_or(Unavailable::NotInstalled { kind, variable })?;
        let format = match kind {
            Kind::Podman => "{{.Version.Version}}",
            Kind::Docker => "{{.ServerVersion}}",
        };
        let out = std::process::Command::new(&program)
            .args(["info", "--format", format])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Unavailable::NotWorking {
                kind,
                program: program.clone(),
                detail: e.to_string(),
            })?;
        if !out.status.success() {
            return Err(Unavailable::NotWorking {
                kind,
                program,
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let pause_image = env
            .iter()
            .find(|(k, _)| k == PAUSE_IMAGE_ENV)
            .map(|(_, v)| v.clone())
            .or_else(|| std::env::var(PAUSE_IMAGE_ENV).ok())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_PAUSE_IMAGE.to_string());
        Ok(Engine {
            kind,
            program,
            version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            env,
            owner: owner(state_dir),
            pause_image,
        })
    }

    /// One line for people: which engine, which version.
    pub fn describe(&self) -> String {
        format!(
            "containers run on {} {} ({})",
            self.kind,
            self.version,
            self.program.display()
        )
    }

    /// A client command with the engine's environment and nothing else.
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        command
    }

    /// Runs the client with `args`; its stdout, or its stderr as the error.
    pub async fn output<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> std::io::Result<String> {
        let out = self
            .command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            // The subcommand (`volume create`, `pod rm`) names what failed.
            let words: Vec<_> = args
                .iter()
                .take(2)
                .map(|a| a.as_ref().to_string_lossy())
                .collect();
            Err(std::io::Error::other(format!(
                "{} {}: {}",
                self.kind,
                words.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// Where the named volume `name` is on this machine, made if it is not
    /// there yet (a claim's volume, for a `subPath` inside it).
    pub async fn volume_path(&self, name: &str) -> std::io::Result<PathBuf> {
        let inspect = ["volume", "inspect", "--format", "{{.Mountpoint}}", name];
        let path = match self.output(&inspect).await {
            Ok(path) => path,
            Err(_) => {
                self.output(&["volume", "create", name]).await?;
                self.output(&inspect).await?
            }
        };
        Ok(PathBuf::from(path.trim()))
    }

    /// Whether `image` is in the engine's store.
    pub async fn has_image(&self, image: &str) -> std::io::Result<bool> {
        let out = self
            .command()
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        Ok(out.success())
    }

    /// Pulls `image`, with the registry credentials in `auth` (a
    /// `config.json` of Docker's format) when there are any.
    pub async fn pull(&self, image: &str, auth: Option<&Path>) -> std::io::Result<()> {
        let mut command = self.command();
        match (self.kind, auth) {
            (Kind::Podman, Some(auth)) => {
                command.arg("pull").arg("--authfile").arg(auth);
            }
            (Kind::Docker, Some(auth)) => {
                command
                    .arg("--config")
                    .arg(auth.parent().unwrap_or(Path::new(".")))
                    .arg("pull");
            }
            (_, None) => {
                command.arg("pull");
            }
        }
        if self.kind == Kind::Podman {
            command.arg("--quiet");
        }
        let out = command
            .arg(image)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(std::io::Error::other(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ))
        }
    }

    /// How the container `name` ended: its exit code and whether the
    /// kernel killed it for memory; None when there is no such container
    /// (it was never created).
    pub async fn ended(&self, name: &str) -> std::io::Result<Option<(i32, bool)>> {
        let out = self
            .command()
            .args([
                "container",
                "inspect",
                "--format",
                "{{.State.ExitCode}} {{.State.OOMKilled}}",
                name,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .await?;
        if !out.status.success() {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut words = text.split_whitespace();
        let code = words.next().and_then(|w| w.parse().ok());
        let oom = words.next() == Some("true");
        Ok(code.map(|code| (code, oom)))
    }

    /// Stops the container `name` as the kubelet stops one: its stop
    /// signal (SIGTERM unless the image says otherwise), then SIGKILL after
    /// `grace`.
    pub async fn stop(&self, name: &str, grace: std::time::Duration) -> std::io::Result<()> {
        let seconds = grace.as_secs().to_string();
        // A container that already ended, or was never made, is stopped.
        let _ = self
            .command()
            .args(["stop", "--time", &seconds, name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        Ok(())
    }

    /// Removes the containers named, killing those still running.
    pub async fn remove(&self, containers: &[String]) -> std::io::Result<()> {
        if containers.is_empty() {
            return Ok(());
        }
        let mut command = self.command();
        command.args(["rm", "--force", "--volumes"]);
        if self.kind == Kind::Podman {
            // Killed at once, as Docker's `rm --force` does (Podman would
            // wait out a stop timeout first).
            command.args(["--time", "0"]);
        }
        let _ = command
            .args(containers)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await?;
        Ok(())
    }

    /// Removes what this state directory's pods left on the engine —
    /// containers, Podman pods, tmpfs volumes — but for the pods named in
    /// `keep` (still running under their supervisors); the names of the
    /// containers removed.
    pub async fn sweep(
        &self,
        keep: &std::collections::HashSet<String>,
    ) -> std::io::Result<Vec<String>> {
        let filter = format!("label={LABEL_STATE}={}", self.owner);
        // Podman's ps has the labels as a map, Docker's a method for one.
        let format = match self.kind {
            Kind::Podman => format!("{{{{.Names}}}}\t{{{{index .Labels \"{LABEL_POD}\"}}}}"),
            Kind::Docker => format!("{{{{.Names}}}}\t{{{{.Label \"{LABEL_POD}\"}}}}"),
        };
        let out = self
            .output(&["ps", "--all", "--filter", &filter, "--format", &format])
            .await?;
        let kept = |pod: &str| keep.contains(pod.rsplit('/').next().unwrap_or(pod));
        let gone: Vec<String> = out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(_, pod)| !kept(pod.trim()))
            .map(|(name, _)| name.trim().to_string())
            .collect();
        self.remove(&gone).await?;
        // Pods and volumes are named `jobcd_<namespace>_<pod>[_<volume>]`
        // (names and namespaces have no `_`).
        let pod_of = |name: &str| name.split('_').nth(2).map(str::to_string);
        if self.kind == Kind::Podman {
            let pods = self
                .output(&["pod", "ps", "--filter", &filter, "--format", "{{.Name}}"])
                .await?;
            for name in pods.lines().map(str::trim).filter(|n| !n.is_empty()) {
                if !pod_of(name).is_some_and(|p| keep.contains(&p)) {
                    let _ = self.output(&["pod", "rm", "--force", name]).await;
                }
            }
        }
        let volumes = self
            .output(&["volume", "ls", "--filter", &filter, "--format", "{{.Name}}"])
            .await?;
        for name in volumes.lines().map(str::trim).filter(|n| !n.is_empty()) {
            if !pod_of(name).is_some_and(|p| keep.contains(&p)) {
                let _ = self.output(&["volume", "rm", "--force", name]).await;
            }
        }
        Ok(gone)
    }
}

/// What pods on an engine may use of this machine beyond their own
/// containers; nothing unless the configuration says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    /// Directories under which `hostPath` volumes may be (and the
    /// directories themselves).
    pub host_paths: Vec<PathBuf>,
    /// Whether `privileged: true` containers may run.
    pub privileged: bool,
}
