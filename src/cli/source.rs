//! `jobcd source show`.

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

use super::exit::Outcome;
use super::repo::RepoArgs;
use super::validate::{ObjectSummary, print_objects};
use super::{Format, print_report};
use crate::manifest;
use crate::source::Revision;
use crate::source::watch::{self, Poll, Watcher};

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Resolve the source's ref and list the manifests found in that commit.
    Show(ShowArgs),
    /// Follow the source: print each new revision as it appears (a local repository is watched, a remote polled).
    Watch(WatchArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Seconds between polls of a remote (with ±10 % jitter, backing off while fetches fail).
    #[arg(long, default_value_t = 60, env = "JOBCD_POLL_INTERVAL")]
    interval: u64,
}

#[derive(Debug, clap::Args)]
pub(crate) struct ShowArgs {
    #[command(flatten)]
    repo: RepoArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

#[derive(Serialize)]
struct Report<'a> {
    revision: &'a Revision,
    files: Vec<&'a str>,
    objects: Vec<ObjectSummary<'a>>,
    diagnostics: &'a [manifest::Diagnostic],
}

pub(crate) fn run(command: Command, state_dir: std::path::PathBuf) -> anyhow::Result<Outcome> {
    match command {
        Command::Show(args) => show(args, state_dir),
        Command::Watch(args) => watch(args, state_dir),
    }
}

fn watch(args: WatchArgs, state_dir: std::path::PathBuf) -> anyhow::Result<Outcome> {
    let repo = args.repo.repo.as_deref().context("--repo is required")?;
    let source = args.repo.source(repo, state_dir)?;
    let mut watcher = match source.git_dirs()? {
        Some((git_dir, common)) => {
            Watcher::new().watch_refs(&git_dir, &common, watch::DEFAULT_DEBOUNCE)?
        }
        None => Watcher::new().poll(Poll::every(Duration::from_secs(args.interval.max(1)))),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut last: Option<String> = None;
    let outcome: anyhow::Result<Outcome> = runtime.block_on(async {
        loop {
            // git2 blocks: keep it off the async thread.
            let check = source.clone();
            match tokio::task::spawn_blocking(move || check.revision()).await? {
                Ok(revision) => {
                    watcher.record(true);
                    if last.as_deref() != Some(revision.sha.as_str()) {
                        println!("{} {revision}", jiff::Timestamp::now());
                        last = Some(revision.sha);
                    }
                }
                Err(e) => {
                    watcher.record(false);
                    eprintln!("{} error: {e}", jiff::Timestamp::now());
                }
            }
            watcher.next().await;
        }
    });
    outcome
}

fn show(args: ShowArgs, state_dir: std::path::PathBuf) -> anyhow::Result<Outcome> {
    let repo = args.repo.repo.as_deref().context("--repo is required")?;
    let source = args.repo.source(repo, state_dir)?;
    let snapshot = source.snapshot()?;
    let options = manifest::Options {
        strict: false,
        now: jiff::Timestamp::now(),
        allow_secrets: args.repo.allow_secrets,
    };
    let validation = manifest::load_tree(
        &snapshot.tree,
        &format!("{repo}//{}", source.path),
        &options,
    );
    match args.output {
        Format::Json | Format::Yaml => print_report(
            args.output,
            &Report {
                revision: &snapshot.revision,
                files: snapshot
                    .tree
                    .files
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect(),
                objects: validation.objects.iter().map(ObjectSummary::from).collect(),
                diagnostics: &validation.diagnostics,
            },
        )?,
        Format::Text => {
            let r = &snapshot.revision;
            println!("repository:  {repo}");
            println!("ref:         {}", r.reference);
            println!("commit:      {} {}", r.sha, r.subject);
            println!("author:      {}", r.author);
            println!("committed:   {}", r.committed_at);
            println!("path:        /{}", source.path.trim_start_matches('/'));
            println!("files:       {}", snapshot.tree.files.len());
            print_objects(&validation);
            for d in &validation.diagnostics {
                eprintln!("{d}");
            }
        }
    }
    Ok(Outcome::Success)
}
