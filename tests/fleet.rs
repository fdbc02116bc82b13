//! The fleet harness of `cargo bench --bench fleet` works: 100 sources of
//! 10 CronJobs each, served by git daemon, all synced by `jobcd serve` on
//! the local target, then all pushed to again with nothing new. Figures
//! are printed, never asserted (performance is measured by the bench).

#[path = "../benches/support/fleet.rs"]
mod fleet;
mod support;

use support::{git_servers, http, served};

#[test]
fn a_hundred_sources_converge_and_a_steady_round_applies_nothing() {
    let fleet = fleet::Fleet::create(100, 10);
    let root = tempfile::tempdir().unwrap();
    let report = fleet::measure(&fleet, root.path(), "{kind: local}", 4);
    println!("{report}");
    assert!(report.fetches >= 100, "every source fetched: {report}");
    assert!(report.peak_mib > 0.0 && report.idle_mib > 0.0, "{report}");
    assert!(report.converge_cpu > 0.0, "{report}");
    let created = report.applied.get("create").copied();
    assert_eq!(created, Some(1000), "every CronJob created: {report}");
    assert_eq!(report.applied.len(), 1, "and nothing else: {report}");
    assert!(
        report.steady_applied.is_empty(),
        "nothing applied when nothing changed: {report}"
    );
    assert_eq!(report.steady_fetches, 100, "one fetch per source: {report}");
    // Applied once: the executor holds the 1,000 CronJobs, each once.
    let objects = std::process::Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .arg("--state-dir")
        .arg(root.path().join("state"))
        .args(["local", "status"])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&objects.stdout);
    let applied = status.matches("CronJob fleet/").count();
    assert_eq!(applied, fleet.sources * fleet.cronjobs, "{status}");
}
