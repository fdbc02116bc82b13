//! A ConfigMap, as the API server's `ValidateConfigMap` checks it: its
//! name, its keys (`data` and `binaryData`, none in both), and 1 MiB of
//! values in all.

use k8s_openapi::api::core::v1::ConfigMap;

use super::{Findings, meta, names};
use crate::manifest::Kind;
use crate::manifest::path::join_key;

/// The most bytes a ConfigMap's values may hold (`core.MaxSecretSize`).
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

pub(super) fn config_map(f: &mut Findings<'_>, map: &ConfigMap) {
    meta::object_meta(f, &map.metadata, meta::object_name_limit(Kind::ConfigMap));
    meta::jobcd_metadata(f, &map.metadata, Kind::ConfigMap);
    let mut total = 0;
    for (key, value) in map.data.iter().flatten() {
        if let Err(e) = names::config_key(key) {
            f.error(
                join_key("data", key),
                format!("invalid key {key:?}: {e}"),
                None,
            );
        }
        if map
            .binary_data
            .as_ref()
            .is_some_and(|b| b.contains_key(key))
        {
            f.error(
                join_key("data", key),
                format!("key {key:?} is in binaryData too"),
                Some("a key is in data or in binaryData, not both"),
            );
        }
        total += value.len();
    }
    for (key, value) in map.binary_data.iter().flatten() {
        if let Err(e) = names::config_key(key) {
            f.error(
                join_key("binaryData", key),
                format!("invalid key {key:?}: {e}"),
                None,
            );
        }
        total += value.0.len();
    }
    if total > MAX_BYTES {
        f.error(
            "data",
            format!("the values hold {total} bytes; at most {MAX_BYTES} are allowed"),
            Some("a ConfigMap holds at most 1 MiB: split it, or mount the data another way"),
        );
    }
}
