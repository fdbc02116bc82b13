//! The arguments that name a git source and how to reach it, shared by the
//! commands that read one.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::source::{self, Credentials, HostKeyCheck, Location, RefName, Secret, Source};

/// `--repo URL [--ref REF] [--path P]` and credentials.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RepoArgs {
    /// Repository: a local path, file://, https://, ssh://, git@host:path or git:// URL.
    #[arg(long, env = "JOBCD_REPO")]
    pub repo: Option<String>,
    /// Branch, tag or full commit sha (default: the current branch locally, the remote's default branch otherwise).
    #[arg(long = "ref", env = "JOBCD_REF")]
    pub reference: Option<String>,
    /// Directory inside the repository holding the manifests.
    #[arg(long, default_value = "", env = "JOBCD_PATH")]
    pub path: String,
    /// For a local repository: read the working tree, uncommitted edits included, instead of the commit.
    #[arg(long)]
    pub uncommitted: bool,
    /// How manifests are rendered: auto (kustomize build of a kustomization, helm template of a chart), plain YAML, kustomize or helm.
    #[arg(long, default_value = "auto", env = "JOBCD_RENDER")]
    pub render: crate::source::render::Render,
    /// A Helm values file of the repository (a path from its top), after the chart's own; repeat for more.
    #[arg(long = "helm-values", visible_alias = "values", value_name = "FILE")]
    pub helm_values: Vec<String>,
    /// A Helm value, KEY=VALUE, after the values files; repeat for more.
    #[arg(long = "helm-set", visible_alias = "set", value_name = "KEY=VALUE")]
    pub helm_set: Vec<String>,
    /// The Helm release name (default: the chart directory's name).
    #[arg(long = "helm-release", value_name = "NAME")]
    pub helm_release: Option<String>,
    /// The Helm release's namespace, .Release.Namespace (default: default).
    #[arg(long = "helm-namespace", value_name = "NAMESPACE")]
    pub helm_namespace: Option<String>,
    /// Let plain v1 Secrets stay in the repository (ignored, never applied) instead of refusing the revision.
    #[arg(long, env = "JOBCD_ALLOW_SECRETS")]
    pub allow_secrets: bool,
    /// Refuse a revision unless its signatures verify: head (the commit at the ref), tag (the annotated tag the ref names) or both; with --trusted-keys (default head when keys are given).
    #[arg(
        long = "verify-signatures",
        value_name = "MODE",
        env = "JOBCD_VERIFY_SIGNATURES"
    )]
    pub verify_signatures: Option<crate::source::verify::Mode>,
    /// A file of trusted keys: armored OpenPGP public keys (gpg --export --armor) or SSH allowed-signers lines; repeat for more.
    #[arg(long = "trusted-keys", value_name = "FILE")]
    pub trusted_keys: Vec<PathBuf>,
    #[command(flatten)]
    pub credentials: CredentialArgs,
}

/// How to authenticate. Passwords and passphrases are read from the
/// environment or from files, never from the command line (which other users
/// can see in the process list).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CredentialArgs {
    /// HTTPS user name (the password or token comes from JOBCD_GIT_PASSWORD or --git-password-file).
    #[arg(long, env = "JOBCD_GIT_USERNAME")]
    git_username: Option<String>,
    /// File holding the HTTPS password or token.
    #[arg(long, env = "JOBCD_GIT_PASSWORD_FILE")]
    git_password_file: Option<PathBuf>,
    /// SSH private key (default: ask the SSH agent).
    #[arg(long, env = "JOBCD_SSH_KEY")]
    ssh_key: Option<PathBuf>,
    /// File holding the SSH key's passphrase (or set JOBCD_SSH_PASSPHRASE).
    #[arg(long, env = "JOBCD_SSH_PASSPHRASE_FILE")]
    ssh_passphrase_file: Option<PathBuf>,
    /// known_hosts file for SSH host keys (default ~/.ssh/known_hosts).
    #[arg(long, env = "JOBCD_SSH_KNOWN_HOSTS")]
    ssh_known_hosts: Option<PathBuf>,
    /// Accept any SSH host key. Only for throwaway setups: it allows a man in the middle.
    #[arg(long)]
    insecure_skip_host_key_check: bool,
    /// Send the password over plain http:// too (refused otherwise: anyone on the network path can read it).
    #[arg(long, env = "JOBCD_ALLOW_CLEARTEXT_PASSWORD")]
    allow_cleartext_password: bool,
    /// Seconds to wait for a remote to answer.
    #[arg(long, env = "JOBCD_GIT_TIMEOUT", default_value_t = source::DEFAULT_TIMEOUT.as_secs())]
    git_timeout: u64,
}

impl CredentialArgs {
    fn credentials(&self) -> anyhow::Result<Credentials> {
        let secret = |file: &Option<PathBuf>, var: &str| -> anyhow::Result<Option<Secret>> {
            Ok(match file {
                Some(path) => Some(Secret::from_file(path)?),
                None => std::env::var(var)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(Secret::new),
            })
        };
        Ok(Credentials {
            username: self.git_username.clone(),
            password: secret(&self.git_password_file, "JOBCD_GIT_PASSWORD")?,
            ssh_key: self.ssh_key.clone(),
            ssh_passphrase: secret(&self.ssh_passphrase_file, "JOBCD_SSH_PASSPHRASE")?,
            known_hosts: self.ssh_known_hosts.clone(),
            host_key_check: if self.insecure_skip_host_key_check {
                HostKeyCheck::Skip
            } else {
                HostKeyCheck::Strict
            },
            allow_cleartext: self.allow_cleartext_password,
        })
    }
}

impl RepoArgs {
    /// The source these arguments name, with mirrors under `state_dir`.
    pub(crate) fn source(&self, repo: &str, state_dir: PathBuf) -> anyhow::Result<Source> {
        let location = Location::parse(repo)?;
        if self.uncommitted && !matches!(location, Location::Local(_)) {
            anyhow::bail!("--uncommitted reads a local working tree; {repo} is a remote");
        }
        Ok(Source {
            location,
            reference: RefName::parse(self.reference.as_deref()),
            path: self.path.clone(),
            credentials: self
                .credentials
                .credentials()
                .context("reading credentials")?,
            state_dir,
            timeout: Duration::from_secs(self.credentials.git_timeout.max(1)),
            uncommitted: self.uncommitted,
            render: self.render,
            helm: self.helm_values(),
            verify: self.verify()?,
        })
    }

    /// The signature policy `--verify-signatures` and `--trusted-keys` ask for.
    fn verify(&self) -> anyhow::Result<Option<source::verify::Policy>> {
        let mode = match (self.verify_signatures, self.trusted_keys.is_empty()) {
            (None, true) => return Ok(None),
            (Some(_), true) => anyhow::bail!(
                "--verify-signatures needs the keys to trust: pass --trusted-keys FILE (armored OpenPGP public keys, or SSH allowed-signers lines)"
            ),
            (mode, false) => mode.unwrap_or(source::verify::Mode::Head),
        };
        if self.uncommitted {
            anyhow::bail!(
                "--uncommitted reads edits no one has signed; it cannot be combined with --verify-signatures"
            );
        }
        let keys = source::verify::TrustedKeys::load(&self.trusted_keys)?;
        Ok(Some(source::verify::Policy {
            mode,
            keys: std::sync::Arc::new(keys),
        }))
    }

    /// How a Helm chart is rendered.
    fn helm_values(&self) -> crate::source::render::HelmValues {
        crate::source::render::HelmValues {
            files: self.helm_values.clone(),
            set: self.helm_set.clone(),
            release: self.helm_release.clone(),
            namespace: self.helm_namespace.clone(),
        }
    }
}

/// Manifests to work on: from `--repo` when given, else from a directory.
pub(crate) struct Loaded {
    /// How to name the tree in messages.
    pub label: String,
    /// The files.
    pub tree: crate::manifest::Tree,
    /// The commit, when read from git.
    pub revision: Option<crate::source::Revision>,
    /// The engine that rendered the files, if one did.
    pub rendered: Option<crate::source::render::Rendered>,
}

impl RepoArgs {
    /// Reads the manifests from `--repo`, or from `dir` (default `.`).
    pub(crate) fn load(&self, paths: &[PathBuf], state_dir: PathBuf) -> anyhow::Result<Loaded> {
        match &self.repo {
            Some(repo) => Self::load_source(repo, &self.source(repo, state_dir)?),
            None => {
                // One directory holding a kustomization or a chart is
                // rendered, as its repository's working tree has it.
                let one = match paths {
                    [] => Some(std::path::Path::new(".")),
                    [dir] => Some(dir.as_path()),
                    _ => None,
                };
                if let Some(dir) = one
                    && dir.is_dir()
                    && let Some(source) = Source::working_directory(
                        dir,
                        self.render,
                        self.helm_values(),
                        state_dir.clone(),
                    )?
                {
                    let snapshot = source.snapshot()?;
                    return Ok(Loaded {
                        label: dir.display().to_string(),
                        tree: snapshot.tree,
                        revision: None,
                        rendered: snapshot.rendered,
                    });
                }
                let tree = crate::manifest::read_paths(paths)?;
                let label = match paths {
                    [] => ".".to_string(),
                    [one] if one.as_os_str() == "-" => crate::manifest::STDIN.to_string(),
                    _ => paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" "),
                };
                Ok(Loaded {
                    label,
                    tree,
                    revision: None,
                    rendered: None,
                })
            }
        }
    }
}

impl RepoArgs {
    /// Reads the manifests of `source`, the source `--repo repo` names.
    pub(crate) fn load_source(repo: &str, source: &Source) -> anyhow::Result<Loaded> {
        let snapshot = source
            .snapshot()
            .with_context(|| format!("reading {repo}"))?;
        let label = format!(
            "{repo}@{} /{}",
            snapshot.revision.short_sha,
            source.path.trim_start_matches('/')
        );
        Ok(Loaded {
            label,
            tree: snapshot.tree,
            revision: Some(snapshot.revision),
            rendered: snapshot.rendered,
        })
    }
}

/// The state directory: `--state-dir`, else `$XDG_STATE_HOME/jobcd`, else
/// `~/.local/state/jobcd`.
pub(crate) fn state_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let base = std::env::var_os("XDG_STATE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".local/state")
            });
        base.join("jobcd")
    })
}
