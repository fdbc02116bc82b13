//! A pod on an engine, as the pod's supervisor runs it: the shared
//! namespaces first, then for each container its image (pulled as its
//! policy says), a start, a stop and an end read back from the engine,
//! and everything removed when the pod is done.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::process::Command;

use super::{Engine, PodSpec, container_name};
use crate::target::local::container::Process;
use crate::target::local::image::{Image, Pull};
use crate::target::local::process::Exit;

/// A pod on an engine: the engine and what it needs to know of the pod.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OnEngine {
    /// The engine.
    pub engine: Engine,
    /// The pod.
    pub pod: PodSpec,
}

/// The most of a termination message file that is read (its end).
pub const MESSAGE_MAX: u64 = 4 * 1024;
/// The most of a log's end that stands in for a message
/// (FallbackToLogsOnError), in bytes and in lines.
pub const MESSAGE_LOG_MAX: u64 = 2 * 1024;
/// See [`MESSAGE_LOG_MAX`].
pub const MESSAGE_LOG_LINES: usize = 80;

/// Why a container cannot start yet; the kubelet's waiting reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// `ErrImagePull`, `ErrImageNeverPull` or `CreateContainerConfigError`.
    pub reason: &'static str,
    /// What the engine or the check said.
    pub message: String,
}

impl OnEngine {
    /// Makes the pod's tmpfs volumes and, for containers that run
    /// together, its shared namespaces.
    pub async fn create(&self) -> std::io::Result<()> {
        for args in self.engine.memory_volumes(&self.pod) {
            self.engine.output(&args).await?;
        }
        if self.pod.shared {
            self.engine
                .output(&self.engine.pod_create(&self.pod))
                .await?;
        }
        Ok(())
    }

    /// Removes the pod's containers named in `containers` (those the
    /// engine does not remove by itself), shared namespaces and tmpfs
    /// volumes.
    pub async fn remove(&self, containers: &[&str]) {
        let names: Vec<String> = containers
            .iter()
            .map(|c| container_name(&self.pod, c))
            .collect();
        if !names.is_empty() {
            let _ = self.engine.remove(&names).await;
        }
        if self.pod.shared {
            let _ = self.engine.output(&self.engine.pod_remove(&self.pod)).await;
        }
        for v in &self.pod.volumes {
            if let crate::target::local::volumes::Source::Memory { name, .. } = &v.source {
                let _ = self.engine.output(&["volume", "rm", "--force", name]).await;
            }
        }
    }

    /// Whether `image` must be got ready before every start: pulled each
    /// time (`Always`), or its user checked (`runAsNonRoot`). Otherwise a
    /// start that finds the image missing gets it ready then.
    pub fn must_prepare(image: &Image) -> bool {
        image.pull == Pull::Always || image.security.non_root
    }

    /// Gets `image` ready to run: pulled as its policy says, and allowed
    /// by the container's `runAsNonRoot`.
    pub async fn prepare(&self, image: &Image) -> Result<(), Waiting> {
        let engine = &self.engine;
        let reference = &image.reference;
        let have = |e: std::io::Error| Waiting {
            reason: "ErrImagePull",
            message: e.to_string(),
        };
        let pull = match image.pull {
            Pull::Always => true,
            Pull::IfNotPresent => !engine.has_image(reference).await.map_err(have)?,
            Pull::Never => {
                if !engine.has_image(reference).await.map_err(have)? {
                    return Err(Waiting {
                        reason: "ErrImageNeverPull",
                        message: format!(
                            "container image {reference:?} is not present with pull policy of Never"
                        ),
                    });
                }
                false
            }
        };
        if pull {
            engine
                .pull(reference, self.pod.auth.as_deref())
                .await
                .map_err(|e| Waiting {
                    reason: "ErrImagePull",
                    message: format!("pulling {reference:?}: {e}"),
                })?;
        }
        if image.security.non_root {
            let user = engine
                .output(&[
                    "image",
                    "inspect",
                    "--format",
                    "{{.Config.User}}",
                    reference,
                ])
                .await
                .map_err(have)?;
            if let Some(why) = image.security.refuses(user.trim()) {
                return Err(Waiting {
                    reason: "CreateContainerConfigError",
                    message: why,
                });
            }
        }
        Ok(())
    }

    /// The client command that runs `process` attached.
    pub fn run_command(&self, process: &Process, image: &Image) -> Command {
        let mut command = self.engine.command();
        command
            .args(self.engine.run(&self.pod, process, image))
            .env_clear()
            .envs(self.engine.run_env(process));
        command
    }

    /// Removes what an earlier start of `process` left, before it starts
    /// again (OnFailure).
    pub async fn forget(&self, process: &Process) -> std::io::Result<()> {
        self.engine
            .remove(&[container_name(&self.pod, &process.name)])
            .await
    }

    /// Makes `process`'s termination message file empty and writable by
    /// any user the container runs as (0666, as the kubelet makes it),
    /// before it starts.
    pub async fn empty_message(&self, process: &Process) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let path = self.pod.termination_dir.join(&process.name);
        tokio::fs::create_dir_all(&self.pod.termination_dir).await?;
        // The file is bound into the container; other users of this
        // machine do not get to it.
        let private = std::fs::Permissions::from_mode(0o700);
        tokio::fs::set_permissions(&self.pod.termination_dir, private).await?;
        tokio::fs::write(&path, b"").await?;
        tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).await
    }

    /// `process`'s termination message once it ended with `exit`, as the
    /// kubelet reads it: the last 4 KiB of its file; when that is empty,
    /// the container failed and its policy is FallbackToLogsOnError, the
    /// last 80 lines (at most 2 KiB) of what it wrote to its log, which
    /// holds its output from `log_start` on.
    pub async fn message(
        &self,
        process: &Process,
        image: &Image,
        exit: Exit,
        log: &std::path::Path,
        log_start: u64,
    ) -> Option<String> {
        let path = self.pod.termination_dir.join(&process.name);
        let written = tail(&path, 0, MESSAGE_MAX).await.unwrap_or_default();
        if !written.is_empty() {
            return Some(String::from_utf8_lossy(&written).into_owned());
        }
        if !image.fallback_to_logs || exit.success() {
            return None;
        }
        let logged = tail(log, log_start, MESSAGE_LOG_MAX).await.ok()?;
        let text = String::from_utf8_lossy(&logged);
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let kept = lines[lines.len().saturating_sub(MESSAGE_LOG_LINES)..].concat();
        (!kept.is_empty()).then_some(kept)
    }

    /// Stops `process`'s container: its stop signal, SIGKILL after `grace`.
    pub async fn stop(&self, process: &Process, grace: Duration) -> std::io::Result<()> {
        self.engine
            .stop(&container_name(&self.pod, &process.name), grace)
            .await
    }

    /// How `process`'s container ended, given the client's exit, which is
    /// the container's: the engine is asked only when the code may mean
    /// more — 137, which an OOM kill also gives, and 125–127, which the
    /// client also gives for its own errors (when the container was never
    /// made, the client's code stands; its message is in the log).
    pub async fn ended(&self, process: &Process, client: Exit) -> std::io::Result<Exit> {
        if !matches!(client, Exit::Code(125..=127 | 137)) {
            return Ok(client);
        }
        let name = container_name(&self.pod, &process.name);
        Ok(match self.engine.ended(&name).await? {
            Some((_, true)) => Exit::OomKilled,
            Some((code, false)) => Exit::Code(code),
            None => client,
        })
    }
}

/// The last `max` bytes of the file at `path` from offset `start` on.
async fn tail(path: &std::path::Path, start: u64, max: u64) -> std::io::Result<Vec<u8>> {
    let mut file = tokio::fs::File::open(path).await?;
    let length = file.metadata().await?.len();
    let from = length.saturating_sub(max).max(start.min(length));
    file.seek(std::io::SeekFrom::Start(from)).await?;
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes).await?;
    Ok(bytes)
}
