//! `jobcd preview`: what merging a pull request does to Jobs and CronJob
//! schedules, as Markdown (or JSON), optionally posted as one sticky
//! comment on the pull request.

use std::path::PathBuf;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};

use super::exit::Outcome;
use super::repo::{CredentialArgs, RepoArgs};
use super::{Format, print_report};
use crate::manifest;
use crate::preview::{self, Invalid, Options, RevisionRef, markdown};
use crate::report::forge::{self, Posted};
use crate::schedule::Zone;
use crate::source::{Location, Snapshot};

/// GitHub refuses comments longer than this many characters.
const GITHUB_MAX_COMMENT: usize = 65_536;
/// GitLab's limit for a note (1,000,000) is far above any preview; Gitea
/// has none. Kept under GitHub's for all, so a preview reads the same.
const MAX_COMMENT: usize = GITHUB_MAX_COMMENT - 1_024;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Repository: a local path, file://, https://, ssh://, git@host:path or git:// URL.
    #[arg(long, env = "JOBCD_REPO", default_value = ".")]
    repo: String,
    /// The revision merged into (the pull request's base): a branch, tag, sha or `main~1`.
    #[arg(long)]
    base: String,
    /// The revision proposed (the pull request's head; default: the current branch).
    #[arg(long)]
    head: Option<String>,
    /// Compare the two commits as they are, rather than the head merged into the base (what merging does; the default).
    #[arg(long)]
    as_is: bool,
    /// Directory inside the repository holding the manifests.
    #[arg(long, default_value = "", env = "JOBCD_PATH")]
    path: String,
    /// How manifests are rendered: auto (kustomize build of a kustomization, helm template of a chart), plain YAML, kustomize or helm.
    #[arg(long, default_value = "auto", env = "JOBCD_RENDER")]
    render: crate::source::render::Render,
    /// Let plain v1 Secrets stay in the repository (ignored, never applied) instead of refusing the revision.
    #[arg(long, env = "JOBCD_ALLOW_SECRETS")]
    allow_secrets: bool,

    /// A Helm values file of the repository (a path from its top), after the chart's own; repeat for more.
    #[arg(long = "helm-values", visible_alias = "values", value_name = "FILE")]
    helm_values: Vec<String>,
    /// A Helm value, KEY=VALUE, after the values files; repeat for more.
    #[arg(long = "helm-set", visible_alias = "set", value_name = "KEY=VALUE")]
    helm_set: Vec<String>,
    /// The Helm release name (default: the chart directory's name).
    #[arg(long = "helm-release", value_name = "NAME")]
    helm_release: Option<String>,
    /// The Helm release's namespace, .Release.Namespace (default: default).
    #[arg(long = "helm-namespace", value_name = "NAMESPACE")]
    helm_namespace: Option<String>,
    /// How far ahead to count runs and look for collisions, e.g. 7d, 24h, 90m, 2w.
    #[arg(long, default_value = "7d", value_parser = window)]
    window: SignedDuration,
    /// How many next fire times to list per CronJob.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Time zone of CronJobs without spec.timeZone (default UTC, as standard control planes run).
    #[arg(long = "default-tz")]
    default_tz: Option<String>,
    /// Warn when the change makes this many CronJobs start in the same minute.
    #[arg(long, default_value_t = preview::DEFAULT_COLLISION_THRESHOLD)]
    collision_threshold: usize,
    /// Count from this instant (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = PreviewFormat::Markdown)]
    output: PreviewFormat,
    /// Post the Markdown as one comment on the pull request, edited on every run.
    #[arg(long, value_enum, requires = "pr")]
    post: Option<PostTo>,
    /// The pull (merge) request number to comment on.
    #[arg(long, requires = "post")]
    pr: Option<u64>,
    /// The forge's API root (default: from the repository URL, or the local repository's origin).
    #[arg(long, env = "JOBCD_FORGE_URL")]
    forge_url: Option<String>,
    /// The forge project, OWNER/REPO or a GitLab group path (default: from the repository URL).
    #[arg(long, env = "JOBCD_FORGE_REPO")]
    forge_repo: Option<String>,
    /// File holding the forge token (or set JOBCD_FORGE_TOKEN).
    #[arg(long, env = "JOBCD_FORGE_TOKEN_FILE")]
    forge_token_file: Option<PathBuf>,
    #[command(flatten)]
    credentials: CredentialArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PreviewFormat {
    /// For a pull-request comment.
    Markdown,
    /// For machines.
    Json,
    /// The same as `json`, written as YAML.
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PostTo {
    /// GitHub or GitHub Enterprise.
    Github,
    /// GitLab.
    Gitlab,
    /// Gitea or Forgejo.
    Gitea,
}

/// `7d`, `24h`, `90m`, `2w`.
fn window(text: &str) -> Result<SignedDuration, String> {
    let bad = || format!("{text:?} is not a window such as 7d, 24h, 90m or 2w");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit {
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    let secs = n.checked_mul(unit_secs).ok_or_else(bad)?;
    if secs <= 0 || secs > 366 * 86_400 {
        return Err(format!(
            "--window {text}: give more than zero and at most a year"
        ));
    }
    Ok(SignedDuration::from_secs(secs))
}

pub(crate) fn run(args: Args, state_dir: PathBuf) -> anyhow::Result<Outcome> {
    let now = match &args.now {
        Some(text) => text.parse::<Timestamp>().with_context(|| {
            format!("--now {text:?} is not an RFC 3339 instant such as 2026-01-05T00:00:00Z")
        })?,
        None => Timestamp::now(),
    };
    let default_zone = match &args.default_tz {
        Some(name) => Zone::named(name).map_err(|e| anyhow::anyhow!("--default-tz: {e}"))?,
        None => Zone::utc(),
    };
    let base = snapshot(&args, &args.base, &state_dir)?;
    let head_ref = args.head.clone().unwrap_or_else(|| "HEAD".into());
    let mut head = snapshot(&args, args.head.as_deref().unwrap_or(""), &state_dir)?;
    if !args.as_is {
        // What merging does: the head merged into the base, as `git merge`
        // would (when the base has not moved on, that is the head itself).
        head.tree = source(&args, "", &state_dir)?
            .merged(&base.revision.sha, &head.revision.sha)
            .with_context(|| format!("previewing {head_ref} merged into {}", args.base))?;
    }
    let options = manifest::Options {
        strict: false,
        now,
        allow_secrets: args.allow_secrets,
    };
    let label = |s: &Snapshot| format!("{}@{}", args.repo, s.revision.short_sha);
    let (base_validation, head_validation) = manifest::load_trees(
        &base.tree,
        &head.tree,
        (&label(&base), &label(&head)),
        &options,
    );
    let base_rev = RevisionRef {
        sha: base.revision.sha.clone(),
        reference: args.base.clone(),
    };
    let head_rev = RevisionRef {
        sha: head.revision.sha.clone(),
        reference: head_ref,
    };

    let (text, json, code) = match head_validation.desired_set() {
        None => {
            let invalid = Invalid {
                base: base_rev,
                head: head_rev,
                path: args.path.clone(),
                diagnostics: head_validation.diagnostics,
            };
            (
                markdown::render_invalid(&invalid),
                serde_json::to_value(&invalid)?,
                Outcome::Invalid,
            )
        }
        Some(head_set) => {
            let base_set = base_validation.desired_set();
            let preview = preview::preview(
                (base_rev, base_set.as_ref()),
                (head_rev, &head_set),
                &args.path,
                &Options {
                    now,
                    window: args.window,
                    runs: args.runs,
                    default_zone,
                    collision_threshold: args.collision_threshold,
                },
            );
            let limit = args.post.map(|_| MAX_COMMENT);
            (
                markdown::render(&preview, limit),
                serde_json::to_value(&preview)?,
                Outcome::Success,
            )
        }
    };
    match args.output {
        PreviewFormat::Markdown => print!("{text}"),
        PreviewFormat::Json => print_report(Format::Json, &json)?,
        PreviewFormat::Yaml => print_report(Format::Yaml, &json)?,
    }
    if let (Some(post), Some(pr)) = (args.post, args.pr) {
        let forge = forge_for(&args, post)?;
        let posted = forge
            .upsert_comment(pr, &markdown::marker(&args.path), &text)
            .map_err(anyhow::Error::msg)
            .context("posting the preview")?;
        match posted {
            Posted::Created { id } => eprintln!("posted the preview on #{pr} (comment {id})"),
            Posted::Updated { id } => eprintln!("updated the preview on #{pr} (comment {id})"),
            Posted::Unchanged { id } => {
                eprintln!("the preview on #{pr} is up to date (comment {id})")
            }
        }
    }
    Ok(code)
}

/// The source of `args` at `reference` ("" for the default branch).
fn source(
    args: &Args,
    reference: &str,
    state_dir: &std::path::Path,
) -> anyhow::Result<crate::source::Source> {
    let repo_args = RepoArgs {
        repo: Some(args.repo.clone()),
        reference: (!reference.is_empty()).then(|| reference.to_string()),
        path: args.path.clone(),
        uncommitted: false,
        render: args.render,
        helm_values: args.helm_values.clone(),
        helm_set: args.helm_set.clone(),
        helm_release: args.helm_release.clone(),
        helm_namespace: args.helm_namespace.clone(),
        allow_secrets: args.allow_secrets,
        // A preview applies nothing: what it reads need not be signed.
        verify_signatures: None,
        trusted_keys: Vec::new(),
        credentials: args.credentials.clone(),
    };
    repo_args.source(&args.repo, state_dir.to_path_buf())
}

/// The manifests at `reference` ("" for the default branch).
fn snapshot(args: &Args, reference: &str, state_dir: &std::path::Path) -> anyhow::Result<Snapshot> {
    source(args, reference, state_dir)?
        .snapshot()
        .with_context(|| {
            format!(
                "reading {} at {}",
                args.repo,
                if reference.is_empty() {
                    "its default branch"
                } else {
                    reference
                }
            )
        })
}

/// The forge to post on: the repository URL, or for a local repository
/// the URL of its `origin`, names host and project unless flags do.
fn forge_for(args: &Args, post: PostTo) -> anyhow::Result<forge::Forge> {
    let token = forge::token(args.forge_token_file.as_deref())?;
    let kind = match post {
        PostTo::Github => forge::Kind::GitHub,
        PostTo::Gitlab => forge::Kind::GitLab,
        PostTo::Gitea => forge::Kind::Gitea,
    };
    let url = match Location::parse(&args.repo)? {
        Location::Local(path) => git2::Repository::open(&path)
            .ok()
            .and_then(|r| r.find_remote("origin").ok()?.url().ok().map(str::to_string)),
        Location::Remote(_) => Some(args.repo.clone()),
    };
    forge::for_source(
        Some(kind),
        url.as_deref(),
        args.forge_url.as_deref(),
        args.forge_repo.as_deref(),
        token,
    )
    .map_err(anyhow::Error::from)
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn windows_take_minutes_hours_days_and_weeks() {
        assert_eq!(window("7d").map(|d| d.as_secs()), Ok(7 * 86_400));
        assert_eq!(window("90m").map(|d| d.as_secs()), Ok(5_400));
        assert_eq!(window("2w").map(|d| d.as_secs()), Ok(14 * 86_400));
        assert!(window("0d").is_err());
        assert!(window("7").is_err());
        assert!(window("d").is_err());
        assert!(window("400d").is_err());
        assert!(window("1y").is_err());
    }
}
