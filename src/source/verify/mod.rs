//! Who signed a revision, and whether they are trusted. A source that
//! verifies signatures has its commit (the ref's head), its annotated tag,
//! or both checked against its trusted keys — OpenPGP certificates or SSH
//! allowed-signers lines — before a file of the revision is read or
//! rendered. A refusal names the object, the check that failed and the key.
//!
//! The cryptography is rPGP's and RustCrypto's `ssh-key`; what this part
//! adds is git's framing (where a commit or tag keeps its signature, and
//! which bytes it covers) and the policy: which keys count, and when.

mod keyring;
mod openpgp;
mod ssh;

use std::fmt;

use git2::{Oid, Repository};
use jiff::Timestamp;

pub use keyring::{Keyring, KeyringError, TrustedKeys};

/// What must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The commit at the ref's head (Flux's `HEAD`).
    Head,
    /// The annotated tag the ref names (Flux's `Tag`).
    Tag,
    /// Both the tag and the commit it points at (Flux's `TagAndHEAD`).
    Both,
}

impl Mode {
    /// Whether the commit's own signature is checked.
    fn commit(self) -> bool {
        matches!(self, Mode::Head | Mode::Both)
    }

    /// Whether the tag's signature is checked.
    fn tag(self) -> bool {
        matches!(self, Mode::Tag | Mode::Both)
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Mode, String> {
        match text {
            "head" => Ok(Mode::Head),
            "tag" => Ok(Mode::Tag),
            "both" => Ok(Mode::Both),
            other => Err(format!(
                "{other:?} is not a signature mode: use head (the commit), tag (the annotated tag) or both"
            )),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Head => "head",
            Mode::Tag => "tag",
            Mode::Both => "both",
        })
    }
}

/// How a source's revisions are verified.
#[derive(Debug, Clone)]
pub struct Policy {
    /// What must be signed.
    pub mode: Mode,
    /// Whose signatures count.
    pub keys: std::sync::Arc<TrustedKeys>,
}

/// A signed git object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Object {
    /// A commit, by its short sha.
    Commit(String),
    /// An annotated tag, by its name.
    Tag(String),
    /// A ref that was to name an annotated tag, by its full name.
    Ref(String),
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Commit(sha) => write!(f, "commit {sha}"),
            Object::Tag(name) => write!(f, "tag {name}"),
            Object::Ref(name) => write!(f, "ref {name}"),
        }
    }
}

/// A key that made a good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// What it signed.
    pub object: Object,
    /// `OpenPGP key <fingerprint> (<user id>)`, `SSH key SHA256:… (<principals>)`.
    pub key: String,
}

impl fmt::Display for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} signed by {}", self.object, self.key)
    }
}

/// Which check a refused revision failed: what metrics count
/// (`jobcd_signature_refusals_total{check}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No signature at all.
    Unsigned,
    /// The ref does not name an annotated tag.
    NotATag,
    /// The signature does not match the object (tampered, or mangled).
    BadSignature,
    /// Made by a key that is not trusted.
    UntrustedKey,
    /// The key had expired, or was not yet valid, for the signature.
    ExpiredKey,
    /// The key was revoked.
    RevokedKey,
    /// A signature jobcd cannot read (X.509, an unknown format).
    Unsupported,
}

impl Check {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Unsigned => "unsigned",
            Check::NotATag => "not_a_tag",
            Check::BadSignature => "bad_signature",
            Check::UntrustedKey => "untrusted_key",
            Check::ExpiredKey => "expired_key",
            Check::RevokedKey => "revoked_key",
            Check::Unsupported => "unsupported",
        }
    }
}

/// Why a revision's signatures are not accepted; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The object whose signature failed.
    pub object: Object,
    /// Which check.
    pub check: Check,
    /// The key concerned (`OpenPGP key …`, `SSH key SHA256:…`), when known.
    pub key: Option<String>,
    /// What exactly, and what to do.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signature check failed: {}", self.object)?;
        match self.check {
            Check::Unsigned => f.write_str(" is not signed")?,
            Check::NotATag => f.write_str(" is not an annotated tag")?,
            Check::BadSignature => f.write_str(" has a bad signature")?,
            Check::UntrustedKey => f.write_str(" is signed by an untrusted key")?,
            Check::ExpiredKey => f.write_str(" is signed by an expired key")?,
            Check::RevokedKey => f.write_str(" is signed by a revoked key")?,
            Check::Unsupported => f.write_str(" has a signature jobcd cannot check")?,
        }
        if let Some(key) = &self.key {
            write!(f, " ({key})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl Refusal {
    fn new(object: &Object, check: Check, key: Option<String>, detail: impl Into<String>) -> Self {
        Refusal {
            object: object.clone(),
            check,
            key,
            detail: detail.into(),
        }
    }

    /// A signature by `key` that does not verify over `object`'s content,
    /// as the library (`error`) says.
    fn altered(object: &Object, key: String, error: impl fmt::Display) -> Self {
        let what = match object {
            Object::Commit(_) => "commit",
            Object::Tag(_) | Object::Ref(_) => "tag",
        };
        Refusal::new(
            object,
            Check::BadSignature,
            Some(key),
            format!(
                "the signature does not verify over the {what}'s content: it was changed after it was signed, or signed with an algorithm jobcd refuses ({error})"
            ),
        )
    }
}

/// Checks the signatures `policy` asks for on the commit `commit`, which
/// the ref `reference` (its full name) resolved to, against `keys` (the
/// policy's keys as they are now); `now` judges expiry. The good signers,
/// or the first refusal.
pub(crate) fn verify(
    repo: &Repository,
    commit: Oid,
    reference: &str,
    policy: &Policy,
    keys: &Keyring,
    now: Timestamp,
) -> Result<Vec<Signer>, Refusal> {
    let mut signers = Vec::new();
    if policy.mode.tag() {
        let object = match reference.strip_prefix("refs/tags/") {
            Some(name) => Object::Tag(name.to_string()),
            None => Object::Ref(reference.to_string()),
        };
        let not_a_tag = |why: &str| {
            Refusal::new(
                &object,
                Check::NotATag,
                None,
                format!(
                    "{why}; signature mode {} needs --ref naming a signed annotated tag (git tag -s), or use mode head",
                    policy.mode
                ),
            )
        };
        if !reference.starts_with("refs/tags/") {
            return Err(not_a_tag("the ref is not a tag"));
        }
        let target = repo
            .find_reference(reference)
            .ok()
            .and_then(|r| r.target())
            .ok_or_else(|| not_a_tag("the tag cannot be read"))?;
        if repo.find_tag(target).is_err() {
            return Err(not_a_tag("it is a lightweight tag, which cannot be signed"));
        }
        let raw = raw_object(repo, target).map_err(|e| not_a_tag(&e))?;
        let signed = split_tag(&raw).ok_or_else(|| {
            Refusal::new(
                &object,
                Check::Unsigned,
                None,
                "sign the tag (git tag -s, or -s with gpg.format=ssh) with a trusted key",
            )
        })?;
        let when = tagger_time(&raw).unwrap_or(now);
        signers.push(check(keys, &object, signed, when, now)?);
    }
    if policy.mode.commit() {
        let object = Object::Commit(commit.to_string()[..7].to_string());
        let (signature, payload) = match repo.extract_signature(&commit, None) {
            Ok(pair) => pair,
            Err(e) if e.code() == git2::ErrorCode::NotFound => {
                return Err(Refusal::new(
                    &object,
                    Check::Unsigned,
                    None,
                    "sign the commit (git commit -S, with gpg.format=openpgp or ssh) with a trusted key",
                ));
            }
            Err(e) => {
                return Err(Refusal::new(
                    &object,
                    Check::BadSignature,
                    None,
                    format!("its signature cannot be read: {}", e.message()),
                ));
            }
        };
        let when = repo
            .find_commit(commit)
            .ok()
            .and_then(|c| Timestamp::from_second(c.committer().when().seconds()).ok())
            .unwrap_or(now);
        let signed = Signed {
            payload: &payload,
            signature: &signature,
        };
        signers.push(check(keys, &object, signed, when, now)?);
    }
    Ok(signers)
}

/// A signature and the bytes it covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// What was signed.
    pub payload: &'a [u8],
    /// The armored signature (OpenPGP or SSH), as git stores it.
    pub signature: &'a [u8],
}

const PGP_BEGIN: &[u8] = b"-----BEGIN PGP SIGNATURE-----";
const SSH_BEGIN: &[u8] = b"-----BEGIN SSH SIGNATURE-----";
const X509_BEGIN: &[u8] = b"-----BEGIN SIGNED MESSAGE-----";

/// Checks one signature on `object`, made at `when` (the committer's or
/// tagger's time, which SSH validity windows are judged by) against
/// `keys`; `now` judges OpenPGP expiry. The signature is whatever a pusher
/// put in the object: any bytes give a signer or a refusal, never a panic
/// (fuzz/fuzz_targets/signatures.rs).
pub fn check(
    keys: &Keyring,
    object: &Object,
    signed: Signed<'_>,
    when: Timestamp,
    now: Timestamp,
) -> Result<Signer, Refusal> {
    let key = if signed.signature.starts_with(PGP_BEGIN) {
        openpgp::verify(keys.openpgp(), object, signed, now)?
    } else if signed.signature.starts_with(SSH_BEGIN) {
        ssh::verify(keys.ssh(), object, signed, when)?
    } else {
        let what = if signed.signature.starts_with(X509_BEGIN) {
            "an X.509 (gpgsm) signature"
        } else {
            "a signature in an unknown format"
        };
        return Err(Refusal::new(
            object,
            Check::Unsupported,
            None,
            format!("it carries {what}; jobcd checks OpenPGP and SSH signatures"),
        ));
    };
    Ok(Signer {
        object: object.clone(),
        key,
    })
}

/// The object's bytes as git stores them (without the header).
fn raw_object(repo: &Repository, id: Oid) -> Result<Vec<u8>, String> {
    let odb = repo.odb().map_err(|e| e.message().to_string())?;
    let object = odb.read(id).map_err(|e| e.message().to_string())?;
    Ok(object.data().to_vec())
}

/// A tag object split where its signature begins: git appends the
/// signature to the message, and signs everything before it.
fn split_tag(raw: &[u8]) -> Option<Signed<'_>> {
    let start = [PGP_BEGIN, SSH_BEGIN, X509_BEGIN]
        .iter()
        .filter_map(|marker| last_line_starting(raw, marker))
        .max()?;
    Some(Signed {
        payload: &raw[..start],
        signature: &raw[start..],
    })
}

/// Where the last line of `raw` that starts with `marker` begins.
fn last_line_starting(raw: &[u8], marker: &[u8]) -> Option<usize> {
    let mut found = None;
    let mut at = 0;
    while at < raw.len() {
        if raw[at..].starts_with(marker) {
            found = Some(at);
        }
        match raw[at..].iter().position(|&b| b == b'\n') {
            Some(n) => at += n + 1,
            None => break,
        }
    }
    found
}

/// The time in a tag's `tagger` header.
fn tagger_time(raw: &[u8]) -> Option<Timestamp> {
    let header_end = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or(raw.len());
    let line = raw[..header_end]
        .split(|&b| b == b'\n')
        .find(|l| l.starts_with(b"tagger "))?;
    let line = std::str::from_utf8(line).ok()?;
    // "tagger Name <email> 1700000000 +0100"
    let mut fields = line.rsplitn(3, ' ');
    let _zone = fields.next()?;
    let seconds: i64 = fields.next()?.parse().ok()?;
    Timestamp::from_second(seconds).ok()
}

#[cfg(test)]
mod tests;
