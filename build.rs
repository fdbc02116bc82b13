//! Stamps the binary with the commit it was built from, for
//! `jobcd --version` (as `kubectl version` and `flux version` say theirs).
//!
//! The commit comes from `JOBCD_COMMIT` when set (a packager building from
//! a tarball), else from `git rev-parse HEAD` when the crate is a git
//! checkout of its own (a `.git` beside Cargo.toml, as in a clone or
//! `cargo install --git`), else it is "unknown". The build reruns when
//! HEAD moves, so the stamp never names a stale commit.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=JOBCD_COMMIT");
    let commit = std::env::var("JOBCD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(git_head)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=JOBCD_COMMIT={commit}");
}

/// HEAD's commit of the checkout this crate is, and the files whose change
/// moves it.
fn git_head() -> Option<String> {
    let root = std::env::var("CARGO_MANIFEST_DIR").ok()?;
    let root = Path::new(&root);
    if !root.join(".git").exists() {
        return None;
    }
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .current_dir(root)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let git_dir = root.join(git(&["rev-parse", "--git-dir"])?);
    let mut watched = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git_dir.join(branch));
    }
    // Only files that exist: cargo reruns a build script on every build
    // while a file it watches is missing.
    for file in watched.iter().filter(|f| f.exists()) {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    git(&["rev-parse", "HEAD"])
}
