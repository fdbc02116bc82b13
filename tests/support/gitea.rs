//! A real Gitea on loopback for the forge tests: built from its Go module
//! by scripts/gitea-binary (run by scripts/test-deps), started per test in
//! a temporary directory with SQLite, an admin user, and two tokens — one
//! with every scope for the test's own setup, and one with only the scopes
//! jobcd needs, which the test hands to jobcd. Stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::git_servers::{Server, start_on_free_port_within};

/// The admin user every instance has.
pub const USER: &str = "jobcd-admin";
/// Its password (also good for HTTP basic auth on git).
pub const PASSWORD: &str = "S3cret-passw0rd";
/// The scopes jobcd's token needs: commit statuses (`write:repository`,
/// which also reads the repository) and pull-request comments
/// (`write:issue`). The README names the same.
pub const JOBCD_SCOPES: &str = "write:repository,write:issue";

/// How long a test waits for Gitea to start or to do something.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Where scripts/gitea-binary put Gitea: `bin/gitea` and its source
/// (templates, locales).
fn install() -> PathBuf {
    super::scripts::dir("gitea-binary")
}

pub struct Gitea {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// A token with every scope, for the test's own setup.
    pub admin_token: String,
    /// A token with only [`JOBCD_SCOPES`], for jobcd.
    pub token: String,
    _server: Server,
}

impl Gitea {
    pub fn start() -> Gitea {
        let install = install();
        let gitea = install.join("bin/gitea");
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().to_path_buf();
        let config = work.join("app.ini");
        let cli = |args: &[&str]| {
            let out = Command::new(&gitea)
                .arg("--config")
                .arg(&config)
                .arg("--work-path")
                .arg(&work)
                .args(args)
                .env("HOME", &work)
                .output()
                .unwrap();
            assert!(out.status.success(), "gitea {args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        std::fs::write(&config, app_ini(&work, &install, 0)).unwrap();
        cli(&["migrate"]);
        let (server, port) =
            start_on_free_port_within("gitea", &work.join("gitea.log"), PATIENCE, |port| {
                std::fs::write(&config, app_ini(&work, &install, port)).unwrap();
                let mut command = Command::new(&gitea);
                command
                    .arg("--config")
                    .arg(&config)
                    .arg("--work-path")
                    .arg(&work)
                    .arg("web")
                    .env("HOME", &work);
                command
            });
        cli(&[
            "admin",
            "user",
            "create",
            "--username",
            USER,
            "--password",
            PASSWORD,
            "--email",
            "admin@example.com",
            "--admin",
            "--must-change-password=false",
        ]);
        let token = |name: &str, scopes: &str| {
            let raw = cli(&[
                "admin",
                "user",
                "generate-access-token",
                "--username",
                USER,
                "--token-name",
                name,
                "--scopes",
                scopes,
                "--raw",
            ]);
            raw.lines().last().unwrap_or_default().trim().to_owned()
        };
        let gitea = Gitea {
            admin_token: token("admin", "all"),
            token: token("jobcd", JOBCD_SCOPES),
            port,
            dir,
            _server: server,
        };
        gitea.wait_until("the API answers", || {
            gitea.call("GET", "/version", None).0 == 200
        });
        gitea
    }

    /// The web root, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The REST API's root, as jobcd's `--forge-url` takes it.
    pub fn api(&self) -> String {
        format!("{}/api/v1", self.base())
    }

    /// A repository's clone URL (no credentials in it).
    pub fn clone_url(&self, repo: &str) -> String {
        format!("{}/{USER}/{repo}.git", self.base())
    }

    /// The same with the admin's credentials, for the test's own pushes.
    pub fn push_url(&self, repo: &str) -> String {
        format!(
            "http://{USER}:{PASSWORD}@127.0.0.1:{}/{USER}/{repo}.git",
            self.port
        )
    }

    /// `method path` on the API (path after `/api/v1`) as the admin: the
    /// status and the JSON answer (Null when there is none).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{path}", self.api());
        let auth = format!("token {}", self.admin_token);
        let response = match (method, body) {
            ("GET", _) => agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => agent.delete(&url).header("Authorization", &auth).call(),
            (method, body) => {
                let request = match method {
                    "PATCH" => agent.patch(&url),
                    "PUT" => agent.put(&url),
                    _ => agent.post(&url),
                };
                request
                    .header("Authorization", &auth)
                    .content_type("application/json")
                    .send(body.unwrap_or(Value::Null).to_string())
            }
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let code = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (code, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `call`, which must succeed (2xx); the answer.
    pub fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (code, answer) = self.call(method, path, body);
        assert!(
            (200..300).contains(&code),
            "{method} {path}: HTTP {code}: {answer}"
        );
        answer
    }

    /// A new empty repository of the admin user.
    pub fn create_repo(&self, name: &str) {
        self.ok(
            "POST",
            "/user/repos",
            Some(json!({"name": name, "default_branch": "main", "private": true})),
        );
    }

    /// Every request Gitea answered so far, from its access log: (method,
    /// path with query, status).
    pub fn requests(&self) -> Vec<(String, String, u16)> {
        let log = std::fs::read_to_string(self.dir.path().join("gitea.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                let rest = line.split("ACCESS ").nth(1)?;
                let mut words = rest.split_whitespace();
                let method = words.next()?.to_owned();
                let path = words.next()?.to_owned();
                let status = words.next()?.parse().ok()?;
                Some((method, path, status))
            })
            .collect()
    }

    /// Waits until `ready` holds.
    pub fn wait_until(&self, what: &str, mut ready: impl FnMut() -> bool) {
        let deadline = Instant::now() + PATIENCE;
        while !ready() {
            assert!(
                Instant::now() < deadline,
                "gave up after {PATIENCE:?} waiting for {what}; gitea log:\n{}",
                std::fs::read_to_string(self.dir.path().join("gitea.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Gitea's configuration: everything in `work`, SQLite, loopback only, no
/// mail, no SSH, and webhooks allowed to loopback (jobcd serve listens
/// there). Root may run it: tests run as root in CI containers.
fn app_ini(work: &Path, install: &Path, port: u16) -> String {
    let work = work.display();
    let source = install.join("src");
    let source = source.display();
    format!(
        "I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
RUN_MODE = prod
WORK_PATH = {work}

[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = {port}
ROOT_URL = http://127.0.0.1:{port}/
STATIC_ROOT_PATH = {source}
APP_DATA_PATH = {work}/data
OFFLINE_MODE = true
DISABLE_SSH = true
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = {work}/data/gitea.db

[security]
INSTALL_LOCK = true

[repository]
ROOT = {work}/repos
DEFAULT_BRANCH = main

[log]
MODE = console
LEVEL = Info
logger.access.MODE = console
ACCESS_LOG_TEMPLATE = ACCESS {{{{.Ctx.Req.Method}}}} {{{{.Ctx.Req.URL.RequestURI}}}} {{{{.ResponseWriter.Status}}}}

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10

[service]
DISABLE_REGISTRATION = true

[indexer]
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false

[mailer]
ENABLED = false
"
    )
}
