//! OpenPGP: certificates read once into what verification needs (which
//! keys may sign, until when, whether revoked — each fact taken only from a
//! self-signature that verifies), and git's detached signatures checked
//! against them.

use jiff::Timestamp;
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::{self, SignatureType, SubpacketData};
use pgp::types::{Fingerprint, KeyDetails, KeyId, Tag};

use super::keyring::Keys;
use super::{Check, Object, Refusal, Signed};

/// One trusted certificate.
#[derive(Debug)]
pub(crate) struct Cert {
    /// The primary key's fingerprint, upper-case hex.
    fingerprint: String,
    /// Its first user id with a valid self-signature.
    user: String,
    /// Why the whole certificate was revoked, if it was.
    revoked: Option<String>,
    /// The primary key and the subkeys, each with what its newest binding says.
    keys: Vec<Key>,
}

/// The key material: the primary key, or a subkey.
#[derive(Debug)]
enum Material {
    Primary(packet::PublicKey),
    Subkey(packet::PublicSubkey),
}

/// A key of a certificate.
#[derive(Debug)]
struct Key {
    material: Material,
    fingerprint: Fingerprint,
    key_id: KeyId,
    /// When it stops being valid, if ever.
    expires: Option<Timestamp>,
    /// Why it was revoked, if it was.
    revoked: Option<String>,
    /// Whether its binding lets it sign.
    signs: bool,
}

/// Reads every certificate in the armored blocks of `text`.
pub(crate) fn read(text: &str) -> Result<Vec<Cert>, String> {
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let mut certs = Vec::new();
    // A file may hold several armored blocks one after the other.
    let starts: Vec<usize> = text.match_indices(BEGIN).map(|(i, _)| i).collect();
    for (n, &start) in starts.iter().enumerate() {
        let end = starts.get(n + 1).copied().unwrap_or(text.len());
        let block = &text[start..end];
        let (keys, _) = SignedPublicKey::from_armor_many(block.as_bytes())
            .map_err(|e| format!("public key block {} cannot be read: {e}", n + 1))?;
        for key in keys {
            let key = key.map_err(|e| format!("public key block {} cannot be read: {e}", n + 1))?;
            certs.push(Cert::of(&key)?);
        }
    }
    Ok(certs)
}

impl Cert {
    fn of(key: &SignedPublicKey) -> Result<Cert, String> {
        let primary = &key.primary_key;
        let fingerprint = format!("{:X}", primary.fingerprint());
        // Self-signatures that verify: over a user id, or on the key itself.
        let mut selfsigs: Vec<&packet::Signature> = Vec::new();
        let mut user = None;
        for signed in &key.details.users {
            for sig in &signed.signatures {
                if sig
                    .verify_certification(primary, Tag::UserId, &signed.id)
                    .is_ok()
                {
                    selfsigs.push(sig);
                    user.get_or_insert_with(|| {
                        String::from_utf8_lossy(signed.id.id()).into_owned()
                    });
                }
            }
        }
        selfsigs.extend(
            key.details
                .direct_signatures
                .iter()
                .filter(|sig| sig.verify_key(primary).is_ok()),
        );
        let Some(selfsig) = newest(&selfsigs) else {
            return Err(format!(
                "key {fingerprint} has no valid self-signature (it may be damaged, or use algorithms jobcd does not support)"
            ));
        };
        let revoked = key
            .details
            .revocation_signatures
            .iter()
            .find(|sig| sig.verify_key(primary).is_ok())
            .map(reason);
        let mut keys = vec![Key {
            material: Material::Primary(primary.clone()),
            fingerprint: primary.fingerprint(),
            key_id: primary.legacy_key_id(),
            expires: expiry(primary.created_at(), selfsig),
            revoked: None,
            signs: may_sign(selfsig),
        }];
        for sub in &key.public_subkeys {
            let bindings: Vec<&packet::Signature> = sub
                .signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::SubkeyBinding))
                .filter(|sig| sig.verify_subkey_binding(primary, &sub.key).is_ok())
                // A signing subkey must sign the primary back, or anyone
                // could claim someone else's subkey.
                .filter(|sig| {
                    !sig.key_flags().sign()
                        || sig.embedded_signature().is_some_and(|back| {
                            back.verify_primary_key_binding(&sub.key, primary).is_ok()
                        })
                })
                .collect();
            let Some(binding) = newest(&bindings) else {
                continue;
            };
            let revoked = sub
                .signatures
                .iter()
                .filter(|sig| sig.typ() == Some(SignatureType::SubkeyRevocation))
                .find(|sig| sig.verify_subkey_binding(primary, &sub.key).is_ok())
                .map(reason);
            keys.push(Key {
                material: Material::Subkey(sub.key.clone()),
                fingerprint: sub.key.fingerprint(),
                key_id: sub.key.legacy_key_id(),
                expires: expiry(sub.key.created_at(), binding),
                revoked,
                signs: binding.key_flags().sign(),
            });
        }
        Ok(Cert {
            fingerprint,
            user: user.unwrap_or_else(|| "no user id".into()),
            revoked,
            keys,
        })
    }

    /// How the certificate is named in messages.
    fn describe(&self) -> String {
        format!("OpenPGP key {} ({})", self.fingerprint, self.user)
    }
}

/// The signature with the latest creation time.
fn newest<'a>(sigs: &[&'a packet::Signature]) -> Option<&'a packet::Signature> {
    sigs.iter()
        .copied()
        .max_by_key(|sig| sig.created().map(|t| t.as_secs()).unwrap_or(0))
}

/// When a key created at `created` expires, as its binding `sig` says.
fn expiry(created: pgp::types::Timestamp, sig: &packet::Signature) -> Option<Timestamp> {
    let after = sig.key_expiration_time()?.as_secs();
    if after == 0 {
        return None;
    }
    Timestamp::from_second(i64::from(created.as_secs()) + i64::from(after)).ok()
}

/// Whether a primary key's self-signature lets it sign: its key flags say
/// so, or it has none (keys older than key flags sign with the primary).
fn may_sign(sig: &packet::Signature) -> bool {
    let has_flags = sig.config().is_some_and(|c| {
        c.hashed_subpackets()
            .any(|p| matches!(p.data, SubpacketData::KeyFlags(_)))
    });
    !has_flags || sig.key_flags().sign()
}

/// A revocation's stated reason.
fn reason(sig: &packet::Signature) -> String {
    let text = sig
        .revocation_reason_string()
        .map(|r| String::from_utf8_lossy(r).trim().to_string())
        .filter(|r| !r.is_empty());
    match (sig.revocation_reason_code(), text) {
        (Some(code), Some(text)) => format!("{code:?}: {text}"),
        (Some(code), None) => format!("{code:?}"),
        (None, Some(text)) => text,
        (None, None) => "no reason given".into(),
    }
}

/// Checks an armored detached signature over `signed.payload` against the
/// trusted certificates; the signer's description when it holds.
pub(super) fn verify(
    certs: Keys<'_, Cert>,
    object: &Object,
    signed: Signed<'_>,
    now: Timestamp,
) -> Result<String, Refusal> {
    let (signature, _) = DetachedSignature::from_armor_single(signed.signature).map_err(|e| {
        Refusal::new(
            object,
            Check::BadSignature,
            None,
            format!("its OpenPGP signature cannot be read: {e}"),
        )
    })?;
    let signature = signature.signature;
    let fingerprints = signature.issuer_fingerprint();
    let key_ids = signature.issuer_key_id();
    let found = certs.keys.iter().find_map(|cert| {
        cert.keys
            .iter()
            .find(|k| fingerprints.contains(&&k.fingerprint) || key_ids.contains(&&k.key_id))
            .map(|k| (cert, k))
    });
    let Some((cert, key)) = found else {
        let issuer = fingerprints
            .first()
            .map(|f| format!("OpenPGP key {f:X}"))
            .or_else(|| {
                key_ids.first().map(|id| {
                    format!(
                        "OpenPGP key id {}",
                        crate::hex::hex(id.as_ref()).to_uppercase()
                    )
                })
            })
            .unwrap_or_else(|| "an OpenPGP key that the signature does not name".into());
        return Err(Refusal::new(
            object,
            Check::UntrustedKey,
            Some(issuer),
            format!(
                "the key is not among the trusted keys ({}); add its public key there if it should be trusted",
                certs.files()
            ),
        ));
    };
    let described = cert.describe();
    let checked = match &key.material {
        Material::Primary(k) => signature.verify(k, signed.payload),
        Material::Subkey(k) => signature.verify(k, signed.payload),
    };
    if let Err(e) = checked {
        return Err(Refusal::altered(object, described, e));
    }
    if let Some(why) = cert.revoked.as_ref().or(key.revoked.as_ref()) {
        return Err(Refusal::new(
            object,
            Check::RevokedKey,
            Some(described),
            format!(
                "the key was revoked ({why}); sign with a key that is not, and update the trusted keys"
            ),
        ));
    }
    // A subkey is no longer valid than its primary key.
    let primary = cert.keys.first().and_then(|k| k.expires);
    if let Some(expires) = [key.expires, primary]
        .into_iter()
        .flatten()
        .min()
        .filter(|at| *at <= now)
    {
        return Err(Refusal::new(
            object,
            Check::ExpiredKey,
            Some(described),
            format!(
                "the key expired at {expires}; extend it (gpg --quick-set-expire) and re-export it into the trusted keys, or sign with a valid key"
            ),
        ));
    }
    if let Some(expired) = signature
        .created()
        .zip(signature.signature_expiration_time())
        .filter(|(_, after)| after.as_secs() > 0)
        .and_then(|(created, after)| {
            Timestamp::from_second(i64::from(created.as_secs()) + i64::from(after.as_secs())).ok()
        })
        .filter(|at| *at <= now)
    {
        return Err(Refusal::new(
            object,
            Check::ExpiredKey,
            Some(described),
            format!(
                "the signature itself expired at {expired} (its signer gave it a lifetime); sign the object again"
            ),
        ));
    }
    if !key.signs {
        return Err(Refusal::new(
            object,
            Check::UntrustedKey,
            Some(described),
            "the key is not certified for signing (its key flags lack \"sign\")",
        ));
    }
    Ok(described)
}
