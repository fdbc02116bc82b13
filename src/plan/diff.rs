//! What a step changes, for people: a unified diff of the object as YAML
//! (the user's fields), and, apart from it, the metadata jobcd records
//! (source, revision, path, spec hash), so a new commit does not look like
//! an edit of every object.

use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;

use super::compute::{Action, Step};
use super::drift;
use crate::manifest::emit::to_yaml;
use crate::ownership;

/// Lines of context around each change.
const CONTEXT: usize = 3;

/// The diff of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectDiff {
    /// Unified diff of the user's object (`--- live`, `+++ desired`); the
    /// whole object for a create or a prune.
    pub user: String,
    /// jobcd's own metadata that changes: (key, live value, desired value).
    pub jobcd: Vec<(String, Option<String>, Option<String>)>,
}

/// The diff of a step that changes something (or would, were it not a
/// conflict); None for steps that change nothing.
pub fn diff(step: &Step<'_>) -> Option<ObjectDiff> {
    if !(step.action.changes() || step.action == Action::Conflict) {
        return None;
    }
    let parse = |json: &str| serde_json::from_str::<Value>(json).unwrap_or(Value::Null);
    let desired = step.desired.map(|d| parse(d.object.manifest.json()));
    let live = step.live.map(|l| {
        let owned = parse(&l.manifest);
        match (&desired, l.observed.as_deref()) {
            (Some(want), Some(observed)) => drift::as_seen(want, &owned, &parse(observed)),
            _ => owned,
        }
    });
    // Only an edit compares two objects; a create or a prune shows one
    // as it is.
    let both = live.is_some() && desired.is_some();
    let identified = |value: Option<Value>| {
        value.map(|mut v| {
            if both {
                identify(&mut v, step, desired.as_ref());
            }
            v
        })
    };
    let user = values_diff(
        identified(live).as_ref(),
        identified(desired.clone()).as_ref(),
        ("live", "desired"),
    );
    let before = step.live.map(|l| {
        [
            (ownership::SOURCE, l.source.clone()),
            (ownership::REVISION, l.revision.clone()),
            (ownership::PATH, l.path.clone()),
            (ownership::SPEC_HASH, l.spec_hash.clone()),
        ]
    });
    let after = step.desired.map(|d| {
        [
            (ownership::SOURCE, Some(d.source.clone())),
            (ownership::REVISION, Some(d.revision.clone())),
            (ownership::PATH, Some(d.object.location.file.clone())),
            (ownership::SPEC_HASH, Some(d.spec_hash.clone())),
        ]
    });
    let keys = [
        ownership::SOURCE,
        ownership::REVISION,
        ownership::PATH,
        ownership::SPEC_HASH,
    ];
    let jobcd = keys
        .iter()
        .enumerate()
        .filter_map(|(i, key)| {
            let old = before.as_ref().and_then(|b| b[i].1.clone());
            let new = after.as_ref().and_then(|a| a[i].1.clone());
            (old != new).then(|| (key.to_string(), old, new))
        })
        .collect();
    Some(ObjectDiff { user, jobcd })
}

/// Both sides named alike: the type from git (a cluster's owned fields
/// leave it out), the name and namespace from the step (git may leave the
/// namespace implicit).
fn identify(value: &mut Value, step: &Step<'_>, desired: Option<&Value>) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    for key in ["apiVersion", "kind"] {
        if let Some(given) = desired.and_then(|d| d.get(key)) {
            object.insert(key.to_owned(), given.clone());
        }
    }
    let metadata = object
        .entry("metadata")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(metadata) = metadata.as_object_mut() {
        metadata.insert("name".to_owned(), Value::from(step.id.name.as_str()));
        metadata.insert(
            "namespace".to_owned(),
            Value::from(step.id.namespace.as_str()),
        );
    }
}

/// A unified diff of the user's part of two objects (JSON), `None` for an
/// absent side (`/dev/null`); `names` label the old and new side.
pub fn user_diff(old: Option<&str>, new: Option<&str>, names: (&str, &str)) -> String {
    let parse = |json: &str| serde_json::from_str::<Value>(json).unwrap_or(Value::Null);
    values_diff(old.map(parse).as_ref(), new.map(parse).as_ref(), names)
}

fn values_diff(old: Option<&Value>, new: Option<&Value>, names: (&str, &str)) -> String {
    let (before, after) = (
        old.map(user_yaml).unwrap_or_default(),
        new.map(user_yaml).unwrap_or_default(),
    );
    TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(CONTEXT)
        .header(
            if old.is_some() { names.0 } else { "/dev/null" },
            if new.is_some() { names.1 } else { "/dev/null" },
        )
        .to_string()
}

/// The user's part of an object (jobcd's metadata removed) as YAML.
fn user_yaml(value: &Value) -> String {
    let mut value = value.clone();
    ownership::strip(&mut value);
    to_yaml(&value)
}

#[cfg(test)]
mod tests;
