//! Commit statuses on a forge: GitHub (and GitHub Enterprise), GitLab, and
//! Gitea/Forgejo, each through its REST API.
//!
//! A plain blocking HTTP client (ureq, rustls) rather than a forge SDK:
//! each forge needs one POST, the three share everything else (retries,
//! rate limits, redaction), and octocrab would bring a second async HTTP
//! stack for a single endpoint of one of the three.

mod comments;

use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;

use super::{Failure, Reporter, State, Status};
use crate::source::Secret;

pub use comments::Posted;

/// GitHub's limit of statuses per commit and context.
pub const GITHUB_MAX_STATUSES: u32 = 1000;
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Which API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// GitHub or GitHub Enterprise Server.
    GitHub,
    /// GitLab.
    GitLab,
    /// Gitea or Forgejo.
    Gitea,
}

impl Kind {
    /// The forge a repository host is known to be, if it is one of the
    /// public ones (anything else must be named).
    pub fn of_host(host: &str) -> Option<Kind> {
        match host.to_ascii_lowercase().as_str() {
            "github.com" | "www.github.com" => Some(Kind::GitHub),
            "gitlab.com" | "www.gitlab.com" => Some(Kind::GitLab),
            "codeberg.org" | "gitea.com" => Some(Kind::Gitea),
            _ => None,
        }
    }

    /// The API root of a forge on `host`.
    pub fn default_api(self, host: &str) -> String {
        match (self, host.to_ascii_lowercase().as_str()) {
            (Kind::GitHub, "github.com" | "www.github.com") => "https://api.github.com".into(),
            (Kind::GitHub, _) => format!("https://{host}/api/v3"),
            (Kind::GitLab, _) => format!("https://{host}/api/v4"),
            (Kind::Gitea, _) => format!("https://{host}/api/v1"),
        }
    }
}

/// Where a forge reporter posts, without its token: what the outbox keeps
/// so that runs jobcd starts later (CronJobs) reach the same forge.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Which API.
    pub kind: Kind,
    /// API root.
    pub api: String,
    /// `owner/repo`.
    pub project: String,
}

impl Config {
    /// The commit's page on the forge's web site, from the API root:
    /// `https://api.github.com` is github.com, and an API under
    /// `/api/v3`, `/api/v4` or `/api/v1` sits on the site's own host.
    pub fn commit_url(&self, sha: &str) -> String {
        let web = match self.api.trim_end_matches('/') {
            "https://api.github.com" => "https://github.com",
            api => ["/api/v3", "/api/v4", "/api/v1"]
                .iter()
                .find_map(|suffix| api.strip_suffix(suffix))
                .unwrap_or(api),
        };
        match self.kind {
            Kind::GitLab => format!("{web}/{}/-/commit/{sha}", self.project),
            Kind::GitHub | Kind::Gitea => format!("{web}/{}/commit/{sha}", self.project),
        }
    }
}

/// A forge's commit-status endpoint for one repository.
pub struct Forge {
    kind: Kind,
    /// API root, without a trailing slash.
    api: String,
    /// `owner/repo` (GitLab: the project's full path).
    project: String,
    token: Secret,
    agent: ureq::Agent,
    name: String,
}

impl std::fmt::Debug for Forge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forge")
            .field("kind", &self.kind)
            .field("api", &self.api)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl Forge {
    /// The reporter for `project` (`owner/repo`) at the API root `api`.
    pub fn new(kind: Kind, api: &str, project: &str, token: Secret) -> Forge {
        let agent = agent();
        let api = api.trim_end_matches('/').to_string();
        let name = format!("{kind:?}:{api}/{project}").to_lowercase();
        Forge {
            kind,
            api,
            project: project
                .trim_matches('/')
                .trim_end_matches(".git")
                .to_string(),
            token,
            agent,
            name,
        }
    }

    /// Where it posts.
    pub fn config(&self) -> Config {
        Config {
            kind: self.kind,
            api: self.api.clone(),
            project: self.project.clone(),
        }
    }

    /// The reporter a [`Config`] describes.
    pub fn from_config(config: &Config, token: Secret) -> Forge {
        Forge::new(config.kind, &config.api, &config.project, token)
    }

    /// The headers that authenticate a request (the token is in them:
    /// never print them).
    fn auth(&self) -> Vec<(&'static str, String)> {
        let token = self.token.expose();
        match self.kind {
            Kind::GitHub => vec![
                ("Authorization", format!("Bearer {token}")),
                ("Accept", "application/vnd.github+json".into()),
                ("X-GitHub-Api-Version", "2022-11-28".into()),
            ],
            Kind::GitLab => vec![("PRIVATE-TOKEN", token.to_string())],
            Kind::Gitea => vec![("Authorization", format!("token {token}"))],
        }
    }

    /// The request for `status`: (URL, JSON body). Gitea's commit-status
    /// API has GitHub's shape.
    fn request(&self, status: &Status) -> (String, serde_json::Value) {
        match self.kind {
            Kind::GitHub | Kind::Gitea => (
                format!(
                    "{}/repos/{}/statuses/{}",
                    self.api, self.project, status.sha
                ),
                json!({
                    "state": status.state.as_str(),
                    "target_url": status.target_url,
                    "description": status.description,
                    "context": status.context,
                }),
            ),
            Kind::GitLab => (
                format!(
                    "{}/projects/{}/statuses/{}",
                    self.api,
                    self.gitlab_project(),
                    status.sha
                ),
                json!({
                    "state": gitlab_state(status.state),
                    "name": status.context,
                    "description": status.description,
                    "target_url": status.target_url,
                }),
            ),
        }
    }

    /// The project as GitLab's API names it in a path (URL-encoded).
    fn gitlab_project(&self) -> String {
        self.project.replace('/', "%2F")
    }
}

/// GitLab's names: a jobcd `pending` is work under way (`running`); a
/// jobcd `error` is a failure of the pipeline step too.
fn gitlab_state(state: State) -> &'static str {
    match state {
        State::Pending => "running",
        State::Success => "success",
        State::Failure | State::Error => "failed",
    }
}

impl Reporter for Forge {
    fn name(&self) -> &str {
        &self.name
    }

    fn max_per_context(&self) -> Option<u32> {
        // GitHub refuses more than 1,000 statuses per sha and context.
        (self.kind == Kind::GitHub).then_some(GITHUB_MAX_STATUSES)
    }

    fn deliver(&self, status: &Status, _at: Timestamp) -> Result<(), Failure> {
        let (url, body) = self.request(status);
        let mut request = self.agent.post(&url).content_type("application/json");
        for (name, value) in &self.auth() {
            request = request.header(*name, value);
        }
        let response = request.send(body.to_string()).map_err(|e| Failure {
            // ureq's errors name the URL, never headers.
            message: format!("POST {url}: {e}"),
            retry_after: None,
        })?;
        let code = response.status().as_u16();
        if (200..300).contains(&code) {
            return Ok(());
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let retry_after = rate_limit_wait(
            code,
            header("retry-after").as_deref(),
            header("x-ratelimit-remaining").as_deref(),
            header("x-ratelimit-reset")
                .or_else(|| header("ratelimit-reset"))
                .as_deref(),
            Timestamp::now(),
        );
        let hint = match code {
            401 => ": the token is missing, wrong or expired",
            403 if retry_after.is_none() => {
                ": the token may lack permission to write commit statuses"
            }
            404 => ": no such repository or commit, or the token cannot see it",
            _ => "",
        };
        Err(Failure {
            message: format!("POST {url}: HTTP {code}{hint}"),
            retry_after,
        })
    }
}

/// The HTTP client of every reporter: the system's trust store
/// (SSL_CERT_FILE too), not only the public roots ureq bundles — a
/// self-hosted GitLab, Gitea or Alertmanager is often signed by a private
/// CA — a 10 s limit per request, and HTTP errors as responses.
pub fn agent() -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("jobcd/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// How long a rate-limited forge asks to wait: `Retry-After` (seconds), or
/// for a 403/429 with no requests left, until `X-RateLimit-Reset` (epoch
/// seconds, GitHub and GitLab).
pub fn rate_limit_wait(
    code: u16,
    retry_after: Option<&str>,
    remaining: Option<&str>,
    reset: Option<&str>,
    now: Timestamp,
) -> Option<Duration> {
    if !matches!(code, 403 | 429) {
        return None;
    }
    if let Some(seconds) = retry_after.and_then(|s| s.trim().parse::<u64>().ok()) {
        return Some(Duration::from_secs(seconds));
    }
    let exhausted = remaining.is_some_and(|r| r.trim() == "0") || code == 429;
    let reset = reset.and_then(|s| s.trim().parse::<i64>().ok())?;
    if !exhausted {
        return None;
    }
    let wait = reset - now.as_second();
    Some(Duration::from_secs(wait.max(1) as u64))
}

/// Why a forge reporter cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// No token was given.
    #[error("reporting to a forge needs a token: set JOBCD_FORGE_TOKEN or --forge-token-file")]
    NoToken,
    /// The token file cannot be read.
    #[error(transparent)]
    TokenFile(#[from] crate::source::Error),
    /// The forge cannot be told from the repository.
    #[error("cannot tell which forge {repo} is; say --report github, gitlab or gitea")]
    UnknownForge {
        /// The repository.
        repo: String,
    },
    /// A local repository names no forge host.
    #[error("a local repository has no forge host; give --forge-url")]
    NoHost,
    /// The project cannot be told from the repository.
    #[error("cannot tell the forge project; give --forge-repo OWNER/REPO")]
    NoProject,
}

/// The forge token: from `file` if given, else `JOBCD_FORGE_TOKEN_FILE`,
/// else `JOBCD_FORGE_TOKEN`.
pub fn token(file: Option<&std::path::Path>) -> Result<Secret, SetupError> {
    let from_env = std::env::var_os("JOBCD_FORGE_TOKEN_FILE").map(std::path::PathBuf::from);
    if let Some(file) = file.map(std::path::Path::to_path_buf).or(from_env) {
        return Ok(Secret::from_file(&file)?);
    }
    match std::env::var("JOBCD_FORGE_TOKEN") {
        Ok(token) if !token.is_empty() => Ok(Secret::new(token)),
        _ => Err(SetupError::NoToken),
    }
}

/// Builds the reporter for a source: the forge is `kind`, or inferred from
/// the repository's host; the API root is `api`, or the forge's default
/// for that host; the project is `project`, or the repository URL's path.
/// The error says which flag is missing.
pub fn for_source(
    kind: Option<Kind>,
    repo_url: Option<&str>,
    api: Option<&str>,
    project: Option<&str>,
    token: Secret,
) -> Result<Forge, SetupError> {
    let host = repo_url.and_then(host_of);
    let kind = match kind.or_else(|| host.as_deref().and_then(Kind::of_host)) {
        Some(kind) => kind,
        None => {
            return Err(SetupError::UnknownForge {
                repo: repo_url.unwrap_or("a local repository").to_string(),
            });
        }
    };
    let api = match (api, host.as_deref()) {
        (Some(api), _) => api.to_string(),
        (None, Some(host)) => kind.default_api(host),
        (None, None) => return Err(SetupError::NoHost),
    };
    let Some(project) = project
        .map(str::to_string)
        .or_else(|| repo_url.and_then(project_of))
    else {
        return Err(SetupError::NoProject);
    };
    Ok(Forge::new(kind, &api, &project, token))
}

/// The host of a repository URL.
fn host_of(url: &str) -> Option<String> {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest,
        None => url,
    };
    let authority = rest.split(['/', ':']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

/// `owner/repo` from a repository URL (`https://host/owner/repo.git`,
/// `git@host:owner/repo.git`, `ssh://git@host/owner/repo`).
pub fn project_of(url: &str) -> Option<String> {
    let rest = match url.split_once("://") {
        Some((_, rest)) => rest.split_once('/')?.1,
        None => url.split_once(':')?.1,
    };
    let path = rest.trim_matches('/').trim_end_matches(".git");
    path.contains('/').then(|| path.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_links_to_its_page_on_each_forge() {
        let link = |kind, api: &str, project: &str| {
            Config {
                kind,
                api: api.into(),
                project: project.into(),
            }
            .commit_url("abc123")
        };
        assert_eq!(
            link(Kind::GitHub, "https://api.github.com", "ops/jobs"),
            "https://github.com/ops/jobs/commit/abc123"
        );
        assert_eq!(
            link(Kind::GitHub, "https://ghe.example.com/api/v3", "ops/jobs"),
            "https://ghe.example.com/ops/jobs/commit/abc123"
        );
        assert_eq!(
            link(Kind::GitLab, "https://gitlab.com/api/v4", "group/sub/jobs"),
            "https://gitlab.com/group/sub/jobs/-/commit/abc123"
        );
        assert_eq!(
            link(Kind::Gitea, "http://127.0.0.1:3000/api/v1/", "ops/jobs"),
            "http://127.0.0.1:3000/ops/jobs/commit/abc123"
        );
    }

    #[test]
    fn projects_and_apis_come_from_the_repository_url() {
        assert_eq!(
            project_of("https://github.com/acme/jobs.git").as_deref(),
            Some("acme/jobs")
        );
        assert_eq!(
            project_of("git@gitlab.com:group/sub/jobs.git").as_deref(),
            Some("group/sub/jobs")
        );
        assert_eq!(
            project_of("ssh://git@codeberg.org:22/acme/jobs").as_deref(),
            Some("acme/jobs")
        );
        assert_eq!(project_of("https://github.com/acme"), None);
        assert_eq!(Kind::of_host("GitHub.com"), Some(Kind::GitHub));
        assert_eq!(Kind::of_host("git.example.com"), None);
        assert_eq!(
            Kind::GitHub.default_api("github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            Kind::GitHub.default_api("ghe.corp"),
            "https://ghe.corp/api/v3"
        );
        assert_eq!(
            Kind::GitLab.default_api("gitlab.com"),
            "https://gitlab.com/api/v4"
        );
        assert_eq!(
            host_of("git@codeberg.org:a/b.git").as_deref(),
            Some("codeberg.org")
        );
        let token = || Secret::new("t");
        let forge = for_source(
            None,
            Some("https://github.com/acme/jobs.git"),
            None,
            None,
            token(),
        )
        .unwrap();
        assert_eq!(forge.name(), "github:https://api.github.com/acme/jobs");
        let err = for_source(
            None,
            Some("https://git.corp/acme/jobs"),
            None,
            None,
            token(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("--report github, gitlab or gitea"),
            "{err}"
        );
        let err = for_source(Some(Kind::Gitea), None, None, Some("a/b"), token()).unwrap_err();
        assert!(err.to_string().contains("--forge-url"), "{err}");
    }

    #[test]
    fn a_rate_limit_waits_until_its_reset_or_its_retry_after() {
        let now: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let reset = (now.as_second() + 120).to_string();
        assert_eq!(
            rate_limit_wait(403, None, Some("0"), Some(&reset), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            rate_limit_wait(429, Some("30"), None, None, now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            rate_limit_wait(403, None, Some("12"), Some(&reset), now),
            None,
            "not a rate limit"
        );
        assert_eq!(rate_limit_wait(500, Some("30"), None, None, now), None);
    }
}
