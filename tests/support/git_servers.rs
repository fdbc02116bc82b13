//! Real git servers on 127.0.0.1 for the source tests: `git daemon` for
//! git://, lighttpd running git-http-backend for smart HTTP(S) with basic
//! auth, and OpenSSH's sshd for ssh://. Each server is a child process on a
//! free loopback port, with its configuration, keys and logs in a temporary
//! directory; dropping it kills the process and removes the directory.
//!
//! The servers come from Debian packages that `scripts/test-deps` installs
//! (lighttpd, openssh-server); git daemon and git-http-backend ship with git.
//! The repositories they serve are bare repositories built with the `git`
//! command line, with fixed authors and dates so that every run produces
//! the same commits.
#![allow(dead_code)]

use std::fs;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to accept connections after it is started.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `git` with no system or user configuration and a fixed identity, so
/// that the host's git setup cannot change what the tests see.
fn git_command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgSign=false",
        ]);
    cmd
}

/// Runs a command, panicking with its output if it fails; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A bare repository (`<root>/srv/jobs.git`, what the servers serve) and a
/// working clone of it (`<root>/work`) to commit and push from.
pub struct Repo {
    root: TempDir,
    /// The bare repository's absolute path.
    pub bare: PathBuf,
    work: PathBuf,
    commits: std::cell::Cell<i64>,
}

/// The directory name of the served repository.
pub const REPO_NAME: &str = "jobs.git";

impl Repo {
    /// An empty bare repository whose default branch is `main`, writable
    /// over smart HTTP, and a clone of it.
    pub fn new() -> Repo {
        let root = tempfile::tempdir().unwrap();
        let srv = root.path().join("srv");
        fs::create_dir_all(&srv).unwrap();
        let bare = srv.join(REPO_NAME);
        run(git_command(&srv).args(["init", "-q", "--bare", REPO_NAME]));
        run(git_command(&bare).args(["config", "http.receivepack", "true"]));
        let work = root.path().join("work");
        run(git_command(root.path()).args(["init", "-q", "work"]));
        run(git_command(&work).args(["remote", "add", "origin", bare.to_str().unwrap()]));
        Repo {
            root,
            bare,
            work,
            commits: std::cell::Cell::new(0),
        }
    }

    /// The directory servers are pointed at (git daemon's --base-path,
    /// git-http-backend's GIT_PROJECT_ROOT).
    pub fn base(&self) -> PathBuf {
        self.bare.parent().unwrap().to_path_buf()
    }

    /// Runs git in the working clone and returns its stdout, trimmed.
    pub fn git(&self, args: &[&str]) -> String {
        let n = self.commits.get();
        // Commits made by `git` directly (a tag, a merge) get fixed dates too.
        let date = format!("@{} +0000", 1_700_000_000 + n * 60);
        run(git_command(&self.work)
            .env("GIT_AUTHOR_DATE", &date)
            .env("GIT_COMMITTER_DATE", &date)
            .args(args))
        .trim()
        .to_string()
    }

    /// Writes `files` (path, content) into the working tree, deletes the
    /// paths given with `None`, and commits everything with `message` on the
    /// current branch. Returns the commit's sha. Nothing is pushed.
    pub fn commit(&self, files: &[(&str, Option<&str>)], message: &str) -> String {
        for (path, content) in files {
            let full = self.work.join(path);
            match content {
                Some(text) => {
                    fs::create_dir_all(full.parent().unwrap()).unwrap();
                    fs::write(&full, text).unwrap();
                }
                None => {
                    if full.is_dir() {
                        fs::remove_dir_all(&full).unwrap();
                    } else {
                        fs::remove_file(&full).unwrap();
                    }
                }
            }
        }
        self.git(&["add", "-A"]);
        self.commits.set(self.commits.get() + 1);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Copies a directory tree of files into the working tree (not committed).
    pub fn copy_dir(&self, from: &Path, to: &str) {
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let rel = format!("{to}/{name}");
            if entry.file_type().unwrap().is_dir() {
                self.copy_dir(&entry.path(), &rel);
            } else {
                let dest = self.work.join(&rel);
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::copy(entry.path(), dest).unwrap();
            }
        }
    }

    /// Commits files and pushes the current branch (a fast-forward push, as
    /// a developer would). Returns the new commit's sha.
    pub fn commit_and_push(&self, files: &[(&str, &str)], message: &str) -> String {
        let files: Vec<(&str, Option<&str>)> = files.iter().map(|(p, c)| (*p, Some(*c))).collect();
        let sha = self.commit(&files, message);
        self.push();
        sha
    }

    /// Pushes the current branch to the bare repository.
    pub fn push(&self) {
        self.git(&["push", "-q", "origin", "HEAD"]);
    }

    /// Force-pushes the current branch (history rewritten).
    pub fn force_push(&self) {
        self.git(&["push", "-q", "--force", "origin", "HEAD"]);
    }

    /// jobcd's notes on `sha` in the bare repository (pushed there), or
    /// empty.
    pub fn notes(&self, sha: &str) -> String {
        let out = git_command(&self.bare)
            .args(["notes", "--ref=jobcd", "show", sha])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// What a ref points at in the bare repository (what servers announce).
    pub fn served(&self, reference: &str) -> Option<String> {
        let out = git_command(&self.bare)
            .args(["rev-parse", "--verify", "-q", reference])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Default for Repo {
    fn default() -> Self {
        Repo::new()
    }
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed (and reaped) on drop; its stdout and stderr go
/// to a log file that is shown when it fails to start.
pub struct Server {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `cmd` and waits until `port` accepts connections. A process
    /// that exits first (its port taken by another test in the meantime,
    /// say) gives `None` so that the caller can retry on another port.
    fn start(
        name: &'static str,
        cmd: &mut Command,
        port: u16,
        log: &Path,
        patience: Duration,
    ) -> Option<Server> {
        let out = fs::File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {name} ({cmd:?}): {e}; run scripts/test-deps to install it")
            });
        let mut server = Server {
            name,
            child,
            log: log.to_path_buf(),
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                eprintln!(
                    "{name} exited with {status} before listening on port {port}:\n{}",
                    server.log_text()
                );
                return None;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Some(server);
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not accept connections on port {port} within {patience:?}:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.name, self.log_text());
        }
    }
}

/// Starts a server on a fresh free port, retrying a few times if the port
/// is taken between choosing and binding it.
pub fn start_on_free_port(
    name: &'static str,
    log: &Path,
    command: impl FnMut(u16) -> Command,
) -> (Server, u16) {
    start_on_free_port_within(name, log, START_TIMEOUT, command)
}

/// The same, for a server that may take up to `patience` to listen.
pub fn start_on_free_port_within(
    name: &'static str,
    log: &Path,
    patience: Duration,
    mut command: impl FnMut(u16) -> Command,
) -> (Server, u16) {
    for _ in 0..5 {
        let port = free_port();
        if let Some(server) = Server::start(name, &mut command(port), port, log, patience) {
            return (server, port);
        }
    }
    panic!("{name} could not be started on a free port; see the log above");
}

/// Where git keeps its programs (git-daemon, git-http-backend).
pub fn exec_path() -> PathBuf {
    PathBuf::from(run(Command::new("git").arg("--exec-path")).trim())
}

/// `git daemon` serving a repository over git://, pushes allowed.
pub struct GitDaemon {
    server: Server,
    /// The port it listens on.
    pub port: u16,
    _dir: TempDir,
}

impl GitDaemon {
    /// Serves `repo` (and anything else in its base directory).
    pub fn start(repo: &Repo) -> GitDaemon {
        GitDaemon::serve(&repo.base())
    }

    /// Serves every repository under `base`, logging each connection to
    /// [`GitDaemon::log`].
    pub fn serve(base: &Path) -> GitDaemon {
        GitDaemon::serve_traced(base, false)
    }

    /// Serves `repo` with every pkt-line upload-pack exchanges traced
    /// (`GIT_TRACE_PACKET`), for [`GitDaemon::packets`].
    #[allow(dead_code)]
    pub fn traced(repo: &Repo) -> GitDaemon {
        GitDaemon::serve_traced(&repo.base(), true)
    }

    fn serve_traced(base: &Path, traced: bool) -> GitDaemon {
        let dir = tempfile::tempdir().unwrap();
        let base = base.to_path_buf();
        let packets = dir.path().join("packets");
        let (server, port) = start_on_free_port("git daemon", &dir.path().join("log"), |port| {
            // git-daemon itself, not `git daemon`: killing the `git` wrapper
            // would leave the daemon running.
            let mut cmd = Command::new(exec_path().join("git-daemon"));
            cmd.current_dir(&base).args([
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
                "--export-all",
                "--enable=receive-pack",
                "--reuseaddr",
                "--informative-errors",
                "--verbose",
                base.to_str().unwrap(),
            ]);
            if traced {
                cmd.env("GIT_TRACE_PACKET", &packets);
            }
            cmd
        });
        GitDaemon {
            server,
            port,
            _dir: dir,
        }
    }

    /// The git:// URL of the repository.
    pub fn url(&self) -> String {
        format!("git://127.0.0.1:{}/{REPO_NAME}", self.port)
    }

    /// What it logged so far (with --verbose: a line per request served).
    pub fn log(&self) -> String {
        self.server.log_text()
    }

    /// The pkt-lines traced so far, and clears them (a daemon made by
    /// [`GitDaemon::traced`]).
    #[allow(dead_code)]
    pub fn packets(&self) -> String {
        let path = self._dir.path().join("packets");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, "").unwrap();
        text
    }
}

/// A certificate for 127.0.0.1 signed by nobody, in `dir` (`cert.pem`, for
/// clients to trust), and lighttpd's configuration serving TLS with it.
fn lighttpd_tls(dir: &Path) -> String {
    run(Command::new("openssl").current_dir(dir).args([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=127.0.0.1",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "cert.pem",
    ]));
    lighttpd_serving(dir)
}

/// lighttpd's configuration serving TLS with `dir`'s `cert.pem` and
/// `key.pem`.
fn lighttpd_serving(dir: &Path) -> String {
    let pem = fs::read_to_string(dir.join("cert.pem")).unwrap()
        + &fs::read_to_string(dir.join("key.pem")).unwrap();
    fs::write(dir.join("server.pem"), pem).unwrap();
    format!(
        "server.modules += (\"mod_openssl\")\nssl.engine = \"enable\"\nssl.pemfile = \"{}\"\n",
        dir.join("server.pem").display()
    )
}

/// A private CA in `dir` (`ca.pem`, for clients to trust) and a server
/// certificate for 127.0.0.1 it signed; lighttpd's configuration serving
/// TLS with it. (rustls, unlike OpenSSL, refuses a self-signed CA
/// certificate as a server's own.)
fn lighttpd_tls_private_ca(dir: &Path) -> String {
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new("openssl")
        .current_dir(dir)
        .args(["req", "-x509"])
        .args(key)
        .args([
            "-days",
            "2",
            "-subj",
            "/CN=jobcd test CA",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
        ]));
    run(Command::new("openssl")
        .current_dir(dir)
        .arg("req")
        .args(key)
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
        ]));
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(Command::new("openssl").current_dir(dir).args([
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca-key.pem",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "cert.pem",
    ]));
    lighttpd_serving(dir)
}

/// lighttpd terminating TLS, with a certificate a private CA signed, in
/// front of a plain HTTP server on loopback.
pub struct TlsProxy {
    server: Server,
    /// The port it listens on.
    pub port: u16,
    dir: TempDir,
}

impl TlsProxy {
    /// Proxies https://127.0.0.1:PORT/ to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> TlsProxy {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("www")).unwrap();
        let tls_config = lighttpd_tls_private_ca(d);
        let (host, upstream_port) = upstream.rsplit_once(':').unwrap();
        let (server, port) = start_on_free_port("lighttpd", &d.join("log"), |port| {
            let config = format!(
                r#"server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{errorlog}"
server.modules = ("mod_proxy")
{tls_config}
proxy.server = ("" => (("host" => "{host}", "port" => {upstream_port})))
"#,
                www = d.join("www").display(),
                errorlog = d.join("log").display(),
            );
            let path = d.join("lighttpd.conf");
            fs::write(&path, config).unwrap();
            let mut cmd = Command::new("/usr/sbin/lighttpd");
            cmd.arg("-D").arg("-f").arg(&path);
            cmd
        });
        TlsProxy { server, port, dir }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The private CA's certificate (PEM), to trust with `SSL_CERT_FILE`.
    pub fn certificate(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

/// lighttpd running git-http-backend under `/git`, with basic auth for one
/// user, over plain HTTP or over TLS with a self-signed certificate.
pub struct HttpServer {
    server: Server,
    /// The port it listens on.
    pub port: u16,
    tls: bool,
    dir: TempDir,
}

impl HttpServer {
    /// Plain HTTP (jobcd treats http:// like https://: same transport, same
    /// credentials).
    pub fn start(repo: &Repo, user: &str, password: &str) -> HttpServer {
        HttpServer::launch(repo, user, password, false)
    }

    /// HTTPS with a certificate for 127.0.0.1 signed by nobody; clients
    /// trust it through [`HttpServer::certificate`] (`SSL_CERT_FILE`).
    pub fn start_tls(repo: &Repo, user: &str, password: &str) -> HttpServer {
        HttpServer::launch(repo, user, password, true)
    }

    fn launch(repo: &Repo, user: &str, password: &str, tls: bool) -> HttpServer {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("www")).unwrap();
        fs::write(d.join("users"), format!("{user}:{password}\n")).unwrap();
        let tls_config = if tls { lighttpd_tls(d) } else { String::new() };
        let base = repo.base();
        let backend = exec_path().join("git-http-backend");
        let (server, port) = start_on_free_port("lighttpd", &d.join("log"), |port| {
            let config = format!(
                r#"server.document-root = "{www}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{errorlog}"
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi")
{tls_config}
alias.url = ("/git" => "{backend}")
$HTTP["url"] =~ "^/git" {{
    cgi.assign = ("" => "")
    setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1")
}}
auth.backend = "plain"
auth.backend.plain.userfile = "{users}"
auth.require = ("/git" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
"#,
                www = d.join("www").display(),
                errorlog = d.join("log").display(),
                root = base.display(),
                users = d.join("users").display(),
                backend = backend.display(),
            );
            let path = d.join("lighttpd.conf");
            fs::write(&path, config).unwrap();
            let mut cmd = Command::new("/usr/sbin/lighttpd");
            cmd.arg("-D").arg("-f").arg(&path);
            cmd
        });
        HttpServer {
            server,
            port,
            tls,
            dir,
        }
    }

    /// The repository's URL (no credentials in it).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/git/{REPO_NAME}", self.port)
    }

    /// The self-signed certificate (PEM), to trust with `SSL_CERT_FILE`.
    pub fn certificate(&self) -> PathBuf {
        assert!(self.tls, "a plain HTTP server has no certificate");
        self.dir.path().join("cert.pem")
    }
}

/// Generates an ed25519 key pair `dir/name` (`dir/name.pub`) without a
/// passphrase; returns the private key's path.
pub fn ssh_keygen(dir: &Path, name: &str) -> PathBuf {
    let key = dir.join(name);
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&key));
    key
}

/// The name of the user running the tests (sshd logs in as that user).
pub fn current_user() -> String {
    run(Command::new("id").arg("-un")).trim().to_string()
}

/// OpenSSH's sshd on a loopback port with its own host key, accepting one
/// generated client key for the current user.
pub struct SshServer {
    server: Server,
    /// The port it listens on.
    pub port: u16,
    dir: TempDir,
    user: String,
    /// The client's private key (authorised on the server).
    pub client_key: PathBuf,
    /// A known_hosts file with the server's key, written by ssh-keyscan.
    pub known_hosts: PathBuf,
}

impl SshServer {
    /// Starts sshd; the repository is reached by its absolute path.
    pub fn start() -> SshServer {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let host_key = ssh_keygen(d, "host_key");
        let client_key = ssh_keygen(d, "client_key");
        fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).unwrap();
        let (server, port) = start_on_free_port("sshd", &d.join("log"), |port| {
            let config = format!(
                "Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
AuthorizedKeysFile {authorized}
PidFile {pid}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
",
                host_key = host_key.display(),
                authorized = d.join("authorized_keys").display(),
                pid = d.join("sshd.pid").display(),
            );
            let path = d.join("sshd_config");
            fs::write(&path, config).unwrap();
            let mut cmd = Command::new("/usr/sbin/sshd");
            cmd.args(["-D", "-e", "-f"]).arg(&path);
            cmd
        });
        let scan = run(Command::new("ssh-keyscan").args([
            "-t",
            "ed25519",
            "-p",
            &port.to_string(),
            "127.0.0.1",
        ]));
        assert!(
            scan.starts_with(&format!("[127.0.0.1]:{port} ssh-ed25519 ")),
            "unexpected ssh-keyscan output: {scan:?}"
        );
        let known_hosts = d.join("known_hosts");
        fs::write(&known_hosts, scan).unwrap();
        SshServer {
            server,
            port,
            user: current_user(),
            client_key,
            known_hosts,
            dir,
        }
    }

    /// The ssh:// URL of a bare repository on this machine.
    pub fn url(&self, repo: &Repo) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.bare.display()
        )
    }

    /// A scratch directory next to the server's files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A known_hosts file that lists this server's address with some other
    /// host key (what a man in the middle, or a reinstalled server, looks like).
    pub fn mismatched_known_hosts(&self) -> PathBuf {
        let other = ssh_keygen(self.dir.path(), "other_host_key");
        let public = fs::read_to_string(other.with_extension("pub")).unwrap();
        let path = self.dir.path().join("known_hosts.mismatched");
        let mut file = fs::File::create(&path).unwrap();
        writeln!(file, "[127.0.0.1]:{} {}", self.port, public.trim()).unwrap();
        path
    }
}

/// A TCP listener that accepts connections and never says anything: a
/// server that hangs, to test read timeouts.
pub struct Blackhole {
    /// The port it listens on.
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Blackhole {
    /// Starts listening.
    pub fn start() -> Blackhole {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Blackhole {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Blackhole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Every file under `dir` whose bytes contain `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}
