//! Checking an SSH server's host key against an OpenSSH known_hosts file.
//!
//! libgit2 hands jobcd the raw host key; this finds the entries for the host
//! (plain names, `[host]:port`, `*`/`?` wildcards, `!` negations and hashed
//! `|1|salt|hash` names as `ssh-keygen -H` writes them) and compares key
//! blobs. `@revoked` keys are refused; `@cert-authority` lines are skipped
//! (jobcd does not verify host certificates).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

/// What the file says about a host's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// An entry for the host has this key.
    Known,
    /// The host has entries, but none with this key: possibly an attack.
    Mismatch,
    /// The key is listed as revoked.
    Revoked,
    /// The host has no entry.
    Unknown,
}

/// The name known_hosts uses for a host and port: `host` on port 22,
/// `[host]:port` otherwise.
pub(crate) fn host_name(host: &str, port: Option<u16>) -> String {
    match port {
        Some(p) if p != 22 => format!("[{host}]:{p}"),
        _ => host.to_string(),
    }
}

/// Looks `key` (the raw key blob) up for `name` (from [`host_name`]).
pub(crate) fn check(known_hosts: &str, name: &str, key: &[u8]) -> Verdict {
    let mut host_seen = false;
    for line in known_hosts.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let mut first = fields.next().unwrap_or_default();
        let marker = first.strip_prefix('@');
        if marker.is_some() {
            first = fields.next().unwrap_or_default();
        }
        let (Some(_key_type), Some(encoded)) = (fields.next(), fields.next()) else {
            continue;
        };
        if marker == Some("cert-authority") || !hosts_match(first, name) {
            continue;
        }
        let matches_key = STANDARD.decode(encoded).is_ok_and(|blob| blob == key);
        match marker {
            Some("revoked") if matches_key => return Verdict::Revoked,
            Some(_) => {}
            None => {
                if matches_key {
                    return Verdict::Known;
                }
                host_seen = true;
            }
        }
    }
    if host_seen {
        Verdict::Mismatch
    } else {
        Verdict::Unknown
    }
}

/// Whether a comma-separated pattern list (or a hashed name) covers `name`.
fn hosts_match(patterns: &str, name: &str) -> bool {
    if let Some(hashed) = patterns.strip_prefix("|1|") {
        return hashed_match(hashed, name);
    }
    let name = name.to_ascii_lowercase();
    let mut matched = false;
    for pattern in patterns.split(',') {
        let pattern = pattern.to_ascii_lowercase();
        match pattern.strip_prefix('!') {
            Some(negated) if wildcard(negated.as_bytes(), name.as_bytes()) => return false,
            Some(_) => {}
            None => matched |= wildcard(pattern.as_bytes(), name.as_bytes()),
        }
    }
    matched
}

/// `|1|<base64 salt>|<base64 HMAC-SHA1(salt, name)>`.
fn hashed_match(hashed: &str, name: &str) -> bool {
    let Some((salt, digest)) = hashed.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(digest)) = (STANDARD.decode(salt), STANDARD.decode(digest)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<sha1::Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&digest).is_ok()
}

/// `*` matches any run, `?` any one character.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            wildcard(&pattern[1..], text) || (!text.is_empty() && wildcard(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => wildcard(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => wildcard(&pattern[1..], &text[1..]),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] =
        b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20abcdefghijklmnopqrstuvwxyz012345";

    fn line(names: &str, key: &[u8]) -> String {
        format!("{names} ssh-ed25519 {}\n", STANDARD.encode(key))
    }

    #[test]
    fn plain_ported_wildcard_and_negated_names() {
        let file = line("[127.0.0.1]:2222", KEY) + &line("*.example.com,!evil.example.com", KEY);
        assert_eq!(
            check(&file, &host_name("127.0.0.1", Some(2222)), KEY),
            Verdict::Known
        );
        assert_eq!(
            check(&file, &host_name("127.0.0.1", Some(22)), KEY),
            Verdict::Unknown
        );
        assert_eq!(check(&file, "git.example.com", KEY), Verdict::Known);
        assert_eq!(check(&file, "evil.example.com", KEY), Verdict::Unknown);
        assert_eq!(
            check(&file, "git.example.com", b"other key"),
            Verdict::Mismatch
        );
    }

    #[test]
    fn hashed_names_and_revoked_keys() {
        let salt = b"0123456789abcdefghij";
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(salt).unwrap();
        mac.update(b"[127.0.0.1]:2222");
        let hashed = format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(mac.finalize().into_bytes())
        );
        let file = line(&hashed, KEY);
        assert_eq!(check(&file, "[127.0.0.1]:2222", KEY), Verdict::Known);
        assert_eq!(check(&file, "[127.0.0.1]:2223", KEY), Verdict::Unknown);
        let revoked = format!("@revoked {}", line("*", KEY));
        assert_eq!(
            check(&(revoked + &file), "[127.0.0.1]:2222", KEY),
            Verdict::Revoked
        );
    }
}
