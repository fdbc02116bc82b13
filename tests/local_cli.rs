//! `jobcd local`: the examples run on this machine, a Job runs once per
//! spec, a CronJob runs on demand, and what ran can be read back.

use std::path::Path;
use std::process::{Command, Output};

fn jobcd(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("the jobcd binary runs")
}

/// The first pod named `prefix…` that `jobcd local runs` listed.
fn pod_in(runs: &str, prefix: &str) -> String {
    runs.split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("a pod {prefix}… is listed: {runs}"))
        .to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_examples_run_once_and_can_be_inspected() {
    let state = tempfile::tempdir().unwrap();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = jobcd(
        state.path(),
        &["local", "apply", examples.to_str().unwrap()],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    for job in ["pi", "migrate-001-add-orders-index", "render-thumbnails"] {
        assert!(
            all.contains(&format!("Job default/{job}: Complete (CompletionsReached")),
            "{job}: {all}"
        );
    }
    assert!(
        all.contains("10 succeeded, 0 failed"),
        "the Indexed Job ran all ten indexes: {all}"
    );
    assert!(
        all.contains("CronJob default/nightly-backup: recorded"),
        "{all}"
    );

    let again = text(&jobcd(
        state.path(),
        &["local", "apply", examples.to_str().unwrap()],
    ));
    assert_eq!(
        again
            .matches("already ran with this spec (Complete)")
            .count(),
        3,
        "{again}"
    );

    let status = text(&jobcd(state.path(), &["local", "status"]));
    assert!(status.contains("CronJob default/weekly-report"), "{status}");
    assert!(status.contains("\"0 8 * * MON\" next at"), "{status}");
    assert!(status.contains("(Europe/Berlin)"), "{status}");

    let runs = text(&jobcd(state.path(), &["local", "runs", "pi"]));
    assert!(
        runs.contains(" Succeeded restarts 0 exits [pi=0] "),
        "exit codes as numbers: {runs}"
    );
    let pod = runs
        .split_whitespace()
        .find(|w| w.starts_with("pi-"))
        .expect("a pi pod is listed")
        .to_string();
    let logs = text(&jobcd(state.path(), &["local", "logs", &pod]));
    assert!(logs.starts_with("3.14159265358979323846"), "{logs}");

    let now = jobcd(state.path(), &["local", "run-now", "nightly-backup"]);
    assert_eq!(now.status.code(), Some(0), "{}", text(&now));
    let runs = text(&jobcd(state.path(), &["local", "runs", "nightly-backup"]));
    let pod = runs
        .split_whitespace()
        .find(|w| w.starts_with("nightly-backup-manual-") && w.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("a manual run's pod is listed: {runs}"))
        .to_string();
    let logs = text(&jobcd(state.path(), &["local", "logs", &pod]));
    assert!(
        logs.contains("wrote /tmp/jobcd-examples/backups/backup-"),
        "{logs}"
    );
}

#[test]
fn a_failing_job_fails_the_apply_and_a_job_without_command_is_refused() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fail.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: fails}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox, command: [sh, -c, 'exit 3']}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("image.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: image-only}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: busybox}]\n",
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("Job default/fails: Failed (BackoffLimitExceeded"),
        "{all}"
    );
    assert!(
        all.contains("Job default/image-only: spec.template.spec.containers[0].command: container \"c\" has no command"),
        "{all}"
    );
}

#[test]
fn an_invalid_tree_applies_nothing() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ok.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: ok}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: i, command: ['true']}]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: bad}\nspec: {backofLimit: 1}\n",
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("invalid; nothing was applied"),
        "{}",
        text(&out)
    );
    assert!(text(&jobcd(state.path(), &["local", "runs"])).contains("no runs yet"));
}

#[test]
fn an_object_applied_by_hand_can_be_deleted_by_hand() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cron.yaml"),
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tick}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: i, command: ['true']}]\n",
    )
    .unwrap();
    let applied = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert!(
        text(&jobcd(state.path(), &["local", "status"])).contains("CronJob default/tick (by hand")
    );

    let deleted = jobcd(state.path(), &["local", "delete", "cronjob", "tick"]);
    assert_eq!(deleted.status.code(), Some(0), "{}", text(&deleted));
    assert!(text(&deleted).contains("CronJob default/tick: deleted"));
    assert!(text(&jobcd(state.path(), &["local", "status"])).contains("nothing applied yet"));

    let again = jobcd(state.path(), &["local", "delete", "cronjob", "tick"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        text(&again).contains("no CronJob default/tick has been applied"),
        "{}",
        text(&again)
    );
}

#[test]
fn logs_follow_prints_output_as_it_comes_until_the_pod_ends() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    std::fs::write(
        dir.path().join("slow.yaml"),
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: slow}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: c, image: i, command: [sh, -c, 'echo one; while [ ! -e {} ]; do sleep 0.05; done; echo two']}}]\n",
            gate.display()
        ),
    )
    .unwrap();
    let mut apply = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(state.path())
        .args(["local", "apply", dir.path().to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the pod to exist.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let pod = loop {
        let runs = text(&jobcd(state.path(), &["local", "runs", "slow"]));
        if let Some(pod) = runs.split_whitespace().find(|w| w.starts_with("slow-")) {
            break pod.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no pod: {runs}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut follow = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(state.path())
        .args(["local", "logs", &pod, "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // "one" arrives while the pod is still held at the gate.
    use std::io::{BufRead, Read};
    let mut stdout = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "one\n");
    std::fs::write(&gate, "").unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "two\n", "the rest, then the end once the pod ends");
    assert_eq!(follow.wait().unwrap().code(), Some(0));
    assert_eq!(apply.wait().unwrap().code(), Some(0));
}

#[test]
fn durations_at_the_api_servers_extremes_run_without_a_panic() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("far.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: far}\nspec:\n  activeDeadlineSeconds: 300000000000\n  ttlSecondsAfterFinished: 2147483647\n  backoffLimit: 2147483647\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: x, command: ['true']}]\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: late}\nspec:\n  schedule: '@every 1s'\n  startingDeadlineSeconds: 9223372036854775807\n  successfulJobsHistoryLimit: 2147483647\n  jobTemplate:\n    spec:\n      activeDeadlineSeconds: 9223372036854775807\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: m, image: x, command: ['true']}]\n",
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains("Job default/far: Complete"), "{all}");
    let out = jobcd(state.path(), &["local", "run-now", "late"]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(all.contains(": Complete"), "{all}");
}

#[test]
fn a_policy_annotation_added_to_a_job_that_ran_does_not_run_it_again() {
    let (state, manifests, work) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let runs = work.path().join("runs");
    let write = |annotations: &str| {
        std::fs::write(
            manifests.path().join("migrate.yaml"),
            format!(
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations: {{{annotations}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, 'echo ran >> {}']}}]\n",
                runs.display()
            ),
        )
        .unwrap();
    };
    let apply = || {
        jobcd(
            state.path(),
            &["local", "apply", manifests.path().to_str().unwrap()],
        )
    };
    write("");
    let first = apply();
    assert_eq!(first.status.code(), Some(0), "{}", text(&first));
    for annotations in [
        "jobcd.dev/prune: disabled",
        "jobcd.dev/prune: disabled, jobcd.dev/on-change: ignore",
        "",
    ] {
        write(annotations);
        let again = apply();
        assert_eq!(again.status.code(), Some(0), "{}", text(&again));
        assert!(
            text(&again).contains("Job default/migrate: policy annotations changed: updated in place (the spec is the same, nothing runs again)"),
            "{annotations}: {}",
            text(&again)
        );
        // The live object learned them: the next apply has nothing to do.
        let settled = apply();
        assert!(
            text(&settled).contains("Job default/migrate: already ran with this spec (Complete)"),
            "{annotations}: {}",
            text(&settled)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&runs).unwrap(),
        "ran\n",
        "it ran once"
    );
}

/// The Kubernetes docs' downward-API examples (dapi-envars-fieldref and
/// dapi-envars-resourcefieldref), as an Indexed Job: each variable gets
/// what the kubelet would give it, with this machine as the node.
const DOWNWARD: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: dapi-envars
  namespace: batch
spec:
  completionMode: Indexed
  completions: 1
  template:
    metadata:
      labels: {app: dapi}
      annotations: {build: "42"}
    spec:
      restartPolicy: Never
      serviceAccountName: reporter
      containers:
        - name: test-container
          image: registry.k8s.io/busybox:1.27.2
          command: [sh, -c]
          args:
            - |
              echo "node=$MY_NODE_NAME"
              echo "pod=$MY_POD_NAME"
              echo "namespace=$MY_POD_NAMESPACE"
              echo "ip=$MY_POD_IP"
              echo "account=$MY_POD_SERVICE_ACCOUNT"
              echo "app=$MY_APP"
              echo "build=$MY_BUILD"
              echo "index=$MY_INDEX"
              echo "uid=$MY_UID"
              echo "cpu-request=$MY_CPU_REQUEST"
              echo "cpu-limit=$MY_CPU_LIMIT"
              echo "mem-request=$MY_MEM_REQUEST"
              echo "mem-limit=$MY_MEM_LIMIT"
              echo "where=$(WHERE)"
          resources:
            requests: {memory: 32Mi, cpu: 125m}
            limits: {memory: 64Mi, cpu: 250m}
          env:
            - name: MY_NODE_NAME
              valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
            - name: MY_POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: MY_POD_NAMESPACE
              valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
            - name: MY_POD_IP
              valueFrom: {fieldRef: {fieldPath: status.podIP}}
            - name: MY_POD_SERVICE_ACCOUNT
              valueFrom: {fieldRef: {fieldPath: spec.serviceAccountName}}
            - name: MY_APP
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
            - name: MY_BUILD
              valueFrom: {fieldRef: {fieldPath: "metadata.annotations['build']"}}
            - name: MY_INDEX
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['batch.kubernetes.io/job-completion-index']"}}
            - name: MY_UID
              valueFrom: {fieldRef: {fieldPath: metadata.uid}}
            - name: MY_CPU_REQUEST
              valueFrom: {resourceFieldRef: {containerName: test-container, resource: requests.cpu, divisor: 1m}}
            - name: MY_CPU_LIMIT
              valueFrom: {resourceFieldRef: {containerName: test-container, resource: limits.cpu, divisor: 1m}}
            - name: MY_MEM_REQUEST
              valueFrom: {resourceFieldRef: {containerName: test-container, resource: requests.memory, divisor: 1Mi}}
            - name: MY_MEM_LIMIT
              valueFrom: {resourceFieldRef: {containerName: test-container, resource: limits.memory, divisor: 1Mi}}
            - name: WHERE
              value: "$(MY_POD_NAMESPACE)/$(MY_POD_NAME)"
"#;

#[test]
fn the_downward_api_gives_a_container_its_pod_and_resources() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dapi.yaml"), DOWNWARD).unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = text(&jobcd(state.path(), &["local", "runs", "dapi-envars"]));
    let pod = pod_in(&runs, "dapi-envars-0-");
    let logs = text(&jobcd(state.path(), &["local", "logs", &pod]));
    let value = |key: &str| -> String {
        logs.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} in {logs}"))
            .to_string()
    };
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(value("node"), hostname.trim());
    assert_eq!(value("pod"), pod);
    assert_eq!(value("namespace"), "batch");
    assert!(value("ip").parse::<std::net::IpAddr>().is_ok(), "{logs}");
    assert_eq!(value("account"), "reporter");
    assert_eq!(value("app"), "dapi");
    assert_eq!(value("build"), "42");
    assert_eq!(value("index"), "0");
    let uid = value("uid");
    assert_eq!(
        uid.split('-').map(str::len).collect::<Vec<_>>(),
        [8, 4, 4, 4, 12],
        "{uid}"
    );
    assert_eq!(value("cpu-request"), "125");
    assert_eq!(value("cpu-limit"), "250");
    assert_eq!(value("mem-request"), "32");
    assert_eq!(value("mem-limit"), "64");
    assert_eq!(value("where"), format!("batch/{pod}"));
}

#[test]
fn config_maps_applied_with_the_jobs_reach_their_environment() {
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  MODE: prod\n  LEVEL: '3'\n",
    )
    .unwrap();
    let job = |name: &str, from: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: c\n          image: busybox\n          command: [sh, -c, 'echo \"$APP_MODE $ONE\"']\n          envFrom: [{{configMapRef: {{name: {from}}}, prefix: APP_}}]\n          env:\n            - name: ONE\n              valueFrom: {{configMapKeyRef: {{name: {from}, key: LEVEL}}}}\n"
        )
    };
    std::fs::write(dir.path().join("reader.yaml"), job("reader", "settings")).unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", dir.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let runs = text(&jobcd(state.path(), &["local", "runs", "reader"]));
    let pod = pod_in(&runs, "reader-");
    let logs = text(&jobcd(state.path(), &["local", "logs", &pod]));
    assert_eq!(logs.trim(), "prod 3");
    let status = text(&jobcd(state.path(), &["local", "status"]));
    assert!(
        status.contains("ConfigMap default/settings (by hand")
            && status.contains("2 keys: LEVEL, MODE"),
        "{status}"
    );

    // A Job whose ConfigMap is missing is refused before it is recorded.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("lost.yaml"), job("lost", "absent")).unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", other.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("Job default/lost: spec.template.spec.containers[0].envFrom[0].configMapRef: CreateContainerConfigError: configmap \"absent\" not found in namespace \"default\""),
        "{}",
        text(&out)
    );
    assert!(
        text(&jobcd(state.path(), &["local", "runs", "lost"])).contains("no runs"),
        "nothing recorded"
    );

    // A CronJob's run that needs one ends failed, saying why.
    std::fs::write(
        other.path().join("lost.yaml"),
        r#"apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: '0 3 * * *'
  jobTemplate:
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers:
            - name: c
              image: busybox
              command: [sh, -c, 'echo $MODE']
              envFrom: [{configMapRef: {name: absent}}]
"#,
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", other.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = jobcd(state.path(), &["local", "run-now", "cronjob/nightly"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("CreateContainerConfigError"),
        "{}",
        text(&out)
    );
    let runs = text(&jobcd(state.path(), &["local", "runs", "cronjob/nightly"]));
    assert!(runs.contains("CreateContainerConfigError"), "{runs}");
}

#[test]
fn secrets_are_created_out_of_git_and_reach_the_pods_that_name_them() {
    use std::os::unix::fs::PermissionsExt;
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("db.env");
    std::fs::write(
        &env_file,
        "# the database\nPGUSER=app\nPGPASSWORD=correct-horse\n",
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &[
            "local",
            "secret",
            "create",
            "db",
            "-n",
            "batch",
            "--from-env-file",
            env_file.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        text(&out).trim(),
        "secret batch/db created (2 keys: PGPASSWORD, PGUSER)"
    );
    let file = state.path().join("secrets/batch/db.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let listed = text(&jobcd(state.path(), &["local", "secret", "list"]));
    assert_eq!(
        listed.trim(),
        "batch/db  PGPASSWORD (13 bytes), PGUSER (3 bytes)"
    );
    let again = jobcd(
        state.path(),
        &[
            "local",
            "secret",
            "create",
            "db",
            "-n",
            "batch",
            "--from-literal",
            "X=1",
        ],
    );
    assert_eq!(again.status.code(), Some(2), "{}", text(&again));
    assert!(text(&again).contains("exists already"), "{}", text(&again));

    let job = |name: &str, secret: &str| {
        format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: batch}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: c\n          image: postgres:16\n          command: [sh, -c, 'echo \"$PGUSER:$PASSWORD\"']\n          envFrom: [{{secretRef: {{name: {secret}}}}}]\n          env:\n            - name: PASSWORD\n              valueFrom: {{secretKeyRef: {{name: {secret}, key: PGPASSWORD}}}}\n"
        )
    };
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(manifests.path().join("job.yaml"), job("reader", "db")).unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", manifests.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!text(&out).contains("correct-horse"), "{}", text(&out));
    let runs = text(&jobcd(state.path(), &["local", "runs", "reader"]));
    assert!(!runs.contains("correct-horse"), "{runs}");
    let pod = pod_in(&runs, "reader-");
    let logs = text(&jobcd(state.path(), &["local", "logs", &pod]));
    assert_eq!(logs.trim(), "app:correct-horse");

    // Another namespace's Secret is not this one's; the refusal names the
    // way to create it, and no value.
    std::fs::write(
        manifests.path().join("job.yaml"),
        job("other", "db").replace("namespace: batch", "namespace: default"),
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", manifests.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("secret \"db\" not found in namespace \"default\"")
            && text(&out).contains("jobcd local secret create"),
        "{}",
        text(&out)
    );

    let out = jobcd(
        state.path(),
        &["local", "secret", "delete", "db", "-n", "batch"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!file.exists());
    let listed = text(&jobcd(state.path(), &["local", "secret", "list"]));
    assert!(listed.starts_with("no secrets"), "{listed}");
}

#[test]
fn a_slot_that_no_job_ran_is_reported_missed_once_its_deadline_passed() {
    // Real time: the CronJob is recorded but nothing fires it (no `local
    // serve`), as when jobcd is stopped across a minute boundary.
    let state = tempfile::tempdir().unwrap();
    let manifests = tempfile::tempdir().unwrap();
    std::fs::write(
        manifests.path().join("every-minute.yaml"),
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: every-minute}\nspec:\n  schedule: \"* * * * *\"\n  timeZone: UTC\n  startingDeadlineSeconds: 10\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: busybox, command: [\"true\"]}]\n",
    )
    .unwrap();
    let out = jobcd(
        state.path(),
        &["local", "apply", manifests.path().to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let status = || text(&jobcd(state.path(), &["local", "status"]));
    // A minute boundary may just have passed: that slot is still due.
    assert!(status().contains("health: ok (0 of "), "{}", status());
    let applied = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The next minute boundary, then its 10 s deadline, then a second.
    let missed_at = (applied / 60 + 1) * 60 + 11;
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        if now >= missed_at {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let report = status();
    assert!(report.contains("health: 1 missed (last "), "{report}");
}
