//! `jobcd local …`: the local executor from the command line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::mpsc;

use super::EXIT_INVALID;
use super::repo::RepoArgs;
use crate::manifest::{self, Kind, Typed};
use crate::schedule::{Schedule, Zone};
use crate::target::local::clock::SystemClock;
use crate::target::local::executor::{Executor, JobOutcome};
use crate::target::local::job_controller::{ConditionType, Status};
use crate::target::local::job_runner::Progress;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Load manifests into the executor: record CronJobs and run every Job that has not run with this spec.
    Apply(Box<ApplyArgs>),
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

#[derive(Debug, clap::Args)]
pub(crate) struct ApplyArgs {
    /// Directory holding the manifests; or use --repo.
    #[arg(conflicts_with = "repo")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    repo: RepoArgs,
    /// Name of this source in the run-once ledger.
    #[arg(long, default_value = "default", env = "JOBCD_SOURCE")]
    source: String,
}

pub(crate) fn run(command: Command, state_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let executor = Executor::open(&state_dir, Arc::new(SystemClock))
        .context("opening the local executor's state")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match command {
        Command::Apply(args) => runtime.block_on(apply(&executor, *args, state_dir)),
        Command::Status => status(&executor),
        Command::Runs { name } => runs(&executor, name.as_deref()),
        Command::Logs { pod } => logs(&executor, &pod),
        Command::RunNow { cronjob, namespace } => runtime.block_on(async {
            let (tx, rx) = mpsc::unbounded_channel();
            let printer =
                tokio::spawn(print_progress(format!("CronJob {namespace}/{cronjob}"), rx));
            let result = executor.run_now(&namespace, &cronjob, Some(tx)).await;
            let _ = printer.await;
            let (name, status) = result?;
            println!("Job {namespace}/{name}: {}", verdict(&status));
            Ok(exit_for(&status))
        }),
    }
}

async fn apply(
    executor: &Executor,
    args: ApplyArgs,
    state_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
    };
    let loaded = args.repo.load(args.dir.as_deref(), state_dir)?;
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
    let mut jobs = tokio::task::JoinSet::new();
    for object in desired.objects() {
        match &object.typed {
            Typed::CronJob(_) => {
                executor.apply_cronjob(object, &args.source, &revision)?;
                println!(
                    "{}: recorded (runs under `jobcd serve`, or now with `jobcd local run-now {}`)",
                    object.id, object.id.name
                );
            }
            Typed::Job(job) => {
                let (executor, object, job, source, revision) = (
                    executor.clone(),
                    object.clone(),
                    job.clone(),
                    args.source.clone(),
                    revision.clone(),
                );
                jobs.spawn(async move {
                    let (tx, rx) = mpsc::unbounded_channel();
                    let printer = tokio::spawn(print_progress(object.id.to_string(), rx));
                    let outcome = executor
                        .apply_job(&object, &job, &source, &revision, Some(tx))
                        .await;
                    let _ = printer.await;
                    (object.id.to_string(), outcome)
                });
            }
        }
    }
    let mut failed = false;
    while let Some(joined) = jobs.join_next().await {
        let (id, outcome) = joined?;
        match outcome {
            Ok(JobOutcome::Ran(status)) => {
                failed |= status.condition(ConditionType::Failed).is_some();
                println!("{id}: {}", verdict(&status));
            }
            Ok(JobOutcome::AlreadyRan { outcome }) => println!(
                "{id}: already ran with this spec ({outcome}); change the spec (e.g. the jobcd.dev/run annotation) to run it again"
            ),
            Err(e) => {
                failed = true;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
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
    for kind in [ConditionType::Complete, ConditionType::Failed] {
        if let Some(c) = status.condition(kind) {
            return format!(
                "{kind:?} ({}: {}); {} succeeded, {} failed",
                c.reason, c.message, status.succeeded, status.failed
            );
        }
    }
    format!(
        "running; {} succeeded, {} failed",
        status.succeeded, status.failed
    )
}

fn exit_for(status: &Status) -> ExitCode {
    if status.condition(ConditionType::Complete).is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    }
}

fn status(executor: &Executor) -> anyhow::Result<ExitCode> {
    let objects = executor.objects()?;
    if objects.is_empty() {
        println!("nothing applied yet; try `jobcd local apply examples/`");
        return Ok(ExitCode::SUCCESS);
    }
    let runs = executor.runs(None)?;
    let now = Timestamp::now();
    for o in &objects {
        let last = runs.iter().rev().find(|r| {
            r.job.name == o.name || r.job.owner_cronjob.as_deref() == Some(o.name.as_str())
        });
        let last = last.map_or("never run".to_string(), |r| {
            format!(
                "last run {} at {}: {}",
                r.job.name,
                r.job.created_at,
                verdict(&r.job.status)
            )
        });
        let next = match o.kind {
            Kind::CronJob => next_fire(&o.manifest, now),
            Kind::Job => String::new(),
        };
        println!(
            "{:?} {}/{} (from {} @ {}){next}\n  {last}",
            o.kind,
            o.namespace,
            o.name,
            o.path,
            short(&o.revision)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// "; next: … (zone)" for a recorded CronJob. The local executor evaluates
/// a CronJob without timeZone in this machine's zone.
fn next_fire(manifest: &str, now: Timestamp) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(manifest) else {
        return String::new();
    };
    let schedule = value["spec"]["schedule"].as_str().unwrap_or_default();
    let zone = match value["spec"]["timeZone"].as_str() {
        Some(name) => Zone::named(name).ok(),
        None => Some(Zone::system()),
    };
    match (Schedule::parse(schedule), zone) {
        (Ok(s), Some(zone)) => match s.next_after(now, &zone) {
            Some(next) => format!(
                "; {schedule:?} next at {} ({})",
                next.to_zoned(zone.time_zone().clone())
                    .strftime("%Y-%m-%d %H:%M %Z"),
                zone.name()
            ),
            None => format!("; {schedule:?} never fires"),
        },
        _ => String::new(),
    }
}

/// A commit sha shortened; anything else (`working-tree`) as it is.
fn short(revision: &str) -> &str {
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        &revision[..7]
    } else {
        revision
    }
}

fn runs(executor: &Executor, name: Option<&str>) -> anyhow::Result<ExitCode> {
    let runs = executor.runs(name)?;
    if runs.is_empty() {
        println!("no runs yet");
    }
    for r in runs {
        let deleted = r
            .job
            .deleted_at
            .map_or(String::new(), |t| format!(" (deleted {t})"));
        println!(
            "{}/{} uid {} created {}{deleted}: {}",
            r.job.namespace,
            r.job.name,
            &r.job.uid[..8],
            r.job.created_at,
            verdict(&r.job.status)
        );
        for p in &r.pods {
            let exits: Vec<String> = p.exits.iter().map(|(c, e)| format!("{c}={e:?}")).collect();
            let reason = p
                .reason
                .as_deref()
                .map_or(String::new(), |r| format!(" [{r}]"));
            println!(
                "  pod {} {:?}{reason} restarts {} exits [{}] {} -> {}",
                p.name,
                p.phase,
                p.restarts,
                exits.join(", "),
                p.started_at.map_or("-".into(), |t| t.to_string()),
                p.finished_at.map_or("-".into(), |t| t.to_string())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn logs(executor: &Executor, pod: &str) -> anyhow::Result<ExitCode> {
    let Some(files) = executor.logs(pod)? else {
        anyhow::bail!("no pod named {pod}; `jobcd local runs` lists them");
    };
    let many = files.len() > 1;
    for file in files {
        if many {
            println!(
                "==> {} <==",
                file.file_stem().unwrap_or_default().to_string_lossy()
            );
        }
        print!(
            "{}",
            String::from_utf8_lossy(
                &std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?
            )
        );
    }
    Ok(ExitCode::SUCCESS)
}
