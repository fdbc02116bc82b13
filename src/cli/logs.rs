//! Log output of every command: `tracing` events on stderr, as text for
//! people or as one JSON object per line for log pipelines (`--log-format`).
//! How much follows the verbosity ([`Level::of`]); `JOBCD_LOG` picks other
//! levels with tracing's target syntax, e.g. `info,kube=debug`, and wins.

use clap::ValueEnum;

use super::Verbosity;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub(crate) enum LogFormat {
    /// `2026-11-27T10:00:00.000000Z  INFO reconcile{source=jobs revision=1a2b3c4}: …`
    #[default]
    Text,
    /// One JSON object per line: timestamp, level, fields (message and
    /// the event's own), target, and the spans (source, revision, reason).
    Json,
}

/// The lowest levels logged: jobcd's own events, and its libraries' (kube,
/// the lease manager, the HTTP server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    own: LevelFilter,
    libraries: LevelFilter,
}

impl Level {
    /// A service (`serve`, `local serve`) logs what it does from INFO up;
    /// a one-shot command prints its report instead and logs only
    /// warnings. `-v` adds jobcd's DEBUG, `-vv` its libraries' too; `-q`
    /// leaves errors only.
    pub(crate) fn of(verbosity: Verbosity, service: bool) -> Level {
        let (own, libraries) = match verbosity {
            Verbosity::Quiet => (LevelFilter::ERROR, LevelFilter::ERROR),
            Verbosity::Normal if service => (LevelFilter::INFO, LevelFilter::WARN),
            Verbosity::Normal => (LevelFilter::WARN, LevelFilter::WARN),
            Verbosity::Verbose => (LevelFilter::DEBUG, LevelFilter::WARN),
            Verbosity::Debug => (LevelFilter::DEBUG, LevelFilter::DEBUG),
        };
        Level { own, libraries }
    }
}

/// Installs the subscriber. `filter` is `JOBCD_LOG`'s value, if set; it
/// wins over `level`.
pub(crate) fn init(format: LogFormat, level: Level, filter: Option<&str>) -> anyhow::Result<()> {
    let targets = match filter {
        Some(spec) => spec
            .parse::<Targets>()
            .map_err(|e| anyhow::anyhow!("JOBCD_LOG={spec:?}: {e}"))?,
        None => Targets::new()
            .with_default(level.libraries)
            .with_target("jobcd", level.own),
    };
    let registry = tracing_subscriber::registry().with(targets);
    let installed = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(false)
                    .with_span_list(true),
            )
            .try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("installing the logger: {e}"))
}
