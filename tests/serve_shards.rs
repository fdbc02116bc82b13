//! Three `jobcd serve` replicas sharding six sources against a real
//! control plane: each shard Lease is held by one replica, every source is
//! reconciled by exactly the replica holding its shard, a push reaching
//! another replica is relayed to it, and when a replica is killed its
//! shard moves to a survivor once the Lease expires.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use jobcd::daemon::shards::shard_of;
use nix::sys::signal::Signal;
use support::http::{hmac_hex, request};
use support::jobs_repo::JobsRepo;
use support::kube_cluster::{Cluster, PATIENCE};
use support::served::Served;

const NAMESPACE: &str = "shards";
const OWN: &str = "jobcd-system";
const SECRET: &str = "shards-secret";
const SHARDS: u32 = 3;
const SOURCES: usize = 6;
const LEASE: Duration = Duration::from_secs(3);

fn cronjob(name: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}, namespace: {NAMESPACE}}}\nspec:\n  schedule: '0 3 * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo tick']}}]\n"
    )
}

fn source(i: usize) -> String {
    format!("s{i}")
}

fn config(dir: &Path, cluster: &Cluster, repo: &Path) -> std::path::PathBuf {
    let path = dir.join("jobcd.yaml");
    let mut text = format!(
        "listen: 127.0.0.1:0\ntarget:\n  kind: kube\n  kubeconfig: {}\n  namespaces: [{NAMESPACE}]\n  ledgerNamespace: {OWN}\nleaderElection:\n  leaseName: jobcd\n  leaseDuration: {}s\n  shards: {SHARDS}\nhealth: {{interval: 0s}}\nsources:\n",
        cluster.kubeconfig.display(),
        LEASE.as_secs()
    );
    for i in 0..SOURCES {
        text += &format!(
            "  - {{name: {}, repo: {}, ref: main, path: jobs/{}, interval: 1s, webhookSecretEnv: HOOK_SECRET}}\n",
            source(i),
            repo.display(),
            source(i)
        );
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// Who holds each shard Lease (empty: nobody).
fn holders(cluster: &Cluster) -> BTreeMap<u32, String> {
    let leases = cluster.json(&[
        "-n",
        OWN,
        "get",
        "leases",
        "-l",
        "jobcd.dev/shards-of=jobcd",
    ]);
    leases["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let name = l["metadata"]["name"].as_str().unwrap();
            let index = name.trim_start_matches("jobcd-shard-").parse().unwrap();
            let holder = l["spec"]["holderIdentity"].as_str().unwrap_or_default();
            (index, holder.to_string())
        })
        .collect()
}

/// Reconciles per source, as a replica's `/metrics` counts them.
fn reconciles(replica: &Served) -> BTreeMap<String, u64> {
    let (code, metrics) = request("GET", &format!("{}/metrics", replica.base), &[], b"");
    assert_eq!(code, 200);
    let mut counts = BTreeMap::new();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("jobcd_reconcile_results_total{") else {
            continue;
        };
        let source = rest
            .split("source=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *counts.entry(source.to_string()).or_default() += count as u64;
    }
    counts
}

/// Which sources reconciled on each replica between two readings.
fn reconciled_between(
    before: &[BTreeMap<String, u64>],
    after: &[BTreeMap<String, u64>],
) -> Vec<BTreeSet<String>> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| {
            a.iter()
                .filter(|(s, n)| b.get(*s).copied().unwrap_or(0) < **n)
                .map(|(s, _)| s.clone())
                .collect()
        })
        .collect()
}

#[test]
fn each_source_is_reconciled_by_the_one_replica_holding_its_shard() {
    let cluster = Cluster::start();
    for ns in [NAMESPACE, OWN] {
        let out = cluster.kubectl(&["create", "namespace", ns]);
        assert!(out.status.success(), "{out:?}");
    }
    let repo = JobsRepo::new();
    let files: Vec<(String, String)> = (0..SOURCES)
        .map(|i| {
            (
                format!("{}/cron.yaml", source(i)),
                cronjob(&format!("cron-{}", source(i))),
            )
        })
        .collect();
    let files: Vec<(&str, Option<&str>)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), Some(t.as_str())))
        .collect();
    repo.commit(&files);
    let config = config(repo.dir.path(), &cluster, &repo.path());
    let names = ["replica-a", "replica-b", "replica-c"];
    let roots: Vec<_> = names.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Served> = names
        .iter()
        .zip(&roots)
        .map(|(name, root)| {
            Served::start(
                root.path(),
                &config,
                &[("POD_NAME", name), ("HOOK_SECRET", SECRET)],
            )
        })
        .collect();

    // The shards spread one per replica (the first to start may take them
    // all, and gives them up as the others join).
    cluster.wait_for("one shard per replica", || {
        let held: BTreeSet<String> = holders(&cluster).into_values().collect();
        held == names.iter().map(|n| n.to_string()).collect()
    });
    cluster.wait_for("every CronJob applied", || {
        cluster.json(&["-n", NAMESPACE, "get", "cronjobs"])["items"]
            .as_array()
            .is_some_and(|items| items.len() == SOURCES)
    });
    for r in &replicas {
        r.wait_ready();
    }

    // Over several polls, each source reconciles on exactly one replica:
    // the one holding its shard.
    let before: Vec<_> = replicas.iter().map(reconciles).collect();
    std::thread::sleep(Duration::from_secs(4));
    let after: Vec<_> = replicas.iter().map(reconciles).collect();
    let holders_now = holders(&cluster);
    let by_replica = reconciled_between(&before, &after);
    for i in 0..SOURCES {
        let name = source(i);
        let on: Vec<&str> = by_replica
            .iter()
            .zip(names)
            .filter(|(sources, _)| sources.contains(&name))
            .map(|(_, replica)| replica)
            .collect();
        let holder = &holders_now[&shard_of(&name, SHARDS)];
        assert_eq!(
            on,
            vec![holder.as_str()],
            "source {name} (shard {}) reconciled on {on:?}",
            shard_of(&name, SHARDS)
        );
    }

    // A push delivered to a replica that does not hold the source's shard
    // reaches the one that does.
    let target = source(0);
    let owner = names
        .iter()
        .position(|n| *n == holders_now[&shard_of(&target, SHARDS)])
        .unwrap();
    let other = (owner + 1) % names.len();
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"x","repository":{{"clone_url":"file://{}","default_branch":"main"}}}}"#,
        repo.path().display()
    )
    .into_bytes();
    let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), &body));
    let (code, text) = request(
        "POST",
        &format!("{}/hooks/github", replicas[other].base),
        &[
            ("X-GitHub-Event", "push".into()),
            ("X-Hub-Signature-256", signature),
        ],
        &body,
    );
    assert_eq!(code, 202, "{text}");
    assert!(
        text.contains("relayed to the replica holding its shard: ") && text.contains(&target),
        "{text}"
    );
    replicas[owner].wait_log("a push relayed by another replica");

    // The holder of the first source's shard dies without a word: its
    // shard moves to a survivor once the Lease is no longer renewed.
    let shard = shard_of(&target, SHARDS);
    let mut replicas = replicas;
    let victim = replicas.remove(owner);
    let victim_name = names[owner];
    victim.signal(Signal::SIGKILL);
    let killed = Instant::now();
    let survivors: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| *n != victim_name)
        .collect();
    let baseline: Vec<_> = replicas.iter().map(reconciles).collect();
    let deadline = Instant::now() + PATIENCE;
    let taker = loop {
        let holder = holders(&cluster)[&shard].clone();
        if survivors.contains(&holder.as_str()) {
            break holder;
        }
        assert!(Instant::now() < deadline, "shard {shard} never moved");
        std::thread::sleep(Duration::from_millis(100));
    };
    let moved = killed.elapsed();
    let at = survivors.iter().position(|n| *n == taker).unwrap();
    let deadline = Instant::now() + PATIENCE;
    while reconciles(&replicas[at]).get(&target).copied().unwrap_or(0)
        <= baseline[at].get(&target).copied().unwrap_or(0)
    {
        assert!(
            Instant::now() < deadline,
            "{taker} never reconciled {target}:\n{}",
            replicas[at].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let reconciled = killed.elapsed();
    eprintln!(
        "shard {shard} moved to {taker} {} ms after its holder's SIGKILL (Lease {} s); {target} reconciled there after {} ms",
        moved.as_millis(),
        LEASE.as_secs(),
        reconciled.as_millis()
    );
    // Not before the Lease could expire; within its duration plus the
    // rounds (a third of it each) that notice and take it.
    assert!(moved >= LEASE / 2, "{moved:?}");
    assert!(moved < 3 * LEASE, "{moved:?}");
    cluster.wait_for("both survivors to hold every shard", || {
        holders(&cluster)
            .values()
            .all(|h| survivors.contains(&h.as_str()))
    });

    // A survivor stopped cleanly gives its shards up at once.
    let mut leaving = replicas.remove(0);
    let leaving_name = survivors[0];
    leaving.signal(Signal::SIGTERM);
    assert!(leaving.wait_exit().success(), "{}", leaving.log());
    assert!(
        holders(&cluster).values().all(|h| h != leaving_name),
        "{:?}",
        holders(&cluster)
    );
    cluster.wait_for("the last replica to hold every shard", || {
        holders(&cluster).values().all(|h| h == survivors[1])
    });
}
