//! Field paths such as `spec.template.spec.containers[0].image`, built on the
//! stack while walking a document and rendered only when something is wrong.

use std::borrow::Cow;
use std::fmt;

use crate::yaml::{Node, Value};

/// `text` safe to print on a terminal: control characters (ESC, newline,
/// carriage return, …) written as escapes, so that a file or a document
/// named by a repository can neither forge an output line nor drive the
/// terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

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

/// The line of the deepest node along `field` that exists; the line of the
/// key itself for a mapping entry.
pub(crate) fn line_of(root: &Node, field: &str) -> u32 {
    let mut node = root;
    let mut line = root.line;
    for step in steps(field) {
        let next = match (&node.value, step) {
            (Value::Map(entries), Step::Key(key)) => {
                entries.iter().find(|e| e.key == key).map(|e| {
                    line = e.key_line;
                    &e.value
                })
            }
            (Value::Seq(items), Step::Index(i)) => items.get(i).inspect(|n| line = n.line),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    line
}

enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `a.b[0]["c.d"]` into its steps.
fn steps(field: &str) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let mut rest = field;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]").unwrap_or(r.len());
            out.push(Step::Key(&r[..end]));
            rest = r.get(end + 2..).unwrap_or("");
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').unwrap_or(r.len());
            out.push(Step::Index(r[..end].parse().unwrap_or(usize::MAX)));
            rest = r.get(end + 1..).unwrap_or("");
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            out.push(Step::Key(&r[..end]));
            rest = &r[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Path, line_of};

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

    #[test]
    fn lines_follow_field_paths() {
        let docs = crate::yaml::parse(
            "metadata:\n  labels:\n    app.kubernetes.io/name: x\nspec:\n  containers:\n  - name: a\n  - name: b\n    image: c\n",
        )
        .unwrap();
        let root = &docs[0].root;
        assert_eq!(
            line_of(root, "metadata.labels[\"app.kubernetes.io/name\"]"),
            3
        );
        assert_eq!(line_of(root, "spec.containers[1].image"), 8);
        assert_eq!(line_of(root, "spec.containers[1].missing"), 7);
        assert_eq!(line_of(root, "spec.nothing"), 4);
    }
}
