//! Reading Job and CronJob manifests from a tree of YAML files, decoding them
//! into the `batch/v1` types, and validating them as the API server would,
//! with the file and line of every object and every problem.
//!
//! This part touches neither git nor the network: it is handed files (from a
//! directory or from git blobs) and returns values.

mod decode;
mod diagnostic;
pub mod emit;
mod load;
mod object;
mod path;
pub(crate) mod quantity;
mod validate;
pub(crate) use validate::names;
mod walk;

pub use diagnostic::{Diagnostic, Severity};
pub use load::{
    DEFAULT_NAMESPACE, DesiredSet, Options, SourceFile, Tree, Validation, load, load_both,
    load_tree, load_trees,
};
pub use object::{Ignored, Kind, Location, Manifest, Object, ObjectRef, Typed};
pub use path::printable;
pub use walk::{Error, MAX_FILE_BYTES, STDIN, is_manifest_name, read_dir, read_paths};
