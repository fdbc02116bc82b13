//! Previews of representative changes, checked field by field and as the
//! Markdown a reviewer reads (snapshots in `snapshots/`).

use jiff::{SignedDuration, Timestamp};

use super::markdown::{render, render_invalid};
use super::timing::WarningKind;
use super::*;
use crate::manifest::{self, SourceFile};
use crate::schedule::Schedule;

const NOW: &str = "2026-11-27T08:00:00Z";

fn validation(files: &[(&str, &str)], now: Timestamp) -> manifest::Validation {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(path, yaml)| SourceFile {
            path: (*path).into(),
            bytes: yaml.as_bytes().to_vec(),
        })
        .collect();
    manifest::load(
        &files,
        &manifest::Options {
            strict: false,
            now,
            allow_secrets: false,
        },
    )
}

fn set(files: &[(&str, &str)]) -> DesiredSet {
    validation(files, NOW.parse().expect("instant"))
        .into_desired()
        .unwrap_or_else(|v| panic!("invalid test manifests: {:?}", v.diagnostics))
}

fn cronjob(name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\n  namespace: ops\nspec:\n{extra_spec}  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n          - name: main\n            image: busybox:1.36\n            command: [sh, -c, echo {name}]\n"
    )
}

fn job(name: &str, command: &str, annotations: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  namespace: ops\n{annotations}spec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: main\n        image: busybox:1.36\n        command: [sh, -c, {command:?}]\n"
    )
}

fn revision(name: &str) -> RevisionRef {
    let sha = match name {
        "base" => "1111111111111111111111111111111111111111",
        _ => "2222222222222222222222222222222222222222",
    };
    RevisionRef {
        sha: sha.into(),
        reference: name.into(),
    }
}

fn options(now: &str) -> Options {
    Options {
        now: now.parse().expect("instant"),
        window: SignedDuration::from_hours(7 * 24),
        runs: 3,
        default_zone: Zone::utc(),
        collision_threshold: DEFAULT_COLLISION_THRESHOLD,
    }
}

fn run(base: &[(&str, &str)], head: &[(&str, &str)], now: &str) -> Preview {
    let (base, head) = (set(base), set(head));
    preview(
        (revision("base"), Some(&base)),
        (revision("head"), &head),
        "jobs",
        &options(now),
    )
}

#[test]
fn a_moved_schedule_tells_its_story() {
    let before = cronjob("backup", "  schedule: \"0 3 * * *\"\n");
    let after = cronjob("backup", "  schedule: \"0 */6 * * *\"\n");
    let p = run(
        &[("jobs/backup.yaml", &before)],
        &[("jobs/backup.yaml", &after)],
        NOW,
    );
    assert_eq!(p.summary.changed, 1);
    assert_eq!(p.summary.cronjobs_retimed, 1);
    let story = &p.cronjobs[0];
    let (b, a) = (
        story.before.as_ref().expect("before"),
        story.after.as_ref().expect("after"),
    );
    assert_eq!((b.runs_in_window, a.runs_in_window), (7, 28));
    assert_eq!(b.description, "At 03:00 every day");
    // The fire times are exactly the schedule module's.
    let expected: Vec<Timestamp> = Schedule::parse("0 */6 * * *")
        .expect("valid")
        .upcoming(NOW.parse().expect("instant"), &Zone::utc())
        .take(3)
        .collect();
    assert_eq!(a.next, expected);
    assert!(
        p.changes[0].diff.contains("-  schedule: \"0 3 * * *\""),
        "{}",
        p.changes[0].diff
    );
    insta::assert_snapshot!("schedule_moved", render(&p, None));
}

#[test]
fn a_zone_added_shows_local_and_utc_times() {
    let before = cronjob("report", "  schedule: \"30 7 * * 1-5\"\n");
    let after = cronjob(
        "report",
        "  schedule: \"30 7 * * 1-5\"\n  timeZone: America/New_York\n",
    );
    let p = run(
        &[("jobs/report.yaml", &before)],
        &[("jobs/report.yaml", &after)],
        NOW,
    );
    let a = p.cronjobs[0].after.as_ref().expect("after");
    assert_eq!(a.time_zone, "America/New_York");
    assert_eq!(a.next[0].to_string(), "2026-11-27T12:30:00Z");
    insta::assert_snapshot!("zone_added", render(&p, None));
}

#[test]
fn a_removed_cronjob_and_a_suspend_flip() {
    let base = [
        (
            "jobs/a.yaml",
            cronjob("cleanup", "  schedule: \"@hourly\"\n"),
        ),
        (
            "jobs/b.yaml",
            cronjob("digest", "  schedule: \"0 9 * * *\"\n"),
        ),
    ];
    let head = [(
        "jobs/b.yaml",
        cronjob(
            "digest",
            "  schedule: \"0 9 * * *\"\n  suspend: true\n  concurrencyPolicy: Forbid\n",
        ),
    )];
    let as_refs =
        |files: &[(&'static str, String)]| -> Vec<(&'static str, String)> { files.to_vec() };
    let (base, head) = (as_refs(&base), as_refs(&head));
    let base: Vec<(&str, &str)> = base.iter().map(|(p, y)| (*p, y.as_str())).collect();
    let head: Vec<(&str, &str)> = head.iter().map(|(p, y)| (*p, y.as_str())).collect();
    let p = run(&base, &head, NOW);
    assert_eq!((p.summary.removed, p.summary.changed), (1, 1));
    let removed = p
        .cronjobs
        .iter()
        .find(|s| s.change == ChangeKind::Removed)
        .expect("the removed CronJob");
    assert!(removed.after.is_none());
    let kinds: Vec<WarningKind> = p
        .cronjobs
        .iter()
        .flat_map(|s| s.warnings.iter().map(|w| w.kind))
        .collect();
    assert_eq!(
        kinds,
        [WarningKind::Suspend, WarningKind::ConcurrencyPolicy]
    );
    insta::assert_snapshot!("removed_and_suspended", render(&p, None));
}

#[test]
fn jobs_that_run_and_jobs_that_do_not() {
    let ignore = "  annotations:\n    jobcd.dev/on-change: ignore\n";
    let base = [
        ("jobs/migrate.yaml", job("migrate", "migrate up 41", "")),
        ("jobs/seed.yaml", job("seed", "seed v1", ignore)),
        ("jobs/same.yaml", job("same", "true", "")),
    ];
    let head = [
        ("jobs/migrate.yaml", job("migrate", "migrate up 42", "")),
        ("jobs/seed.yaml", job("seed", "seed v2", ignore)),
        ("jobs/same.yaml", job("same", "true", "")),
        ("jobs/import.yaml", job("import", "import all", "")),
    ];
    let base: Vec<(&str, &str)> = base.iter().map(|(p, y)| (*p, y.as_str())).collect();
    let head: Vec<(&str, &str)> = head.iter().map(|(p, y)| (*p, y.as_str())).collect();
    let p = run(&base, &head, NOW);
    let runs: Vec<(&str, bool)> = p
        .jobs
        .iter()
        .map(|j| (j.id.name.as_str(), j.runs))
        .collect();
    assert_eq!(runs, [("import", true), ("migrate", true), ("seed", false)]);
    assert_eq!((p.summary.jobs_run, p.summary.jobs_unchanged), (2, 1));
    insta::assert_snapshot!("jobs_rerun", render(&p, None));
}

#[test]
fn a_change_that_crowds_a_minute_is_a_collision() {
    let shared: Vec<(String, String)> = (0..9)
        .map(|i| {
            (
                format!("jobs/n{i}.yaml"),
                cronjob(&format!("nightly-{i}"), "  schedule: \"0 3 * * *\"\n"),
            )
        })
        .collect();
    let mut base: Vec<(&str, &str)> = shared
        .iter()
        .map(|(p, y)| (p.as_str(), y.as_str()))
        .collect();
    let mut head = base.clone();
    let before = cronjob("late", "  schedule: \"0 4 * * *\"\n");
    let after = cronjob("late", "  schedule: \"0 3 * * *\"\n");
    base.push(("jobs/late.yaml", &before));
    head.push(("jobs/late.yaml", &after));
    let p = run(&base, &head, NOW);
    assert_eq!(p.collisions.len(), 1, "{:?}", p.collisions);
    let c = &p.collisions[0];
    assert_eq!((c.after, c.before, c.occurrences), (10, 9, 7));
    assert_eq!(c.time_utc, "03:00");
    insta::assert_snapshot!("collision", render(&p, None));
}

#[test]
fn a_schedule_in_the_spring_gap_warns() {
    let before = cronjob(
        "rotate",
        "  schedule: \"0 4 * * *\"\n  timeZone: Europe/Berlin\n",
    );
    let after = cronjob(
        "rotate",
        "  schedule: \"30 2 * * *\"\n  timeZone: Europe/Berlin\n",
    );
    let now = "2027-03-25T00:00:00Z";
    let p = run(
        &[("jobs/rotate.yaml", &before)],
        &[("jobs/rotate.yaml", &after)],
        now,
    );
    let warnings = &p.cronjobs[0].warnings;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].kind, WarningKind::Dst);
    assert!(
        warnings[0].message.contains("2027-03-28") && warnings[0].message.contains("02:30"),
        "{}",
        warnings[0].message
    );
    // 7 days, one of them without a 02:30.
    assert_eq!(
        p.cronjobs[0].after.as_ref().map(|t| t.runs_in_window),
        Some(6)
    );
    insta::assert_snapshot!("dst_gap", render(&p, None));
}

#[test]
fn an_invalid_head_lists_its_errors_by_file_and_line() {
    let bad = cronjob("broken", "  schedule: \"61 * * * *\"\n");
    let v = validation(&[("jobs/broken.yaml", &bad)], NOW.parse().expect("instant"));
    assert!(!v.is_valid());
    let invalid = Invalid {
        base: revision("base"),
        head: revision("head"),
        path: "jobs".into(),
        diagnostics: v.diagnostics,
    };
    let text = render_invalid(&invalid);
    assert!(text.contains("jobs/broken.yaml:"), "{text}");
    insta::assert_snapshot!("invalid_head", text);
}

#[test]
fn a_large_preview_shrinks_to_fit_a_comment() {
    let many: Vec<(String, String)> = (0..300)
        .map(|i| {
            (
                format!("jobs/j{i}.yaml"),
                job(&format!("job-{i}"), "true", ""),
            )
        })
        .collect();
    let head: Vec<(&str, &str)> = many.iter().map(|(p, y)| (p.as_str(), y.as_str())).collect();
    let p = run(&[], &head, NOW);
    let full = render(&p, None);
    let limit = 20_000;
    assert!(
        full.len() > limit,
        "the test needs a preview larger than the limit"
    );
    let small = render(&p, Some(limit));
    assert!(small.len() <= limit, "{} > {limit}", small.len());
    assert!(small.contains("Diffs left out"), "{small}");
    assert!(small.contains(&markdown::marker("jobs")));
}

#[test]
fn an_invalid_base_shows_the_head_as_added_and_says_why() {
    let head = set(&[("jobs/a.yaml", &job("a", "true", ""))]);
    let p = preview(
        (revision("base"), None),
        (revision("head"), &head),
        "",
        &options(NOW),
    );
    assert_eq!(p.summary.added, 1);
    assert!(p.notes[0].contains("does not validate"), "{:?}", p.notes);
}

#[test]
fn removing_most_objects_notes_that_sync_would_refuse() {
    let files: Vec<(String, String)> = (0..8)
        .map(|i| {
            (
                format!("jobs/j{i}.yaml"),
                job(&format!("job-{i}"), "true", ""),
            )
        })
        .collect();
    let base: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, y)| (p.as_str(), y.as_str()))
        .collect();
    let p = run(&base, &base[..2], NOW);
    assert_eq!(p.summary.removed, 6);
    assert!(
        p.notes.iter().any(|n| n.contains("would refuse")),
        "{:?}",
        p.notes
    );
}
