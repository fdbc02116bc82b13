//! Reporting the runs a target starts on its own: each run of a managed
//! CronJob (on schedule, or on demand) becomes `jobcd/cronjob/<ns>/<name>`
//! on the commit the CronJob's spec came from — pending while it runs, its
//! end once it ends. The same for every target and every command that
//! lets CronJobs run: `serve`, `local serve`, `local run-now`, `sync`.

use tokio::sync::broadcast::error::RecvError;

use super::record;
use super::statuses::Statuses;
use crate::manifest::{Kind, ObjectRef};
use crate::target::{Outcome, RunEvent, Target};

/// A CronJob run that was reported.
#[derive(Debug, Clone, Copy)]
pub struct Reported<'a> {
    /// The source whose commit it was reported on.
    pub source: &'a str,
    /// That commit.
    pub revision: &'a str,
    /// The run's start or end.
    pub event: &'a RunEvent,
}

/// What the reporter tells its caller besides reporting.
pub trait Sink {
    /// A run was reported.
    fn reported(&mut self, run: Reported<'_>);
    /// The reporter missed `n` events, or could not read the target.
    fn trouble(&mut self, what: &str);
    /// Whether this reporter reports the runs of `source`'s CronJobs
    /// (with sharded replicas, each reports its own shards' runs).
    fn concerns(&self, source: &str) -> bool {
        let _ = source;
        true
    }
}

/// Reports every CronJob run of `target` until its event stream closes:
/// first the latest finished run of each CronJob (what this process missed
/// while it was not running; the outbox drops a status already reported),
/// then each run as it starts and ends.
pub async fn follow<T: Target + Sync>(
    target: &T,
    statuses: &Statuses,
    sink: &mut (dyn Sink + Send),
) {
    let mut events = target.events();
    catch_up(target, statuses, sink).await;
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                sink.trouble(&format!("{missed} run event(s) missed"));
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        report(target, statuses, &event, sink).await;
    }
}

/// Reports the latest finished run of each CronJob the target knows of.
pub async fn catch_up<T: Target + Sync>(
    target: &T,
    statuses: &Statuses,
    sink: &mut (dyn Sink + Send),
) {
    match target.latest_runs().await {
        Ok(latest) => {
            for outcome in latest {
                report(target, statuses, &RunEvent::Ended(outcome), sink).await;
            }
        }
        Err(e) => sink.trouble(&format!("reading the CronJobs' latest runs: {e}")),
    }
}

/// Reports one run event, if its Job belongs to a CronJob a source manages.
pub async fn report<T: Target + Sync>(
    target: &T,
    statuses: &Statuses,
    event: &RunEvent,
    sink: &mut (dyn Sink + Send),
) {
    if matches!(event, RunEvent::Pod { .. }) {
        return;
    }
    let job = event.job();
    let Some(cronjob) = job.owner_cronjob.as_deref() else {
        return;
    };
    let id = ObjectRef {
        kind: Kind::CronJob,
        namespace: job.namespace.clone(),
        name: cronjob.to_string(),
    };
    let spec = match target.live_object(&id).await {
        Ok(spec) => spec,
        Err(e) => {
            sink.trouble(&format!("reporting a run of {id}: {e}"));
            return;
        }
    };
    let Some(spec) = spec else { return };
    let (Some(source), Some(revision)) = (spec.source.as_deref(), spec.revision.as_deref()) else {
        return;
    };
    // Objects applied by hand have no commit to report on.
    if source == crate::ownership::BY_HAND || !sink.concerns(source) {
        return;
    }
    let status = match event {
        RunEvent::Started { job, .. } => {
            record::run_started(revision, &job.namespace, &job.name, Some(cronjob))
        }
        RunEvent::Ended(outcome) => record::run_ended(revision, outcome),
        RunEvent::Pod { .. } => return,
    };
    statuses.record(source, status).await;
    sink.reported(Reported {
        source,
        revision,
        event,
    });
}

/// Describes a run's end for people: "Job ns/name: Failed (reason); 0
/// succeeded, 3 failed".
pub fn describe(o: &Outcome) -> String {
    let reason = o
        .reason
        .as_deref()
        .map_or(String::new(), |r| format!(" ({r})"));
    format!(
        "Job {}/{}: {}{reason}; {} succeeded, {} failed",
        o.namespace, o.name, o.result, o.succeeded, o.failed
    )
}
