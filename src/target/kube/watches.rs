//! The watches behind the caches: a reflector per kind and namespace, and
//! the wait for their first lists, cut short by a refusal (401, 403, 404)
//! that waiting would only time out on.

use std::time::Duration;

use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};

use super::{Error, KubeTarget, READY_TIMEOUT, note_refusal, resource};
use crate::manifest::Kind;

impl KubeTarget {
    pub(super) fn reflect(
        &mut self,
        kind: Kind,
        namespace: &str,
        labels: &str,
    ) -> Store<DynamicObject> {
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
        let (refused, what) = (
            self.refused.clone(),
            format!("{kind}s in namespace {namespace}"),
        );
        self.tasks.push(tokio::spawn(async move {
            stream
                .for_each(|event| {
                    note_refusal(&refused, &what, &event);
                    async {}
                })
                .await;
        }));
        reader
    }

    pub(super) async fn ready(&self) -> Result<(), Error> {
        for store in &self.jobs {
            self.until_listed(store.wait_until_ready(), "Jobs")
                .await?
                .map_err(|e| Error::Timeout(e.to_string()))?;
        }
        for (caches, what) in [
            (&self.cronjobs, "CronJob"),
            (&self.config_maps, "ConfigMap"),
        ] {
            for cache in caches {
                let mut listed = cache.listed();
                self.until_listed(listed.wait_for(|done| *done), &format!("{what}s"))
                    .await?
                    .map_err(|_| Error::Timeout(format!("the {what} watch stopped")))?;
            }
        }
        Ok(())
    }

    /// Waits for a watch's first list (`listed`) up to READY_TIMEOUT, and
    /// no longer once a watch was refused: that refusal is the error.
    pub(super) async fn until_listed<F: Future>(
        &self,
        listed: F,
        what: &str,
    ) -> Result<F::Output, Error> {
        let refusal = || {
            self.refused
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
        };
        let mut listed = std::pin::pin!(tokio::time::timeout(READY_TIMEOUT, listed));
        let mut check = tokio::time::interval(Duration::from_millis(100));
        loop {
            tokio::select! {
                done = &mut listed => {
                    return done.map_err(|_| {
                        refusal().unwrap_or_else(|| Error::Timeout(format!(
                            "the API server did not list {what} within {} s; is it reachable?",
                            READY_TIMEOUT.as_secs()
                        )))
                    });
                }
                _ = check.tick() => {
                    if let Some(refused) = refusal() {
                        return Err(refused);
                    }
                }
            }
        }
    }
}
