//! Credentials for remotes: HTTPS user and password (or token), SSH keys and
//! the SSH agent, and the host-key policy.
//!
//! Secrets come from environment variables or files and live in [`Secret`],
//! whose `Debug` and `Display` print `***`, so they cannot reach a log line or
//! an error message by accident.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};

use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use super::Error;
use super::known_hosts::{self, Verdict};
use super::url::Remote;

/// A password, token or passphrase. Printing it shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// Reads a secret from a file, dropping one trailing newline (as written
    /// by `echo` or a Kubernetes Secret volume).
    pub fn from_file(path: &Path) -> Result<Secret, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::SecretFile {
            path: path.to_path_buf(),
            source,
        })?;
        let text = text.strip_suffix('\n').unwrap_or(&text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        Ok(Secret(text.to_string()))
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Whether SSH host keys are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostKeyCheck {
    /// Refuse hosts whose key is not in known_hosts (the default).
    #[default]
    Strict,
    /// Accept any host key. Only for throwaway test setups.
    Skip,
}

/// How to authenticate to remotes.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// HTTPS user name (default: the URL's, else `git`).
    pub username: Option<String>,
    /// HTTPS password or access token.
    pub password: Option<Secret>,
    /// SSH private key file; without one, the SSH agent is asked.
    pub ssh_key: Option<PathBuf>,
    /// Passphrase of the SSH key.
    pub ssh_passphrase: Option<Secret>,
    /// known_hosts file (default `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// Host-key policy.
    pub host_key_check: HostKeyCheck,
    /// Send the password over plain `http://` too (refused otherwise).
    pub allow_cleartext: bool,
}

/// What happened during authentication, to explain a failed fetch.
#[derive(Debug, Default)]
pub(crate) struct Attempts {
    userpass: bool,
    key_file: bool,
    agent: bool,
    asked_without_credentials: bool,
    /// The server asked for a password over plain http://, and none was sent.
    refused_cleartext: bool,
    pub(crate) host_key: Option<Error>,
}

impl Attempts {
    /// An authentication error explaining what was tried, if anything was.
    pub(crate) fn auth_error(&self, remote: &Remote, user: &str) -> Option<Error> {
        if self.refused_cleartext {
            return Some(Error::Cleartext {
                url: remote.url.clone(),
            });
        }
        let tried = match (self.userpass, self.key_file, self.agent) {
            (true, _, _) => "the user name and password",
            (_, true, _) => "the SSH key",
            (_, _, true) => "the SSH agent's keys",
            _ if self.asked_without_credentials => "nothing (no credentials are configured)",
            _ => return None,
        };
        Some(Error::Auth {
            url: remote.url.clone(),
            user: user.to_string(),
            tried: tried.to_string(),
        })
    }
}

impl Credentials {
    /// The user name jobcd authenticates as on `remote`.
    pub(crate) fn user_for(&self, remote: &Remote) -> String {
        remote
            .user
            .clone()
            .or_else(|| self.username.clone())
            .unwrap_or_else(|| "git".to_string())
    }

    /// libgit2 callbacks that answer credential requests once per method and
    /// check SSH host keys.
    pub(crate) fn callbacks<'a>(
        &'a self,
        remote: &'a Remote,
        attempts: &'a RefCell<Attempts>,
    ) -> RemoteCallbacks<'a> {
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |url, url_user, allowed| {
            let user = url_user.map_or_else(|| self.user_for(remote), str::to_string);
            let mut tried = attempts.borrow_mut();
            if allowed.contains(CredentialType::USERNAME) {
                return Cred::username(&user);
            }
            if allowed.contains(CredentialType::SSH_KEY) {
                if let Some(key) = &self.ssh_key
                    && !tried.key_file
                {
                    tried.key_file = true;
                    return Cred::ssh_key(
                        &user,
                        None,
                        key,
                        self.ssh_passphrase.as_ref().map(Secret::expose),
                    );
                }
                if self.ssh_key.is_none() && !tried.agent {
                    tried.agent = true;
                    return Cred::ssh_key_from_agent(&user);
                }
            }
            if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
                let cleartext = url.starts_with("http://") && !self.allow_cleartext;
                match &self.password {
                    Some(_) if cleartext => tried.refused_cleartext = true,
                    Some(password) if !tried.userpass => {
                        tried.userpass = true;
                        return Cred::userpass_plaintext(&user, password.expose());
                    }
                    None => tried.asked_without_credentials = true,
                    Some(_) => {}
                }
            }
            Err(git2::Error::from_str("no (more) credentials to offer"))
        });
        callbacks.certificate_check(move |cert, _host| {
            let Some(hostkey) = cert.as_hostkey() else {
                // TLS certificates are verified by libgit2 against the system roots.
                return Ok(CertificateCheckStatus::CertificatePassthrough);
            };
            if self.host_key_check == HostKeyCheck::Skip {
                return Ok(CertificateCheckStatus::CertificateOk);
            }
            match self.check_host_key(remote, hostkey.hostkey().unwrap_or_default()) {
                Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
                Err(e) => {
                    attempts.borrow_mut().host_key = Some(e);
                    Err(git2::Error::from_str("host key not trusted"))
                }
            }
        });
        callbacks
    }

    fn known_hosts_path(&self) -> PathBuf {
        self.known_hosts.clone().unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            Path::new(&home).join(".ssh/known_hosts")
        })
    }

    fn check_host_key(&self, remote: &Remote, key: &[u8]) -> Result<(), Error> {
        let path = self.known_hosts_path();
        let name = known_hosts::host_name(&remote.host, remote.port);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let problem = match known_hosts::check(&text, &name, key) {
            Verdict::Known => return Ok(()),
            Verdict::Unknown => "is not in",
            Verdict::Mismatch => "does not match the key recorded in",
            Verdict::Revoked => "is marked @revoked in",
        };
        Err(Error::HostKey {
            host: name,
            problem: problem.to_string(),
            known_hosts: path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let c = Credentials {
            password: Some(s),
            ..Credentials::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn secret_files_lose_one_trailing_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc \n").unwrap();
        assert_eq!(Secret::from_file(&path).unwrap().expose(), "abc ");
    }
}
