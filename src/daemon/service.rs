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

use super::background::Background;
use super::board::Board;
use super::dashboard::{self, Dashboard, Inspect, Role};
use super::followers::{Followers, Owns};
use super::http::{self, HookSource, Relay};
use super::leader::{self, Leadership};
use super::metrics::Metrics;
use super::serve::{self, Ended, FLUSH_GRACE, Looped, Scope, Shared};
use super::setup;
use super::shards::{self, Shards};
use super::trigger::{Handle, Reason, Trigger};
use crate::config::{self, Config};
use crate::health::observe::Observe;
use crate::plan::Policy;
use crate::report::statuses::{self, Statuses};
use crate::source::watch::{DEFAULT_DEBOUNCE, RefWatch};
use crate::target::Target;
use crate::target::kube::{self as cluster, KubeTarget};
use crate::target::local::{Executor, Isolation, StartError as ExecutorStartError, SystemClock};

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
    /// The dashboard's credentials.
    #[error("dashboard: reading its credentials")]
    Dashboard(#[source] setup::SecretError),
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
                    .serve(executor.clone(), None, Election::Alone, shutdown.clone())
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
                    tenants: self
                        .config
                        .sources
                        .iter()
                        .filter(|s| s.tenancy != config::Tenancy::default())
                        .map(|s| {
                            let tenant = cluster::Tenant {
                                namespaces: s.tenancy.namespaces.clone(),
                                impersonate: s
                                    .tenancy
                                    .service_account
                                    .as_ref()
                                    .map(config::ServiceAccount::user),
                            };
                            (s.name.clone(), tenant)
                        })
                        .collect(),
                })
                .await
                .map_err(Error::Kube)?;
                let election = match &self.config.leader_election {
                    Some(settings) if settings.shards > 1 => {
                        Election::Sharded(Arc::new(Shards::new(
                            target.client().clone(),
                            target.own_namespace(),
                            settings,
                            &leader::identity(),
                        )))
                    }
                    Some(settings) => Election::Leader(Box::new(
                        leader::join(
                            target.client().clone(),
                            target.own_namespace(),
                            settings,
                            &leader::identity(),
                        )
                        .await?,
                    )),
                    None => Election::Alone,
                };
                let api = Some(target.api_counts().clone());
                self.serve(Arc::new(target), api, election, shutdown).await
            }
        }
    }

    /// Serves on `target`: the one place the service's tasks start.
    async fn serve<T>(
        self,
        target: Arc<T>,
        api: Option<cluster::ApiCounts>,
        mut election: Election,
        shutdown: CancellationToken,
    ) -> Result<Exit, Error>
    where
        T: Target + Background + Observe + Inspect + Send + Sync + 'static,
    {
        let config = &self.config;
        let board = Arc::new(Board::new(
            config
                .sources
                .iter()
                .map(|s| (s.name.clone(), s.repo.clone(), s.reference.clone())),
        ));
        let mut looped = Vec::new();
        let mut hooks = Vec::new();
        let mut ref_watches = Vec::new();
        let mut routes = Vec::new();
        let mut pushes = Vec::new();
        let mut forges = std::collections::BTreeMap::new();
        for (s, card) in config.sources.iter().zip(board.cards()) {
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
                repo: super::webhook::RepositoryKey::of(
                    &source.push_url().unwrap_or_else(|| s.repo.clone()),
                ),
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
            let route = setup::route_of(config, s, &source)?;
            if let Some(forge) = route.remember.as_ref().and_then(|r| r.forge.clone()) {
                forges.insert(s.name.clone(), forge);
            }
            routes.push(route);
            let push_notes = config.reporters.push_notes;
            pushes.push((s.name.clone(), source.clone(), push_notes));
            looped.push(Looped {
                name: s.name.clone(),
                source,
                trigger,
                card: card.clone(),
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
        let leading = Arc::new(AtomicBool::new(matches!(election, Election::Alone)));
        let owns: Owns = match &election {
            Election::Sharded(shards) => {
                let shards = shards.clone();
                Arc::new(move |name| shards.owns(name))
            }
            Election::Alone | Election::Leader(_) => {
                let leading = leading.clone();
                Arc::new(move |_| leading.load(Ordering::SeqCst))
            }
        };
        // Pushes reaching a replica that does not reconcile their source go
        // to the one that does through the (coordination) Lease.
        let relay = match &election {
            Election::Alone => None,
            Election::Leader(l) => Some(l.relay()),
            Election::Sharded(shards) => Some(shards.relay()),
        };
        let triggers: Vec<(String, Handle)> = hooks
            .iter()
            .map(|h| (h.name.clone(), h.trigger.clone()))
            .collect();
        // This replica's part, for readiness and the dashboard.
        let role = role_of(&election, &leading);
        let endpoints = Arc::new(http::Service {
            sources: hooks,
            not_ready: Box::new({
                let (owns, board) = (owns.clone(), board.clone());
                move || {
                    board
                        .cards()
                        .iter()
                        .filter(|card| owns(&card.name))
                        .filter_map(|card| card.why_not())
                        .collect()
                }
            }),
            standby: Box::new({
                let role = role.clone();
                move || match role() {
                    Role::Standby(why) => Some(why),
                    Role::Alone | Role::Leader | Role::Shards => None,
                }
            }),
            owns: owns.clone(),
            others: match &election {
                Election::Sharded(_) => "the replica holding its shard",
                Election::Alone | Election::Leader(_) => "the leader",
            },
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
            deliveries: Default::default(),
        });
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: config.listen.clone(),
                source,
            })?;
        info!(
            "serving {} source(s); HTTP on {} (hooks, healthz, readyz, metrics{})",
            config.sources.len(),
            listener
                .local_addr()
                .map_or(config.listen.clone(), |a| a.to_string()),
            if config.dashboard.enabled {
                ", dashboard at /ui/"
            } else {
                ""
            }
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
        let mut router = http::router(endpoints);
        if config.dashboard.enabled {
            let auth = dashboard::Auth {
                token: config
                    .dashboard
                    .token
                    .as_ref()
                    .map(setup::read_secret)
                    .transpose()
                    .map_err(Error::Dashboard)?,
                basic: match &config.dashboard.basic {
                    Some((user, password)) => Some((
                        user.clone(),
                        setup::read_secret(password).map_err(Error::Dashboard)?,
                    )),
                    None => None,
                },
            };
            router = router.merge(dashboard::router(Arc::new(Dashboard {
                target: target.clone(),
                target_kind: T::KIND,
                board: board.clone(),
                state_dir: self.state_dir.clone(),
                stop: shutdown.clone(),
                role: role.clone(),
                owns: owns.clone(),
                forges,
                health: config.health.policy,
                auth,
            })));
        }
        tasks.spawn(super::listener::serve(listener, router, shutdown.clone()));
        tasks.spawn({
            let (target, work) = (target.clone(), work.clone());
            async move { target.run_cronjobs(work).await }
        });

        let followers = Followers {
            target: target.clone(),
            statuses: statuses.clone(),
            metrics: metrics.clone(),
            work: work.clone(),
            owns: owns.clone(),
        };
        let policy = Policy {
            allow_empty: config.prune.allow_empty,
            max_prune_share: config.prune.max_share,
            force_prune: config.prune.force,
            correct_drift: config.correct_drift,
            prune: true,
        };
        let mut exit = Exit::Stopped;
        let leads = match &mut election {
            Election::Alone | Election::Sharded(_) => true,
            Election::Leader(l) => {
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
            if let Election::Leader(l) = &election {
                info!(lease = %l.lease, identity = %l.identity, "leading: this replica reconciles");
            }
            followers.spawn(&mut tasks, &config.health, receivers);
            if let Some(relay) = relay {
                followers.receive(&mut tasks, relay, triggers.clone());
            }
            let shared = |scope| Shared {
                policy,
                concurrency: config.concurrency,
                metrics: &metrics,
                statuses: &statuses,
                scope,
            };
            let lost = match &election {
                Election::Alone => {
                    serve::run(
                        target.as_ref(),
                        looped,
                        &shared(Scope::All(None)),
                        work.clone(),
                    )
                    .await;
                    false
                }
                Election::Leader(l) => {
                    let shared = shared(Scope::All(Some(l)));
                    let loops = serve::run(target.as_ref(), looped, &shared, work.clone());
                    let mut holding = l.watcher();
                    let demoted = tokio::select! {
                        ended = loops => ended == Ended::Demoted,
                        () = holding.lost() => true,
                    };
                    if demoted {
                        error!(lease = %l.lease, identity = %l.identity, "lost the leader Lease: stopped at once; exiting to restart as a standby");
                    }
                    demoted
                }
                Election::Sharded(shards) => {
                    followers.take_over(&mut tasks, shards.clone(), triggers);
                    let shared = shared(Scope::Sharded(shards));
                    let loops = serve::run(target.as_ref(), looped, &shared, work.clone());
                    sharded(shards, loops).await
                }
            };
            if lost {
                leading.store(false, Ordering::SeqCst);
                exit = Exit::LostLease;
            }
        }
        // The loops are done: stop what feeds them, then deliver what is
        // left (not after losing the Lease: another replica reports now).
        work.cancel();
        if exit != Exit::LostLease {
            serve::flush(&statuses, &pushes, FLUSH_GRACE).await;
        }
        // The reporter ends once every handle on it is gone.
        drop((statuses, followers));
        let _ = reporter.await;
        if let Election::Leader(l) = election
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

/// How this replica shares the work with other replicas.
enum Election {
    /// It is the only one.
    Alone,
    /// The replica holding the leader Lease reconciles every source.
    Leader(Box<Leadership>),
    /// Each replica reconciles the sources of the shards it holds.
    Sharded(Arc<Shards>),
}

/// Runs the loops of a sharded replica alongside its part in the
/// sharding; true when a shard was lost (stop at once). When the loops
/// end (shutdown), the shards are released, after the applies in flight.
async fn sharded(shards: &Shards, loops: impl Future<Output = Ended>) -> bool {
    let coordination = CancellationToken::new();
    let taking_part = shards.run(coordination.clone());
    let mut taking_part = std::pin::pin!(taking_part);
    let lost = tokio::select! {
        _ = loops => None,
        ended = &mut taking_part => match ended {
            shards::Ended::Lost(index) => Some(index),
            shards::Ended::Stopped => None,
        },
    };
    match lost {
        Some(index) => {
            error!(
                shard = index,
                identity = shards.identity(),
                "could not renew the Lease of shard {index} in time: stopped at once; exiting to restart"
            );
            true
        }
        None => {
            coordination.cancel();
            taking_part.await;
            false
        }
    }
}

/// Whether this replica reconciles, for the dashboard's header.
fn role_of(election: &Election, leading: &Arc<AtomicBool>) -> Arc<dyn Fn() -> Role + Send + Sync> {
    match election {
        Election::Alone => Arc::new(|| Role::Alone),
        Election::Leader(_) => {
            let leading = leading.clone();
            Arc::new(move || {
                if leading.load(Ordering::SeqCst) {
                    Role::Leader
                } else {
                    Role::Standby("another replica holds the leader Lease")
                }
            })
        }
        Election::Sharded(shards) => {
            let shards = shards.clone();
            Arc::new(move || {
                if shards.holds_any() {
                    Role::Shards
                } else {
                    Role::Standby("other replicas hold every shard")
                }
            })
        }
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
