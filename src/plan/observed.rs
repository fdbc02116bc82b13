//! The live object kept beside jobcd's part of it, compactly: a cluster's
//! object is mostly jobcd's own fields and the server's defaults, and a
//! planner reads the whole object only where jobcd's part lacks a field
//! (drift, [`super::drift`]). So the whole object is kept as what differs
//! from jobcd's part — every field jobcd's part lacks or holds another
//! value for, objects compared key by key — and put back together on the
//! rare occasions the whole is needed (a CronJob's health). With 10,000
//! CronJobs cached this is most of an idle `jobcd serve`'s heap.

use serde_json::Value;

/// Takes out of `whole` every field `owned` holds with the same value,
/// keeping what `owned` lacks or holds differently; objects are compared
/// key by key, arrays and scalars as whole values. Reading the result at a
/// path `owned` lacks gives what `whole` has there.
pub fn differing(whole: &mut Value, owned: &Value) {
    let (Value::Object(whole), Value::Object(owned)) = (whole, owned) else {
        return;
    };
    whole.retain(|key, value| match owned.get(key) {
        None => true,
        Some(mine) if mine == value => false,
        Some(mine) => {
            differing(value, mine);
            // All of it is in `owned`: nothing of its own to keep.
            !value.as_object().is_some_and(serde_json::Map::is_empty)
        }
    });
}

/// `owned` with `differing` (as [`differing`] left it) laid over it: the
/// whole object again.
pub fn merged(owned: &Value, differing: &Value) -> Value {
    let mut whole = owned.clone();
    lay(&mut whole, differing);
    whole
}

fn lay(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(key) {
                    Some(mine) if mine.is_object() && value.is_object() => lay(mine, value),
                    _ => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (base, over) => *base = over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::drift::{as_seen, drifted};

    /// A CronJob as the API server keeps it, someone having taken over
    /// its schedule and image and added a container.
    fn whole() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "n", "namespace": "d", "uid": "u-1", "generation": 3,
                "labels": {"app.kubernetes.io/managed-by": "jobcd", "team": "x"}},
            "spec": {"schedule": "0 4 * * *", "suspend": false, "concurrencyPolicy": "Allow",
                "jobTemplate": {"spec": {"template": {"spec": {
                    "restartPolicy": "Never", "dnsPolicy": "ClusterFirst",
                    "containers": [
                        {"name": "main", "image": "busybox:2", "imagePullPolicy": "IfNotPresent",
                         "command": ["echo"]},
                        {"name": "side", "image": "sidecar:1"}]}}}}}
        })
    }

    fn owned() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "n", "namespace": "d",
                "labels": {"app.kubernetes.io/managed-by": "jobcd"}},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "command": ["echo"]}]}}}}}
        })
    }

    fn git() -> Value {
        json!({
            "apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "n", "namespace": "d",
                "labels": {"app.kubernetes.io/managed-by": "jobcd"}},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "main", "image": "busybox:1", "command": ["echo"]}]}}}}}
        })
    }

    #[test]
    fn what_jobcd_holds_alike_is_left_out_and_comes_back() {
        let mut kept = whole();
        differing(&mut kept, &owned());
        assert_eq!(kept["metadata"]["labels"], json!({"team": "x"}));
        assert!(kept.get("apiVersion").is_none() && kept["metadata"].get("name").is_none());
        assert_eq!(kept["spec"]["schedule"], "0 4 * * *");
        assert!(kept.to_string().len() < whole().to_string().len());
        assert_eq!(merged(&owned(), &kept), whole());
    }

    #[test]
    fn drift_reads_the_same_from_the_difference_as_from_the_whole() {
        let mut kept = whole();
        differing(&mut kept, &owned());
        let (git, owned) = (git().to_string(), owned().to_string());
        let from_whole = drifted(&git, &owned, Some(&whole().to_string()));
        let from_kept = drifted(&git, &owned, Some(&kept.to_string()));
        assert_eq!(from_whole, from_kept);
        assert_eq!(from_whole.len(), 2, "{from_whole:?}");
        let (git, owned): (Value, Value) = (
            serde_json::from_str(&git).unwrap(),
            serde_json::from_str(&owned).unwrap(),
        );
        assert_eq!(
            as_seen(&git, &owned, &whole()),
            as_seen(&git, &owned, &kept)
        );
    }
}
