//! Where a repository lives, from the `--repo` argument.
//!
//! A local path or `file://` URL is read in place. `https://`, `http://`,
//! `ssh://`, scp-like `user@host:path` and `git://` are remotes, mirrored into
//! the state directory. Passwords in URLs are refused: URLs end up in logs,
//! statuses and error messages, so secrets travel separately.

use std::fmt;
use std::path::PathBuf;

use super::Error;

/// The transport of a remote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `https://` (or plain `http://`), optionally with basic auth.
    Https,
    /// `ssh://` or scp-like `user@host:path`.
    Ssh,
    /// `git://`, unauthenticated.
    Git,
}

/// A parsed `--repo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A repository on this machine (working tree or bare), read in place.
    Local(PathBuf),
    /// A remote repository, mirrored as a bare clone.
    Remote(Remote),
}

/// A remote repository URL, without secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The URL as git is given it.
    pub url: String,
    /// How it is reached.
    pub transport: Transport,
    /// Host name (for known_hosts and messages).
    pub host: String,
    /// Port, when the URL names one.
    pub port: Option<u16>,
    /// User name in the URL (`git` in `git@host:path`), if any.
    pub user: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Remote(remote) => f.write_str(&remote.url),
        }
    }
}

impl Location {
    /// Parses a `--repo` value.
    pub fn parse(repo: &str) -> Result<Location, Error> {
        let invalid = |reason: &str| Error::Url {
            url: redact(repo),
            reason: reason.to_string(),
        };
        if repo.is_empty() {
            return Err(invalid("the repository is empty; give a path or a URL"));
        }
        if let Some(path) = repo.strip_prefix("file://") {
            return Ok(Location::Local(PathBuf::from(path)));
        }
        let scheme = repo.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let transport = match scheme.as_deref() {
            Some("https" | "http") => Transport::Https,
            Some("ssh" | "git+ssh") => Transport::Ssh,
            Some("git") => Transport::Git,
            Some(other) => {
                return Err(invalid(&format!(
                    "unsupported scheme {other}://; use https://, ssh://, git://, file:// or a path"
                )));
            }
            None => {
                return Ok(scp_like(repo).unwrap_or_else(|| Location::Local(PathBuf::from(repo))));
            }
        };
        let rest = &repo[repo.find("://").map_or(0, |i| i + 3)..];
        let authority = rest.split('/').next().unwrap_or_default();
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if userinfo.is_some_and(|u| u.contains(':')) {
            return Err(invalid(
                "the URL contains a password; remove it and pass it with JOBCD_GIT_PASSWORD or --git-password-file",
            ));
        }
        let (host, port) = split_port(hostport).map_err(|e| invalid(&e))?;
        if host.is_empty() {
            return Err(invalid("the URL has no host"));
        }
        if rest.len() <= authority.len() + 1 {
            return Err(invalid("the URL has no repository path"));
        }
        Ok(Location::Remote(Remote {
            url: repo.to_string(),
            transport,
            host,
            port,
            user: userinfo.map(str::to_string),
        }))
    }
}

/// `user@host:path` (or `host:path`), which git reads as SSH when the part
/// before the colon has no slash.
fn scp_like(repo: &str) -> Option<Location> {
    let (before, path) = repo.split_once(':')?;
    if before.contains('/') || path.is_empty() || before.is_empty() {
        return None;
    }
    // A local path with a colon that exists is a path, not a host.
    if std::path::Path::new(repo).exists() {
        return None;
    }
    let (user, host) = match before.rsplit_once('@') {
        Some((u, h)) => (Some(u.to_string()), h.to_string()),
        None => (None, before.to_string()),
    };
    Some(Location::Remote(Remote {
        url: repo.to_string(),
        transport: Transport::Ssh,
        host,
        port: None,
        user,
    }))
}

fn split_port(hostport: &str) -> Result<(String, Option<u16>), String> {
    // [::1]:2222
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed '[' in the host")?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("invalid port {p:?}"))?),
            None => None,
        };
        return Ok((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, p)) => Ok((
            host.to_string(),
            Some(p.parse().map_err(|_| format!("invalid port {p:?}"))?),
        )),
        None => Ok((hostport.to_string(), None)),
    }
}

/// The URL with any password replaced, for messages and pages that show
/// it. Over HTTP(S) a user name alone is replaced too: a token is often
/// written there (`https://<token>@github.com/…`); an SSH user (`git@`)
/// is kept.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let scheme = &url[..scheme_end];
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{user}:***@{host}{}",
                &url[..scheme_end + 3],
                &rest[authority_end..]
            )
        }
        Some((_, host)) if web => {
            format!(
                "{}***@{host}{}",
                &url[..scheme_end + 3],
                &rest[authority_end..]
            )
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_web_tokens_are_redacted_and_ssh_users_kept() {
        assert_eq!(
            redact("https://bot:s3cret@git.example.com/a.git"),
            "https://bot:***@git.example.com/a.git"
        );
        assert_eq!(
            redact("https://ghp_token@github.com/o/r.git"),
            "https://***@github.com/o/r.git"
        );
        assert_eq!(
            redact("ssh://git@git.example.com/a.git"),
            "ssh://git@git.example.com/a.git"
        );
        assert_eq!(redact("/srv/repos/jobs"), "/srv/repos/jobs");
    }

    fn remote(repo: &str) -> Remote {
        match Location::parse(repo).unwrap() {
            Location::Remote(r) => r,
            other => panic!("{repo}: {other:?}"),
        }
    }

    #[test]
    fn urls_of_every_kind() {
        let r = remote("https://git.example.com/team/jobs.git");
        assert_eq!(
            (r.transport, r.host.as_str(), r.port),
            (Transport::Https, "git.example.com", None)
        );
        let r = remote("ssh://git@127.0.0.1:2222/srv/jobs.git");
        assert_eq!(
            (r.transport, r.host.as_str(), r.port, r.user.as_deref()),
            (Transport::Ssh, "127.0.0.1", Some(2222), Some("git"))
        );
        let r = remote("git@github.com:acme/jobs.git");
        assert_eq!(
            (r.transport, r.host.as_str(), r.user.as_deref()),
            (Transport::Ssh, "github.com", Some("git"))
        );
        assert_eq!(
            remote("git://127.0.0.1:9418/jobs").transport,
            Transport::Git
        );
        assert_eq!(
            Location::parse("file:///srv/jobs").unwrap(),
            Location::Local("/srv/jobs".into())
        );
        assert_eq!(
            Location::parse("./jobs").unwrap(),
            Location::Local("./jobs".into())
        );
    }

    #[test]
    fn passwords_in_urls_are_refused_and_redacted() {
        let err = Location::parse("https://bob:hunter2@example.com/r.git")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("bob:***@example.com"), "{err}");
        assert!(Location::parse("ftp://example.com/r").is_err());
        assert!(Location::parse("https://example.com").is_err());
    }
}
