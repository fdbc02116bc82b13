//! `jobcd serve --config jobcd.yaml`: the continuously syncing service.
//! This module reads the configuration, applies the flags that override
//! it, and hands it to [`crate::daemon::service::Service`]; the outcome's
//! exit code comes from [`super::exit`].

use std::path::PathBuf;

use tokio_util::sync::CancellationToken;

mod overrides;

use overrides::Overrides;

use super::exit::Outcome;
use crate::config;
use crate::daemon::service::Service;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file.
    #[arg(long, env = "JOBCD_CONFIG")]
    config: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
}

pub(crate) fn run(args: Args, state_dir: Option<PathBuf>) -> anyhow::Result<Outcome> {
    let mut config = match config::load(&args.config) {
        Ok(config) => config,
        Err(invalid) => {
            for problem in &invalid.problems {
                eprintln!("{problem}");
            }
            eprintln!(
                "{}: {} problem(s); nothing started",
                args.config.display(),
                invalid.problems.len()
            );
            return Ok(Outcome::Invalid);
        }
    };
    if let Err(e) = args.overrides.apply(&mut config) {
        eprintln!("{}: {e}", args.config.display());
        return Ok(Outcome::Invalid);
    }
    let state_dir = state_dir
        .or(config.state_dir.clone())
        .unwrap_or_else(|| super::repo::state_dir(None));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let exit = runtime.block_on(Service { config, state_dir }.run(CancellationToken::new()))?;
    Ok(Outcome::Served(exit))
}
