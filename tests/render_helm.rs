//! Sources kept as Helm charts, rendered by the real `helm template` (built
//! by scripts/test-deps): objects filed under the template that wrote them,
//! a pre-upgrade hook Job synced as an ordinary Job (run once per spec),
//! test hooks left out, and a chart that needs what is not vendored, or a
//! cluster, refused or rendered without one.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};

use support::jobs_repo::JobsRepo;

fn helm() -> PathBuf {
    support::scripts::dir("helm-binary").join("helm")
}

const CHART: &str = "apiVersion: v2\nname: migrations\nversion: 0.1.0\n";
const VALUES: &str = "image: busybox:1.36\nschedule: '0 3 * * *'\n";
const MIGRATE: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {{ .Values.image }}
          command: [sh, -c, 'echo migrating']
"#;
const BACKUP: &str = r#"apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}-backup
  labels:
    existing: {{ (lookup "v1" "ConfigMap" "default" "anything") | empty | quote }}
spec:
  schedule: {{ .Values.schedule | quote }}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
            - {name: backup, image: {{ .Values.image }}, command: ['true']}
"#;
const TEST_HOOK: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: test\n  annotations: {helm.sh/hook: test}\nspec:\n  containers: [{name: t, image: busybox}]\n";

fn chart_repo(chart_yaml: &str) -> JobsRepo {
    let repo = JobsRepo::new();
    repo.commit(&[
        ("charts/migrations/Chart.yaml", Some(chart_yaml)),
        ("charts/migrations/values.yaml", Some(VALUES)),
        ("charts/migrations/templates/migrate.yaml", Some(MIGRATE)),
        ("charts/migrations/templates/backup.yaml", Some(BACKUP)),
        (
            "charts/migrations/templates/tests/test.yaml",
            Some(TEST_HOOK),
        ),
    ]);
    repo
}

fn run(repo: &JobsRepo, command: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", repo.dir.path())
        .env("JOBCD_HELM", helm())
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args([command, "--repo"])
        .arg(repo.path())
        .args(["--path", "jobs/charts/migrations"])
        .args(extra)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_chart_is_validated_and_synced_as_the_objects_it_renders() {
    let repo = chart_repo(CHART);
    let out = run(&repo, "validate", &["-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects: Vec<(String, String)> = report["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_owned(),
                o["file"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        objects,
        [
            (
                "migrations-migrate".to_owned(),
                "jobs/charts/migrations/templates/migrate.yaml (helm template jobs/charts/migrations)".to_owned()
            ),
            (
                "migrations-backup".to_owned(),
                "jobs/charts/migrations/templates/backup.yaml (helm template jobs/charts/migrations)".to_owned()
            ),
        ],
        "the test hook is left out: {report}"
    );
    // The pre-upgrade hook runs once per spec, as any Job.
    let out = run(&repo, "sync", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Job default/migrations-migrate: Complete"),
        "{}",
        text(&out)
    );
    let head = repo.git(&["rev-parse", "HEAD"]);
    let notes = repo.notes(head.trim());
    assert!(notes.contains("; rendered by helm v3.22.0"), "{notes}");
    let out = run(&repo, "sync", &[]);
    assert!(text(&out).contains("2 unchanged"), "{}", text(&out));
    // A values change re-renders and re-runs it.
    repo.commit(&[(
        "charts/migrations/values.yaml",
        Some(&VALUES.replace("1.36", "1.37")),
    )]);
    let out = run(&repo, "diff", &[]);
    assert!(
        text(&out).contains("Job default/migrations-migrate: re-run"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_dependency_that_is_not_vendored_makes_the_revision_invalid() {
    let repo = chart_repo(&format!(
        "{CHART}dependencies:\n  - name: postgresql\n    version: 15.0.0\n    repository: https://charts.bitnami.com/bitnami\n"
    ));
    let out = run(&repo, "validate", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains(
            "error: jobs/charts/migrations/Chart.yaml: helm template jobs/charts/migrations failed"
        ) && said.contains("missing in charts/ directory: postgresql"),
        "{said}"
    );
}

#[test]
fn values_files_and_settings_of_the_repository_are_applied_in_order() {
    let repo = chart_repo(CHART);
    repo.commit(&[(
        "env/prod.yaml",
        Some("schedule: '30 4 * * *'\nimage: busybox:prod\n"),
    )]);
    let schedule_and_image = |extra: &[&str]| -> String {
        let mut args = vec!["-o", "json"];
        args.extend_from_slice(extra);
        let out = run(&repo, "validate", &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // The rendered files, read back, say what the values made.
        let out = run(&repo, "diff", extra);
        text(&out)
    };
    let defaults = schedule_and_image(&[]);
    assert!(
        defaults.contains("schedule: \"0 3 * * *\"") && defaults.contains("busybox:1.36"),
        "{defaults}"
    );
    let prod = schedule_and_image(&["--helm-values", "jobs/env/prod.yaml"]);
    assert!(
        prod.contains("schedule: \"30 4 * * *\"") && prod.contains("busybox:prod"),
        "{prod}"
    );
    // --values and --set are the short names helm users type.
    let set = schedule_and_image(&[
        "--values",
        "jobs/env/prod.yaml",
        "--set",
        "image=busybox:set",
    ]);
    assert!(
        set.contains("busybox:set") && set.contains("30 4 * * *"),
        "--set comes last: {set}"
    );
    // A values file outside the repository is refused, not read.
    let out = run(&repo, "validate", &["--helm-values", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("must be a path inside the repository"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_release_name_and_namespace_are_the_sources_to_choose() {
    let repo = JobsRepo::new();
    repo.commit(&[
        ("charts/migrations/Chart.yaml", Some(CHART)),
        ("charts/migrations/values.yaml", Some(VALUES)),
        (
            "charts/migrations/templates/migrate.yaml",
            Some(&MIGRATE.replace(
                "  name: {{ .Release.Name }}-migrate\n",
                "  name: {{ .Release.Name }}-migrate\n  namespace: {{ .Release.Namespace }}\n",
            )),
        ),
    ]);
    let out = run(
        &repo,
        "validate",
        &[
            "--helm-release",
            "billing",
            "--helm-namespace",
            "batch",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = &report["objects"][0];
    assert_eq!(
        (object["namespace"].as_str(), object["name"].as_str()),
        (Some("batch"), Some("billing-migrate")),
        "{report}"
    );
    // Without them: the chart directory's name, in default.
    let out = run(&repo, "validate", &["-o", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = &report["objects"][0];
    assert_eq!(
        (object["namespace"].as_str(), object["name"].as_str()),
        (Some("default"), Some("migrations-migrate")),
        "{report}"
    );
}
