//! The command line: argument parsing and printing only. Every decision is
//! made by the library parts; this module turns their values into text or
//! JSON and exit codes.

pub mod exit;
mod local;
mod logs;
mod object_arg;
mod preview;
mod repo;
mod schedule;
mod serve;
mod source;
mod status;
mod sync;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

pub use exit::ERROR as EXIT_ERROR;
use logs::LogFormat;

/// `jobcd --version`: the release and the commit it was built from (see
/// build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("JOBCD_COMMIT"),
    ")"
);

/// GitOps for Kubernetes Jobs and CronJobs.
#[derive(Debug, Parser)]
#[command(name = "jobcd", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Where jobcd keeps its state: mirrors of remote repositories, the local executor's database and pod logs, the status outbox.
    #[arg(long, global = true, env = "JOBCD_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// Say more: list unchanged objects, and log jobcd's steps on stderr (-v), with its libraries' too (-vv).
    #[arg(short, long, global = true, action = ArgAction::Count, conflicts_with = "quiet")]
    verbose: u8,
    /// Say less: only problems (stderr), machine output (-o json|yaml) and the exit code; text reports of success are left out.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Log lines on stderr as text for people, or as JSON objects for log pipelines.
    #[arg(
        long,
        global = true,
        env = "JOBCD_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: LogFormat,
    #[command(flatten)]
    runtime: RuntimeArgs,
}

/// How the local target runs containers (sync, diff and `local …`).
#[derive(Debug, Clone, clap::Args)]
struct RuntimeArgs {
    /// Where the local target runs containers: process (host processes from `command`, no images), podman or docker (images, volumes, limits).
    #[arg(
        long,
        global = true,
        env = crate::target::local::ContainerRuntime::ENV,
        default_value = "process",
        value_parser = clap::builder::ValueParser::new(|s: &str| s.parse::<crate::target::local::ContainerRuntime>()),
    )]
    runtime: crate::target::local::ContainerRuntime,
    /// A directory under which pods on podman or docker may mount hostPath volumes (repeatable; none by default).
    #[arg(long = "allow-host-path", global = true, value_name = "DIR")]
    allow_host_paths: Vec<PathBuf>,
    /// Let privileged containers run on podman or docker (refused by default).
    #[arg(long, global = true)]
    allow_privileged: bool,
}

impl RuntimeArgs {
    fn settings(&self) -> crate::target::local::Settings {
        crate::target::local::Settings {
            runtime: self.runtime,
            allowed: crate::target::local::engine::Allowed {
                host_paths: self.allow_host_paths.clone(),
                privileged: self.allow_privileged,
            },
        }
    }
}

/// How much a command says, from `-q`, nothing, `-v` and `-vv`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verbosity {
    /// Problems, machine output and the exit code only.
    Quiet,
    /// Changes and outcomes; unchanged objects counted.
    #[default]
    Normal,
    /// Unchanged objects listed too; jobcd's own log lines.
    Verbose,
    /// Its libraries' log lines too.
    Debug,
}

impl Verbosity {
    fn from_flags(quiet: bool, verbose: u8) -> Verbosity {
        match (quiet, verbose) {
            (true, _) => Verbosity::Quiet,
            (false, 0) => Verbosity::Normal,
            (false, 1) => Verbosity::Verbose,
            (false, _) => Verbosity::Debug,
        }
    }

    /// Text reports of success are printed.
    pub(crate) fn reports(self) -> bool {
        self > Verbosity::Quiet
    }

    /// Unchanged objects are listed one by one.
    pub(crate) fn lists_unchanged(self) -> bool {
        self >= Verbosity::Verbose
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check manifests as the Kubernetes API server would, reporting every problem with file and line.
    #[command(after_long_help = "Examples:
  jobcd validate jobs/
  jobcd validate job.yaml cron.yaml
  kustomize build overlays/prod | jobcd validate -
  jobcd validate --repo https://github.com/acme/jobs --ref main --path deploy -o json")]
    Validate(validate::Args),
    /// Show when a cron schedule fires, exactly as the CronJob controller computes it.
    #[command(after_long_help = "Examples:
  jobcd schedule '0 3 * * 1-5' --tz Europe/Berlin
  jobcd schedule '@every 90m' -c 10 --from 2026-03-29T00:00:00Z -o json")]
    Schedule(schedule::Args),
    /// Inspect a git source: the commit a ref resolves to and the manifests in it.
    #[command(subcommand)]
    Source(source::Command),
    /// Show what syncing a revision would change: the plan and a diff per object (exit 1 when there are changes, 2 when the revision is invalid).
    #[command(after_long_help = "Examples:
  jobcd diff --repo . --path examples
  jobcd diff --repo . --path deploy --target kube --namespace batch -v")]
    Diff(sync::Args),
    /// Apply one revision to the target: create, update, re-run and prune as planned, and follow each Job run to its end.
    #[command(after_long_help = "Examples:
  jobcd sync --repo . --path examples
  jobcd sync --repo https://github.com/acme/jobs --path deploy --target kube --namespace batch --report github
  jobcd sync --repo . --path deploy --target kube --dry-run")]
    Sync(sync::SyncArgs),
    /// Preview a pull request: changed objects, the schedule story of each CronJob, the Jobs a merge runs (Markdown, JSON or YAML; exit 1 when the head is invalid).
    #[command(after_long_help = "Examples:
  jobcd preview --base main --head my-branch --path deploy
  jobcd preview --base main --path deploy --post github --pr 42
  jobcd preview --base v1.4.0 --head v1.5.0 --as-is --window 2w")]
    Preview(preview::Args),
    /// Show the statuses jobcd reported on a commit (from git notes).
    #[command(after_long_help = "Examples:
  jobcd status
  jobcd status main~1 --repo . -o yaml")]
    Status(status::Args),
    /// Keep sources in sync continuously: poll, webhooks, health and metrics over HTTP (configured by a file).
    #[command(after_long_help = "Examples:
  HOOK_SECRET=s3cret jobcd serve --config examples/serve/jobcd-local.yaml
  jobcd serve --config /etc/jobcd/config.yaml --log-format json")]
    Serve(serve::Args),
    /// The local executor: run Jobs and CronJobs on this machine.
    #[command(subcommand)]
    Local(local::Command),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), as `kubectl completion` does, e.g. `source <(jobcd completion bash)`.
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Supervise one pod of the local executor (started by jobcd itself).
    #[command(hide = true)]
    Supervise {
        /// The pod's directory.
        dir: std::path::PathBuf,
    },
}

/// Output formats shared by commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Text,
    /// For machines: stable, documented, times in RFC 3339 UTC.
    Json,
    /// The same report as `json`, written as YAML.
    Yaml,
}

/// The command line of this process. `--version` (not `-V`) also names
/// the rendering engines found here, with their versions: asking them
/// costs a process each, so only then.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Cli::command();
    if std::env::args_os().any(|a| a == "--version") {
        let engines = crate::source::render::versions().join("\n");
        // Built once for the life of the process (clap keeps &'static str).
        let text: &'static str = format!("{VERSION}\n{engines}").leak();
        command = command.long_version(text);
    }
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// `jobcd supervise DIR`: runs the pod whose directory is `dir`.
pub fn supervise(dir: &std::path::Path) -> ExitCode {
    supervised(dir).code()
}

fn supervised(dir: &std::path::Path) -> exit::Outcome {
    exit::Outcome::from(crate::target::local::supervisor::main(dir))
}

/// Runs a parsed command line. `Err` means a usage, I/O or environment
/// problem (exit 2); invalid input is reported and returns exit code 1.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    dispatch(cli).map(exit::Outcome::code)
}

fn dispatch(cli: Cli) -> anyhow::Result<exit::Outcome> {
    let explicit = cli.state_dir;
    let settings = cli.runtime.settings();
    let state_dir = || repo::state_dir(explicit.clone());
    let verbosity = Verbosity::from_flags(cli.quiet, cli.verbose);
    let service = matches!(
        cli.command,
        Command::Serve(_) | Command::Local(local::Command::Serve)
    );
    // The supervisor of a pod writes its own records, never log lines.
    if !matches!(cli.command, Command::Supervise { .. }) {
        logs::init(
            cli.log_format,
            logs::Level::of(verbosity, service),
            std::env::var("JOBCD_LOG").ok().as_deref(),
        )?;
    }
    match cli.command {
        Command::Validate(args) => validate::run(args, state_dir(), verbosity),
        Command::Schedule(args) => schedule::run(args),
        Command::Source(command) => source::run(command, state_dir()),
        Command::Diff(args) => sync::run_diff(args, state_dir(), verbosity),
        Command::Sync(args) => sync::run_sync(args, state_dir(), &settings, verbosity),
        Command::Preview(args) => preview::run(args, state_dir()),
        Command::Status(args) => status::run(args, state_dir()),
        // Its configuration file names a state directory too: the flag
        // (or JOBCD_STATE_DIR), given, wins over it.
        Command::Serve(args) => serve::run(args, explicit),
        Command::Local(command) => local::run(command, state_dir(), &settings, verbosity),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "jobcd", &mut std::io::stdout());
            Ok(exit::Outcome::Success)
        }
        Command::Supervise { dir } => Ok(supervised(&dir)),
    }
}

pub(crate) use crate::source::short_sha;

/// Prints a report for machines: as JSON, or the same as YAML (any other
/// format is JSON's).
fn print_report(format: Format, value: &impl serde::Serialize) -> anyhow::Result<()> {
    match format {
        Format::Yaml => print!(
            "{}",
            crate::manifest::emit::to_yaml(&serde_json::to_value(value)?)
        ),
        Format::Json | Format::Text => println!("{}", serde_json::to_string_pretty(value)?),
    }
    Ok(())
}
