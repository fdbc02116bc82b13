//! `jobcd serve`'s composition root: from a configuration, the target, the
//! status reporter, the sources' loops, the CronJob-run reporter, the
//! CronJob health watch (with its notification receivers), the
//! HTTP listener and (on a cluster) the leader election — every long-lived
//! task spawned here, in one [`JoinSet`], and stopped by one
//! [`CancellationToken`].
//!
//! Shutdown (SIGTERM, SIGINT, or the token): no new reconcile starts; an
//! apply in flight finishes, and following its runs stops (their commits
//! keep `pending`; the next start resumes them); the outbox is flushed
//! within [`FLUSH_GRACE`]; on a cluster the Lease is released. A replica
//! that loses the Lease stops at once.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::http::{self, HookSource, Relay};
use super::leader::{self, Leadership};
use super::metrics::Metrics;
use super::serve::{self, Ended, FLUSH_GRACE, Looped, Readiness, Shared};
use super::setup;
use super::trigger::{Handle, Reason, Trigger};
use crate::config::{self, Config};
use crate::health::observe::Observe;
use crate::plan::Policy;
use crate::report::runs::{self, Reported, Sink};
use crate::report::statuses::{self, Statuses};
use crate::source::watch::{DEFAULT_DEBOUNCE, RefWatch};
use crate::target::kube::{self as cluster, KubeTarget};
use crate::target::local::{Executor, Isolation, StartError as ExecutorStartError, SystemClock};
use crate::target::{RunEvent, Target};

/// How the service ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Asked to stop; everything was wound down.
    Stopped,
    /// This replica lost the leader Lease and stopped at once (another
    /// replica may be applying already): restart it as a standby.
    LostLease,
    /// The leader election itself ended before this replica led.
    ElectionEnded,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A source, a secret or a forge in the configuration.
    #[error(transparent)]
    Setup(#[from] setup::Error),
    /// The status reporter.
    #[error("starting the status reporter")]
    Statuses(#[source] statuses::StartError),
    /// The local executor.
    #[error("starting the local executor")]
    Executor(#[source] ExecutorStartError),
    /// The cluster.
    #[error("connecting to the Kubernetes API server")]
    Kube(#[source] cluster::Error),
    /// The leader election.
    #[error(transparent)]
    Leader(#[from] leader::Error),
    /// The HTTP listener.
    #[error("listening on {addr}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The service, configured.
#[derive(Debug)]
pub struct Service {
    /// The configuration.
    pub config: Config,
    /// jobcd's state directory.
    pub state_dir: PathBuf,
}

impl Service {
    /// Runs until `shutdown` is cancelled (the service also cancels it on
    /// SIGTERM or SIGINT), or until this replica loses the leader Lease.
    pub async fn run(self, shutdown: CancellationToken) -> Result<Exit, Error> {
        match self.config.target.clone() {
            config::Target::Local(settings) => {
                let (executor, recovery) =
                    Executor::start(&self.state_dir, Arc::new(SystemClock), &settings)
                        .await
                        .map_err(Error::Executor)?;
                for line in recovery.lines() {
                    warn!("{line}");
                }
                match (executor.engine(), executor.isolation()) {
                    (Some(engine), _) => info!("{}", engine.describe()),
                    (None, Isolation::Bubblewrap(_)) => {
                        info!("{}", executor.isolation().describe())
                    }
                    (None, Isolation::Unavailable(_)) => {
                        warn!("{}", executor.isolation().describe())
                    }
                }
                let executor = Arc::new(executor);
                let exit = self
                    .serve(executor.clone(), None, None, shutdown.clone())
                    .await;
                executor.shutdown().await;
                exit
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
                .map_err(Error::Kube)?;
                let leadership = match &self.config.leader_election {
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
                let api = Some(target.api_counts().clone());
                self.serve(Arc::new(target), api, leadership, shutdown)
                    .await
            }
        }
    }

    /// Serves on `target`: the one place the service's tasks start.
    async fn serve<T>(
        self,
        target: Arc<T>,
        api: Option<cluster::ApiCounts>,
        mut leadership: Option<Leadership>,
        shutdown: CancellationToken,
    ) -> Result<Exit, Error>
    where
        T: Target + Background + Observe + Send + Sync + 'static,
    {
        let config = &self.config;
        let mut looped = Vec::new();
        let mut hooks = Vec::new();
        let mut ref_watches = Vec::new();
        let mut routes = Vec::new();
        let mut pushes = Vec::new();
        for s in &config.sources {
            let source = setup::source_of(s, &self.state_dir)?;
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
            hooks.push(HookSource {
                name: s.name.clone(),
                // A checkout on this machine is pushed to through its
                // origin: a push event names that.
                repo: source.push_url().unwrap_or_else(|| s.repo.clone()),
                reference: s.reference.clone(),
                secret: s
                    .webhook_secret
                    .as_ref()
                    .map(|r| {
                        setup::read_secret(r)
                            .map(|secret| secret.expose().as_bytes().to_vec())
                            .map_err(|e| setup::Error::from_secret(&s.name, e))
                    })
                    .transpose()?,
                trigger: trigger.handle(),
            });
            routes.push(setup::route_of(config, s, &source)?);
            let push_notes = config.reporters.push_notes;
            pushes.push((s.name.clone(), source.clone(), push_notes));
            looped.push(Looped {
                name: s.name.clone(),
                source,
                trigger,
                ready: Arc::new(Readiness::default()),
                push_notes,
                allow_secrets: s.allow_secrets,
            });
        }
        let receivers = config
            .notifications
            .iter()
            .map(setup::receiver_of)
            .collect::<Result<Vec<_>, _>>()?;
        routes.extend(receivers.iter().map(setup::notify_route));
        let undelivered: statuses::Undelivered =
            Arc::new(|e: &str| warn!("status not delivered yet: {e}"));
        let (statuses, reporter) =
            Statuses::start(&self.state_dir, routes, undelivered).map_err(Error::Statuses)?;
        let metrics = Arc::new(Metrics::new(api));
        let readiness: Vec<(String, Arc<Readiness>)> = looped
            .iter()
            .map(|l| (l.name.clone(), l.ready.clone()))
            .collect();
        let leading = Arc::new(AtomicBool::new(leadership.is_none()));
        // Pushes reaching a standby go to the leader through the Lease.
        let relay = leadership.as_ref().map(Leadership::relay);
        let triggers: Vec<(String, Handle)> = hooks
            .iter()
            .map(|h| (h.name.clone(), h.trigger.clone()))
            .collect();
        let endpoints = Arc::new(http::Service {
            sources: hooks,
            not_ready: Box::new(move || {
                readiness
                    .iter()
                    .filter_map(|(name, r)| r.why_not(name))
                    .collect()
            }),
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
            .map_err(|source| Error::Listen {
                addr: config.listen.clone(),
                source,
            })?;
        info!(
            "serving {} source(s); HTTP on {} (hooks, healthz, readyz, metrics)",
            config.sources.len(),
            listener
                .local_addr()
                .map_or(config.listen.clone(), |a| a.to_string())
        );

        // Every long-lived task, in one place. `shutdown` ends them all;
        // `work` (the loops and what feeds them) ends first, then the
        // outbox is flushed, then the listener stops.
        let mut tasks = JoinSet::new();
        let work = shutdown.child_token();
        tasks.spawn({
            let shutdown = shutdown.clone();
            async move {
                tokio::select! {
                    () = terminated() => {
                        info!("stopping: no new reconciles; applies in flight finish");
                        shutdown.cancel();
                    }
                    () = shutdown.cancelled() => {}
                }
            }
        });
        tasks.spawn(super::listener::serve(
            listener,
            http::router(endpoints),
            shutdown.clone(),
        ));
        tasks.spawn({
            let (target, work) = (target.clone(), work.clone());
            async move { target.run_cronjobs(work).await }
        });

        let mut exit = Exit::Stopped;
        let leads = match &mut leadership {
            None => true,
            Some(l) => {
                info!(lease = %l.lease, identity = %l.identity, "standby until this replica holds the leader Lease");
                tokio::select! {
                    got = l.acquired() => {
                        if !got {
                            error!(lease = %l.lease, "the leader election ended");
                            exit = Exit::ElectionEnded;
                        }
                        got
                    }
                    () = shutdown.cancelled() => false,
                }
            }
        };
        if leads {
            leading.store(true, Ordering::SeqCst);
            if let Some(l) = &leadership {
                info!(lease = %l.lease, identity = %l.identity, "leading: this replica reconciles");
            }
            tasks.spawn({
                let (target, statuses, metrics, work) = (
                    target.clone(),
                    statuses.clone(),
                    metrics.clone(),
                    work.clone(),
                );
                async move {
                    let mut sink = Logged { metrics: &metrics };
                    tokio::select! {
                        () = runs::follow(target.as_ref(), &statuses, &mut sink) => {}
                        () = work.cancelled() => {}
                    }
                }
            });
            tasks.spawn({
                let (target, statuses, metrics, work) = (
                    target.clone(),
                    statuses.clone(),
                    metrics.clone(),
                    work.clone(),
                );
                let (interval, policy) = (config.health.interval, config.health.policy);
                async move {
                    let watch = super::health::Watch {
                        interval,
                        policy,
                        statuses: &statuses,
                        metrics: &metrics,
                        receivers: &receivers,
                    };
                    super::health::watch(target.as_ref(), watch, work).await;
                }
            });
            if let Some(relay) = relay {
                let work = work.clone();
                tasks.spawn(async move {
                    let receive = relay.receive(|source| {
                        info!(source, "a push relayed by a standby");
                        if let Some((_, trigger)) = triggers.iter().find(|(n, _)| n == source) {
                            trigger.fire(Reason::Webhook);
                        }
                    });
                    tokio::select! {
                        () = receive => {}
                        () = work.cancelled() => {}
                    }
                });
            }
            let shared = Shared {
                policy: Policy {
                    allow_empty: config.prune.allow_empty,
                    max_prune_share: config.prune.max_share,
                    force_prune: config.prune.force,
                    correct_drift: config.correct_drift,
                    prune: true,
                },
                concurrency: config.concurrency,
                metrics: &metrics,
                statuses: &statuses,
                leader: leadership.as_ref(),
            };
            let loops = serve::run(target.as_ref(), looped, &shared, work.clone());
            let lost = async {
                match &leadership {
                    Some(l) => l.watcher().lost().await,
                    None => std::future::pending().await,
                }
            };
            let demoted = tokio::select! {
                ended = loops => ended == Ended::Demoted,
                () = lost => true,
            };
            if demoted {
                leading.store(false, Ordering::SeqCst);
                if let Some(l) = &leadership {
                    error!(lease = %l.lease, identity = %l.identity, "lost the leader Lease: stopped at once; exiting to restart as a standby");
                }
                exit = Exit::LostLease;
            }
        }
        // The loops are done: stop what feeds them, then deliver what is
        // left (not after losing the Lease: another replica reports now).
        work.cancel();
        if exit != Exit::LostLease {
            serve::flush(&statuses, &pushes, FLUSH_GRACE).await;
        }
        drop(statuses);
        let _ = reporter.await;
        if let Some(l) = leadership
            && exit == Exit::Stopped
        {
            l.release(Duration::from_secs(5)).await;
        }
        drop(ref_watches);
        shutdown.cancel();
        while tasks.join_next().await.is_some() {}
        Ok(exit)
    }
}

/// What the CronJob-run reporter does besides reporting: log each run
/// and count its end.
struct Logged<'a> {
    metrics: &'a Metrics,
}

impl Sink for Logged<'_> {
    fn reported(&mut self, run: Reported<'_>) {
        match run.event {
            RunEvent::Started { job, .. } => info!(
                source = run.source,
                cronjob = job.owner_cronjob.as_deref(),
                "Job {}/{} of CronJob {} started",
                job.namespace,
                job.name,
                job.owner_cronjob.as_deref().unwrap_or_default()
            ),
            RunEvent::Ended(o) => {
                self.metrics.run_ended(o.result);
                info!(
                    source = run.source,
                    cronjob = o.cronjob.as_deref(),
                    "Job {}/{} of CronJob {}: {}{}",
                    o.namespace,
                    o.name,
                    o.cronjob.as_deref().unwrap_or_default(),
                    o.result,
                    o.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
            }
            RunEvent::Pod { .. } => {}
        }
    }

    fn trouble(&mut self, what: &str) {
        warn!("CronJob runs: {what}");
    }
}

/// What a target runs besides reconciles, while the service runs: the
/// local executor fires CronJobs on schedule; a cluster's own controller
/// does that.
pub trait Background {
    /// Runs until `until` is cancelled.
    fn run_cronjobs(&self, until: CancellationToken) -> impl Future<Output = ()> + Send;
}

impl Background for Executor {
    async fn run_cronjobs(&self, until: CancellationToken) {
        if let Err(e) = self.serve(until.cancelled()).await {
            error!("the local executor stopped: {e}");
        }
    }
}

impl Background for KubeTarget {
    async fn run_cronjobs(&self, until: CancellationToken) {
        until.cancelled().await;
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn terminated() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}
