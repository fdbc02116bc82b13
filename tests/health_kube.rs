//! CronJob health on a real control plane (scripts/kube-cluster: etcd,
//! kube-apiserver, kube-controller-manager 1.33; the test plays kubelet):
//! the real CronJob controller makes a Job each minute; a run held past
//! its next slot is seen overrunning, the slot Forbid skips is seen
//! missed once its deadline passes, and the run's end is seen when the
//! held pod is let go — all through the target's own watches.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use jobcd::health::observe::{Observe, Observed};
use jobcd::health::{Health, Outcome, Policy};
use jobcd::target::kube::KubeTarget;
use support::jobs_repo::JobsRepo;
use support::kube_cluster::Cluster;

const HELD: &str = "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: held\n  namespace: health\n  annotations: {jobcd.dev/max-age: 90s}\nspec:\n  schedule: '* * * * *'\n  timeZone: Etc/UTC\n  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 10\n  jobTemplate:\n    spec:\n      backoffLimit: 0\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: main, image: busybox, command: [sh, -c, 'hold']}]\n";

/// Looks at `target` every second until `done` accepts the health of
/// `held`; returns both.
async fn look_until(
    target: &KubeTarget,
    what: &str,
    done: impl Fn(&Observed, &Health) -> bool,
) -> (Observed, Health) {
    let deadline = Instant::now() + Duration::from_secs(200);
    loop {
        let now = Timestamp::now();
        let seen = target.observe(now).await.unwrap();
        assert!(seen.unjudged.is_empty(), "{:?}", seen.unjudged);
        if let Some(held) = seen.cronjobs.into_iter().find(|c| c.name == "held") {
            let health = held.judge(now, &Policy::default());
            if done(&held, &health) {
                return (held, health);
            }
            assert!(Instant::now() < deadline, "{what}: {health:#?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[test]
fn the_clusters_cronjob_runs_are_judged_slot_by_slot() {
    let cluster = Cluster::start();
    let out = cluster.kubectl(&["create", "namespace", "health"]);
    assert!(out.status.success(), "{out:?}");
    cluster.hold.store(true, Ordering::SeqCst);
    let repo = JobsRepo::new();
    let sha = repo.commit(&[("held.yaml", Some(HELD))]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", repo.dir.path())
        .env("KUBECONFIG", &cluster.kubeconfig)
        .arg("--state-dir")
        .arg(repo.dir.path().join("state"))
        .args([
            "sync",
            "--target",
            "kube",
            "--namespace",
            "health",
            "--repo",
        ])
        .arg(repo.path())
        .args(["--path", "jobs"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let target = cluster.target("health").await;

        // The controller's first Job, held: running, matched to its slot.
        let (held, first) = look_until(&target, "a first run", |_, h| h.active == 1).await;
        assert_eq!(held.source, "default");
        assert_eq!(held.revision, sha);
        assert_eq!(held.zone.name(), "Etc/UTC");
        assert_eq!(held.starting_deadline, Some(Duration::from_secs(10)));
        assert_eq!(held.max_age, Some(Duration::from_secs(90)));
        let slot = held.runs[0].scheduled;
        assert_eq!(slot.as_second() % 60, 0, "a minute's slot: {slot}");
        assert!(first.slots.iter().any(|s| s.at == slot));

        // The next slot comes while it runs: Forbid skips it, which is an
        // overrun now and a miss once its 10 s have passed.
        let (_, later) = look_until(&target, "the skipped slot missed", |_, h| {
            h.missed().count() == 1
        })
        .await;
        let next = later.missed().next().unwrap();
        assert_eq!(next.as_second() - slot.as_second(), 60);
        assert_eq!(later.overruns.len(), 1);
        assert_eq!(later.overruns[0].scheduled, slot);
        assert_eq!(later.overruns[0].next, next);

        // Let go, the pod succeeds and the run ends: no overrun, a success.
        cluster.hold.store(false, Ordering::SeqCst);
        let (held, done) = look_until(&target, "the run's end", |_, h| {
            h.last_success.is_some() && h.active == 0
        })
        .await;
        assert!(done.overruns.is_empty());
        assert!(done.stale.is_none());
        let ended = held.runs.iter().find(|r| r.scheduled == slot).unwrap();
        assert_eq!(ended.outcome, Outcome::Succeeded);
        assert!(done.last_duration.is_some());
    });
}
