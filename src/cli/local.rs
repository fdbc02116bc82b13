//! `jobcd local …`: the local executor from the command line.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::broadcast;

use super::exit::Outcome;
use super::repo::RepoArgs;
use super::{Verbosity, object_arg};
use crate::daemon::service::terminated;
use crate::manifest::{self, Kind, ObjectRef};
use crate::plan::{Action, Plan, Policy};
use crate::reconcile::{self, Event, Mode, Reconciled, Request};
use crate::report::runs::{self, Reported, Sink};
use crate::report::statuses::Statuses;
use crate::target::local::{
    BY_HAND, CronEvent, Executor, Isolation, JobRef, JobStatus as Status, Notice, Settings,
    SystemClock,
};
use crate::target::{PodChange, RunEvent, RunResult, Target};

mod inspect;
mod secret;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Apply manifests by hand, like kubectl apply: record CronJobs and run every Job that has not run with this spec (syncs leave these objects alone).
    #[command(after_long_help = "Examples:
  jobcd local apply examples/
  jobcd local apply job.yaml
  jobcd local apply --repo . --path examples")]
    Apply(Box<ApplyArgs>),
    /// Run the executor in the foreground: CronJobs fire on schedule, finished Jobs expire (Ctrl-C stops).
    Serve,
    /// What the executor holds: objects, their last run, and when CronJobs fire next.
    Status,
    /// Job runs and their pods, oldest first.
    Runs {
        /// Only the runs of this Job or CronJob: `NAME`, `job/NAME` or `cronjob/NAME`.
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
    /// Delete objects, like kubectl delete: a Job's run is stopped, a CronJob's Jobs go with it (the run-once ledger remembers what ran).
    #[command(after_long_help = "Examples:
  jobcd local delete job/pi
  jobcd local delete cronjob hello -n team
  jobcd local delete cj/hello job/migrate")]
    Delete {
        /// `KIND/NAME`, one or more, or `KIND NAME` (kind: job or cronjob, as kubectl spells them).
        #[arg(required = true, value_name = "KIND/NAME")]
        objects: Vec<String>,
        /// Their namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
    },
    /// Secrets for the local target's pods, kept out of git: create, list, delete (values are never printed).
    #[command(subcommand)]
    Secret(secret::Command),
    /// Run a CronJob's Job now, like `kubectl create job --from=cronjob/NAME`.
    RunNow {
        /// The CronJob: `NAME` or `cronjob/NAME`.
        cronjob: String,
        /// Its namespace.
        #[arg(long, short = 'n', default_value = manifest::DEFAULT_NAMESPACE)]
        namespace: String,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Manifests: directories (searched recursively), files, or `-` for
    /// standard input (default: the current directory); or use --repo.
    #[arg(conflicts_with = "repo", value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    repo: RepoArgs,
}

pub(crate) fn run(
    command: Command,
    state_dir: PathBuf,
    settings: &Settings,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let open = || {
        Executor::open(&state_dir, Arc::new(SystemClock))
            .context("opening the local executor's state")
    };
    match command {
        Command::Apply(args) => runtime.block_on(apply(*args, &state_dir, settings, verbosity)),
        Command::Serve => runtime.block_on(serve(&state_dir, settings, verbosity)),
        Command::RunNow { cronjob, namespace } => {
            let cronjob = object_arg::name_of(&cronjob, Kind::CronJob)?;
            runtime.block_on(run_now(
                &state_dir, settings, &namespace, &cronjob, verbosity,
            ))
        }
        Command::Delete { objects, namespace } => {
            let objects = object_arg::objects(&objects)?
                .into_iter()
                .map(|(kind, name)| ObjectRef {
                    kind,
                    namespace: namespace.clone(),
                    name,
                })
                .collect();
            runtime.block_on(delete(&state_dir, settings, objects, verbosity))
        }
        Command::Status => inspect::status(&open()?, &state_dir, settings),
        Command::Runs { name } => {
            let name = name.as_deref().map(object_arg::any_name).transpose()?;
            inspect::runs(&open()?, name.as_deref())
        }
        Command::Logs { pod, follow } => runtime.block_on(inspect::logs(&open()?, &pod, follow)),
        Command::Secret(command) => secret::run(command, &state_dir),
    }
}

/// Starts the executor to run Jobs, saying on stderr what it recovered.
pub(super) async fn start(state_dir: &Path, settings: &Settings) -> anyhow::Result<Executor> {
    let (executor, recovery) = Executor::start(state_dir, Arc::new(SystemClock), settings)
        .await
        .context("starting the local executor")?;
    for line in recovery.lines() {
        eprintln!("{line}");
    }
    // On an engine, the engine isolates the containers.
    if executor.engine().is_none()
        && let Isolation::Unavailable(_) = executor.isolation()
    {
        eprintln!("warning: {}", executor.isolation().describe());
    }
    Ok(executor)
}

/// Runs `work`; on SIGINT or SIGTERM stops every run instead (their Jobs
/// resume at the next start) and ends as interrupted.
pub(super) async fn interruptible(
    executor: &Executor,
    work: impl Future<Output = anyhow::Result<Outcome>>,
) -> anyhow::Result<Outcome> {
    tokio::select! {
        result = work => result,
        () = terminated() => {
            eprintln!("interrupted: stopping runs; their Jobs resume at the next start");
            executor.shutdown().await;
            Ok(Outcome::Interrupted)
        }
    }
}

/// `jobcd local apply`: the revision reconciled as the by-hand source,
/// through the same step as a sync, but nothing is pruned and nothing
/// reported (like `kubectl apply`).
async fn apply(
    args: ApplyArgs,
    state_dir: &Path,
    settings: &Settings,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
        allow_secrets: args.repo.allow_secrets,
    };
    let loaded = args.repo.load(&args.paths, state_dir.to_path_buf())?;
    let revision = loaded
        .revision
        .map_or_else(|| "working-tree".to_string(), |r| r.sha);
    let (label, tree, rendered) = (loaded.label, loaded.tree, loaded.rendered);
    let validation = manifest::load_tree(&tree, &label, &options);
    for d in &validation.diagnostics {
        eprintln!("{d}");
    }
    if !validation.is_valid() {
        eprintln!("{label}: invalid; nothing was applied");
        return Ok(Outcome::Invalid);
    }
    let executor = start(state_dir, settings).await?;
    let work = async {
        let policy = Policy {
            prune: false,
            ..Policy::default()
        };
        let request = Request {
            source: BY_HAND,
            sha: &revision,
            validation: &validation,
            policy: &policy,
            mode: Mode::Apply,
            rendered: rendered.as_ref(),
        };
        let mut on = |event: Event<'_>| print_by_hand(&event, verbosity);
        let reconciled =
            reconcile::run(&executor, request, None, &mut on, std::future::pending()).await;
        executor.wait_idle().await;
        Ok(match reconciled {
            Reconciled::Unreadable(e) => {
                return Err(anyhow::Error::new(e).context("reading the executor's state"));
            }
            Reconciled::Refused(e) => {
                eprintln!("{label}: {e}; nothing was applied");
                Outcome::Failed
            }
            other => Outcome::Reconciled(other.verdict()),
        })
    };
    interruptible(&executor, work).await
}

/// What `local apply` says as it goes (with `-q`, only problems).
fn print_by_hand(event: &Event<'_>, verbosity: Verbosity) {
    match event {
        Event::Planned(plan) => print_by_hand_plan(plan, verbosity),
        Event::ApplyFailed(why) => {
            eprintln!("error: {why}; the objects after it were not applied");
        }
        Event::Run(RunEvent::Pod { job, pod, change }) if verbosity.reports() => {
            let id = format!("Job {}/{}", job.namespace, job.name);
            print_pod(&id, pod, change);
        }
        Event::Run(RunEvent::Pod { .. }) => {}
        Event::Run(RunEvent::Ended(outcome)) => {
            print_end(
                &format!("Job {}/{}", outcome.namespace, outcome.name),
                outcome,
                verbosity,
            );
        }
        Event::Run(RunEvent::Started { .. }) | Event::Waiting { .. } => {}
    }
}

fn print_by_hand_plan(plan: &Plan<'_>, verbosity: Verbosity) {
    for step in plan.steps() {
        let id = &step.id;
        match (id.kind, step.action) {
            (_, Action::Conflict) => eprintln!("{id}: {}", step.reason),
            _ if !verbosity.reports() => {}
            (Kind::CronJob, Action::Create | Action::Update | Action::Unchanged) => println!(
                "{id}: recorded (fires under `jobcd local serve`, or now with `jobcd local run-now {}`)",
                id.name
            ),
            (Kind::Job, Action::Skip | Action::Unchanged) => match step.ran.as_deref() {
                Some("Running") => {
                    println!("{id}: already running with this spec (resumed); waiting for it");
                }
                Some(outcome) => println!(
                    "{id}: already ran with this spec ({outcome}); change the spec (e.g. the jobcd.dev/run annotation) to run it again"
                ),
                None => println!("{id}: {}", step.reason),
            },
            (Kind::Job, Action::Update) => println!("{id}: {}", step.reason),
            _ => {}
        }
    }
}

fn print_pod(id: &str, pod: &str, change: &PodChange) {
    match change {
        PodChange::Started { index: Some(i) } => println!("{id}: pod {pod} started (index {i})"),
        PodChange::Started { index: None } => println!("{id}: pod {pod} started"),
        PodChange::Succeeded => println!("{id}: pod {pod} Succeeded"),
        PodChange::Failed => println!("{id}: pod {pod} Failed"),
        PodChange::Stopped => println!("{id}: pod {pod} stopped"),
        PodChange::Waiting {
            container,
            reason,
            message,
        } => println!("{id}: pod {pod} container {container} waiting: {reason}: {message}"),
    }
}

/// Prints how a run ended (with `-q`, only when it did not complete, on
/// stderr); true when it completed.
fn print_end(id: &str, o: &crate::target::Outcome, verbosity: Verbosity) -> bool {
    let quiet = !verbosity.reports();
    if quiet && o.result.succeeded() {
        return true;
    }
    let say = |line: String| {
        if quiet {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    match o.result {
        RunResult::Complete | RunResult::Failed => {
            let why = match (&o.reason, &o.message) {
                (Some(r), Some(m)) if !m.is_empty() => {
                    format!(" ({r}: {})", m.trim_end_matches('.'))
                }
                (Some(r), _) => format!(" ({r})"),
                _ => String::new(),
            };
            say(format!(
                "{id}: {}{why}; {} succeeded, {} failed",
                o.result, o.succeeded, o.failed
            ));
        }
        RunResult::Deleted => say(format!("{id}: deleted before it finished")),
        RunResult::Interrupted => say(format!("{id}: interrupted; it resumes at the next start")),
        RunResult::Error => eprintln!(
            "error: {id}: {}",
            o.reason.as_deref().unwrap_or("the run failed")
        ),
    }
    o.result.succeeded()
}

/// Deletes every object named, or none when one of them is unknown.
async fn delete(
    state_dir: &Path,
    settings: &Settings,
    objects: Vec<ObjectRef>,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    let executor = start(state_dir, settings).await?;
    let applied = executor.objects()?;
    let known = |id: &ObjectRef| {
        applied
            .iter()
            .any(|o| o.kind == id.kind && o.namespace == id.namespace && o.name == id.name)
    };
    if let Some(unknown) = objects.iter().find(|id| !known(id)) {
        anyhow::bail!(
            "no {unknown} has been applied (nothing was deleted); `jobcd local status` lists what has"
        );
    }
    for id in &objects {
        executor.delete(id).await?;
        executor.wait_idle().await;
        if verbosity.reports() {
            println!("{id}: deleted");
        }
    }
    Ok(Outcome::Success)
}

async fn run_now(
    state_dir: &Path,
    settings: &Settings,
    namespace: &str,
    cronjob: &str,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    let executor = start(state_dir, settings).await?;
    let (statuses, reporter) = status_reporter(state_dir)?;
    let work = async {
        let mut events = executor.events();
        let run = executor.run_now(namespace, cronjob, None).await?;
        let id = format!("CronJob {namespace}/{cronjob}");
        // The run is reported on the commit its CronJob came from by the
        // same reporter `serve` uses.
        let mut sink = Unreported;
        let ok = loop {
            let event = match events.recv().await {
                Ok(event) if event.job().uid == run.uid => event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => break false,
            };
            runs::report(&executor, &statuses, &event, &mut sink).await;
            match event {
                RunEvent::Pod { pod, change, .. } if verbosity.reports() => {
                    print_pod(&id, &pod, &change);
                }
                RunEvent::Pod { .. } => {}
                RunEvent::Ended(o) => {
                    break print_end(&format!("Job {namespace}/{}", o.name), &o, verbosity);
                }
                RunEvent::Started { .. } => {}
            }
        };
        executor.wait_idle().await;
        Ok(Outcome::from(ok))
    };
    let outcome = interruptible(&executor, work).await?;
    statuses.drain(None).await;
    drop(statuses);
    let _ = reporter.await;
    Ok(outcome)
}

/// The status reporter of the commands that let CronJobs run: each run is
/// reported where its source's last sync said.
fn status_reporter(state_dir: &Path) -> anyhow::Result<(Statuses, tokio::task::JoinHandle<()>)> {
    let warn = |e: &str| eprintln!("warning: status not delivered yet: {e}");
    Statuses::start(state_dir, Vec::new(), Arc::new(warn)).context("starting the status reporter")
}

/// Runs reported by `local` commands are printed from the executor's own
/// notices; only trouble is told here.
struct Unreported;

impl Sink for Unreported {
    fn reported(&mut self, _: Reported<'_>) {}

    fn trouble(&mut self, what: &str) {
        eprintln!("warning: reporting CronJob runs: {what}");
    }
}

async fn serve(
    state_dir: &Path,
    settings: &Settings,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    let executor = start(state_dir, settings).await?;
    let (statuses, reporter) = status_reporter(state_dir)?;
    let mut notices = executor.notices();
    let printer = async {
        loop {
            match notices.recv().await {
                Ok(notice) => print_notice(&notice, verbosity),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    println!("({n} notices skipped: output too slow)");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            }
        }
    };
    let mut sink = Unreported;
    let report = runs::follow(&executor, &statuses, &mut sink);
    println!(
        "serving {}: CronJobs fire on schedule; Ctrl-C stops",
        state_dir.display()
    );
    let served = executor.serve(async {
        terminated().await;
        println!("stopping: runs in flight are stopped and resume at the next start");
    });
    let result = tokio::select! {
        result = served => result,
        () = printer => Ok(()),
        () = report => Ok(()),
    };
    executor.shutdown().await;
    statuses.drain(None).await;
    drop(statuses);
    let _ = reporter.await;
    result?;
    Ok(Outcome::Success)
}

/// One notice of `local serve` (with `-q`, only runs that did not complete).
fn print_notice(notice: &Notice, verbosity: Verbosity) {
    let now = Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or(Timestamp::now());
    if let Notice::Ended { job, result } = notice {
        let outcome = crate::target::local::outcome(job, result);
        let id = format!("{now} Job {}/{}", job.namespace, job.name);
        print_end(&id, &outcome, verbosity);
        return;
    }
    if !verbosity.reports() {
        return;
    }
    let job_id = |j: &JobRef| format!("Job {}/{}", j.namespace, j.name);
    match notice {
        Notice::Started { job } => println!("{now} {}: started", job_id(job)),
        Notice::Ended { .. } => {}
        Notice::Removed { job, why } => println!("{now} {}: removed ({why})", job_id(job)),
        Notice::Cron {
            namespace,
            name,
            event,
        } => println!("{now} CronJob {namespace}/{name}: {}", describe(event)),
    }
}

/// A CronJob event as the controller's event message says it.
fn describe(event: &CronEvent) -> String {
    use CronEvent as Event;
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

/// A Job's status as `local runs` shows it.
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
