//! Per-CronJob metrics (`jobcd_cronjob_…`), labelled by namespace, name
//! and source: the gauges are read at each scrape from the latest look at
//! the CronJobs (a CronJob that is gone leaves no series behind), the
//! counters and the start-delay histogram grow with each notice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::health::Health;
use crate::health::observe::Observed;
use crate::health::track::{Change, Kind, Look, Trouble};

/// The labels of every CronJob series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CronJobLabels {
    namespace: String,
    name: String,
    source: String,
}

impl CronJobLabels {
    fn new(namespace: &str, name: &str, source: &str) -> CronJobLabels {
        CronJobLabels {
            namespace: namespace.into(),
            name: name.into(),
            source: source.into(),
        }
    }
}

/// One CronJob at the latest look.
#[derive(Debug, Clone)]
pub struct Row {
    labels: CronJobLabels,
    next: Option<Timestamp>,
    last_scheduled: Option<Timestamp>,
    last_success: Option<Timestamp>,
    last_failure: Option<Timestamp>,
    last_duration: Option<Duration>,
    active: usize,
    firing: Vec<Kind>,
}

impl Row {
    /// The row of `cronjob`, judged `health`, with the troubles `firing`.
    pub fn new(cronjob: &Observed, health: &Health, firing: Vec<Kind>) -> Row {
        Row {
            labels: CronJobLabels::new(&cronjob.namespace, &cronjob.name, &cronjob.source),
            next: health.next,
            last_scheduled: health.last_scheduled,
            last_success: health.last_success,
            last_failure: health.last_failure,
            last_duration: health.last_duration,
            active: health.active,
            firing,
        }
    }
}

/// The CronJob metrics.
#[derive(Debug, Clone)]
pub struct CronJobs {
    rows: Arc<Mutex<Vec<Row>>>,
    missed: Family<CronJobLabels, Counter>,
    overruns: Family<CronJobLabels, Counter>,
    stale: Family<CronJobLabels, Counter>,
    delay: Family<CronJobLabels, Histogram>,
}

impl CronJobs {
    /// Registers them in `registry`.
    pub fn register(registry: &mut Registry) -> CronJobs {
        let cronjobs = CronJobs {
            rows: Arc::default(),
            missed: Family::default(),
            overruns: Family::default(),
            stale: Family::default(),
            delay: Family::new_with_constructor(|| {
                // 0.5 s to ~68 min.
                Histogram::new(exponential_buckets(0.5, 2.0, 14))
            }),
        };
        registry.register(
            "cronjob_missed_runs",
            "Slots of a CronJob that got no Job before their deadline",
            cronjobs.missed.clone(),
        );
        registry.register(
            "cronjob_overruns",
            "Runs of a CronJob still going when its next slot came",
            cronjobs.overruns.clone(),
        );
        registry.register(
            "cronjob_went_stale",
            "Times a CronJob's last success grew older than its allowance",
            cronjobs.stale.clone(),
        );
        registry.register_with_unit(
            "cronjob_start_delay",
            "From a CronJob's slot to the creation of its Job",
            prometheus_client::registry::Unit::Seconds,
            cronjobs.delay.clone(),
        );
        registry.register_collector(Box::new(Gauges(cronjobs.rows.clone())));
        cronjobs
    }

    /// The latest look: every CronJob's row, and what it brought.
    pub fn looked(&self, rows: Vec<Row>, look: &Look) {
        *self.rows.lock().unwrap_or_else(|p| p.into_inner()) = rows;
        for started in &look.started {
            let labels = CronJobLabels::new(&started.namespace, &started.name, &started.source);
            self.delay
                .get_or_create(&labels)
                .observe(started.delay.as_secs_f64());
        }
        for notice in &look.notices {
            let labels = CronJobLabels::new(&notice.namespace, &notice.name, &notice.source);
            match notice.change {
                Change::Firing(Trouble::Missed { count, .. }) => {
                    self.missed.get_or_create(&labels).inc_by(count as u64);
                }
                Change::Firing(Trouble::Overrunning { .. }) => {
                    self.overruns.get_or_create(&labels).inc();
                }
                Change::Firing(Trouble::Stale(_)) => {
                    self.stale.get_or_create(&labels).inc();
                }
                _ => {}
            }
        }
    }
}

/// The gauges, from the latest rows at each scrape.
#[derive(Debug)]
struct Gauges(Arc<Mutex<Vec<Row>>>);

type Read = fn(&Row) -> Option<f64>;

fn seconds(t: Option<Timestamp>) -> Option<f64> {
    t.map(|t| t.as_millisecond() as f64 / 1000.0)
}

fn flag(row: &Row, kind: Kind) -> Option<f64> {
    Some(if row.firing.contains(&kind) { 1.0 } else { 0.0 })
}

const GAUGES: &[(&str, &str, Read)] = &[
    (
        "cronjob_next_schedule_timestamp_seconds",
        "When a CronJob's next slot comes (Unix seconds)",
        |r| seconds(r.next),
    ),
    (
        "cronjob_last_schedule_timestamp_seconds",
        "A CronJob's latest slot (Unix seconds)",
        |r| seconds(r.last_scheduled),
    ),
    (
        "cronjob_last_success_timestamp_seconds",
        "When a CronJob's last successful run ended (Unix seconds)",
        |r| seconds(r.last_success),
    ),
    (
        "cronjob_last_failure_timestamp_seconds",
        "When a CronJob's last failed run ended (Unix seconds)",
        |r| seconds(r.last_failure),
    ),
    (
        "cronjob_last_run_duration_seconds",
        "How long a CronJob's last finished run took",
        |r| r.last_duration.map(|d| d.as_secs_f64()),
    ),
    ("cronjob_active_runs", "A CronJob's runs still going", |r| {
        Some(r.active as f64)
    }),
    (
        "cronjob_missed",
        "1 while a CronJob's latest slot past its deadline got no Job",
        |r| flag(r, Kind::Missed),
    ),
    (
        "cronjob_overrunning",
        "1 while a run of a CronJob is still going after its next slot came",
        |r| flag(r, Kind::Overrunning),
    ),
    (
        "cronjob_stale",
        "1 while a CronJob's last success is older than its allowance",
        |r| flag(r, Kind::Stale),
    ),
    (
        "cronjob_suspended_too_long",
        "1 while a CronJob has been suspended longer than allowed",
        |r| flag(r, Kind::Suspended),
    ),
    (
        "cronjob_failing",
        "1 while a CronJob's latest finished run failed",
        |r| flag(r, Kind::Failed),
    ),
];

impl Collector for Gauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let rows = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for (name, help, read) in GAUGES {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for row in &rows {
                if let Some(value) = read(row) {
                    ConstGauge::new(value).encode(metric.encode_family(&row.labels)?)?;
                }
            }
        }
        Ok(())
    }
}
