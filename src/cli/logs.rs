//! Log output of the long-running commands (`jobcd serve`): `tracing`
//! events on stderr, as text for people or as one JSON object per line for
//! log pipelines. jobcd's own events from INFO up; its libraries' (kube,
//! the lease manager, the HTTP server) from WARN up. `JOBCD_LOG` picks other
//! levels with tracing's target syntax, e.g. `info,kube=debug`.

use clap::ValueEnum;
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

/// Installs the subscriber. `filter` is `JOBCD_LOG`'s value, if set.
pub(crate) fn init(format: LogFormat, filter: Option<&str>) -> anyhow::Result<()> {
    let targets = match filter {
        Some(spec) => spec
            .parse::<Targets>()
            .map_err(|e| anyhow::anyhow!("JOBCD_LOG={spec:?}: {e}"))?,
        None => Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target("jobcd", LevelFilter::INFO),
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
