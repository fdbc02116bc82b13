//! A pod's supervisor: a small process of its own that runs the pod
//! ([`pod::run`]) and outlives jobcd, as conmon outlives Podman.
//!
//! jobcd starts `jobcd supervise DIR` for the pod's directory, in a session
//! of its own, records its pid, and only then hands it the pod's plan on
//! its stdin: a pod that runs always has a recorded supervisor. The
//! supervisor holds the
//! containers' output pipes and writes their logs; it appends what happens
//! (containers starting, exiting, restarting) to `events.jsonl`, rings jobcd
//! by writing a byte to its stdout after each line, and at the end writes
//! how the pod ended to `outcome.json` — atomically, retrying until the disk
//! takes it — before it exits. SIGTERM asks it to stop the pod, as the
//! kubelet stops one.
//!
//! So a pod's truth is in its directory, not in jobcd's memory: if jobcd is
//! killed, the pod goes on, and the next jobcd adopts it — following the
//! supervisor while it runs ([`Supervised::adopt`]), or reading the outcome
//! it left. Only a pod whose supervisor died too is lost.

mod handle;
mod run;

use std::path::{Path, PathBuf};

pub use handle::{FollowError, Lost, Supervised, alive, ask_to_stop};
pub use run::main;

use super::pod;

/// What the supervisor leaves when it ends.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Ended {
    /// The pod ran to its end (or was stopped): how.
    Finished(pod::Outcome),
    /// The supervisor could not run the pod (its own fault, not the
    /// pod's): why.
    Broken(String),
}

/// How to start a supervisor: a program and the arguments before the pod's
/// directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The program.
    pub program: PathBuf,
    /// The name it is started under (what `ps` shows).
    pub name: String,
    /// Its arguments, before the directory.
    pub args: Vec<String>,
    /// Its environment (it starts from none: jobcd's may hold secrets).
    pub env: Vec<(String, String)>,
}

impl Command {
    /// The jobcd binary at `path`, `supervise DIR` (for programs that use
    /// the executor as a library: benchmarks).
    pub fn binary(path: &std::path::Path) -> Command {
        Command {
            program: path.to_path_buf(),
            name: "jobcd".into(),
            args: vec!["supervise".into()],
            env: Vec::new(),
        }
    }

    /// This very jobcd binary (`/proc/self/exe` names it even after it was
    /// replaced on disk by an upgrade), `supervise DIR`.
    #[cfg(not(test))]
    pub fn this_binary() -> Command {
        Command {
            program: PathBuf::from("/proc/self/exe"),
            name: "jobcd".into(),
            args: vec!["supervise".into()],
            env: Vec::new(),
        }
    }

    /// In the library's unit tests the running binary is the test harness:
    /// its test [`run::tests::supervisor_entry`] turns into a supervisor
    /// when started with [`run::TEST_ENTRY`] set.
    #[cfg(test)]
    pub fn this_binary() -> Command {
        let program = std::env::current_exe().expect("the test binary has a path");
        Command {
            name: program.display().to_string(),
            program,
            args: vec![
                "target::local::supervisor::run::tests::supervisor_entry".into(),
                "--exact".into(),
                "--ignored".into(),
                "--nocapture".into(),
                "--quiet".into(),
                "--test-threads=1".into(),
                "--".into(),
            ],
            env: vec![(run::TEST_ENTRY.into(), "1".into())],
        }
    }
}

/// The files of a pod's directory that jobcd and the supervisor share.
#[derive(Debug, Clone)]
pub struct Files {
    dir: PathBuf,
}

impl Files {
    /// The files of the pod directory `dir`.
    pub fn new(dir: &Path) -> Files {
        Files {
            dir: dir.to_path_buf(),
        }
    }

    /// The pod's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What happened so far, one JSON [`pod::Event`] per line.
    pub fn events(&self) -> PathBuf {
        self.dir.join("events.jsonl")
    }

    /// How it ended ([`Ended`]), once it has.
    pub fn outcome(&self) -> PathBuf {
        self.dir.join("outcome.json")
    }

    /// The supervisor's own complaints (its stderr).
    pub fn complaints(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }
}
