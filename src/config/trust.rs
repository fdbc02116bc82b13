//! What a source is trusted with: whose signatures its revisions must carry
//! (`verify`), and on a cluster where it may write (`namespaces`) and as
//! whom (`serviceAccount`, impersonated for all of its API calls).

use std::path::PathBuf;

use super::Target;
use super::read::{Map, Problems};
use crate::source::verify::Mode;

/// `sources[].verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verify {
    /// What must be signed.
    pub mode: Mode,
    /// Files of trusted keys (armored OpenPGP, or SSH allowed signers).
    pub key_files: Vec<PathBuf>,
}

/// A ServiceAccount to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ServiceAccount {
    /// The user name Kubernetes authenticates it as.
    pub fn user(&self) -> String {
        format!("system:serviceaccount:{}:{}", self.namespace, self.name)
    }
}

/// Where a source may write on a cluster, and as whom.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tenancy {
    /// The namespaces its objects may be in (a subset of the target's);
    /// None: all of the target's.
    pub namespaces: Option<Vec<String>>,
    /// Who its API calls are made as; None: jobcd's own identity.
    pub service_account: Option<ServiceAccount>,
}

/// Reads `verify` of a source mapping.
pub(super) fn read_verify(m: &Map<'_>, p: &mut Problems<'_>) -> Option<Verify> {
    let node = m.get("verify")?;
    let v = Map::of(node, &m.path_of("verify"), p)?;
    v.only(&["mode", "keyFiles"], p);
    let mode = match v.string("mode", p).map(|t| t.parse::<Mode>()) {
        None => Mode::Head,
        Some(Ok(mode)) => mode,
        Some(Err(e)) => {
            let line = v.get("mode").map_or(node.line, |n| n.line);
            p.add(line, &v.path_of("mode"), e, None);
            Mode::Head
        }
    };
    let key_files: Vec<PathBuf> = v
        .strings("keyFiles", p)
        .unwrap_or_default()
        .into_iter()
        .map(PathBuf::from)
        .collect();
    if key_files.is_empty() {
        p.add(
            node.line,
            &v.path_of("keyFiles"),
            "keyFiles is required: the files of trusted keys (armored OpenPGP public keys, or SSH allowed-signers lines)",
            Some("without keys no signature could be trusted, and every revision would be refused"),
        );
    }
    Some(Verify { mode, key_files })
}

/// Reads `namespaces` and `serviceAccount` of a source mapping, checked
/// against the target: only a cluster has them, and the namespaces must
/// be among the target's.
pub(super) fn read_tenancy(m: &Map<'_>, target: &Target, p: &mut Problems<'_>) -> Tenancy {
    let namespaces = m.strings("namespaces", p);
    let service_account = m.get("serviceAccount").and_then(|node| {
        let s = Map::of(node, &m.path_of("serviceAccount"), p)?;
        s.only(&["name", "namespace"], p);
        Some(ServiceAccount {
            name: s.required("name", p)?,
            namespace: s.required("namespace", p)?,
        })
    });
    match target {
        Target::Kube {
            namespaces: allowed,
            ..
        } => {
            if let (Some(wanted), Some(node)) = (&namespaces, m.get("namespaces")) {
                if wanted.is_empty() {
                    p.add(
                        node.line,
                        &m.path_of("namespaces"),
                        "namespaces is empty: the source could write nowhere",
                        Some("list the namespaces it may write to, or leave the key out for all of the target's"),
                    );
                }
                for namespace in wanted {
                    if !allowed.is_empty() && !allowed.contains(namespace) {
                        p.add(
                            node.line,
                            &m.path_of("namespaces"),
                            format!(
                                "namespace {namespace:?} is not among target.namespaces ({})",
                                allowed.join(", ")
                            ),
                            Some("a source may write only to namespaces jobcd manages"),
                        );
                    }
                }
            }
        }
        Target::Local(_) => {
            for key in ["namespaces", "serviceAccount"] {
                if let Some(node) = m.get(key) {
                    p.add(
                        node.line,
                        &m.path_of(key),
                        format!("{key} confines a source on a cluster; the local target has no other identity to run it as"),
                        Some("remove it, or use target.kind: kube"),
                    );
                }
            }
        }
    }
    Tenancy {
        namespaces,
        service_account,
    }
}
