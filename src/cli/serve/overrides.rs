//! `jobcd serve`'s flags that override its configuration file.

use std::path::PathBuf;

use crate::config::{self, Config};

/// Settings of the file that flags (or their environment variables)
/// override, for one deployment to differ from another without its own
/// file. `--state-dir` / JOBCD_STATE_DIR overrides `stateDir` too.
#[derive(Debug, clap::Args)]
pub(super) struct Overrides {
    /// Where the HTTP listener binds (overrides `listen`).
    #[arg(long, env = "JOBCD_LISTEN")]
    listen: Option<String>,
    /// Sources reconciled at once, 1-64 (overrides `concurrency`).
    #[arg(long, env = "JOBCD_CONCURRENCY", value_parser = clap::value_parser!(u8).range(1..=64))]
    concurrency: Option<u8>,
    /// kubeconfig file (overrides `target.kubeconfig`; kube target only).
    #[arg(long, env = "JOBCD_KUBECONFIG")]
    kubeconfig: Option<PathBuf>,
    /// kubeconfig context (overrides `target.context`; kube target only).
    #[arg(long, env = "JOBCD_CONTEXT")]
    context: Option<String>,
    /// Leave drift alone, only logging it (overrides `correctDrift`).
    #[arg(long, env = "JOBCD_NO_CORRECT_DRIFT")]
    no_correct_drift: bool,
}

impl Overrides {
    pub(super) fn apply(self, config: &mut Config) -> Result<(), String> {
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(n) = self.concurrency {
            config.concurrency = usize::from(n);
        }
        match &mut config.target {
            config::Target::Kube {
                kubeconfig,
                context,
                ..
            } => {
                if let Some(path) = self.kubeconfig {
                    *kubeconfig = Some(path);
                }
                if let Some(name) = self.context {
                    *context = Some(name);
                }
            }
            config::Target::Local(_) if self.kubeconfig.is_some() || self.context.is_some() => {
                return Err(
                    "--kubeconfig and --context are for target kind kube; this file's target is local"
                        .into(),
                );
            }
            config::Target::Local(_) => {}
        }
        if self.no_correct_drift {
            config.correct_drift = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        overrides: Overrides,
    }

    fn apply(text: &str, flags: &[&str]) -> Result<Config, String> {
        let mut config = config::parse(text, "jobcd.yaml").map_err(|e| e.to_string())?;
        let cli = Cli::try_parse_from(std::iter::once("serve").chain(flags.iter().copied()))
            .map_err(|e| e.to_string())?;
        cli.overrides.apply(&mut config)?;
        Ok(config)
    }

    const KUBE: &str = "listen: 127.0.0.1:9000\nconcurrency: 2\ntarget: {kind: kube, context: a}\nsources:\n- {name: a, repo: /x}\n";

    #[test]
    fn flags_override_the_file() {
        let c = apply(
            KUBE,
            &[
                "--listen",
                ":8081",
                "--concurrency",
                "8",
                "--context",
                "b",
                "--kubeconfig",
                "/k",
                "--no-correct-drift",
            ],
        )
        .unwrap();
        assert_eq!(c.listen, ":8081");
        assert_eq!(c.concurrency, 8);
        assert!(!c.correct_drift);
        assert!(matches!(
            &c.target,
            config::Target::Kube { context: Some(ctx), kubeconfig: Some(k), .. }
                if ctx == "b" && k == Path::new("/k")
        ));
        let unchanged = apply(KUBE, &[]).unwrap();
        assert_eq!(
            (unchanged.listen.as_str(), unchanged.concurrency),
            ("127.0.0.1:9000", 2)
        );
        assert!(unchanged.correct_drift);
    }

    #[test]
    fn flags_that_do_not_fit_the_file_are_errors() {
        let local = "target: {kind: local}\nsources:\n- {name: a, repo: /x}\n";
        let e = apply(local, &["--context", "b"]).unwrap_err();
        assert!(e.contains("for target kind kube"), "{e}");
        let e = apply(KUBE, &["--concurrency", "0"]).unwrap_err();
        assert!(e.contains("--concurrency"), "{e}");
    }
}
