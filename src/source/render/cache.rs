//! Renders already made, in the state directory: a revision whose commit
//! tree, manifest path and render settings are the same, rendered by the
//! same engine binary, is not built again (so a steady `serve` poll renders
//! nothing, and does not even ask the engine its version).

use std::path::{Path, PathBuf};

use super::{Engine, Render, Rendered};
use crate::manifest::{self, SourceFile};

/// Renders the cache keeps.
pub const CACHE_ENTRIES: usize = 64;

/// The cache: one JSON file per render, named by the hash of its key,
/// written atomically; the oldest beyond [`CACHE_ENTRIES`] are removed.
/// Only renders without problems are kept.
pub struct Cache {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    rendered: Rendered,
    files: Vec<File>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct File {
    path: String,
    text: String,
}

impl Cache {
    /// The cache under `state_dir`.
    pub fn new(state_dir: &Path) -> Cache {
        Cache {
            dir: state_dir.join("render-cache"),
        }
    }

    /// The key of a render of the tree `tree_id` with `settings` (the path
    /// and everything else that changes the output) by `engine` run as
    /// `program` (its path, size and time, so a new binary renders afresh).
    pub fn key(
        tree_id: &str,
        settings: &str,
        render: Render,
        engine: Engine,
        program: &Path,
    ) -> String {
        let program = super::identity(program);
        use sha2::Digest;
        let digest = sha2::Sha256::digest(
            format!("{tree_id}\n{settings}\n{render:?}\n{engine:?}\n{program}").as_bytes(),
        );
        crate::hex::hex(&digest)
    }

    /// The render stored under `key`, and what rendered it.
    pub fn get(&self, key: &str) -> Option<(manifest::Tree, Rendered)> {
        let text = std::fs::read(self.dir.join(format!("{key}.json"))).ok()?;
        let entry: Entry = serde_json::from_slice(&text).ok()?;
        let tree = manifest::Tree {
            files: entry
                .files
                .into_iter()
                .map(|f| SourceFile {
                    path: f.path,
                    bytes: f.text.into_bytes(),
                })
                .collect(),
            problems: Vec::new(),
        };
        Some((tree, entry.rendered))
    }

    /// Stores `tree` under `key` (when it has no problems); a cache that
    /// cannot be written only costs a render next time.
    pub fn put(&self, key: &str, tree: &manifest::Tree, rendered: &Rendered) {
        if !tree.problems.is_empty() || std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let entry = Entry {
            rendered: rendered.clone(),
            files: tree
                .files
                .iter()
                .map(|f| File {
                    path: f.path.clone(),
                    text: String::from_utf8_lossy(&f.bytes).into_owned(),
                })
                .collect(),
        };
        let Ok(json) = serde_json::to_vec(&entry) else {
            return;
        };
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, json).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join(format!("{key}.json")));
        }
        self.prune();
    }

    /// Removes the oldest entries beyond [`CACHE_ENTRIES`].
    fn prune(&self) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = listing
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if entries.len() <= CACHE_ENTRIES {
            return;
        }
        entries.sort();
        for (_, path) in &entries[..entries.len() - CACHE_ENTRIES] {
            let _ = std::fs::remove_file(path);
        }
    }
}
