//! SSH signatures (git's `gpg.format=ssh`): the `SSHSIG` a commit or tag
//! carries, checked against allowed-signers lines as `ssh-keygen -Y
//! verify` reads them (principals, `namespaces=`, `valid-after=`,
//! `valid-before=`; `cert-authority` is refused rather than half-done).

use jiff::Timestamp;
use ssh_key::{HashAlg, PublicKey, SshSig};

use super::keyring::Keys;
use super::{Check, Object, Refusal, Signed};

/// The namespace git signs commits and tags in.
const NAMESPACE: &str = "git";

/// One line of an allowed-signers file.
#[derive(Debug)]
pub(crate) struct AllowedSigner {
    principals: String,
    key: PublicKey,
    namespaces: Option<Vec<String>>,
    valid_after: Option<Timestamp>,
    valid_before: Option<Timestamp>,
    cert_authority: bool,
}

impl AllowedSigner {
    /// Reads a line; None for a blank line or a comment.
    pub(crate) fn parse(line: &str) -> Result<Option<AllowedSigner>, String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        let tokens = split_unquoted(line, char::is_whitespace)?;
        let mut tokens = tokens.iter().map(String::as_str);
        let principals = tokens.next().unwrap_or_default().to_string();
        let next = tokens.next().ok_or("no key after the principals")?;
        let (options, key_type) = if is_key_type(next) {
            (None, next)
        } else {
            let key_type = tokens.next().ok_or("no key after the options")?;
            (Some(next), key_type)
        };
        if !is_key_type(key_type) {
            return Err(format!("{key_type:?} is not an SSH key type"));
        }
        let base64 = tokens.next().ok_or("no key data after the key type")?;
        let key = PublicKey::from_openssh(&format!("{key_type} {base64}"))
            .map_err(|e| format!("the {key_type} key cannot be read: {e}"))?;
        let mut signer = AllowedSigner {
            principals,
            key,
            namespaces: None,
            valid_after: None,
            valid_before: None,
            cert_authority: false,
        };
        let options = match options {
            Some(field) => split_unquoted(field, |c| c == ',')?,
            None => Vec::new(),
        };
        for option in options {
            let (name, value) = match option.split_once('=') {
                Some((name, value)) => (name, Some(value.trim_matches('"'))),
                None => (option.as_str(), None),
            };
            match (name.to_ascii_lowercase().as_str(), value) {
                ("cert-authority", None) => signer.cert_authority = true,
                ("namespaces", Some(v)) => {
                    signer.namespaces = Some(v.split(',').map(|n| n.trim().to_string()).collect());
                }
                ("valid-after", Some(v)) => signer.valid_after = Some(time(v)?),
                ("valid-before", Some(v)) => signer.valid_before = Some(time(v)?),
                _ => return Err(format!("unknown option {option:?}")),
            }
        }
        Ok(Some(signer))
    }

    fn describe(&self) -> String {
        format!(
            "SSH key {} ({})",
            self.key.fingerprint(HashAlg::Sha256),
            self.principals
        )
    }
}

/// Key types an allowed-signers line may name.
fn is_key_type(token: &str) -> bool {
    token.starts_with("ssh-")
        || token.starts_with("ecdsa-sha2-")
        || token.starts_with("sk-ssh-")
        || token.starts_with("sk-ecdsa-")
}

/// `text` split where `separator` matches outside double quotes (the
/// quotes kept), empty pieces left out.
fn split_unquoted(text: &str, separator: impl Fn(char) -> bool) -> Result<Vec<String>, String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        if !quoted && separator(c) {
            pieces.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    pieces.push(current);
    Ok(pieces.into_iter().filter(|p| !p.is_empty()).collect())
}

/// A `valid-after`/`valid-before` time: `YYYYMMDD[HHMM[SS]]`, in UTC with
/// a trailing `Z`, else in this machine's zone (as ssh-keygen reads it).
fn time(text: &str) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "{text:?} is not a time: use YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, with Z for UTC"
        )
    };
    let (digits, utc) = match text.strip_suffix(['Z', 'z']) {
        Some(d) => (d, true),
        None => (text, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_string(),
        _ => return Err(bad()),
    };
    let civil = jiff::civil::DateTime::strptime("%Y%m%d%H%M%S", &padded).map_err(|_| bad())?;
    let zone = if utc {
        jiff::tz::TimeZone::UTC
    } else {
        jiff::tz::TimeZone::system()
    };
    civil
        .to_zoned(zone)
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}

/// Checks an SSH signature over `signed.payload`, made at `when`, against
/// the allowed signers; the signer's description when it holds.
pub(super) fn verify(
    signers: Keys<'_, AllowedSigner>,
    object: &Object,
    signed: Signed<'_>,
    when: Timestamp,
) -> Result<String, Refusal> {
    let signature = SshSig::from_pem(signed.signature).map_err(|e| {
        Refusal::new(
            object,
            Check::BadSignature,
            None,
            format!("its SSH signature cannot be read: {e}"),
        )
    })?;
    let key = signature.public_key();
    let Some(signer) = signers.keys.iter().find(|s| s.key.key_data() == key) else {
        let fingerprint = PublicKey::from(key.clone()).fingerprint(HashAlg::Sha256);
        return Err(Refusal::new(
            object,
            Check::UntrustedKey,
            Some(format!("SSH key {fingerprint}")),
            format!(
                "the key is not among the allowed signers ({}); add a line for it there if it should be trusted",
                signers.files()
            ),
        ));
    };
    let described = signer.describe();
    if signer.cert_authority {
        return Err(Refusal::new(
            object,
            Check::Unsupported,
            Some(described),
            "the allowed-signers line is a cert-authority; jobcd checks plain keys, not SSH certificates",
        ));
    }
    if signature.namespace() != NAMESPACE {
        return Err(Refusal::new(
            object,
            Check::BadSignature,
            Some(described),
            format!(
                "the signature was made for namespace {:?}, not git's {NAMESPACE:?}",
                signature.namespace()
            ),
        ));
    }
    if let Err(e) = signer.key.verify(NAMESPACE, signed.payload, &signature) {
        return Err(Refusal::altered(object, described, e));
    }
    if let Some(namespaces) = &signer.namespaces
        && !namespaces.iter().any(|n| n == NAMESPACE)
    {
        return Err(Refusal::new(
            object,
            Check::UntrustedKey,
            Some(described),
            format!(
                "its allowed-signers line limits it to namespaces {}, not git",
                namespaces.join(",")
            ),
        ));
    }
    if let Some(after) = signer.valid_after.filter(|after| when < *after) {
        return Err(Refusal::new(
            object,
            Check::ExpiredKey,
            Some(described),
            format!("signed at {when}, before the key's valid-after {after}"),
        ));
    }
    if let Some(before) = signer.valid_before.filter(|before| when >= *before) {
        return Err(Refusal::new(
            object,
            Check::ExpiredKey,
            Some(described),
            format!(
                "signed at {when}, after the key's valid-before {before}; it is no longer trusted"
            ),
        ));
    }
    Ok(described)
}
