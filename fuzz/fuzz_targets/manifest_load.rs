//! Any bytes as a manifest file: the loader must never panic, and what it
//! accepts must be consistent (a valid result has objects with names, every
//! diagnostic names the file).
#![no_main]

use jobcd::manifest::{Options, SourceFile, load};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let files = [SourceFile {
        path: "fuzz.yaml".into(),
        bytes: data.to_vec(),
    }];
    let options = Options {
        strict: false,
        now: jiff::Timestamp::UNIX_EPOCH,
        allow_secrets: false,
    };
    let v = load(&files, &options);
    for d in &v.diagnostics {
        assert_eq!(d.file, "fuzz.yaml");
        assert!(!d.message.is_empty());
    }
    for o in &v.objects {
        assert!(!o.id.name.is_empty());
        let _ = o.manifest.to_json();
    }
});
