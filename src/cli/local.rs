//! `jobcd local …`: the local executor from the command line.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::{broadcast, mpsc};

use super::repo::RepoArgs;
use super::{EXIT_ERROR, EXIT_INVALID};
use crate::daemon::cronjob_statuses;
use crate::manifest::{self, Kind, ObjectRef, Typed};
use crate::plan::spec_hash;
use crate::report::outbox::Outbox;
use crate::target::Desired;
use crate::target::local::clock::SystemClock;
use crate::target::local::cron_controller;
use crate::target::local::executor::{self, Applied, BY_HAND, Executor, JobRef, Notice, RunResult};
use crate::target::local::job_controller::{ConditionType, Status};
use crate::target::local::job_runner::{Ended, Progress, REASON_LOST};

mod inspect;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Apply manifests by hand, like kubectl apply: record CronJobs and run every Job that has not run with this spec (syncs leave these objects alone).
    Apply(Box<ApplyArgs>),
    /// Run the executor in the foreground: CronJobs fire on schedule, finished Jobs expire (Ctrl-C stops).
    Serve,
    /// What the executor holds: objects, their last run, and when CronJobs fire next.
    Status,
    /// Job runs and their pods, oldest first.
    Runs {
        /// Only the runs of this Job or CronJob.
        name: Option<String>,
    },
    /// Print a pod's logs.
    Logs {
        /// Pod name, as `jobcd local runs` shows it.
        pod: String,
        /// Keep printing output as the pod writes it, until it ends.
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Delete an object, like kubectl delete: a Job's run is stopped, a CronJob's Jobs go with it (the run-once ledger remembers what ran).
    Delete {
        /// `job` or `cronjob`.
        #[arg(value_enum)]
        kind: KindArg,
        /// Its name.
        name: String,
        /// Its namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
    },
    /// Run a CronJob's Job now, like `kubectl create job --from=cronjob/NAME`.
    RunNow {
        /// The CronJob.
        cronjob: String,
        /// Its namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
    },
}

/// A kind on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KindArg {
    /// A Job.
    Job,
    /// A CronJob.
    Cronjob,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Directory holding the manifests; or use --repo.
    #[arg(conflicts_with = "repo")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    repo: RepoArgs,
}

pub(crate) fn run(command: Command, state_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let open = || {
        Executor::open(&state_dir, Arc::new(SystemClock))
            .context("opening the local executor's state")
    };
    match command {
        Command::Apply(args) => runtime.block_on(apply(*args, &state_dir)),
        Command::Serve => runtime.block_on(serve(&state_dir)),
        Command::RunNow { cronjob, namespace } => {
            runtime.block_on(run_now(&state_dir, &namespace, &cronjob))
        }
        Command::Delete {
            kind,
            name,
            namespace,
        } => runtime.block_on(delete(&state_dir, kind, &name, &namespace)),
        Command::Status => inspect::status(&open()?),
        Command::Runs { name } => inspect::runs(&open()?, name.as_deref()),
        Command::Logs { pod, follow } => runtime.block_on(inspect::logs(&open()?, &pod, follow)),
    }
}

/// Starts the executor to run Jobs, saying what it recovered.
pub(super) async fn start(state_dir: &Path) -> anyhow::Result<Executor> {
    let (executor, recovery) = Executor::start(state_dir, Arc::new(SystemClock))
        .await
        .context("starting the local executor")?;
    for (pod, groups) in &recovery.lost_pods {
        println!(
            "recovered: pod {pod} was running when jobcd last stopped; {groups} process group(s) stopped, pod recorded as failed ({REASON_LOST})"
        );
    }
    for group in &recovery.unstoppable {
        eprintln!(
            "warning: process group {group} of a lost pod survived SIGKILL (uninterruptible, or not ours); not waiting for it"
        );
    }
    for job in &recovery.resume {
        println!(
            "recovered: Job {}/{} resumes; its lost pods count as failed attempts",
            job.namespace, job.name
        );
    }
    Ok(executor)
}

/// Runs `work`; on SIGINT or SIGTERM stops every run instead (their Jobs
/// resume at the next start) and returns the error exit code.
pub(super) async fn interruptible(
    executor: &Executor,
    work: impl Future<Output = anyhow::Result<ExitCode>>,
) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = work => result,
        () = terminated() => {
            eprintln!("interrupted: stopping runs; their Jobs resume at the next start");
            executor.shutdown().await;
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(super) async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

async fn apply(args: ApplyArgs, state_dir: &Path) -> anyhow::Result<ExitCode> {
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
    };
    let loaded = args
        .repo
        .load(args.dir.as_deref(), state_dir.to_path_buf())?;
    let revision = loaded
        .revision
        .map_or_else(|| "working-tree".to_string(), |r| r.sha);
    let (label, tree) = (loaded.label, loaded.tree);
    let validation = manifest::load_tree(&tree, &label, &options);
    for d in &validation.diagnostics {
        eprintln!("{d}");
    }
    let desired = match validation.into_desired() {
        Ok(desired) => desired,
        Err(_) => {
            eprintln!("{label}: invalid; nothing was applied");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let executor = start(state_dir).await?;
    let work = async {
        let mut waiting = tokio::task::JoinSet::new();
        let mut failed = false;
        for object in desired.objects() {
            let desired = Desired {
                object: object.clone(),
                source: BY_HAND.into(),
                revision: revision.clone(),
                spec_hash: spec_hash(object),
            };
            match &object.typed {
                Typed::CronJob(_) => {
                    executor.apply_cronjob(&desired)?;
                    println!(
                        "{}: recorded (fires under `jobcd local serve`, or now with `jobcd local run-now {}`)",
                        object.id, object.id.name
                    );
                }
                Typed::Job(_) => {
                    let id = object.id.to_string();
                    let (tx, rx) = mpsc::unbounded_channel();
                    let printer = tokio::spawn(print_progress(id.clone(), rx));
                    let applied = executor.apply_job(&desired, Some(tx)).await;
                    match applied {
                        Ok(Applied::Started(run)) => {
                            waiting.spawn(async move {
                                let result = run.finished().await;
                                let _ = printer.await;
                                (id, result)
                            });
                        }
                        Ok(Applied::InFlight(run)) => {
                            println!(
                                "{id}: already running with this spec (resumed); waiting for it"
                            );
                            waiting.spawn(async move { (id, run.finished().await) });
                        }
                        Ok(Applied::AlreadyRan { outcome }) => println!(
                            "{id}: already ran with this spec ({outcome}); change the spec (e.g. the jobcd.dev/run annotation) to run it again"
                        ),
                        Err(e) => {
                            failed = true;
                            eprintln!("error: {e}");
                        }
                    }
                }
            }
        }
        while let Some(joined) = waiting.join_next().await {
            let (id, result) = joined?;
            failed |= !report_end(&id, &result);
        }
        executor.wait_idle().await;
        Ok(if failed {
            ExitCode::from(EXIT_INVALID)
        } else {
            ExitCode::SUCCESS
        })
    };
    interruptible(&executor, work).await
}

/// Prints how a run ended; true when it completed.
fn report_end(id: &str, result: &RunResult) -> bool {
    match result {
        Ok(Ended::Finished(status)) => {
            println!("{id}: {}", verdict(status));
            status.condition(ConditionType::Complete).is_some()
        }
        Ok(Ended::Deleted) => {
            println!("{id}: deleted before it finished");
            false
        }
        Ok(Ended::Interrupted) => {
            println!("{id}: interrupted; it resumes at the next start");
            false
        }
        Err(e) => {
            eprintln!("error: {id}: {e}");
            false
        }
    }
}

async fn delete(
    state_dir: &Path,
    kind: KindArg,
    name: &str,
    namespace: &str,
) -> anyhow::Result<ExitCode> {
    let executor = start(state_dir).await?;
    let id = ObjectRef {
        kind: match kind {
            KindArg::Job => Kind::Job,
            KindArg::Cronjob => Kind::CronJob,
        },
        namespace: namespace.into(),
        name: name.into(),
    };
    let known = executor
        .objects()?
        .iter()
        .any(|o| o.kind == id.kind && o.namespace == id.namespace && o.name == id.name);
    if !known {
        anyhow::bail!("no {id} has been applied; `jobcd local status` lists what has");
    }
    executor.delete(&id).await?;
    executor.wait_idle().await;
    println!("{id}: deleted");
    Ok(ExitCode::SUCCESS)
}

async fn run_now(state_dir: &Path, namespace: &str, cronjob: &str) -> anyhow::Result<ExitCode> {
    let executor = start(state_dir).await?;
    let work = async {
        let (tx, rx) = mpsc::unbounded_channel();
        let printer = tokio::spawn(print_progress(format!("CronJob {namespace}/{cronjob}"), rx));
        let run = executor.run_now(namespace, cronjob, Some(tx)).await?;
        let job = JobRef {
            uid: run.uid.clone(),
            namespace: namespace.into(),
            name: run.name.clone(),
            owner_cronjob: Some(cronjob.into()),
        };
        let statuses = Outbox::open(state_dir).context("opening the status outbox")?;
        let note = |outcome: Option<&crate::target::Outcome>| {
            if let Err(e) = cronjob_statuses::report_run(
                &executor, &statuses, namespace, &job.name, cronjob, outcome,
            ) {
                eprintln!("warning: reporting CronJob {namespace}/{cronjob}: {e}");
            }
        };
        note(None);
        let result = run.finished().await;
        let _ = printer.await;
        note(Some(&executor::outcome(&job, &result)));
        let ok = report_end(&format!("Job {namespace}/{}", job.name), &result);
        executor.wait_idle().await;
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_INVALID)
        })
    };
    interruptible(&executor, work).await
}

async fn serve(state_dir: &Path) -> anyhow::Result<ExitCode> {
    let executor = start(state_dir).await?;
    let statuses = Outbox::open(state_dir).context("opening the status outbox")?;
    let reporter = tokio::spawn(cronjob_statuses::follow(executor.clone(), statuses));
    let mut notices = executor.notices();
    let printer = tokio::spawn(async move {
        loop {
            match notices.recv().await {
                Ok(notice) => print_notice(&notice),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    println!("({n} notices skipped: output too slow)");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    println!(
        "serving {}: CronJobs fire on schedule; Ctrl-C stops",
        state_dir.display()
    );
    let result = executor
        .serve(async {
            terminated().await;
            println!("stopping: runs in flight are stopped and resume at the next start");
        })
        .await;
    printer.abort();
    reporter.abort();
    result?;
    Ok(ExitCode::SUCCESS)
}

fn print_notice(notice: &Notice) {
    let now = Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(Timestamp::now());
    let job_id = |j: &JobRef| format!("Job {}/{}", j.namespace, j.name);
    match notice {
        Notice::Started { job } => println!("{now} {}: started", job_id(job)),
        Notice::Ended { job, result } => {
            report_end(&format!("{now} {}", job_id(job)), result);
        }
        Notice::Removed { job, why } => println!("{now} {}: removed ({why})", job_id(job)),
        Notice::Cron {
            namespace,
            name,
            event,
        } => println!("{now} CronJob {namespace}/{name}: {}", describe(event)),
    }
}

/// A CronJob event as the controller's event message says it.
fn describe(event: &cron_controller::Event) -> String {
    use cron_controller::Event;
    match event {
        Event::TooManyMissedTimes(n) => format!(
            "TooManyMissedTimes: {n} start times missed (more than 100); starting the most recent one"
        ),
        Event::MissSchedule(at) => {
            format!("MissSchedule: missed the run at {at} (past startingDeadlineSeconds)")
        }
        Event::JobAlreadyActive(at) => {
            format!(
                "JobAlreadyActive: not starting the run at {at}, the previous run is active (Forbid)"
            )
        }
        Event::InvalidSchedule => {
            "InvalidSchedule: the schedule or time zone cannot be evaluated".into()
        }
    }
}

async fn print_progress(id: String, mut rx: mpsc::UnboundedReceiver<Progress>) {
    while let Some(p) = rx.recv().await {
        match p {
            Progress::PodCreated {
                pod,
                index: Some(i),
            } => println!("{id}: pod {pod} started (index {i})"),
            Progress::PodCreated { pod, index: None } => println!("{id}: pod {pod} started"),
            Progress::PodEnded {
                pod,
                phase: Some(phase),
            } => println!("{id}: pod {pod} {phase:?}"),
            Progress::PodEnded { pod, phase: None } => println!("{id}: pod {pod} stopped"),
        }
    }
}

fn verdict(status: &Status) -> String {
    if let Some(c) = status.terminal() {
        return format!(
            "{:?} ({}: {}); {} succeeded, {} failed",
            c.kind,
            c.reason,
            c.message.trim_end_matches('.'),
            status.succeeded,
            status.failed
        );
    }
    format!(
        "running; {} succeeded, {} failed",
        status.succeeded, status.failed
    )
}
