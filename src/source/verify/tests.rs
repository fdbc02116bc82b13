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
