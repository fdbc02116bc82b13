//! Writing a JSON value as YAML that kubectl would read back to the same
//! value, in the block style people write manifests in: keys sorted, a
//! multi-line string as a literal block (scripts stay readable in diffs),
//! and quotes only where YAML 1.1 would otherwise read something else.

use serde_json::{Map, Value};

/// `value` as a YAML document (no `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) if !map.is_empty() => mapping(map, 0, &mut out),
        Value::Array(items) if !items.is_empty() => sequence(items, 0, &mut out),
        scalar => {
            out.push_str(&inline(scalar));
            out.push('\n');
        }
    }
    out
}

fn mapping(map: &Map<String, Value>, indent: usize, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        out.push_str(&" ".repeat(indent));
        out.push_str(&string(key));
        out.push(':');
        value_after_key(&map[key.as_str()], indent, out);
    }
}

fn sequence(items: &[Value], indent: usize, out: &mut String) {
    for item in items {
        out.push_str(&" ".repeat(indent));
        out.push('-');
        match item {
            // A mapping's first key goes on the dash's line.
            Value::Object(map) if !map.is_empty() => {
                let mut nested = String::new();
                mapping(map, indent + 2, &mut nested);
                out.push(' ');
                out.push_str(&nested[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                sequence(inner, indent + 2, out);
            }
            scalar => scalar_after_indicator(scalar, indent + 2, out),
        }
    }
}

fn value_after_key(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            out.push('\n');
            mapping(map, indent + 2, out);
        }
        // Sequences under a key are not indented further, as kubectl writes them.
        Value::Array(items) if !items.is_empty() => {
            out.push('\n');
            sequence(items, indent, out);
        }
        scalar => scalar_after_indicator(scalar, indent + 2, out),
    }
}

/// A scalar after `key:` or `-`: inline, or a literal block indented by
/// `indent` for a multi-line string.
fn scalar_after_indicator(value: &Value, indent: usize, out: &mut String) {
    if let Value::String(s) = value
        && let Some(block) = literal_block(s, indent)
    {
        out.push(' ');
        out.push_str(&block);
        return;
    }
    out.push(' ');
    out.push_str(&inline(value));
    out.push('\n');
}

fn inline(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string plain when YAML 1.1 reads it back as the same string, else
/// double-quoted (JSON's escapes are valid in YAML double quotes).
fn string(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    // `-` starts a plain scalar when something other than a space follows
    // (`-e`), but `---` at a line's start ends a document.
    let dash_ok = first == '-' && s.len() > 1 && !s.starts_with("- ") && !s.starts_with("---");
    if s.trim() != s
        || ("-?:,[]{}#&*!|>'\"%@`".contains(first) && !dash_ok)
        || s.starts_with("...")
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.chars().any(|c| c.is_control() || c == '\u{feff}')
    {
        return false;
    }
    !looks_like_another_type(s)
}

/// Whether YAML 1.1 (as kubectl reads it) would take the plain scalar for a
/// null, boolean, number or timestamp.
fn looks_like_another_type(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) || matches!(lower.as_str(), ".inf" | "-.inf" | "+.inf" | ".nan")
    {
        return true;
    }
    // Anything starting like a number is quoted: numbers in all their YAML
    // 1.1 spellings (0x1f, 0o17, 017, 1_000, 1e3, 1:30 sexagesimal) and
    // timestamps (2026-01-01) all start with a digit, a sign or a dot.
    let first = s.as_bytes()[0];
    first.is_ascii_digit()
        || (matches!(first, b'+' | b'-' | b'.')
            && s.as_bytes()
                .get(1)
                .is_some_and(|b| b.is_ascii_digit() || *b == b'.'))
}

/// A literal block (`|`, `|-` or `|+`) for a multi-line string, if one
/// represents it exactly.
fn literal_block(s: &str, indent: usize) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with([' ', '\n'])
        || s.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{feff}')
    {
        return None;
    }
    let trailing = s.len() - s.trim_end_matches('\n').len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    // The last line break belongs to the block's end; the lines before it
    // are the content.
    let body = if trailing > 0 { &s[..s.len() - 1] } else { s };
    // A line of only spaces would read as indentation: quote instead.
    if body
        .split('\n')
        .any(|l| !l.is_empty() && l.trim().is_empty())
    {
        return None;
    }
    let pad = " ".repeat(indent);
    let mut out = format!("|{chomp}\n");
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests;
