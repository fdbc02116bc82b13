//! Planning a large revision: 10,000 desired objects (Jobs and CronJobs)
//! against 10,000 live ones, 1 % of them changed. Reported separately: the
//! plan itself, and hashing the desired objects (normalise + SHA-256) that
//! a sync does before it.
//!
//! `cargo bench --bench plan`.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use jobcd::manifest::{self, SourceFile};
use jobcd::plan::{Action, Policy, plan};
use jobcd::reconcile;
use jobcd::target::{Ledger, Live};

const OBJECTS: usize = 10_000;
const ROUNDS: usize = 15;

fn yaml(i: usize, changed: bool) -> String {
    let command = if changed { "echo changed" } else { "echo run" };
    if i.is_multiple_of(2) {
        format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata: {{name: job-{i}, namespace: ns-{}}}\nspec:\n  backoffLimit: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox:1.36, command: [sh, -c, '{command} {i}']}}]\n",
            i % 50
        )
    } else {
        format!(
            "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: cron-{i}, namespace: ns-{}}}\nspec:\n  schedule: '{} * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers: [{{name: main, image: busybox:1.36, command: [sh, -c, '{command} {i}']}}]\n",
            i % 50,
            i % 60
        )
    }
}

fn load(changed_every: Option<usize>) -> manifest::DesiredSet {
    let files: Vec<SourceFile> = (0..OBJECTS / 10)
        .map(|f| SourceFile {
            path: format!("f{f}.yaml"),
            bytes: (f * 10..f * 10 + 10)
                .map(|i| yaml(i, changed_every.is_some_and(|n| i.is_multiple_of(n))))
                .collect::<String>()
                .into_bytes(),
        })
        .collect();
    let options = manifest::Options {
        strict: true,
        now: Timestamp::now(),
        allow_secrets: false,
    };
    manifest::load(&files, &options)
        .into_desired()
        .expect("valid")
}

fn main() {
    let before = reconcile::desired(&load(None), "bench", "r1");
    let live: Vec<Live> = before
        .iter()
        .map(|d| Live {
            id: d.object.id.clone(),
            source: Some("bench".into()),
            revision: Some("r1".into()),
            path: Some(d.object.location.file.clone()),
            spec_hash: Some(d.spec_hash.clone()),
            manifest: d.object.manifest.json().to_string(),
            applied_at: None,
            observed: None,
        })
        .collect();
    let mut ledger = Ledger::default();
    for d in before
        .iter()
        .filter(|d| d.object.id.kind == manifest::Kind::Job)
    {
        ledger.insert(
            &d.object.id.namespace,
            &d.object.id.name,
            &d.spec_hash,
            "Complete",
        );
    }
    let after_set = load(Some(100));

    let mut hashing = Vec::new();
    let mut planning = Vec::new();
    let mut changed = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let desired = reconcile::desired(&after_set, "bench", "r2");
        hashing.push(t.elapsed());
        let t = Instant::now();
        let p = plan("bench", &desired, &live, &ledger, &Policy::default()).expect("no prune");
        planning.push(t.elapsed());
        changed = p.count(Action::Update) + p.count(Action::Rerun);
        assert_eq!(p.count(Action::Unchanged) + changed, OBJECTS);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    println!(
        "{OBJECTS} desired vs {OBJECTS} live, {changed} changed: plan median {:.1} ms; hashing the desired objects median {:.1} ms",
        median(&mut planning),
        median(&mut hashing)
    );
}
