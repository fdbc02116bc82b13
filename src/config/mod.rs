//! The service's configuration file (`jobcd serve --config jobcd.yaml`):
//! the sources to keep in sync, the target, the reporters, the prune
//! policy and the HTTP listener. Every problem is reported at once with
//! its file, line and key; unknown keys are errors (with the closest known
//! key), so a typo never silently falls back to a default.
//!
//! Secrets are never in the file: credentials, tokens and webhook secrets
//! are named by file (`…File`) or environment variable (`…Env`).

mod health;
mod read;
mod sources;
mod trust;

use std::path::{Path, PathBuf};

pub use health::{Health, Notification};
use read::{Map, Problems};
pub use trust::{ServiceAccount, Tenancy, Verify};

use crate::manifest::Diagnostic;

/// Default HTTP listener.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
/// Default poll interval of a source, seconds.
pub const DEFAULT_INTERVAL: u64 = 60;
/// Default number of sources reconciled at once.
pub const DEFAULT_CONCURRENCY: i64 = 4;

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the HTTP server listens (webhooks, health, metrics).
    pub listen: String,
    /// jobcd's state directory (default: as for the CLI).
    pub state_dir: Option<PathBuf>,
    /// Where objects are applied.
    pub target: Target,
    /// When pruning is allowed.
    pub prune: Prune,
    /// How many sources reconcile at the same time.
    pub concurrency: usize,
    /// Where statuses go.
    pub reporters: Reporters,
    /// The repositories to keep in sync.
    pub sources: Vec<Source>,
    /// Several replicas, one leader (kube target only).
    pub leader_election: Option<LeaderElection>,
    /// Put managed objects changed on the cluster back as in git.
    pub correct_drift: bool,
    /// How CronJob health is watched.
    pub health: Health,
    /// Who is told of CronJob troubles.
    pub notifications: Vec<Notification>,
    /// The web dashboard under `/ui/`.
    pub dashboard: Dashboard,
}

/// The web dashboard `serve` shows under `/ui/` on its listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dashboard {
    /// Served at all.
    pub enabled: bool,
    /// A bearer token it asks for.
    pub token: Option<SecretRef>,
    /// A user and password it asks for (basic auth).
    pub basic: Option<(String, SecretRef)>,
}

impl Default for Dashboard {
    fn default() -> Dashboard {
        Dashboard {
            enabled: true,
            token: None,
            basic: None,
        }
    }
}

/// Leader election through a `coordination.k8s.io/v1` Lease in the
/// target's `ledgerNamespace`: only the replica holding it reconciles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderElection {
    /// The Lease's name.
    pub lease_name: String,
    /// Seconds a leader holds the Lease without renewing it; a replica
    /// takes over at most this long after the leader died.
    pub lease_duration: u64,
    /// How many shards the sources are split into, each with its own
    /// Lease `<leaseName>-shard-<i>`; 1: one leader reconciles them all.
    pub shards: u32,
}

/// Default Lease name.
pub const DEFAULT_LEASE_NAME: &str = "jobcd";
/// The most shards the sources can be split into.
pub const MAX_SHARDS: u32 = 256;
/// Default Lease duration, seconds.
pub const DEFAULT_LEASE_DURATION: u64 = 15;

/// The target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local executor, and how it runs pods.
    Local(crate::target::local::Settings),
    /// A Kubernetes cluster.
    Kube {
        /// kubeconfig file (default: in-cluster or the usual places).
        kubeconfig: Option<PathBuf>,
        /// Context of it.
        context: Option<String>,
        /// Namespaces managed (default: the configuration's).
        namespaces: Vec<String>,
        /// Namespace of the run-once ledgers and the leader lease.
        ledger_namespace: Option<String>,
    },
}

/// Prune policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prune {
    /// Prune even when a revision holds no objects.
    pub allow_empty: bool,
    /// The largest share of managed objects one sync may delete, 0..=1.
    pub max_share: f64,
    /// Prune whatever the share.
    pub force: bool,
}

/// Status reporters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reporters {
    /// Git notes under refs/notes/jobcd.
    pub notes: bool,
    /// Push the notes to the source's remote after each sync.
    pub push_notes: bool,
    /// A forge as well.
    pub forge: Option<Forge>,
}

/// A forge reporter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forge {
    /// `github`, `gitlab` or `gitea`.
    pub kind: crate::report::forge::Kind,
    /// API root (default: from the repository URL).
    pub url: Option<String>,
    /// Project (default: from the repository URL).
    pub project: Option<String>,
    /// Where the token is.
    pub token: SecretRef,
}

/// Where a secret is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// A file (e.g. a mounted Kubernetes Secret).
    File(PathBuf),
    /// An environment variable.
    Env(String),
}

/// One source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Its name: labels objects and names its ledger.
    pub name: String,
    /// Repository URL or local path.
    pub repo: String,
    /// Branch, tag or commit (default: the default branch).
    pub reference: Option<String>,
    /// Directory of the manifests.
    pub path: String,
    /// Poll interval in seconds (0: no polling, webhooks only).
    pub interval: u64,
    /// HTTPS user name.
    pub username: Option<String>,
    /// HTTPS password or token.
    pub password: Option<SecretRef>,
    /// SSH private key file.
    pub ssh_key: Option<PathBuf>,
    /// SSH key passphrase.
    pub ssh_passphrase: Option<SecretRef>,
    /// known_hosts file.
    pub known_hosts: Option<PathBuf>,
    /// Send the password over plain `http://` too.
    pub allow_cleartext_password: bool,
    /// The webhook secret (GitHub/Gitea HMAC key, GitLab token).
    pub webhook_secret: Option<SecretRef>,
    /// How its manifests are rendered (`render`: auto, plain, kustomize, helm).
    pub render: crate::source::render::Render,
    /// Values of a Helm chart (`helmValues`, `helmSet`).
    pub helm: crate::source::render::HelmValues,
    /// Plain Secrets in the repository are ignored rather than refused.
    pub allow_secrets: bool,
    /// Whose signatures its revisions must carry.
    pub verify: Option<Verify>,
    /// Where it may write on a cluster, and as whom.
    pub tenancy: Tenancy,
}

/// A configuration that is wrong: every problem, by line.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Invalid {
    /// The problems.
    pub problems: Vec<Diagnostic>,
}

/// Reads and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, Invalid> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Invalid {
        problems: vec![Diagnostic::file_error(
            &label,
            0,
            format!("cannot read it: {e}"),
        )],
    })?;
    parse(&text, &label)
}

/// Checks configuration `text`; `file` names it in messages.
pub fn parse(text: &str, file: &str) -> Result<Config, Invalid> {
    let mut problems = Problems::new(file);
    let documents = crate::yaml::parse(text).map_err(|e| Invalid {
        problems: vec![Diagnostic::file_error(
            file,
            e.line,
            format!("invalid YAML: {}", e.message),
        )],
    })?;
    let Some(root) = documents.first().map(|d| &d.root) else {
        return Err(Invalid {
            problems: vec![Diagnostic::file_error(file, 1, "the file is empty")],
        });
    };
    if documents.len() > 1 {
        problems.add(documents[1].line, "", "expected one YAML document", None);
    }
    let config = Map::of(root, "", &mut problems).map(|top| read_config(&top, &mut problems));
    match (config, problems.found.is_empty()) {
        (Some(config), true) => Ok(config),
        (None, true) => Err(Invalid {
            problems: vec![Diagnostic::file_error(
                file,
                1,
                "the file holds no settings",
            )],
        }),
        _ => Err(Invalid {
            problems: problems.found,
        }),
    }
}

/// `apiVersion` of the file, optional: with it (and `kind: Config`) the
/// file can sit among manifests, which then ignore it as another kind.
pub const API_VERSION: &str = "jobcd.dev/v1alpha1";

fn read_config(top: &Map<'_>, p: &mut Problems<'_>) -> Config {
    for (key, want) in [("apiVersion", API_VERSION), ("kind", "Config")] {
        if let Some(found) = top.string(key, p)
            && found != want
        {
            let line = top.get(key).map_or(0, |n| n.line);
            p.add(line, key, format!("{found:?}: expected {want:?}"), None);
        }
    }
    top.only(
        &[
            "apiVersion",
            "kind",
            "listen",
            "stateDir",
            "target",
            "prune",
            "concurrency",
            "reporters",
            "sources",
            "leaderElection",
            "correctDrift",
            "health",
            "notifications",
            "dashboard",
        ],
        p,
    );
    let target = read_target(top, p);
    let leader_election = read_leader_election(top, &target, p);
    let sources = sources::read_sources(top, &target, p);
    Config {
        listen: top
            .string("listen", p)
            .unwrap_or_else(|| DEFAULT_LISTEN.into()),
        state_dir: top.string("stateDir", p).map(PathBuf::from),
        target,
        prune: read_prune(top, p),
        concurrency: top
            .integer("concurrency", 1..=64, p)
            .unwrap_or(DEFAULT_CONCURRENCY) as usize,
        reporters: read_reporters(top, p),
        sources,
        leader_election,
        correct_drift: top.boolean("correctDrift", p).unwrap_or(true),
        health: health::read_health(top, p),
        notifications: health::read_notifications(top, p),
        dashboard: read_dashboard(top, p),
    }
}

fn read_dashboard(top: &Map<'_>, p: &mut Problems<'_>) -> Dashboard {
    let mut out = Dashboard::default();
    let Some(m) = top
        .get("dashboard")
        .and_then(|n| Map::of(n, "dashboard", p))
    else {
        return out;
    };
    m.only(
        &[
            "enabled",
            "tokenFile",
            "tokenEnv",
            "username",
            "passwordFile",
            "passwordEnv",
        ],
        p,
    );
    out.enabled = m.boolean("enabled", p).unwrap_or(true);
    out.token = secret(&m, "token", "dashboard", p, false);
    let password = secret(&m, "password", "dashboard", p, false);
    match (m.string("username", p), password) {
        (Some(user), Some(password)) => out.basic = Some((user, password)),
        (None, None) => {}
        (user, _) => {
            let (key, line) = match user {
                Some(_) => (
                    "dashboard.username",
                    m.get("username").map_or(0, |n| n.line),
                ),
                None => (
                    "dashboard.username",
                    m.get("passwordFile")
                        .or(m.get("passwordEnv"))
                        .map_or(0, |n| n.line),
                ),
            };
            p.add(
                line,
                key,
                "basic auth needs both username and passwordFile (or passwordEnv)",
                None,
            );
        }
    }
    out
}

fn read_leader_election(
    top: &Map<'_>,
    target: &Target,
    p: &mut Problems<'_>,
) -> Option<LeaderElection> {
    let node = top.get("leaderElection")?;
    let m = Map::of(node, "leaderElection", p)?;
    m.only(&["enabled", "leaseName", "leaseDuration", "shards"], p);
    let enabled = m.boolean("enabled", p).unwrap_or(true);
    let lease_name = m
        .string("leaseName", p)
        .unwrap_or_else(|| DEFAULT_LEASE_NAME.into());
    let lease_duration = m
        .duration("leaseDuration", p)
        .unwrap_or(DEFAULT_LEASE_DURATION);
    if !(3..=300).contains(&lease_duration) {
        let line = m.get("leaseDuration").map_or(node.line, |n| n.line);
        p.add(
            line,
            "leaderElection.leaseDuration",
            format!("{lease_duration}s is out of range"),
            Some("between 3s and 5m; 15s is usual"),
        );
    }
    let shards = m
        .integer("shards", 1..=i64::from(MAX_SHARDS), p)
        .unwrap_or(1) as u32;
    if enabled && matches!(target, Target::Local(_)) {
        p.add(
            node.line,
            "leaderElection",
            "leader election needs target kind kube: the local executor runs on one machine",
            Some("remove leaderElection, or set enabled: false"),
        );
    }
    enabled.then_some(LeaderElection {
        lease_name,
        lease_duration,
        shards,
    })
}

fn read_target(top: &Map<'_>, p: &mut Problems<'_>) -> Target {
    let Some(node) = top.get("target") else {
        p.add(
            0,
            "target",
            "target is required",
            Some("target: {kind: local} or target: {kind: kube, namespaces: [...]}"),
        );
        return Target::Local(Default::default());
    };
    let Some(t) = Map::of(node, "target", p) else {
        return Target::Local(Default::default());
    };
    match t.required("kind", p).as_deref() {
        Some("local") => {
            t.only(&["kind", "runtime", "hostPaths", "allowPrivileged"], p);
            let runtime = match t.string("runtime", p) {
                None => crate::target::local::ContainerRuntime::default(),
                Some(name) => name.parse().unwrap_or_else(|e| {
                    let line = t.get("runtime").map_or(node.line, |n| n.line);
                    p.add(
                        line,
                        "target.runtime",
                        format!("{e}"),
                        Some("process, podman or docker"),
                    );
                    crate::target::local::ContainerRuntime::default()
                }),
            };
            Target::Local(crate::target::local::Settings {
                runtime,
                allowed: crate::target::local::engine::Allowed {
                    host_paths: t
                        .strings("hostPaths", p)
                        .unwrap_or_default()
                        .into_iter()
                        .map(PathBuf::from)
                        .collect(),
                    privileged: t.boolean("allowPrivileged", p).unwrap_or(false),
                },
            })
        }
        Some("kube") => {
            t.only(
                &[
                    "kind",
                    "kubeconfig",
                    "context",
                    "namespaces",
                    "ledgerNamespace",
                ],
                p,
            );
            Target::Kube {
                kubeconfig: t.string("kubeconfig", p).map(PathBuf::from),
                context: t.string("context", p),
                namespaces: t.strings("namespaces", p).unwrap_or_default(),
                ledger_namespace: t.string("ledgerNamespace", p),
            }
        }
        Some(other) => {
            let line = t.get("kind").map_or(node.line, |n| n.line);
            p.add(
                line,
                "target.kind",
                format!("{other:?} is not a target"),
                Some("local or kube"),
            );
            Target::Local(Default::default())
        }
        None => Target::Local(Default::default()),
    }
}

fn read_prune(top: &Map<'_>, p: &mut Problems<'_>) -> Prune {
    let default = Prune {
        allow_empty: false,
        max_share: crate::plan::DEFAULT_MAX_PRUNE_SHARE,
        force: false,
    };
    let Some(m) = top.get("prune").and_then(|n| Map::of(n, "prune", p)) else {
        return default;
    };
    m.only(&["allowEmpty", "maxPercent", "force"], p);
    Prune {
        allow_empty: m.boolean("allowEmpty", p).unwrap_or(false),
        max_share: m
            .integer("maxPercent", 0..=100, p)
            .map_or(default.max_share, |n| n as f64 / 100.0),
        force: m.boolean("force", p).unwrap_or(false),
    }
}

fn read_reporters(top: &Map<'_>, p: &mut Problems<'_>) -> Reporters {
    let mut out = Reporters {
        notes: true,
        push_notes: false,
        forge: None,
    };
    let Some(m) = top
        .get("reporters")
        .and_then(|n| Map::of(n, "reporters", p))
    else {
        return out;
    };
    m.only(&["notes", "pushNotes", "forge"], p);
    out.notes = m.boolean("notes", p).unwrap_or(true);
    out.push_notes = m.boolean("pushNotes", p).unwrap_or(false);
    if let Some(f) = m
        .get("forge")
        .and_then(|n| Map::of(n, "reporters.forge", p))
    {
        f.only(&["kind", "url", "project", "tokenFile", "tokenEnv"], p);
        let kind = match f.required("kind", p).as_deref() {
            Some("github") => Some(crate::report::forge::Kind::GitHub),
            Some("gitlab") => Some(crate::report::forge::Kind::GitLab),
            Some("gitea") => Some(crate::report::forge::Kind::Gitea),
            Some(other) => {
                let line = f.get("kind").map_or(0, |n| n.line);
                p.add(
                    line,
                    "reporters.forge.kind",
                    format!("{other:?} is not a forge"),
                    Some("github, gitlab or gitea"),
                );
                None
            }
            None => None,
        };
        let token = secret(&f, "token", "reporters.forge", p, true);
        if let (Some(kind), Some(token)) = (kind, token) {
            out.forge = Some(Forge {
                kind,
                url: f.string("url", p),
                project: f.string("project", p),
                token,
            });
        }
    }
    out
}

/// `<name>File` or `<name>Env`, exactly one of them (or neither when not
/// `required`).
pub(super) fn secret(
    m: &Map<'_>,
    name: &str,
    at: &str,
    p: &mut Problems<'_>,
    required: bool,
) -> Option<SecretRef> {
    let file = m.string(&format!("{name}File"), p);
    let env = m.string(&format!("{name}Env"), p);
    match (file, env) {
        (Some(f), None) => Some(SecretRef::File(PathBuf::from(f))),
        (None, Some(e)) => Some(SecretRef::Env(e)),
        (Some(_), Some(_)) => {
            let line = m.get(&format!("{name}Env")).map_or(0, |n| n.line);
            p.add(
                line,
                &format!("{at}.{name}Env"),
                format!("give {name}File or {name}Env, not both"),
                None,
            );
            None
        }
        (None, None) if required => {
            p.add(
                0,
                &format!("{at}.{name}File"),
                format!("{name}File or {name}Env is required"),
                Some("secrets are never written in the file itself"),
            );
            None
        }
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests;
