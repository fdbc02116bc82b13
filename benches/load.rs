//! Loading and validating a large repository: 10,000 Jobs and CronJobs spread
//! over 1,000 files, read from disk, decoded, validated, duplicates checked.
//!
//! `cargo bench --bench load`. Reports the median wall time of several rounds
//! and the process's peak resident memory (VmHWM) after them, and beside it
//! the same tree through kubeconform (strict, offline schemas; installed by
//! scripts/test-deps, skipped when it is not there), which checks schemas
//! only, not the API server's rules.

use std::fmt::Write as _;
use std::time::Instant;

use jobcd::manifest;

const FILES: usize = 1_000;
const OBJECTS_PER_FILE: usize = 10;
const ROUNDS: usize = 7;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for f in 0..FILES {
        let mut text = String::new();
        for o in 0..OBJECTS_PER_FILE {
            let name = format!("obj-{f}-{o}");
            if o % 2 == 0 {
                write_job(&mut text, &name);
            } else {
                write_cronjob(&mut text, &name, o);
            }
        }
        let sub = dir.path().join(format!("team-{}", f % 20));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{f}.yaml")), text).unwrap();
    }
    let options = manifest::Options {
        strict: false,
        now: "2026-01-01T00:00:00Z".parse().unwrap(),
        allow_secrets: false,
    };
    let mut times = Vec::new();
    let mut reads = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let tree = manifest::read_dir(dir.path()).expect("the tree reads");
        reads.push(t.elapsed());
        let v = manifest::load_tree(&tree, "bench", &options);
        times.push(t.elapsed());
        assert_eq!(
            v.objects.len(),
            FILES * OBJECTS_PER_FILE,
            "{:?}",
            v.diagnostics.first()
        );
        assert!(v.is_valid());
    }
    times.sort();
    reads.sort();
    println!(
        "  of which reading the files: median {:.1} ms",
        reads[ROUNDS / 2].as_secs_f64() * 1e3
    );
    println!(
        "load+validate {} objects in {FILES} files: median {:.1} ms (min {:.1}, max {:.1}); peak RSS {} MiB",
        FILES * OBJECTS_PER_FILE,
        times[ROUNDS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[ROUNDS - 1].as_secs_f64() * 1e3,
        peak_rss_kib() / 1024,
    );
    kubeconform(dir.path());
}

/// The same tree through kubeconform, when scripts/kubeconform-binary has
/// installed it: median wall time of the same number of rounds.
fn kubeconform(dir: &std::path::Path) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kubeconform-binary");
    let Some(out) = std::process::Command::new(script)
        .output()
        .ok()
        .filter(|o| o.status.success())
    else {
        println!("kubeconform: not installed (scripts/test-deps installs it); skipped");
        return;
    };
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let [.., location, bin] = lines.as_slice() else {
        println!("kubeconform: scripts/kubeconform-binary printed {lines:?}; skipped");
        return;
    };
    let mut times = Vec::new();
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let run = std::process::Command::new(std::path::Path::new(bin).join("kubeconform"))
            .args(["-strict", "-summary", "-schema-location", location])
            .arg(dir)
            .output()
            .expect("kubeconform runs");
        times.push(t.elapsed());
        assert!(
            run.status.success(),
            "kubeconform: {}",
            String::from_utf8_lossy(&run.stdout)
        );
    }
    times.sort();
    println!(
        "kubeconform -strict of the same tree: median {:.1} ms (min {:.1}, max {:.1})",
        times[ROUNDS / 2].as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[ROUNDS - 1].as_secs_f64() * 1e3,
    );
}

fn write_job(out: &mut String, name: &str) {
    let _ = write!(
        out,
        "---
apiVersion: batch/v1
kind: Job
metadata:
  name: {name}
  namespace: batch
  labels:
    app.kubernetes.io/name: {name}
    app.kubernetes.io/part-of: bench
  annotations:
    jobcd.dev/run: \"1\"
spec:
  backoffLimit: 4
  completions: 10
  parallelism: 2
  ttlSecondsAfterFinished: 3600
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {name}
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: registry.example.com/tools/migrate:1.2.3
          command: [\"sh\", \"-c\", \"echo migrating && sleep 1\"]
          env:
            - name: MODE
              value: apply
            - name: RETRIES
              value: \"3\"
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{memory: 128Mi}}
"
    );
}

fn write_cronjob(out: &mut String, name: &str, i: usize) {
    let _ = write!(
        out,
        "---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: {name}
  namespace: cron
spec:
  schedule: \"{i} */2 * * MON-FRI\"
  timeZone: Europe/Berlin
  concurrencyPolicy: Forbid
  startingDeadlineSeconds: 300
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: main
              image: registry.example.com/tools/report:2.0
              args: [\"--since\", \"2h\"]
"
    );
}

/// Peak resident set size of this process, from /proc (0 where unavailable).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
