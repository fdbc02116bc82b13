//! `jobcd status [REV]`: the statuses reported on a commit.

use std::path::PathBuf;

use anyhow::Context;

use super::exit::Outcome;
use super::{Format, print_report};
use crate::report::notes;
use crate::source::{Location, RefName, Source};

/// `jobcd status` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The commit: a sha, branch, tag or any git revision (default HEAD).
    #[arg(default_value = "HEAD")]
    rev: String,
    /// The repository: a local path, or a remote URL whose mirror jobcd keeps (default: the current directory).
    #[arg(long, default_value = ".", env = "JOBCD_REPO")]
    repo: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

pub(crate) fn run(args: Args, state_dir: PathBuf) -> anyhow::Result<Outcome> {
    let location = Location::parse(&args.repo)?;
    let source = Source {
        location,
        reference: RefName::parse(None),
        path: String::new(),
        credentials: Default::default(),
        state_dir,
        timeout: crate::source::DEFAULT_TIMEOUT,
        uncommitted: false,
        render: crate::source::render::Render::Plain,
        helm: Default::default(),
        verify: None,
    };
    let repo_dir = source.notes_repo();
    let repo = git2::Repository::open(&repo_dir).with_context(|| {
        format!(
            "opening {} (for a remote, jobcd keeps a mirror once it has synced it)",
            repo_dir.display()
        )
    })?;
    let commit = repo
        .revparse_single(&args.rev)
        .and_then(|o| o.peel_to_commit())
        .with_context(|| format!("{:?} is not a commit in {}", args.rev, repo_dir.display()))?;
    let sha = commit.id().to_string();
    let entries = notes::read(&repo_dir, &sha)?;
    if args.output != Format::Text {
        print_report(
            args.output,
            &serde_json::json!({ "sha": sha, "statuses": entries }),
        )?;
        return Ok(Outcome::Success);
    }
    println!(
        "{} {}",
        super::short_sha(&sha),
        commit.summary().ok().flatten().unwrap_or_default()
    );
    if entries.is_empty() {
        println!("  no statuses (jobcd has not synced this commit)");
    }
    let width = entries.iter().map(|e| e.context.len()).max().unwrap_or(0);
    for e in &entries {
        println!(
            "  {:<7}  {:<width$}  {}  ({})",
            e.state.as_str(),
            e.context,
            e.description,
            e.at.round(jiff::Unit::Second).unwrap_or(e.at)
        );
    }
    Ok(Outcome::Success)
}
