//! `jobcd source show`.

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::repo::RepoArgs;
use super::validate::{ObjectSummary, print_objects};
use super::{Format, print_json};
use crate::manifest;
use crate::source::Revision;

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Resolve the source's ref and list the manifests found in that commit.
    Show(ShowArgs),
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

pub(crate) fn run(command: Command, state_dir: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let Command::Show(args) = command;
    let repo = args.repo.repo.as_deref().context("--repo is required")?;
    let source = args.repo.source(repo, state_dir)?;
    let snapshot = source.snapshot()?;
    let options = manifest::Options {
        strict: false,
        now: jiff::Timestamp::now(),
    };
    let validation = manifest::load_tree(
        &snapshot.tree,
        &format!("{repo}//{}", source.path),
        &options,
    );
    match args.output {
        Format::Json => print_json(&Report {
            revision: &snapshot.revision,
            files: snapshot
                .tree
                .files
                .iter()
                .map(|f| f.path.as_str())
                .collect(),
            objects: validation.objects.iter().map(ObjectSummary::from).collect(),
            diagnostics: &validation.diagnostics,
        })?,
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
    Ok(ExitCode::SUCCESS)
}
