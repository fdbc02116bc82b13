//! Leader election for `jobcd serve` replicas on one cluster: each replica
//! competes for a `coordination.k8s.io/v1` Lease; the holder renews it and
//! reconciles, the others wait. A leader that cannot renew in time loses
//! the Lease, and must stop applying at once: by then another replica may
//! have taken over.
//!
//! A push webhook that reaches a standby (a Service spreads deliveries over
//! every replica) is relayed to the leader through the Lease itself: the
//! standby stamps an annotation `push.jobcd.dev/<source>` with the time,
//! and the leader, watching the Lease, reconciles that source.

use std::collections::HashMap;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::LeaderElection;

/// The field manager of the Lease's holder fields.
const FIELD_MANAGER: &str = "jobcd-leader";
/// Annotations of the Lease that relay pushes, one per source.
pub const PUSH_PREFIX: &str = "push.jobcd.dev/";

/// The Lease could not be read or created.
#[derive(Debug, thiserror::Error)]
#[error("leader election on Lease {namespace}/{name}")]
pub struct Error {
    namespace: String,
    name: String,
    #[source]
    source: LeaseManagerError,
}

/// This replica's part in the election, running in the background.
pub struct Leadership {
    holding: watch::Receiver<bool>,
    api: Api<Lease>,
    name: String,
    duration: u64,
    task: JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
    /// Where the Lease is, for messages.
    pub lease: String,
    /// This replica's identity.
    pub identity: String,
}

/// Joins the election for `settings`' Lease in `namespace` as `identity`.
pub async fn join(
    client: Client,
    namespace: &str,
    settings: &LeaderElection,
    identity: &str,
) -> Result<Leadership, Error> {
    let error = |source| Error {
        namespace: namespace.to_string(),
        name: settings.lease_name.clone(),
        source,
    };
    let api = Api::namespaced(client.clone(), namespace);
    let manager = LeaseManagerBuilder::new(client, &settings.lease_name)
        .with_namespace(namespace)
        .with_identity(identity)
        .with_duration(settings.lease_duration)
        .with_grace(grace(settings.lease_duration))
        .with_field_manager(FIELD_MANAGER)
        .build()
        .await
        .map_err(error)?;
    let (holding, task) = manager.watch().await;
    Ok(Leadership {
        holding,
        api,
        name: settings.lease_name.clone(),
        duration: settings.lease_duration,
        task,
        lease: format!("{namespace}/{}", settings.lease_name),
        identity: identity.to_string(),
    })
}

/// How long before the Lease expires its holder renews it: a third of its
/// duration, at least a second, so that a slow API server does not cost
/// the Lease.
pub(super) fn grace(duration: u64) -> u64 {
    (duration / 3).max(1)
}

impl Leadership {
    /// Waits until this replica holds the Lease. False if the election
    /// ended first (its task failed).
    pub async fn acquired(&mut self) -> bool {
        self.holding.wait_for(|holds| *holds).await.is_ok()
    }

    /// The relay of pushes through this election's Lease.
    pub fn relay(&self) -> Relay {
        Relay {
            api: self.api.clone(),
            name: self.name.clone(),
        }
    }

    /// A watcher of this replica's hold on the Lease, to wait for its loss
    /// while the Leadership itself is lent out.
    pub fn watcher(&self) -> Holding {
        Holding(self.holding.clone())
    }

    /// Reads the Lease: whether this replica holds it and it has not
    /// expired by this machine's clock. Asked before each reconcile, so
    /// that a replica that was paused (a stopped process, a frozen VM)
    /// past its Lease never applies after another took over, even before
    /// its renewal notices.
    pub async fn confirm(&self) -> bool {
        let lease = match self.api.get(&self.name).await {
            Ok(lease) => lease,
            Err(e) => {
                tracing::warn!("reading Lease {}: {e}", self.lease);
                return false;
            }
        };
        let Some(spec) = lease.spec else {
            return false;
        };
        let renewed = spec.renew_time.map(|t| t.0.as_second()).unwrap_or_default();
        let duration = spec
            .lease_duration_seconds
            .map_or(self.duration, |d| d.max(0) as u64);
        spec.holder_identity.as_deref() == Some(self.identity.as_str())
            && Timestamp::now().as_second() < renewed + duration as i64
    }

    /// Gives the Lease up, so another replica takes over at once rather
    /// than after it expires. Bounded by `within`.
    pub async fn release(self, within: Duration) {
        drop(self.holding);
        match tokio::time::timeout(within, self.task).await {
            Ok(Ok(Ok(_))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("releasing Lease {}: {e}", self.lease),
            Ok(Err(e)) => tracing::warn!("releasing Lease {}: {e}", self.lease),
            Err(_) => tracing::warn!(
                "releasing Lease {}: no answer within {within:?}; it expires on its own",
                self.lease
            ),
        }
    }
}

/// Pushes relayed from standbys to the leader through the Lease.
#[derive(Clone)]
pub struct Relay {
    api: Api<Lease>,
    name: String,
}

impl Relay {
    /// The relay through Lease `name` (it exists, or is created by the
    /// replicas' election).
    pub fn on(api: Api<Lease>, name: &str) -> Relay {
        Relay {
            api,
            name: name.to_string(),
        }
    }

    /// On a standby: asks the leader to reconcile `sources`.
    pub async fn send(&self, sources: &[String]) -> Result<(), kube::Error> {
        let now = Timestamp::now().to_string();
        let annotations: serde_json::Map<String, serde_json::Value> = sources
            .iter()
            .map(|s| (format!("{PUSH_PREFIX}{s}"), now.clone().into()))
            .collect();
        let patch = serde_json::json!({"metadata": {"annotations": annotations}});
        self.api
            .patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        Ok(())
    }

    /// On the leader: calls `fire` with each source a standby relays a push
    /// for from now on (watching the Lease), until dropped.
    pub async fn receive(&self, mut fire: impl FnMut(&str)) {
        let config = watcher::Config::default().fields(&format!("metadata.name={}", self.name));
        let stream = watcher(self.api.clone(), config).default_backoff();
        let mut stream = std::pin::pin!(stream);
        // None until the first look: pushes from before do not count.
        let mut seen: Option<HashMap<String, String>> = None;
        while let Some(event) = stream.next().await {
            let lease = match event {
                Ok(watcher::Event::Apply(lease) | watcher::Event::InitApply(lease)) => lease,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!("watching Lease {} for relayed pushes: {e}", self.name);
                    continue;
                }
            };
            let pushes = pushes(&lease);
            if let Some(before) = &seen {
                for (source, at) in &pushes {
                    if before.get(source) != Some(at) {
                        fire(source);
                    }
                }
            }
            seen = Some(pushes);
        }
    }
}

/// The pushes relayed on `lease`: source → when.
fn pushes(lease: &Lease) -> HashMap<String, String> {
    lease
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter_map(|(key, at)| Some((key.strip_prefix(PUSH_PREFIX)?.to_string(), at.clone())))
        .collect()
}

/// Whether this replica holds the Lease, as the election sees it.
pub struct Holding(watch::Receiver<bool>);

impl Holding {
    /// Resolves when this replica stops holding the Lease (or the
    /// election ends).
    pub async fn lost(&mut self) {
        let _ = self.0.wait_for(|holds| !*holds).await;
    }
}

/// This replica's identity: `POD_NAME` in a pod (the chart sets it), else
/// the host name and process id.
pub fn identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "jobcd".into());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_renews_a_third_before_expiry() {
        assert_eq!(grace(15), 5);
        assert_eq!(grace(3), 1);
        assert_eq!(grace(2), 1);
    }
}
