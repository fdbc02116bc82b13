//! `jobcd serve --config jobcd.yaml`: the continuously syncing service.
//! This module turns the configuration into sources, reporters and a
//! target, and starts the loop and the HTTP listener; the loop itself is
//! `daemon::serve`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use jiff::Timestamp;
use tokio::sync::watch;

use super::EXIT_INVALID;
use crate::config::{self, Config, SecretRef};
use crate::daemon::http::{HookSource, Service, router};
use crate::daemon::metrics::Metrics;
use crate::daemon::serve::{self, Looped};
use crate::daemon::trigger::Trigger;
use crate::plan::Policy;
use crate::report::notes::GitNotes;
use crate::report::outbox::{Outbox, SourceReport};
use crate::report::record::Recorder;
use crate::report::{Reporter, forge};
use crate::source::{Credentials, HostKeyCheck, Location, RefName, Secret, Source};
use crate::target::Target;
use crate::target::kube::{self as cluster, KubeTarget};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file.
    #[arg(long, env = "JOBCD_CONFIG")]
    config: PathBuf,
    /// Where the HTTP listener binds (overrides `listen`).
    #[arg(long, env = "JOBCD_LISTEN")]
    listen: Option<String>,
}

pub(crate) fn run(args: Args, state_dir: PathBuf) -> anyhow::Result<ExitCode> {
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
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let state_dir = config.state_dir.clone().unwrap_or(state_dir);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match config.target.clone() {
            config::Target::Local => {
                let executor = super::local::start(&state_dir).await?;
                let (stop, stopped) = watch::channel(false);
                let cronjobs = {
                    let executor = executor.clone();
                    let mut stopped = stopped.clone();
                    tokio::spawn(async move {
                        let until = async move {
                            let _ = stopped.wait_for(|s| *s).await;
                        };
                        if let Err(e) = executor.serve(until).await {
                            eprintln!("error: the local executor stopped: {e}");
                        }
                    })
                };
                serve_on(&executor, &config, &state_dir, None, stop, stopped).await?;
                let _ = cronjobs.await;
                executor.shutdown().await;
            }
            config::Target::Kube {
                kubeconfig,
                context,
                namespaces,
                ledger_namespace,
            } => {
                let target = KubeTarget::connect(cluster::Settings {
                    connection: cluster::Connection {
                        kubeconfig,
                        context,
                    },
                    namespaces,
                    ledger_namespace,
                    dry_run: false,
                })
                .await
                .context("connecting to the Kubernetes API server")?;
                let counts = target.api_counts().clone();
                let (stop, stopped) = watch::channel(false);
                serve_on(&target, &config, &state_dir, Some(counts), stop, stopped).await?;
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

/// Runs the loop and the listener on `target` until SIGTERM or SIGINT.
async fn serve_on<T: Target + Sync>(
    target: &T,
    config: &Config,
    state_dir: &Path,
    api: Option<cluster::ApiCounts>,
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut looped = Vec::new();
    let mut hooks = Vec::new();
    for s in &config.sources {
        let source = source_of(s, state_dir)?;
        let trigger = Trigger::new(Some(Duration::from_secs(s.interval)));
        let ready = Arc::new(AtomicBool::new(false));
        hooks.push(HookSource {
            name: s.name.clone(),
            repo: s.repo.clone(),
            reference: s.reference.clone(),
            secret: s
                .webhook_secret
                .as_ref()
                .map(|r| read_secret(r).map(|s| s.expose().as_bytes().to_vec()))
                .transpose()?,
            trigger: trigger.handle(),
        });
        looped.push(Looped {
            name: s.name.clone(),
            recorder: recorder_of(config, s, &source, state_dir)?,
            source,
            trigger,
            ready,
            push_notes: config.reporters.push_notes,
        });
    }
    let metrics = Arc::new(Metrics::new(api));
    let readiness: Vec<Arc<AtomicBool>> = looped.iter().map(|l| l.ready.clone()).collect();
    let service = Arc::new(Service {
        sources: hooks,
        ready: Box::new(move || readiness.iter().all(|r| r.load(Ordering::SeqCst))),
        metrics: Box::new({
            let metrics = metrics.clone();
            move || metrics.encode()
        }),
    });
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    eprintln!(
        "serving {} source(s); HTTP on {} (hooks, healthz, readyz, metrics)",
        config.sources.len(),
        listener.local_addr()?
    );
    let http = {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            let until = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            axum::serve(listener, router(service))
                .with_graceful_shutdown(until)
                .await
        })
    };
    let signal = tokio::spawn(async move {
        super::local::terminated().await;
        eprintln!("stopping: no new reconciles; the ones in flight finish");
        let _ = stop.send(true);
    });
    let policy = Policy {
        allow_empty: config.prune.allow_empty,
        max_prune_share: config.prune.max_share,
        force_prune: config.prune.force,
    };
    serve::run(
        target,
        looped,
        policy,
        config.concurrency,
        &metrics,
        stopped,
    )
    .await;
    signal.abort();
    let _ = http.await;
    Ok(())
}

fn read_secret(r: &SecretRef) -> anyhow::Result<Secret> {
    match r {
        SecretRef::File(path) => Ok(Secret::from_file(path)?),
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            _ => anyhow::bail!("the environment variable {var} is not set"),
        },
    }
}

fn source_of(s: &config::Source, state_dir: &Path) -> anyhow::Result<Source> {
    Ok(Source {
        location: Location::parse(&s.repo)?,
        reference: RefName::parse(s.reference.as_deref()),
        path: s.path.clone(),
        credentials: Credentials {
            username: s.username.clone(),
            password: s.password.as_ref().map(read_secret).transpose()?,
            ssh_key: s.ssh_key.clone(),
            ssh_passphrase: s.ssh_passphrase.as_ref().map(read_secret).transpose()?,
            known_hosts: s.known_hosts.clone(),
            host_key_check: HostKeyCheck::Strict,
        },
        state_dir: state_dir.to_path_buf(),
        timeout: crate::source::DEFAULT_TIMEOUT,
        uncommitted: false,
    })
}

fn recorder_of(
    config: &Config,
    s: &config::Source,
    source: &Source,
    state_dir: &Path,
) -> anyhow::Result<Option<Recorder>> {
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if config.reporters.notes {
        reporters.push(Box::new(GitNotes::new(source.notes_repo())));
    }
    let mut forge_config = None;
    if let Some(f) = &config.reporters.forge {
        let remote = (!matches!(source.location, Location::Local(_))).then_some(s.repo.as_str());
        let reporter = forge::for_source(
            Some(f.kind),
            remote,
            f.url.as_deref(),
            f.project.as_deref(),
            read_secret(&f.token)?,
        )
        .map_err(anyhow::Error::msg)?;
        forge_config = Some(reporter.config());
        reporters.push(Box::new(reporter));
    }
    if reporters.is_empty() {
        return Ok(None);
    }
    let outbox = Outbox::open(state_dir).context("opening the status outbox")?;
    outbox.set_source(
        &s.name,
        &SourceReport {
            notes_repo: source.notes_repo(),
            forge: forge_config,
        },
        Timestamp::now(),
    )?;
    Ok(Some(Recorder::new(outbox, reporters)))
}
