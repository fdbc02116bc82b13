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
use tokio::sync::watch;
use tracing::{error, info, warn};

mod overrides;
mod sources;

use overrides::Overrides;
use sources::{read_secret, recorder_of, source_of};

use super::logs::{self, LogFormat};
use super::{EXIT_ERROR, EXIT_INVALID};
use crate::config::{self, Config};
use crate::daemon::cronjob_statuses;
use crate::daemon::http::{HookSource, Relay, Service, router};
use crate::daemon::leader::{self, Leadership};
use crate::daemon::metrics::Metrics;
use crate::daemon::serve::{self, Ended, Looped};
use crate::daemon::trigger::{Handle, Reason, Trigger};
use crate::plan::Policy;
use crate::report::record::Recorder;
use crate::source::watch::{DEFAULT_DEBOUNCE, RefWatch};
use crate::target::Target;
use crate::target::kube::{self as cluster, KubeTarget};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The configuration file.
    #[arg(long, env = "JOBCD_CONFIG")]
    config: PathBuf,
    #[command(flatten)]
    overrides: Overrides,
    /// Log lines as text for people, or as JSON objects for log pipelines.
    #[arg(long, env = "JOBCD_LOG_FORMAT", value_enum, default_value_t)]
    log_format: LogFormat,
}

pub(crate) fn run(args: Args, state_dir: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    logs::init(args.log_format, std::env::var("JOBCD_LOG").ok().as_deref())?;
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
    if let Err(e) = args.overrides.apply(&mut config) {
        eprintln!("{}: {e}", args.config.display());
        return Ok(ExitCode::from(EXIT_INVALID));
    }
    let state_dir = state_dir
        .or(config.state_dir.clone())
        .unwrap_or_else(|| super::repo::state_dir(None));
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
                            error!("the local executor stopped: {e}");
                        }
                    })
                };
                let on = Serving {
                    config: &config,
                    cronjob_runs: false,
                    state_dir: &state_dir,
                    api: None,
                    leadership: None,
                };
                let code = on.serve(&executor, stop, stopped).await?;
                let _ = cronjobs.await;
                executor.shutdown().await;
                Ok(code)
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
                let leadership = match &config.leader_election {
                    Some(election) => Some(
                        leader::join(
                            target.client().clone(),
                            target.own_namespace(),
                            election,
                            &leader::identity(),
                        )
                        .await?,
                    ),
                    None => None,
                };
                let (stop, stopped) = watch::channel(false);
                let on = Serving {
                    config: &config,
                    cronjob_runs: true,
                    state_dir: &state_dir,
                    api: Some(target.api_counts().clone()),
                    leadership,
                };
                on.serve(&target, stop, stopped).await
            }
        }
    })
}

/// What the service runs with, besides its target.
struct Serving<'a> {
    config: &'a Config,
    /// Report the runs of CronJobs as they end (on a cluster: the local
    /// executor reports its own).
    cronjob_runs: bool,
    state_dir: &'a Path,
    api: Option<cluster::ApiCounts>,
    /// The election this replica is in, if several replicas run.
    leadership: Option<Leadership>,
}

impl Serving<'_> {
    /// Runs the listener, and the loop on `target` while this replica
    /// leads, until SIGTERM or SIGINT (exit 0), or until it loses the
    /// leader Lease (exit 1: it stops at once, since another replica may
    /// apply by then, and its restart makes it a standby).
    async fn serve<T: Target + Sync>(
        mut self,
        target: &T,
        stop: watch::Sender<bool>,
        mut stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<ExitCode> {
        let config = self.config;
        let mut looped = Vec::new();
        let mut hooks = Vec::new();
        let mut ref_watches = Vec::new();
        for s in &config.sources {
            let source = source_of(s, self.state_dir)?;
            let trigger = Trigger::new(Some(Duration::from_secs(s.interval)));
            // A repository on this machine syncs as soon as a ref moves.
            match source.git_dirs() {
                Ok(Some((git_dir, common))) => {
                    let handle = trigger.handle();
                    match RefWatch::start(&git_dir, &common, DEFAULT_DEBOUNCE, move || {
                        handle.fire(Reason::Watch);
                    }) {
                        Ok(watch) => ref_watches.push(watch),
                        Err(e) => warn!(source = %s.name, "{e}: polling only"),
                    }
                }
                Ok(None) => {}
                Err(e) => warn!(source = %s.name, "not watched for new commits: {e}"),
            }
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
                recorder: recorder_of(config, s, &source, self.state_dir)?.map(Arc::new),
                source,
                trigger,
                ready,
                push_notes: config.reporters.push_notes,
            });
        }
        let metrics = Arc::new(Metrics::new(self.api.take()));
        let recorders: Vec<(String, Arc<Recorder>)> = looped
            .iter()
            .filter_map(|l| Some((l.name.clone(), l.recorder.clone()?)))
            .collect();
        let readiness: Vec<Arc<AtomicBool>> = looped.iter().map(|l| l.ready.clone()).collect();
        let leading = Arc::new(AtomicBool::new(self.leadership.is_none()));
        // Pushes reaching a standby go to the leader through the Lease.
        let relay = self.leadership.as_ref().map(Leadership::relay);
        let triggers: Vec<(String, Handle)> = hooks
            .iter()
            .map(|h| (h.name.clone(), h.trigger.clone()))
            .collect();
        let service = Arc::new(Service {
            sources: hooks,
            ready: Box::new(move || readiness.iter().all(|r| r.load(Ordering::SeqCst))),
            leading: Box::new({
                let leading = leading.clone();
                move || leading.load(Ordering::SeqCst)
            }),
            metrics: Box::new({
                let metrics = metrics.clone();
                move || metrics.encode()
            }),
            relay: relay.clone().map(|relay| -> Relay {
                Box::new(move |sources| {
                    let relay = relay.clone();
                    Box::pin(async move { relay.send(&sources).await.map_err(|e| e.to_string()) })
                })
            }),
        });
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("listening on {}", config.listen))?;
        info!(
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
        let stop = Arc::new(stop);
        let signal = {
            let stop = stop.clone();
            tokio::spawn(async move {
                super::local::terminated().await;
                info!("stopping: no new reconciles; applies in flight finish");
                let _ = stop.send(true);
            })
        };
        let mut code = ExitCode::SUCCESS;
        let leads = match &mut self.leadership {
            None => true,
            Some(l) => {
                info!(lease = %l.lease, identity = %l.identity, "standby until this replica holds the leader Lease");
                tokio::select! {
                    got = l.acquired() => {
                        if !got {
                            error!(lease = %l.lease, "the leader election ended");
                            code = ExitCode::from(EXIT_ERROR);
                        }
                        got
                    }
                    _ = stopped.wait_for(|s| *s) => false,
                }
            }
        };
        if leads {
            leading.store(true, Ordering::SeqCst);
            if let Some(l) = &self.leadership {
                info!(lease = %l.lease, identity = %l.identity, "leading: this replica reconciles");
            }
            let policy = Policy {
                allow_empty: config.prune.allow_empty,
                max_prune_share: config.prune.max_share,
                force_prune: config.prune.force,
                correct_drift: config.correct_drift,
            };
            let mut leadership = self.leadership.take();
            let cronjob_runs = async {
                if self.cronjob_runs {
                    cronjob_statuses::follow_cluster(target, &recorders, &metrics).await;
                }
                std::future::pending::<std::convert::Infallible>().await
            };
            let relayed = async {
                if let Some(relay) = &relay {
                    relay
                        .receive(|source| {
                            info!(source, "a push relayed by a standby");
                            if let Some((_, trigger)) = triggers.iter().find(|(n, _)| n == source) {
                                trigger.fire(Reason::Webhook);
                            }
                        })
                        .await;
                }
                std::future::pending::<std::convert::Infallible>().await
            };
            let loops = serve::run(
                target,
                looped,
                policy,
                config.concurrency,
                &metrics,
                stopped.clone(),
                leadership.as_ref(),
            );
            // The loops decide when it ends; CronJob runs are reported, and
            // pushes relayed by standbys received, until then.
            let run = async {
                tokio::select! {
                    ended = loops => ended,
                    never = cronjob_runs => match never {},
                    never = relayed => match never {},
                }
            };
            let demoted = match &leadership {
                None => run.await == Ended::Demoted,
                Some(l) => {
                    let mut watching = l.watcher();
                    tokio::select! {
                        ended = run => ended == Ended::Demoted,
                        () = watching.lost() => true,
                    }
                }
            };
            if demoted {
                leading.store(false, Ordering::SeqCst);
                if let Some(l) = &leadership {
                    error!(lease = %l.lease, identity = %l.identity, "lost the leader Lease: stopped at once; exiting to restart as a standby");
                }
                code = ExitCode::from(EXIT_INVALID);
            }
            self.leadership = leadership.take();
        }
        let _ = stop.send(true);
        signal.abort();
        if let Some(l) = self.leadership
            && code == ExitCode::SUCCESS
        {
            l.release(Duration::from_secs(5)).await;
        }
        drop(ref_watches);
        let _ = http.await;
        Ok(code)
    }
}
