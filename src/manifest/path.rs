//! Field paths such as `spec.template.spec.containers[0].image`, built on the
//! stack while walking a document and rendered only when something is wrong.

use std::fmt;

/// A path from the document root to one value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

/// `base` extended by a mapping key, rendered as `Path` renders it.
pub(crate) fn join_key(base: &str, key: &str) -> String {
    if is_plain(key) {
        format!("{base}.{key}")
    } else {
        format!("{base}[{key:?}]")
    }
}

fn is_plain(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(parent, key) => {
                parent.fmt(f)?;
                match (is_plain(key), matches!(parent, Path::Root)) {
                    (true, true) => f.write_str(key),
                    (true, false) => write!(f, ".{key}"),
                    (false, _) => write!(f, "[{key:?}]"),
                }
            }
            Path::Index(parent, i) => {
                parent.fmt(f)?;
                write!(f, "[{i}]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Path;

    #[test]
    fn renders_like_kubectl() {
        let spec = Path::Key(&Path::Root, "spec");
        let containers = Path::Key(&spec, "containers");
        let first = Path::Index(&containers, 0);
        assert_eq!(
            Path::Key(&first, "image").to_string(),
            "spec.containers[0].image"
        );
        let labels = Path::Key(&spec, "labels");
        assert_eq!(
            Path::Key(&labels, "app.kubernetes.io/name").to_string(),
            "spec.labels[\"app.kubernetes.io/name\"]"
        );
    }
}
