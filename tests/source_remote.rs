//! Reading manifests from remote repositories served by real git servers on
//! 127.0.0.1: `git daemon` (git://), lighttpd with git-http-backend (smart
//! HTTP and HTTPS with basic auth) and OpenSSH's sshd (ssh://). Each test
//! starts its own servers and state directory (see tests/support/git_servers.rs;
//! `scripts/test-deps` installs lighttpd and openssh-server).
//!
//! libgit2's timeouts are process-wide and set once from the first source,
//! so every source in this process uses the same [`TIMEOUT`]; the timeout
//! itself is tested through the `jobcd` binary, a process of its own.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use jobcd::source::{
    Credentials, Error, HostKeyCheck, Location, RefName, Secret, Snapshot, Source,
};
use support::git_servers::{
    Blackhole, GitDaemon, HttpServer, Repo, SshServer, files_containing, free_port, ssh_keygen,
};

/// The timeout of every source in this test process.
const TIMEOUT: Duration = Duration::from_secs(5);

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery-staple";

const NIGHTLY: &str = "apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: \"0 3 * * *\"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: main
              image: busybox:1.36
              command: [\"echo\", \"nightly\"]
";

const MIGRATE: &str = "apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: main
          image: busybox:1.36
          command: [\"echo\", \"migrate\"]
";

fn source(
    url: &str,
    reference: Option<&str>,
    path: &str,
    credentials: Credentials,
    state: &Path,
) -> Source {
    Source {
        location: Location::parse(url).expect("the URL parses"),
        reference: RefName::parse(reference),
        path: path.to_string(),
        credentials,
        state_dir: state.to_path_buf(),
        timeout: TIMEOUT,
        uncommitted: false,
        render: jobcd::source::render::Render::default(),
        helm: Default::default(),
        verify: None,
    }
}

/// A user name and password for the plain-http server on loopback (sent
/// in cleartext on purpose: the tests' network is this machine).
fn http_credentials(password: &str) -> Credentials {
    Credentials {
        username: Some(USER.to_string()),
        password: Some(Secret::new(password)),
        allow_cleartext: true,
        ..Credentials::default()
    }
}

fn ssh_credentials(key: &Path, known_hosts: &Path) -> Credentials {
    Credentials {
        ssh_key: Some(key.to_path_buf()),
        known_hosts: Some(known_hosts.to_path_buf()),
        ..Credentials::default()
    }
}

/// A repository with manifests under `jobs/` (one nested) and files that
/// are not manifests or are outside the path; returns it and the commit.
fn jobs_repo() -> (Repo, String) {
    let repo = Repo::new();
    let sha = repo.commit(
        &[
            ("README.md", Some("# jobs\n")),
            ("jobs/nightly.yaml", Some(NIGHTLY)),
            ("jobs/db/migrate.yml", Some(MIGRATE)),
            ("jobs/notes.txt", Some("not a manifest\n")),
            ("other/ignored.yaml", Some(MIGRATE)),
        ],
        "Add the nightly report and the migration",
    );
    repo.push();
    (repo, sha)
}

fn paths(snapshot: &Snapshot) -> Vec<&str> {
    snapshot
        .tree
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect()
}

/// What every clone of [`jobs_repo`] must yield.
fn assert_jobs_snapshot(snapshot: &Snapshot, sha: &str) {
    let r = &snapshot.revision;
    assert_eq!(r.sha, sha);
    assert_eq!(r.short_sha, sha[..7]);
    assert_eq!(r.reference, "refs/heads/main");
    assert_eq!(r.subject, "Add the nightly report and the migration");
    assert_eq!(r.author, "Ada Lovelace <ada@example.com>");
    assert_eq!(r.committed_at.as_second(), 1_700_000_060);
    assert_eq!(
        paths(snapshot),
        ["jobs/db/migrate.yml", "jobs/nightly.yaml"]
    );
    assert_eq!(snapshot.tree.files[1].bytes, NIGHTLY.as_bytes());
    assert!(
        snapshot.tree.problems.is_empty(),
        "{:?}",
        snapshot.tree.problems
    );
}

/// The mirror directories under the state directory.
fn mirrors(state: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(state.join("mirrors"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn pack_files(mirror: &Path) -> Vec<String> {
    let mut packs: Vec<String> = fs::read_dir(mirror.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".pack"))
        .collect();
    packs.sort();
    packs
}

// --- Cloning over each transport -------------------------------------------

#[test]
fn clones_over_git_protocol_and_reads_the_manifests_under_the_path() {
    let (repo, sha) = jobs_repo();
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        None,
        "jobs",
        Credentials::default(),
        state.path(),
    );
    let snapshot = src.snapshot().unwrap();
    assert_jobs_snapshot(&snapshot, &sha);
    assert_eq!(src.revision().unwrap(), snapshot.revision);
    // The mirror is a bare repository under the state directory.
    let mirrors = mirrors(state.path());
    assert_eq!(mirrors.len(), 1, "{mirrors:?}");
    assert!(mirrors[0].join("HEAD").is_file());
    // `./jobs/` means the same directory; the top holds every manifest.
    let same = source(
        &daemon.url(),
        None,
        "./jobs/",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(
        paths(&same.snapshot().unwrap()),
        ["jobs/db/migrate.yml", "jobs/nightly.yaml"]
    );
    let top = source(
        &daemon.url(),
        None,
        "",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(
        paths(&top.snapshot().unwrap()),
        [
            "jobs/db/migrate.yml",
            "jobs/nightly.yaml",
            "other/ignored.yaml"
        ]
    );
}

#[test]
fn clones_over_http_with_basic_auth() {
    let (repo, sha) = jobs_repo();
    let http = HttpServer::start(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &http.url(),
        None,
        "jobs",
        http_credentials(PASSWORD),
        state.path(),
    );
    assert_jobs_snapshot(&src.snapshot().unwrap(), &sha);
    // The user name may also come from the URL.
    let in_url = http.url().replace("://", &format!("://{USER}@"));
    let credentials = Credentials {
        password: Some(Secret::new(PASSWORD)),
        allow_cleartext: true,
        ..Credentials::default()
    };
    let src = source(&in_url, None, "jobs", credentials, state.path());
    assert_jobs_snapshot(&src.snapshot().unwrap(), &sha);
}

#[test]
fn a_password_is_never_sent_over_plain_http_unless_allowed() {
    let (repo, _) = jobs_repo();
    let http = HttpServer::start(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let credentials = Credentials {
        allow_cleartext: false,
        ..http_credentials(PASSWORD)
    };
    let src = source(&http.url(), None, "jobs", credentials, state.path());
    let error = src.snapshot().unwrap_err();
    assert!(
        matches!(error, jobcd::source::Error::Cleartext { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("over plain http://") && message.contains("--allow-cleartext-password"),
        "{message}"
    );
    assert!(!message.contains(PASSWORD), "{message}");
}

#[test]
fn clones_over_ssh_with_a_key_and_known_hosts() {
    let (repo, sha) = jobs_repo();
    let ssh = SshServer::start();
    let state = tempfile::tempdir().unwrap();
    let credentials = ssh_credentials(&ssh.client_key, &ssh.known_hosts);
    let src = source(&ssh.url(&repo), None, "jobs", credentials, state.path());
    assert_jobs_snapshot(&src.snapshot().unwrap(), &sha);
}

// --- Following the branch ----------------------------------------------------

#[test]
fn a_push_is_fetched_incrementally_into_the_same_mirror() {
    let (repo, first) = jobs_repo();
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        None,
        "jobs",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(src.snapshot().unwrap().revision.sha, first);
    let mirror = mirrors(state.path());
    assert_eq!(mirror.len(), 1);
    let packs_before = pack_files(&mirror[0]);
    assert!(!packs_before.is_empty());

    let second = repo.commit_and_push(
        &[("jobs/weekly.yaml", &NIGHTLY.replace("nightly", "weekly"))],
        "Add the weekly report",
    );
    let snapshot = src.snapshot().unwrap();
    assert_eq!(snapshot.revision.sha, second);
    assert_eq!(snapshot.revision.subject, "Add the weekly report");
    assert_eq!(
        paths(&snapshot),
        [
            "jobs/db/migrate.yml",
            "jobs/nightly.yaml",
            "jobs/weekly.yaml"
        ]
    );
    // Same mirror; the first fetch's pack is kept and only the new objects
    // arrived in a pack of their own (a re-clone would replace it).
    assert_eq!(mirrors(state.path()), mirror);
    let packs_after = pack_files(&mirror[0]);
    assert!(
        packs_before.iter().all(|p| packs_after.contains(p))
            && packs_after.len() > packs_before.len(),
        "before {packs_before:?}, after {packs_after:?}"
    );
    // Nothing new: the same revision again.
    assert_eq!(src.revision().unwrap().sha, second);
}

/// What issue 21 proposed as `ls-remote` before each fetch is what a fetch
/// of an unmoved ref already is: the server's ref advertisement and a
/// flush — no want, no have, no pack.
#[test]
fn an_unmoved_ref_costs_only_the_ref_advertisement() {
    let (repo, first) = jobs_repo();
    let daemon = GitDaemon::traced(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        None,
        "jobs",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(src.snapshot().unwrap().revision.sha, first);
    let cloned = daemon.packets();
    assert!(cloned.contains("upload-pack< want "), "{cloned}");
    assert_eq!(src.snapshot().unwrap().revision.sha, first);
    let again = daemon.packets();
    assert!(
        again.contains(&format!("upload-pack> {first} refs/heads/main")),
        "{again}"
    );
    for step in [
        "upload-pack< want ",
        "upload-pack< have ",
        "upload-pack< done",
        "PACK",
    ] {
        assert!(!again.contains(step), "{step:?} in:\n{again}");
    }
    // A push moves the ref: then objects are asked for.
    let second = repo.commit_and_push(&[("jobs/x.yaml", &NIGHTLY.replace("nightly", "x"))], "x");
    assert_eq!(src.snapshot().unwrap().revision.sha, second);
    assert!(daemon.packets().contains("upload-pack< want "));
}

#[test]
fn a_force_push_is_followed() {
    let (repo, first) = jobs_repo();
    let abandoned = repo.commit_and_push(&[("jobs/oops.yaml", MIGRATE)], "Add a job by mistake");
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        None,
        "jobs",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(src.snapshot().unwrap().revision.sha, abandoned);

    repo.git(&["reset", "-q", "--hard", &first]);
    let rewritten = repo.commit(&[("jobs/fixed.yaml", Some(MIGRATE))], "Add the right job");
    repo.force_push();
    assert_eq!(
        repo.served("refs/heads/main").as_deref(),
        Some(rewritten.as_str())
    );

    let snapshot = src.snapshot().unwrap();
    assert_eq!(snapshot.revision.sha, rewritten);
    assert_eq!(
        paths(&snapshot),
        [
            "jobs/db/migrate.yml",
            "jobs/fixed.yaml",
            "jobs/nightly.yaml"
        ]
    );
}

#[test]
fn tags_and_full_shas_pin_a_commit_while_the_branch_moves() {
    let (repo, pinned) = jobs_repo();
    repo.git(&["tag", "-a", "-m", "First release", "v1.0"]);
    repo.git(&["push", "-q", "origin", "v1.0"]);
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let tag = source(
        &daemon.url(),
        Some("v1.0"),
        "jobs",
        Credentials::default(),
        state.path(),
    );
    let sha = source(
        &daemon.url(),
        Some(&pinned),
        "jobs",
        Credentials::default(),
        state.path(),
    );
    let branch = source(
        &daemon.url(),
        Some("main"),
        "jobs",
        Credentials::default(),
        state.path(),
    );

    let by_tag = tag.snapshot().unwrap();
    assert_eq!(
        by_tag.revision.sha, pinned,
        "an annotated tag peels to its commit"
    );
    assert_eq!(by_tag.revision.reference, "refs/tags/v1.0");
    let by_sha = sha.snapshot().unwrap();
    assert_eq!(by_sha.revision.sha, pinned);
    assert_eq!(by_sha.revision.reference, pinned);

    let moved = repo.commit_and_push(
        &[("jobs/nightly.yaml", &NIGHTLY.replace("0 3", "0 4"))],
        "Run the report at four",
    );
    assert_eq!(branch.snapshot().unwrap().revision.sha, moved);
    let by_tag = tag.snapshot().unwrap();
    let by_sha = sha.snapshot().unwrap();
    for snapshot in [&by_tag, &by_sha] {
        assert_eq!(snapshot.revision.sha, pinned);
        assert_eq!(snapshot.tree.files[1].bytes, NIGHTLY.as_bytes());
    }
}

#[test]
fn an_older_commit_can_be_pinned_in_a_fresh_state_dir() {
    // The pinned commit is no branch's tip: the server does not advertise
    // it, so it must come with the branches.
    let (repo, pinned) = jobs_repo();
    let tip = repo.commit_and_push(&[("jobs/later.yaml", MIGRATE)], "Add a later job");
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        Some(&pinned),
        "jobs",
        Credentials::default(),
        state.path(),
    );
    let snapshot = src.snapshot().unwrap();
    assert_eq!(snapshot.revision.sha, pinned);
    assert_ne!(snapshot.revision.sha, tip);
    assert_eq!(
        paths(&snapshot),
        ["jobs/db/migrate.yml", "jobs/nightly.yaml"]
    );
}

#[test]
fn a_commit_only_a_hidden_ref_reaches_is_fetched_by_sha_where_the_server_allows_it() {
    // A pull request's head: on the server, but under a ref the mirror does
    // not copy.
    let (repo, _) = jobs_repo();
    repo.git(&["checkout", "-q", "-b", "pr"]);
    let pr = repo.commit(&[("jobs/pr.yaml", Some(MIGRATE))], "Proposed job");
    repo.git(&["push", "-q", "origin", "HEAD:refs/pull/1/head"]);
    let daemon = GitDaemon::start(&repo);
    let pinned = |state: &Path| {
        source(
            &daemon.url(),
            Some(&pr),
            "jobs",
            Credentials::default(),
            state,
        )
    };

    // By default upload-pack serves only what refs announce: reported missing.
    let state = tempfile::tempdir().unwrap();
    assert!(
        matches!(
            pinned(state.path()).snapshot(),
            Err(Error::CommitNotFound { .. })
        ),
        "a server without allow-reachable-sha1-in-want cannot hand out the commit"
    );

    repo.git(&[
        "-C",
        repo.bare.to_str().unwrap(),
        "config",
        "uploadpack.allowReachableSHA1InWant",
        "true",
    ]);
    let state = tempfile::tempdir().unwrap();
    let snapshot = pinned(state.path()).snapshot().unwrap();
    assert_eq!(snapshot.revision.sha, pr);
    assert_eq!(
        paths(&snapshot),
        ["jobs/db/migrate.yml", "jobs/nightly.yaml", "jobs/pr.yaml"]
    );
}

#[test]
fn a_sha_the_repository_does_not_have_is_reported_as_such() {
    let (repo, _) = jobs_repo();
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let src = source(
        &daemon.url(),
        Some(missing),
        "jobs",
        Credentials::default(),
        state.path(),
    );
    match src.snapshot() {
        Err(Error::CommitNotFound { sha, url }) => {
            assert_eq!(sha, missing);
            assert_eq!(url, daemon.url());
        }
        other => panic!("expected CommitNotFound, got {other:?}"),
    }
}

#[test]
fn a_deleted_branch_is_reported_missing_not_served_stale() {
    let (repo, _) = jobs_repo();
    repo.git(&["checkout", "-q", "-b", "feature"]);
    let feature = repo.commit(&[("jobs/feature.yaml", Some(MIGRATE))], "Try a feature");
    repo.git(&["push", "-q", "origin", "feature"]);
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &daemon.url(),
        Some("feature"),
        "jobs",
        Credentials::default(),
        state.path(),
    );
    assert_eq!(src.snapshot().unwrap().revision.sha, feature);

    repo.git(&["push", "-q", "origin", "--delete", "feature"]);
    assert_eq!(repo.served("refs/heads/feature"), None);
    match src.snapshot() {
        Err(Error::RefNotFound {
            reference,
            available,
            ..
        }) => {
            assert_eq!(reference, "feature");
            assert_eq!(available, ["main"]);
        }
        other => panic!("expected RefNotFound, got {other:?}"),
    }
    assert!(matches!(src.revision(), Err(Error::RefNotFound { .. })));
    // The mirror pruned it.
    let mirror = git2::Repository::open_bare(&mirrors(state.path())[0]).unwrap();
    assert!(mirror.find_reference("refs/heads/feature").is_err());
}

#[test]
fn a_path_that_does_not_exist_is_an_error() {
    let (repo, sha) = jobs_repo();
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    for (path, problem) in [
        ("deploy", "does not exist"),
        ("jobs/nightly.yaml", "is not a directory"),
        ("../outside", "relative path inside the repository"),
    ] {
        let src = source(
            &daemon.url(),
            None,
            path,
            Credentials::default(),
            state.path(),
        );
        let err = src.snapshot().unwrap_err();
        let message = err.to_string();
        match err {
            Error::Path {
                sha: at,
                problem: p,
                ..
            } => {
                assert_eq!(at, sha);
                assert!(p.contains(problem), "{path}: {message}");
                assert!(message.contains(path), "{message}");
            }
            other => panic!("{path}: expected Error::Path, got {other:?}"),
        }
    }
}

// --- Credentials ---------------------------------------------------------------

#[test]
fn a_wrong_password_is_an_auth_error_that_does_not_leak() {
    let (repo, _) = jobs_repo();
    let http = HttpServer::start(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let secret = "wrong-Pa55word-q7Zx";
    let src = source(
        &http.url(),
        None,
        "jobs",
        http_credentials(secret),
        state.path(),
    );
    let err = src.snapshot().unwrap_err();
    match &err {
        Error::Auth { url, user, tried } => {
            assert_eq!(url, &http.url());
            assert_eq!(user, USER);
            assert!(tried.contains("password"), "{tried}");
        }
        other => panic!("expected Error::Auth, got {other:?}"),
    }
    let message = format!("{err} {err:?}");
    assert!(message.contains("JOBCD_GIT_PASSWORD"), "{message}");
    assert!(!message.contains(secret), "{message}");
    assert_eq!(
        files_containing(state.path(), secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn missing_credentials_say_which_variables_to_set() {
    let (repo, _) = jobs_repo();
    let http = HttpServer::start(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let src = source(
        &http.url(),
        None,
        "jobs",
        Credentials::default(),
        state.path(),
    );
    let err = src.snapshot().unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("JOBCD_GIT_USERNAME"), "{message}");
    assert!(message.contains("no credentials"), "{message}");
}

#[test]
fn ssh_host_keys_are_checked() {
    let (repo, sha) = jobs_repo();
    let ssh = SshServer::start();
    let state = tempfile::tempdir().unwrap();
    let host = format!("[127.0.0.1]:{}", ssh.port);

    // Unknown: the known_hosts file is empty.
    let empty = ssh.dir().join("known_hosts.empty");
    fs::write(&empty, "").unwrap();
    let src = source(
        &ssh.url(&repo),
        None,
        "jobs",
        ssh_credentials(&ssh.client_key, &empty),
        state.path(),
    );
    match src.snapshot() {
        Err(Error::HostKey {
            host: h,
            problem,
            known_hosts,
        }) => {
            assert_eq!(h, host);
            assert_eq!(problem, "is not in");
            assert_eq!(known_hosts, empty);
        }
        other => panic!("expected HostKey, got {other:?}"),
    }

    // Mismatch: the host is listed with another key.
    let other = ssh.mismatched_known_hosts();
    let src = source(
        &ssh.url(&repo),
        None,
        "jobs",
        ssh_credentials(&ssh.client_key, &other),
        state.path(),
    );
    match src.snapshot() {
        Err(Error::HostKey {
            host: h, problem, ..
        }) => {
            assert_eq!(h, host);
            assert!(problem.contains("does not match"), "{problem}");
        }
        other => panic!("expected HostKey, got {other:?}"),
    }

    // Skip accepts any key (the empty file is not consulted).
    let skip = Credentials {
        host_key_check: HostKeyCheck::Skip,
        ..ssh_credentials(&ssh.client_key, &empty)
    };
    let src = source(&ssh.url(&repo), None, "jobs", skip, state.path());
    assert_eq!(src.snapshot().unwrap().revision.sha, sha);
}

#[test]
fn an_ssh_key_the_server_does_not_know_is_an_auth_error() {
    let (repo, _) = jobs_repo();
    let ssh = SshServer::start();
    let state = tempfile::tempdir().unwrap();
    let stranger = ssh_keygen(ssh.dir(), "stranger");
    let src = source(
        &ssh.url(&repo),
        None,
        "jobs",
        ssh_credentials(&stranger, &ssh.known_hosts),
        state.path(),
    );
    match src.snapshot() {
        Err(Error::Auth { user, tried, .. }) => {
            assert_eq!(user, support::git_servers::current_user());
            assert!(tried.contains("SSH key"), "{tried}");
        }
        other => panic!("expected Error::Auth, got {other:?}"),
    }
}

// --- The command line, as a user runs it ------------------------------------------

/// Runs `jobcd` with a clean environment (no JOBCD_* variables, no SSH
/// agent, a fresh HOME), killing it if it runs longer than `limit`.
fn jobcd(args: &[&str], env: &[(&str, &str)], limit: Duration) -> (Output, Duration) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jobcd"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().expect("the jobcd binary runs");
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "jobcd {args:?} still running after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    (child.wait_with_output().unwrap(), elapsed)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const CLI_LIMIT: Duration = Duration::from_secs(30);

#[test]
fn cli_validates_a_repository_over_ssh() {
    let repo = Repo::new();
    repo.copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        "examples",
    );
    let sha = repo.commit(&[("README.md", Some("# jobs\n"))], "Import the examples");
    repo.push();
    let ssh = SshServer::start();
    let state = tempfile::tempdir().unwrap();
    let url = ssh.url(&repo);
    let (out, _) = jobcd(
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "validate",
            "--repo",
            &url,
            "--path",
            "examples",
            "--ssh-key",
            ssh.client_key.to_str().unwrap(),
            "--ssh-known-hosts",
            ssh.known_hosts.to_str().unwrap(),
        ],
        &[],
        CLI_LIMIT,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("{url}@{} /examples: valid", &sha[..7])),
        "{stdout}"
    );
    assert!(stdout.contains("0 errors"), "{stdout}");

    // Without the known_hosts file the user is told what to do.
    let (out, _) = jobcd(
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "validate",
            "--repo",
            &url,
            "--path",
            "examples",
            "--ssh-key",
            ssh.client_key.to_str().unwrap(),
        ],
        &[],
        CLI_LIMIT,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ssh-keyscan") && stderr.contains("--ssh-known-hosts"),
        "{stderr}"
    );
}

#[test]
fn cli_shows_a_source_over_https_with_a_private_ca() {
    let (repo, sha) = jobs_repo();
    let https = HttpServer::start_tls(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let password_file = state.path().join("password");
    fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    let mirrors = state.path().join("jobcd");
    let args = [
        "--state-dir",
        mirrors.to_str().unwrap(),
        "source",
        "show",
        "--repo",
        &https.url(),
        "--path",
        "jobs",
        "-o",
        "json",
        "--git-password-file",
        password_file.to_str().unwrap(),
    ];
    let ca = https.certificate();
    let ca = ca.to_str().unwrap();

    let (out, _) = jobcd(
        &args,
        &[("JOBCD_GIT_USERNAME", USER), ("SSL_CERT_FILE", ca)],
        CLI_LIMIT,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["revision"]["sha"], sha.as_str());
    assert_eq!(report["revision"]["reference"], "refs/heads/main");
    assert_eq!(
        report["files"],
        serde_json::json!(["jobs/db/migrate.yml", "jobs/nightly.yaml"])
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    assert_eq!(
        files_containing(&mirrors, PASSWORD.as_bytes()),
        Vec::<PathBuf>::new()
    );

    // A certificate nobody vouches for is refused.
    let (out, _) = jobcd(&args, &[("JOBCD_GIT_USERNAME", USER)], CLI_LIMIT);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

#[test]
fn cli_wrong_password_exits_2_without_showing_or_storing_it() {
    let (repo, _) = jobs_repo();
    let https = HttpServer::start_tls(&repo, USER, PASSWORD);
    let state = tempfile::tempdir().unwrap();
    let secret = "Sup3r-Secret-Tok3n-xyzzy-4711";
    let ca = https.certificate();
    let (out, _) = jobcd(
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "validate",
            "--repo",
            &https.url(),
            "--path",
            "jobs",
        ],
        &[
            ("JOBCD_GIT_USERNAME", USER),
            ("JOBCD_GIT_PASSWORD", secret),
            ("SSL_CERT_FILE", ca.to_str().unwrap()),
        ],
        CLI_LIMIT,
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("authentication to") && stderr.contains("JOBCD_GIT_PASSWORD"),
        "{stderr}"
    );
    assert!(!stdout.contains(secret), "{stdout}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(
        state.path().join("mirrors").is_dir(),
        "the mirror was created"
    );
    assert_eq!(
        files_containing(state.path(), secret.as_bytes()),
        Vec::<PathBuf>::new()
    );
}

#[test]
fn cli_gives_up_on_a_server_that_never_answers() {
    let state = tempfile::tempdir().unwrap();
    let hole = Blackhole::start();
    let refused = free_port();
    let show = |url: &str| {
        jobcd(
            &[
                "--state-dir",
                state.path().to_str().unwrap(),
                "source",
                "show",
                "--repo",
                url,
                "--git-timeout",
                "2",
            ],
            &[],
            CLI_LIMIT,
        )
    };
    // The server accepts the connection and then says nothing, over each
    // transport (the three run at once to keep the test short).
    let silent = [
        format!("git://127.0.0.1:{}/jobs.git", hole.port),
        format!("http://127.0.0.1:{}/git/jobs.git", hole.port),
        format!("ssh://git@127.0.0.1:{}/srv/jobs.git", hole.port),
    ];
    let results: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = silent
            .iter()
            .map(|url| scope.spawn(move || show(url)))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    for (url, (out, elapsed)) in silent.iter().zip(results) {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {stderr}");
        assert!(
            stderr.contains(&format!("{url} did not answer within 2 s")),
            "{url}: {stderr}"
        );
        assert!(
            elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(6),
            "{url}: gave up after {elapsed:?}"
        );
    }
    // Nothing listening: refused at once, and said so.
    let url = format!("git://127.0.0.1:{refused}/jobs.git");
    let (out, elapsed) = show(&url);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("fetching {url} failed")),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn sync_push_notes_puts_the_statuses_on_the_remote() {
    let repo = Repo::new();
    let sha = repo.commit_and_push(&[("jobs/migrate.yaml", MIGRATE)], "A Job");
    let daemon = GitDaemon::start(&repo);
    let state = tempfile::tempdir().unwrap();
    let (out, _) = jobcd(
        &[
            "--state-dir",
            state.path().to_str().unwrap(),
            "sync",
            "--repo",
            &daemon.url(),
            "--path",
            "jobs",
            "--push-notes",
        ],
        &[],
        CLI_LIMIT,
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(!all.contains("warning"), "{all}");
    // The served repository has the note, readable by plain git.
    let note = Command::new("git")
        .arg("--git-dir")
        .arg(&repo.bare)
        .args(["notes", "--ref=jobcd", "show", &sha])
        .output()
        .unwrap();
    let note = text(&note.stdout);
    assert!(
        note.contains(r#""state":"success","context":"jobcd/sync""#)
            && note.contains(r#""context":"jobcd/job/default/"#),
        "{note}"
    );
}
