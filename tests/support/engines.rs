//! Real container engines for the local target's tests: Podman with a
//! store of its own in a temporary directory, and a Docker daemon of its
//! own (its socket, data and exec roots in a temporary directory, no
//! iptables, no bridge), both stopped and removed on drop. Installed by
//! scripts/test-deps (podman, runc, docker.io, busybox-static).
//!
//! The test images are made here without a registry: a root filesystem of
//! Debian's static busybox, imported with `--change` lines for its
//! ENTRYPOINT, CMD and USER.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// ENTRYPOINT `/bin/echo`, CMD `from image`; runs as root.
pub const ECHO_IMAGE: &str = "localhost/jobcd-test/echo:1";
/// A shell, USER 1000; its CMD prints the user id.
pub const NONROOT_IMAGE: &str = "localhost/jobcd-test/nonroot:1";
/// Sleeps until SIGTERM: Docker's infra container in the tests.
pub const PAUSE_IMAGE: &str = "localhost/jobcd-test/pause:1";

/// Which engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Podman,
    Docker,
}

impl Kind {
    pub fn runtime(self) -> &'static str {
        match self {
            Kind::Podman => "podman",
            Kind::Docker => "docker",
        }
    }
}

/// An engine of the test's own.
pub struct Engine {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    /// What jobcd (and the client) need in their environment.
    pub env: Vec<(String, String)>,
    daemon: Option<std::process::Child>,
}

/// A root filesystem of busybox as a tar file, made once per test process.
fn rootfs() -> &'static Path {
    static TAR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    TAR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("jobcd-test-rootfs-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox is installed (scripts/test-deps installs busybox-static)");
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for applet in [
            "sh", "echo", "cat", "env", "sleep", "ls", "id", "hostname", "nc", "head", "tr",
            "test", "stat", "wc", "mkdir", "touch", "printf", "true", "false", "kill", "grep",
            "seq", "cut",
        ] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let tar = dir.join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        tar
    })
}

impl Engine {
    /// Podman with its own store and configuration.
    pub fn podman() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                d.join("store").display(),
                d.join("run").display()
            ),
        )
        .unwrap();
        // runc (crun fails on these machines' cgroups), file events, the
        // limits these sandboxes allow, and no network by default: the
        // default bridge would leave iptables rules behind.
        std::fs::write(
            d.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\nnetns = \"none\"\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\ntmp_dir = \"{}\"\nvolume_path = \"{}\"\n",
                d.join("tmp").display(),
                d.join("volumes").display()
            ),
        )
        .unwrap();
        // No registry to search for short names; registries the tests
        // start are added by `Engine::trust`.
        std::fs::write(
            d.join("registries.conf"),
            "unqualified-search-registries = []\n",
        )
        .unwrap();
        let env = vec![
            (
                "CONTAINERS_REGISTRIES_CONF".to_string(),
                d.join("registries.conf").display().to_string(),
            ),
            (
                "CONTAINERS_STORAGE_CONF".to_string(),
                d.join("storage.conf").display().to_string(),
            ),
            (
                "CONTAINERS_CONF".to_string(),
                d.join("containers.conf").display().to_string(),
            ),
        ];
        let engine = Engine {
            kind: Kind::Podman,
            dir,
            env,
            daemon: None,
        };
        engine.import_images();
        engine
    }

    /// A Docker daemon of the test's own.
    pub fn docker() -> Engine {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let socket = d.join("docker.sock");
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let daemon = Command::new("dockerd")
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
                "--default-ulimit",
                "nofile=4096:4096",
                "--default-ulimit",
                "nproc=4096:4096",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("dockerd runs (scripts/test-deps installs docker.io)");
        let env = vec![
            (
                "DOCKER_HOST".to_string(),
                format!("unix://{}", socket.display()),
            ),
            (
                "DOCKER_CONFIG".to_string(),
                d.join("client").display().to_string(),
            ),
            ("JOBCD_PAUSE_IMAGE".to_string(), PAUSE_IMAGE.to_string()),
        ];
        let engine = Engine {
            kind: Kind::Docker,
            dir,
            env,
            daemon: Some(daemon),
        };
        let started = Instant::now();
        while !engine.client(&["version"]).status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "dockerd did not answer: {}",
                std::fs::read_to_string(engine.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        engine.import_images();
        engine
    }

    /// The engine's client, with the test engine's environment.
    pub fn client(&self, args: &[&str]) -> std::process::Output {
        Command::new(self.kind.runtime())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .output()
            .unwrap()
    }

    fn import_images(&self) {
        let tar = rootfs().to_str().unwrap();
        for (image, changes) in [
            (
                ECHO_IMAGE,
                &[r#"ENTRYPOINT ["/bin/echo"]"#, r#"CMD ["from", "image"]"#][..],
            ),
            (
                NONROOT_IMAGE,
                &[
                    r#"ENTRYPOINT ["/bin/sh", "-c"]"#,
                    r#"CMD ["id -u"]"#,
                    "USER 1000",
                ][..],
            ),
            (
                PAUSE_IMAGE,
                &[
                    r#"ENTRYPOINT ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]"#,
                ][..],
            ),
        ] {
            let mut args = vec!["import"];
            for change in changes {
                args.extend(["--change", change]);
            }
            args.extend([tar, image]);
            let out = self.client(&args);
            assert!(
                out.status.success(),
                "{} import {image}: {}",
                self.kind.runtime(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Lets the engine pull from `registry` over plain HTTP (Docker does
    /// for loopback registries by itself).
    pub fn trust(&self, registry: &Registry) {
        if self.kind == Kind::Podman {
            use std::io::Write;
            let mut conf = std::fs::OpenOptions::new()
                .append(true)
                .open(self.dir.path().join("registries.conf"))
                .unwrap();
            writeln!(
                conf,
                "[[registry]]\nlocation = \"{}\"\ninsecure = true",
                registry.host
            )
            .unwrap();
        }
    }

    /// Names of the containers the engine has, running or not.
    pub fn containers(&self) -> Vec<String> {
        let out = self.client(&["ps", "--all", "--format", "{{.Names}}"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.ends_with("-infra"))
            .map(String::from)
            .collect()
    }

    /// A jobcd command with the engine's environment and `--runtime`.
    pub fn jobcd(&self, state: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .arg("--state-dir")
            .arg(state)
            .args(["--runtime", self.kind.runtime()]);
        command
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Whatever the test left running goes with the engine.
        let names = self.client(&["ps", "--all", "--quiet"]);
        let ids: Vec<String> = String::from_utf8_lossy(&names.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "--force"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.client(&args);
        }
        if self.kind == Kind::Podman {
            let _ = self.client(&["pod", "rm", "--all", "--force"]);
        }
        if let Some(mut daemon) = self.daemon.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(daemon.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = daemon.wait();
        }
        // vfs layers may hold read-only directories; make them removable.
        let _ = Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(self.dir.path())
            .stderr(Stdio::null())
            .status();
    }
}

/// A real registry (Debian's `docker-registry`, the distribution project's)
/// on loopback with basic auth, stopped on drop.
pub struct Registry {
    pub dir: tempfile::TempDir,
    /// `127.0.0.1:PORT`.
    pub host: String,
    pub user: &'static str,
    pub password: &'static str,
    child: std::process::Child,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let (user, password) = ("puller", "s3cret-pull");
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("htpasswd runs (scripts/test-deps installs apache2-utils)");
        assert!(htpasswd.status.success());
        std::fs::write(dir.path().join("htpasswd"), &htpasswd.stdout).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let host = format!("127.0.0.1:{port}");
        std::fs::write(
            dir.path().join("config.yml"),
            format!(
                "version: 0.1\nlog: {{level: warn}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp: {{addr: \"{host}\"}}\nauth:\n  htpasswd: {{realm: jobcd-test, path: {}}}\n",
                dir.path().join("data").display(),
                dir.path().join("htpasswd").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry runs (scripts/test-deps installs it)");
        let started = Instant::now();
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the registry did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry {
            dir,
            host,
            user,
            password,
            child,
        }
    }

    /// A Docker `config.json` with this registry's credentials, as a
    /// `kubernetes.io/dockerconfigjson` Secret holds it.
    pub fn docker_config(&self) -> String {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.user, self.password));
        format!(
            "{{\"auths\": {{\"{}\": {{\"auth\": \"{auth}\"}}}}}}",
            self.host
        )
    }

    /// Pushes `image` from `engine` to this registry as `name`; the
    /// engine's own credentials are left as they were (a pull without a
    /// pull secret must not find them).
    pub fn push(&self, engine: &Engine, image: &str, name: &str) -> String {
        let target = format!("{}/{name}", self.host);
        let creds = format!("{}:{}", self.user, self.password);
        let scratch = tempfile::tempdir().unwrap();
        std::fs::write(scratch.path().join("auth.json"), "{}").unwrap();
        let client = |args: &[&str]| {
            let out = Command::new(engine.kind.runtime())
                .envs(engine.env.iter().map(|(k, v)| (k, v)))
                .env("DOCKER_CONFIG", scratch.path())
                .env("REGISTRY_AUTH_FILE", scratch.path().join("auth.json"))
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{} {args:?}: {}",
                engine.kind.runtime(),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        match engine.kind {
            Kind::Podman => client(&[
                "push",
                "--tls-verify=false",
                "--creds",
                &creds,
                image,
                &target,
            ]),
            Kind::Docker => {
                client(&[
                    "login",
                    "--username",
                    self.user,
                    "--password",
                    self.password,
                    &self.host,
                ]);
                client(&["tag", image, &target]);
                client(&["push", &target]);
                // Pulled later by jobcd, not found in the store.
                client(&["rmi", &target]);
            }
        }
        target
    }

    /// Stops the registry: pulls fail from then on.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
