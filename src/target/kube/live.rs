//! Watched objects as [`Live`]: ownership from labels and annotations,
//! and the manifest as the part jobcd's field manager owns.

use kube::api::DynamicObject;
use serde_json::Value;

use super::{FIELD_MANAGER, SCHEDULED_FOR, owned};
use crate::manifest::{Kind, ObjectRef};
use crate::ownership::{self, Owner};
use crate::plan;
use crate::target::Live;

/// A watched object as [`Live`]; None for Jobs a CronJob owns.
pub(super) fn live_of(kind: Kind, object: &DynamicObject) -> Option<Live> {
    let owned_by_cronjob = object
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "CronJob");
    if owned_by_cronjob {
        return None;
    }
    let value = serde_json::to_value(object).ok()?;
    let annotation = |key: &str| {
        value["metadata"]["annotations"][key]
            .as_str()
            .map(str::to_string)
    };
    let (revision, path, spec_hash) = (
        annotation(ownership::REVISION),
        annotation(ownership::PATH),
        annotation(ownership::SPEC_HASH),
    );
    let source = match ownership::owner(&value) {
        Owner::Source(s) => Some(s),
        Owner::Unmanaged => None,
    };
    let owned = owned::owned_by(&value, FIELD_MANAGER);
    let is_owned = owned.is_some();
    let mut applied = owned.unwrap_or_else(|| value.clone());
    unstamp(&mut applied);
    // What of the whole object differs from jobcd's part, for what
    // drifted, when jobcd's part is not all. Kept for every object of a
    // watch: compact (plan::observed), and each string no larger than
    // its text.
    let observed = is_owned.then(|| {
        let mut whole = value;
        if let Some(map) = whole.as_object_mut() {
            map.remove("status");
        }
        if let Some(meta) = whole.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        plan::observed::differing(&mut whole, &applied);
        compact(whole.to_string())
    });
    let applied_at = object
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .find(|m| m.manager.as_deref() == Some(FIELD_MANAGER))
        .and_then(|m| m.time.as_ref())
        .map(|t| t.0);
    Some(Live {
        id: ObjectRef {
            kind,
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
        },
        source,
        revision,
        path,
        spec_hash,
        manifest: compact(applied.to_string()),
        applied_at,
        observed,
    })
}

/// `text` without the spare capacity its serialisation grew (up to
/// twice its length).
fn compact(mut text: String) -> String {
    text.shrink_to_fit();
    text
}

/// Removes the label jobcd stamps on a CronJob's Job template (not in git),
/// and the maps it leaves empty, which git does not have either.
fn unstamp(applied: &mut Value) {
    let Some(template) = applied.pointer_mut("/spec/jobTemplate") else {
        return;
    };
    let Some(metadata) = template.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(labels) = metadata.get_mut("labels").and_then(Value::as_object_mut) {
        labels.remove(SCHEDULED_FOR);
        if labels.is_empty() {
            metadata.remove("labels");
        }
    }
    if metadata.is_empty()
        && let Some(template) = template.as_object_mut()
    {
        template.remove("metadata");
    }
}
