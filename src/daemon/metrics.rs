//! The service's metrics, in Prometheus' text format (`GET /metrics`):
//! how long reconciles take and how they end per source, objects applied
//! by operation, Job runs by outcome, each source's last successful sync,
//! Kubernetes API requests by verb, the status outbox's backlog, and
//! each managed CronJob's health ([`cronjobs`]).

pub mod cronjobs;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::reconcile::Verdict;
use crate::target::kube::ApiCounts;
use crate::target::{RunResult, Verb};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    source: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CheckLabels {
    source: String,
    check: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

/// Every metric of the service.
pub struct Metrics {
    registry: Registry,
    duration: Family<SourceLabel, Histogram>,
    results: Family<ResultLabels, Counter>,
    applied: Family<OperationLabel, Counter>,
    runs: Family<OutcomeLabel, Counter>,
    last_success: Family<SourceLabel, Gauge<f64, AtomicU64>>,
    signature_refusals: Family<CheckLabels, Counter>,
    backlog: Gauge,
    cronjobs: cronjobs::CronJobs,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics; `api` counts the Kubernetes target's requests, if any.
    pub fn new(api: Option<ApiCounts>) -> Metrics {
        let mut registry = Registry::with_prefix("jobcd");
        let duration = Family::<SourceLabel, Histogram>::new_with_constructor(|| {
            // 50 ms to ~14 min.
            Histogram::new(exponential_buckets(0.05, 2.0, 15))
        });
        let results = Family::default();
        let applied = Family::default();
        let runs = Family::default();
        let last_success = Family::default();
        let signature_refusals = Family::default();
        let backlog = Gauge::default();
        registry.register_with_unit(
            "reconcile_duration",
            "How long one reconcile of a source took (fetch, plan, apply, follow runs)",
            prometheus_client::registry::Unit::Seconds,
            duration.clone(),
        );
        registry.register(
            "reconcile_results",
            "Reconciles by source and result (synced, invalid, refused, failed, error, interrupted)",
            results.clone(),
        );
        registry.register(
            "objects_applied",
            "Objects applied by operation (create, update, recreate, prune)",
            applied.clone(),
        );
        registry.register(
            "job_runs",
            "Job runs followed to their end, by outcome",
            runs.clone(),
        );
        registry.register(
            "last_successful_sync_timestamp_seconds",
            "When each source last synced successfully (Unix seconds)",
            last_success.clone(),
        );
        registry.register(
            "signature_refusals",
            "Revisions refused for their signatures, by source and failed check (unsigned, not_a_tag, bad_signature, untrusted_key, expired_key, revoked_key, unsupported)",
            signature_refusals.clone(),
        );
        registry.register(
            "status_backlog",
            "Commit statuses waiting to be delivered",
            backlog.clone(),
        );
        if let Some(api) = api {
            registry.register_collector(Box::new(ApiRequests(api)));
        }
        let cronjobs = cronjobs::CronJobs::register(&mut registry);
        Metrics {
            cronjobs,
            registry,
            duration,
            results,
            applied,
            runs,
            last_success,
            signature_refusals,
            backlog,
        }
    }

    /// A revision of `source` was refused for its signatures.
    pub fn signature_refused(&self, source: &str, check: crate::source::verify::Check) {
        self.signature_refusals
            .get_or_create(&CheckLabels {
                source: source.into(),
                check: check.as_str().into(),
            })
            .inc();
    }

    /// A reconcile of `source` ended with `result` after `seconds`.
    pub fn reconciled(&self, source: &str, result: Verdict, seconds: f64, at_unix: f64) {
        let label = SourceLabel {
            source: source.into(),
        };
        self.duration.get_or_create(&label).observe(seconds);
        self.results
            .get_or_create(&ResultLabels {
                source: source.into(),
                result: result.as_str().into(),
            })
            .inc();
        if result == Verdict::Synced {
            self.last_success.get_or_create(&label).set(at_unix);
        }
    }

    /// An operation was applied.
    pub fn applied(&self, operation: Verb) {
        self.applied
            .get_or_create(&OperationLabel {
                operation: operation.as_str().into(),
            })
            .inc();
    }

    /// A Job run ended.
    pub fn run_ended(&self, outcome: RunResult) {
        self.runs
            .get_or_create(&OutcomeLabel {
                outcome: outcome.label().into(),
            })
            .inc();
    }

    /// The CronJob metrics.
    pub fn cronjobs(&self) -> &cronjobs::CronJobs {
        &self.cronjobs
    }

    /// Statuses waiting in the outbox.
    pub fn set_backlog(&self, waiting: i64) {
        self.backlog.set(waiting);
    }

    /// The exposition, in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        match prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry) {
            Ok(()) => out,
            Err(_) => String::new(),
        }
    }
}

/// Kubernetes API requests by verb, read from the client's counts at each
/// scrape.
#[derive(Debug)]
struct ApiRequests(ApiCounts);

impl Collector for ApiRequests {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(
            "api_requests",
            "Kubernetes API requests by verb",
            None,
            MetricType::Counter,
        )?;
        for (verb, n) in self.0.snapshot() {
            let counter = ConstCounter::new(n);
            counter.encode(metric.encode_family(&[("verb", verb)])?)?;
        }
        Ok(())
    }
}

/// Shared between the loop and the HTTP side.
pub type Shared = Arc<Metrics>;
