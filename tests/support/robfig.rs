//! The Kubernetes cron oracle: robfig/cron v3.0.1 driven exactly as the API
//! server and the CronJob controller drive it (`tests/robfig-oracle`).
//!
//! The Go program is built once per test process into `CARGO_TARGET_TMPDIR`
//! and then runs as one subprocess that answers batches of cases over
//! stdin/stdout. Go is required: without it the tests fail, they do not skip.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use jiff::Timestamp;

/// One question for the oracle: the first `count` fire times of `schedule`
/// strictly after `start`, with `spec.timeZone` = `zone` ("" = unset, the
/// controller running in UTC).
#[derive(Debug, Clone)]
pub struct Case {
    pub schedule: String,
    pub zone: String,
    pub start: Timestamp,
    pub count: usize,
}

/// What Kubernetes does with a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted; the fire times (fewer than asked when robfig returned its
    /// zero time, i.e. nothing within five years).
    Fires(Vec<Timestamp>),
    /// Rejected by the API server, with robfig's (or the TZ rule's) message.
    Rejected(String),
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Fires(_))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Fires(times) if times.is_empty() => f.write_str("accepted, never fires"),
            Outcome::Fires(times) => {
                let times: Vec<String> = times.iter().map(ToString::to_string).collect();
                f.write_str(&times.join(" "))
            }
            Outcome::Rejected(why) => write!(f, "rejected: {why}"),
        }
    }
}

/// Where the oracle's Go sources live.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/robfig-oracle")
}

fn go_command() -> std::ffi::OsString {
    std::env::var_os("GO").unwrap_or_else(|| "go".into())
}

/// Builds the oracle (once per test process) and returns its path.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(build)
}

fn build() -> PathBuf {
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let target = out_dir.join("robfig-oracle");
    // Build under a private name and rename, so that test processes running
    // at the same time never see a half-written binary.
    let partial = out_dir.join(format!("robfig-oracle.{}.partial", std::process::id()));
    let go = go_command();
    let output = Command::new(&go)
        .args(["build", "-o"])
        .arg(&partial)
        .arg(".")
        .current_dir(source_dir())
        .env("GOFLAGS", "-mod=mod -buildvcs=false")
        .env("GOTOOLCHAIN", "local")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => panic!(
            "the Go toolchain ({go:?}) is not installed or not on PATH. The schedule tests \
             compare jobcd with Kubernetes' own cron library (robfig/cron v3.0.1), built from \
             tests/robfig-oracle; install Go 1.22 or later (.ci/run does), or point $GO at it."
        ),
        Err(err) => panic!("could not run {go:?}: {err}"),
    };
    assert!(
        output.status.success(),
        "building the robfig oracle failed ({}) in {}. If the module cache is empty, `go mod \
         download` there needs the Go module proxy once.\n{}{}",
        output.status,
        source_dir().display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    std::fs::rename(&partial, &target)
        .unwrap_or_else(|err| panic!("moving {} into place: {err}", partial.display()));
    target
}

/// A running oracle process.
pub struct Oracle {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Oracle {
    /// Starts the oracle, building it first if need be.
    pub fn start() -> Oracle {
        let mut child = Command::new(binary())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", binary().display()));
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Oracle {
            child,
            stdin,
            stdout,
        }
    }

    /// Answers a batch of cases, in order.
    pub fn run(&mut self, cases: &[Case]) -> Vec<Outcome> {
        let mut input = String::new();
        for case in cases {
            input.push_str(&case_line(case));
            input.push('\n');
        }
        let stdin = self.stdin.as_mut().expect("oracle stdin is open");
        let stdout = &mut self.stdout;
        // Write on one thread while reading on this one, so that neither
        // pipe can fill up and stall the other side.
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || {
                stdin
                    .write_all(input.as_bytes())
                    .and_then(|()| stdin.flush())
            });
            let mut outcomes = Vec::with_capacity(cases.len());
            let mut line = String::new();
            for case in cases {
                line.clear();
                let read = stdout
                    .read_line(&mut line)
                    .unwrap_or_else(|err| panic!("reading from the robfig oracle: {err}"));
                assert!(
                    read > 0,
                    "the robfig oracle exited early (at case {case:?}); see its stderr above"
                );
                outcomes.push(parse_answer(line.trim_end_matches('\n'), case));
            }
            writer
                .join()
                .expect("writer thread")
                .unwrap_or_else(|err| panic!("writing to the robfig oracle: {err}"));
            outcomes
        })
    }

    /// Answers any number of cases, in batches of `batch` through this process.
    pub fn run_batched(&mut self, cases: &[Case], batch: usize) -> Vec<Outcome> {
        cases
            .chunks(batch.max(1))
            .flat_map(|chunk| self.run(chunk))
            .collect()
    }
}

impl Drop for Oracle {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The oracle's input line for a case (see tests/robfig-oracle/main.go).
fn case_line(case: &Case) -> String {
    assert!(
        !case.zone.contains(['\t', '\n', '\r']),
        "zone {:?} cannot be sent to the oracle",
        case.zone
    );
    let schedule = case
        .schedule
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    format!(
        "{}\t{}\t{}\t{}",
        case.zone, case.start, case.count, schedule
    )
}

fn parse_answer(line: &str, case: &Case) -> Outcome {
    if let Some(message) = line.strip_prefix("ERR ") {
        assert!(
            !message.starts_with("bad ") && !message.starts_with("panic: "),
            "the robfig oracle could not evaluate {case:?}: {message}"
        );
        return Outcome::Rejected(message.to_string());
    }
    let Some(times) = line.strip_prefix("OK") else {
        panic!("unexpected answer from the robfig oracle for {case:?}: {line:?}");
    };
    Outcome::Fires(
        times
            .split_whitespace()
            .map(|t| {
                t.parse()
                    .unwrap_or_else(|err| panic!("oracle time {t:?} for {case:?}: {err}"))
            })
            .collect(),
    )
}

/// robfig's `Next()` throughput for one schedule.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    pub calls_per_sec: f64,
    pub ns_per_call: f64,
    pub calls: u64,
    pub seconds: f64,
}

/// Measures robfig's `Next()` for `schedule` in `zone` ("" = unset) for about
/// `seconds`, chaining from 2025-01-01T00:00:00Z and starting again from there
/// after 2035-01-01 or when the schedule runs out.
pub fn bench(schedule: &str, zone: &str, seconds: f64) -> Bench {
    let output = Command::new(binary())
        .arg("-bench")
        .arg(format!("-zone={zone}"))
        .arg(format!("-seconds={seconds}"))
        .arg("--")
        .arg(schedule)
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", binary().display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "robfig bench for {schedule:?} in {zone:?} failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |key: &str| -> f64 {
        stdout
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in robfig bench output {stdout:?}"))
    };
    Bench {
        calls_per_sec: field("calls_per_sec"),
        ns_per_call: field("ns_per_call"),
        calls: field("calls") as u64,
        seconds: field("seconds"),
    }
}
