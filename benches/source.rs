//! Git source costs on a large repository, over a real git:// server:
//! the initial fetch (clone into an empty mirror) and a no-change fetch of a
//! repository with 10,000 manifest files, each followed by reading the
//! manifests from the commit; and the time from a commit in a watched local
//! repository to jobcd noticing it.
//!
//! `cargo bench --bench source`. Needs `git` (for `git daemon`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use git2::{Repository, Signature};
use jobcd::source::watch::Watcher;
use jobcd::source::{Credentials, Location, RefName, Source};

const FILES: usize = 10_000;
const ROUNDS: usize = 5;
const WATCH_COMMITS: usize = 20;
const DEBOUNCE: Duration = Duration::from_millis(50);

fn main() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let bare = root.path().join("jobs.git");
    build_repository(&bare);
    let port = free_port();
    let daemon = GitDaemon::start(root.path(), port);

    let mut initial = Vec::new();
    let mut no_change = Vec::new();
    for _ in 0..ROUNDS {
        let state = tempfile::tempdir().unwrap();
        let source = Source {
            location: Location::parse(&format!("git://127.0.0.1:{port}/jobs.git")).unwrap(),
            reference: RefName::Default,
            path: String::new(),
            credentials: Credentials::default(),
            state_dir: state.path().to_path_buf(),
            timeout: Duration::from_secs(30),
            uncommitted: false,
            render: jobcd::source::render::Render::default(),
            helm: Default::default(),
            verify: None,
        };
        let t = Instant::now();
        let snapshot = source.snapshot().expect("the first fetch works");
        initial.push(t.elapsed());
        assert_eq!(snapshot.tree.files.len(), FILES);
        let t = Instant::now();
        let again = source.snapshot().expect("the second fetch works");
        no_change.push(t.elapsed());
        assert_eq!(again.revision.sha, snapshot.revision.sha);
    }
    drop(daemon);
    report(
        &format!("initial fetch + read of {FILES} files (git://)"),
        &mut initial,
    );
    report(
        &format!("no-change fetch + read of {FILES} files (git://)"),
        &mut no_change,
    );

    let mut latencies = watch_latencies(&root.path().join("watched"));
    report(
        &format!(
            "commit -> noticed, minus the {} ms debounce",
            DEBOUNCE.as_millis()
        ),
        &mut latencies,
    );
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{what}: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

/// A bare repository whose one commit holds FILES small CronJob manifests in
/// 100 directories.
fn build_repository(path: &Path) {
    let repo = Repository::init_bare(path).unwrap();
    let mut top = repo.treebuilder(None).unwrap();
    for d in 0..100 {
        let mut dir = repo.treebuilder(None).unwrap();
        for f in 0..FILES / 100 {
            let name = format!("job-{d}-{f}");
            let yaml = format!(
                "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {name}\nspec:\n  schedule: \"{} 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - name: main\n              image: busybox\n              command: [sh, -c, \"echo {name}\"]\n",
                f % 60
            );
            let blob = repo.blob(yaml.as_bytes()).unwrap();
            dir.insert(format!("{name}.yaml"), blob, 0o100_644).unwrap();
        }
        let tree = dir.write().unwrap();
        top.insert(format!("team-{d}"), tree, 0o040_000).unwrap();
    }
    let tree = repo.find_tree(top.write().unwrap()).unwrap();
    let sig = Signature::now("bench", "bench@example.com").unwrap();
    repo.commit(
        Some("refs/heads/main"),
        &sig,
        &sig,
        "10,000 manifests",
        &tree,
        &[],
    )
    .unwrap();
    repo.set_head("refs/heads/main").unwrap();
}

/// Commits in-process (so git's own start-up is not measured) and times
/// until the watcher wakes.
fn watch_latencies(path: &Path) -> Vec<Duration> {
    let repo = Repository::init(path).unwrap();
    let sig = Signature::now("bench", "bench@example.com").unwrap();
    let tree = repo
        .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    let mut parent = repo
        .find_commit(
            repo.commit(Some("HEAD"), &sig, &sig, "start", &tree, &[])
                .unwrap(),
        )
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_time()
        .build()
        .unwrap();
    let git_dir = repo.path().to_path_buf();
    let mut watcher = Watcher::new()
        .watch_refs(&git_dir, &git_dir, DEBOUNCE)
        .unwrap();
    let mut latencies = Vec::new();
    for i in 0..WATCH_COMMITS {
        std::thread::sleep(Duration::from_millis(150)); // let the previous burst settle
        let oid = repo
            .commit(
                Some("HEAD"),
                &sig,
                &sig,
                &format!("commit {i}"),
                &tree,
                &[&parent],
            )
            .unwrap();
        let committed = Instant::now();
        parent = repo.find_commit(oid).unwrap();
        runtime.block_on(async {
            tokio::time::timeout(Duration::from_secs(5), watcher.next())
                .await
                .expect("noticed");
        });
        latencies.push(committed.elapsed().saturating_sub(DEBOUNCE));
    }
    latencies
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct GitDaemon(Child);

impl GitDaemon {
    fn start(base: &Path, port: u16) -> GitDaemon {
        // Start git-daemon itself: `git daemon` would leave it orphaned when killed.
        let exec_path = Command::new("git")
            .arg("--exec-path")
            .output()
            .expect("git runs")
            .stdout;
        let daemon = Path::new(String::from_utf8_lossy(&exec_path).trim()).join("git-daemon");
        let mut child = Command::new(daemon)
            .args([
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                "--export-all",
                "--reuseaddr",
            ])
            .arg(format!("--base-path={}", base.display()))
            .arg(base)
            .spawn()
            .expect("git daemon starts");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return GitDaemon(child);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("git daemon did not listen on {port}");
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
