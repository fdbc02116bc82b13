//! `jobcd sync --target kube` against a real control plane: etcd,
//! kube-apiserver and kube-controller-manager 1.33.13 on loopback
//! (scripts/kube-cluster; binaries built by scripts/test-deps). There is no
//! kubelet: the test plays it, setting each pod's phase, so that the real
//! Job controller completes or fails the Jobs and the real garbage and TTL
//! controllers clean up. A pod whose command says `fail` fails; one that
//! says `hold` waits until the test lets it go; every other pod succeeds.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::Ordering;

use support::jobs_repo::JobsRepo;
use support::kube_cluster::{Cluster, PATIENCE};

/// The test's repository, with the commands it runs on it.
struct Repo(JobsRepo);

impl std::ops::Deref for Repo {
    type Target = JobsRepo;
    fn deref(&self) -> &JobsRepo {
        &self.0
    }
}

impl Repo {
    fn new() -> Repo {
        Repo(JobsRepo::new())
    }

    /// `jobcd sync --target kube` of this repository into `namespace`.
    fn sync_command(&self, cluster: &Cluster, namespace: &str) -> Command {
        self.command("sync", cluster, namespace)
    }

    /// `jobcd VERB --target kube` (diff or sync) of this repository into
    /// `namespace`.
    fn command(&self, verb: &str, cluster: &Cluster, namespace: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jobcd"));
        command
            .env("HOME", self.dir.path())
            .env("KUBECONFIG", &cluster.kubeconfig)
            .arg("--state-dir")
            .arg(self.dir.path().join("state"))
            .args([verb, "--target", "kube", "--repo"])
            .arg(self.path())
            .args(["--path", "jobs", "--namespace", namespace]);
        command
    }

    fn sync(&self, cluster: &Cluster, namespace: &str, extra: &[&str]) -> Output {
        self.sync_command(cluster, namespace)
            .args(extra)
            .output()
            .unwrap()
    }
}

fn job(namespace: &str, name: &str, command: &str, extra: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  backoffLimit: 0\n{extra}  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: busybox, command: [sh, -c, '{command}']}}]\n"
    )
}

fn cronjob(namespace: &str, name: &str, schedule: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  schedule: '{schedule}'\n  jobTemplate:\n    spec:\n      backoffLimit: 0\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo tick']}}]\n"
    )
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `API requests: …` line's writes (create, patch, update, delete).
fn writes(out: &Output) -> u64 {
    let all = text(out);
    let line = all
        .lines()
        .find(|l| l.starts_with("API requests:"))
        .unwrap_or_else(|| panic!("no API request counts in {all}"));
    line.trim_start_matches("API requests:")
        .split(',')
        .filter_map(|part| {
            let (verb, n) = part.trim().split_once(' ')?;
            ["create", "patch", "update", "delete"]
                .contains(&verb)
                .then(|| n.parse::<u64>().unwrap())
        })
        .sum()
}

fn create_namespace(cluster: &Cluster, name: &str) {
    let out = cluster.kubectl(&["create", "namespace", name]);
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn a_repository_lives_its_whole_life_on_a_real_cluster() {
    let cluster = Cluster::start();
    create_namespace(&cluster, "life");
    let repo = Repo::new();
    let first = repo.commit(&[
        ("migrate.yaml", Some(&job("life", "migrate", "echo v1", ""))),
        (
            "short.yaml",
            Some(&job(
                "life",
                "short",
                "echo short",
                "  ttlSecondsAfterFinished: 1\n",
            )),
        ),
        (
            "nightly.yaml",
            Some(&cronjob("life", "nightly", "0 3 * * *")),
        ),
    ]);

    // Create: Jobs complete through the real Job controller; statuses land.
    let out = repo.sync(&cluster, "life", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("Job life/migrate: Complete"), "{all}");
    let notes = repo.notes(&first);
    assert!(notes.contains("jobcd/job/life/migrate"), "{notes}");
    assert!(notes.contains("success"), "{notes}");
    let job_uid = |name: &str| {
        cluster.json(&["-n", "life", "get", "job", name])["metadata"]["uid"]
            .as_str()
            .map(str::to_string)
    };
    let migrate_uid = job_uid("migrate").expect("the Job exists");
    let cron = cluster.json(&["-n", "life", "get", "cronjob", "nightly"]);
    assert_eq!(
        cron["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "jobcd"
    );
    let cron_uid = cron["metadata"]["uid"].clone();

    // Nothing changed: nothing written.
    let again = repo.sync(&cluster, "life", &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(writes(&again), 0, "{}", text(&again));

    // A policy annotation added: the Job learns it in place, and does not
    // run again.
    let annotated = job("life", "migrate", "echo v1", "").replace(
        "metadata: {name: migrate, namespace: life}",
        "metadata: {name: migrate, namespace: life, annotations: {jobcd.dev/prune: disabled}}",
    );
    repo.commit(&[("migrate.yaml", Some(&annotated))]);
    let out = repo.sync(&cluster, "life", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("policy annotations changed"),
        "{}",
        text(&out)
    );
    let live = cluster.json(&["-n", "life", "get", "job", "migrate"]);
    assert_eq!(
        live["metadata"]["uid"].as_str(),
        Some(migrate_uid.as_str()),
        "not run again"
    );
    assert_eq!(
        live["metadata"]["annotations"]["jobcd.dev/prune"],
        "disabled"
    );

    // The TTL controller removes `short`; it is not run again.
    cluster.wait_for("the TTL controller to remove short", || {
        job_uid("short").is_none()
    });
    let after_ttl = repo.sync(&cluster, "life", &[]);
    assert!(
        text(&after_ttl).contains("Job life/short: skip"),
        "{}",
        text(&after_ttl)
    );
    assert_eq!(writes(&after_ttl), 0, "{}", text(&after_ttl));

    // A dry run of a change stores nothing.
    let second = repo.commit(&[
        ("migrate.yaml", Some(&job("life", "migrate", "echo v2", ""))),
        (
            "nightly.yaml",
            Some(&cronjob("life", "nightly", "30 4 * * *")),
        ),
    ]);
    let dry = repo.sync(&cluster, "life", &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert_eq!(job_uid("migrate").as_deref(), Some(migrate_uid.as_str()));
    let schedule =
        cluster.json(&["-n", "life", "get", "cronjob", "nightly"])["spec"]["schedule"].clone();
    assert_eq!(schedule, "0 3 * * *", "a dry run changed the CronJob");

    // The change: CronJob updated in place, Job re-run as a new instance.
    let out = repo.sync(&cluster, "life", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let cron = cluster.json(&["-n", "life", "get", "cronjob", "nightly"]);
    assert_eq!(cron["spec"]["schedule"], "30 4 * * *");
    assert_eq!(cron["metadata"]["uid"], cron_uid, "updated in place");
    let rerun_uid = job_uid("migrate").expect("re-created");
    assert_ne!(rerun_uid, migrate_uid, "the changed Job ran again");
    assert!(repo.notes(&second).contains("jobcd/job/life/migrate"));

    // Prune: the Job leaves git and the cluster.
    repo.commit(&[("migrate.yaml", None)]);
    let out = repo.sync(&cluster, "life", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    cluster.wait_for("migrate to be pruned", || job_uid("migrate").is_none());

    // A Job the CronJob creates is followed to its end (outcome stream).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use jobcd::target::{Cause, RunEvent, RunResult, Target};
        let target = cluster.target("life").await;
        let mut events = target.events();
        let live = target.live().await.unwrap();
        assert!(live.iter().any(|l| l.id.name == "nightly"));
        let before = target.api_counts().snapshot();
        // Planning again in the same process: no list, no write.
        target.live().await.unwrap();
        target.ledger("default").await.unwrap();
        let after = target.api_counts().snapshot();
        for verb in ["list", "create", "patch", "update", "delete"] {
            assert_eq!(
                before.get(verb),
                after.get(verb),
                "{verb}: {before:?} → {after:?}"
            );
        }
        let made = cluster.kubectl(&[
            "-n",
            "life",
            "create",
            "job",
            "by-hand",
            "--from=cronjob/nightly",
        ]);
        assert!(made.status.success(), "{made:?}");
        let mut started = false;
        let outcome = tokio::time::timeout(PATIENCE, async {
            loop {
                match events.recv().await.unwrap() {
                    RunEvent::Started { job, cause } if job.name == "by-hand" => {
                        assert_eq!(cause, Cause::CronJob);
                        started = true;
                    }
                    RunEvent::Ended(o) if o.name == "by-hand" => return o,
                    _ => {}
                }
            }
        })
        .await
        .expect("the CronJob's Job is followed");
        assert!(started, "its start is told before its end");
        assert_eq!(outcome.result, RunResult::Complete);
        assert_eq!(outcome.cronjob.as_deref(), Some("nightly"));
        let health = target.cronjob_health().await.unwrap();
        let nightly = health
            .iter()
            .find(|h| h.cronjob == "nightly")
            .expect("health");
        assert!(nightly.last_success.is_some() && nightly.last_failure.is_none());
    });

    // The CronJob's run reaches the commit its spec came from.
    let out = repo.sync(&cluster, "life", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let notes = repo.notes(&second);
    assert!(
        notes.contains("jobcd/cronjob/life/nightly") && notes.contains("Complete: 1 succeeded"),
        "{notes}"
    );
}

#[test]
fn the_examples_sync_to_a_cluster_and_a_second_sync_writes_nothing() {
    let cluster = Cluster::start();
    let repo = Repo::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(format!("{}/.", examples.display()))
        .arg(repo.path().join("jobs"))
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let sha = repo.commit(&[]);
    let out = repo.sync(&cluster, "default", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("6 created") && all.contains("3 Job run(s), 0 failed"),
        "{all}"
    );
    for job in ["pi", "render-thumbnails", "migrate-001-add-orders-index"] {
        let live = cluster.json(&["get", "job", job]);
        let complete = live["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Complete" && c["status"] == "True");
        assert!(complete, "{job} is Complete on the cluster: {live}");
    }
    let notes = repo.notes(&sha);
    assert!(
        notes.contains("jobcd/sync") && notes.contains("success"),
        "{notes}"
    );
    let again = repo.sync(&cluster, "default", &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!(writes(&again), 0, "{}", text(&again));
}

#[test]
fn refusals_and_failures_are_reported_and_apply_nothing() {
    let cluster = Cluster::start();
    create_namespace(&cluster, "team");
    create_namespace(&cluster, "elsewhere");

    // A Job of the same name that jobcd does not manage: a conflict.
    let foreign = job("team", "foreign", "echo theirs", "");
    let path = cluster.dir.path().join("foreign.yaml");
    std::fs::write(&path, &foreign).unwrap();
    assert!(
        cluster
            .kubectl(&["apply", "-f", path.to_str().unwrap()])
            .status
            .success()
    );
    let repo = Repo::new();
    repo.commit(&[(
        "foreign.yaml",
        Some(&job("team", "foreign", "echo ours", "")),
    )]);
    let out = repo.sync(&cluster, "team", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("it exists and jobcd does not manage it"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("nothing was applied"), "{}", text(&out));
    let live = cluster.json(&["-n", "team", "get", "job", "foreign"]);
    assert!(live["metadata"]["labels"]["app.kubernetes.io/managed-by"].is_null());

    // An object outside the managed namespaces: the revision is refused whole.
    let repo = Repo::new();
    repo.commit(&[
        ("a.yaml", Some(&job("team", "fine", "echo fine", ""))),
        ("b.yaml", Some(&job("elsewhere", "stray", "echo stray", ""))),
    ]);
    let out = repo.sync(&cluster, "team", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("jobs/b.yaml:1") && all.contains("--namespace elsewhere"),
        "{all}"
    );
    assert!(
        cluster
            .json(&["-n", "team", "get", "job", "fine"])
            .is_null(),
        "nothing applied"
    );

    // A failing Job: BackoffLimitExceeded, reported as a failure on the commit.
    let repo = Repo::new();
    let sha = repo.commit(&[("bad.yaml", Some(&job("team", "bad", "fail now", "")))]);
    let out = repo.sync(&cluster, "team", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("BackoffLimitExceeded"),
        "{}",
        text(&out)
    );
    let notes = repo.notes(&sha);
    assert!(
        notes.contains("failure") && notes.contains("BackoffLimitExceeded"),
        "{notes}"
    );

    // A service account that may only read: the refusal names RBAC.
    for args in [
        vec!["-n", "team", "create", "serviceaccount", "reader"],
        vec![
            "-n",
            "team",
            "create",
            "role",
            "reader",
            "--verb=get,list,watch",
            "--resource=jobs.batch,cronjobs.batch,configmaps",
        ],
        vec![
            "-n",
            "team",
            "create",
            "rolebinding",
            "reader",
            "--role=reader",
            "--serviceaccount=team:reader",
        ],
    ] {
        let out = cluster.kubectl(&args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    let token = cluster.kubectl(&["-n", "team", "create", "token", "reader"]);
    assert!(token.status.success(), "{token:?}");
    let admin = cluster.json(&["config", "view", "--raw"]);
    let reader_config = cluster.dir.path().join("reader.kubeconfig");
    std::fs::write(
        &reader_config,
        serde_json::json!({
            "apiVersion": "v1", "kind": "Config", "current-context": "reader",
            "clusters": [{"name": "test", "cluster": admin["clusters"][0]["cluster"]}],
            "users": [{"name": "reader", "user": {"token": String::from_utf8_lossy(&token.stdout).trim()}}],
            "contexts": [{"name": "reader", "context": {"cluster": "test", "user": "reader", "namespace": "team"}}],
        })
        .to_string(),
    )
    .unwrap();
    let repo = Repo::new();
    repo.commit(&[("r.yaml", Some(&job("team", "readonly", "echo hi", "")))]);
    let out = repo.sync(
        &cluster,
        "team",
        &[
            "--kubeconfig",
            reader_config.to_str().unwrap(),
            "--report",
            "none",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("grant it with RBAC"), "{}", text(&out));
    assert!(
        cluster
            .json(&["-n", "team", "get", "job", "readonly"])
            .is_null()
    );

    // Another field manager owns the schedule: jobcd does not force it.
    let repo = Repo::new();
    repo.commit(&[("c.yaml", Some(&cronjob("team", "shared", "0 1 * * *")))]);
    assert_eq!(repo.sync(&cluster, "team", &[]).status.code(), Some(0));
    let theirs = "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: shared, namespace: team}\nspec:\n  schedule: '5 5 * * *'\n";
    let path = cluster.dir.path().join("theirs.yaml");
    std::fs::write(&path, theirs).unwrap();
    let took = cluster.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=ops-team",
        "--force-conflicts",
        "-f",
        path.to_str().unwrap(),
    ]);
    assert!(took.status.success(), "{took:?}");
    repo.commit(&[("c.yaml", Some(&cronjob("team", "shared", "0 2 * * *")))]);
    let out = repo.sync(&cluster, "team", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("another field manager"),
        "{}",
        text(&out)
    );
    let schedule =
        cluster.json(&["-n", "team", "get", "cronjob", "shared"])["spec"]["schedule"].clone();
    assert_eq!(schedule, "5 5 * * *", "not overwritten");
    // Correcting drift, git wins: the schedule is jobcd's again.
    let out = repo.sync(&cluster, "team", &["--correct-drift"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let schedule =
        || cluster.json(&["-n", "team", "get", "cronjob", "shared"])["spec"]["schedule"].clone();
    assert_eq!(schedule(), "0 2 * * *");

    // Changed by hand (`kubectl patch` takes the field over): shown by diff
    // with both values, left by a plain sync, put back when correcting,
    // and then nothing to write.
    let patched = cluster.kubectl(&[
        "-n",
        "team",
        "patch",
        "cronjob",
        "shared",
        "--type=merge",
        "-p",
        r#"{"spec":{"schedule":"7 7 * * *"}}"#,
    ]);
    assert!(patched.status.success(), "{patched:?}");
    let mut diff = repo.sync_command(&cluster, "team");
    let diff = diff.arg("--dry-run").output().unwrap();
    let shown = text(&diff);
    assert!(
        shown.contains("drifted")
            && shown
                .contains("spec.schedule is \"7 7 * * *\" on the cluster, \"0 2 * * *\" in git"),
        "{shown}"
    );
    // As `kubectl diff`, drift is a difference: exit 1.
    let diff = repo.command("diff", &cluster, "team").output().unwrap();
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    assert!(text(&diff).contains("drifted"), "{}", text(&diff));
    // What correcting it would change: the schedule, and nothing the
    // cluster merely spells differently (type, namespace, stamped labels).
    let diff = repo
        .command("diff", &cluster, "team")
        .arg("--correct-drift")
        .output()
        .unwrap();
    assert_eq!(diff.status.code(), Some(1), "{}", text(&diff));
    let changed: Vec<String> = String::from_utf8_lossy(&diff.stdout)
        .lines()
        .map(str::trim_start)
        .filter(|l| {
            (l.starts_with('-') || l.starts_with('+'))
                && !l.starts_with("---")
                && !l.starts_with("+++")
        })
        .map(str::to_owned)
        .collect();
    assert_eq!(
        changed,
        [r#"-  schedule: "7 7 * * *""#, r#"+  schedule: "0 2 * * *""#],
        "{}",
        text(&diff)
    );
    let left = repo.sync(&cluster, "team", &[]);
    assert_eq!(left.status.code(), Some(0), "{}", text(&left));
    assert_eq!(writes(&left), 0, "{}", text(&left));
    assert_eq!(schedule(), "7 7 * * *");
    let put_back = repo.sync(&cluster, "team", &["--correct-drift"]);
    assert_eq!(put_back.status.code(), Some(0), "{}", text(&put_back));
    assert!(text(&put_back).contains("revert"), "{}", text(&put_back));
    assert_eq!(schedule(), "0 2 * * *");
    let after = repo.sync(&cluster, "team", &["--correct-drift"]);
    assert_eq!(writes(&after), 0, "{}", text(&after));
    assert!(!text(&after).contains("drifted"), "{}", text(&after));

    // A namespace nobody created: the first operation fails, the rest are
    // not attempted, and the summary says so rather than what was planned.
    let nowhere = Repo::new();
    nowhere.commit(&[
        ("a.yaml", Some(&cronjob("nowhere", "a", "0 1 * * *"))),
        ("b.yaml", Some(&cronjob("nowhere", "b", "0 2 * * *"))),
    ]);
    let out = nowhere.sync(&cluster, "nowhere", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let all = text(&out);
    assert!(all.contains("does the namespace exist?"), "{all}");
    assert!(
        all.contains("stopped at CronJob nowhere/a after 0 of 2 change(s); planned 2 created"),
        "{all}"
    );
}

#[test]
fn a_sync_killed_while_waiting_leaves_its_run_to_the_next_sync() {
    let cluster = Cluster::start();
    create_namespace(&cluster, "again");
    let repo = Repo::new();
    let sha = repo.commit(&[("w.yaml", Some(&job("again", "waited", "hold on", "")))]);
    cluster.hold.store(true, Ordering::SeqCst);
    let mut first = repo
        .sync_command(&cluster, "again")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    cluster.wait_for("the held pod", || {
        cluster.json(&["-n", "again", "get", "pods"])["items"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    });
    first.kill().unwrap();
    first.wait().unwrap();
    // The next sync has nothing to apply, follows the run, and reports it.
    let mut second = repo.sync_command(&cluster, "again");
    let second = std::thread::spawn(move || second.output().unwrap());
    std::thread::sleep(std::time::Duration::from_secs(3));
    cluster.hold.store(false, Ordering::SeqCst);
    let out = second.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("0 created") && all.contains("Job again/waited: Complete"),
        "{all}"
    );
    assert!(
        repo.notes(&sha).contains("Complete: 1 succeeded"),
        "{}",
        repo.notes(&sha)
    );
}

#[test]
fn an_unreachable_api_server_is_named_with_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let repo = Repo::new();
    repo.commit(&[("a.yaml", Some(&job("default", "a", "echo", "")))]);
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", repo.dir.path())
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args(["sync", "--target", "kube", "--kubeconfig"])
        .arg(&config)
        .args(["--repo"])
        .arg(repo.path())
        .args(["--path", "jobs"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("cannot reach the API server at https://127.0.0.1:9")
            && all.contains("--kubeconfig"),
        "{all}"
    );
}

#[test]
fn a_sync_survives_the_api_server_restarting_under_it() {
    let cluster = Cluster::start();
    create_namespace(&cluster, "restart");
    let repo = Repo::new();
    repo.commit(&[(
        "slow.yaml",
        Some(&job("restart", "slow", "hold then finish", "")),
    )]);
    cluster.hold.store(true, Ordering::SeqCst);
    let child = repo
        .sync_command(&cluster, "restart")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The Job is created and its pod waits; now the API server goes away.
    cluster.wait_for("the held pod", || {
        cluster.json(&["-n", "restart", "get", "pods"])["items"]
            .as_array()
            .is_some_and(|p| !p.is_empty())
    });
    cluster.control("restart-apiserver");
    cluster.control("restart-controller-manager");
    cluster.hold.store(false, Ordering::SeqCst);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Job restart/slow: Complete"),
        "{}",
        text(&out)
    );
}

#[test]
fn config_maps_are_applied_before_their_jobs_updated_in_place_and_pruned() {
    let cluster = Cluster::start();
    create_namespace(&cluster, "conf");
    let repo = Repo::new();
    let settings = |mode: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: conf}}\ndata:\n  MODE: {mode}\n"
        )
    };
    let reader = job("conf", "reader", "echo $MODE", "").replace(
        "command: [sh, -c, 'echo $MODE']}]",
        "command: [sh, -c, 'echo $MODE'], envFrom: [{configMapRef: {name: settings}}]}]",
    );
    assert!(reader.contains("envFrom"), "{reader}");
    repo.commit(&[
        ("settings.yaml", Some(&settings("prod"))),
        ("reader.yaml", Some(&reader)),
    ]);
    let out = repo.sync(&cluster, "conf", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    // The ConfigMap is created before the Job that reads it.
    let (map, job) = (
        all.find("ConfigMap conf/settings: create").expect(&all),
        all.find("Job conf/reader: create").expect(&all),
    );
    assert!(map < job, "{all}");
    let live = cluster.json(&["-n", "conf", "get", "configmap", "settings"]);
    assert_eq!(live["data"]["MODE"], "prod", "{live}");
    assert_eq!(
        live["metadata"]["labels"]["app.kubernetes.io/managed-by"], "jobcd",
        "{live}"
    );
    assert_eq!(
        live["metadata"]["annotations"]["jobcd.dev/path"],
        "jobs/settings.yaml"
    );
    let uid = live["metadata"]["uid"].clone();

    // Unchanged: nothing written. Changed: updated in place (same object),
    // and the Job, whose spec is the same, does not run again.
    let again = repo.sync(&cluster, "conf", &[]);
    assert_eq!(writes(&again), 0, "{}", text(&again));
    repo.commit(&[("settings.yaml", Some(&settings("staging")))]);
    let out = repo.sync(&cluster, "conf", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("ConfigMap conf/settings: update") && text(&out).contains("0 re-run"),
        "{}",
        text(&out)
    );
    let live = cluster.json(&["-n", "conf", "get", "configmap", "settings"]);
    assert_eq!(
        (
            live["data"]["MODE"].clone(),
            live["metadata"]["uid"].clone()
        ),
        ("staging".into(), uid)
    );

    // A ConfigMap of the same name jobcd does not manage is left alone.
    let out = cluster.kubectl(&[
        "-n",
        "conf",
        "create",
        "configmap",
        "theirs",
        "--from-literal=A=1",
    ]);
    assert!(out.status.success(), "{out:?}");
    repo.commit(&[(
        "theirs.yaml",
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: theirs, namespace: conf}\ndata: {A: '2'}\n"),
    )]);
    let out = repo.sync(&cluster, "conf", &[]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("theirs"), "{}", text(&out));
    let theirs = cluster.json(&["-n", "conf", "get", "configmap", "theirs"]);
    assert_eq!(theirs["data"]["A"], "1", "{theirs}");

    // Removed from the repository: pruned, after the Job that read it.
    repo.commit(&[
        ("theirs.yaml", None),
        ("settings.yaml", None),
        ("reader.yaml", None),
        ("README.md", Some("nothing here now\n")),
    ]);
    let out = repo.sync(&cluster, "conf", &["--allow-empty"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let all = text(&out);
    let (job, map) = (
        all.find("Job conf/reader: prune").expect(&all),
        all.find("ConfigMap conf/settings: prune").expect(&all),
    );
    assert!(job < map, "{all}");
    let gone = cluster.kubectl(&["-n", "conf", "get", "configmap", "settings"]);
    assert!(!gone.status.success(), "{gone:?}");
    assert!(
        cluster
            .kubectl(&["-n", "conf", "get", "configmap", "theirs"])
            .status
            .success()
    );
}
