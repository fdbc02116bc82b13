//! `jobcd diff` and `jobcd sync` end to end: a real git repository built
//! commit by commit with the `git` command line, the real `jobcd` binary,
//! and the real local executor, whose Jobs are `sh` scripts run as host
//! processes. Every Job appends a line to its own file in the test's `out`
//! directory, so a test counts how many times each Job really ran instead of
//! trusting what jobcd says about it.
//!
//! Each test has its own temporary root holding the repository, a `HOME`
//! (so that no user or system git configuration is read, by git or by
//! jobcd's libgit2), the `--state-dir` and the `out` directory.
//!
//! Timing: commands are waited for with a generous deadline (a hung jobcd
//! fails the test instead of hanging it); the one wait on time itself is
//! `local serve` removing a Job when its `ttlSecondsAfterFinished` (2 s)
//! runs out, and that is polled for, not slept.

use std::fs::{self, File};
use std::io::{Read, Seek};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use tempfile::TempDir;

/// How long any one command, or any awaited condition, may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// How often a running command or a condition is checked.
const POLL: Duration = Duration::from_millis(10);
/// Where the manifests live inside the repository (`--path`).
const MANIFESTS: &str = "deploy";

/// A test's repository, state directory and run counters.
struct World {
    root: TempDir,
}

impl World {
    /// An empty repository on branch `main`.
    fn new() -> World {
        let root = tempfile::tempdir().unwrap();
        for dir in ["repo", "home", "out"] {
            fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        let world = World { root };
        world.git(&["init", "-q", "-b", "main"]);
        world
    }

    fn repo(&self) -> PathBuf {
        self.root.path().join("repo")
    }

    fn state(&self) -> PathBuf {
        self.root.path().join("state")
    }

    fn out(&self) -> PathBuf {
        self.root.path().join("out")
    }

    /// A command isolated from the host's configuration: no system git
    /// config, a fresh `HOME`, and none of jobcd's `JOBCD_*` variables.
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(self.repo())
            .env("HOME", self.root.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada Lovelace")
            .env("GIT_AUTHOR_EMAIL", "ada@example.com")
            .env("GIT_COMMITTER_NAME", "Ada Lovelace")
            .env("GIT_COMMITTER_EMAIL", "ada@example.com")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE");
        for var in ["JOBCD_REPO", "JOBCD_REF", "JOBCD_PATH", "JOBCD_SOURCE"] {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Runs git in the repository; returns its stdout, trimmed.
    fn git(&self, args: &[&str]) -> String {
        let out = self
            .command("git")
            .args(["-c", "commit.gpgSign=false"])
            .args(args)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes a manifest (path relative to the manifest directory) into the
    /// working tree, without committing it.
    fn write(&self, file: &str, content: &str) {
        let path = self.repo().join(MANIFESTS).join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    /// Deletes a manifest from the working tree.
    fn remove(&self, file: &str) {
        fs::remove_file(self.repo().join(MANIFESTS).join(file)).unwrap();
    }

    /// Commits the whole working tree; returns the commit's sha.
    fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Starts `jobcd --state-dir S ARGS`.
    fn spawn(&self, args: &[&str]) -> Running {
        let stdout = tempfile::tempfile().unwrap();
        let stderr = tempfile::tempfile().unwrap();
        let child = self
            .command(env!("CARGO_BIN_EXE_jobcd"))
            .arg("--state-dir")
            .arg(self.state())
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().unwrap())
            .stderr(stderr.try_clone().unwrap())
            .spawn()
            .expect("the jobcd binary runs");
        Running {
            child,
            stdout,
            stderr,
            what: args.join(" "),
        }
    }

    /// Runs `jobcd --state-dir S ARGS` to its end.
    fn jobcd(&self, args: &[&str]) -> Output {
        self.spawn(args).wait()
    }

    /// `jobcd sync` of the repository's manifest directory.
    fn sync(&self, extra: &[&str]) -> Output {
        self.on_repo("sync", extra)
    }

    /// `jobcd diff` of the repository's manifest directory.
    fn diff(&self, extra: &[&str]) -> Output {
        self.on_repo("diff", extra)
    }

    fn on_repo(&self, command: &str, extra: &[&str]) -> Output {
        let repo = self.repo();
        let mut args = vec![
            command,
            "--repo",
            repo.to_str().unwrap(),
            "--path",
            MANIFESTS,
        ];
        args.extend_from_slice(extra);
        self.jobcd(&args)
    }

    /// A Job that appends `version` to its counter file each time it runs.
    fn job(&self, name: &str, version: &str) -> String {
        format!(
            "apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox
          command: [\"sh\", \"-c\", \"echo {version} >> {out}/{name}\"]
",
            out = self.out().display()
        )
    }

    /// The lines Job `name` wrote: one per time it really ran.
    fn ran(&self, name: &str) -> Vec<String> {
        match fs::read_to_string(self.out().join(name)) {
            Ok(content) => content.lines().map(str::to_string).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("reading the counter of {name}: {e}"),
        }
    }

    /// What `jobcd local status` lists, one entry per object: its id and,
    /// in parentheses, where it came from (`Job default/NAME (… FILE @
    /// SHORTSHA)`), without the CronJobs' next firing time.
    fn status(&self) -> Vec<String> {
        let out = self.jobcd(&["local", "status"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|line| line.starts_with("Job ") || line.starts_with("CronJob "))
            .map(|line| {
                line.split_once(')')
                    .map_or(line, |(head, _)| head)
                    .to_string()
                    + ")"
            })
            .collect()
    }

    /// The objects `jobcd local status` lists: `Job default/NAME`, sorted.
    fn objects(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .status()
            .iter()
            .map(|line| line.split(" (").next().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The bytes of the executor's SQLite files, to prove a command wrote
    /// nothing (see [`the_commit_story`]).
    fn database(&self) -> Vec<(&'static str, Option<Vec<u8>>)> {
        ["local.db", "local.db-wal"]
            .into_iter()
            .map(|name| (name, fs::read(self.state().join(name)).ok()))
            .collect()
    }
}

/// A jobcd process with its output going to anonymous files. Dropping it
/// kills the process, so a failing test leaks none.
struct Running {
    child: Child,
    stdout: File,
    stderr: File,
    what: String,
}

impl Running {
    /// Waits for the process to exit; panics after [`PATIENCE`].
    fn wait(mut self) -> Output {
        let status = self.wait_status();
        Output {
            status,
            stdout: read_all(&mut self.stdout).into_bytes(),
            stderr: read_all(&mut self.stderr).into_bytes(),
        }
    }

    fn wait_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "jobcd {} still runs after {PATIENCE:?}:\n{}{}",
                self.what,
                read_all(&mut self.stdout),
                read_all(&mut self.stderr)
            );
            std::thread::sleep(POLL);
        }
    }

    /// Stdout so far.
    fn stdout(&mut self) -> String {
        read_all(&mut self.stdout)
    }

    /// Asks jobcd to stop as `kill -TERM` does and waits for it.
    fn terminate(self) -> Output {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).expect("SIGTERM is delivered");
        self.wait()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The whole content of a file the child writes to.
fn read_all(file: &mut File) -> String {
    let mut content = String::new();
    file.rewind().unwrap();
    file.read_to_string(&mut content).unwrap();
    content
}

/// Stdout then stderr, for assertions and failure messages.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `ready` until it holds; panics after [`PATIENCE`].
fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "gave up after {PATIENCE:?} waiting until {what}"
        );
        std::thread::sleep(POLL);
    }
}

/// The plan of a `-o json` report as (name, action) pairs, in plan order.
fn actions(report: &Value) -> Vec<(String, String)> {
    report["plan"]
        .as_array()
        .expect("the report has a plan")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap().to_string(),
                step["action"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON object ({e}):\n{}", text(out)))
}

fn cronjob(name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
spec:
  schedule: \"{schedule}\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: main
              image: busybox
              command: [\"sh\", \"-c\", \"echo {name}\"]
"
    )
}

/// The story of the issue, one commit after another: create, change one
/// Job, rewrite the manifests without changing what they mean, remove a
/// CronJob, push a broken file, fix it.
#[test]
fn the_commit_story() {
    let world = World::new();
    let jobs = ["migrate-db", "seed-cache", "warm-index"];

    // Commit 1: three Jobs and two CronJobs (five objects: one prune later
    // is within the default 25 % share, though a single deletion is always
    // allowed anyway).
    for name in jobs {
        world.write(&format!("{name}.yaml"), &world.job(name, "v1"));
    }
    world.write(
        "cron.yaml",
        &format!(
            "{}---\n{}",
            cronjob("nightly-backup", "0 3 * * *"),
            cronjob("weekly-cleanup", "0 4 * * 0")
        ),
    );
    let first = world.commit("three Jobs and two CronJobs");

    let dry = world.sync(&["--dry-run"]);
    let all = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{all}");
    assert!(
        all.contains("Job default/migrate-db: create — new Job: it will run"),
        "{all}"
    );
    assert!(all.contains("dry run: nothing applied"), "{all}");
    assert!(world.objects().is_empty(), "a dry run applies nothing");
    assert!(world.ran("migrate-db").is_empty(), "a dry run runs nothing");

    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for name in jobs {
        assert!(
            all.contains(&format!(
                "Job default/{name}: create — new Job: it will run"
            )),
            "{all}"
        );
        assert!(
            all.contains(&format!(
                "Job default/{name}: Complete (CompletionsReached); 1 succeeded, 0 failed"
            )),
            "{all}"
        );
        assert_eq!(world.ran(name), ["v1"], "{name} ran once");
    }
    for name in ["nightly-backup", "weekly-cleanup"] {
        assert!(
            all.contains(&format!("CronJob default/{name}: create — new CronJob")),
            "{all}"
        );
    }
    assert!(
        all.contains(&format!(
            "{}: 5 created, 0 updated, 0 re-run, 0 pruned, 0 unchanged, 0 skipped, 0 conflicts; 3 Job run(s), 0 failed",
            &first[..7]
        )),
        "{all}"
    );
    assert_eq!(
        world.objects(),
        [
            "CronJob default/nightly-backup",
            "CronJob default/weekly-cleanup",
            "Job default/migrate-db",
            "Job default/seed-cache",
            "Job default/warm-index",
        ]
    );

    // Commit 2: one Job's command changes; only that Job runs again.
    world.write("seed-cache.yaml", &world.job("seed-cache", "v2"));
    let second = world.commit("seed the cache differently");
    let diff = world.diff(&[]);
    let all = text(&diff);
    assert_eq!(diff.status.code(), Some(1), "changes: {all}");
    assert!(
        all.contains(
            "Job default/seed-cache: re-run — spec changed: the Job is replaced and runs again"
        ),
        "{all}"
    );
    assert!(
        all.contains("+        - echo v2 >> "),
        "the diff shows the new command: {all}"
    );
    assert!(
        all.contains("-        - echo v1 >> "),
        "the diff shows the old command: {all}"
    );

    let out = world.sync(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json(&out);
    assert_eq!(
        report["revision"],
        second.as_str(),
        "the branch's HEAD commit is applied"
    );
    assert_eq!(report["valid"], true);
    assert_eq!(report["changes"], true);
    assert_eq!(report["applied"], 1, "one operation: the re-run");
    assert_eq!(
        actions(&report),
        [
            ("nightly-backup", "unchanged"),
            ("weekly-cleanup", "unchanged"),
            ("migrate-db", "unchanged"),
            ("seed-cache", "re-run"),
            ("warm-index", "unchanged"),
        ]
        .map(|(n, a)| (n.to_string(), a.to_string()))
    );
    let runs = report["runs"].as_array().expect("runs are reported");
    assert_eq!(runs.len(), 1, "{report:#}");
    assert_eq!(runs[0]["name"], "seed-cache");
    assert_eq!(runs[0]["result"], "Complete");
    assert_eq!(runs[0]["reason"], "CompletionsReached");
    assert_eq!(runs[0]["succeeded"], 1);
    assert_eq!(runs[0]["failed"], 0);
    assert_eq!(runs[0]["cronjob"], Value::Null);
    assert_eq!(
        world.ran("seed-cache"),
        ["v1", "v2"],
        "seed-cache ran again"
    );
    assert_eq!(world.ran("migrate-db"), ["v1"]);
    assert_eq!(world.ran("warm-index"), ["v1"]);

    // Commit 3: the same objects written differently — keys reordered,
    // comments, other quoting and YAML styles, and API-server defaults
    // spelled out. Kubernetes would store them exactly as before.
    let out_dir = world.out().display().to_string();
    world.write(
        "seed-cache.yaml",
        &format!(
            "# Seeds the cache. Rewritten by hand: nothing here changes the Job.
kind: Job
apiVersion: 'batch/v1'
spec:
  backoffLimit: 6        # the API server's default
  completions: 1
  parallelism: 1
  suspend: false
  template:
    spec:
      containers:
      - command:
        - sh
        - '-c'
        - 'echo v2 >> {out_dir}/seed-cache'
        image: \"busybox\"
        name: main
        imagePullPolicy: Always   # the default for an untagged image
      restartPolicy: \"Never\"
metadata: {{name: seed-cache, namespace: default}}
"
        ),
    );
    world.write(
        "migrate-db.yaml",
        &format!(
            "---
metadata:
  name: \"migrate-db\"
spec:
  completionMode: NonIndexed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 30
      containers: [{{name: main, image: busybox, command: [sh, -c, \"echo v1 >> {out_dir}/migrate-db\"]}}]
apiVersion: batch/v1
kind: Job
"
        ),
    );
    world.write(
        "cron.yaml",
        "# Backups every night.
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly-backup}
spec:
  concurrencyPolicy: Allow
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 1
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - {name: main, image: busybox, command: ['sh', '-c', 'echo nightly-backup']}
          restartPolicy: OnFailure
  schedule: '0 3 * * *'
---
# Clean-up on Sundays.
kind: CronJob
apiVersion: batch/v1
metadata:
  name: weekly-cleanup
spec:
  suspend: false
  schedule: \"0 4 * * 0\"
  jobTemplate:
    spec:
      backoffLimit: 6
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: main
              image: busybox
              command:
                - sh
                - -c
                - echo weekly-cleanup
",
    );
    world.commit("reformat the manifests");
    let status = world.status();
    // "Zero writes" is measured as the bytes of the SQLite database and
    // its write-ahead log (`local.db`, `local.db-wal` when present) being
    // identical before and after: any committed transaction changes one of
    // them (SQLite appends every write to the WAL, and jobcd checkpoints
    // the WAL into `local.db` when it exits, so between commands usually
    // only `local.db` exists). `local.db-shm`, the WAL's shared-memory
    // index, is rewritten by readers too and is left out.
    let before = world.database();
    assert!(before[0].1.is_some(), "the state holds a database");
    let diff = world.diff(&[]);
    let all = text(&diff);
    assert_eq!(diff.status.code(), Some(0), "no changes: {all}");
    assert!(all.contains("no changes"), "{all}");
    assert!(all.starts_with("5 unchanged (-v lists them)\n"), "{all}");
    assert!(
        !all.contains(": unchanged — "),
        "counted, not listed: {all}"
    );
    let verbose = text(&world.diff(&["-v"]));
    assert_eq!(
        verbose.matches(": unchanged — up to date").count(),
        5,
        "{verbose}"
    );
    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("0 created, 0 updated, 0 re-run, 0 pruned, 5 unchanged, 0 skipped, 0 conflicts; 0 Job run(s), 0 failed"),
        "{all}"
    );
    assert!(
        world.database() == before,
        "a sync with nothing to do writes nothing to the state database"
    );
    assert_eq!(world.ran("seed-cache"), ["v1", "v2"]);
    assert_eq!(world.ran("migrate-db"), ["v1"]);
    assert_eq!(world.ran("warm-index"), ["v1"]);
    assert_eq!(world.status(), status);

    // Commit 4: a CronJob leaves the repository and is pruned.
    world.write("cron.yaml", &cronjob("nightly-backup", "0 3 * * *"));
    world.commit("weekly clean-up is no longer needed");
    let dry = world.sync(&["--dry-run"]);
    let all = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{all}");
    assert!(
        all.contains("CronJob default/weekly-cleanup: prune — no longer in the repository"),
        "{all}"
    );
    assert!(
        world
            .objects()
            .contains(&"CronJob default/weekly-cleanup".to_string()),
        "a dry run prunes nothing"
    );
    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("CronJob default/weekly-cleanup: prune — no longer in the repository"),
        "{all}"
    );
    assert!(all.contains(" 1 pruned, 4 unchanged,"), "{all}");
    assert_eq!(
        world.objects(),
        [
            "CronJob default/nightly-backup",
            "Job default/migrate-db",
            "Job default/seed-cache",
            "Job default/warm-index",
        ]
    );

    // Commit 5: a broken file. The whole revision is refused, and what
    // commit 4 applied stays in force.
    world.write(
        "rebuild-search.yaml",
        &world
            .job("rebuild-search", "v1")
            .replace("spec:\n  template:", "spec:\n  backofLimit: 3\n  template:"),
    );
    world.commit("rebuild the search index");
    let status = world.status();
    let before = world.database();
    let out = world.sync(&[]);
    let errors = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        errors.contains("error: deploy/rebuild-search.yaml:6: Job default/rebuild-search: spec.backofLimit: unknown field"),
        "names the file, the line and the field: {errors}"
    );
    assert!(
        errors.contains("did you mean \"backoffLimit\"?"),
        "{errors}"
    );
    assert!(
        errors.contains("invalid; nothing was applied, the last good revision stays in force"),
        "{errors}"
    );
    assert!(world.ran("rebuild-search").is_empty());
    assert_eq!(world.ran("seed-cache"), ["v1", "v2"]);
    assert_eq!(world.ran("migrate-db"), ["v1"]);
    assert_eq!(world.ran("warm-index"), ["v1"]);
    assert_eq!(world.status(), status, "commit 4's objects stay in force");
    assert!(
        world.database() == before,
        "an invalid revision writes nothing"
    );
    // diff tells an invalid revision (2) from changes (1), and applies
    // nothing, so it does not say it applied nothing.
    let diff = world.diff(&[]);
    assert_eq!(diff.status.code(), Some(2), "{}", text(&diff));
    assert!(
        text(&diff).contains("invalid; a sync of it would apply nothing"),
        "{}",
        text(&diff)
    );

    // Commit 6: the fix applies, and only the new Job runs.
    world.write("rebuild-search.yaml", &world.job("rebuild-search", "v1"));
    world.commit("fix the typo");
    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        all.contains("1 created, 0 updated, 0 re-run, 0 pruned, 4 unchanged"),
        "{all}"
    );
    assert_eq!(world.ran("rebuild-search"), ["v1"]);
    assert_eq!(world.ran("seed-cache"), ["v1", "v2"]);
    assert_eq!(world.ran("migrate-db"), ["v1"]);
    assert_eq!(world.ran("warm-index"), ["v1"]);
}

/// `ttlSecondsAfterFinished` removes a finished Job (at once after a sync
/// for 0; under `jobcd local serve` for a later expiry), and the run-once
/// ledger keeps a removed Job from running again at the next sync.
#[test]
fn a_job_removed_after_its_ttl_does_not_run_again() {
    let world = World::new();
    let with_ttl = |name: &str, ttl: u32| {
        world.job(name, "v1").replace(
            "spec:\n  template:",
            &format!("spec:\n  ttlSecondsAfterFinished: {ttl}\n  template:"),
        )
    };
    world.write("at-once.yaml", &with_ttl("at-once", 0));
    world.write("later.yaml", &with_ttl("later", 2));
    world.commit("two Jobs that clean up after themselves");

    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("2 created,"), "{all}");
    assert_eq!(world.ran("at-once"), ["v1"]);
    assert_eq!(world.ran("later"), ["v1"]);
    // The sync runs the TTL controller once its Jobs have ended.
    assert_eq!(
        world.objects(),
        ["Job default/later"],
        "the TTL-0 Job is gone"
    );
    let runs = text(&world.jobcd(&["local", "runs", "at-once"]));
    assert!(
        runs.contains("(deleted "),
        "its run is kept, marked deleted: {runs}"
    );

    let mut serve = world.spawn(&["local", "serve"]);
    wait_until("local serve removes the Job whose TTL ran out", || {
        serve
            .stdout()
            .contains("Job default/later: removed (TTLAfterFinished)")
    });
    let stopped = serve.terminate();
    assert_eq!(stopped.status.code(), Some(0), "{}", text(&stopped));
    assert!(world.objects().is_empty(), "both Jobs are gone");

    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for name in ["at-once", "later"] {
        assert!(
            all.contains(&format!(
                "Job default/{name}: skip — this spec already ran (Complete); the Job is gone and is not run again"
            )),
            "{all}"
        );
        assert_eq!(world.ran(name), ["v1"], "{name} did not run again");
    }
    assert!(
        all.contains("2 skipped, 0 conflicts; 0 Job run(s)"),
        "{all}"
    );
    assert!(world.objects().is_empty(), "skipped Jobs are not recreated");
}

/// A revision with no manifests at all would prune everything: refused
/// unless `--allow-empty` says it is meant. A manifest directory that is
/// gone from the commit is an error, not an empty revision.
#[test]
fn an_empty_revision_prunes_only_with_allow_empty() {
    let world = World::new();
    world.write("once.yaml", &world.job("once", "v1"));
    world.write("twice.yaml", &world.job("twice", "v1"));
    world.write("hourly.yaml", &cronjob("hourly", "0 * * * *"));
    world.commit("two Jobs and a CronJob");
    let out = world.sync(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let everything = [
        "CronJob default/hourly",
        "Job default/once",
        "Job default/twice",
    ];
    assert_eq!(world.objects(), everything);

    // The directory itself is gone: jobcd cannot tell a moved path from an
    // emptied one, so it stops.
    for file in ["once.yaml", "twice.yaml", "hourly.yaml"] {
        world.remove(file);
    }
    world.commit("remove the manifest directory");
    let out = world.sync(&[]);
    let errors = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        errors.contains("path \"deploy\" does not exist in this commit"),
        "{errors}"
    );
    assert_eq!(world.objects(), everything);

    // The directory exists but holds no manifest.
    world.write("README.md", "The Jobs moved to another repository.\n");
    world.commit("the directory is empty now");
    for out in [world.diff(&[]), world.sync(&[])] {
        let errors = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(errors.contains("--allow-empty"), "{errors}");
        for id in everything {
            assert!(errors.contains(id), "lists {id} as to be deleted: {errors}");
        }
    }
    assert_eq!(world.objects(), everything, "nothing was deleted");

    let out = world.sync(&["--allow-empty"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for id in everything {
        assert!(
            all.contains(&format!("{id}: prune — no longer in the repository")),
            "{all}"
        );
    }
    assert!(all.contains("3 pruned"), "{all}");
    assert!(world.objects().is_empty());
    assert_eq!(world.ran("once"), ["v1"], "pruning runs nothing");
    assert_eq!(world.ran("twice"), ["v1"]);
}

/// An object applied by hand (like `kubectl apply`) is not jobcd's: a
/// repository object with its name is a conflict, and the by-hand Job is
/// neither replaced nor run. Another source's objects are protected alike.
#[test]
fn a_job_applied_by_hand_is_a_conflict_and_is_left_alone() {
    let world = World::new();
    let by_hand = world.root.path().join("by-hand");
    fs::create_dir_all(&by_hand).unwrap();
    fs::write(by_hand.join("shared.yaml"), world.job("shared", "by-hand")).unwrap();
    let out = world.jobcd(&["local", "apply", by_hand.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(world.ran("shared"), ["by-hand"]);

    world.write("shared.yaml", &world.job("shared", "from-git"));
    world.write("mine.yaml", &world.job("mine", "v1"));
    world.commit("a Job whose name is taken, and one whose is not");
    // A rehearsal fails as the real sync will.
    for rehearsal in [world.diff(&[]), world.sync(&["--dry-run"])] {
        let all = text(&rehearsal);
        assert_eq!(rehearsal.status.code(), Some(1), "{all}");
        assert!(
            all.contains("1 conflict(s): a sync would report them and fail"),
            "{all}"
        );
    }
    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a conflict fails the sync: {all}"
    );
    assert!(
        all.contains(
            "Job default/shared: conflict — applied by hand with `jobcd local apply`: left untouched; `jobcd local delete job/shared` hands the name to this source"
        ),
        "{all}"
    );
    assert!(
        all.contains("Job default/mine: create — new Job: it will run"),
        "{all}"
    );
    assert!(all.contains("1 created, 0 updated, 0 re-run, 0 pruned, 0 unchanged, 0 skipped, 1 conflicts; 1 Job run(s), 0 failed"), "{all}");
    assert_eq!(
        world.ran("shared"),
        ["by-hand"],
        "the by-hand Job did not run again"
    );
    assert_eq!(
        world.ran("mine"),
        ["v1"],
        "the rest of the revision applies"
    );
    let runs =
        String::from_utf8_lossy(&world.jobcd(&["local", "runs", "shared"]).stdout).into_owned();
    assert_eq!(
        runs.lines()
            .filter(|l| l.starts_with("default/shared uid "))
            .count(),
        1,
        "only the by-hand run: {runs}"
    );
    assert!(
        !runs.contains("(deleted "),
        "the by-hand Job was not replaced: {runs}"
    );
    let status = world.status();
    assert!(
        status
            .iter()
            .any(|s| s.starts_with("Job default/shared (")
                && s.ends_with("shared.yaml @ working-tree)")),
        "the live Job is still the by-hand one: {status:?}"
    );

    // A second source naming the same Job must not take it over either.
    let out = world.sync(&["--source", "other"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Job default/mine: conflict — managed by source \"default\", not \"other\": left untouched"),
        "{all}"
    );
    assert_eq!(world.ran("mine"), ["v1"]);
    assert_eq!(world.ran("shared"), ["by-hand"]);
}

/// Pruning more than a quarter of a source's objects in one sync is
/// refused, with every name listed, until `--force-prune` says it is meant.
#[test]
fn pruning_a_large_share_needs_force_prune() {
    let world = World::new();
    let names: Vec<String> = (1..=8).map(|i| format!("step-{i}")).collect();
    for name in &names {
        world.write(&format!("{name}.yaml"), &world.job(name, "v1"));
    }
    world.commit("eight Jobs");
    let out = world.sync(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(world.objects().len(), 8);

    // 3 of 8 is more than the default 25 % (2 of 8).
    let gone = ["step-2", "step-5", "step-8"];
    for name in gone {
        world.remove(&format!("{name}.yaml"));
    }
    world.commit("three steps are done");
    let out = world.sync(&[]);
    let errors = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        errors.contains("refusing to prune 3 of 8 managed objects"),
        "{errors}"
    );
    assert!(errors.contains("--force-prune"), "{errors}");
    for name in gone {
        assert!(errors.contains(&format!("Job default/{name}")), "{errors}");
    }
    assert_eq!(world.objects().len(), 8, "nothing was pruned");

    let out = world.sync(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = json(&out);
    let refused = report["refused"].as_str().expect("the refusal is reported");
    assert!(refused.contains("--force-prune"), "{refused}");
    assert_eq!(
        report["plan"],
        Value::Array(Vec::new()),
        "a refused plan is not shown as applied"
    );

    let out = world.sync(&["--force-prune"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("3 pruned, 5 unchanged"), "{all}");
    let left: Vec<String> = names
        .iter()
        .filter(|n| !gone.contains(&n.as_str()))
        .map(|n| format!("Job default/{n}"))
        .collect();
    assert_eq!(world.objects(), left);
    for name in &names {
        assert_eq!(world.ran(name), ["v1"], "{name} ran once");
    }
}

/// What is synced is a commit, never the working tree; and going back to
/// an older commit does not re-run a spec that already ran.
#[test]
fn only_commits_are_synced_and_a_rollback_runs_nothing() {
    let world = World::new();
    world.write("report.yaml", &world.job("report", "v1"));
    let first = world.commit("a report");
    assert_eq!(world.sync(&[]).status.code(), Some(0));
    world.write("report.yaml", &world.job("report", "v2"));
    world.commit("a better report");
    assert_eq!(world.sync(&[]).status.code(), Some(0));
    assert_eq!(world.ran("report"), ["v1", "v2"]);

    // An edit that is not committed is not seen.
    world.write("report.yaml", &world.job("report", "v3"));
    let diff = world.diff(&[]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff));
    let out = world.sync(&["-v"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Job default/report: unchanged — up to date"),
        "{}",
        text(&out)
    );
    assert_eq!(world.ran("report"), ["v1", "v2"]);

    // The first commit's spec ran already: rolling back to it runs nothing.
    let out = world.sync(&["--ref", &first, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report = json(&out);
    assert_eq!(report["revision"], first.as_str());
    assert_eq!(
        actions(&report),
        [("report".to_string(), "skip".to_string())]
    );
    let reason = report["plan"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("already ran (Complete)"), "{reason}");
    assert!(report.get("runs").is_none(), "nothing ran: {report:#}");
    assert_eq!(world.ran("report"), ["v1", "v2"]);
}

/// A Job that fails fails its sync; it is not retried by the next sync
/// (as on a cluster, a failed Job stays failed until its spec changes).
#[test]
fn a_failed_run_fails_the_sync_and_is_not_retried() {
    let world = World::new();
    world.write(
        "flaky.yaml",
        &world
            .job("flaky", "v1")
            .replace(
                "spec:\n  template:",
                "spec:\n  backoffLimit: 0\n  template:",
            )
            .replace("/flaky\"]", "/flaky; exit 3\"]"),
    );
    world.commit("a Job that fails");
    let out = world.sync(&[]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Job default/flaky: Failed (BackoffLimitExceeded); 0 succeeded, 1 failed"),
        "{all}"
    );
    assert!(all.contains("1 Job run(s), 1 failed"), "{all}");
    assert_eq!(world.ran("flaky"), ["v1"]);

    let out = world.sync(&["-v"]);
    let all = text(&out);
    assert!(
        all.contains("Job default/flaky: unchanged — up to date"),
        "{all}"
    );
    assert!(all.contains("0 Job run(s), 0 failed"), "{all}");
    assert_eq!(world.ran("flaky"), ["v1"], "not run again");
}

/// A Job that fails every attempt.
fn failing_job(name: &str, backoff_limit: u32) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: {backoff_limit}\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, 'exit 3']}}]\n"
    )
}

impl World {
    /// The jobcd note on `rev`, read by plain git ("" when there is none).
    fn note(&self, rev: &str) -> String {
        let out = self
            .command("git")
            .current_dir(self.repo())
            .args(["notes", "--ref=jobcd", "show", rev])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn a_sync_notes_what_ran_and_how_it_ended_on_the_commit() {
    let world = World::new();
    world.write("ok.yaml", &world.job("ok", "v1"));
    world.write("bad.yaml", &failing_job("bad", 0));
    let sha = world.commit("one Job that passes, one that fails");
    let out = world.sync(&[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed run fails the sync: {}",
        text(&out)
    );

    let note = world.note(&sha);
    let lines: Vec<Value> = note
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let by_context = |context: &str| {
        lines
            .iter()
            .find(|l| l["context"] == context)
            .unwrap_or_else(|| panic!("no {context} in {note}"))
    };
    assert_eq!(by_context("jobcd/sync")["state"], "success");
    assert_eq!(by_context("jobcd/job/default/ok")["state"], "success");
    let bad = by_context("jobcd/job/default/bad");
    assert_eq!(bad["state"], "failure");
    assert_eq!(bad["description"], "BackoffLimitExceeded after 1 attempt");
    let log = world.git(&["log", "--notes=jobcd", "-1"]);
    assert!(log.contains("Notes (jobcd):"), "{log}");

    // jobcd status reads the same.
    let status = world.jobcd(&[
        "status",
        "--repo",
        world.repo().to_str().unwrap(),
        "-o",
        "json",
    ]);
    let status = json(&status);
    assert_eq!(status["sha"], sha.as_str());
    assert_eq!(status["statuses"].as_array().unwrap().len(), 3);

    // Syncing the same commit again changes nothing on it.
    world.sync(&[]);
    assert_eq!(world.note(&sha), note, "no flapping on a re-sync");
}

#[test]
fn an_invalid_commit_is_marked_failed_with_the_first_error() {
    let world = World::new();
    world.write("ok.yaml", &world.job("ok", "v1"));
    world.commit("good");
    world.sync(&[]);
    world.write(
        "typo.yaml",
        &world
            .job("typo", "v1")
            .replace("restartPolicy", "restartPolicyy"),
    );
    let sha = world.commit("a typo");
    assert_eq!(world.sync(&[]).status.code(), Some(1));
    let note = world.note(&sha);
    let line: Value = serde_json::from_str(note.lines().next().unwrap()).unwrap();
    assert_eq!(line["context"], "jobcd/sync");
    assert_eq!(line["state"], "failure");
    let description = line["description"].as_str().unwrap();
    assert!(
        description.starts_with("deploy/typo.yaml:") && description.contains("restartPolicy"),
        "{description}"
    );
}

#[test]
fn statuses_that_could_not_be_written_are_delivered_by_the_next_run() {
    let world = World::new();
    world.write("ok.yaml", &world.job("ok", "v1"));
    let sha = world.commit("a Job");
    // A stale lock on the notes ref makes every note write fail.
    let lock = world.repo().join(".git/refs/notes/jobcd.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    fs::write(&lock, "").unwrap();
    let out = world.sync(&[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "reporting never fails a sync: {}",
        text(&out)
    );
    assert!(
        stderr(&out).contains("status not delivered yet"),
        "{}",
        stderr(&out)
    );
    assert_eq!(world.note(&sha), "");

    fs::remove_file(&lock).unwrap();
    // Nothing to apply, but the outbox delivers what waited.
    // (Each status retries a second after its own failure.)
    wait_until("the retry times pass", || {
        world.sync(&[]);
        world.note(&sha).lines().count() == 2
    });
    let note = world.note(&sha);
    assert!(
        note.contains(r#""context":"jobcd/job/default/ok""#),
        "{note}"
    );
    assert!(
        note.contains(r#""state":"success","context":"jobcd/sync""#),
        "{note}"
    );
}

#[test]
fn a_cronjobs_runs_are_noted_on_the_commit_its_spec_came_from() {
    let world = World::new();
    world.write("tick.yaml", &cronjob("tick", "@every 1s"));
    let sha = world.commit("a CronJob");
    assert_eq!(world.sync(&[]).status.code(), Some(0));
    // Committing something else afterwards: the spec still comes from `sha`.
    world.write("README.md", "notes\n");
    world.commit("unrelated");

    let out = world.jobcd(&["local", "run-now", "tick"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let note = world.note(&sha);
    let line = note
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["context"] == "jobcd/cronjob/default/tick")
        .unwrap_or_else(|| panic!("no CronJob status in {note}"));
    assert_eq!(line["state"], "success");
    let description = line["description"].as_str().unwrap();
    assert!(
        description.starts_with("tick-manual-")
            && description.ends_with("Complete: 1 succeeded, 0 failed"),
        "{description}"
    );

    // Under serve, the scheduled runs are noted too (the latest one wins).
    let serve = world.spawn(&["local", "serve"]);
    wait_until("a scheduled run is noted", || {
        world.note(&sha).lines().any(|l| {
            let l: Value = serde_json::from_str(l).unwrap();
            l["context"] == "jobcd/cronjob/default/tick"
                && !l["description"]
                    .as_str()
                    .unwrap()
                    .starts_with("tick-manual-")
                && l["state"] == "success"
        })
    });
    let out = serve.terminate();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn a_run_cut_short_by_a_crash_gets_its_final_status_from_the_next_sync() {
    let world = World::new();
    let gate = world.out().join("gate");
    world.write(
        "slow.yaml",
        &format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: slow}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      terminationGracePeriodSeconds: 1\n      containers: [{{name: main, image: x, command: [sh, -c, 'while [ ! -e {} ]; do sleep 0.05; done']}}]\n",
            gate.display()
        ),
    );
    let sha = world.commit("a slow Job");
    let repo = world.repo();
    let mut sync = world.spawn(&[
        "sync",
        "--repo",
        repo.to_str().unwrap(),
        "--path",
        MANIFESTS,
    ]);
    wait_until("the run is noted as pending", || {
        world
            .note(&sha)
            .contains(r#""state":"pending","context":"jobcd/job/default/slow""#)
    });
    // Killed once its pod runs (a kill before the pod exists would leave
    // the resumed Job to start one, held at the gate).
    wait_until("the pod runs", || {
        text(&world.jobcd(&["local", "runs", "slow"])).contains(" Running ")
    });
    sync.child.kill().unwrap();
    sync.child.wait().unwrap();
    // The pod outlives the killed jobcd and ends while none runs.
    std::fs::write(&gate, "").unwrap();

    // The next sync adopts the pod (or its end) from its supervisor, and
    // the pod's real outcome is what the commit finally says.
    let out = world.sync(&[]);
    assert!(
        text(&out).contains("recovered: pod slow-"),
        "{}",
        text(&out)
    );
    let note = world.note(&sha);
    assert!(
        note.contains(r#""state":"success","context":"jobcd/job/default/slow""#),
        "{note}"
    );
}

#[test]
fn cluster_flags_on_the_local_target_are_an_error_not_ignored() {
    let world = World::new();
    world.write("pi.yaml", &world.job("pi", "v1"));
    world.commit("a Job");
    for command in ["diff", "sync"] {
        let out = world.on_repo(
            command,
            &[
                "--namespace",
                "batch",
                "--context",
                "prod",
                "--kubeconfig",
                "/nonexistent",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{command}: {}", text(&out));
        assert!(
            text(&out).contains(
                "error: --kubeconfig, --context, --namespace (or JOBCD_NAMESPACES) only apply to a cluster, and the target is the local executor; add --target kube, or leave them out"
            ),
            "{command}: {}",
            text(&out)
        );
    }
    assert!(world.status().is_empty(), "nothing was applied");
}
