//! The part of a live object that jobcd applied: the fields its field
//! manager owns, as the API server records them in `managedFields`
//! (`fieldsV1`). A diff against this shows the user's changes, not the
//! defaults and status the server added.
//!
//! `fieldsV1` is a trie: `f:NAME` for a map key, `k:{...}` for a list item
//! found by its key fields, `v:VALUE` for an item of a set, `i:N` for an
//! item by position, and `.` for "this node itself". A leaf (`{}`) owns the
//! whole value below it.

use serde_json::{Map, Value};

/// The fields of `object` that `manager` set with server-side apply, or
/// None when it owns none.
pub fn owned_by(object: &Value, manager: &str) -> Option<Value> {
    let fields = object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|m| m["manager"] == manager && m["operation"] == "Apply")?
        .get("fieldsV1")?;
    let mut kept = filter(object, fields)?;
    // Identity is not part of fieldsV1; the diff needs it.
    for key in ["apiVersion", "kind"] {
        if let (Some(map), Some(v)) = (kept.as_object_mut(), object.get(key)) {
            map.insert(key.into(), v.clone());
        }
    }
    if let Some(meta) = kept.get_mut("metadata").and_then(Value::as_object_mut) {
        for key in ["name", "namespace"] {
            if let Some(v) = object["metadata"].get(key) {
                meta.insert(key.into(), v.clone());
            }
        }
    }
    Some(kept)
}

fn filter(value: &Value, fields: &Value) -> Option<Value> {
    let Some(set) = fields.as_object() else {
        return Some(value.clone());
    };
    let children: Vec<(&String, &Value)> = set.iter().filter(|(k, _)| *k != ".").collect();
    if children.is_empty() {
        return Some(value.clone());
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, sub) in children {
                if let Some(name) = key.strip_prefix("f:")
                    && let Some(v) = map.get(name)
                    && let Some(kept) = filter(v, sub)
                {
                    out.insert(name.to_string(), kept);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => {
            let mut out = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let sub = children.iter().find_map(|(key, sub)| {
                    if let Some(k) = key.strip_prefix("k:") {
                        let wanted: Map<String, Value> = serde_json::from_str(k).ok()?;
                        wanted
                            .iter()
                            .all(|(f, v)| item.get(f) == Some(v))
                            .then_some(*sub)
                    } else if let Some(v) = key.strip_prefix("v:") {
                        (serde_json::from_str::<Value>(v).ok()? == *item).then_some(*sub)
                    } else if let Some(i) = key.strip_prefix("i:") {
                        (i.parse::<usize>().ok()? == index).then_some(*sub)
                    } else {
                        None
                    }
                });
                if let Some(sub) = sub
                    && let Some(kept) = filter(item, sub)
                {
                    out.push(kept);
                }
            }
            Some(Value::Array(out))
        }
        other => Some(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_exactly_the_fields_the_manager_applied() {
        let live = json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "j", "namespace": "a", "uid": "u", "resourceVersion": "7",
                "labels": {"mine": "x", "theirs": "y"},
                "managedFields": [
                    {"manager": "kube-controller-manager", "operation": "Update",
                     "fieldsV1": {"f:status": {}}},
                    {"manager": "jobcd", "operation": "Apply", "fieldsV1": {
                        "f:metadata": {"f:labels": {"f:mine": {}}},
                        "f:spec": {"f:backoffLimit": {}, "f:template": {"f:spec": {
                            "f:containers": {"k:{\"name\":\"main\"}": {
                                ".": {}, "f:name": {}, "f:image": {}, "f:args": {}}},
                            "f:restartPolicy": {}}}}}}
                ]
            },
            "spec": {
                "backoffLimit": 2, "completions": 1,
                "template": {"spec": {
                    "containers": [
                        {"name": "main", "image": "busybox", "args": ["a", "b"],
                         "imagePullPolicy": "IfNotPresent"},
                        {"name": "sidecar", "image": "other"}
                    ],
                    "restartPolicy": "Never", "dnsPolicy": "ClusterFirst"}}
            },
            "status": {"succeeded": 1}
        });
        assert_eq!(
            owned_by(&live, "jobcd").expect("jobcd applied it"),
            json!({
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {"name": "j", "namespace": "a", "labels": {"mine": "x"}},
                "spec": {"backoffLimit": 2, "template": {"spec": {
                    "containers": [{"name": "main", "image": "busybox", "args": ["a", "b"]}],
                    "restartPolicy": "Never"}}}
            })
        );
        assert!(owned_by(&live, "kubectl").is_none());
    }
}
