//! The run-once ledger in the cluster: one ConfigMap per source,
//! `jobcd-ledger-<source>` in jobcd's own namespace, each key
//! `<namespace>_<name>_<spec-hash>` holding the outcome (`Running`,
//! `Complete`, `Failed`). It needs no volume, survives jobcd's restarts and
//! rescheduling, and costs one GET to read; `_` appears in no namespace or
//! object name, so keys cannot collide. A ConfigMap holds up to 1 MiB:
//! about 5,000 Job specs per source.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use super::error::Error;
use super::follow;
use super::tenants::Tenants;
use crate::target::Ledger;

/// One source's ledger, cached after the first read.
pub struct ClusterLedger {
    /// Reads and records, as the source.
    api: Api<ConfigMap>,
    /// Creates it when missing, as jobcd.
    creator: Api<ConfigMap>,
    name: String,
    cache: tokio::sync::Mutex<Option<BTreeMap<String, String>>>,
}

impl ClusterLedger {
    /// The ledger of `source` in `namespace`, read and written with
    /// `client`, created with `creator`.
    pub fn new(
        client: kube::Client,
        creator: kube::Client,
        namespace: &str,
        source: &str,
    ) -> ClusterLedger {
        ClusterLedger {
            api: Api::namespaced(client, namespace),
            creator: Api::namespaced(creator, namespace),
            name: name_for(source),
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The recorded entries, read once and then kept up to date here.
    async fn fetch(&self) -> Result<BTreeMap<String, String>, Error> {
        let found = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| Error::api("read the run-once ledger", &self.name, e))?;
        Ok(found.and_then(|c| c.data).unwrap_or_default())
    }

    /// Everything recorded.
    pub async fn read(&self) -> Result<Ledger, Error> {
        let mut cache = self.cache.lock().await;
        if cache.is_none() {
            *cache = Some(self.fetch().await?);
        }
        let mut ledger = Ledger::default();
        for (key, outcome) in cache.iter().flatten() {
            let mut parts = key.splitn(3, '_');
            if let (Some(ns), Some(name), Some(hash)) = (parts.next(), parts.next(), parts.next()) {
                ledger.insert(ns, name, hash, outcome);
            }
        }
        Ok(ledger)
    }

    /// Records an outcome. Nothing is written when it is already recorded,
    /// and `Running` never replaces an outcome: the watch may see a fast Job
    /// finish before the apply that started it records it as running.
    /// Records are serialised, so the two cannot interleave.
    pub async fn record(
        &self,
        namespace: &str,
        name: &str,
        spec_hash: &str,
        outcome: &str,
    ) -> Result<(), Error> {
        let mut cache = self.cache.lock().await;
        if cache.is_none() {
            *cache = Some(self.fetch().await?);
        }
        let entries = cache.get_or_insert_default();
        let key = format!("{namespace}_{name}_{spec_hash}");
        match entries.get(&key).map(String::as_str) {
            Some(known) if known == outcome => return Ok(()),
            Some(known) if outcome == RUNNING && known != RUNNING => return Ok(()),
            _ => {}
        }
        let patch = json!({ "data": { &key: outcome } });
        let merged = self
            .api
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await;
        match merged {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {
                let map: ConfigMap = serde_json::from_value(json!({
                    "metadata": {
                        "name": self.name,
                        "labels": {"app.kubernetes.io/managed-by": "jobcd"}
                    },
                    "data": { &key: outcome }
                }))
                .map_err(|e| Error::Encode {
                    what: format!("the run-once ledger {}", self.name),
                    source: std::sync::Arc::new(e),
                })?;
                self.creator
                    .create(&PostParams::default(), &map)
                    .await
                    .map_err(|e| Error::api("create the run-once ledger", &self.name, e))?;
            }
            Err(e) => return Err(Error::api("record in the run-once ledger", &self.name, e)),
        }
        entries.insert(key, outcome.to_string());
        Ok(())
    }
}

/// One ledger per source in `namespace`, made on first use: read and
/// written with the source's client (`tenants`), and created, when
/// missing, by jobcd itself — a source's account needs no right to create
/// ConfigMaps, which Kubernetes cannot limit by name.
pub(super) fn ledgers(tenants: Tenants, namespace: String) -> follow::Ledgers {
    let all: Mutex<HashMap<String, Arc<ClusterLedger>>> = Mutex::default();
    Arc::new(move |source: &str| {
        let mut all = all.lock().unwrap_or_else(|p| p.into_inner());
        all.entry(source.to_string())
            .or_insert_with(|| {
                Arc::new(ClusterLedger::new(
                    tenants.client(source).clone(),
                    tenants.own().clone(),
                    &namespace,
                    source,
                ))
            })
            .clone()
    })
}

/// The outcome of a run that has started and not ended.
pub const RUNNING: &str = "Running";

/// The ConfigMap's name: `jobcd-ledger-` and the source, lower-cased, with
/// anything a name may not hold replaced.
fn name_for(source: &str) -> String {
    let clean: String = source
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = format!("jobcd-ledger-{}", clean.trim_matches('-'));
    name.truncate(253);
    name
}
