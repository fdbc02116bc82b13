//! Running an engine on a repository's files: in a bubblewrap sandbox
//! where one can be made (the checkout at `/src`, read-only, the program at
//! `/engine`, a private `/tmp`, and nothing else of this machine: no
//! network), else as a plain process fenced off the network by a proxy that
//! refuses every connection; either way with an empty environment, for at
//! most [`TIME_LIMIT`] and [`OUTPUT_LIMIT`] of output.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{OUTPUT_LIMIT, RenderError, TIME_LIMIT};

/// Where an unsandboxed engine's HTTP goes: a port nothing listens on, so
/// every request to another machine is refused. (Go's proxy rules never
/// proxy loopback addresses: those stay reachable, and so only this
/// machine's own services.)
const NO_NETWORK_PROXY: &str = "http://127.0.0.1:9";

/// How long asking an engine its version may take.
const VERSION_LIMIT: Duration = Duration::from_secs(10);

/// An engine program, and how it is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Runner {
    /// The engine.
    pub program: PathBuf,
    /// bubblewrap, when a sandbox works here for this program.
    pub bwrap: Option<PathBuf>,
}

impl Runner {
    /// How `program` runs here, and its version (the first line of what
    /// `version_args` prints). A sandbox is tried first; where bubblewrap
    /// is missing or cannot make one, the program runs without it, and
    /// jobcd warns once.
    pub fn probe(program: PathBuf, version_args: &[&str]) -> Result<(Runner, String), RenderError> {
        let empty = super::Scratch::new()?;
        if let Some(bwrap) = bwrap() {
            let runner = Runner {
                program: program.clone(),
                bwrap: Some(bwrap),
            };
            match runner.version(empty.path(), version_args) {
                Ok(version) => return Ok((runner, version)),
                Err(e) => warn_unsandboxed(&format!("bubblewrap cannot make a sandbox here ({e})")),
            }
        } else {
            warn_unsandboxed("bubblewrap (bwrap) is not installed");
        }
        let runner = Runner {
            program,
            bwrap: None,
        };
        let version = runner.version(empty.path(), version_args)?;
        Ok((runner, version))
    }

    /// The program's version, run as a render would be.
    fn version(&self, root: &Path, args: &[&str]) -> Result<String, RenderError> {
        let (mut command, _) = self.command(root);
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let what = format!("{} {}", self.program.display(), args.join(" "));
        let out = bounded(command, &self.program, &what, VERSION_LIMIT)?;
        let text = String::from_utf8_lossy(&out);
        let first = text.lines().map(str::trim).find(|l| !l.is_empty());
        Ok(first.map_or_else(
            || "(version unknown)".to_string(),
            |l| l.chars().take(60).collect(),
        ))
    }

    /// A command running the program on the checkout `root`, and the path
    /// at which the program sees the checkout.
    pub fn command(&self, root: &Path) -> (Command, PathBuf) {
        let (mut command, seen) = match &self.bwrap {
            Some(bwrap) => {
                let mut c = Command::new(bwrap);
                c.args(["--unshare-all", "--die-with-parent", "--new-session"])
                    .arg("--ro-bind")
                    .arg(root)
                    .arg("/src")
                    .arg("--ro-bind")
                    .arg(&self.program)
                    .arg("/engine")
                    .args([
                        "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/src",
                        "/engine",
                    ]);
                (c, PathBuf::from("/src"))
            }
            None => {
                let mut c = Command::new(&self.program);
                c.current_dir(root);
                (c, root.to_path_buf())
            }
        };
        command.env_clear().env("HOME", "/nonexistent");
        // Cleared first: the fence outlives the clearing.
        if self.bwrap.is_none() {
            for var in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                command.env(var, NO_NETWORK_PROXY);
            }
        }
        (command, seen)
    }

    /// Runs `command` (from [`Runner::command`]) for a render.
    pub fn run(&self, command: Command, what: &str) -> Result<Vec<u8>, RenderError> {
        bounded(command, &self.program, what, TIME_LIMIT)
    }
}

/// bubblewrap ([`crate::programs::bwrap`]); a path that is not a file
/// turns the sandbox off.
fn bwrap() -> Option<PathBuf> {
    crate::programs::bwrap().filter(|b| b.is_file())
}

/// Says once per process that engines run without a sandbox, and why.
fn warn_unsandboxed(why: &str) {
    static WARNED: OnceLock<()> = OnceLock::new();
    WARNED.get_or_init(|| {
        tracing::warn!(
            "renderers run without a sandbox: {why}; they still get no environment, no network beyond this machine, and only the commit's files"
        );
    });
}

/// Runs `command`, keeping at most [`OUTPUT_LIMIT`] of its stdout and
/// stopping it after `limit`.
fn bounded(
    mut command: Command,
    program: &Path,
    what: &str,
    limit: Duration,
) -> Result<Vec<u8>, RenderError> {
    let mut child = command.spawn().map_err(|source| RenderError::Start {
        engine: program.display().to_string(),
        source,
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = (&mut stdout)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut out);
        (read, out)
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut stderr).take(64 << 10).read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RenderError::TooSlow {
                what: what.to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (_, out) = reader.join().unwrap_or((Ok(0), Vec::new()));
    let message = errors.join().unwrap_or_default();
    if out.len() > OUTPUT_LIMIT {
        return Err(RenderError::TooLarge {
            what: what.to_string(),
        });
    }
    if !status.success() {
        return Err(RenderError::Failed {
            what: what.to_string(),
            message: message.trim().trim_start_matches("Error: ").to_string(),
        });
    }
    Ok(out)
}
