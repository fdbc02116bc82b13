//! A scene for crash tests of `jobcd local`: a state directory, manifests,
//! and containers that are `sh` scripts reporting what happens to them
//! through files in a temporary directory. Every container carries that
//! directory's path in its environment, so a test can find each process it
//! caused, check that none is left when it ends, and kill them if it fails
//! half-way.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tempfile::TempDir;

/// How long any awaited condition may take (the longest, a retry after
/// recovery, takes about 12 s).
pub const PATIENCE: Duration = Duration::from_secs(30);
/// How often a condition is checked.
pub const POLL: Duration = Duration::from_millis(50);
/// The environment variable marking a test's container processes.
pub const MARK: &str = "JOBCD_CRASH_TEST";

/// Polls `ready` until it holds; panics after [`PATIENCE`].
pub fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// A jobcd process the test drives, its stdout and stderr collected as they
/// come. Dropping it kills it, so a failing test leaks no runner.
pub struct Jobcd {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
}

impl Jobcd {
    /// Starts jobcd on `state` with `args`; `sandbox: false` runs its
    /// containers without bubblewrap.
    pub fn spawn(state: &Path, args: &[&str], sandbox: bool) -> Jobcd {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
        if !sandbox {
            command.env("JOBCD_BWRAP", "/nonexistent/bwrap");
        }
        let mut child = command
            .arg("--state-dir")
            .arg(state)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the jobcd binary runs");
        let output = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let readers = vec![
            collect(stdout, output.clone()),
            collect(stderr, output.clone()),
        ];
        Jobcd {
            child,
            output,
            readers,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for(&self, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "gave up after {PATIENCE:?} waiting for {needle:?} in:\n{}",
                self.output()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Kills jobcd with SIGKILL, as the OOM killer or `kill -9` would.
    pub fn crash(&mut self) {
        self.child.kill().expect("SIGKILL is delivered");
        let status = self.finish();
        assert_eq!(status.signal(), Some(9), "{}", self.output());
    }

    /// Sends SIGKILL to jobcd whatever it is doing (it may have just
    /// exited by itself) and waits for it.
    pub fn kill_now(&mut self) -> ExitStatus {
        let _ = kill(Pid::from_raw(self.pid() as i32), Signal::SIGKILL);
        self.finish()
    }

    /// Kills jobcd and the supervisors of its pods in `state` with SIGKILL,
    /// as an OOM kill of the whole service would: the containers are left
    /// alone, as orphans.
    pub fn crash_with_supervisors(&mut self, state: &Path) {
        self.crash();
        for pid in supervisors(state) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }

    /// Asks jobcd to stop with SIGTERM and waits for it.
    pub fn terminate(&mut self) -> ExitStatus {
        kill(Pid::from_raw(self.pid() as i32), Signal::SIGTERM).expect("SIGTERM is delivered");
        self.finish()
    }

    /// Waits for jobcd to exit and for all its output.
    pub fn finish(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("jobcd can be waited for") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "jobcd did not exit within {PATIENCE:?}:\n{}",
                self.output()
            );
            std::thread::sleep(POLL);
        };
        // Containers never inherit jobcd's stdout or stderr, so the pipes
        // close when jobcd has exited.
        for reader in self.readers.drain(..) {
            reader.join().expect("the output reader does not panic");
        }
        status
    }
}

impl Drop for Jobcd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Appends everything `stream` yields to `into`, on a thread of its own.
pub fn collect(mut stream: impl Read + Send + 'static, into: Arc<Mutex<String>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

/// One test's world: a state directory, a manifest directory, and a
/// directory the containers write to, whose path marks their processes.
/// Dropping it kills any marked process still alive.
pub struct Scene {
    pub state: TempDir,
    pub manifests: TempDir,
    pub work: TempDir,
    /// Containers run in bubblewrap's sandbox (jobcd's default where it
    /// works).
    pub sandbox: bool,
}

impl Scene {
    pub fn new() -> Scene {
        Scene {
            state: tempfile::tempdir().unwrap(),
            manifests: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
            sandbox: true,
        }
    }

    /// A scene whose containers run without a sandbox, for tests that
    /// follow them by the pids they write (a PID namespace gives them
    /// other pids).
    pub fn without_sandbox() -> Scene {
        let mut scene = Scene::new();
        scene.sandbox = false;
        scene
    }

    /// A path the containers write to.
    pub fn file(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// Writes a manifest.
    pub fn manifest(&self, name: &str, yaml: &str) {
        std::fs::write(self.manifests.path().join(name), yaml).unwrap();
    }

    /// Starts jobcd on this scene's state.
    pub fn jobcd(&self, args: &[&str]) -> Jobcd {
        Jobcd::spawn(self.state.path(), args, self.sandbox)
    }

    /// Starts `jobcd local apply` on the manifest directory.
    pub fn apply(&self) -> Jobcd {
        self.jobcd(&["local", "apply", self.manifests.path().to_str().unwrap()])
    }

    /// `jobcd local runs NAME`.
    pub fn runs(&self, name: &str) -> String {
        let mut runs = self.jobcd(&["local", "runs", name]);
        let status = runs.finish();
        assert!(status.success(), "{}", runs.output());
        runs.output()
    }

    /// The whole lines of a file the containers append to (none if absent).
    pub fn lines(&self, name: &str) -> Vec<String> {
        let text = std::fs::read_to_string(self.file(name)).unwrap_or_default();
        text.split_inclusive('\n')
            .filter(|l| l.ends_with('\n'))
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// The pids a container wrote to `name`, one a line.
    pub fn pids(&self, name: &str) -> Vec<u32> {
        self.lines(name)
            .iter()
            .map(|l| l.parse().expect("a pid"))
            .collect()
    }

    /// Waits until a container has written a pid to `name`; returns it.
    pub fn wait_for_pid(&self, name: &str) -> u32 {
        wait_until(&format!("a container writes {name}"), || {
            !self.pids(name).is_empty()
        });
        self.pids(name)[0]
    }

    /// Waits until `local runs NAME` shows pod `pod` running, which jobcd
    /// records together with its processes.
    pub fn wait_until_recorded(&self, name: &str, pod: &str) {
        let running = format!("  pod {pod} Running ");
        wait_until(&format!("pod {pod} is recorded running"), || {
            self.runs(name).contains(&running)
        });
    }

    /// The live processes that carry this scene's mark.
    pub fn leftovers(&self) -> Vec<u32> {
        let mark = format!("{MARK}={}", self.work.path().display());
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == mark.as_bytes()))
            })
            .filter(|pid| alive(*pid))
            .collect()
    }

    /// The container of the test's pods: `script` run by `sh`, with the
    /// scene's mark in its environment; YAML for `template.spec`. `$$` is
    /// the kubelet's escape for `$` in command and args, so scripts write
    /// `$$$$` for the shell's own pid.
    pub fn pod_spec(&self, script: &str) -> String {
        format!(
            "spec:\n  restartPolicy: Never\n  terminationGracePeriodSeconds: 2\n  containers:\n    - name: main\n      image: busybox\n      env:\n        - name: {MARK}\n          value: \"{mark}\"\n      command: [sh, -c]\n      args:\n        - |\n{script}",
            mark = self.work.path().display(),
            script = indent(script, 10)
        )
    }

    /// A Job running `script`.
    pub fn job(&self, name: &str, backoff_limit: i32, script: &str) -> String {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  backoffLimit: {backoff_limit}\n  template:\n{}",
            indent(&self.pod_spec(script), 4)
        )
    }

    /// A CronJob firing every 2 s with `concurrencyPolicy: Forbid`.
    pub fn forbid_cronjob(&self, name: &str, backoff_limit: i32, script: &str) -> String {
        format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: \"@every 2s\"\n  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      backoffLimit: {backoff_limit}\n      template:\n{}",
            indent(&self.pod_spec(script), 8)
        )
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        for pid in self.leftovers() {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

pub fn indent(text: &str, by: usize) -> String {
    text.lines().map(|l| format!("{:by$}{l}\n", "")).collect()
}

/// Whether process `pid` exists and has not exited (a zombie has).
pub fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat[stat.rfind(')').map_or(0, |i| i + 1)..]
        .split_whitespace()
        .next();
    !matches!(state, Some("Z" | "X"))
}

/// The supervisors (`jobcd supervise DIR`) of pods under state directory
/// `state`.
pub fn supervisors(state: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            args.iter().any(|a| *a == b"supervise")
                && args
                    .iter()
                    .any(|a| a.starts_with(state.as_os_str().as_encoded_bytes()))
        })
        .collect()
}

/// Whether process `pid` ignores SIGTERM (bit 15 of `SigIgn` in its status).
pub fn ignores_sigterm(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .is_some_and(|mask| mask & (1 << (15 - 1)) != 0)
}

/// The pod named on a `… pod NAME started` line of jobcd's output.
pub fn started_pod(output: &str) -> String {
    output
        .lines()
        .find_map(|l| l.split_once(": pod ")?.1.strip_suffix(" started"))
        .unwrap_or_else(|| panic!("no pod started in:\n{output}"))
        .to_string()
}

/// The Job lines of `local runs` (pods are the indented lines).
pub fn job_lines(runs: &str) -> Vec<&str> {
    runs.lines().filter(|l| !l.starts_with(' ')).collect()
}

/// The pod of the only run of CronJob `tick` so far.
pub fn only_pod(runs: &str) -> String {
    runs.split_whitespace()
        .skip_while(|w| *w != "pod")
        .nth(1)
        .unwrap_or_else(|| panic!("a pod is listed:\n{runs}"))
        .to_string()
}

/// The pods of `local runs`, oldest first.
pub fn pod_lines(runs: &str) -> Vec<&str> {
    runs.lines().filter(|l| l.starts_with("  pod ")).collect()
}
