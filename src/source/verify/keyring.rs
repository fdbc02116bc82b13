//! Trusted keys, read from files: armored OpenPGP public keys (as `gpg
//! --export --armor` writes them), or SSH allowed-signers lines (as git's
//! `gpg.ssh.allowedSignersFile` holds them). A file is one or the other.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::openpgp::Cert;
use super::ssh::AllowedSigner;

/// Why the trusted keys could not be read. Each names the file (and line)
/// and what to do.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// The file could not be read.
    #[error("cannot read the trusted keys file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An OpenPGP key in the file is unusable.
    #[error("{path}: {message}; export the key again with gpg --export --armor KEYID")]
    OpenPgp {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A line of an allowed-signers file is unusable.
    #[error(
        "{path}:{line}: {message} (allowed-signers lines are: PRINCIPALS [OPTIONS] KEYTYPE BASE64KEY [COMMENT])"
    )]
    AllowedSigners {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file holds no key at all.
    #[error(
        "{path} holds no key: give armored OpenPGP public keys (gpg --export --armor) or SSH allowed-signers lines"
    )]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// The keys whose signatures are trusted.
#[derive(Debug, Default)]
pub struct Keyring {
    openpgp: Vec<Cert>,
    ssh: Vec<AllowedSigner>,
    files: Vec<PathBuf>,
}

impl Keyring {
    /// Reads every file; each must hold at least one key.
    pub fn load(paths: &[PathBuf]) -> Result<Keyring, KeyringError> {
        let mut keyring = Keyring::default();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| KeyringError::Read {
                path: path.clone(),
                source,
            })?;
            keyring.add(path, &text)?;
        }
        Ok(keyring)
    }

    /// Adds the keys of one file's text.
    fn add(&mut self, path: &Path, text: &str) -> Result<(), KeyringError> {
        let before = self.openpgp.len() + self.ssh.len();
        if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            let certs = super::openpgp::read(text).map_err(|message| KeyringError::OpenPgp {
                path: path.to_path_buf(),
                message,
            })?;
            self.openpgp.extend(certs);
        } else if text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
            return Err(KeyringError::OpenPgp {
                path: path.to_path_buf(),
                message: "it holds a private key, which jobcd never needs; give the public key (gpg --export --armor, not --export-secret-keys)".into(),
            });
        } else {
            for (n, line) in text.lines().enumerate() {
                match AllowedSigner::parse(line) {
                    Ok(Some(signer)) => self.ssh.push(signer),
                    Ok(None) => {}
                    Err(message) => {
                        return Err(KeyringError::AllowedSigners {
                            path: path.to_path_buf(),
                            line: n + 1,
                            message,
                        });
                    }
                }
            }
        }
        if self.openpgp.len() + self.ssh.len() == before {
            return Err(KeyringError::Empty {
                path: path.to_path_buf(),
            });
        }
        self.files.push(path.to_path_buf());
        Ok(())
    }

    /// The OpenPGP certificates.
    pub(super) fn openpgp(&self) -> Keys<'_, Cert> {
        Keys {
            keys: &self.openpgp,
            files: &self.files,
        }
    }

    /// The SSH allowed signers.
    pub(super) fn ssh(&self) -> Keys<'_, AllowedSigner> {
        Keys {
            keys: &self.ssh,
            files: &self.files,
        }
    }

    /// How many keys there are, OpenPGP and SSH.
    pub fn len(&self) -> (usize, usize) {
        (self.openpgp.len(), self.ssh.len())
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.openpgp.is_empty() && self.ssh.is_empty()
    }
}

/// Keys of one kind, and the files they came from (for messages).
#[derive(Debug, Clone, Copy)]
pub(super) struct Keys<'a, K> {
    pub keys: &'a [K],
    pub files: &'a [PathBuf],
}

impl<K> Keys<'_, K> {
    /// "a.asc, b.pub": where an untrusted key would have to be added.
    pub fn files(&self) -> String {
        if self.files.is_empty() {
            return "no trusted keys file".into();
        }
        self.files
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Trusted keys read from files, and read again when one of them changes —
/// a mounted Secret updated to rotate or revoke a key takes effect at the
/// next revision, without a restart. A change is a new modification time
/// or size (Kubernetes swaps a Secret volume's files, so both move).
#[derive(Debug)]
pub struct TrustedKeys {
    paths: Vec<PathBuf>,
    loaded: Mutex<(Vec<Stamp>, Arc<Keyring>)>,
}

/// What a file looked like when it was read.
type Stamp = Option<(SystemTime, u64)>;

fn stamps(paths: &[PathBuf]) -> Vec<Stamp> {
    paths
        .iter()
        .map(|p| {
            let meta = std::fs::metadata(p).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        })
        .collect()
}

impl TrustedKeys {
    /// Reads the files now; each must hold at least one key.
    pub fn load(paths: &[PathBuf]) -> Result<TrustedKeys, KeyringError> {
        let before = stamps(paths);
        let keyring = Keyring::load(paths)?;
        Ok(TrustedKeys {
            paths: paths.to_vec(),
            loaded: Mutex::new((before, Arc::new(keyring))),
        })
    }

    /// The keys as the files hold them now: read again if a file changed
    /// since. A file that became unreadable or holds no usable key is an
    /// error (then no revision is trusted), never a silent fallback to the
    /// keys read before.
    pub fn current(&self) -> Result<Arc<Keyring>, KeyringError> {
        let now = stamps(&self.paths);
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if loaded.0 != now {
            let keyring = Arc::new(Keyring::load(&self.paths)?);
            *loaded = (now, keyring);
        }
        Ok(loaded.1.clone())
    }
}
