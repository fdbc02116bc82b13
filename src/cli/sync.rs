//! `jobcd diff` and `jobcd sync`: one revision of a source planned against
//! the target, shown, and (for sync) applied, with each Job run followed to
//! its end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use jiff::Timestamp;

use super::exit::Outcome;
use super::repo::RepoArgs;
use super::{Format, Verbosity};
use crate::manifest;
use crate::plan::{DEFAULT_MAX_PRUNE_SHARE, Policy};
use crate::reconcile::{self, Mode, Reconciled, Refused, Request};
use crate::report::notes::{GitNotes, NOTES_REF};
use crate::report::outbox::SourceReport;
use crate::report::runs::{self, Reported, Sink};
use crate::report::statuses::{Route, Statuses};
use crate::report::{Reporter, forge};
use crate::target::Target;
use crate::target::local::{Executor, Settings, SystemClock};

mod kube;
mod show;

use kube::{KubeArgs, api_requests};
use show::Printer;

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
    /// `-q`/`-v`, from the global flags.
    #[arg(skip)]
    verbosity: Verbosity,
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
pub(super) struct Revision {
    pub(super) label: String,
    pub(super) sha: String,
    /// The repository holding the source's git notes.
    notes_repo: PathBuf,
    pub(super) validation: manifest::Validation,
    /// The engine that rendered it, if one did.
    rendered: Option<crate::source::render::Rendered>,
    /// Why its signatures were refused (then nothing of it was read).
    unverified: Option<crate::source::verify::Refusal>,
}

fn read(args: &Args, state_dir: &Path) -> anyhow::Result<Revision> {
    if args.target == TargetKind::Local {
        args.kube.refuse_on_local()?;
    }
    let Some(repo) = &args.repo.repo else {
        anyhow::bail!(
            "--repo is required: a local repository path or a URL (for a plain directory use `jobcd local apply DIR`)"
        );
    };
    // One source, built once: its trusted keys are read and checked once.
    let source = args.repo.source(repo, state_dir.to_path_buf())?;
    let notes_repo = source.notes_repo();
    let loaded = match RepoArgs::load_source(repo, &source) {
        Ok(loaded) => loaded,
        Err(e) => {
            if let Some(crate::source::Error::Unverified(u)) = e.downcast_ref() {
                return Ok(Revision {
                    label: format!("{repo}@{}", u.revision.short_sha),
                    sha: u.revision.sha.clone(),
                    notes_repo,
                    validation: manifest::Validation::default(),
                    rendered: None,
                    unverified: Some(u.refusal.clone()),
                });
            }
            return Err(e);
        }
    };
    let sha = loaded
        .revision
        .map_or_else(|| "working-tree".to_string(), |r| r.sha);
    let options = manifest::Options {
        strict: false,
        now: Timestamp::now(),
        allow_secrets: args.repo.allow_secrets,
    };
    let validation = manifest::load_tree(&loaded.tree, &loaded.label, &options);
    Ok(Revision {
        label: loaded.label,
        sha,
        notes_repo,
        validation,
        rendered: loaded.rendered,
        unverified: None,
    })
}

fn policy(args: &Args) -> Policy {
    Policy {
        allow_empty: args.allow_empty,
        max_prune_share: args.max_prune / 100.0,
        force_prune: args.force_prune,
        correct_drift: args.correct_drift,
        prune: true,
    }
}

/// What a run of `diff` or `sync` stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `diff`: changes are the finding (exit 1).
    Diff,
    /// `sync --dry-run`: only what would fail the sync fails it.
    DryRun,
    /// `sync`.
    Sync,
}

impl Kind {
    fn mode(self) -> Mode {
        match self {
            Kind::Sync => Mode::Apply,
            Kind::Diff | Kind::DryRun => Mode::Rehearse,
        }
    }
}

/// `jobcd diff`.
pub(crate) fn run_diff(
    mut args: Args,
    state_dir: PathBuf,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    args.verbosity = verbosity;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let revision = read(&args, &state_dir)?;
        let outcome = match args.target {
            TargetKind::Local => {
                let executor = local_reader(&state_dir)?;
                reconcile(&args, &executor, &revision, Kind::Diff, None).await?
            }
            TargetKind::Kube => {
                let cluster = args.kube.connect(false).await?;
                reconcile(&args, &cluster, &revision, Kind::Diff, None).await?
            }
        };
        Ok(outcome)
    })
}

/// The local executor, opened to read (a runner may be serving it).
fn local_reader(state_dir: &Path) -> anyhow::Result<Executor> {
    Executor::open(state_dir, Arc::new(SystemClock)).context("opening the local executor's state")
}

/// `jobcd sync`.
pub(crate) fn run_sync(
    mut args: SyncArgs,
    state_dir: PathBuf,
    settings: &Settings,
    verbosity: Verbosity,
) -> anyhow::Result<Outcome> {
    args.common.verbosity = verbosity;
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
    let kind = if dry_run { Kind::DryRun } else { Kind::Sync };
    runtime.block_on(async {
        let revision = read(&args, &state_dir)?;
        let reporter = if dry_run || report_to == ReportTo::None {
            None
        } else {
            let mut reporters: Vec<Box<dyn Reporter>> =
                vec![Box::new(GitNotes::new(revision.notes_repo.clone()))];
            let mut forge_config = None;
            if let Some(kind) = forge_kind(report_to) {
                let forge = forge(kind)?;
                forge_config = Some(forge.config());
                reporters.push(Box::new(forge));
            }
            let route = Route {
                source: args.source.clone(),
                reporters,
                // Runs jobcd starts later (CronJobs) report to the same places.
                remember: Some(SourceReport {
                    notes_repo: revision.notes_repo.clone(),
                    forge: forge_config,
                }),
            };
            let warn = |e: &str| eprintln!("warning: status not delivered yet: {e}");
            Some(
                Statuses::start(&state_dir, vec![route], Arc::new(warn))
                    .context("starting the status reporter")?,
            )
        };
        let statuses = reporter.as_ref().map(|(s, _)| s);
        if let Some(statuses) = statuses {
            // Statuses a killed jobcd left undelivered go first.
            statuses.drain(None).await;
        }
        let outcome = match args.target {
            TargetKind::Local if kind != Kind::Sync || !revision.validation.is_valid() => {
                let executor = local_reader(&state_dir)?;
                reconcile(&args, &executor, &revision, kind, statuses).await?
            }
            TargetKind::Local => {
                let executor = super::local::start(&state_dir, settings).await?;
                let work = reconcile(&args, &executor, &revision, kind, statuses);
                super::local::interruptible(&executor, work).await?
            }
            TargetKind::Kube => {
                // A dry run goes through the server's dry run: admission
                // and validation answer, nothing is stored.
                let cluster = args.kube.connect(dry_run).await?;
                let outcome = reconcile(&args, &cluster, &revision, kind, statuses).await?;
                let text = args.output == Format::Text && args.verbosity.reports();
                if text {
                    eprintln!("{}", api_requests(&cluster));
                }
                if dry_run && text {
                    println!("dry run: the API server checked every change; nothing was stored");
                }
                outcome
            }
        };
        if let Some((statuses, task)) = reporter {
            statuses.drain(None).await;
            drop(statuses);
            let _ = task.await;
            if push_notes {
                push(&args, &state_dir).await;
            }
        }
        Ok(outcome)
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
        let token = forge::token(token_file.as_deref())?;
        // A local repository has no forge URL of its own.
        let remote = repo.filter(|r| {
            !matches!(
                crate::source::Location::parse(r),
                Ok(crate::source::Location::Local(_))
            )
        });
        Ok(forge::for_source(
            kind,
            remote.as_deref(),
            url.as_deref(),
            project.as_deref(),
            token,
        )?)
    }
}

/// Reconciles the revision on `target` (the one library step), printing
/// what happens; while a sync runs, the runs CronJobs start are reported
/// too, and after it, each CronJob's latest run.
async fn reconcile<T: Target + Sync>(
    args: &Args,
    target: &T,
    revision: &Revision,
    kind: Kind,
    statuses: Option<&Statuses>,
) -> anyhow::Result<Outcome> {
    let mut printer = Printer::new(args, revision, kind);
    printer.diagnostics();
    let policy = policy(args);
    let request = Request {
        source: &args.source,
        sha: &revision.sha,
        validation: &revision.validation,
        policy: &policy,
        mode: kind.mode(),
        rendered: revision.rendered.as_ref(),
    };
    let mut on = |event: reconcile::Event<'_>| printer.event(event);
    let work = async {
        match &revision.unverified {
            Some(refusal) => {
                reconcile::refuse_unverified(
                    &args.source,
                    &revision.sha,
                    refusal,
                    statuses,
                    kind.mode(),
                )
                .await
            }
            None => {
                reconcile::run(target, request, statuses, &mut on, std::future::pending()).await
            }
        }
    };
    let reconciled = match statuses {
        Some(statuses) => {
            let mut quiet = Quiet;
            let cronjob_runs = async {
                runs::follow(target, statuses, &mut quiet).await;
                std::future::pending().await
            };
            let reconciled = tokio::select! {
                reconciled = work => reconciled,
                never = cronjob_runs => match never {},
            };
            // Each CronJob's latest run, as it stands after the sync.
            runs::catch_up(target, statuses, &mut Quiet).await;
            reconciled
        }
        None => work.await,
    };
    let reconciled = match reconciled {
        Reconciled::Unreadable(e) => {
            return Err(anyhow::Error::new(e).context("reading what the target holds"));
        }
        other => other,
    };
    printer.finish(&reconciled)?;
    Ok(match (kind, &reconciled) {
        // As `kubectl diff`: 1 when there is a difference (drift on a
        // cluster is one), above 1 when there is nothing to compare.
        (Kind::Diff, Reconciled::Rehearsed(counts)) if counts.changes || counts.drifted > 0 => {
            Outcome::Changes
        }
        (
            Kind::Diff,
            Reconciled::Invalid | Reconciled::Refused(Refused::Target(_) | Refused::Unverified(_)),
        ) => Outcome::Error,
        _ => Outcome::Reconciled(reconciled.verdict()),
    })
}

/// CronJob runs reported during a sync go on the commits, not the output.
struct Quiet;

impl Sink for Quiet {
    fn reported(&mut self, _: Reported<'_>) {}

    fn trouble(&mut self, what: &str) {
        eprintln!("warning: reporting CronJob runs: {what}");
    }
}

/// Pushes the notes to the source's remote; a failure is a warning, never a
/// failed sync (the next sync pushes again).
async fn push(args: &Args, state_dir: &Path) {
    let source = match &args.repo.repo {
        Some(repo) => args.repo.source(repo, state_dir.to_path_buf()),
        None => return,
    };
    let pushed = match source {
        Ok(source) => source
            .push_notes_off_runtime(NOTES_REF)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    if let Err(e) = pushed {
        eprintln!("warning: {e:#}");
    }
}
