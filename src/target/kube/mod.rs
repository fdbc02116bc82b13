//! The Kubernetes target: Jobs and CronJobs applied to a cluster with
//! server-side apply (field manager `jobcd`), live state from watches
//! (reflectors on objects carrying jobcd's managed-by label, in an allowlist
//! of namespaces), run outcomes from a watch on the Jobs jobcd or its
//! CronJobs created, and the run-once ledger in a ConfigMap per source.
//!
//! A changed Job is never patched (its template is immutable): it is
//! deleted with background propagation, jobcd waits until it is gone, and
//! creates it again. Nothing is ever forced: a field another manager owns
//! is a conflict to resolve, not to overwrite.

mod apply;
mod cache;
mod client;
mod error;
mod follow;
mod ledger;
mod live;
mod owned;
mod tenants;
mod watches;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use kube::{Api, Client};
use tokio::sync::broadcast;

pub use client::{ApiCounts, Connection};
pub use error::Error;
pub use follow::{CronJobHealth, CronJobRun};
pub use tenants::Tenant;

use crate::manifest::{Kind, ObjectRef};
use crate::ownership;
use crate::target::{
    Applied, Desired, JobRef, Ledger, Live, Operation, Outcome, RunEvent, RunResult, Target,
};
use live::live_of;

/// The field manager of everything jobcd applies.
pub const FIELD_MANAGER: &str = "jobcd";
/// Label put on a CronJob's Job template, so the Jobs it creates can be
/// watched for their outcome (they are the CronJob's, not jobcd's: they
/// carry no managed-by label and are never pruned).
pub const SCHEDULED_FOR: &str = "jobcd.dev/scheduled-for";
/// How long to wait for a deleted Job to be gone before re-creating it.
const GONE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long to wait for the first list of every watch.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to reach the cluster and what to manage.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Kubeconfig and context.
    pub connection: Connection,
    /// Namespaces jobcd manages (default: the configuration's namespace).
    pub namespaces: Vec<String>,
    /// Where the run-once ledgers live (default: the configuration's namespace).
    pub ledger_namespace: Option<String>,
    /// Apply with the server's dry run: validated and admitted, never stored.
    pub dry_run: bool,
    /// The sources confined to some namespaces, or to an identity, by name.
    pub tenants: std::collections::BTreeMap<String, Tenant>,
}

/// A cluster, as a [`Target`].
pub struct KubeTarget {
    client: Client,
    /// Each confined source's namespaces and client.
    tenants: tenants::Tenants,
    namespaces: Vec<String>,
    own_namespace: String,
    jobs: Vec<Store<DynamicObject>>,
    cronjobs: Vec<cache::LiveCache>,
    /// The ConfigMaps of jobcd's sources, per managed namespace (the
    /// run-once ledgers, which carry no source, are not among them).
    config_maps: Vec<cache::LiveCache>,
    /// Each source's ledger, created on first use and shared with the
    /// followers.
    ledgers: follow::Ledgers,
    events: broadcast::Sender<RunEvent>,
    health: follow::Health,
    /// One per follower: whether its first list is done.
    followed: Vec<tokio::sync::watch::Receiver<bool>>,
    counts: ApiCounts,
    dry_run: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// The first refusal a watch met (401, 403, 404): waiting for its list
    /// would only time out.
    refused: Refused,
}

/// Where watches leave a refusal for the waiters to report.
pub(super) type Refused = Arc<Mutex<Option<Error>>>;

/// Keeps the first refusal `event` carries, if it is one.
pub(super) fn note_refusal<T>(refused: &Refused, what: &str, event: &Result<T, watcher::Error>) {
    if let Err(e) = event
        && let Some(error) = Error::of_watch(what, e)
    {
        refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(error);
    }
}

impl Drop for KubeTarget {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::Job => ApiResource::erase::<Job>(&()),
        Kind::CronJob => ApiResource::erase::<CronJob>(&()),
        Kind::ConfigMap => ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    }
}

impl KubeTarget {
    /// The position of `namespace` among the watched ones (the index of
    /// its caches), if it is watched.
    fn namespace_at(&self, namespace: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n == namespace)
    }

    /// The Job `name` of the `at`th watched namespace, from its reflector
    /// by key (not a scan of every Job).
    fn cached_job(&self, at: usize, name: &str) -> Option<Arc<DynamicObject>> {
        let key =
            reflector::ObjectRef::new_with(name, resource(Kind::Job)).within(&self.namespaces[at]);
        self.jobs[at].get(&key)
    }

    /// Connects and starts watching. Returns at once; the first `live()`
    /// waits for the watches' first lists.
    pub async fn connect(settings: Settings) -> Result<KubeTarget, Error> {
        let counts = ApiCounts::default();
        let (client, default_namespace) = client::connect(&settings.connection, &counts)
            .await
            .map_err(|e| Error::Connect(std::sync::Arc::new(e)))?;
        let namespaces = if settings.namespaces.is_empty() {
            vec![default_namespace.clone()]
        } else {
            settings.namespaces.clone()
        };
        let (events, _) = broadcast::channel(crate::target::EVENT_BUFFER);
        let own_namespace = settings
            .ledger_namespace
            .clone()
            .unwrap_or(default_namespace);
        let tenants = tenants::Tenants::connect(
            client.clone(),
            &settings.connection,
            &counts,
            &settings.tenants,
        )
        .await?;
        let ledgers = ledger::ledgers(tenants.clone(), own_namespace.clone());
        let mut target = KubeTarget {
            client,
            tenants,
            namespaces,
            own_namespace,
            jobs: Vec::new(),
            cronjobs: Vec::new(),
            config_maps: Vec::new(),
            ledgers,
            events,
            health: Arc::default(),
            followed: Vec::new(),
            counts,
            dry_run: settings.dry_run,
            tasks: Vec::new(),
            refused: Refused::default(),
        };
        let managed = format!("{}={}", ownership::MANAGED_BY, ownership::MANAGER);
        for namespace in target.namespaces.clone() {
            let jobs = target.reflect(Kind::Job, &namespace, &managed);
            target.jobs.push(jobs);
            let (cronjobs, task) = cache::LiveCache::spawn(
                target.api(Kind::CronJob, &namespace),
                Kind::CronJob,
                &managed,
                target.refused.clone(),
                format!("CronJobs in namespace {namespace}"),
            );
            target.tasks.push(task);
            target.cronjobs.push(cronjobs);
            let (config_maps, task) = cache::LiveCache::spawn(
                target.api(Kind::ConfigMap, &namespace),
                Kind::ConfigMap,
                &format!("{managed},{}", ownership::SOURCE),
                target.refused.clone(),
                format!("ConfigMaps in namespace {namespace}"),
            );
            target.tasks.push(task);
            target.config_maps.push(config_maps);
            // jobcd's Jobs, and the Jobs its CronJobs create.
            for labels in [managed.as_str(), SCHEDULED_FOR] {
                let (listed, followed) = tokio::sync::watch::channel(false);
                let task = follow::spawn(
                    target.api(Kind::Job, &namespace),
                    &namespace,
                    labels,
                    follow::Sinks {
                        events: target.events.clone(),
                        ledgers: target.ledgers.clone(),
                        health: target.health.clone(),
                        listed,
                        refused: target.refused.clone(),
                    },
                );
                target.tasks.push(task);
                target.followed.push(followed);
            }
        }
        Ok(target)
    }

    /// The runs of every CronJob that made Jobs, from the Jobs it created
    /// (last success, last failure, the latest outcome, each Job); waits
    /// for the watches' first lists.
    pub async fn cronjob_health(&self) -> Result<Vec<CronJobHealth>, Error> {
        for followed in &self.followed {
            let mut followed = followed.clone();
            self.until_listed(followed.wait_for(|listed| *listed), "Jobs")
                .await?
                .map_err(|_| Error::Timeout("the Job watch stopped".into()))?;
        }
        let mut all: Vec<CronJobHealth> = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| (&a.namespace, &a.cronjob).cmp(&(&b.namespace, &b.cronjob)));
        Ok(all)
    }

    /// The CronJobs jobcd manages, as [`Target::live`] has them; waits
    /// for the watches' first lists.
    pub async fn live_cronjobs(&self) -> Result<Vec<Live>, Error> {
        self.ready().await?;
        Ok(self
            .cronjobs
            .iter()
            .flat_map(cache::LiveCache::live)
            .collect())
    }

    /// Every Job the watches hold (managed or made by a managed CronJob,
    /// in the managed namespaces); waits for their first lists.
    pub async fn jobs(&self) -> Result<Vec<Arc<DynamicObject>>, Error> {
        self.ready().await?;
        Ok(self.jobs.iter().flat_map(Store::state).collect())
    }

    /// Requests sent so far, by verb.
    pub fn api_counts(&self) -> &ApiCounts {
        &self.counts
    }

    /// The client, for jobcd's own objects (the leader Lease).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// jobcd's own namespace: the ledgers' and the leader Lease's.
    pub fn own_namespace(&self) -> &str {
        &self.own_namespace
    }

    /// The namespaces jobcd manages.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Refuses a revision with an object outside the managed namespaces,
    /// or outside its source's, before anything is applied.
    pub fn check(&self, desired: &[Desired]) -> Result<(), Error> {
        for d in desired {
            let id = &d.object.id;
            if !self.namespaces.contains(&id.namespace) {
                return Err(Error::NamespaceNotAllowed {
                    object: id.to_string(),
                    at: d.object.location.to_string(),
                    namespace: id.namespace.clone(),
                    allowed: format!("managed: {}", self.namespaces.join(", ")),
                });
            }
            self.tenants.check(d)?;
        }
        Ok(())
    }

    /// jobcd's own view of `kind` in `namespace` (the watches).
    fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &resource(kind))
    }

    /// `kind` in `namespace` as `source` calls it (impersonating its
    /// ServiceAccount, when it has one).
    fn api_as(&self, source: &str, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.tenants.client(source).clone(),
            namespace,
            &resource(kind),
        )
    }
}

impl Target for KubeTarget {
    type Error = Error;

    async fn live(&self) -> Result<Vec<Live>, Error> {
        self.ready().await?;
        let mut live: Vec<Live> = self
            .jobs
            .iter()
            .flat_map(|s| s.state())
            .filter_map(|o| live_of(Kind::Job, &o))
            .chain(self.cronjobs.iter().flat_map(cache::LiveCache::live))
            .chain(self.config_maps.iter().flat_map(cache::LiveCache::live))
            .collect();
        live.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(live)
    }

    async fn live_for(&self, source: &str, wanted: &[ObjectRef]) -> Result<Vec<Live>, Error> {
        self.ready().await?;
        let mut live = Vec::new();
        for (at, namespace) in self.namespaces.iter().enumerate() {
            let names = |kind: Kind| -> Vec<&str> {
                wanted
                    .iter()
                    .filter(|id| id.kind == kind && id.namespace == *namespace)
                    .map(|id| id.name.as_str())
                    .collect()
            };
            live.extend(self.cronjobs[at].concerning(source, &names(Kind::CronJob)));
            live.extend(self.config_maps[at].concerning(source, &names(Kind::ConfigMap)));
            // Jobs are kept whole by the reflector: pick by label and name
            // before reading them as live objects.
            let jobs = names(Kind::Job);
            live.extend(
                self.jobs[at]
                    .state()
                    .iter()
                    .filter(|o| {
                        let labelled = o
                            .metadata
                            .labels
                            .as_ref()
                            .and_then(|l| l.get(ownership::SOURCE))
                            .is_some_and(|s| s == source);
                        labelled
                            || o.metadata
                                .name
                                .as_deref()
                                .is_some_and(|n| jobs.contains(&n))
                    })
                    .filter_map(|o| live_of(Kind::Job, o)),
            );
        }
        live.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(live)
    }

    async fn live_object(&self, id: &ObjectRef) -> Result<Option<Live>, Error> {
        self.ready().await?;
        let Some(at) = self.namespace_at(&id.namespace) else {
            return Ok(None);
        };
        Ok(match id.kind {
            Kind::CronJob => self.cronjobs[at].get(&id.name),
            Kind::ConfigMap => self.config_maps[at].get(&id.name),
            Kind::Job => self
                .cached_job(at, &id.name)
                .and_then(|o| live_of(Kind::Job, &o)),
        })
    }

    async fn ledger(&self, source: &str) -> Result<Ledger, Error> {
        self.ledger_of(source).read().await
    }

    async fn admit(&self, desired: &[Desired]) -> Result<(), Error> {
        self.check(desired)?;
        self.ready().await?;
        // Only objects jobcd does not manage yet are looked up: a
        // revision with nothing new costs no request. Each object is
        // looked for in its own cache: gathering every cached name first
        // cost each reconcile of one source as much as the whole fleet
        // has objects.
        let managed = |id: &ObjectRef| {
            let Some(at) = self.namespace_at(&id.namespace) else {
                return false;
            };
            match id.kind {
                Kind::CronJob => self.cronjobs[at].holds(&id.name),
                Kind::ConfigMap => self.config_maps[at].holds(&id.name),
                Kind::Job => self.cached_job(at, &id.name).is_some(),
            }
        };
        let mut conflicts = Vec::new();
        for d in desired {
            let id = &d.object.id;
            if managed(id) {
                continue;
            }
            if let Err(e) = self.refuse_foreign(d).await {
                match e {
                    Error::Api {
                        code: Some(409), ..
                    } => conflicts.push(format!("{e} ({})", d.object.location)),
                    other => return Err(other),
                }
            }
        }
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(Error::Conflicts(conflicts.join("; ")))
        }
    }

    async fn apply(&self, operation: &Operation) -> Result<Applied, Error> {
        match operation {
            Operation::Create(d) => {
                self.check(std::slice::from_ref(d))?;
                let created = self.server_apply(d, false).await?;
                match d.object.id.kind {
                    Kind::Job => self.started(d, &created).await,
                    Kind::CronJob | Kind::ConfigMap => Ok(Applied::Done),
                }
            }
            Operation::Update(d) => {
                self.check(std::slice::from_ref(d))?;
                self.server_apply(d, false).await?;
                Ok(Applied::Done)
            }
            Operation::Revert(d) => {
                self.check(std::slice::from_ref(d))?;
                self.server_apply(d, true).await?;
                Ok(Applied::Done)
            }
            Operation::Recreate(d) => {
                self.check(std::slice::from_ref(d))?;
                let id = &d.object.id;
                self.delete(&d.source, id).await?;
                if self.dry_run {
                    return self.dry_run_create(d).await;
                }
                self.gone(&d.source, id).await?;
                let created = self.server_apply(d, false).await?;
                self.started(d, &created).await
            }
            Operation::Prune(id) => {
                // Deleted as the source that manages it (a plan prunes
                // only its own source's objects); gone already if the
                // caches no longer hold it.
                if let Some(source) = self.live_object(id).await?.and_then(|l| l.source) {
                    self.delete(&source, id).await?;
                }
                Ok(Applied::Done)
            }
        }
    }

    fn events(&self) -> broadcast::Receiver<RunEvent> {
        self.events.subscribe()
    }

    async fn outcome(&self, job: &JobRef) -> Result<Option<Outcome>, Error> {
        let cached = self
            .jobs
            .iter()
            .flat_map(|s| s.state())
            .find(|o| o.metadata.uid.as_deref() == Some(job.uid.as_str()));
        Ok(match cached {
            Some(o) => {
                follow::terminal(&o).map(|(result, reason)| follow::outcome(&o, result, reason))
            }
            None => Some(Outcome {
                uid: job.uid.clone(),
                namespace: job.namespace.clone(),
                name: job.name.clone(),
                cronjob: job.owner_cronjob.clone(),
                result: RunResult::Deleted,
                reason: None,
                message: None,
                failed: 0,
                succeeded: 0,
            }),
        })
    }

    async fn latest_runs(&self) -> Result<Vec<Outcome>, Error> {
        Ok(self
            .cronjob_health()
            .await?
            .into_iter()
            .filter_map(|h| h.latest)
            .collect())
    }

    fn in_flight(&self) -> Vec<JobRef> {
        self.jobs
            .iter()
            .flat_map(|s| s.state())
            .filter(|o| follow::terminal(o).is_none())
            .filter(|o| live_of(Kind::Job, o).is_some())
            .map(|o| JobRef {
                uid: o.metadata.uid.clone().unwrap_or_default(),
                namespace: o.metadata.namespace.clone().unwrap_or_default(),
                name: o.metadata.name.clone().unwrap_or_default(),
                owner_cronjob: None,
            })
            .collect()
    }

    async fn settle(&self) -> Result<(), Error> {
        // The cluster's own controllers clean up (TTL, history limits).
        Ok(())
    }
}
