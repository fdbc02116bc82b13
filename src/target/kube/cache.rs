//! The live state of the CronJobs in one namespace, kept as jobcd reads it
//! — a [`Live`] per object, its owned manifest and the whole object as
//! JSON text — rather than as the watched objects' JSON trees. With 1,000
//! CronJobs the trees kept an idle `jobcd serve` over 40 MB
//! (`JOBCD_BENCH_TARGET=kube cargo bench --bench serve`); text is several
//! times smaller, and `live()` no longer rebuilds every owned manifest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// The names of the objects each source manages: a reconcile of one
    /// source reads its own without looking at the whole fleet's.
    by_source: HashMap<String, BTreeSet<String>>,
    /// A (re)list in progress: it replaces `objects` when done.
    relist: Option<BTreeMap<String, Live>>,
}

impl State {
    fn put(&mut self, live: Live) {
        self.index(&live);
        if let Some(old) = self.objects.insert(live.id.name.clone(), live) {
            self.unindex(&old);
        }
    }

    /// Notes `live`'s name under its source.
    fn index(&mut self, live: &Live) {
        if let Some(source) = &live.source {
            self.by_source
                .entry(source.clone())
                .or_default()
                .insert(live.id.name.clone());
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.objects.remove(name) {
            self.unindex(&old);
        }
    }

    /// Forgets `old`'s place in the index, unless the object now there
    /// (by the same name) has the same source.
    fn unindex(&mut self, old: &Live) {
        let Some(source) = &old.source else { return };
        let still = self
            .objects
            .get(&old.id.name)
            .is_some_and(|now| now.source.as_ref() == Some(source));
        if still {
            return;
        }
        if let Some(names) = self.by_source.get_mut(source) {
            names.remove(&old.id.name);
            if names.is_empty() {
                self.by_source.remove(source);
            }
        }
    }

    fn replace_all(&mut self, objects: BTreeMap<String, Live>) {
        self.by_source.clear();
        objects.values().for_each(|live| self.index(live));
        self.objects = objects;
    }
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
                        let listed = state.relist.take().unwrap_or_default();
                        state.replace_all(listed);
                        let _ = done.send(true);
                    }
                    Event::Apply(object) => match live_of(kind, &object) {
                        Some(live) => state.put(live),
                        None => state.remove(object.metadata.name.as_deref().unwrap_or_default()),
                    },
                    Event::Delete(object) => {
                        state.remove(object.metadata.name.as_deref().unwrap_or_default());
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
            .by_source
            .get(source)
            .into_iter()
            .flatten()
            .filter_map(|name| state.objects.get(name))
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

    /// Whether an object named `name` is cached.
    pub(super) fn holds(&self, name: &str) -> bool {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .objects
            .contains_key(name)
    }

    /// Turns true when the first list is done.
    pub(super) fn listed(&self) -> watch::Receiver<bool> {
        self.listed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ObjectRef;

    fn live(name: &str, source: Option<&str>) -> Live {
        Live {
            id: ObjectRef {
                kind: Kind::CronJob,
                namespace: "batch".into(),
                name: name.into(),
            },
            source: source.map(str::to_string),
            revision: None,
            path: None,
            spec_hash: None,
            manifest: "{}".into(),
            observed: None,
            applied_at: None,
        }
    }

    fn names(state: &State, source: &str) -> Vec<String> {
        let indexed: Vec<String> = state
            .by_source
            .get(source)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        // The index says what a scan of every object says.
        let scanned: Vec<String> = state
            .objects
            .values()
            .filter(|l| l.source.as_deref() == Some(source))
            .map(|l| l.id.name.clone())
            .collect();
        assert_eq!(indexed, scanned, "the index of {source:?}");
        indexed
    }

    #[test]
    fn the_source_index_follows_every_change() {
        let mut state = State::default();
        state.put(live("a", Some("one")));
        state.put(live("b", Some("one")));
        state.put(live("c", Some("two")));
        state.put(live("d", None));
        assert_eq!(names(&state, "one"), ["a", "b"]);
        assert_eq!(names(&state, "two"), ["c"]);

        // Handed over to another source, then unlabelled.
        state.put(live("b", Some("two")));
        assert_eq!(names(&state, "one"), ["a"]);
        assert_eq!(names(&state, "two"), ["b", "c"]);
        state.put(live("c", None));
        assert_eq!(names(&state, "two"), ["b"]);

        // Updated in place under the same source.
        state.put(live("a", Some("one")));
        assert_eq!(names(&state, "one"), ["a"]);

        state.remove("a");
        state.remove("missing");
        assert_eq!(names(&state, "one"), Vec::<String>::new());
        assert!(!state.by_source.contains_key("one"), "empty sets go");

        // A relist replaces everything.
        let listed = BTreeMap::from([("x".to_string(), live("x", Some("one")))]);
        state.replace_all(listed);
        assert_eq!(names(&state, "one"), ["x"]);
        assert_eq!(names(&state, "two"), Vec::<String>::new());
    }
}
