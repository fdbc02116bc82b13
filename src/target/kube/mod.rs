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

mod client;
mod error;
mod follow;
mod ledger;
mod owned;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use serde_json::Value;
use tokio::sync::broadcast;

pub use client::{ApiCounts, Connection};
pub use error::Error;
pub use follow::CronJobHealth;

use crate::manifest::{Kind, ObjectRef};
use crate::plan::ownership::{self, Owner, Stamp};
use crate::target::{Applied, Desired, JobRef, Ledger, Live, Operation, Outcome, Target};
use ledger::ClusterLedger;

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
/// Attempts of a request that failed in a way a retry can help.
const ATTEMPTS: u32 = 4;

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
}

/// A cluster, as a [`Target`].
pub struct KubeTarget {
    client: Client,
    namespaces: Vec<String>,
    ledger_namespace: String,
    jobs: Vec<Store<DynamicObject>>,
    cronjobs: Vec<Store<DynamicObject>>,
    ledgers: Arc<Mutex<HashMap<String, Arc<ClusterLedger>>>>,
    outcomes: broadcast::Sender<Outcome>,
    health: follow::Health,
    /// One per follower: whether its first list is done.
    followed: Vec<tokio::sync::watch::Receiver<bool>>,
    counts: ApiCounts,
    dry_run: bool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
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
    }
}

impl KubeTarget {
    /// Connects and starts watching. Returns at once; the first `live()`
    /// waits for the watches' first lists.
    pub async fn connect(settings: Settings) -> Result<KubeTarget, Error> {
        let counts = ApiCounts::default();
        let (client, default_namespace) = client::connect(&settings.connection, &counts)
            .await
            .map_err(Error::Config)?;
        let namespaces = if settings.namespaces.is_empty() {
            vec![default_namespace.clone()]
        } else {
            settings.namespaces.clone()
        };
        let (outcomes, _) = broadcast::channel(1024);
        let mut target = KubeTarget {
            ledger_namespace: settings
                .ledger_namespace
                .clone()
                .unwrap_or(default_namespace),
            client,
            namespaces,
            jobs: Vec::new(),
            cronjobs: Vec::new(),
            ledgers: Arc::default(),
            outcomes,
            health: Arc::default(),
            followed: Vec::new(),
            counts,
            dry_run: settings.dry_run,
            tasks: Vec::new(),
        };
        let managed = format!("{}={}", ownership::MANAGED_BY, ownership::MANAGER);
        for namespace in target.namespaces.clone() {
            for kind in [Kind::Job, Kind::CronJob] {
                let store = target.reflect(kind, &namespace, &managed);
                match kind {
                    Kind::Job => target.jobs.push(store),
                    Kind::CronJob => target.cronjobs.push(store),
                }
            }
            // jobcd's Jobs, and the Jobs its CronJobs create.
            for labels in [managed.as_str(), SCHEDULED_FOR] {
                let (listed, followed) = tokio::sync::watch::channel(false);
                let task = follow::spawn(
                    target.api(Kind::Job, &namespace),
                    labels,
                    target.outcomes.clone(),
                    target.ledger_lookup(),
                    target.health.clone(),
                    listed,
                );
                target.tasks.push(task);
                target.followed.push(followed);
            }
        }
        Ok(target)
    }

    /// The health of every CronJob that has finished runs, from the Jobs it
    /// created (last success, last failure, the latest outcome); waits for
    /// the watches' first lists.
    pub async fn cronjob_health(&self) -> Result<Vec<CronJobHealth>, Error> {
        for followed in &self.followed {
            let mut followed = followed.clone();
            tokio::time::timeout(READY_TIMEOUT, followed.wait_for(|listed| *listed))
                .await
                .map_err(|_| Error::Timeout("the API server did not list Jobs in time".into()))?
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

    /// Requests sent so far, by verb.
    pub fn api_counts(&self) -> &ApiCounts {
        &self.counts
    }

    /// The namespaces jobcd manages.
    pub fn namespaces(&self) -> &[String] {
        &self.namespaces
    }

    /// Refuses a revision with an object outside the managed namespaces,
    /// before anything is applied.
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
        }
        Ok(())
    }

    fn api(&self, kind: Kind, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), namespace, &resource(kind))
    }

    fn reflect(&mut self, kind: Kind, namespace: &str, labels: &str) -> Store<DynamicObject> {
        let writer = reflector::store::Writer::new(resource(kind));
        let reader = writer.as_reader();
        let stream = reflector::reflector(
            writer,
            watcher(
                self.api(kind, namespace),
                watcher::Config::default().labels(labels),
            )
            .default_backoff(),
        );
        self.tasks.push(tokio::spawn(async move {
            stream.for_each(|_| async {}).await;
        }));
        reader
    }

    /// How the follower finds a source's ledger.
    fn ledger_lookup(&self) -> follow::Ledgers {
        let (client, namespace, ledgers) = (
            self.client.clone(),
            self.ledger_namespace.clone(),
            self.ledgers.clone(),
        );
        Arc::new(move |source: &str| {
            let mut all = ledgers.lock().unwrap_or_else(|p| p.into_inner());
            all.entry(source.to_string())
                .or_insert_with(|| Arc::new(ClusterLedger::new(client.clone(), &namespace, source)))
                .clone()
        })
    }

    async fn ready(&self) -> Result<(), Error> {
        for store in self.jobs.iter().chain(&self.cronjobs) {
            tokio::time::timeout(READY_TIMEOUT, store.wait_until_ready())
                .await
                .map_err(|_| {
                    Error::Timeout(format!(
                        "the API server did not list Jobs and CronJobs within {} s; is it reachable?",
                        READY_TIMEOUT.as_secs()
                    ))
                })?
                .map_err(|e| Error::Timeout(e.to_string()))?;
        }
        Ok(())
    }

    /// `d` as applied: the user's manifest with jobcd's labels and
    /// annotations, and for a CronJob the label on its Job template.
    fn manifest(d: &Desired) -> Value {
        let mut value = d.object.manifest.to_json();
        ownership::stamp(
            &mut value,
            &Stamp {
                source: &d.source,
                revision: &d.revision,
                path: &d.object.location.file,
                spec_hash: &d.spec_hash,
            },
        );
        if d.object.id.kind == Kind::CronJob
            && let Some(template) = value
                .pointer_mut("/spec/jobTemplate")
                .and_then(Value::as_object_mut)
        {
            let metadata = template
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()));
            if let Some(metadata) = metadata.as_object_mut() {
                let labels = metadata
                    .entry("labels")
                    .or_insert_with(|| Value::Object(Default::default()));
                if let Some(labels) = labels.as_object_mut() {
                    labels.insert(SCHEDULED_FOR.into(), d.source.clone().into());
                }
            }
        }
        value
    }

    async fn server_apply(&self, d: &Desired) -> Result<DynamicObject, Error> {
        let id = &d.object.id;
        let api = self.api(id.kind, &id.namespace);
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.dry_run = self.dry_run;
        let manifest = Self::manifest(d);
        retry(|| async {
            api.patch(&id.name, &params, &Patch::Apply(&manifest))
                .await
                .map_err(|e| Error::api("apply", id, e))
        })
        .await
    }

    /// Before a create: an object of that name that jobcd does not manage
    /// for this source is a conflict, never adopted.
    async fn refuse_foreign(&self, d: &Desired) -> Result<(), Error> {
        let id = &d.object.id;
        let api = self.api(id.kind, &id.namespace);
        let found = retry(|| async {
            api.get_opt(&id.name)
                .await
                .map_err(|e| Error::api("read", id, e))
        })
        .await?;
        let Some(found) = found else {
            return Ok(());
        };
        let value = serde_json::to_value(&found).unwrap_or(Value::Null);
        match ownership::owner(&value) {
            Owner::Source(s) if s == d.source => Ok(()),
            owner => Err(Error::Api {
                action: "create",
                object: id.to_string(),
                message: match owner {
                    Owner::Source(s) => format!("it exists and source {s:?} manages it"),
                    Owner::Unmanaged => "it exists and jobcd does not manage it".into(),
                },
                hint: "; rename yours in git, or delete the live one (labelling it app.kubernetes.io/managed-by=jobcd and jobcd.dev/source=SOURCE hands it over instead)".into(),
                code: Some(409),
            }),
        }
    }

    async fn delete(&self, id: &ObjectRef) -> Result<Option<String>, Error> {
        let api = self.api(id.kind, &id.namespace);
        let mut params = DeleteParams::background();
        params.dry_run = self.dry_run;
        let deleted = retry(|| async {
            match api.delete(&id.name, &params).await {
                Ok(either) => Ok(either.left().and_then(|o| o.metadata.uid)),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                Err(e) => Err(Error::api("delete", id, e)),
            }
        })
        .await?;
        Ok(deleted)
    }

    /// Waits until the object is gone (a deleted Job's name is free).
    async fn gone(&self, id: &ObjectRef) -> Result<(), Error> {
        let api = self.api(id.kind, &id.namespace);
        let deadline = tokio::time::Instant::now() + GONE_TIMEOUT;
        loop {
            let found = retry(|| async {
                api.get_opt(&id.name)
                    .await
                    .map_err(|e| Error::api("read", id, e))
            })
            .await?;
            if found.is_none() {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::Timeout(format!(
                    "{id} was deleted but is still there after {} s (a finalizer?); it was not re-created",
                    GONE_TIMEOUT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn ledger_of(&self, source: &str) -> Arc<ClusterLedger> {
        (self.ledger_lookup())(source)
    }

    /// A Job run started: noted as `Running` in the ledger.
    async fn started(&self, d: &Desired, created: &DynamicObject) -> Result<Applied, Error> {
        if self.dry_run {
            return Ok(Applied::Done);
        }
        let id = &d.object.id;
        self.ledger_of(&d.source)
            .record(&id.namespace, &id.name, &d.spec_hash, "Running")
            .await?;
        Ok(Applied::RunStarted {
            uid: created.metadata.uid.clone().unwrap_or_default(),
        })
    }

    /// In a dry run a changed Job cannot be applied over the live one (its
    /// template is immutable): it is validated as a new object under a
    /// generated name instead.
    async fn dry_run_create(&self, d: &Desired) -> Result<Applied, Error> {
        let id = &d.object.id;
        let mut manifest = Self::manifest(d);
        if let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("name");
            meta.insert("generateName".into(), format!("{}-", id.name).into());
        }
        let object: DynamicObject =
            serde_json::from_value(manifest).map_err(|e| Error::Config(e.to_string()))?;
        let params = PostParams {
            dry_run: true,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        self.api(id.kind, &id.namespace)
            .create(&params, &object)
            .await
            .map_err(|e| Error::api("create", id, e))?;
        Ok(Applied::Done)
    }
}

/// Retries `attempt` with exponential backoff while the failure is one a
/// retry can help.
async fn retry<T, F, Fut>(attempt: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let mut delay = Duration::from_millis(500);
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.retryable() && tries < ATTEMPTS => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                tries += 1;
            }
            other => return other,
        }
    }
}

/// A watched object as [`Live`]; None for Jobs a CronJob owns.
fn live_of(kind: Kind, object: &DynamicObject) -> Option<Live> {
    let owned_by_cronjob = object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "CronJob");
    if owned_by_cronjob {
        return None;
    }
    let value = serde_json::to_value(object).ok()?;
    let annotation = |key: &str| {
        value["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_string)
    };
    let mut applied = owned::owned_by(&value, FIELD_MANAGER).unwrap_or_else(|| value.clone());
    if let Some(labels) = applied
        .pointer_mut("/spec/jobTemplate/metadata/labels")
        .and_then(Value::as_object_mut)
    {
        labels.remove(SCHEDULED_FOR);
    }
    let applied_at = object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(FIELD_MANAGER))
        .and_then(|m| m.time.as_ref())
        .map(|t| t.0);
    Some(Live {
        id: ObjectRef {
            kind,
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
        },
        source: match ownership::owner(&value) {
            Owner::Source(s) => Some(s),
            Owner::Unmanaged => None,
        },
        revision: annotation(ownership::REVISION),
        path: annotation(ownership::PATH),
        spec_hash: annotation(ownership::SPEC_HASH),
        manifest: applied.to_string(),
        applied_at,
    })
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
            .chain(
                self.cronjobs
                    .iter()
                    .flat_map(|s| s.state())
                    .filter_map(|o| live_of(Kind::CronJob, &o)),
            )
            .collect();
        live.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(live)
    }

    async fn ledger(&self, source: &str) -> Result<Ledger, Error> {
        self.ledger_of(source).read().await
    }

    async fn admit(&self, desired: &[Desired]) -> Result<(), Error> {
        self.check(desired)?;
        self.ready().await?;
        // Only objects jobcd does not manage yet are looked up: a
        // revision with nothing new costs no request.
        let managed: std::collections::HashSet<(Kind, String, String)> = self
            .jobs
            .iter()
            .map(|s| (Kind::Job, s))
            .chain(self.cronjobs.iter().map(|s| (Kind::CronJob, s)))
            .flat_map(|(kind, s)| {
                s.state().into_iter().map(move |o| {
                    (
                        kind,
                        o.metadata.namespace.clone().unwrap_or_default(),
                        o.metadata.name.clone().unwrap_or_default(),
                    )
                })
            })
            .collect();
        let mut conflicts = Vec::new();
        for d in desired {
            let id = &d.object.id;
            if managed.contains(&(id.kind, id.namespace.clone(), id.name.clone())) {
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
                let created = self.server_apply(d).await?;
                match d.object.id.kind {
                    Kind::Job => self.started(d, &created).await,
                    Kind::CronJob => Ok(Applied::Done),
                }
            }
            Operation::Update(d) => {
                self.check(std::slice::from_ref(d))?;
                self.server_apply(d).await?;
                Ok(Applied::Done)
            }
            Operation::Recreate(d) => {
                self.check(std::slice::from_ref(d))?;
                let id = &d.object.id;
                self.delete(id).await?;
                if self.dry_run {
                    return self.dry_run_create(d).await;
                }
                self.gone(id).await?;
                let created = self.server_apply(d).await?;
                self.started(d, &created).await
            }
            Operation::Prune(id) => {
                self.delete(id).await?;
                Ok(Applied::Done)
            }
        }
    }

    fn outcomes(&self) -> broadcast::Receiver<Outcome> {
        self.outcomes.subscribe()
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
