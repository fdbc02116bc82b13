//! A watched local repository wakes jobcd when a commit lands, and only then.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jobcd::source::watch::{Wake, Watcher};
use jobcd::source::{Credentials, Location, RefName, Source};

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("job.yaml"), "# nothing yet\n").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    dir
}

fn source(dir: &Path) -> Source {
    Source {
        location: Location::Local(dir.to_path_buf()),
        reference: RefName::Default,
        path: String::new(),
        credentials: Credentials::default(),
        state_dir: dir.join(".state"),
        timeout: Duration::from_secs(5),
        uncommitted: false,
        render: jobcd::source::render::Render::default(),
        helm: Default::default(),
        verify: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_commit_wakes_the_watcher_within_a_second() {
    let dir = repo();
    let (git_dir, common) = source(dir.path())
        .git_dirs()
        .unwrap()
        .expect("a local repository");
    let mut watcher = Watcher::new()
        .watch_refs(&git_dir, &common, Duration::from_millis(50))
        .unwrap();
    let before = source(dir.path()).revision().unwrap();

    std::fs::write(dir.path().join("job.yaml"), "# edited\n").unwrap();
    git(dir.path(), &["commit", "-q", "-am", "second"]);
    let committed = Instant::now();
    let wake = tokio::time::timeout(Duration::from_secs(1), watcher.next()).await;
    assert_eq!(wake.expect("woken within a second"), Wake::RefChanged);
    eprintln!("noticed {:?} after the commit", committed.elapsed());
    let after = source(dir.path()).revision().unwrap();
    assert_ne!(before.sha, after.sha);
    assert_eq!(after.subject, "second");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn editing_files_without_committing_does_not_wake_it() {
    let dir = repo();
    let (git_dir, common) = source(dir.path()).git_dirs().unwrap().unwrap();
    let mut watcher = Watcher::new()
        .watch_refs(&git_dir, &common, Duration::from_millis(50))
        .unwrap();
    std::fs::write(dir.path().join("job.yaml"), "# not committed\n").unwrap();
    git(dir.path(), &["add", "job.yaml"]);
    let wake = tokio::time::timeout(Duration::from_millis(500), watcher.next()).await;
    assert!(wake.is_err(), "staging is not a commit: {wake:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn notes_on_a_commit_do_not_wake_it() {
    // jobcd writes its statuses as git notes into the repository it
    // watches: that must not look like a new commit.
    let dir = repo();
    let (git_dir, common) = source(dir.path()).git_dirs().unwrap().unwrap();
    let mut watcher = Watcher::new()
        .watch_refs(&git_dir, &common, Duration::from_millis(50))
        .unwrap();
    git(
        dir.path(),
        &["notes", "--ref=jobcd", "add", "-m", "jobcd/sync success"],
    );
    let wake = tokio::time::timeout(Duration::from_millis(500), watcher.next()).await;
    assert!(wake.is_err(), "a note is not a commit: {wake:?}");
    // A commit after it still wakes it.
    git(
        dir.path(),
        &["commit", "-q", "--allow-empty", "-m", "third"],
    );
    let wake = tokio::time::timeout(Duration::from_secs(2), watcher.next()).await;
    assert_eq!(wake.expect("woken by the commit"), Wake::RefChanged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_branch_switch_and_a_new_branch_wake_it_too() {
    let dir = repo();
    let (git_dir, common) = source(dir.path()).git_dirs().unwrap().unwrap();
    let mut watcher = Watcher::new()
        .watch_refs(&git_dir, &common, Duration::from_millis(50))
        .unwrap();
    git(dir.path(), &["checkout", "-q", "-b", "feature"]);
    let wake = tokio::time::timeout(Duration::from_secs(1), watcher.next()).await;
    assert_eq!(wake.expect("woken by the checkout"), Wake::RefChanged);
    git(dir.path(), &["pack-refs", "--all"]);
    let wake = tokio::time::timeout(Duration::from_secs(1), watcher.next()).await;
    assert_eq!(wake.expect("woken by packed-refs"), Wake::RefChanged);
}
