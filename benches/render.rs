//! What rendering a Kustomize overlay costs: a repository with 200 objects
//! (100 Jobs and 100 CronJobs in a base, 20 files) and an overlay that
//! prefixes, namespaces, labels and patches them, read from the commit by
//! `Source::snapshot` with kustomize (written out, built in the sandbox,
//! split by origin), then again from the render cache (as a steady `serve`
//! poll reads it), and, for comparison, the base read as plain YAML.
//!
//! `cargo bench --bench render`. Needs kustomize (scripts/kustomize-binary,
//! run by scripts/test-deps, or JOBCD_KUSTOMIZE); skipped without it.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use jobcd::source::render::Render;
use jobcd::source::{Credentials, Location, RefName, Source};

const FILES: usize = 20;
const PER_FILE: usize = 10;
const ROUNDS: usize = 7;

fn main() {
    if std::env::var_os("JOBCD_KUSTOMIZE").is_none() {
        // Run again with the kustomize scripts/test-deps builds named in the
        // environment, which jobcd reads (no need to set it in this process).
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/kustomize-binary");
        let Some(dir) = std::process::Command::new(script)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .last()
                    .map(|l| l.trim().to_string())
            })
        else {
            println!("render: kustomize not installed (scripts/test-deps builds it); skipped");
            return;
        };
        let status =
            std::process::Command::new(std::env::current_exe().expect("this bench's path"))
                .args(std::env::args_os().skip(1))
                .env("JOBCD_KUSTOMIZE", Path::new(&dir).join("kustomize"))
                .status()
                .expect("the bench runs again");
        std::process::exit(status.code().unwrap_or(1));
    }
    let root = tempfile::tempdir().expect("a temporary directory");
    let repo = root.path().join("repo");
    write_repository(&repo);
    let source = |path: &str, render: Render, state: &str| Source {
        location: Location::parse(repo.to_str().unwrap()).unwrap(),
        reference: RefName::Default,
        path: path.to_string(),
        credentials: Credentials::default(),
        state_dir: root.path().join(state),
        timeout: Duration::from_secs(30),
        uncommitted: false,
        render,
        helm: Default::default(),
        verify: None,
    };
    let objects = FILES * PER_FILE;
    let overlay = "deploy/overlays/prod";
    // Cold: a state directory of its own each round, so nothing is cached.
    let mut cold: Vec<Duration> = (0..ROUNDS)
        .map(|i| {
            time(
                &source(overlay, Render::Auto, &format!("cold-{i}")),
                objects,
                1,
            )[0]
        })
        .collect();
    cold.sort();
    // Warm: the same revision again, as a steady serve poll reads it.
    let warm = time(&source(overlay, Render::Auto, "warm"), objects, ROUNDS + 1);
    let plain = time(
        &source("deploy/base", Render::Plain, "plain"),
        objects,
        ROUNDS,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "kustomize overlay of {objects} objects: rendered median {:.1} ms (min {:.1}, max {:.1}); already rendered (cache) median {:.2} ms; the base read plain: median {:.2} ms",
        ms(cold[ROUNDS / 2]),
        ms(cold[0]),
        ms(cold[ROUNDS - 1]),
        ms(warm[warm.len() / 2]),
        ms(plain[ROUNDS / 2]),
    );
}

/// Sorted times of `rounds` snapshots, each checked to hold `objects`.
fn time(source: &Source, objects: usize, rounds: usize) -> Vec<Duration> {
    let mut times = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let snapshot = source.snapshot().expect("the snapshot reads");
        times.push(t.elapsed());
        let v = jobcd::manifest::load_tree(
            &snapshot.tree,
            "bench",
            &jobcd::manifest::Options {
                strict: false,
                now: "2026-01-01T00:00:00Z".parse().unwrap(),
                allow_secrets: false,
            },
        );
        assert_eq!(v.objects.len(), objects, "{:?}", v.diagnostics.first());
    }
    times.sort();
    times
}

fn write_repository(repo: &Path) {
    let base = repo.join("deploy/base");
    let overlay = repo.join("deploy/overlays/prod");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&overlay).unwrap();
    let mut resources = Vec::new();
    for f in 0..FILES {
        let mut text = String::new();
        for o in 0..PER_FILE {
            let name = format!("obj-{f}-{o}");
            if o % 2 == 0 {
                let _ = write!(
                    text,
                    "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\nspec:\n  backoffLimit: 2\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: main\n          image: busybox\n          command: [sh, -c, 'echo {name}']\n"
                );
            } else {
                let _ = write!(
                    text,
                    "---\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: '{o} 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers:\n            - name: main\n              image: busybox\n              command: ['true']\n"
                );
            }
        }
        let file = format!("objects-{f}.yaml");
        std::fs::write(base.join(&file), text).unwrap();
        resources.push(file);
    }
    std::fs::write(
        base.join("kustomization.yaml"),
        format!("resources: [{}]\n", resources.join(", ")),
    )
    .unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        "resources: [../../base]\nnamePrefix: prod-\nnamespace: batch\nlabels:\n  - pairs: {env: prod}\npatches:\n  - target: {kind: Job}\n    patch: |-\n      - op: replace\n        path: /spec/backoffLimit\n        value: 4\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .current_dir(repo)
            .args(["-c", "user.name=b", "-c", "user.email=b@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "bench"]);
}
