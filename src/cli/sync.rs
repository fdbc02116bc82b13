//! `jobcd diff` and `jobcd sync`: one revision of a source planned against
//! the target, shown, and (for sync) applied, with each Job run followed to
//! its end.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;

use super::repo::RepoArgs;
use super::{EXIT_INVALID, Format, print_json};
use crate::daemon::{self, sync::Event};
use crate::manifest;
use crate::plan::{self, Action, DEFAULT_MAX_PRUNE_SHARE, Plan, Policy};
use crate::reconcile::{self, Prepared, Unprepared};
use crate::report::notes::{GitNotes, NOTES_REF};
use crate::report::outbox::{Outbox, SourceReport};
use crate::report::record::{self, Recorder};
use crate::report::{Reporter, forge};
use crate::target::local::clock::SystemClock;
use crate::target::local::executor::Executor;
use crate::target::{Desired, Ledger, Live, Target};

mod kube;
mod show;

use kube::{KubeArgs, api_requests, cronjob_health};
use show::{print_event, print_plan, print_verdict, report, warn_undelivered};

/// Where to apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum TargetKind {
    /// The local executor on this machine.
    Local,
    /// A Kubernetes cluster (kubeconfig or in-cluster configuration).
    Kube,
}

/// Options shared by `diff` and `sync`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    repo: RepoArgs,
    /// Name of this source: objects are labelled with it, and only its own objects are ever changed or pruned.
    #[arg(long, default_value = "default", env = "JOBCD_SOURCE")]
    source: String,
    /// Where to apply.
    #[arg(long, value_enum, default_value_t = TargetKind::Local)]
    target: TargetKind,
    /// Prune even when the revision has no Job or CronJob at all.
    #[arg(long)]
    allow_empty: bool,
    /// Prune however large a share of the managed objects that deletes.
    #[arg(long)]
    force_prune: bool,
    /// The largest share of managed objects one sync may prune, in percent (a single deletion is always allowed).
    #[arg(long, default_value_t = DEFAULT_MAX_PRUNE_SHARE * 100.0, value_parser = percent)]
    max_prune: f64,
    /// Put objects changed on the cluster back as in git, taking over the fields someone else changed (without it, drift is shown and left).
    #[arg(long)]
    correct_drift: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    output: Format,
    #[command(flatten)]
    kube: KubeArgs,
}

/// `jobcd sync` options.
#[derive(Debug, clap::Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    common: Args,
    /// Show what would be done, apply nothing.
    #[arg(long)]
    dry_run: bool,
    /// Where to report commit statuses: git notes under refs/notes/jobcd in the source repository (its mirror, for a remote); a forge as well (forge: the one the repository URL names); or nowhere.
    #[arg(long, value_enum, default_value_t = ReportTo::Notes)]
    report: ReportTo,
    /// The forge's API root (default: the forge's own for the repository's host, e.g. https://api.github.com, https://HOST/api/v3 for GitHub Enterprise).
    #[arg(long, env = "JOBCD_FORGE_URL")]
    forge_url: Option<String>,
    /// The forge project, OWNER/REPO or a GitLab group path (default: from the repository URL).
    #[arg(long, env = "JOBCD_FORGE_REPO")]
    forge_repo: Option<String>,
    /// After reporting, push the notes (refs/notes/jobcd) to the source's remote.
    #[arg(long)]
    push_notes: bool,
    /// File holding the forge token (or set JOBCD_FORGE_TOKEN).
    #[arg(long, env = "JOBCD_FORGE_TOKEN_FILE")]
    forge_token_file: Option<PathBuf>,
}

/// Where statuses go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ReportTo {
    /// git notes (`git log --notes=jobcd`).
    Notes,
    /// git notes, and the forge the repository URL names.
    Forge,
    /// git notes, and GitHub (or GitHub Enterprise).
    Github,
    /// git notes, and GitLab.
    Gitlab,
    /// git notes, and Gitea or Forgejo.
    Gitea,
    /// Nowhere.
    None,
}

fn percent(text: &str) -> Result<f64, String> {
    match text.trim_end_matches('%').parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("{text:?} is not a percentage from 0 to 100")),
    }
}

/// A revision read and validated.
struct Revision {
    label: String,
    sha: String,
    /// The repository holding the source's git notes.
    notes_repo: PathBuf,
    validation: manifest::Validation,
}

fn read(args: &Args, state_dir: &Path) -> anyhow::Result<Revision> {
    let Some(repo) = &args.repo.repo else {
        anyhow::bail!(
            "--repo is required: a local repository path or a URL (for a plain directory use `jobcd local apply DIR`)"
        );
    };
    let notes_repo = args
        .repo
        .source(repo, state_dir.to_path_buf())?
        .notes_repo();
    let loaded = args.repo.load(None, state_dir.to_path_buf())?;
    let sha = loaded
        .revision
        .map_or_else(|| "working-tree".to_string(), |r| r.sha);
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
    };
    let validation = manifest::load_tree(&loaded.tree, &loaded.label, &options);
    Ok(Revision {
        label: loaded.label,
        sha,
        notes_repo,
        validation,
    })
}

fn policy(args: &Args) -> Policy {
    Policy {
        allow_empty: args.allow_empty,
        max_prune_share: args.max_prune / 100.0,
        force_prune: args.force_prune,
        correct_drift: args.correct_drift,
    }
}

/// `jobcd diff`.
pub(crate) fn run_diff(args: Args, state_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let revision = read(&args, &state_dir)?;
        match args.target {
            TargetKind::Local => {
                let executor = local_reader(&state_dir)?;
                rehearse(&args, &executor, revision, Rehearsal::Diff).await
            }
            TargetKind::Kube => {
                let cluster = args.kube.connect(false).await?;
                rehearse(&args, &cluster, revision, Rehearsal::Diff).await
            }
        }
    })
}

/// The local executor, opened to read (a runner may be serving it).
fn local_reader(state_dir: &Path) -> anyhow::Result<Executor> {
    Executor::open(state_dir, Arc::new(SystemClock)).context("opening the local executor's state")
}

/// What a rehearsal stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rehearsal {
    /// `diff`: changes are the finding (exit 1).
    Diff,
    /// `sync --dry-run`: only what would fail the sync fails it.
    DryRun,
}

/// Plans a revision against the target without touching it, and shows the
/// plan with diffs. Invalid revisions and refusals exit 1; so do conflicts,
/// which fail the real sync, and for `diff`, changes.
async fn rehearse<T: Target>(
    args: &Args,
    target: &T,
    revision: Revision,
    kind: Rehearsal,
) -> anyhow::Result<ExitCode> {
    let Some(inputs) = prepare(args, target, revision).await? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let Some(plan) = make_plan(args, &inputs)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    if args.output == Format::Json {
        print_json(&report(args, &inputs.revision, Some(&plan), None, true))?;
    } else {
        print_plan(&plan, true);
        print_verdict(&plan);
        if kind == Rehearsal::DryRun {
            println!("dry run: nothing applied");
        }
    }
    let failing =
        plan.count(Action::Conflict) > 0 || (kind == Rehearsal::Diff && plan.has_changes());
    Ok(if failing {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

/// `jobcd sync`.
pub(crate) fn run_sync(args: SyncArgs, state_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let forge = forge_args(&args);
    let SyncArgs {
        common: args,
        dry_run,
        report: report_to,
        push_notes,
        ..
    } = args;
    runtime.block_on(async {
        let revision = read(&args, &state_dir)?;
        let recorder = if dry_run || report_to == ReportTo::None {
            None
        } else {
            let outbox = Outbox::open(&state_dir).context("opening the status outbox")?;
            let mut reporters: Vec<Box<dyn Reporter>> =
                vec![Box::new(GitNotes::new(revision.notes_repo.clone()))];
            let mut forge_config = None;
            if let Some(kind) = forge_kind(report_to) {
                let forge = forge(kind)?;
                forge_config = Some(forge.config());
                reporters.push(Box::new(forge));
            }
            // Runs jobcd starts later (CronJobs) report to the same places.
            let report = SourceReport {
                notes_repo: revision.notes_repo.clone(),
                forge: forge_config,
            };
            outbox.set_source(&args.source, &report, Timestamp::now())?;
            Some(Recorder::new(outbox, reporters))
        };
        if let Some(recorder) = &recorder {
            // Statuses a killed jobcd left undelivered go first.
            daemon::sync::deliver(recorder, &mut warn_undelivered);
        }
        if !revision.validation.is_valid()
            && let Some(recorder) = &recorder
        {
            let first = revision.validation.first_error();
            recorder.record(&record::rejected(&revision.sha, &first), Timestamp::now())?;
            daemon::sync::deliver(recorder, &mut warn_undelivered);
        }
        let code = match args.target {
            TargetKind::Local if dry_run || !revision.validation.is_valid() => {
                let executor = local_reader(&state_dir)?;
                return rehearse(&args, &executor, revision, Rehearsal::DryRun).await;
            }
            TargetKind::Local => {
                let executor = super::local::start(&state_dir).await?;
                let work = sync(&args, &executor, revision, recorder.as_ref());
                super::local::interruptible(&executor, work).await?
            }
            TargetKind::Kube => {
                // A dry run goes through the server's dry run: admission
                // and validation answer, nothing is stored.
                let cluster = args.kube.connect(dry_run).await?;
                let recorder = if dry_run { None } else { recorder.as_ref() };
                let code = sync(&args, &cluster, revision, recorder).await?;
                if let Some(recorder) = recorder {
                    cronjob_health(&args, &cluster, recorder).await;
                }
                if args.output == Format::Text {
                    eprintln!("{}", api_requests(&cluster));
                }
                if dry_run {
                    println!("dry run: the API server checked every change; nothing was stored");
                }
                code
            }
        };
        if push_notes && recorder.is_some() {
            push(&args, &state_dir).await;
        }
        Ok(code)
    })
}

/// The forge kind `--report` names (`Some(None)`: infer it).
fn forge_kind(report: ReportTo) -> Option<Option<forge::Kind>> {
    match report {
        ReportTo::Forge => Some(None),
        ReportTo::Github => Some(Some(forge::Kind::GitHub)),
        ReportTo::Gitlab => Some(Some(forge::Kind::GitLab)),
        ReportTo::Gitea => Some(Some(forge::Kind::Gitea)),
        ReportTo::Notes | ReportTo::None => None,
    }
}

/// What building the forge reporter needs from the arguments; called with
/// the forge kind once `--report` names one.
fn forge_args(
    args: &SyncArgs,
) -> impl FnOnce(Option<forge::Kind>) -> anyhow::Result<forge::Forge> + use<> {
    let repo = args.common.repo.repo.clone();
    let (url, project, token_file) = (
        args.forge_url.clone(),
        args.forge_repo.clone(),
        args.forge_token_file.clone(),
    );
    move |kind| {
        let token = forge::token(token_file.as_deref()).map_err(anyhow::Error::msg)?;
        // A local repository has no forge URL of its own.
        let remote = repo.filter(|r| {
            !matches!(
                crate::source::Location::parse(r),
                Ok(crate::source::Location::Local(_))
            )
        });
        forge::for_source(
            kind,
            remote.as_deref(),
            url.as_deref(),
            project.as_deref(),
            token,
        )
        .map_err(anyhow::Error::msg)
    }
}

/// A valid revision and what the target holds.
struct Inputs {
    revision: Revision,
    desired: Vec<Desired>,
    live: Vec<Live>,
    ledger: Ledger,
}

/// Validates the revision (reporting it when invalid) and reads the target.
async fn prepare<T: Target>(
    args: &Args,
    target: &T,
    revision: Revision,
) -> anyhow::Result<Option<Inputs>> {
    let text = args.output == Format::Text;
    if text {
        for d in &revision.validation.diagnostics {
            eprintln!("{d}");
        }
    }
    let prepared =
        reconcile::prepare(target, &args.source, &revision.sha, &revision.validation).await;
    let Prepared {
        desired,
        live,
        ledger,
    } = match prepared {
        Ok(prepared) => prepared,
        Err(Unprepared::Invalid) => {
            if text {
                eprintln!(
                    "{}: invalid; nothing was applied, the last good revision stays in force",
                    revision.label
                );
            } else {
                print_json(&report(args, &revision, None, None, false))?;
            }
            return Ok(None);
        }
        Err(Unprepared::Refused(e)) => {
            if text {
                eprintln!(
                    "{}: {e}; nothing was applied, the last good revision stays in force",
                    revision.label
                );
            } else {
                let mut out = report(args, &revision, None, None, false);
                out.error = Some(e.to_string());
                print_json(&out)?;
            }
            return Ok(None);
        }
        Err(Unprepared::Unreadable(e)) => {
            return Err(anyhow::Error::new(e).context("reading what the target holds"));
        }
    };
    Ok(Some(Inputs {
        revision,
        desired,
        live,
        ledger,
    }))
}

/// The plan, or None when prune safety refused it (reported).
fn make_plan<'a>(args: &Args, inputs: &'a Inputs) -> anyhow::Result<Option<Plan<'a>>> {
    match plan::plan(
        &args.source,
        &inputs.desired,
        &inputs.live,
        &inputs.ledger,
        &policy(args),
    ) {
        Ok(plan) => Ok(Some(plan)),
        Err(refusal) => {
            report_refusal(args, inputs, &refusal)?;
            Ok(None)
        }
    }
}

fn report_refusal(args: &Args, inputs: &Inputs, refusal: &plan::Refusal) -> anyhow::Result<()> {
    if args.output == Format::Text {
        eprintln!("{}: {refusal}", inputs.revision.label);
    } else {
        print_json(&report(
            args,
            &inputs.revision,
            None,
            Some(refusal.to_string()),
            false,
        ))?;
    }
    Ok(())
}

async fn sync<T: Target>(
    args: &Args,
    target: &T,
    revision: Revision,
    recorder: Option<&Recorder>,
) -> anyhow::Result<ExitCode> {
    let text = args.output == Format::Text;
    let on = |event: Event<'_>| {
        if text {
            print_event(&event);
        } else {
            warn_undelivered(event);
        }
    };
    let Some(inputs) = prepare(args, target, revision).await? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    // Runs no one follows (the local executor's, resumed after a crash; on
    // a cluster, Jobs an interrupted sync left running): followed too,
    // once the target has been read.
    let resumed = target.in_flight();
    let sha = &inputs.revision.sha;
    let plan = match plan::plan(
        &args.source,
        &inputs.desired,
        &inputs.live,
        &inputs.ledger,
        &policy(args),
    ) {
        Ok(plan) => plan,
        Err(refusal) => {
            daemon::sync::refused(recorder, sha, &refusal, on)?;
            report_refusal(args, &inputs, &refusal)?;
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    if text {
        println!("{}: {}", args.source, inputs.revision.label);
        print_plan(&plan, false);
    }
    let planned = daemon::sync::Planned {
        source: &args.source,
        sha,
        objects: inputs.desired.len(),
        plan: &plan,
        live: &inputs.live,
    };
    let synced = daemon::sync::apply_and_follow(
        target,
        planned,
        resumed,
        recorder,
        on,
        std::future::pending::<daemon::sync::Stop>(),
    )
    .await?;
    let failed = synced.failed(&plan);
    if text {
        println!("{}: {}", super::short_sha(sha), synced.summary);
    } else {
        let mut report = report(args, &inputs.revision, Some(&plan), None, false);
        report.applied = Some(synced.done.len());
        report.error = synced.error;
        report.runs = synced.runs;
        print_json(&report)?;
    }
    Ok(if failed {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}

/// Pushes the notes to the source's remote; a failure is a warning, never a
/// failed sync (the next sync pushes again).
async fn push(args: &Args, state_dir: &Path) {
    let source = match &args.repo.repo {
        Some(repo) => args.repo.source(repo, state_dir.to_path_buf()),
        None => return,
    };
    let pushed = match source {
        Ok(source) => tokio::task::spawn_blocking(move || source.push_notes(NOTES_REF))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map_err(anyhow::Error::from)),
        Err(e) => Err(e),
    };
    if let Err(e) = pushed {
        eprintln!("warning: {e:#}");
    }
}
