//! Secrets for the local target, kept out of git: `jobcd local secret
//! create` stores them in the state directory, one file per Secret under
//! `secrets/<namespace>/<name>.json`, readable by jobcd's user only (the
//! directories 0700, the files 0600, written whole or not at all). Pods
//! read them through `envFrom.secretRef` and `secretKeyRef` as they read
//! ConfigMaps; containers never see the directory (the sandbox covers the
//! state directory), and no value is ever printed — only names and keys.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;

/// A Secret's data: key → bytes.
pub type Data = BTreeMap<String, Vec<u8>>;

/// The most bytes a Secret holds (`core.MaxSecretSize`), keys' values
/// together.
pub const MAX_BYTES: usize = 1024 * 1024;

/// Why a Secret cannot be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A name, namespace or key Kubernetes would refuse.
    #[error("{what}: {problem}")]
    Invalid {
        /// What was named (`secret name "A"`, `key "x/y"`).
        what: String,
        /// Why it is refused.
        problem: String,
    },
    /// It exists already.
    #[error(
        "secret {namespace}/{name} exists already; delete it first (`jobcd local secret delete {name}{}`)",
        if namespace == "default" { String::new() } else { format!(" -n {namespace}") }
    )]
    Exists {
        /// Namespace.
        namespace: String,
        /// Name.
        name: String,
    },
    /// Reading or writing the store failed.
    #[error("{what} {}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// Where.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A stored file does not decode.
    #[error("{} does not decode ({source}); delete the Secret and create it again", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// One stored Secret, as listed: names and keys, never values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Listed {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Its keys, sorted, with the size of each value in bytes.
    pub keys: BTreeMap<String, usize>,
}

/// The store in a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct File {
    /// Values, base64 as in a Secret's `data`.
    data: BTreeMap<String, ByteString>,
}

impl Store {
    /// The store of the state directory `state_dir`.
    pub fn new(state_dir: &Path) -> Store {
        Store {
            dir: state_dir.join("secrets"),
        }
    }

    fn path(&self, namespace: &str, name: &str) -> PathBuf {
        self.dir.join(namespace).join(format!("{name}.json"))
    }

    /// Stores `data` as Secret `namespace/name`; refuses to replace one.
    pub fn create(&self, namespace: &str, name: &str, data: &Data) -> Result<(), Error> {
        check(namespace, name, data)?;
        let path = self.path(namespace, name);
        if path.exists() {
            return Err(Error::Exists {
                namespace: namespace.into(),
                name: name.into(),
            });
        }
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { what, path, source }
        };
        let dir = path.parent().expect("a namespace directory");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io("creating", dir))?;
        let file = File {
            data: data
                .iter()
                .map(|(k, v)| (k.clone(), ByteString(v.clone())))
                .collect(),
        };
        let json = serde_json::to_vec(&file).expect("a map of strings serializes");
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io("writing", &tmp))?;
        out.write_all(&json)
            .and_then(|()| out.sync_all())
            .map_err(io("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("writing", &path))
    }

    /// Secret `namespace/name`'s data, if it is stored.
    pub fn get(&self, namespace: &str, name: &str) -> Result<Option<Data>, Error> {
        let path = self.path(namespace, name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    what: "reading",
                    path,
                    source,
                });
            }
        };
        let file: File = serde_json::from_slice(&bytes).map_err(|source| Error::Damaged {
            path: path.clone(),
            source,
        })?;
        Ok(Some(file.data.into_iter().map(|(k, v)| (k, v.0)).collect()))
    }

    /// Deletes Secret `namespace/name`; whether there was one.
    pub fn delete(&self, namespace: &str, name: &str) -> Result<bool, Error> {
        let path = self.path(namespace, name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(source) => Err(Error::Io {
                what: "deleting",
                path,
                source,
            }),
        }
    }

    /// The stored Secrets (of `namespace`, or all), by namespace and name.
    pub fn list(&self, namespace: Option<&str>) -> Result<Vec<Listed>, Error> {
        let mut out = Vec::new();
        let namespaces: Vec<String> = match namespace {
            Some(ns) => vec![ns.to_string()],
            None => match fs::read_dir(&self.dir) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(source) => {
                    return Err(Error::Io {
                        what: "reading",
                        path: self.dir.clone(),
                        source,
                    });
                }
            },
        };
        for ns in namespaces {
            let Ok(entries) = fs::read_dir(self.dir.join(&ns)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let file = entry.file_name().to_string_lossy().into_owned();
                let Some(name) = file.strip_suffix(".json").filter(|n| !n.starts_with('.')) else {
                    continue;
                };
                if let Some(data) = self.get(&ns, name)? {
                    out.push(Listed {
                        namespace: ns.clone(),
                        name: name.to_string(),
                        keys: data.iter().map(|(k, v)| (k.clone(), v.len())).collect(),
                    });
                }
            }
        }
        out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        Ok(out)
    }
}

/// Name, namespace, keys and size as the API server checks a Secret.
fn check(namespace: &str, name: &str, data: &Data) -> Result<(), Error> {
    use crate::manifest::names;
    let invalid = |what: String, problem: String| Error::Invalid { what, problem };
    names::dns_label(namespace).map_err(|e| invalid(format!("namespace {namespace:?}"), e))?;
    names::dns_subdomain(name).map_err(|e| invalid(format!("secret name {name:?}"), e))?;
    if data.is_empty() {
        return Err(invalid(
            format!("secret {name:?}"),
            "has no keys; give --from-literal, --from-file or --from-env-file".into(),
        ));
    }
    for key in data.keys() {
        names::config_key(key).map_err(|e| invalid(format!("key {key:?}"), e))?;
    }
    let total: usize = data.values().map(Vec::len).sum();
    if total > MAX_BYTES {
        return Err(invalid(
            format!("secret {name:?}"),
            format!("its values hold {total} bytes; at most {MAX_BYTES} are allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_secret_is_stored_for_its_owner_only_and_read_back() {
        let state = tempfile::tempdir().unwrap();
        let store = Store::new(state.path());
        let data = Data::from([
            ("password".to_string(), b"s3cr\xfft".to_vec()),
            ("user".to_string(), b"app".to_vec()),
        ]);
        store.create("batch", "db", &data).unwrap();
        assert_eq!(store.get("batch", "db").unwrap(), Some(data.clone()));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state.path().join("secrets")), 0o700);
        assert_eq!(mode(&state.path().join("secrets/batch")), 0o700);
        assert_eq!(mode(&state.path().join("secrets/batch/db.json")), 0o600);
        assert!(matches!(
            store.create("batch", "db", &data),
            Err(Error::Exists { .. })
        ));
        assert_eq!(
            store.list(None).unwrap(),
            [Listed {
                namespace: "batch".into(),
                name: "db".into(),
                keys: BTreeMap::from([("password".into(), 6), ("user".into(), 3)]),
            }]
        );
        assert!(store.delete("batch", "db").unwrap());
        assert!(!store.delete("batch", "db").unwrap());
        assert_eq!(store.get("batch", "db").unwrap(), None);
    }

    #[test]
    fn names_and_keys_are_checked_as_kubernetes_checks_them() {
        let store = Store::new(tempfile::tempdir().unwrap().path());
        let one = |k: &str| Data::from([(k.to_string(), b"v".to_vec())]);
        for (ns, name, data) in [
            ("Batch", "db", one("k")),
            ("batch", "DB", one("k")),
            ("batch", "db", one("a/b")),
            ("batch", "db", one("..x")),
            ("batch", "db", Data::new()),
            (
                "batch",
                "db",
                Data::from([("k".into(), vec![0; MAX_BYTES + 1])]),
            ),
        ] {
            assert!(
                matches!(store.create(ns, name, &data), Err(Error::Invalid { .. })),
                "{ns}/{name} {:?}",
                data.keys().collect::<Vec<_>>()
            );
        }
    }
}
