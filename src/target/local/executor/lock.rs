//! One runner per state directory. The process that runs Jobs holds an
//! exclusive `flock` on `executor.lock`; the kernel releases it when that
//! process dies, however it dies, so a lock that can be taken means every
//! run recorded as unfinished has lost its supervisor.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The lock file's name in the state directory.
pub const FILE_NAME: &str = "executor.lock";

/// The held lock; dropping it releases it.
#[derive(Debug)]
pub struct RunnerLock {
    _file: Flock<File>,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process runs Jobs from this state directory.
    #[error(
        "another jobcd{holder} is running Jobs from {dir}; stop it, or give this one its own --state-dir",
        holder = holder.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir = dir.display()
    )]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid, as it wrote it.
        holder: Option<u32>,
    },
    /// The lock file could not be used.
    #[error("locking {path}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl RunnerLock {
    /// Takes the lock of `state_dir` without waiting, and writes this
    /// process's pid into it for the error message of the next contender.
    pub fn acquire(state_dir: &Path) -> Result<RunnerLock, Error> {
        let path = state_dir.join(FILE_NAME);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(Error::Held {
                    dir: state_dir.to_path_buf(),
                    holder: text.trim().parse().ok(),
                });
            }
            Err((_, errno)) => return Err(io(errno.into())),
        };
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        Ok(RunnerLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_runner_is_refused_with_the_holders_pid_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let held = RunnerLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file description, so a second open
        // in the same process contends like another process would.
        let err = RunnerLock::acquire(dir.path()).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains(&format!("(pid {})", std::process::id()))
                && message.contains("--state-dir"),
            "{message}"
        );
        drop(held);
        RunnerLock::acquire(dir.path()).expect("free once released");
    }
}
