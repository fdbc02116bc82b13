//! `jobcd validate` on trees a user might really have: the examples, and
//! each kind of broken input, checking the exit code and that every message
//! names the file, line, object and field to fix.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn jobcd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(args)
        .output()
        .expect("the jobcd binary runs")
}

fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

fn validate(dir: &Path) -> (i32, String, String) {
    let out = jobcd(&["validate", dir.to_str().unwrap()]);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const JOB: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: pi
          image: perl
          command: [perl, -e, 'print 1']
";

#[test]
fn the_examples_are_valid() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let (code, stdout, stderr) = validate(&examples);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The two serve configurations are another kind: listed and ignored.
    assert!(
        stdout.contains("valid: 6 objects in 7 files, 2 ignored"),
        "{stdout}"
    );
    assert!(
        stdout.contains("CronJob default/nightly-backup"),
        "{stdout}"
    );
    assert!(
        stdout.contains("At 08:00 on Monday (Europe/Berlin)"),
        "{stdout}"
    );
}

#[test]
fn malformed_yaml_names_file_and_line() {
    let dir = tree(&[(
        "bad.yaml",
        b"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: [unclosed\n",
    )]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    insta::assert_snapshot!(stderr, @r"
    error: bad.yaml:5: invalid YAML: while parsing a flow sequence, expected ',' or ']'
      hint: fix the syntax; nothing in this file was checked further
    ");
}

#[test]
fn every_problem_in_a_tree_is_reported_at_once() {
    let dir = tree(&[
        (
            "jobs/typo.yaml",
            b"apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backofLimit: 3
  template:
    spec:
      restartPolicy: Always
      containers:
        - name: migrate
          image: postgres
---
apiVersion: batch/v1
kind: Job
metadata:
  name: flags
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: flags
          image: busybox
          env:
            - name: DRY_RUN
              value: yes
",
        ),
        (
            "cron/bad.yaml",
            b"apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
  namespace: Team_A
spec:
  schedule: \"0 0 * * 7\"
  timeZone: Europe/Berlim
  concurrencyPolicy: Sometimes
  jobTemplate:
    spec:
      backoffLimit: -1
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: with-tz
spec:
  schedule: \"CRON_TZ=UTC 0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: a, image: b}]
",
        ),
    ]);
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("INVALID"), "{stdout}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn wrong_types_are_errors_at_the_field() {
    let dir = tree(&[(
        "job.yaml",
        JOB.replace("  template:", "  parallelism: two\n  template:")
            .as_bytes(),
    )]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("job.yaml:6: Job default/pi: spec.parallelism: expected an int32 (from -2147483648 to 2147483647), found the string \"two\""),
        "{stderr}"
    );
    // An integer out of int32's range says which range.
    let dir = tree(&[(
        "job.yaml",
        JOB.replace("  template:", "  backoffLimit: 2147483648\n  template:")
            .as_bytes(),
    )]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("spec.backoffLimit: expected an int32 (from -2147483648 to 2147483647), found the integer 2147483648"),
        "{stderr}"
    );
}

#[test]
fn duplicate_objects_name_both_places() {
    let dir = tree(&[
        ("a.yaml", JOB.as_bytes()),
        ("b/c.yaml", format!("---\n{JOB}").as_bytes()),
    ]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr
            .contains("error: a.yaml:1: Job default/pi: defined 2 times: a.yaml:1 and b/c.yaml:2"),
        "{stderr}"
    );
}

#[test]
fn non_utf8_bytes_are_reported_with_their_line() {
    let mut bytes = JOB.as_bytes().to_vec();
    bytes.extend_from_slice(b"# caf\xe9\n");
    let dir = tree(&[("latin1.yaml", &bytes)]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("latin1.yaml:13: the file is not valid UTF-8"),
        "{stderr}"
    );
}

#[test]
fn a_huge_file_is_refused_without_reading_it() {
    let dir = tree(&[("ok.yaml", JOB.as_bytes())]);
    let huge = fs::File::create(dir.path().join("huge.yaml")).unwrap();
    huge.set_len(9 * 1024 * 1024).unwrap();
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: huge.yaml: the file is 9437184 bytes; the limit is 8388608"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Job default/pi"),
        "the other files are still checked: {stdout}"
    );
}

#[test]
fn an_empty_tree_is_valid_but_says_so() {
    let dir = tree(&[("README.md", b"no manifests here")]);
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("0 objects in 0 files"), "{stdout}");
    assert!(
        stderr.contains("no Job or CronJob manifests found"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_escaping_the_root_is_an_error_and_not_followed() {
    let outside = tree(&[("secret.yaml", JOB.as_bytes())]);
    let dir = tree(&[(
        "ok.yaml",
        JOB.replace("name: pi\n", "name: ok\n").as_bytes(),
    )]);
    std::os::unix::fs::symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("link.yaml"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("linkdir")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("ok.yaml"), dir.path().join("inside.yml")).unwrap();
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 1);
    assert!(
        stderr.contains("error: link.yaml: symlink points outside the manifest root"),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: linkdir: symlink points outside the manifest root"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("Job default/pi"),
        "the outside file must not be read: {stdout}"
    );
    // A link inside the root is followed (and here duplicates ok.yaml).
    assert!(
        stderr.contains("defined 2 times: inside.yml:1 and ok.yaml:1"),
        "{stderr}"
    );
}

#[test]
fn dot_directories_are_skipped_and_other_kinds_ignored_unless_strict() {
    let dir = tree(&[
        (".github/workflow.yaml", b"on: push\n"),
        ("job.yaml", JOB.as_bytes()),
        (
            "deploy.yaml",
            b"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
        ),
        ("empty.yaml", b"# only a comment\n---\n---\n"),
    ]);
    let (code, stdout, _) = validate(dir.path());
    assert_eq!(code, 0);
    assert!(stdout.contains("Deployment web"), "{stdout}");
    assert!(
        stdout.contains("1 objects in 3 files, 1 ignored"),
        "{stdout}"
    );
    let out = jobcd(&["validate", "--strict", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("deploy.yaml:1: apps/v1 Deployment is not a Job, CronJob or ConfigMap")
    );
}

#[test]
fn json_output_is_machine_readable() {
    let dir = tree(&[(
        "job.yaml",
        JOB.replace("restartPolicy: Never", "restartPolicy: Always")
            .as_bytes(),
    )]);
    let out = jobcd(&["validate", "-o", "json", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(
        report["diagnostics"][0]["field"],
        "spec.template.spec.restartPolicy"
    );
    assert_eq!(report["diagnostics"][0]["line"], 8);
    assert_eq!(report["diagnostics"][0]["object"]["name"], "pi");
}

#[test]
fn a_missing_directory_is_a_usage_error() {
    let out = jobcd(&["validate", "/nonexistent/manifests"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /nonexistent/manifests"));
}

#[test]
fn jobcd_policy_annotations_must_name_a_known_policy() {
    let bad = JOB.replace(
        "  name: pi\n",
        "  name: pi\n  annotations:\n    jobcd.dev/on-change: skip\n    jobcd.dev/prune: never\n",
    );
    let dir = tree(&[("jobs/pi.yaml", bad.as_bytes())]);
    let (code, stdout, stderr) = validate(dir.path());
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("jobs/pi.yaml:6")
            && all.contains("jobcd.dev/on-change")
            && all.contains("unsupported value \"skip\"")
            && all.contains("rerun, ignore"),
        "{all}"
    );
    assert!(
        all.contains("jobs/pi.yaml:7") && all.contains("enabled, disabled"),
        "{all}"
    );
}

#[test]
fn a_max_age_that_does_not_read_is_an_error_and_on_a_job_a_warning() {
    let bad = JOB.replace(
        "  name: pi\n",
        "  name: pi\n  annotations:\n    jobcd.dev/max-age: 1.5 days\n",
    );
    let dir = tree(&[("jobs/pi.yaml", bad.as_bytes())]);
    let (code, stdout, stderr) = validate(dir.path());
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{all}");
    assert!(
        all.contains("jobs/pi.yaml:6")
            && all.contains("jobcd.dev/max-age")
            && all.contains("write it as 26h, 90m, 7d or 3600s")
            && all.contains("has no effect on a Job"),
        "{all}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_jobcd_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["schedule", "* * * * *", "-c", "10000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The pipe's reader is dropped here, as `| head -1` would.
    let out = child.wait_with_output().unwrap();
    assert!(!first.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

#[test]
fn schedule_lists_at_most_ten_thousand_fire_times() {
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["schedule", "* * * * *", "-c", "10000000"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("10000000") && stderr.contains("1..=10000"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is listed");
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["schedule", "@hourly", "--count", "10000", "-o", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["next"].as_array().map(Vec::len), Some(10_000));
}

#[test]
fn control_characters_in_names_are_escaped_in_human_output() {
    // A file name that would clear the screen and forge a "valid" line,
    // and a document of another kind with an escape in its kind and name.
    let forged = "a\u{1b}[2J\nx.yaml: valid\n.yaml";
    let dir = tree(&[
        (forged, b"kind: Job\nmetadata: {name: [oops}\n"),
        (
            "other.yaml",
            b"apiVersion: v1\nkind: \"Conf\\eigMap\"\nmetadata: {name: \"a\\rb\"}\n",
        ),
    ]);
    let (code, stdout, stderr) = validate(dir.path());
    let all = format!("{stdout}{stderr}");
    assert_eq!(code, 1, "{all}");
    assert!(!all.contains('\u{1b}') && !all.contains('\r'), "{all:?}");
    assert!(
        stderr.contains("a\\u{1b}[2J\\nx.yaml: valid\\n.yaml"),
        "{stderr}"
    );
    assert!(stdout.contains("Conf\\u{1b}igMap a\\rb"), "{stdout}");
}

#[test]
fn only_regular_files_are_read() {
    let dir = tree(&[("pi.yaml", JOB.as_bytes())]);
    let fifo = dir.path().join("p.yaml");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    // Nobody ever writes to the pipe: reading it would block forever.
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("p.yaml") && stderr.contains("is a named pipe (FIFO), not a regular file"),
        "{stderr}"
    );
}

/// Runs git in `dir` with no user or system configuration; its stdout.
fn git(dir: &Path, args: &[&str], input: Option<&[u8]>) -> String {
    use std::io::Write;
    let mut child = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.unwrap_or_default())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_commit_with_a_link_loop_a_huge_blob_or_a_malformed_tree_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"], None);
    fs::create_dir_all(dir.path().join("jobs")).unwrap();
    fs::write(dir.path().join("jobs/pi.yaml"), JOB).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("jobs/again")).unwrap();
    // 9 MiB of comments: over the 8 MiB limit.
    let big = "# x\n".repeat(9 * 1024 * 1024 / 4);
    fs::write(dir.path().join("jobs/big.yaml"), big).unwrap();
    git(dir.path(), &["add", "-A"], None);
    git(dir.path(), &["commit", "-qm", "links and a big file"], None);
    let out = jobcd(&[
        "validate",
        "--repo",
        dir.path().to_str().unwrap(),
        "--path",
        "jobs",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("jobs/again") && stderr.contains("loops back to a directory that holds it"),
        "{stderr}"
    );
    assert!(
        stderr.contains("jobs/big.yaml") && stderr.contains("the limit is 8388608"),
        "{stderr}"
    );

    // A tree whose entry is named `../x.yaml`, as only a raw-tree tool
    // can write it.
    let blob = git(
        dir.path(),
        &["hash-object", "-w", "--stdin"],
        Some(JOB.as_bytes()),
    );
    let mut tree = b"100644 ../x.yaml\0".to_vec();
    let raw: Vec<u8> = (0..20)
        .map(|i| u8::from_str_radix(&blob[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    tree.extend(raw);
    let tree = git(
        dir.path(),
        &["hash-object", "-w", "-t", "tree", "--literally", "--stdin"],
        Some(&tree),
    );
    let commit = git(dir.path(), &["commit-tree", &tree, "-m", "raw"], None);
    git(dir.path(), &["update-ref", "refs/heads/raw", &commit], None);
    let out = jobcd(&[
        "validate",
        "--repo",
        dir.path().to_str().unwrap(),
        "--ref",
        "raw",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the tree has an entry named \"../x.yaml\""),
        "{all}"
    );
    assert!(
        !all.contains("Job default/pi"),
        "the entry is not read: {all}"
    );
}

#[test]
fn a_nul_in_a_file_is_named_where_it_is() {
    let dir = tree(&[(
        "nul.yaml",
        b"apiVersion: batch/v1\nkind: Job\nmetadata: {name: \"a\0b\"}\n",
    )]);
    let (code, _, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "nul.yaml:3: column 20: the control character U+0000, which YAML does not allow"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("end of stream"), "{stderr}");
}

#[test]
fn files_directories_and_stdin_are_taken_as_kubectl_takes_them() {
    let dir = tree(&[
        ("job.yaml", JOB.as_bytes()),
        (
            "more/other.yml",
            JOB.replace("name: pi", "name: other").as_bytes(),
        ),
        ("notes.txt", b"not a manifest"),
    ]);
    let file = dir.path().join("job.yaml");
    // A file, whatever its name; messages name it as given.
    let out = jobcd(&["validate", file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("Job default/pi"), "{stdout}");
    assert!(
        stdout.contains(&format!("{}:1", file.display())),
        "{stdout}"
    );
    // Several paths: a file and a directory.
    let out = jobcd(&[
        "validate",
        file.to_str().unwrap(),
        dir.path().join("more").to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("valid: 2 objects in 2 files"), "{stdout}");
    // Standard input, named so in messages.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .args(["validate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            JOB.replace("restartPolicy: Never", "restartPolicy: Always")
                .as_bytes(),
        )
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("error: <stdin>:")
            && stderr.contains("Job default/pi: spec.template.spec.restartPolicy"),
        "{stderr}"
    );
    // A path that is not there is an error naming it.
    let out = jobcd(&["validate", "/nonexistent/job.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read /nonexistent/job.yaml: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn a_job_under_another_api_version_is_an_error_not_ignored() {
    let cron = "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n";
    let dir = tree(&[
        ("old-cron.yaml", cron.as_bytes()),
        ("core-job.yaml", JOB.replace("batch/v1", "v1").as_bytes()),
        (
            "volcano.yaml",
            JOB.replace("batch/v1", "batch.volcano.sh/v1alpha1")
                .as_bytes(),
        ),
    ]);
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("old-cron.yaml:1: apiVersion: CronJob nightly: batch/v1beta1 CronJob was removed in Kubernetes 1.25"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "core-job.yaml:1: apiVersion: Job pi: no matches for kind \"Job\" in version \"v1\""
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: use apiVersion: batch/v1"),
        "{stderr}"
    );
    // Another API group's Job is another kind: ignored, as any other object.
    assert!(stdout.contains("1 ignored"), "{stdout}");
}

#[test]
fn pod_template_mistakes_charts_make_are_caught_with_their_line() {
    let job = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: ${SERVICE_ACCOUNT}
      volumes:
        - name: config
          configMap: {name: app-config, defaultMode: 0o1000}
      containers:
        - name: migrate
          image: app:1.2.3
          resources:
            requests: {memory: 256MB, cpu: '2'}
            limits: {cpu: '1'}
          ports:
            - {name: '8080', containerPort: 8080}
          volumeMounts:
            - {name: configs, mountPath: /etc/app}
";
    let dir = tree(&[("migrate.yaml", job.as_bytes())]);
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 1, "{stdout}{stderr}");
    for (line, field) in [
        (9, "spec.template.spec.serviceAccountName"),
        (12, "spec.template.spec.volumes[0].configMap.defaultMode"),
        (
            17,
            "spec.template.spec.containers[0].resources.requests.memory",
        ),
        (17, "spec.template.spec.containers[0].resources.requests"),
        (20, "spec.template.spec.containers[0].ports[0].name"),
        (22, "spec.template.spec.containers[0].volumeMounts[0].name"),
    ] {
        assert!(
            stderr.contains(&format!(
                "migrate.yaml:{line}: Job default/migrate: {field}:"
            )),
            "{field} at line {line}:\n{stderr}"
        );
    }
    assert!(
        stderr.contains("template placeholder that was not rendered"),
        "{stderr}"
    );
}

#[test]
fn what_the_api_server_accepts_with_a_warning_is_a_warning_here() {
    let job = "apiVersion: batch/v1
kind: Job
metadata:
  name: warned
spec:
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: -5
      nodeSelector:
        beta.kubernetes.io/os: linux
      containers:
        - name: main
          image: busybox
          resources:
            requests: {memory: 100m}
          env:
            - {name: MODE, value: a}
            - {name: MODE, value: b}
";
    let dir = tree(&[("warned.yaml", job.as_bytes())]);
    let (code, stdout, stderr) = validate(dir.path());
    assert_eq!(code, 0, "warnings do not fail validate: {stdout}{stderr}");
    for (line, text) in [
        (
            9,
            "spec.template.spec.terminationGracePeriodSeconds: -5: must be >= 0; negative values are invalid and will be treated as 1",
        ),
        (
            11,
            "beta.kubernetes.io/os\"]: deprecated since v1.14, use \"kubernetes.io/os\" instead",
        ),
        (
            16,
            "spec.template.spec.containers[0].resources.requests.memory: \"100m\" is a fractional number of bytes",
        ),
        (
            19,
            "spec.template.spec.containers[0].env[1].name: environment variable \"MODE\" is defined more than once",
        ),
    ] {
        let at = format!("warning: warned.yaml:{line}: Job default/warned: ");
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with(&at) && l.contains(text)),
            "line {line}: {text}\n{stderr}"
        );
    }
    assert!(stdout.contains("4 warnings"), "{stdout}");
}

#[test]
fn config_maps_are_objects_validated_as_the_api_server_does() {
    let big = "x".repeat(600 * 1024);
    let dir = tree(&[
        (
            "settings.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  MODE: prod\n  app.properties: |\n    a=1\n",
        ),
        (
            "bad.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: bad}\ndata:\n  ok: 'yes'\n  'no/slash': x\n  both: x\nbinaryData:\n  both: eA==\n",
        ),
        (
            "flag.yaml",
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flag}\ndata:\n  enabled: true\n",
        ),
        (
            "big.yaml",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n  a: {big}\n  b: {big}\n")
                .as_bytes(),
        ),
    ]);
    let out = jobcd(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("ConfigMap default/settings")
            && stdout.contains("2 keys: MODE, app.properties"),
        "{stdout}"
    );
    for expected in [
        "bad.yaml:6: ConfigMap default/bad: data[\"no/slash\"]: invalid key \"no/slash\": must consist of",
        "bad.yaml:7: ConfigMap default/bad: data.both: key \"both\" is in binaryData too",
        // kubectl: "cannot unmarshal bool into ... of type string".
        "flag.yaml:5: ConfigMap default/flag: data.enabled: expected a string, found the boolean true",
        "big.yaml:4: ConfigMap default/big: data: the values hold 1228800 bytes; at most 1048576 are allowed",
    ] {
        assert!(stderr.contains(expected), "{expected}\n{stderr}");
    }
}

#[test]
fn a_secret_in_git_is_refused_unless_allowed_and_then_ignored() {
    let dir = tree(&[
        ("job.yaml", JOB.as_bytes()),
        (
            "db.yaml",
            b"apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: hunter2\n",
        ),
    ]);
    let out = jobcd(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("db.yaml:2: kind: Secret db: a Secret in git is readable by everyone who can read the repository")
            && stderr.contains("jobcd local secret create")
            && stderr.contains("--allow-secrets")
            && !stderr.contains("hunter2"),
        "{stderr}"
    );
    let out = jobcd(&["validate", "--allow-secrets", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 objects in 2 files, 1 ignored"),
        "{stdout}"
    );
}
