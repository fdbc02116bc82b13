//! Fleet scale, after flux-benchmark: `jobcd serve` (release build) syncing
//! N sources of K CronJobs each, served by `git daemon` on loopback, every
//! source one bare repository, polled every 30 minutes so that only the
//! start counts; then a steady-state round where every source is pushed to
//! (a signed webhook) with nothing new. See benches/support/fleet.rs for
//! what is measured.
//!
//! `cargo bench --bench fleet`. Settings (environment):
//! - `JOBCD_FLEET_SOURCES` (1000), `JOBCD_FLEET_CRONJOBS` (10): the size;
//!   a list (`100,1000,5000`) for a curve;
//! - `JOBCD_FLEET_CONCURRENCY` (4): sources reconciled at once, a list too;
//! - `JOBCD_FLEET_CONFIG`: more top-level configuration (YAML), e.g.
//!   `health: {interval: 0s}` to see what the health watch costs;
//! - `JOBCD_BENCH_TARGET=kube`: against the test control plane
//!   (scripts/kube-cluster) instead of the local executor. The API server
//!   runs on the same cores; jobcd's CPU seconds are reported apart.

#[path = "support/fleet.rs"]
mod fleet;
#[path = "../tests/support/git_servers.rs"]
mod git_servers;
#[allow(dead_code)]
#[path = "../tests/support/http.rs"]
mod http;
#[allow(dead_code)]
#[path = "../tests/support/kube_cluster.rs"]
mod kube_cluster;
#[path = "../tests/support/scripts.rs"]
mod scripts;
#[allow(dead_code)]
#[path = "../tests/support/served.rs"]
mod served;

/// A list of numbers from `var`, or `default`.
fn list(var: &str, default: usize) -> Vec<usize> {
    std::env::var(var)
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or(vec![default])
}

fn main() {
    let kube = std::env::var("JOBCD_BENCH_TARGET").as_deref() == Ok("kube");
    let cronjobs = list("JOBCD_FLEET_CRONJOBS", 10)[0];
    for sources in list("JOBCD_FLEET_SOURCES", 1000) {
        let made = std::time::Instant::now();
        let fleet = fleet::Fleet::create(sources, cronjobs);
        eprintln!(
            "fleet of {sources} × {cronjobs} made in {:.1} s",
            made.elapsed().as_secs_f64()
        );
        for concurrency in list("JOBCD_FLEET_CONCURRENCY", 4) {
            let cluster = kube.then(|| {
                let cluster = kube_cluster::Cluster::start();
                let out = cluster.kubectl(&["create", "namespace", "fleet"]);
                assert!(out.status.success(), "{out:?}");
                cluster
            });
            let target = match &cluster {
                Some(c) => format!(
                    "{{kind: kube, kubeconfig: {}, namespaces: [fleet], ledgerNamespace: fleet}}",
                    c.kubeconfig.display()
                ),
                None => "{kind: local}".to_string(),
            };
            let root = tempfile::tempdir().unwrap();
            let report = fleet::measure(&fleet, root.path(), &target, concurrency);
            println!(
                "{} target, {} × {}, concurrency {concurrency}: {report}",
                if kube { "kube" } else { "local" },
                fleet.sources,
                fleet.cronjobs
            );
        }
    }
}
