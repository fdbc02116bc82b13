//! A git repository whose commits a test writes one by one, manifests
//! under `jobs/`, with its own HOME so that no user or system git
//! configuration is read.

use std::path::PathBuf;
use std::process::Command;

pub struct JobsRepo {
    /// Holds `repo/` and serves as HOME and state root.
    pub dir: tempfile::TempDir,
}

impl JobsRepo {
    /// An empty repository on branch `main`.
    pub fn new() -> JobsRepo {
        let repo = JobsRepo {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir_all(repo.path().join("jobs")).unwrap();
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// The work tree.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Runs git in the work tree; it must succeed. Its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(self.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.dir.path())
            // Fixed dates: the same commits make the same shas in every
            // repository, so two runs of a scenario can be compared.
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Writes (Some) or deletes (None) files under jobs/, commits, returns
    /// the sha.
    pub fn commit(&self, files: &[(&str, Option<&str>)]) -> String {
        for (name, text) in files {
            let path = self.path().join("jobs").join(name);
            match text {
                Some(t) => {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, t).unwrap()
                }
                None => std::fs::remove_file(&path).unwrap(),
            }
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "change"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// jobcd's notes on `sha` (empty when there are none).
    pub fn notes(&self, sha: &str) -> String {
        let out = Command::new("git")
            .current_dir(self.path())
            .env("HOME", self.dir.path())
            .args(["notes", "--ref=jobcd", "show", sha])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
