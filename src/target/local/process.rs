//! One container as a host process: started as the leader of its own process
//! group, output captured to a log file with a size cap, and stopped the way
//! the kubelet stops a container — SIGTERM to the whole group, then SIGKILL
//! once the grace period is over — so that anything the container started
//! goes with it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::container::Process;
use super::isolation::Sandbox;

/// Output kept per container before the rest is dropped (and counted).
pub const DEFAULT_LOG_CAP: u64 = 10 * 1024 * 1024;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Exit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
    /// The kernel killed it for exceeding its memory limit (a container
    /// engine says so): exit code 137, reason `OOMKilled`.
    OomKilled,
}

impl std::fmt::Display for Exit {
    /// `0`, `137`…, or `signal 9` for a process a signal ended.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "{code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
            Exit::OomKilled => write!(f, "137 (OOMKilled)"),
        }
    }
}

impl Exit {
    /// Whether this counts as success (exit status 0).
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code the kubelet reports: a signal's is 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(code) => code,
            Exit::Signal(signal) => 128 + signal,
            Exit::OomKilled => 137,
        }
    }
}

/// Where a process runs and logs.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Working directory when the container sets none.
    pub scratch_dir: PathBuf,
    /// File receiving stdout and stderr.
    pub log_path: PathBuf,
    /// Bytes of output kept.
    pub log_cap: u64,
    /// The sandbox it runs in, where there is one.
    pub sandbox: Option<Sandbox>,
}

/// A started process.
#[derive(Debug)]
pub struct Running {
    child: Child,
    pid: u32,
    group: i32,
    log: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Starts `process` on this machine.
    pub async fn start(process: &Process, placement: &Placement) -> std::io::Result<Running> {
        let (program, args) = process
            .argv
            .split_first()
            .ok_or_else(|| std::io::Error::other("empty command"))?;
        // A program found on the container's PATH is started by its path:
        // std can then spawn with posix_spawn (vfork speed) instead of
        // forking jobcd's whole address space, which it must do when PATH
        // differs from jobcd's own and the program is a bare name.
        let found = find_program(program, &process.env);
        let program_path = found.as_deref().unwrap_or(Path::new(program));
        let cwd = process
            .working_dir
            .as_ref()
            .unwrap_or(&placement.scratch_dir);
        let mut command = match &placement.sandbox {
            None => {
                let mut command = Command::new(program_path);
                command.arg0(program).args(args).current_dir(cwd);
                command
            }
            Some(sandbox) => {
                // A missing program fails here, as without the sandbox (127),
                // not inside it.
                if found.is_none() && !program.contains('/') {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{program} is not on the container's PATH"),
                    ));
                }
                let argv: Vec<&std::ffi::OsStr> = std::iter::once(program_path.as_os_str())
                    .chain(args.iter().map(|a| a.as_ref()))
                    .collect();
                let mut command = Command::new(&sandbox.bwrap);
                command.args(sandbox.wrap(&argv, cwd));
                command
            }
        };
        command
            .env_clear()
            .envs(process.env.iter().map(|(k, v)| (k, v)));
        Running::spawn(command, placement).await
    }

    /// Starts `command` (its environment already set) as the leader of
    /// its own process group, its output going to the placement's log.
    pub async fn spawn(mut command: Command, placement: &Placement) -> std::io::Result<Running> {
        // One trip to the blocking pool for the directories and the log.
        let log_file = {
            let placement = placement.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(&placement.scratch_dir)?;
                if let Some(parent) = placement.log_path.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&placement.log_path)
            })
            .await
            .map_err(std::io::Error::other)??
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the process exited at once"))?;
        let group = pid as i32;
        let log_file = tokio::fs::File::from_std(log_file);
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        // The copier is owned by this value and awaited in `wait`.
        let log = tokio::spawn(copy_capped(stdout, stderr, log_file, placement.log_cap));
        Ok(Running {
            child,
            pid,
            group,
            log: Some(log),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the process to end and its output to be written.
    pub async fn wait(&mut self) -> std::io::Result<Exit> {
        let status = self.child.wait().await?;
        if let Some(log) = self.log.take() {
            log.await.map_err(std::io::Error::other)??;
        }
        use std::os::unix::process::ExitStatusExt;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Exit::Code(code),
            (None, Some(signal)) => Exit::Signal(signal),
            (None, None) => Exit::Code(-1),
        })
    }
}

/// Stops a process group as the kubelet does: SIGTERM, then SIGKILL after
/// `grace`; returns once `running` has ended.
pub async fn stop(running: &mut Running, grace: Duration) -> std::io::Result<Exit> {
    signal_group(running.group, Signal::SIGTERM);
    match tokio::time::timeout(grace, running.child.wait()).await {
        Ok(_) => {}
        Err(_) => {
            signal_group(running.group, Signal::SIGKILL);
        }
    }
    // Whatever else the container left in its group goes too.
    signal_group(running.group, Signal::SIGKILL);
    running.wait().await
}

/// Sends `signal` to a process group; a group that is already gone is fine.
pub fn signal_group(group: i32, signal: Signal) {
    let _ = killpg(Pid::from_raw(group), signal);
}

/// Where `program` is, looked up as `execvp` would in the PATH of `env`;
/// None for a name with a slash (used as it is) or one not found (the
/// spawn then fails as it should).
pub(super) fn find_program(program: &str, env: &[(String, String)]) -> Option<PathBuf> {
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    crate::programs::find(program, path)
}

/// Copies both streams into the log until they close, keeping `cap` bytes
/// and noting how many were dropped.
async fn copy_capped<O, E>(
    stdout: Option<O>,
    stderr: Option<E>,
    mut file: tokio::fs::File,
    cap: u64,
) -> std::io::Result<()>
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
{
    let (mut out, mut err) = (stdout, stderr);
    let (mut buf_out, mut buf_err) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let (mut written, mut dropped) = (0u64, 0u64);
    while out.is_some() || err.is_some() {
        let chunk = tokio::select! {
            n = read_some(&mut out, &mut buf_out), if out.is_some() => (n?, true),
            n = read_some(&mut err, &mut buf_err), if err.is_some() => (n?, false),
        };
        let (n, from_out) = chunk;
        if n == 0 {
            if from_out {
                out = None
            } else {
                err = None
            }
            continue;
        }
        let bytes = if from_out {
            &buf_out[..n]
        } else {
            &buf_err[..n]
        };
        let room = cap.saturating_sub(written) as usize;
        let keep = bytes.len().min(room);
        file.write_all(&bytes[..keep]).await?;
        written += keep as u64;
        dropped += (bytes.len() - keep) as u64;
    }
    if dropped > 0 {
        file.write_all(format!("\n[jobcd: {dropped} more bytes of output were dropped after the {cap}-byte log cap]\n").as_bytes())
            .await?;
    }
    file.flush().await
}

async fn read_some<R: AsyncRead + Unpin>(
    stream: &mut Option<R>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    match stream {
        Some(s) => s.read(buf).await,
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(script: &str) -> Process {
        Process {
            name: "main".into(),
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![
                ("PATH".into(), super::super::container::DEFAULT_PATH.into()),
                ("GREETING".into(), "hi".into()),
            ],
            working_dir: None,
            image: None,
        }
    }

    fn placement(dir: &std::path::Path, cap: u64) -> Placement {
        Placement {
            scratch_dir: dir.join("scratch"),
            log_path: dir.join("logs/main.log"),
            log_cap: cap,
            sandbox: None,
        }
    }

    #[tokio::test]
    async fn exit_codes_env_workdir_and_logs() {
        let dir = tempfile::tempdir().unwrap();
        let p = placement(dir.path(), DEFAULT_LOG_CAP);
        let mut run = Running::start(&process("echo $GREETING; pwd; echo oops >&2; exit 3"), &p)
            .await
            .unwrap();
        assert_eq!(run.wait().await.unwrap(), Exit::Code(3));
        let log = std::fs::read_to_string(&p.log_path).unwrap();
        assert!(log.contains("hi\n"), "{log}");
        assert!(
            log.contains(&format!("{}\n", p.scratch_dir.display())),
            "{log}"
        );
        assert!(log.contains("oops\n"), "{log}");
    }

    #[tokio::test]
    async fn output_beyond_the_cap_is_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = placement(dir.path(), 1000);
        let mut run = Running::start(&process("head -c 5000 /dev/zero | tr '\\0' x"), &p)
            .await
            .unwrap();
        assert!(run.wait().await.unwrap().success());
        let log = std::fs::read_to_string(&p.log_path).unwrap();
        assert!(log.starts_with(&"x".repeat(1000)));
        assert!(
            log.contains("4000 more bytes of output were dropped after the 1000-byte log cap"),
            "{log}"
        );
    }

    #[tokio::test]
    async fn stopping_kills_the_whole_group_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let p = placement(dir.path(), DEFAULT_LOG_CAP);
        // Ignores SIGTERM and leaves a grandchild behind.
        let mut run = Running::start(
            &process("trap '' TERM; sleep 60 & echo $! > grandchild; wait"),
            &p,
        )
        .await
        .unwrap();
        let grandchild_file = p.scratch_dir.join("grandchild");
        while !grandchild_file.exists() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let grandchild: i32 = std::fs::read_to_string(&grandchild_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let exit = stop(&mut run, Duration::from_millis(200)).await.unwrap();
        assert_eq!(
            exit,
            Exit::Signal(9),
            "SIGTERM was ignored, so SIGKILL ended it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        let alive = nix::sys::signal::kill(Pid::from_raw(grandchild), None).is_ok();
        let zombie = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .is_ok_and(|s| s.contains(") Z "));
        assert!(!alive || zombie, "the grandchild {grandchild} must be gone");
    }

    #[tokio::test]
    async fn a_process_that_honours_sigterm_ends_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = placement(dir.path(), DEFAULT_LOG_CAP);
        let mut run = Running::start(&process("exec sleep 60"), &p).await.unwrap();
        let exit = stop(&mut run, Duration::from_secs(10)).await.unwrap();
        assert_eq!(exit, Exit::Signal(15));
    }
}
