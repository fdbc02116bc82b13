//! From `jobcd serve`'s configuration to the parts it runs: each source's
//! git access and credentials, its status route (git notes, a forge), and
//! secrets read from files or the environment.

use std::path::Path;

use crate::config::{self, Config, SecretRef};
use crate::report::notes::GitNotes;
use crate::report::notify::{Receiver, Sender};
use crate::report::outbox::SourceReport;
use crate::report::statuses::Route;
use crate::report::{Reporter, forge};
use crate::source::{self, Credentials, HostKeyCheck, Location, RefName, Secret, Source};

/// Why the configuration cannot be turned into running parts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A secret's file cannot be read, or a repository URL does not parse.
    #[error("source {name}")]
    Source {
        /// The source.
        name: String,
        /// Why.
        #[source]
        source: source::Error,
    },
    /// A secret's environment variable is unset.
    #[error("the environment variable {var} is not set; set it, or give the secret as a file")]
    MissingEnv {
        /// The variable.
        var: String,
    },
    /// The trusted keys of a source that verifies signatures cannot be read.
    #[error("source {name}: verify.keyFiles")]
    TrustedKeys {
        /// The source.
        name: String,
        /// Why.
        #[source]
        source: crate::source::verify::KeyringError,
    },
    /// A notification receiver's URL or key cannot be read.
    #[error("notification receiver {name}")]
    Receiver {
        /// The receiver.
        name: String,
        /// Why.
        #[source]
        source: SecretError,
    },
    /// The forge reporter cannot be set up.
    #[error("source {name}: reporting to the forge")]
    Forge {
        /// The source.
        name: String,
        /// Why.
        #[source]
        source: forge::SetupError,
    },
}

/// Reads a secret from its file or environment variable.
pub fn read_secret(r: &SecretRef) -> Result<Secret, SecretError> {
    match r {
        SecretRef::File(path) => Ok(Secret::from_file(path)?),
        SecretRef::Env(var) => match std::env::var(var) {
            Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
            _ => Err(SecretError::MissingEnv { var: var.clone() }),
        },
    }
}

/// Why a secret cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// Its file cannot be read.
    #[error(transparent)]
    File(#[from] source::Error),
    /// Its environment variable is unset.
    #[error("the environment variable {var} is not set; set it, or give the secret as a file")]
    MissingEnv {
        /// The variable.
        var: String,
    },
}

impl Error {
    pub(crate) fn from_secret(name: &str, e: SecretError) -> Error {
        match e {
            SecretError::File(source) => Error::Source {
                name: name.into(),
                source,
            },
            SecretError::MissingEnv { var } => Error::MissingEnv { var },
        }
    }
}

/// The git side of a configured source.
pub fn source_of(s: &config::Source, state_dir: &Path) -> Result<Source, Error> {
    let secret = |r: &SecretRef| read_secret(r).map_err(|e| Error::from_secret(&s.name, e));
    Ok(Source {
        location: Location::parse(&s.repo).map_err(|source| Error::Source {
            name: s.name.clone(),
            source,
        })?,
        reference: RefName::parse(s.reference.as_deref()),
        path: s.path.clone(),
        credentials: Credentials {
            username: s.username.clone(),
            password: s.password.as_ref().map(secret).transpose()?,
            ssh_key: s.ssh_key.clone(),
            ssh_passphrase: s.ssh_passphrase.as_ref().map(secret).transpose()?,
            known_hosts: s.known_hosts.clone(),
            host_key_check: HostKeyCheck::Strict,
            allow_cleartext: s.allow_cleartext_password,
        },
        state_dir: state_dir.to_path_buf(),
        timeout: crate::source::DEFAULT_TIMEOUT,
        uncommitted: false,
        render: s.render,
        helm: s.helm.clone(),
        verify: match &s.verify {
            Some(v) => Some(crate::source::verify::Policy {
                mode: v.mode,
                keys: std::sync::Arc::new(
                    crate::source::verify::TrustedKeys::load(&v.key_files).map_err(|source| {
                        Error::TrustedKeys {
                            name: s.name.clone(),
                            source,
                        }
                    })?,
                ),
            }),
            None => None,
        },
    })
}

/// Where a configured source's statuses go.
pub fn route_of(config: &Config, s: &config::Source, source: &Source) -> Result<Route, Error> {
    let mut reporters: Vec<Box<dyn Reporter>> = Vec::new();
    if config.reporters.notes {
        reporters.push(Box::new(GitNotes::new(source.notes_repo())));
    }
    let mut forge_config = None;
    if let Some(f) = &config.reporters.forge {
        let remote = (!matches!(source.location, Location::Local(_))).then_some(s.repo.as_str());
        let token = read_secret(&f.token).map_err(|e| Error::from_secret(&s.name, e))?;
        let reporter = forge::for_source(
            Some(f.kind),
            remote,
            f.url.as_deref(),
            f.project.as_deref(),
            token,
        )
        .map_err(|source| Error::Forge {
            name: s.name.clone(),
            source,
        })?;
        forge_config = Some(reporter.config());
        reporters.push(Box::new(reporter));
    }
    let remember = (!reporters.is_empty()).then(|| SourceReport {
        notes_repo: source.notes_repo(),
        forge: forge_config,
    });
    Ok(Route {
        source: s.name.clone(),
        reporters,
        remember,
    })
}

/// A configured notification receiver, its URL and key read.
pub fn receiver_of(n: &config::Notification) -> Result<Receiver, Error> {
    let secret = |r: &SecretRef| {
        read_secret(r).map_err(|source| Error::Receiver {
            name: n.name.clone(),
            source,
        })
    };
    let url = match (&n.url, &n.url_secret) {
        (Some(url), _) => url.clone(),
        (None, Some(r)) => secret(r)?.expose().trim().to_string(),
        // The configuration requires one of them.
        (None, None) => String::new(),
    };
    Ok(Receiver {
        name: n.name.clone(),
        format: n.format,
        url,
        secret: n.secret.as_ref().map(secret).transpose()?,
        events: n.events.clone(),
        recovered: n.recovered,
        resend: n.resend,
    })
}

/// Where a receiver's messages go: a route of its own, named so that no
/// source can take it (source names hold no `/`).
pub fn notify_route(receiver: &Receiver) -> Route {
    Route {
        source: receiver.reporter_name(),
        reporters: vec![Box::new(Sender::new(receiver.clone()))],
        remember: None,
    }
}
