//! Helpers shared by unit tests: objects from YAML, as desired and as live.

use crate::manifest::{self, Object, SourceFile};
use crate::plan::spec_hash;
use crate::plan::{Desired, Live};

/// The valid objects of a YAML stream written in file `path`.
pub(crate) fn objects(path: &str, yaml: &str) -> Vec<Object> {
    let files = [SourceFile {
        path: path.into(),
        bytes: yaml.as_bytes().to_vec(),
    }];
    let options = manifest::Options {
        strict: true,
        now: "2026-01-01T00:00:00Z".parse().expect("a valid time"),
        allow_secrets: false,
    };
    manifest::load(&files, &options)
        .into_desired()
        .unwrap_or_else(|v| panic!("invalid test manifest: {:?}", v.diagnostics))
        .objects()
        .to_vec()
}

/// `object` as `source` wants it at `revision`.
pub(crate) fn desired(object: Object, source: &str, revision: &str) -> Desired {
    Desired {
        spec_hash: spec_hash(&object),
        object,
        source: source.into(),
        revision: revision.into(),
    }
}

/// A desired object as live after `source` applied it (None: by someone
/// else, unmanaged).
pub(crate) fn live(d: &Desired, source: Option<&str>) -> Live {
    Live {
        source: source.map(Into::into),
        ..Live::applied(d)
    }
}
