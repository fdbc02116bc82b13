//! Carrying out operations on the cluster: server-side apply of the
//! stamped manifest, deletes with background propagation and the wait for a
//! deleted Job's name to be free, the guard against taking over objects
//! jobcd does not manage, and retries where they can help.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::Value;

use super::ledger::ClusterLedger;
use super::{Error, FIELD_MANAGER, GONE_TIMEOUT, KubeTarget, SCHEDULED_FOR};
use crate::manifest::{Kind, ObjectRef};
use crate::ownership::{self, Owner, Stamp};
use crate::target::{Applied, Desired};

/// Attempts of a request that failed in a way a retry can help.
const ATTEMPTS: u32 = 4;

impl KubeTarget {
    /// `d` as applied: the user's manifest with jobcd's labels and
    /// annotations, and for a CronJob the label on its Job template.
    pub(super) fn manifest(d: &Desired) -> Value {
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

    /// Server-side apply of `d`; `force` takes over fields other managers
    /// own (drift correction only: an ordinary apply reports them as a
    /// conflict).
    pub(super) async fn server_apply(
        &self,
        d: &Desired,
        force: bool,
    ) -> Result<DynamicObject, Error> {
        let id = &d.object.id;
        let api = self.api_as(&d.source, id.kind, &id.namespace);
        let mut params = PatchParams::apply(FIELD_MANAGER);
        params.dry_run = self.dry_run;
        params.force = force;
        let manifest = Self::manifest(d);
        retry(|| async {
            api.patch(&id.name, &params, &Patch::Apply(&manifest))
                .await
                .map_err(|e| Error::api("apply", id, e))
        })
        .await
        .map_err(|e| self.tenants.explain(&d.source, e))
    }

    /// Before a create: an object of that name that jobcd does not manage
    /// for this source is a conflict, never adopted.
    pub(super) async fn refuse_foreign(&self, d: &Desired) -> Result<(), Error> {
        let id = &d.object.id;
        let api = self.api_as(&d.source, id.kind, &id.namespace);
        let found = retry(|| async {
            api.get_opt(&id.name)
                .await
                .map_err(|e| Error::api("read", id, e))
        })
        .await
        .map_err(|e| self.tenants.explain(&d.source, e))?;
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

    /// Deletes `id` as `source` (background propagation).
    pub(super) async fn delete(
        &self,
        source: &str,
        id: &ObjectRef,
    ) -> Result<Option<String>, Error> {
        let api = self.api_as(source, id.kind, &id.namespace);
        let mut params = DeleteParams::background();
        params.dry_run = self.dry_run;
        let deleted = retry(|| async {
            match api.delete(&id.name, &params).await {
                Ok(either) => Ok(either.left().and_then(|o| o.metadata.uid)),
                Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
                Err(e) => Err(Error::api("delete", id, e)),
            }
        })
        .await
        .map_err(|e| self.tenants.explain(source, e))?;
        Ok(deleted)
    }

    /// Waits until the object is gone (a deleted Job's name is free),
    /// looking as `source`.
    pub(super) async fn gone(&self, source: &str, id: &ObjectRef) -> Result<(), Error> {
        let api = self.api_as(source, id.kind, &id.namespace);
        let deadline = tokio::time::Instant::now() + GONE_TIMEOUT;
        loop {
            let found = retry(|| async {
                api.get_opt(&id.name)
                    .await
                    .map_err(|e| Error::api("read", id, e))
            })
            .await
            .map_err(|e| self.tenants.explain(source, e))?;
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

    pub(super) fn ledger_of(&self, source: &str) -> Arc<ClusterLedger> {
        (self.ledgers)(source)
    }

    /// A Job run started: noted as `Running` in the ledger.
    pub(super) async fn started(
        &self,
        d: &Desired,
        created: &DynamicObject,
    ) -> Result<Applied, Error> {
        if self.dry_run {
            return Ok(Applied::Done);
        }
        let id = &d.object.id;
        self.ledger_of(&d.source)
            .record(
                &id.namespace,
                &id.name,
                &d.spec_hash,
                super::ledger::RUNNING,
            )
            .await?;
        Ok(Applied::RunStarted {
            uid: created.metadata.uid.clone().unwrap_or_default(),
        })
    }

    /// In a dry run a changed Job cannot be applied over the live one (its
    /// template is immutable): it is validated as a new object under a
    /// generated name instead.
    pub(super) async fn dry_run_create(&self, d: &Desired) -> Result<Applied, Error> {
        let id = &d.object.id;
        let mut manifest = Self::manifest(d);
        if let Some(meta) = manifest.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("name");
            meta.insert("generateName".into(), format!("{}-", id.name).into());
        }
        let object: DynamicObject =
            serde_json::from_value(manifest).map_err(|e| Error::Encode {
                what: format!("the dry-run create of {id}"),
                source: std::sync::Arc::new(e),
            })?;
        let params = PostParams {
            dry_run: true,
            field_manager: Some(FIELD_MANAGER.into()),
        };
        self.api_as(&d.source, id.kind, &id.namespace)
            .create(&params, &object)
            .await
            .map_err(|e| self.tenants.explain(&d.source, Error::api("create", id, e)))?;
        Ok(Applied::Done)
    }
}

/// Retries `attempt` with exponential backoff while the failure is one a
/// retry can help.
pub(super) async fn retry<T, F, Fut>(attempt: F) -> Result<T, Error>
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
