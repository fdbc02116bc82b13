//! Drift: a managed object changed on the cluster by someone else. Under
//! server-side apply, whoever changes a field jobcd applied takes that
//! field over, so it leaves the part of the object jobcd's field manager
//! owns. A field of the desired manifest missing from that part, whose
//! live value is not git's, is drift. Fields jobcd owns are never compared
//! by value, which keeps the server's normal forms (quantities, key order)
//! from looking like drift; a field git now spells out that the server had
//! defaulted to the same value (same spec hash, never applied) is not drift
//! either.

use serde_json::Value;

/// A field jobcd applied that someone else changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// Where, e.g. `spec.schedule` or `spec.jobTemplate.….containers[0].image`.
    pub path: String,
    /// Its value in git.
    pub want: Value,
    /// Its value on the cluster (None when unknown or removed).
    pub found: Option<Value>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.found {
            Some(found) => write!(
                f,
                "{} is {found} on the cluster, {} in git",
                self.path, self.want
            ),
            None => write!(
                f,
                "{} is gone on the cluster, {} in git",
                self.path, self.want
            ),
        }
    }
}

/// The fields of `desired` that `owned` (what jobcd's field manager owns of
/// the live object) lacks and whose value in `observed` (the whole live
/// object) differs. All three are JSON texts; without `observed` (a target
/// that keeps what jobcd applied, not ownership) or with unreadable ones
/// there is no drift, never a false alarm.
pub fn drifted(desired: &str, owned: &str, observed: Option<&str>) -> Vec<Drift> {
    let Some(observed) = observed else {
        return Vec::new();
    };
    if desired == owned {
        return Vec::new();
    }
    let (Ok(desired), Ok(owned), Ok(observed)) = (
        serde_json::from_str::<Value>(desired),
        serde_json::from_str::<Value>(owned),
        serde_json::from_str::<Value>(observed),
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(
        &desired,
        Some(&owned),
        Some(&observed),
        &mut String::new(),
        &mut out,
    );
    // Identity is not owned by anyone (and watch events may leave the
    // type out): it cannot drift.
    out.retain(|d| !IDENTITY.contains(&d.path.as_str()));
    out
}

/// The drifted fields in one sentence, for a plan step's reason.
pub fn describe(drift: &[Drift]) -> String {
    drift
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Fields that name the object rather than describe it.
const IDENTITY: [&str; 4] = ["apiVersion", "kind", "metadata.name", "metadata.namespace"];

fn walk(
    want: &Value,
    owned: Option<&Value>,
    observed: Option<&Value>,
    path: &mut String,
    out: &mut Vec<Drift>,
) {
    match want {
        Value::Null => {}
        Value::Object(map) => {
            for (key, sub) in map {
                let mark = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                walk(
                    sub,
                    owned.and_then(|o| o.get(key)),
                    observed.and_then(|o| o.get(key)),
                    path,
                    out,
                );
                path.truncate(mark);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for (i, item) in items.iter().enumerate() {
                let mark = path.len();
                path.push_str(&format!("[{i}]"));
                walk(
                    item,
                    owned.and_then(|o| element(o, item, i)),
                    observed.and_then(|o| element(o, item, i)),
                    path,
                    out,
                );
                path.truncate(mark);
            }
        }
        // A scalar, or a list of scalars (owned as one value).
        _ => {
            if owned.is_none() && observed != Some(want) {
                out.push(Drift {
                    path: path.clone(),
                    want: want.clone(),
                    found: observed.cloned(),
                });
            }
        }
    }
}

/// The live object in git's shape, to diff against git: `owned` (what
/// jobcd's field manager owns) with each field of `desired` it lacks filled
/// in from `observed` (the value someone else gave it), or left out where
/// the cluster has none. A diff of it against `desired` shows drift and
/// spec changes, and no field only one side happens to spell out.
pub fn as_seen(desired: &Value, owned: &Value, observed: &Value) -> Value {
    let mut seen = owned.clone();
    fill(desired, &mut seen, Some(observed));
    seen
}

fn fill(want: &Value, seen: &mut Value, observed: Option<&Value>) {
    match (want, seen) {
        (Value::Object(want), Value::Object(seen)) => {
            for (key, sub) in want {
                let from = observed.and_then(|o| o.get(key));
                match seen.get_mut(key) {
                    Some(have) => fill(sub, have, from),
                    None => {
                        if let Some(theirs) = from {
                            seen.insert(key.clone(), shaped(sub, theirs));
                        }
                    }
                }
            }
        }
        (Value::Array(items), Value::Array(have)) if items.iter().any(Value::is_object) => {
            for (i, item) in items.iter().enumerate() {
                let from = observed.and_then(|o| element(o, item, i));
                let mine = match item.get("name") {
                    Some(name) => have.iter().position(|h| h.get("name") == Some(name)),
                    None => (i < have.len()).then_some(i),
                };
                match mine {
                    Some(j) => fill(item, &mut have[j], from),
                    None => {
                        if let Some(theirs) = from {
                            have.push(shaped(item, theirs));
                        }
                    }
                }
            }
        }
        // A field jobcd owns keeps the value the server stored for it.
        _ => {}
    }
}

/// `observed` cut to the fields `want` has.
fn shaped(want: &Value, observed: &Value) -> Value {
    match (want, observed) {
        (Value::Object(want), Value::Object(theirs)) => Value::Object(
            want.iter()
                .filter_map(|(key, sub)| theirs.get(key).map(|o| (key.clone(), shaped(sub, o))))
                .collect(),
        ),
        (Value::Array(items), Value::Array(_)) if items.iter().any(Value::is_object) => {
            Value::Array(
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| element(observed, item, i).map(|o| shaped(item, o)))
                    .collect(),
            )
        }
        _ => observed.clone(),
    }
}

/// The item of list `of` matching `item`: by its `name` (containers,
/// volumes, env) when it has one, else by position.
fn element<'v>(of: &'v Value, item: &Value, index: usize) -> Option<&'v Value> {
    let items = of.as_array()?;
    match item.get("name") {
        Some(name) => items.iter().find(|i| i.get("name") == Some(name)),
        None => items.get(index),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIT: &str = r#"{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"n","labels":{"team":"a"}},"spec":{"schedule":"0 3 * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"busybox:1","command":["sh","-c","x"],"resources":{"limits":{"cpu":"500m"}}}]}}}}}}"#;

    #[test]
    fn all_fields_owned_is_no_drift_whatever_the_values_look_like() {
        assert!(drifted(GIT, GIT, Some(GIT)).is_empty());
        // The server writes 0.5 CPU as "500m" and adds defaults: not drift.
        let owned = GIT.replace("\"500m\"", "\"0.5\"").replace(
            "\"command\"",
            "\"imagePullPolicy\":\"IfNotPresent\",\"command\"",
        );
        assert!(drifted(GIT, &owned, Some(&owned)).is_empty());
    }

    #[test]
    fn a_field_taken_over_is_drift_with_both_values() {
        // kubectl edit moved the schedule and the image to its own manager
        // (and fields come out in serde_json's key order).
        let owned = GIT
            .replace("\"schedule\":\"0 3 * * *\",", "")
            .replace("\"image\":\"busybox:1\",", "");
        let observed = GIT
            .replace("0 3 * * *", "0 4 * * *")
            .replace(
                "\"containers\":[",
                "\"containers\":[{\"name\":\"sidecar\",\"image\":\"s\"},",
            )
            .replace("busybox:1", "busybox:2");
        let found = drifted(GIT, &owned, Some(&observed));
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "spec.jobTemplate.spec.template.spec.containers[0].image is \"busybox:2\" on the cluster, \"busybox:1\" in git",
                "spec.schedule is \"0 4 * * *\" on the cluster, \"0 3 * * *\" in git",
            ]
        );
    }

    #[test]
    fn a_removed_label_and_a_changed_command_are_drift() {
        let owned = GIT
            .replace(",\"labels\":{\"team\":\"a\"}", "")
            .replace("\"command\":[\"sh\",\"-c\",\"x\"],", "");
        let observed = owned.replace("\"image\"", "\"command\":[\"sh\",\"-c\",\"y\"],\"image\"");
        let found = drifted(GIT, &owned, Some(&observed));
        let paths: Vec<&str> = found.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "metadata.labels.team",
                "spec.jobTemplate.spec.template.spec.containers[0].command"
            ]
        );
        assert_eq!(
            found[0].to_string(),
            "metadata.labels.team is gone on the cluster, \"a\" in git"
        );
    }

    #[test]
    fn as_seen_fills_what_others_took_over_and_nothing_else() {
        let git: Value = serde_json::from_str(GIT).unwrap();
        // The schedule and the image were taken over by someone else; the
        // server stored the CPU as 0.5 and added a pull policy.
        let owned: Value = serde_json::from_str(
            &GIT.replace("\"schedule\":\"0 3 * * *\",", "")
                .replace("\"image\":\"busybox:1\",", "")
                .replace("\"500m\"", "\"0.5\""),
        )
        .unwrap();
        let observed: Value = serde_json::from_str(
            &GIT.replace("0 3 * * *", "0 4 * * *")
                .replace("busybox:1", "busybox:2")
                .replace("\"command\"", "\"imagePullPolicy\":\"Always\",\"command\""),
        )
        .unwrap();
        let seen = as_seen(&git, &owned, &observed);
        assert_eq!(seen["spec"]["schedule"], "0 4 * * *");
        let container = &seen["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "busybox:2");
        assert_eq!(
            container["resources"]["limits"]["cpu"], "0.5",
            "owned values stand"
        );
        assert!(
            container.get("imagePullPolicy").is_none(),
            "not in git, not shown"
        );
        // A field gone on the cluster stays gone; a whole container someone
        // else owns comes in git's shape.
        let bare: Value = serde_json::from_str(r#"{"metadata":{"name":"n"},"spec":{}}"#).unwrap();
        let seen = as_seen(&git, &bare, &observed);
        assert!(seen["metadata"].get("labels").is_some());
        let container = &seen["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["image"], "busybox:2");
        assert!(container.get("imagePullPolicy").is_none());
    }

    #[test]
    fn unreadable_json_is_never_a_false_alarm() {
        assert!(drifted(GIT, "not json", Some(GIT)).is_empty());
        assert!(drifted(GIT, GIT, Some("not json")).is_empty());
    }

    #[test]
    fn identity_without_a_type_is_no_drift() {
        // Objects from a watch's list may come without apiVersion and kind.
        let untyped = GIT.replace("\"apiVersion\":\"batch/v1\",\"kind\":\"CronJob\",", "");
        assert_ne!(untyped, GIT);
        assert!(drifted(GIT, &untyped, Some(&untyped)).is_empty());
    }

    #[test]
    fn a_default_git_now_spells_out_is_no_drift() {
        // git adds `suspend: false`, which the server had defaulted: jobcd
        // never applied it (the spec hash is the same), nobody changed it.
        let git = GIT.replace("\"schedule\"", "\"suspend\":false,\"schedule\"");
        assert!(drifted(&git, GIT, Some(&git)).is_empty());
        // Someone suspended it by hand: that is drift.
        let suspended = git.replace("\"suspend\":false", "\"suspend\":true");
        let found = drifted(&git, GIT, Some(&suspended));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "spec.suspend");
    }

    #[test]
    fn without_the_live_object_there_is_no_drift() {
        // The local executor keeps what jobcd applied, not ownership.
        let older = GIT.replace(",\"labels\":{\"team\":\"a\"}", "");
        assert!(drifted(GIT, &older, None).is_empty());
    }
}
