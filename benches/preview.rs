//! A pull-request preview of a large repository: 5,000 CronJobs (one file
//! each, a realistic mix of daily, hourly, quarter-hourly and weekday
//! schedules, a fifth of them in named time zones), 100 of them rescheduled
//! by the head commit. Measured end to end with the real `jobcd preview`
//! command (reading both revisions from git, validating, the schedule story,
//! collisions, Markdown), and in process split into its parts.
//!
//! `cargo bench --bench preview`. Target: under 1 s end to end.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use jiff::{SignedDuration, Timestamp};
use jobcd::manifest;
use jobcd::preview::{self, Options, RevisionRef, markdown};
use jobcd::schedule::Zone;
use jobcd::source::{Credentials, Location, RefName, Source};

const CRONJOBS: usize = 5_000;
const CHANGED: usize = 100;
const ROUNDS: usize = 7;
const NOW: &str = "2026-11-27T08:00:00Z";

fn schedule(i: usize, moved: bool) -> (String, Option<&'static str>) {
    let shift = if moved { 7 } else { 0 };
    let expr = match i % 10 {
        0..=5 => format!("{} {} * * *", (i * 7 + shift) % 60, i % 24),
        6 | 7 => format!("{} * * * *", (i + shift) % 60),
        8 => format!("{}/15 * * * *", (i + shift) % 15),
        _ => format!("{} {} * * 1-5", (i + shift) % 60, (i / 10) % 24),
    };
    let zone = match i % 5 {
        0 => Some("Europe/Berlin"),
        _ => None,
    };
    (expr, zone)
}

fn cronjob(i: usize, moved: bool) -> String {
    let (expr, zone) = schedule(i, moved);
    let zone = zone.map_or(String::new(), |z| format!("  timeZone: {z}\n"));
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: cron-{i}\n  namespace: team-{}\nspec:\n  schedule: \"{expr}\"\n{zone}  concurrencyPolicy: Forbid\n  jobTemplate:\n    spec:\n      activeDeadlineSeconds: 600\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: main\n            image: registry.example.com/tasks:1.{}\n            command: [run-task, \"{i}\"]\n",
        i % 40,
        i % 9
    )
}

/// A repository with the base commit, then the head commit that moves
/// every 50th CronJob; returns (base, head) shas.
fn build(dir: &Path) -> (String, String) {
    let repo = Repository::init(dir).expect("init");
    let sig = Signature::now("bench", "bench@example.com").expect("signature");
    let mut parent: Option<git2::Oid> = None;
    let mut shas = Vec::new();
    for moved in [false, true] {
        let mut root = repo.treebuilder(None).expect("treebuilder");
        let mut jobs = repo.treebuilder(None).expect("treebuilder");
        for i in 0..CRONJOBS {
            let blob = repo
                .blob(cronjob(i, moved && i % (CRONJOBS / CHANGED) == 0).as_bytes())
                .expect("blob");
            jobs.insert(format!("cron-{i}.yaml"), blob, 0o100644)
                .expect("insert");
        }
        root.insert("jobs", jobs.write().expect("tree"), 0o040000)
            .expect("insert");
        let tree = repo.find_tree(root.write().expect("tree")).expect("tree");
        let parents: Vec<git2::Commit<'_>> = parent
            .iter()
            .map(|p| repo.find_commit(*p).expect("parent"))
            .collect();
        let refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let oid = repo
            .commit(Some("HEAD"), &sig, &sig, "bench", &tree, &refs)
            .expect("commit");
        parent = Some(oid);
        shas.push(oid.to_string());
    }
    (shas[0].clone(), shas[1].clone())
}

fn main() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let repo = root.path().join("repo");
    let (base, head) = build(&repo);

    let mut cli = Vec::new();
    let mut markdown_len = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
            .arg("--state-dir")
            .arg(root.path().join("state"))
            .args(["preview", "--repo"])
            .arg(&repo)
            .args([
                "--path", "jobs", "--base", &base, "--head", &head, "--now", NOW,
            ])
            .output()
            .expect("jobcd runs");
        cli.push(t.elapsed());
        assert!(out.status.success(), "{out:?}");
        markdown_len = out.stdout.len();
    }

    let (mut read, mut compute, mut render) = (Vec::new(), Vec::new(), Vec::new());
    let mut summary = None;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let trees: Vec<manifest::Tree> = [&base, &head]
            .iter()
            .map(|sha| {
                let source = Source {
                    location: Location::parse(repo.to_str().expect("utf-8")).expect("path"),
                    reference: RefName::parse(Some(sha)),
                    path: "jobs".into(),
                    credentials: Credentials::default(),
                    state_dir: root.path().join("state"),
                    timeout: Duration::from_secs(30),
                    uncommitted: false,
                    render: jobcd::source::render::Render::default(),
                    helm: Default::default(),
                    verify: None,
                };
                source.snapshot().expect("snapshot").tree
            })
            .collect();
        let options = manifest::Options {
            strict: false,
            now: NOW.parse().expect("instant"),
            allow_secrets: false,
        };
        let (a, b) = manifest::load_trees(&trees[0], &trees[1], ("base", "head"), &options);
        let sets = [a, b].map(|v| v.into_desired().expect("valid"));
        read.push(t.elapsed());
        let t = Instant::now();
        let p = preview::preview(
            (
                RevisionRef {
                    sha: base.clone(),
                    reference: "base".into(),
                },
                Some(&sets[0]),
            ),
            (
                RevisionRef {
                    sha: head.clone(),
                    reference: "head".into(),
                },
                &sets[1],
            ),
            "jobs",
            &Options {
                now: NOW.parse::<Timestamp>().expect("instant"),
                window: SignedDuration::from_hours(7 * 24),
                runs: 5,
                default_zone: Zone::utc(),
                collision_threshold: preview::DEFAULT_COLLISION_THRESHOLD,
            },
        );
        compute.push(t.elapsed());
        let t = Instant::now();
        let text = markdown::render(&p, None);
        render.push(t.elapsed());
        summary = Some((
            p.summary.changed,
            p.cronjobs.len(),
            p.collisions.len(),
            text.len(),
        ));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let (changed, stories, collisions, _) = summary.expect("rounds ran");
    assert_eq!(changed, CHANGED);
    println!(
        "preview of {CRONJOBS} CronJobs, {changed} rescheduled ({stories} stories, {collisions} crowded minutes, {markdown_len} bytes of Markdown):"
    );
    println!(
        "  jobcd preview end to end: median {:.0} ms, max {:.0} ms (target < 1000 ms)",
        median(&mut cli),
        cli.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    println!(
        "  in process: read + validate both revisions {:.0} ms, preview {:.0} ms, Markdown {:.1} ms",
        median(&mut read),
        median(&mut compute),
        median(&mut render)
    );
}
