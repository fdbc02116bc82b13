//! `jobcd serve` as a child process: the real binary with its own state
//! directory, its log gathered line by line, its HTTP address read from
//! the log, and helpers to wait for log lines and stop it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for serve to do something.
pub const PATIENCE: Duration = Duration::from_secs(90);

pub struct Served {
    pub child: Child,
    log: Arc<Mutex<String>>,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Served {
    /// Starts `jobcd serve --config CONFIG` with HOME and the state
    /// directory under `root`, and `env` set; returns once it listens.
    pub fn start(root: &Path, config: &Path, env: &[(&str, &str)]) -> Served {
        Served::start_in(None, root, config, env)
    }

    /// [`Served::start`], in the working directory `cwd` (default: the
    /// test's).
    pub fn start_in(
        cwd: Option<&Path>,
        root: &Path,
        config: &Path,
        env: &[(&str, &str)],
    ) -> Served {
        // A bench may compare another build (`JOBCD_BIN`): the same
        // harness on yesterday's binary.
        let binary =
            std::env::var("JOBCD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_jobcd").to_string());
        let mut command = Command::new(binary);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        command
            .env("HOME", root)
            .env_remove("JOBCD_LOG_FORMAT")
            .arg("--state-dir")
            .arg(root.join("state"))
            .args(["serve", "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let (sink, addr) = (log.clone(), Arc::new(Mutex::new(None::<String>)));
        let found = addr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("HTTP on ").nth(1) {
                    *found.lock().unwrap() = rest.split_whitespace().next().map(str::to_string);
                }
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let deadline = Instant::now() + PATIENCE;
        let base = loop {
            if let Some(a) = addr.lock().unwrap().clone() {
                break format!("http://{a}");
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("serve exited ({status}): {}", log.lock().unwrap());
            }
            assert!(
                Instant::now() < deadline,
                "serve did not listen: {}",
                log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Served { child, log, base }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `needle`; how long that took.
    pub fn wait_log(&self, needle: &str) -> Duration {
        let started = Instant::now();
        while !self.log().contains(needle) {
            assert!(
                started.elapsed() < PATIENCE,
                "no {needle:?} in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        started.elapsed()
    }

    /// Waits until `GET /readyz` answers 200.
    pub fn wait_ready(&self) {
        self.wait_ready_within(PATIENCE);
    }

    /// Waits until `GET /readyz` answers 200, at most `patience`.
    pub fn wait_ready_within(&self, patience: Duration) {
        let deadline = Instant::now() + patience;
        while super::http::request("GET", &format!("{}/readyz", self.base), &[], b"").0 != 200 {
            assert!(Instant::now() < deadline, "never ready:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `signal` to it.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Waits for it to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "serve did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
