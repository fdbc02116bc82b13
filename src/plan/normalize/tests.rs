//! A cosmetic edit never changes the hash; a real one always does.

use super::*;

fn object(yaml: &str) -> Object {
    crate::testing::objects("x.yaml", yaml).remove(0)
}

fn hash(yaml: &str) -> String {
    spec_hash(&object(yaml))
}

const JOB: &str = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: postgres:16
        command: ["psql", "-c", "select 1"]
"#;

const CRONJOB: &str = r#"
apiVersion: batch/v1
kind: CronJob
metadata:
  name: backup
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: main
            image: restic/restic
            command: [restic, backup]
"#;

#[test]
fn key_order_does_not_change_the_hash() {
    let reordered = r#"
kind: Job
spec:
  template:
    spec:
      containers:
      - command: ["psql", "-c", "select 1"]
        image: postgres:16
        name: main
      restartPolicy: Never
metadata:
  name: migrate
apiVersion: batch/v1
"#;
    assert_eq!(hash(JOB), hash(reordered));
}

#[test]
fn comments_and_layout_do_not_change_the_hash() {
    let commented = r#"
# The orders index.
apiVersion: batch/v1
kind: Job
metadata: {name: migrate}   # flow style
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main          # indented differently
          image: postgres:16
          command:
            - psql
            - -c
            - select 1
"#;
    assert_eq!(hash(JOB), hash(commented));
}

#[test]
fn quoting_does_not_change_the_hash() {
    let quoted = r#"
"apiVersion": 'batch/v1'
kind: "Job"
metadata:
  name: 'migrate'
spec:
  template:
    spec:
      restartPolicy: "Never"
      containers:
      - name: "main"
        image: "postgres:16"
        command: ['psql', '-c', 'select 1']
"#;
    assert_eq!(hash(JOB), hash(quoted));
}

#[test]
fn fields_written_at_their_default_do_not_change_the_hash() {
    let defaults = r#"
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  namespace: default
spec:
  completions: 1
  parallelism: 1
  backoffLimit: 6
  completionMode: NonIndexed
  suspend: false
  manualSelector: false
  podReplacementPolicy: TerminatingOrFailed
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 30
      dnsPolicy: ClusterFirst
      schedulerName: default-scheduler
      enableServiceLinks: true
      securityContext: {}
      containers:
      - name: main
        image: postgres:16
        imagePullPolicy: IfNotPresent
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: File
        command: ["psql", "-c", "select 1"]
        args: []
"#;
    assert_eq!(hash(JOB), hash(defaults));

    let cron_defaults = CRONJOB.replace(
        "  schedule: \"0 3 * * *\"\n",
        "  schedule: \"0 3 * * *\"\n  concurrencyPolicy: Allow\n  suspend: false\n  successfulJobsHistoryLimit: 3\n  failedJobsHistoryLimit: 1\n",
    );
    let cron_defaults = cron_defaults.replace(
        "            image: restic/restic\n",
        "            image: restic/restic\n            imagePullPolicy: Always\n",
    );
    assert_ne!(cron_defaults, CRONJOB);
    assert_eq!(hash(CRONJOB), hash(&cron_defaults));
}

#[test]
fn jobcds_own_metadata_does_not_change_the_hash() {
    let stamped = JOB.replace(
        "  name: migrate\n",
        "  name: migrate\n  labels:\n    app.kubernetes.io/managed-by: jobcd\n    jobcd.dev/source: prod\n  annotations:\n    jobcd.dev/revision: abc\n    jobcd.dev/spec-hash: x\n",
    );
    assert_eq!(hash(JOB), hash(&stamped));
}

#[test]
fn real_changes_do_change_the_hash() {
    let base = hash(JOB);
    for (what, edited) in [
        ("command", JOB.replace("select 1", "select 2")),
        ("image", JOB.replace("postgres:16", "postgres:17")),
        (
            "a non-default backoffLimit",
            JOB.replace(
                "spec:\n  template:",
                "spec:\n  backoffLimit: 5\n  template:",
            ),
        ),
        (
            "the run annotation",
            JOB.replace(
                "  name: migrate\n",
                "  name: migrate\n  annotations:\n    jobcd.dev/run: \"2\"\n",
            ),
        ),
        (
            "the namespace",
            JOB.replace("  name: migrate\n", "  name: migrate\n  namespace: batch\n"),
        ),
    ] {
        assert_ne!(base, hash(&edited), "{what}");
    }
}

#[test]
fn image_pull_policy_defaults_by_tag() {
    assert!(pulls_always("busybox"));
    assert!(pulls_always("busybox:latest"));
    assert!(pulls_always("registry:5000/team/busybox"));
    assert!(!pulls_always("registry:5000/team/busybox:1.36"));
    assert!(!pulls_always("busybox@sha256:abc"));
}

/// A ConfigMap whose text holds every kind of character JSON escapes:
/// quotes, backslashes, control characters, and non-ASCII ones it keeps.
const CONFIGMAP: &str = "
apiVersion: v1
kind: ConfigMap
metadata:
  name: odd-text
data:
  quotes: \"say \\\"hi\\\" \\\\ back\"
  controls: \"tab\\tnew\\nline\\rcr\\u0008bs\\u000cff\\u0001one\\u001fus\\u007fdel\"
  wide: \"Zürich – 東京 🚀\"
";

#[test]
fn hashes_stay_what_jobcd_stored() {
    // Ledgers, annotations and the local store hold these: a change here
    // re-runs every Job users have already run.
    for (yaml, stored) in [
        (
            JOB,
            "c9d156da875ef60fd8dfb0469611774e3b6780820d4dd7994ff60bc86593f121",
        ),
        (
            CRONJOB,
            "611309be5938ddb7f0336fe4f5d62171499d2e5c49551928e221cde71085bd92",
        ),
        (
            CONFIGMAP,
            "eea44117b7d4064a3bb463fb366ebd6024e6e3332924008f6f5664e1c9331d40",
        ),
    ] {
        assert_eq!(hash(yaml), stored, "{yaml}");
    }
}

#[test]
fn canonical_json_is_what_serde_json_writes() {
    // Every ASCII and Latin character, surrogate neighbours, and a few
    // outside the basic plane, as keys, values and list items, with
    // numbers of each kind.
    let text: String = (0u32..0x800)
        .chain([0xd7ff, 0xe000, 0xfffd, 0x1f680, 0x10ffff])
        .filter_map(char::from_u32)
        .collect();
    let value = serde_json::json!({
        "z": [text.clone(), 1, -2, 2.5, 1e300, true, false, null, {}],
        text.clone(): {"b": text, "a": [], "": u64::MAX},
        "\"\\": "\u{0}\u{1f}\u{7f}",
    });
    let mut out = String::new();
    canonical(&value, &mut out);
    assert_eq!(out, serde_json::to_string(&value).unwrap());
}
