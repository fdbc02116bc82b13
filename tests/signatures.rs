//! Signed revisions end to end: keys made by the real `gpg` and
//! `ssh-keygen`, commits and tags signed by the real `git` (OpenPGP and
//! `gpg.format=ssh`), checked by the real `jobcd sync` and `jobcd serve`
//! on the local target. Every refusal is checked for what a user sees:
//! the exit code, the message naming the check and the key, the
//! `jobcd/sync` status on the commit, that nothing ran, and (for serve)
//! the metric.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::http::request;
use support::jobs_repo::JobsRepo;
use support::served::{PATIENCE, Served};

/// A repository and the keys that sign its commits: a GnuPG home with
/// OpenPGP keys, and SSH keys, all made for the test.
struct Signing {
    repo: JobsRepo,
    keys: tempfile::TempDir,
}

/// How a commit or tag is signed.
#[derive(Clone, Copy)]
enum Sign<'a> {
    /// Not at all.
    No,
    /// With this OpenPGP key (its fingerprint).
    Gpg(&'a str),
    /// With this OpenPGP key, by a gpg whose clock is set to this time.
    GpgAt(&'a str, &'a str),
    /// With this SSH key (the private key file).
    Ssh(&'a Path),
}

impl Signing {
    fn new() -> Signing {
        let keys = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(keys.path().join("gnupg")).unwrap();
        std::fs::set_permissions(
            keys.path().join("gnupg"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        Signing {
            repo: JobsRepo::new(),
            keys,
        }
    }

    fn gnupghome(&self) -> PathBuf {
        self.keys.path().join("gnupg")
    }

    /// Runs gpg (non-interactive, no passphrases); it must succeed.
    fn gpg(&self, args: &[&str]) -> Output {
        let out = Command::new("gpg")
            .env("GNUPGHOME", self.gnupghome())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "gpg {args:?}: {out:?}");
        out
    }

    /// A new OpenPGP key for `uid` (ed25519, signing only), expiring as
    /// `expire` says (`never`, `1d`); made at `at` when given. Its
    /// fingerprint.
    fn openpgp_key(&self, uid: &str, expire: &str, at: Option<&str>) -> String {
        let mut args = Vec::new();
        if let Some(at) = at {
            args.extend(["--faked-system-time", at]);
        }
        args.extend(["--quick-gen-key", uid, "ed25519", "sign", expire]);
        self.gpg(&args);
        let listed = self.gpg(&["--with-colons", "--list-keys", uid]);
        String::from_utf8(listed.stdout)
            .unwrap()
            .lines()
            .find(|l| l.starts_with("fpr:"))
            .and_then(|l| l.split(':').nth(9))
            .unwrap()
            .to_string()
    }

    /// Exports the public keys `fingerprints` to `name` (armored).
    fn export(&self, name: &str, fingerprints: &[&str]) -> PathBuf {
        let path = self.keys.path().join(name);
        let mut args = vec!["--armor", "--output", path.to_str().unwrap(), "--export"];
        args.extend(fingerprints);
        self.gpg(&args);
        path
    }

    /// Revokes the key with the revocation certificate gpg made with it.
    fn revoke(&self, fingerprint: &str) {
        let certificate = self
            .gnupghome()
            .join("openpgp-revocs.d")
            .join(format!("{fingerprint}.rev"));
        // gpg writes it with a ':' before the armor, so that it cannot be
        // imported by accident.
        let text = std::fs::read_to_string(&certificate).unwrap().replace(
            ":-----BEGIN PGP PUBLIC KEY BLOCK-----",
            "-----BEGIN PGP PUBLIC KEY BLOCK-----",
        );
        let armed = self.keys.path().join("revocation.asc");
        std::fs::write(&armed, text).unwrap();
        self.gpg(&["--import", armed.to_str().unwrap()]);
    }

    /// A new SSH key (ed25519) under `name`; the private key file and the
    /// public key line.
    fn ssh_key(&self, name: &str) -> (PathBuf, String) {
        let path = self.keys.path().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-keygen: {out:?}");
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        (path, public.trim().to_string())
    }

    /// Writes an allowed-signers file of `lines`.
    fn allowed_signers(&self, name: &str, lines: &[String]) -> PathBuf {
        let path = self.keys.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path
    }

    /// A wrapper running gpg with its clock at `at` (git's gpg.program);
    /// `at` may go on with more options.
    fn gpg_at(&self, at: &str) -> PathBuf {
        let path = self
            .keys
            .path()
            .join(format!("gpg-at-{}", at.replace([' ', '-'], "_")));
        std::fs::write(
            &path,
            format!("#!/bin/sh\nexec gpg --faked-system-time {at} \"$@\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    }

    /// Runs git in the repository, signing as `sign` says; its trimmed stdout.
    fn git(&self, sign: Sign<'_>, args: &[&str]) -> String {
        let mut command = Command::new("git");
        command
            .current_dir(self.repo.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.repo.dir.path())
            .env("GNUPGHOME", self.gnupghome())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"]);
        let program;
        match sign {
            Sign::No => {}
            Sign::Gpg(fpr) => {
                command.args([
                    "-c",
                    &format!("user.signingkey={fpr}"),
                    "-c",
                    "gpg.format=openpgp",
                ]);
            }
            Sign::GpgAt(fpr, at) => {
                program = self.gpg_at(at);
                command.args([
                    "-c",
                    &format!("user.signingkey={fpr}"),
                    "-c",
                    &format!("gpg.program={}", program.display()),
                ]);
            }
            Sign::Ssh(key) => {
                command.args([
                    "-c",
                    "gpg.format=ssh",
                    "-c",
                    &format!("user.signingkey={}", key.display()),
                ]);
            }
        }
        let out = command.args(args).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Commits a Job `name` (whose run writes `out/<name>`), signed as
    /// `sign` says; the sha.
    fn commit(&self, sign: Sign<'_>, name: &str) -> String {
        let out = self.repo.dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let job = format!(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: main, image: x, command: [sh, -c, 'echo ran > {}/{name}']}}]\n",
            out.display()
        );
        std::fs::write(
            self.repo.path().join("jobs").join(format!("{name}.yaml")),
            job,
        )
        .unwrap();
        self.git(Sign::No, &["add", "-A"]);
        let mut args = vec!["commit", "-q", "-m", name];
        if !matches!(sign, Sign::No) {
            args.push("-S");
        }
        self.git(sign, &args);
        self.git(Sign::No, &["rev-parse", "HEAD"])
    }

    /// Whether the Job `name` ran.
    fn ran(&self, name: &str) -> bool {
        self.repo.dir.path().join("out").join(name).exists()
    }

    /// `jobcd sync` of the repository's `ref` with `extra` arguments.
    fn sync(&self, reference: &str, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_jobcd"))
            .env("HOME", self.repo.dir.path())
            .env_remove("JOBCD_VERIFY_SIGNATURES")
            .arg("--state-dir")
            .arg(self.repo.dir.path().join("state"))
            .args(["sync", "--path", "jobs", "--ref", reference, "--repo"])
            .arg(self.repo.path())
            .args(extra)
            .output()
            .unwrap()
    }
}

impl Drop for Signing {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.gnupghome())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// The `jobcd/sync` line of the notes on `sha`.
fn sync_status(world: &Signing, sha: &str) -> String {
    world
        .repo
        .notes(sha)
        .lines()
        .find(|l| l.contains("jobcd/sync"))
        .unwrap_or_default()
        .to_string()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that `sync` refused the revision `sha`: exit 1, the message
/// holds each of `said`, the commit's status says so, and `job` never ran.
fn assert_refused(world: &Signing, out: &Output, sha: &str, job: &str, said: &[&str]) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for needle in said {
        assert!(all.contains(needle), "no {needle:?} in:\n{all}");
    }
    assert!(all.contains("nothing was applied"), "{all}");
    let status = sync_status(world, sha);
    assert!(status.contains("failure"), "{status}");
    assert!(status.contains("signature check failed"), "{status}");
    assert!(!world.ran(job), "{job} ran:\n{all}");
}

#[test]
fn openpgp_signed_commits_apply_and_every_other_commit_is_refused() {
    let world = Signing::new();
    let alice = world.openpgp_key("Alice <alice@example.com>", "never", None);
    let mallory = world.openpgp_key("Mallory <mallory@example.com>", "never", None);
    let trusted = world.export("trusted.asc", &[&alice]);
    let keys = [
        "--verify-signatures",
        "head",
        "--trusted-keys",
        trusted.to_str().unwrap(),
    ];

    // Signed by a trusted key: applied, and the Job ran.
    world.commit(Sign::Gpg(&alice), "good");
    let out = world.sync("main", &keys);
    assert!(out.status.success(), "{}", text(&out));
    assert!(world.ran("good"));

    // Unsigned.
    let sha = world.commit(Sign::No, "unsigned");
    let out = world.sync("main", &keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "unsigned",
        &[&format!("commit {} is not signed", &sha[..7])],
    );

    // Signed by a key that is not trusted: the message names it.
    let sha = world.commit(Sign::Gpg(&mallory), "mallory");
    let out = world.sync("main", &keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "mallory",
        &["is signed by an untrusted key", &mallory, "trusted.asc"],
    );

    // A signed commit whose content was changed afterwards: its
    // signature header kept, its message rewritten, written back as a new
    // commit object.
    world.commit(Sign::Gpg(&alice), "honest");
    let raw = world.git(Sign::No, &["cat-file", "commit", "HEAD"]);
    assert!(raw.contains("gpgsig"), "{raw}");
    let forged = raw.replace("\nhonest", "\ntampered");
    let tampered = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tampered.path(), forged + "\n").unwrap();
    let sha = world.git(
        Sign::No,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            tampered.path().to_str().unwrap(),
        ],
    );
    world.git(Sign::No, &["update-ref", "refs/heads/main", &sha]);
    let out = world.sync("main", &keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "honest",
        &["has a bad signature", &alice, "changed after it was signed"],
    );

    // diff says the same, and exits 2: there is nothing to compare.
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", world.repo.dir.path())
        .arg("--state-dir")
        .arg(world.repo.dir.path().join("state"))
        .args(["diff", "--path", "jobs", "--repo"])
        .arg(world.repo.path())
        .args(keys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("has a bad signature"), "{}", text(&out));
    // So does validate: what it would read is not trusted.
    let out = Command::new(env!("CARGO_BIN_EXE_jobcd"))
        .env("HOME", world.repo.dir.path())
        .args(["validate", "--path", "jobs", "--repo"])
        .arg(world.repo.path())
        .args(keys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("has a bad signature"), "{}", text(&out));
}

#[test]
fn expired_and_revoked_openpgp_keys_are_refused() {
    let world = Signing::new();
    // Made and used in 2020, valid for a day: long expired now.
    let old = world.openpgp_key("Old <old@example.com>", "1d", Some("20200101T000000"));
    let carol = world.openpgp_key("Carol <carol@example.com>", "never", None);

    world.commit(Sign::GpgAt(&old, "20200101T010000"), "old");
    let trusted = world.export("old.asc", &[&old]);
    let keys = ["--trusted-keys", trusted.to_str().unwrap()];
    let sha = world.git(Sign::No, &["rev-parse", "HEAD"]);
    let out = world.sync("main", &keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "old",
        &["is signed by an expired key", &old, "expired at 2020-01-02"],
    );

    // A signing subkey that never expires, under a primary key that
    // expired a day after it was made: no longer valid than its primary.
    let short = world.openpgp_key("Short <short@example.com>", "1d", Some("20200101T000000"));
    world.gpg(&[
        "--faked-system-time",
        "20200101T000100",
        "--quick-add-key",
        &short,
        "ed25519",
        "sign",
        "never",
    ]);
    let sha = world.commit(Sign::GpgAt(&short, "20200101T010000"), "short");
    let trusted = world.export("short.asc", &[&short]);
    let out = world.sync("main", &["--trusted-keys", trusted.to_str().unwrap()]);
    assert_refused(
        &world,
        &out,
        &sha,
        "short",
        &[
            "is signed by an expired key",
            &short,
            "expired at 2020-01-02",
        ],
    );

    // A key that never expires, whose signature was made to last a day.
    let brief = world.openpgp_key(
        "Brief <brief@example.com>",
        "never",
        Some("20200101T000000"),
    );
    let sha = world.commit(
        Sign::GpgAt(&brief, "20200101T010000 --default-sig-expire 1d"),
        "brief",
    );
    let trusted = world.export("brief.asc", &[&brief]);
    let out = world.sync("main", &["--trusted-keys", trusted.to_str().unwrap()]);
    assert_refused(
        &world,
        &out,
        &sha,
        "brief",
        &["the signature itself expired at 2020-01-02", &brief],
    );

    // Signed while valid, revoked since, and the revocation exported.
    let sha = world.commit(Sign::Gpg(&carol), "carol");
    world.revoke(&carol);
    let trusted = world.export("carol.asc", &[&carol]);
    let out = world.sync("main", &["--trusted-keys", trusted.to_str().unwrap()]);
    assert_refused(
        &world,
        &out,
        &sha,
        "carol",
        &["is signed by a revoked key", &carol],
    );
}

#[test]
fn ssh_signed_commits_and_signed_tags_are_checked_against_allowed_signers() {
    let world = Signing::new();
    let (alice, alice_public) = world.ssh_key("alice");
    let (eve, _) = world.ssh_key("eve");
    let signers = world.allowed_signers(
        "allowed_signers",
        &[
            "# who may sign jobs".to_string(),
            format!("alice@example.com namespaces=\"git\" {alice_public}"),
        ],
    );
    let keys = [
        "--verify-signatures",
        "head",
        "--trusted-keys",
        signers.to_str().unwrap(),
    ];

    world.commit(Sign::Ssh(&alice), "alice");
    let out = world.sync("main", &keys);
    assert!(out.status.success(), "{}", text(&out));
    assert!(world.ran("alice"));

    let sha = world.commit(Sign::Ssh(&eve), "eve");
    let out = world.sync("main", &keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "eve",
        &[
            "is signed by an untrusted key",
            "SSH key SHA256:",
            "allowed_signers",
        ],
    );

    // Tag mode: a signed annotated tag on a commit no one signed applies;
    // the same commit under a lightweight tag, or a branch, does not.
    let sha = world.commit(Sign::No, "tagged");
    world.git(Sign::Ssh(&alice), &["tag", "-s", "v1", "-m", "release 1"]);
    world.git(Sign::No, &["tag", "light"]);
    let tag_keys = [
        "--verify-signatures",
        "tag",
        "--trusted-keys",
        signers.to_str().unwrap(),
    ];
    let out = world.sync("light", &tag_keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "tagged",
        &["tag light is not an annotated tag", "lightweight"],
    );
    let out = world.sync("main", &tag_keys);
    assert_refused(
        &world,
        &out,
        &sha,
        "tagged",
        &["ref refs/heads/main is not an annotated tag"],
    );
    // Both: the tag is fine, the commit is not signed.
    let out = world.sync(
        "v1",
        &[
            "--verify-signatures",
            "both",
            "--trusted-keys",
            signers.to_str().unwrap(),
        ],
    );
    assert_refused(
        &world,
        &out,
        &sha,
        "tagged",
        &[&format!("commit {} is not signed", &sha[..7])],
    );
    let out = world.sync("v1", &tag_keys);
    assert!(out.status.success(), "{}", text(&out));
    assert!(world.ran("tagged"));

    // A key whose allowed-signers line stopped being valid before the
    // commit was made.
    let limited = world.allowed_signers(
        "limited_signers",
        &[format!(
            "alice@example.com valid-before=\"20200101Z\" {alice_public}"
        )],
    );
    let sha = world.commit(Sign::Ssh(&alice), "late");
    let out = world.sync("main", &["--trusted-keys", limited.to_str().unwrap()]);
    assert_refused(
        &world,
        &out,
        &sha,
        "late",
        &["is signed by an expired key", "valid-before"],
    );
}

#[test]
fn unusable_trusted_keys_files_are_named_with_what_to_do() {
    let world = Signing::new();
    world.commit(Sign::No, "any");
    let broken = world.allowed_signers(
        "broken_signers",
        &["alice@example.com ssh-ed25519 notbase64!".into()],
    );
    let out = world.sync("main", &["--trusted-keys", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("broken_signers:1:"), "{}", text(&out));
    let empty = world.allowed_signers("empty", &["# nothing".into()]);
    let out = world.sync("main", &["--trusted-keys", empty.to_str().unwrap()]);
    assert!(text(&out).contains("holds no key"), "{}", text(&out));
    let out = world.sync("main", &["--verify-signatures", "head"]);
    assert!(
        text(&out).contains("--verify-signatures needs the keys to trust"),
        "{}",
        text(&out)
    );
    assert!(!world.ran("any"));
}

#[test]
fn serve_keeps_the_last_good_revision_and_counts_each_refusal() {
    let world = Signing::new();
    let alice = world.openpgp_key("Alice <alice@example.com>", "never", None);
    let mallory = world.openpgp_key("Mallory <mallory@example.com>", "never", None);
    let trusted = world.export("trusted.asc", &[&alice]);
    world.commit(Sign::Gpg(&alice), "good");
    let config = world.repo.dir.path().join("jobcd.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:0\ntarget: {{kind: local}}\nsources:\n  - name: jobs\n    repo: {}\n    ref: main\n    path: jobs\n    interval: 0s\n    verify:\n      mode: head\n      keyFiles: [{}]\n",
            world.repo.path().display(),
            trusted.display()
        ),
    )
    .unwrap();
    let served = Served::start(world.repo.dir.path(), &config, &[]);
    served.wait_log("Job default/good: Complete");

    // Refused commits arrive through the ref watch, one after the other:
    // each is counted under its check, and its commit says which.
    // How many refusals /metrics counts under `check` (a ref moved twice
    // may reconcile the same commit twice).
    let count = |body: &str, check: &str| -> u64 {
        let series = format!(r#"jobcd_signature_refusals_total{{source="jobs",check="{check}"}} "#);
        body.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    let refused = |sha: &str, check: &str, key: &str| {
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            let (_, body) = request("GET", &format!("{}/metrics", served.base), &[], b"");
            let status = sync_status(&world, sha);
            if count(&body, check) > 0 && status.contains("failure") {
                assert!(status.contains(key), "{status}");
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {check} refusal of {sha}:\n{body}\n{status}\n{}",
                served.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let sha = world.commit(Sign::Gpg(&mallory), "mallory");
    refused(&sha, "untrusted_key", &mallory);
    let sha = world.commit(Sign::No, "unsigned");
    refused(&sha, "unsigned", "is not signed");
    // A signed commit rewritten afterwards.
    world.commit(Sign::Gpg(&alice), "honest");
    let raw = world.git(Sign::No, &["cat-file", "commit", "HEAD"]);
    let forged = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(forged.path(), raw.replace("\nhonest", "\nforged") + "\n").unwrap();
    let sha = world.git(
        Sign::No,
        &[
            "hash-object",
            "-t",
            "commit",
            "-w",
            forged.path().to_str().unwrap(),
        ],
    );
    world.git(Sign::No, &["update-ref", "refs/heads/main", &sha]);
    let metrics = refused(&sha, "bad_signature", &alice);
    for check in ["untrusted_key", "unsigned", "bad_signature"] {
        assert_eq!(count(&metrics, check), 1, "{metrics}");
    }
    assert!(
        metrics.contains(r#"jobcd_reconcile_results_total{source="jobs",result="refused"} 3"#),
        "{metrics}"
    );
    for job in ["mallory", "unsigned", "honest"] {
        assert!(!world.ran(job), "{job} ran");
    }
    // The last good revision stays: no refused one was planned (only the
    // first reconcile made a plan), so nothing was pruned.
    let log = served.log();
    assert_eq!(log.matches("to prune").count(), 1, "{log}");
    assert!(
        log.contains("nothing applied, the last good revision stays in force"),
        "{log}"
    );

    // Signed by a trusted key again: applied.
    world.commit(Sign::Gpg(&alice), "fixed");
    served.wait_log("Job default/fixed: Complete");

    // Mallory's key added to the trusted keys file (as a Secret update
    // would): serve reads it again for the next revision, no restart.
    world.export("trusted.asc", &[&alice, &mallory]);
    world.commit(Sign::Gpg(&mallory), "trusted-now");
    served.wait_log("Job default/trusted-now: Complete");

    // A commit Mallory signed aside, then Mallory's key revoked and the
    // revocation exported into the file (gpg signs nothing with a revoked
    // key): once the commit reaches main, it is refused.
    world.git(Sign::No, &["checkout", "-q", "-b", "aside"]);
    let sha = world.commit(Sign::Gpg(&mallory), "after-revocation");
    world.git(Sign::No, &["checkout", "-q", "main"]);
    world.revoke(&mallory);
    world.export("trusted.asc", &[&alice, &mallory]);
    world.git(Sign::No, &["merge", "-q", "--ff-only", "aside"]);
    refused(&sha, "revoked_key", &mallory);
    // A key that expired long ago, trusted, signing with its clock back
    // when it was valid.
    let old = world.openpgp_key("Old <old@example.com>", "1d", Some("20200101T000000"));
    world.export("trusted.asc", &[&alice, &old]);
    let sha = world.commit(Sign::GpgAt(&old, "20200101T010000"), "expired");
    refused(&sha, "expired_key", &old);
    assert!(!world.ran("after-revocation") && !world.ran("expired"));
}
