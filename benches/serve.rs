//! `jobcd serve` as a user runs it: the release binary, one source served
//! by git daemon on loopback, 1,000 CronJobs, the local executor.
//!
//! - Resident memory once idle: after the first sync, with nothing to do
//!   (VmRSS and its peak, VmHWM, from /proc). Target: under 40 MB.
//! - Push to applied: a commit that reschedules one CronJob is pushed,
//!   a signed GitHub push webhook is sent, and the clock stops when the log
//!   says the reconcile applied it. Target: under 1 s.
//!
//! `cargo bench --bench serve`; with `JOBCD_BENCH_TARGET=kube`, the same
//! against the test control plane (scripts/kube-cluster, built by
//! scripts/test-deps) instead of the local executor.

#[path = "../tests/support/git_servers.rs"]
mod git_servers;
#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../tests/support/kube_cluster.rs"]
mod kube_cluster;
#[path = "support/procfs.rs"]
mod procfs;
#[path = "../tests/support/scripts.rs"]
mod scripts;
#[allow(dead_code)]
#[path = "../tests/support/served.rs"]
mod served;

use std::time::{Duration, Instant};

use git_servers::{GitDaemon, Repo};
use http::{hmac_hex, request};
use served::Served;

/// CronJobs in the repository (JOBCD_BENCH_CRONJOBS overrides, to see
/// what memory grows with).
fn cronjobs() -> usize {
    std::env::var("JOBCD_BENCH_CRONJOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}
const PUSHES: usize = 15;
const SECRET: &str = "bench-secret";

fn cronjob(i: usize, minute: usize) -> String {
    format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: job-{i:04}, namespace: bench}}\nspec:\n  schedule: '{minute} 3 1 1 *'\n  timeZone: Europe/Berlin\n  jobTemplate:\n    spec:\n      backoffLimit: 2\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: main, image: busybox, command: [sh, -c, 'echo {i}']}}]\n"
    )
}

fn main() {
    let cronjobs = cronjobs();
    let remote = Repo::new();
    let files: Vec<(String, String)> = (0..cronjobs)
        .map(|i| (format!("jobs/job-{i:04}.yaml"), cronjob(i, i % 60)))
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    remote.commit_and_push(&borrowed, "CronJobs");
    let daemon = GitDaemon::start(&remote);
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("jobcd.yaml");
    // On a cluster: its own namespace for the CronJobs and the ledger.
    let cluster = (std::env::var("JOBCD_BENCH_TARGET").as_deref() == Ok("kube")).then(|| {
        let cluster = kube_cluster::Cluster::start();
        let out = cluster.kubectl(&["create", "namespace", "bench"]);
        assert!(out.status.success(), "{out:?}");
        cluster
    });
    let target = match &cluster {
        Some(c) => format!(
            "{{kind: kube, kubeconfig: {}, namespaces: [bench], ledgerNamespace: bench}}",
            c.kubeconfig.display()
        ),
        None => "{kind: local}".to_string(),
    };
    println!("target: {target}");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {target}\nreporters: {{notes: false}}\nsources:\n  - name: bench\n    repo: {}\n    ref: main\n    path: jobs\n    interval: 0s\n    webhookSecretEnv: HOOK_SECRET\n",
            daemon.url()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let served = Served::start(root.path(), &config, &[("HOOK_SECRET", SECRET)]);
    served.wait_ready();
    println!(
        "first sync of {cronjobs} CronJobs (clone, validate, apply): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(5));
    let memory = procfs::memory(served.child.id());
    println!(
        "idle: {memory}, peak so far {:.1} MiB; target under 40 MB",
        memory.peak
    );

    let hook = format!("{}/hooks/github", served.base);
    let body = format!(
        r#"{{"ref":"refs/heads/main","after":"x","repository":{{"clone_url":"{}","default_branch":"main"}}}}"#,
        daemon.url()
    )
    .into_bytes();
    let signature = format!("sha256={}", hmac_hex(SECRET.as_bytes(), &body));
    let mut samples = Vec::new();
    for round in 1..=PUSHES {
        let i = round * 37 % cronjobs;
        let path = format!("jobs/job-{i:04}.yaml");
        remote.commit_and_push(&[(&path, &cronjob(i, (i + round) % 60 + 1))], "reschedule");
        let applied = format!("{round} updated");
        let before = served.log().matches("1 updated").count();
        let sent = Instant::now();
        let (code, _) = request(
            "POST",
            &hook,
            &[
                ("X-GitHub-Event", "push".into()),
                ("X-Hub-Signature-256", signature.clone()),
            ],
            &body,
        );
        assert_eq!(code, 202);
        while served.log().matches("1 updated").count() == before {
            assert!(
                sent.elapsed() < Duration::from_secs(60),
                "{applied}: not applied:\n{}",
                served.log()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        samples.push(sent.elapsed());
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "push to applied over the webhook ({PUSHES} pushes, 1 of {cronjobs} CronJobs rescheduled each): median {:.0} ms, min {:.0} ms, max {:.0} ms; target under 1 s",
        ms(samples[samples.len() / 2]),
        ms(samples[0]),
        ms(samples[samples.len() - 1])
    );
    std::thread::sleep(Duration::from_secs(5));
    let memory = procfs::memory(served.child.id());
    println!(
        "idle after the pushes: {memory}, peak {:.1} MiB",
        memory.peak
    );
}
