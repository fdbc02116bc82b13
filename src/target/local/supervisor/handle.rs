//! jobcd's side of a supervisor: starting one for a pod, adopting one a
//! killed jobcd left, following its events to the pod's end, and asking it
//! to stop.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdout};
use tokio::sync::watch;

use super::super::pod::{self, Plan};
use super::super::procfs;
use super::super::store::Supervisor;
use super::{Command, Ended, Files};

/// How often an adopted supervisor (no doorbell: it rang the jobcd that
/// started it) is looked at.
const ADOPTED_POLL: Duration = Duration::from_millis(200);
/// How often a supervisor jobcd started is looked at besides its doorbell
/// and its exit (a safety net: both wake jobcd at once).
const STARTED_POLL: Duration = Duration::from_secs(2);

/// A pod whose supervisor ended without saying how the pod ended (it was
/// killed): the pod is lost.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the supervisor of pod {pod} ended without recording how the pod ended")]
pub struct Lost {
    /// The pod.
    pub pod: String,
}

/// A running supervisor, and what jobcd has read of its pod so far.
#[derive(Debug)]
pub struct Supervised {
    files: Files,
    pod: String,
    /// None for a pod whose supervisor was never recorded (jobcd died just
    /// as it started it): only an outcome it left can be read.
    process: Option<Supervisor>,
    /// Set when jobcd started it: its exit, and its doorbell.
    child: Option<(Child, Option<ChildStdout>)>,
    /// Bytes of the events file already read.
    read: u64,
}

impl Supervised {
    /// Starts a supervisor for pod `pod` in directory `dir` with `command`;
    /// it waits for its plan ([`Supervised::hand_over`]).
    pub async fn start(
        command: &Command,
        pod: &str,
        dir: &std::path::Path,
    ) -> std::io::Result<Supervised> {
        let files = Files::new(dir);
        let complaints = {
            let files = files.clone();
            tokio::task::spawn_blocking(move || {
                std::fs::create_dir_all(files.dir())?;
                std::fs::File::create(files.complaints())
            })
            .await
            .map_err(std::io::Error::other)??
        };
        let mut child = tokio::process::Command::new(&command.program)
            .arg0(&command.name)
            .args(&command.args)
            .arg(files.dir())
            .env_clear()
            .envs(command.env.iter().map(|(k, v)| (k, v)))
            // Recovery finds a pod's processes by their HOSTNAME, the pod's
            // name, as its containers have it.
            .env("HOSTNAME", pod)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(complaints)
            .spawn()?;
        let pid = child
            .id()
            .ok_or_else(|| std::io::Error::other("the supervisor exited at once"))?;
        let bell = child.stdout.take();
        Ok(Supervised {
            files,
            pod: pod.to_string(),
            process: Some(Supervisor {
                pid,
                start_ticks: procfs::start_ticks(pid),
            }),
            child: Some((child, bell)),
            read: 0,
        })
    }

    /// Hands the started supervisor its pod's plan: the pod starts.
    pub async fn hand_over(&mut self, plan: &Plan) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut stdin = self
            .child
            .as_mut()
            .and_then(|(child, _)| child.stdin.take())
            .ok_or_else(|| std::io::Error::other("the supervisor was handed its plan already"))?;
        stdin
            .write_all(&serde_json::to_vec(plan).expect("plans always serialize"))
            .await?;
        stdin.shutdown().await
    }

    /// Takes over the supervisor `process` of pod `pod`, whose directory is
    /// `dir`, left by an earlier jobcd.
    pub fn adopt(dir: &std::path::Path, pod: &str, process: Option<Supervisor>) -> Supervised {
        Supervised {
            files: Files::new(dir),
            pod: pod.to_string(),
            process,
            child: None,
            read: 0,
        }
    }

    /// The supervisor's process, to record.
    pub fn process(&self) -> Option<Supervisor> {
        self.process
    }

    /// Follows the pod to its end: `on_event` gets each event (all of them
    /// from the start, for an adopted pod), and `stop` turning true asks
    /// the supervisor to stop the pod.
    pub async fn follow(
        mut self,
        mut on_event: impl FnMut(pod::Event),
        mut stop: watch::Receiver<bool>,
    ) -> Result<pod::Outcome, FollowError> {
        let mut asked_to_stop = false;
        loop {
            if !asked_to_stop && *stop.borrow_and_update() {
                asked_to_stop = true;
                if let Some(process) = self.process {
                    ask_to_stop(process);
                }
            }
            // Looked at before the outcome: a supervisor gone before its
            // outcome was read has left it, or never will.
            let gone = self.gone().await;
            self.read_events(&mut on_event).await?;
            if let Some(ended) = self.ended().await? {
                // Events written just before the outcome.
                self.read_events(&mut on_event).await?;
                return match ended {
                    Ended::Finished(outcome) => Ok(outcome),
                    Ended::Broken(why) => Err(FollowError::Broken {
                        pod: self.pod.clone(),
                        why,
                    }),
                };
            }
            if gone {
                return Err(FollowError::Lost(Lost {
                    pod: self.pod.clone(),
                }));
            }
            self.wait(&mut stop).await;
        }
    }

    /// Waits for something to look at: the doorbell, the supervisor's exit,
    /// a stop, or the poll interval.
    async fn wait(&mut self, stop: &mut watch::Receiver<bool>) {
        let stop_changed = async {
            if stop.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        match &mut self.child {
            Some((child, bell)) => {
                let mut buf = [0u8; 256];
                let rang = async {
                    match bell {
                        Some(out) => match out.read(&mut buf).await {
                            Ok(n) if n > 0 => {}
                            // Closed: the supervisor is ending.
                            _ => *bell = None,
                        },
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = rang => {}
                    _ = child.wait() => {}
                    () = stop_changed => {}
                    () = tokio::time::sleep(STARTED_POLL) => {}
                }
            }
            None => {
                tokio::select! {
                    () = stop_changed => {}
                    () = tokio::time::sleep(ADOPTED_POLL) => {}
                }
            }
        }
    }

    /// Whether the supervisor has ended.
    async fn gone(&mut self) -> bool {
        match &mut self.child {
            Some((child, _)) => !matches!(child.try_wait(), Ok(None)),
            None => {
                let process = self.process;
                tokio::task::spawn_blocking(move || !process.is_some_and(alive))
                    .await
                    .unwrap_or(true)
            }
        }
    }

    /// The new complete lines of the events file, each handed on.
    async fn read_events(
        &mut self,
        on_event: &mut impl FnMut(pod::Event),
    ) -> Result<(), FollowError> {
        let (path, from) = (self.files.events(), self.read);
        let bytes = tokio::task::spawn_blocking(move || read_from(&path, from))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|source| self.unreadable(self.files.events(), source))?;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in bytes[..complete].split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            // A line the disk cut short (it was full) is skipped: events
            // only tell progress, the outcome tells the end.
            if let Ok(event) = serde_json::from_slice(line) {
                on_event(event);
            }
        }
        self.read += complete as u64;
        Ok(())
    }

    /// How the pod ended, once the supervisor has said so.
    async fn ended(&self) -> Result<Option<Ended>, FollowError> {
        let path = self.files.outcome();
        let read = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || std::fs::read(path))
                .await
                .map_err(std::io::Error::other)
                .and_then(|r| r)
        };
        match read {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                self.unreadable(
                    path,
                    std::io::Error::new(std::io::ErrorKind::InvalidData, e),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.unreadable(path, e)),
        }
    }

    fn unreadable(&self, path: std::path::PathBuf, source: std::io::Error) -> FollowError {
        FollowError::Unreadable {
            pod: self.pod.clone(),
            path,
            source,
        }
    }
}

/// Why a pod could not be followed to its end.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// Its supervisor was killed before the pod ended: the pod is lost.
    #[error(transparent)]
    Lost(Lost),
    /// The supervisor could not run the pod (jobcd's fault, not the pod's).
    #[error("the supervisor of pod {pod} could not run it: {why}")]
    Broken {
        /// The pod.
        pod: String,
        /// Why.
        why: String,
    },
    /// A file the supervisor writes could not be read.
    #[error("pod {pod}: reading {}", path.display())]
    Unreadable {
        /// The pod.
        pod: String,
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Whether `process` is alive and still the one recorded.
pub fn alive(process: Supervisor) -> bool {
    procfs::alive(process.pid, process.start_ticks)
}

/// Asks supervisor `process` to stop its pod (SIGTERM), if it is still the
/// process recorded (a pid is reused once its process is gone).
pub fn ask_to_stop(process: Supervisor) {
    if alive(process) {
        let _ = nix::sys::signal::kill(Pid::from_raw(process.pid as i32), Signal::SIGTERM);
    }
}

/// The bytes of `path` from offset `from` on; none when it does not exist.
fn read_from(path: &std::path::Path, from: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    file.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}
