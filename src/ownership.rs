//! Ownership (DESIGN.md, contracts): the labels and annotations jobcd puts
//! on every object it applies, the policy annotations users put on theirs,
//! the by-hand source, and how a live object's ownership is read. jobcd
//! never changes or deletes an object that does not carry its managed-by
//! label and the source's name. The bottom layer: `manifest`, `plan` and
//! the targets all read it; it imports none of them.

use serde_json::{Map, Value};

/// Label naming the manager.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The managed-by label's value.
pub const MANAGER: &str = "jobcd";
/// Label naming the source.
pub const SOURCE: &str = "jobcd.dev/source";
/// Annotation: the commit the object was applied from.
pub const REVISION: &str = "jobcd.dev/revision";
/// Annotation: the file it came from.
pub const PATH: &str = "jobcd.dev/path";
/// Annotation: the spec hash.
pub const SPEC_HASH: &str = "jobcd.dev/spec-hash";

/// The source of objects applied by hand (`jobcd local apply`): syncs
/// treat them as they treat objects a person applied with kubectl, and
/// never change or delete them.
pub const BY_HAND: &str = "";

/// Policy annotation on a Job: `rerun` (default) or `ignore` a changed spec.
pub const ON_CHANGE: &str = "jobcd.dev/on-change";
/// The annotation users bump to run an unchanged Job again (any change to
/// the spec would do; this one says why).
pub const RUN: &str = "jobcd.dev/run";
/// Policy annotation: `disabled` keeps the object when it leaves git.
pub const PRUNE: &str = "jobcd.dev/prune";
/// Health annotation on a CronJob: how old its last success may be
/// (`26h`, `90m`, `7d`) before it is stale (see [`crate::health`]).
pub const MAX_AGE: &str = "jobcd.dev/max-age";

/// Annotations that tell jobcd what to do with an object, not what the
/// object is: changing them changes no spec (a Job is not run again for
/// them). [`RUN`] is not one: bumping it is how a Job is asked to run again.
pub const POLICY: [&str; 2] = [ON_CHANGE, PRUNE];

const LABELS: [&str; 2] = [MANAGED_BY, SOURCE];
const ANNOTATIONS: [&str; 3] = [REVISION, PATH, SPEC_HASH];

/// Who manages a live object, as its labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Not jobcd (no managed-by label, or no source).
    Unmanaged,
    /// jobcd, for this source.
    Source(String),
}

/// Reads the ownership labels of an object (JSON).
pub fn owner(object: &Value) -> Owner {
    let labels = &object["metadata"]["labels"];
    match (labels[MANAGED_BY].as_str(), labels[SOURCE].as_str()) {
        (Some(MANAGER), Some(source)) if !source.is_empty() => Owner::Source(source.into()),
        _ => Owner::Unmanaged,
    }
}

/// What jobcd records on an object it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp<'a> {
    /// Source name.
    pub source: &'a str,
    /// Commit.
    pub revision: &'a str,
    /// File in the repository.
    pub path: &'a str,
    /// Spec hash.
    pub spec_hash: &'a str,
}

/// Adds jobcd's labels and annotations to an object (JSON).
pub fn stamp(object: &mut Value, stamp: &Stamp<'_>) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let labels = entry(metadata, "labels");
    labels.insert(MANAGED_BY.into(), MANAGER.into());
    labels.insert(SOURCE.into(), stamp.source.into());
    let annotations = entry(metadata, "annotations");
    annotations.insert(REVISION.into(), stamp.revision.into());
    annotations.insert(PATH.into(), stamp.path.into());
    annotations.insert(SPEC_HASH.into(), stamp.spec_hash.into());
}

/// Removes jobcd's labels and annotations (the user's stay, `jobcd.dev/run`
/// and the policy annotations included), and maps left empty.
pub fn strip(object: &mut Value) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    for (field, keys) in [("labels", &LABELS[..]), ("annotations", &ANNOTATIONS[..])] {
        if let Some(map) = metadata.get_mut(field).and_then(Value::as_object_mut) {
            for key in keys {
                map.remove(*key);
            }
            if map.is_empty() {
                metadata.remove(field);
            }
        }
    }
}

/// Removes the [`POLICY`] annotations from an object (in its JSON form).
pub fn strip_policy(object: &mut Value) {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(map) = metadata
        .get_mut("annotations")
        .and_then(Value::as_object_mut)
    {
        for key in POLICY {
            map.remove(key);
        }
        if map.is_empty() {
            metadata.remove("annotations");
        }
    }
}

/// The [`POLICY`] annotations of an object (in its JSON form), as
/// `key: value` pairs.
pub fn policy(object: &Value) -> Vec<(&'static str, Option<&str>)> {
    POLICY
        .iter()
        .map(|k| (*k, object["metadata"]["annotations"][*k].as_str()))
        .collect()
}

/// jobcd's own labels and annotations on an object, as `key: value` pairs.
pub fn stamped(object: &Value) -> Vec<(String, String)> {
    let metadata = &object["metadata"];
    LABELS
        .iter()
        .map(|k| (k, &metadata["labels"][*k]))
        .chain(
            ANNOTATIONS
                .iter()
                .map(|k| (k, &metadata["annotations"][*k])),
        )
        .filter_map(|(k, v)| v.as_str().map(|v| (k.to_string(), v.to_string())))
        .collect()
}

/// An annotation the user set, if any.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

fn entry<'a>(metadata: &'a mut Map<String, Value>, field: &str) -> &'a mut Map<String, Value> {
    let value = metadata
        .entry(field)
        .or_insert_with(|| Value::Object(Map::new()));
    if !value.is_object() {
        *value = Value::Object(Map::new());
    }
    value.as_object_mut().expect("made an object above")
}

/// Reads a `jobcd.dev/max-age` value: a whole number and a unit, `s`, `m`,
/// `h` or `d` (`26h`, `90m`, `7d`).
pub fn parse_max_age(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = match number.parse() {
        Ok(n) if unit.chars().all(|c| c.is_ascii_alphabetic()) && !unit.is_empty() => n,
        _ => {
            return Err(format!(
                "{text:?} is not a whole number and a unit: write it as 26h, 90m, 7d or 3600s"
            ));
        }
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: unknown unit {unit:?}; use s, m, h or d")),
    };
    match number.checked_mul(seconds) {
        Some(0) | None => Err(format!(
            "{text:?} must be more than zero and at most centuries"
        )),
        Some(secs) => Ok(std::time::Duration::from_secs(secs)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamping_then_stripping_gives_back_the_users_object() {
        let user = json!({"metadata": {"name": "a", "annotations": {"jobcd.dev/run": "2"}}});
        let mut object = user.clone();
        let s = Stamp {
            source: "prod",
            revision: "abc",
            path: "jobs/a.yaml",
            spec_hash: "h",
        };
        stamp(&mut object, &s);
        assert_eq!(owner(&object), Owner::Source("prod".into()));
        assert_eq!(
            stamped(&object),
            [
                (MANAGED_BY.to_string(), "jobcd".to_string()),
                (SOURCE.into(), "prod".into()),
                (REVISION.into(), "abc".into()),
                (PATH.into(), "jobs/a.yaml".into()),
                (SPEC_HASH.into(), "h".into()),
            ]
        );
        strip(&mut object);
        assert_eq!(object, user);
    }

    #[test]
    fn without_both_labels_an_object_is_not_ours() {
        for labels in [
            json!({}),
            json!({"app.kubernetes.io/managed-by": "jobcd"}),
            json!({"app.kubernetes.io/managed-by": "helm", "jobcd.dev/source": "prod"}),
            json!({"app.kubernetes.io/managed-by": "jobcd", "jobcd.dev/source": ""}),
        ] {
            let object = json!({"metadata": {"labels": labels}});
            assert_eq!(owner(&object), Owner::Unmanaged, "{labels}");
        }
    }
}
