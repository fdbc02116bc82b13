use super::*;

#[test]
fn a_tag_is_split_where_its_last_signature_begins() {
    let raw = b"object 0123\ntype commit\ntag v1\ntagger A <a@x> 1700000000 +0100\n\nmessage\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n";
    let signed = split_tag(raw).unwrap();
    assert!(signed.payload.ends_with(b"message\n"));
    assert!(signed.signature.starts_with(PGP_BEGIN));
    assert_eq!(
        tagger_time(raw),
        Some(Timestamp::from_second(1_700_000_000).unwrap())
    );
    assert!(split_tag(b"object 0123\n\nunsigned message\n").is_none());
}

#[test]
fn modes_read_as_flux_names_them() {
    assert_eq!("head".parse::<Mode>(), Ok(Mode::Head));
    assert_eq!("both".parse::<Mode>(), Ok(Mode::Both));
    let error = "HEAD".parse::<Mode>().unwrap_err();
    assert!(error.contains("head (the commit)"), "{error}");
}

const ONE: &str = "one@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINDnS5j1wKDCwv7pZyKEkWnweZivDi0+s5G+hebNxasE";
const TWO: &str = "two@example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAVNcIyw7HNKCZFKIA1qn1vX5uBLzOq271nApiSx2A3X";

#[test]
fn trusted_keys_are_read_again_when_their_file_changes() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allowed_signers");
    std::fs::write(&file, format!("{ONE}\n")).unwrap();
    let keys = TrustedKeys::load(std::slice::from_ref(&file)).unwrap();
    let first = keys.current().unwrap();
    assert_eq!(first.len(), (0, 1));
    assert!(
        std::sync::Arc::ptr_eq(&first, &keys.current().unwrap()),
        "an unchanged file is not read again"
    );
    // A key added (as a Secret update swaps the file in).
    let next = dir.path().join("next");
    std::fs::write(&next, format!("{ONE}\n{TWO}\n")).unwrap();
    std::fs::rename(&next, &file).unwrap();
    assert_eq!(keys.current().unwrap().len(), (0, 2));
    // A file that became unusable is an error, not the old keys.
    std::fs::write(&file, "# all keys removed\n").unwrap();
    let error = keys.current().unwrap_err().to_string();
    assert!(error.contains("holds no key"), "{error}");
}

#[test]
fn allowed_signers_lines_are_read_as_ssh_keygen_reads_them() {
    use super::ssh::AllowedSigner;
    assert!(AllowedSigner::parse("# comment").unwrap().is_none());
    assert!(AllowedSigner::parse("   ").unwrap().is_none());
    let with_options = format!(
        "one@example.com,*@example.org namespaces=\"git,file\",valid-after=\"20240101\",valid-before=\"20991231Z\" {}",
        ONE.split_once(' ').unwrap().1
    );
    assert!(AllowedSigner::parse(&with_options).unwrap().is_some());
    let key = ONE.split_once(' ').unwrap().1;
    for (line, expected) in [
        ("one@example.com".to_string(), "no key after the principals"),
        ("one@example.com ssh-ed25519".into(), "no key data"),
        ("one@example.com ssh-ed25519 AAAA".into(), "cannot be read"),
        (
            format!("one@example.com nope=\"x\" {key}"),
            "unknown option",
        ),
        (
            format!("one@example.com valid-after=\"2024\" {key}"),
            "is not a time",
        ),
        (
            format!("one@example.com namespaces=\"git {key}"),
            "not closed",
        ),
        ("one@example.com rsa-ish AAAA".into(), "not an SSH key type"),
    ] {
        let error = AllowedSigner::parse(&line).unwrap_err();
        assert!(error.contains(expected), "{line}: {error}");
    }
}
