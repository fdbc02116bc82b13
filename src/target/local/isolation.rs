//! Keeping a Job's containers away from jobcd on the process runtime.
//!
//! A container runs as jobcd's user, so without help it could read jobcd's
//! environment (`/proc/<jobcd>/environ`, where a token may be) and its
//! memory, and read or erase jobcd's state directory — the run-once ledger.
//! Where bubblewrap (`bwrap`) works, each container runs in its own PID
//! namespace with a fresh `/proc` (jobcd and the supervisors are not there
//! to be read), and jobcd's state directory and the other pods' scratch
//! directories are covered by empty tmpfs mounts; the rest of the machine is
//! as the host has it. Where it does not, jobcd says so once at start and
//! in `jobcd local status`. Either way a container starts outside the state
//! directory (in a scratch directory of its own), jobcd makes itself
//! non-dumpable, and it takes secrets from files when they are given so.

use std::path::{Path, PathBuf};

/// The program that overrides where bubblewrap is found.
pub use crate::programs::BWRAP_ENV;

/// How containers are kept from jobcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Each container in a sandbox made by bubblewrap at this path.
    Bubblewrap(PathBuf),
    /// Not isolated: why, and what to do.
    Unavailable(String),
}

impl Isolation {
    /// Finds out whether bubblewrap works here (`JOBCD_BWRAP`, else `bwrap`
    /// on jobcd's PATH), by making one sandbox. Blocking: call it off the
    /// async runtime.
    pub fn probe() -> Isolation {
        // Looked up in jobcd's own PATH, as a container's program is in its.
        let Some(bwrap) = crate::programs::bwrap() else {
            return Isolation::Unavailable(
                "bubblewrap (bwrap) is not installed; install it (the bubblewrap package) to isolate them"
                    .into(),
            );
        };
        let probe = std::process::Command::new(&bwrap)
            .args(SANDBOX)
            .args(["--", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .output();
        match probe {
            Ok(out) if out.status.success() => Isolation::Bubblewrap(bwrap),
            Ok(out) => Isolation::Unavailable(format!(
                "{} cannot make a sandbox here ({}); allow unprivileged user namespaces, or run jobcd as root",
                bwrap.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => Isolation::Unavailable(format!("{} does not run: {e}", bwrap.display())),
        }
    }

    /// One line for people: what containers are kept from.
    pub fn describe(&self) -> String {
        match self {
            Isolation::Bubblewrap(bwrap) => format!(
                "containers are isolated from jobcd by {} (own PID namespace, state directory hidden)",
                bwrap.display()
            ),
            Isolation::Unavailable(why) => format!(
                "containers are NOT isolated from jobcd: they can read its environment and state directory; {why}"
            ),
        }
    }
}

/// The sandbox every container gets: its own PID namespace with its own
/// `/proc`, and the host's filesystem otherwise. Its processes stay in the
/// container's process group, so stopping the group stops them; like a
/// container without a sandbox, it outlives a supervisor that was killed
/// (recovery stops it then).
const SANDBOX: &[&str] = &["--unshare-pid", "--dev-bind", "/", "/", "--proc", "/proc"];

/// How one container is sandboxed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sandbox {
    /// bubblewrap.
    pub bwrap: PathBuf,
    /// Directories covered by an empty tmpfs (jobcd's state, the scratch
    /// directories of every pod).
    pub hide: Vec<PathBuf>,
    /// Directories bound back after that (the pod's own scratch).
    pub keep: Vec<PathBuf>,
}

impl Sandbox {
    /// The arguments that run `argv` in the sandbox, in `cwd`.
    pub fn wrap(&self, argv: &[&std::ffi::OsStr], cwd: &Path) -> Vec<std::ffi::OsString> {
        let mut args: Vec<std::ffi::OsString> = SANDBOX.iter().map(Into::into).collect();
        for dir in &self.hide {
            args.extend(["--tmpfs".into(), dir.into()]);
        }
        for dir in &self.keep {
            args.extend(["--bind".into(), dir.into(), dir.into()]);
        }
        args.extend(["--chdir".into(), cwd.into(), "--".into()]);
        args.extend(argv.iter().map(|a| a.into()));
        args
    }
}

/// Makes this process non-dumpable: processes of the same user can then
/// read neither its environment nor its memory (root still can; the
/// sandbox is what keeps a container from those).
pub fn not_dumpable() {
    let _ = nix::sys::prctl::set_dumpable(false);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sandbox_hides_then_keeps_and_runs_the_command_in_its_directory() {
        let sandbox = Sandbox {
            bwrap: "/usr/bin/bwrap".into(),
            hide: vec!["/state".into(), "/scratch".into()],
            keep: vec!["/scratch/pod".into()],
        };
        let args = sandbox.wrap(
            &["sh".as_ref(), "-c".as_ref(), "pwd".as_ref()],
            Path::new("/scratch/pod"),
        );
        let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
        assert_eq!(
            args,
            [
                "--unshare-pid",
                "--dev-bind",
                "/",
                "/",
                "--proc",
                "/proc",
                "--tmpfs",
                "/state",
                "--tmpfs",
                "/scratch",
                "--bind",
                "/scratch/pod",
                "/scratch/pod",
                "--chdir",
                "/scratch/pod",
                "--",
                "sh",
                "-c",
                "pwd"
            ]
        );
    }
}
