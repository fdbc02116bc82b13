//! Push webhooks from GitHub, Gitea/Forgejo and GitLab: verifying that a
//! delivery comes from the forge (HMAC-SHA256 of the body for GitHub and
//! Gitea, the shared token for GitLab, all compared in constant time),
//! reading the push (repository URLs, branch, commit) and finding the
//! sources it concerns.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// Which forge sent a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forge {
    /// GitHub: `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Event`.
    GitHub,
    /// Gitea or Forgejo: `X-Gitea-Signature` (or `X-Forgejo-Signature`) `<hex>`, `X-Gitea-Event`.
    Gitea,
    /// GitLab: `X-Gitlab-Token`, `X-Gitlab-Event`.
    GitLab,
}

/// Whether a delivery is authentic: `header` is the signature (GitHub,
/// Gitea) or token (GitLab) header's value, `secret` the configured one.
pub fn verify(forge: Forge, secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(header) = header.map(str::trim) else {
        return false;
    };
    match forge {
        Forge::GitLab => constant_time_eq(header.as_bytes(), secret),
        Forge::GitHub | Forge::Gitea => {
            let hex = match forge {
                Forge::GitHub => match header.strip_prefix("sha256=") {
                    Some(hex) => hex,
                    None => return false,
                },
                _ => header,
            };
            let Some(signature) = from_hex(hex) else {
                return false;
            };
            let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
                return false;
            };
            mac.update(body);
            // verify_slice compares in constant time.
            mac.verify_slice(&signature).is_ok()
        }
    }
}

pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The header carrying the forge's id of a delivery, for replay detection
/// (see `deliveries`).
pub fn delivery_headers(forge: Forge) -> &'static [&'static str] {
    match forge {
        Forge::GitHub => &["x-github-delivery"],
        Forge::Gitea => &["x-gitea-delivery", "x-forgejo-delivery"],
        Forge::GitLab => &["x-gitlab-event-uuid"],
    }
}

/// A push, as the forge describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The repository, by every URL it goes by (clone, SSH, web).
    pub repository: Vec<RepositoryKey>,
    /// The full ref pushed (`refs/heads/main`, `refs/tags/v1`).
    pub reference: Option<String>,
    /// The branch pushed (`main`), or None for tags and other refs.
    pub branch: Option<String>,
    /// The repository's default branch, when the forge says.
    pub default_branch: Option<String>,
    /// The commit pushed.
    pub after: Option<String>,
}

/// The push in a delivery's JSON body; None when it is not a push (a
/// ping, another event) or not readable.
pub fn push(forge: Forge, event: Option<&str>, body: &[u8]) -> Option<Push> {
    // Pushes only (GitHub and Gitea send tag pushes as "push" too); every
    // other event (ping, pull request, issue, …) triggers nothing.
    let is_push = match forge {
        Forge::GitHub | Forge::Gitea => event == Some("push"),
        Forge::GitLab => matches!(event, Some("Push Hook" | "Tag Push Hook")),
    };
    if !is_push {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    let repo = match forge {
        Forge::GitLab => &v["project"],
        _ => &v["repository"],
    };
    let keys: &[&str] = match forge {
        Forge::GitLab => &[
            "git_http_url",
            "git_ssh_url",
            "web_url",
            "http_url",
            "ssh_url",
        ],
        _ => &["clone_url", "ssh_url", "html_url", "git_url"],
    };
    let repository = keys
        .iter()
        .filter_map(|k| repo[*k].as_str().map(RepositoryKey::of))
        .collect();
    Some(Push {
        repository,
        reference: v["ref"].as_str().map(str::to_string),
        branch: v["ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_string),
        default_branch: repo["default_branch"].as_str().map(str::to_string),
        after: v["after"]
            .as_str()
            .or(v["checkout_sha"].as_str())
            .map(str::to_string),
    })
}

/// Whether `push` concerns a source syncing `repo` at `reference` (None:
/// the default branch): the same repository, and the ref the source
/// follows — a branch, or a tag (a source pinned to a tag that is moved).
/// A push to any other branch or tag triggers nothing.
pub fn concerns(push: &Push, repo: &RepositoryKey, reference: Option<&str>) -> bool {
    if !push.repository.contains(repo) {
        return false;
    }
    let Some(pushed) = push.reference.as_deref() else {
        return false;
    };
    match reference {
        Some(r) if r.starts_with("refs/") => pushed == r,
        Some(r) => {
            pushed.strip_prefix("refs/heads/") == Some(r)
                || pushed.strip_prefix("refs/tags/") == Some(r)
        }
        None => push
            .branch
            .as_deref()
            .is_some_and(|b| push.default_branch.as_deref().is_none_or(|d| d == b)),
    }
}

/// A repository as any of its URLs names it: `host/owner/repo`, host
/// lower-cased, without scheme, user, port, `.git` or trailing slash.
/// Made once per source and once per delivery: a delivery is matched
/// against every source, and normalising every source's URL again for
/// each delivery took a sixth of jobcd's CPU in the fleet bench's run of
/// 5,000 sources (perf).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepositoryKey(String);

impl RepositoryKey {
    /// The key of `url` (`https://`, `ssh://`, `git@host:owner/repo`, …).
    pub fn of(url: &str) -> RepositoryKey {
        let rest = match url.split_once("://") {
            Some((_, rest)) => rest.to_string(),
            // git@host:owner/repo
            None => url.replacen(':', "/", 1),
        };
        let rest = rest.rsplit_once('@').map_or(rest.as_str(), |(_, r)| r);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.split(':').next().unwrap_or(host).to_ascii_lowercase();
        let path = path.trim_end_matches('/').trim_end_matches(".git");
        RepositoryKey(format!("{host}/{path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(body);
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn signatures_are_checked_per_forge() {
        let (secret, body) = (
            b"s3cret".as_slice(),
            br#"{"ref":"refs/heads/main"}"#.as_slice(),
        );
        let hex = sign(secret, body);
        assert!(verify(
            Forge::GitHub,
            secret,
            body,
            Some(&format!("sha256={hex}"))
        ));
        assert!(
            !verify(Forge::GitHub, secret, body, Some(&hex)),
            "GitHub needs the prefix"
        );
        assert!(verify(Forge::Gitea, secret, body, Some(&hex)));
        assert!(!verify(Forge::Gitea, b"other", body, Some(&hex)));
        assert!(!verify(Forge::Gitea, secret, b"tampered", Some(&hex)));
        assert!(!verify(Forge::GitHub, secret, body, None));
        assert!(!verify(Forge::GitHub, secret, body, Some("sha256=zz")));
        assert!(verify(Forge::GitLab, secret, body, Some("s3cret")));
        assert!(!verify(Forge::GitLab, secret, body, Some("s3cre")));
        assert!(!verify(Forge::GitLab, secret, body, Some("")));
    }

    #[test]
    fn pushes_are_read_and_matched_to_sources() {
        let github = br#"{"ref":"refs/heads/main","after":"abc","repository":{"clone_url":"https://github.com/Acme/jobs.git","ssh_url":"git@github.com:Acme/jobs.git","html_url":"https://github.com/Acme/jobs","default_branch":"main"}}"#;
        let p = push(Forge::GitHub, Some("push"), github).expect("a push");
        assert_eq!(p.branch.as_deref(), Some("main"));
        assert_eq!(p.after.as_deref(), Some("abc"));
        assert!(concerns(
            &p,
            &RepositoryKey::of("https://github.com/Acme/jobs"),
            None
        ));
        assert!(concerns(
            &p,
            &RepositoryKey::of("git@github.com:Acme/jobs.git"),
            Some("main")
        ));
        assert!(concerns(
            &p,
            &RepositoryKey::of("ssh://git@GITHUB.com:22/Acme/jobs.git"),
            Some("refs/heads/main")
        ));
        assert!(!concerns(
            &p,
            &RepositoryKey::of("https://github.com/Acme/jobs"),
            Some("release")
        ));
        assert!(!concerns(
            &p,
            &RepositoryKey::of("https://github.com/Acme/other"),
            None
        ));
        assert!(push(Forge::GitHub, Some("ping"), github).is_none());

        let gitlab = br#"{"ref":"refs/heads/dev","checkout_sha":"def","project":{"git_http_url":"https://gitlab.example.com/g/sub/jobs.git","git_ssh_url":"git@gitlab.example.com:g/sub/jobs.git","default_branch":"main"}}"#;
        let p = push(Forge::GitLab, Some("Push Hook"), gitlab).expect("a push");
        assert_eq!(p.after.as_deref(), Some("def"));
        assert!(concerns(
            &p,
            &RepositoryKey::of("https://gitlab.example.com/g/sub/jobs"),
            Some("dev")
        ));
        assert!(
            !concerns(
                &p,
                &RepositoryKey::of("https://gitlab.example.com/g/sub/jobs"),
                None
            ),
            "not the default branch"
        );

        let tag = br#"{"ref":"refs/tags/v1","repository":{"clone_url":"https://git.example.com/a/b.git"}}"#;
        let p = push(Forge::Gitea, Some("push"), tag).expect("a push");
        assert!(
            !concerns(&p, &RepositoryKey::of("https://git.example.com/a/b"), None),
            "a tag does not trigger a source following a branch"
        );
        assert!(
            concerns(
                &p,
                &RepositoryKey::of("https://git.example.com/a/b"),
                Some("v1")
            ),
            "a moved tag triggers the source following it"
        );
        assert!(concerns(
            &p,
            &RepositoryKey::of("https://git.example.com/a/b"),
            Some("refs/tags/v1")
        ));
        assert!(!concerns(
            &p,
            &RepositoryKey::of("https://git.example.com/a/b"),
            Some("v2")
        ));
        assert!(!concerns(
            &p,
            &RepositoryKey::of("https://git.example.com/a/b"),
            Some("refs/heads/v1")
        ));
        let gitlab_tag = br#"{"ref":"refs/tags/v1","project":{"git_http_url":"https://gitlab.example.com/g/jobs.git"}}"#;
        let p = push(Forge::GitLab, Some("Tag Push Hook"), gitlab_tag).expect("a tag push");
        assert!(concerns(
            &p,
            &RepositoryKey::of("https://gitlab.example.com/g/jobs"),
            Some("v1")
        ));
        for (forge, event) in [
            (Forge::GitHub, "pull_request"),
            (Forge::Gitea, "issues"),
            (Forge::GitLab, "Merge Request Hook"),
            (Forge::GitLab, "Pipeline Hook"),
        ] {
            assert!(push(forge, Some(event), tag).is_none(), "{event}");
            assert!(push(forge, None, tag).is_none());
        }
    }
}
