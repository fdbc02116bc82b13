//! The service's metrics exposition, checked by Prometheus' own promtool
//! (`promtool check metrics`: exit 0 clean, 3 lint problems, 1 a parse
//! error; Debian's prometheus package, installed by scripts/test-deps).

mod support;

use jobcd::daemon::metrics::Metrics;
use jobcd::reconcile::Verdict;
use jobcd::target::kube::ApiCounts;
use jobcd::target::{RunResult, Verb};
use support::http::promtool;

#[test]
fn the_exposition_passes_promtool_with_every_metric_present() {
    let metrics = Metrics::new(Some(ApiCounts::default()));
    metrics.reconciled("jobs", Verdict::Synced, 0.42, 1_790_000_000.0);
    metrics.reconciled("jobs", Verdict::Failed, 3.5, 1_790_000_100.0);
    metrics.reconciled("reports", Verdict::Invalid, 0.1, 1_790_000_200.0);
    metrics.applied(Verb::Create);
    metrics.applied(Verb::Recreate);
    metrics.run_ended(RunResult::Complete);
    metrics.run_ended(RunResult::Failed);
    metrics.set_backlog(2);
    let text = metrics.encode();
    for name in [
        "jobcd_reconcile_duration_seconds_bucket",
        "jobcd_reconcile_results_total{source=\"jobs\",result=\"failed\"} 1",
        "jobcd_objects_applied_total{operation=\"recreate\"} 1",
        "jobcd_job_runs_total{outcome=\"complete\"} 1",
        "jobcd_last_successful_sync_timestamp_seconds{source=\"jobs\"} 1790000000",
        "jobcd_status_backlog 2",
        "# TYPE jobcd_api_requests",
    ] {
        assert!(text.contains(name), "{name} in\n{text}");
    }
    let (code, said) = promtool(&text);
    assert_eq!(code, Some(0), "promtool: {said}\n{text}");
}

#[test]
fn promtool_does_reject_a_broken_exposition() {
    // The check can fail: a counter without _total is a lint problem, a
    // missing value a parse error.
    let (code, _) = promtool("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n");
    assert_eq!(code, Some(3));
    let (code, _) = promtool("# TYPE y gauge\ny\n");
    assert_eq!(code, Some(1));
}
