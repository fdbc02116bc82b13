//! Any bytes as a commit's or tag's signature, over any payload: a pusher
//! controls both, so checking them must give a signer or a refusal and
//! never panic, whatever the armor holds. The trusted keys are a real
//! OpenPGP certificate and a real SSH key, so that signatures naming them
//! reach the cryptography.
#![no_main]

use std::sync::OnceLock;

use jiff::Timestamp;
use jobcd::source::verify::{Keyring, Object, Signed, check};
use libfuzzer_sys::fuzz_target;

/// A public ed25519 key as `ssh-keygen` writes it.
const SSH: &str = "fuzz@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINDnS5j1wKDCwv7pZyKEkWnweZivDi0+s5G+hebNxasE";

/// An OpenPGP certificate (ed25519, signing) as `gpg --export --armor`
/// writes it.
const OPENPGP: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEaxXmqxYJKwYBBAHaRw8BAQdAub6GZbGuWn3RoN5OBMbiUAW5YklV/YJtfPnC\ntMJ0u+i0F0Z1enogPGZ1enpAZXhhbXBsZS5jb20+iJAEExYIADgWIQRqpZLpVEzl\nRYID0mrCj5Jm2O5K+wUCaxXmqwIbAwULCQgHAgYVCgkICwIEFgIDAQIeAQIXgAAK\nCRDCj5Jm2O5K+2FMAP4h0cqzWxutOa1+YNWJGrmez7iipZbDT6BTAJHcvcI+HwEA\n3eJgBJzU7GUk76EMrsIJc39MN+AK7aCufu5U7QhvagI=\n=y6KN\n-----END PGP PUBLIC KEY BLOCK-----\n";

const PREFIXES: [&[u8]; 3] = [
    b"-----BEGIN PGP SIGNATURE-----\n\n",
    b"-----BEGIN SSH SIGNATURE-----\n",
    b"",
];

fn keys() -> &'static Keyring {
    static KEYS: OnceLock<Keyring> = OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("jobcd-fuzz-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ssh = dir.join("allowed_signers");
        std::fs::write(&ssh, SSH).unwrap();
        let openpgp = dir.join("trusted.asc");
        std::fs::write(&openpgp, OPENPGP).unwrap();
        Keyring::load(&[ssh, openpgp]).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize).min(rest.len());
    let (payload, body) = rest.split_at(at);
    let mut signature = PREFIXES[usize::from(split) % PREFIXES.len()].to_vec();
    signature.extend_from_slice(body);
    let object = Object::Commit("0000000".into());
    let now = Timestamp::from_second(1_800_000_000).unwrap();
    let _ = check(
        keys(),
        &object,
        Signed {
            payload,
            signature: &signature,
        },
        now,
        now,
    );
});
