//! The live state of the CronJobs in one namespace, kept as jobcd reads it
//! — a [`Live`] per object, its owned manifest and the whole object as
//! JSON text — rather than as the watched objects' JSON trees. With 1,000
//! CronJobs the trees kept an idle `jobcd serve` over 40 MB
//! (`JOBCD_BENCH_TARGET=kube cargo bench --bench serve`); text is several
//! times smaller, and `live()` no longer rebuilds every owned manifest.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as watch_stream};
use tokio::sync::watch;

use super::live::live_of;
use super::{Refused, note_refusal};
use crate::manifest::Kind;
use crate::target::Live;

/// One watch's objects, by name.
#[derive(Clone)]
pub(super) struct LiveCache {
    state: Arc<Mutex<State>>,
    listed: watch::Receiver<bool>,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Live>,
    /// A (re)list in progress: it replaces `objects` when done.
    relist: Option<BTreeMap<String, Live>>,
}

impl LiveCache {
    /// Watches the objects of `kind` that `labels` selects in `api`'s
    /// namespace; a refusal of the watch goes to `refused`, named `what`.
    pub(super) fn spawn(
        api: Api<DynamicObject>,
        kind: Kind,
        labels: &str,
        refused: Refused,
        what: String,
    ) -> (LiveCache, tokio::task::JoinHandle<()>) {
        let (done, listed) = watch::channel(false);
        let cache = LiveCache {
            state: Arc::default(),
            listed,
        };
        let state = cache.state.clone();
        let stream = watch_stream(api, watcher::Config::default().labels(labels)).default_backoff();
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            while let Some(event) = stream.next().await {
                note_refusal(&refused, &what, &event);
                let Ok(event) = event else { continue };
                let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
                match event {
                    Event::Init => state.relist = Some(BTreeMap::new()),
                    Event::InitApply(object) => {
                        if let (Some(relist), Some(live)) =
                            (state.relist.as_mut(), live_of(kind, &object))
                        {
                            relist.insert(live.id.name.clone(), live);
                        }
                    }
                    Event::InitDone => {
                        state.objects = state.relist.take().unwrap_or_default();
                        let _ = done.send(true);
                    }
                    Event::Apply(object) => {
                        let name = object.metadata.name.clone().unwrap_or_default();
                        match live_of(kind, &object) {
                            Some(live) => state.objects.insert(name, live),
                            None => state.objects.remove(&name),
                        };
                    }
                    Event::Delete(object) => {
                        let name = object.metadata.name.clone().unwrap_or_default();
                        state.objects.remove(&name);
                    }
                }
            }
        });
        (cache, task)
    }

    /// The objects, once the first list is done.
    pub(super) fn live(&self) -> Vec<Live> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .values()
            .cloned()
            .collect()
    }

    /// The objects `source` manages, and those named in `names`, however
    /// managed — cloning only those.
    pub(super) fn concerning(&self, source: &str, names: &[&str]) -> Vec<Live> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut found: Vec<Live> = state
            .objects
            .values()
            .filter(|l| l.source.as_deref() == Some(source))
            .cloned()
            .collect();
        for name in names {
            if let Some(l) = state.objects.get(*name)
                && l.source.as_deref() != Some(source)
            {
                found.push(l.clone());
            }
        }
        found
    }

    /// The object named `name`.
    pub(super) fn get(&self, name: &str) -> Option<Live> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .get(name)
            .cloned()
    }

    /// The names of the objects.
    pub(super) fn names(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .keys()
            .cloned()
            .collect()
    }

    /// Turns true when the first list is done.
    pub(super) fn listed(&self) -> watch::Receiver<bool> {
        self.listed.clone()
    }
}
