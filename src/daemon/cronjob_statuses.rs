//! Reporting CronJob runs: those the local executor starts on its own (on
//! schedule under `jobcd local serve`, or with `run-now`), and on a cluster
//! the latest run the CronJob controller finished, are reported as
//! `jobcd/cronjob/<ns>/<name>` on the commit the CronJob's spec came from,
//! to the repository its source last synced from.

use jiff::Timestamp;
use tokio::sync::broadcast::error::RecvError;

use crate::db::Error;
use crate::manifest::Kind;
use crate::report::Reporter;
use crate::report::forge::{self, Forge};
use crate::report::notes::GitNotes;
use crate::report::outbox::Outbox;
use crate::report::record;
use crate::target::Outcome;
use crate::target::local::executor::{self, BY_HAND, Executor, Notice};

/// Reports CronJob runs as they start and end, until the executor's notice
/// stream closes. Problems are printed to stderr and never stop anything.
pub async fn follow(executor: Executor, outbox: Outbox) {
    let executor = &executor;
    let mut notices = executor.notices();
    loop {
        let notice = match notices.recv().await {
            Ok(notice) => notice,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let (job, outcome) = match &notice {
            Notice::Started { job } => (job, None),
            Notice::Ended { job, result } => (job, Some(executor::outcome(job, result))),
            _ => continue,
        };
        let Some(cronjob) = job.owner_cronjob.as_deref() else {
            continue;
        };
        if let Err(e) = report_run(
            executor,
            &outbox,
            &job.namespace,
            &job.name,
            cronjob,
            outcome.as_ref(),
        ) {
            eprintln!(
                "warning: reporting CronJob {}/{cronjob}: {e}",
                job.namespace
            );
        }
    }
}

/// Reports one start (`outcome` None) or end of a run of `cronjob`.
pub fn report_run(
    executor: &Executor,
    outbox: &Outbox,
    namespace: &str,
    job: &str,
    cronjob: &str,
    outcome: Option<&Outcome>,
) -> Result<(), Error> {
    let Some(object) = executor
        .objects()?
        .into_iter()
        .find(|o| o.kind == Kind::CronJob && o.namespace == namespace && o.name == cronjob)
    else {
        return Ok(());
    };
    if object.source == BY_HAND {
        return Ok(());
    }
    let Some(report) = outbox.source(&object.source)? else {
        return Ok(());
    };
    let status = match outcome {
        Some(outcome) => record::run_ended(&object.revision, outcome),
        None => record::run_started(&object.revision, namespace, job, Some(cronjob)),
    };
    let now = Timestamp::now();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(GitNotes::new(report.notes_repo))];
    if let Some(config) = &report.forge {
        match forge::token(None) {
            Ok(token) => reporters.push(Box::new(Forge::from_config(config, token))),
            Err(e) => eprintln!(
                "warning: CronJob {namespace}/{cronjob} reports to {} {}: {e}",
                config.api, config.project
            ),
        }
    }
    for reporter in &reporters {
        outbox.enqueue(reporter.name(), &status, now)?;
    }
    let reporters: Vec<&dyn Reporter> = reporters.iter().map(AsRef::as_ref).collect();
    let delivery = outbox.deliver_due(&reporters, now)?;
    for failure in delivery.failed {
        eprintln!("warning: status not delivered yet: {failure}");
    }
    Ok(())
}

/// On a cluster, the CronJob controller starts the runs: each managed
/// CronJob's health comes from the Jobs it created. Its latest finished run
/// is reported as `jobcd/cronjob/<ns>/<name>` on the commit the CronJob's
/// spec came from (the outbox drops a status already reported). Returns how
/// many CronJobs were reported.
pub fn report_health(
    recorder: &crate::report::record::Recorder,
    source: &str,
    live: &[crate::target::Live],
    health: &[crate::target::kube::CronJobHealth],
) -> Result<usize, Error> {
    let mut reported = 0;
    for h in health {
        let spec = live.iter().find(|l| {
            l.id.kind == Kind::CronJob
                && l.id.namespace == h.namespace
                && l.id.name == h.cronjob
                && l.source.as_deref() == Some(source)
        });
        let Some(revision) = spec.and_then(|l| l.revision.as_deref()) else {
            continue;
        };
        recorder.record(&record::run_ended(revision, &h.latest), Timestamp::now())?;
        reported += 1;
    }
    Ok(reported)
}

/// On a cluster, under `jobcd serve`: reports each run a managed CronJob's
/// Job ends, as it ends, on the commit the CronJob came from, through the
/// recorder of the CronJob's source (and counts it in the metrics), until
/// the target's outcomes end or the future is dropped. The CronJob
/// controller starts these runs; `target`'s outcomes name the CronJob.
pub async fn follow_cluster<T: crate::target::Target + Sync>(
    target: &T,
    recorders: &[(String, std::sync::Arc<crate::report::record::Recorder>)],
    metrics: &super::metrics::Metrics,
) {
    let mut outcomes = target.outcomes();
    loop {
        let outcome = match outcomes.recv().await {
            Ok(outcome) => outcome,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!("{missed} run outcome(s) missed");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        let Some(cronjob) = outcome.cronjob.as_deref() else {
            continue;
        };
        metrics.run_ended(&outcome.result);
        let id = crate::manifest::ObjectRef {
            kind: Kind::CronJob,
            namespace: outcome.namespace.clone(),
            name: cronjob.to_string(),
        };
        let spec = match target.live_object(&id).await {
            Ok(spec) => spec,
            Err(e) => {
                tracing::warn!("reporting a run of {id}: {e}");
                continue;
            }
        };
        let (Some(source), Some(revision)) = (
            spec.as_ref().and_then(|l| l.source.as_deref()),
            spec.as_ref().and_then(|l| l.revision.as_deref()),
        ) else {
            continue;
        };
        tracing::info!(
            source,
            cronjob = %format_args!("{}/{cronjob}", outcome.namespace),
            "Job {}/{} of CronJob {cronjob}: {}",
            outcome.namespace,
            outcome.name,
            outcome.result
        );
        let Some((_, recorder)) = recorders.iter().find(|(name, _)| name == source) else {
            continue;
        };
        if let Err(e) = recorder.record(&record::run_ended(revision, &outcome), Timestamp::now()) {
            tracing::error!(
                "recording a run of CronJob {}/{cronjob}: {e}",
                outcome.namespace
            );
            continue;
        }
        super::sync::deliver(recorder, &mut |event| {
            if let super::sync::Event::Undelivered(e) = event {
                tracing::warn!("status not delivered yet: {e}");
            }
        });
    }
}
