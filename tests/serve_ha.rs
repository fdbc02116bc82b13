//! Two `jobcd serve` replicas against a real control plane (etcd,
//! kube-apiserver and kube-controller-manager on loopback): one holds the
//! leader Lease and reconciles, the other waits; when the leader is killed
//! the other takes over, applies new commits, and re-runs nothing.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use support::http::{hmac_hex, request};
use support::jobs_repo::JobsRepo;
use support::kube_cluster::{Cluster, PATIENCE};
use support::served::Served;

const NAMESPACE: &str = "ha";
const OWN: &str = "jobcd-system";
const SECRET: &str = "ha-secret";

fn cronjob(schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: nightly, namespace: {NAMESPACE}}}\nspec:\n  schedule: '{schedule}'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo tick']}}]\n"
    )
}

fn job() -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: once, namespace: {NAMESPACE}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, 'echo once']}}]\n"
    )
}

fn holder(cluster: &Cluster) -> String {
    cluster.json(&["-n", OWN, "get", "lease", "jobcd"])["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn config(dir: &Path, cluster: &Cluster, repo: &Path) -> std::path::PathBuf {
    let path = dir.join("jobcd.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: 127.0.0.1:0\ntarget:\n  kind: kube\n  kubeconfig: {}\n  namespaces: [{NAMESPACE}]\n  ledgerNamespace: {OWN}\nleaderElection:\n  leaseName: jobcd\n  leaseDuration: 3s\nsources:\n  - name: jobs\n    repo: {}\n    ref: main\n    path: jobs\n    interval: 1s\n    webhookSecretEnv: HOOK_SECRET\n",
            cluster.kubeconfig.display(),
            repo.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn one_replica_leads_and_the_other_takes_over_when_it_dies() {
    let cluster = Cluster::start();
    for ns in [NAMESPACE, OWN] {
        let out = cluster.kubectl(&["create", "namespace", ns]);
        assert!(out.status.success(), "{out:?}");
    }
    let repo = JobsRepo::new();
    let first = repo.commit(&[
        ("nightly.yaml", Some(&cronjob("0 3 * * *"))),
        ("once.yaml", Some(&job())),
    ]);
    let config = config(repo.dir.path(), &cluster, &repo.path());
    let (a_root, b_root) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // A starts first and leads: it applies, the Job completes once.
    let a = Served::start(
        a_root.path(),
        &config,
        &[("POD_NAME", "replica-a"), ("HOOK_SECRET", SECRET)],
    );
    a.wait_log("leading: this replica reconciles");
    assert_eq!(holder(&cluster), "replica-a");
    cluster.wait_for("the Job to complete", || {
        cluster.json(&["-n", NAMESPACE, "get", "job", "once"])["status"]["succeeded"] == 1
    });
    let uid = cluster.json(&["-n", NAMESPACE, "get", "job", "once"])["metadata"]["uid"].clone();
    assert!(repo.notes(&first).contains("jobcd/job/ha/once"));

    // B waits: several of its poll intervals pass without one reconcile.
    let b = Served::start(
        b_root.path(),
        &config,
        &[("POD_NAME", "replica-b"), ("HOOK_SECRET", SECRET)],
    );
    b.wait_log("standby until this replica holds the leader Lease");
    std::thread::sleep(Duration::from_secs(4));
    let (code, metrics) = request("GET", &format!("{}/metrics", b.base), &[], b"");
    assert_eq!(code, 200);
    assert!(
        !metrics.contains("jobcd_reconcile_results_total{"),
        "the standby reconciled:\n{metrics}"
    );
    let (code, text) = request("GET", &format!("{}/readyz", b.base), &[], b"");
    assert_eq!(
        (code, text.as_str()),
        (200, "standby: another replica holds the leader Lease\n")
    );
    assert!(!b.log().contains("leading"), "{}", b.log());
    assert_eq!(holder(&cluster), "replica-a");
    // The standby's dashboard says so, and shows the source as another's.
    let (code, standby) = request("GET", &format!("{}/ui/", b.base), &[], b"");
    assert_eq!(code, 200, "{standby}");
    assert!(standby.contains(">standby</span>"), "{standby}");
    assert!(
        standby.contains("<span class=\"badge elsewhere\">elsewhere</span>"),
        "{standby}"
    );

    // A push delivered to the standby reaches the leader through the Lease.
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"x","repository":{{"clone_url":"file://{}","default_branch":"main"}}}}"#,
        repo.path().display()
    )
    .into_bytes();
    let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), &body));
    let (code, text) = request(
        "POST",
        &format!("{}/hooks/github", b.base),
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", signature),
        ],
        &body,
    );
    assert_eq!(
        (code, text.as_str()),
        (202, "relayed to the leader: jobs\n")
    );
    a.wait_log("a push relayed by another replica");
    a.wait_log("reason=Webhook");
    assert!(!b.log().contains("reason=Webhook"), "{}", b.log());

    // A dies without a word; B takes the Lease once it expires.
    a.signal(Signal::SIGKILL);
    let killed = Instant::now();
    b.wait_log("leading: this replica reconciles");
    let failover = killed.elapsed();
    eprintln!(
        "failover after the leader's SIGKILL: {} ms",
        failover.as_millis()
    );
    assert_eq!(holder(&cluster), "replica-b");

    // B reconciles what A applied without re-running it, then a new commit.
    b.wait_log("0 to create, 0 to update, 0 to re-run, 0 to prune");
    let second = repo.commit(&[("nightly.yaml", Some(&cronjob("30 4 * * *")))]);
    cluster.wait_for("the new schedule", || {
        cluster.json(&["-n", NAMESPACE, "get", "cronjob", "nightly"])["spec"]["schedule"]
            == "30 4 * * *"
    });
    let deadline = Instant::now() + PATIENCE;
    while !repo.notes(&second).contains("jobcd/sync") {
        assert!(Instant::now() < deadline, "no status:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // Changed by hand: the next poll puts it back, and logs what drifted.
    let patched = cluster.kubectl(&[
        "-n",
        NAMESPACE,
        "patch",
        "cronjob",
        "nightly",
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"1 1 * * *"}}"#,
    ]);
    assert!(patched.status.success(), "{patched:?}");
    b.wait_log(r#"drift: changed on the cluster: spec.schedule is "1 1 * * *" on the cluster, "30 4 * * *" in git"#);
    cluster.wait_for("the schedule put back", || {
        cluster.json(&["-n", NAMESPACE, "get", "cronjob", "nightly"])["spec"]["schedule"]
            == "30 4 * * *"
    });

    // A run of the CronJob (started by hand, as the controller would on
    // schedule) is reported as it ends, on the commit of the CronJob.
    let started = cluster.kubectl(&[
        "-n",
        NAMESPACE,
        "create",
        "job",
        "nightly-manual",
        "--from=cronjob/nightly",
    ]);
    assert!(started.status.success(), "{started:?}");
    b.wait_log("Job ha/nightly-manual of CronJob nightly: Complete");
    let deadline = Instant::now() + PATIENCE;
    while !repo.notes(&second).contains("jobcd/cronjob/ha/nightly") {
        assert!(Instant::now() < deadline, "no CronJob status:\n{}", b.log());
        std::thread::sleep(Duration::from_millis(100));
    }

    let once = cluster.json(&["-n", NAMESPACE, "get", "job", "once"]);
    assert_eq!(once["metadata"]["uid"], uid, "the Job ran again");
    let jobs = cluster.json(&[
        "-n",
        NAMESPACE,
        "get",
        "jobs",
        "-l",
        "app.kubernetes.io/managed-by=jobcd",
    ]);
    assert_eq!(jobs["items"].as_array().map(Vec::len), Some(1), "{jobs}");

    // The leader's dashboard: its part, the CronJob's run with the commit
    // of its CronJob, and a run's conditions and pods read from the
    // cluster.
    let page = |path: &str| {
        let (code, body) = request("GET", &format!("{}/ui/{path}", b.base), &[], b"");
        assert_eq!(code, 200, "{path}: {body}");
        body
    };
    assert!(page("").contains(">leader</span> Kubernetes cluster"));
    let runs = page("runs");
    let manual = runs
        .split("<tr id=\"run-")
        .find(|row| row.contains("ha/nightly-manual"))
        .unwrap_or_else(|| panic!("no row of the manual run: {runs}"));
    assert!(manual.contains("complete"), "{manual}");
    assert!(
        manual.contains(&second[..7]),
        "its CronJob's commit: {manual}"
    );
    let once_page = page(&format!("runs/{}", uid.as_str().unwrap()));
    assert!(
        once_page.contains("<td>Complete</td><td>True</td>"),
        "{once_page}"
    );
    assert!(
        once_page.contains("<code>once-"),
        "the pods, listed: {once_page}"
    );
    let nightly = page("cronjobs/ha/nightly");
    assert!(nightly.contains("30 4 * * *"), "{nightly}");

    // A comes back as a standby. B is paused past its Lease: A takes
    // over and applies; B, resumed, finds it lost the Lease and exits 3
    // without reconciling again.
    let a = Served::start(
        a_root.path(),
        &config,
        &[("POD_NAME", "replica-a"), ("HOOK_SECRET", SECRET)],
    );
    a.wait_log("standby until this replica holds the leader Lease");
    let mut b = b;
    b.signal(Signal::SIGSTOP);
    a.wait_log("leading: this replica reconciles");
    assert_eq!(holder(&cluster), "replica-a");
    repo.commit(&[("nightly.yaml", Some(&cronjob("45 5 * * *")))]);
    cluster.wait_for("A to apply", || {
        cluster.json(&["-n", NAMESPACE, "get", "cronjob", "nightly"])["spec"]["schedule"]
            == "45 5 * * *"
    });
    let paused = b.log().len();
    b.signal(Signal::SIGCONT);
    let status = b.wait_exit();
    assert_eq!(
        status.code(),
        Some(3),
        "a lost Lease has its own exit code: {}",
        b.log()
    );
    let resumed = b.log()[paused..].to_string();
    assert!(resumed.contains("lost the leader Lease"), "{resumed}");
    assert!(!resumed.contains("to create"), "{resumed}");
    assert_eq!(holder(&cluster), "replica-a");

    // A stops cleanly and hands the Lease back at once.
    let mut a = a;
    a.signal(Signal::SIGTERM);
    assert!(a.wait_exit().success(), "{}", a.log());
    cluster.wait_for("the Lease to be released", || holder(&cluster).is_empty());
}
