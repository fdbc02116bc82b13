//! YAML documents with the source line of every node.
//!
//! kubectl reads manifests with sigs.k8s.io/yaml, which resolves plain scalars
//! by YAML 1.1 rules: `yes`/`no`/`on`/`off` are booleans, `0644` is octal,
//! `1_000` is an integer, and `<<` merges mappings. jobcd resolves them the
//! same way so that a manifest means here what it means on a cluster (an env
//! `value: yes` is a boolean there, and so an error). Duplicate keys, which
//! kubectl's strict validation refuses, are errors too. Anchors and aliases are
//! expanded with a budget so that a "billion laughs" file cannot exhaust memory.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 128;
/// Nodes one file may expand to, aliases included.
const MAX_NODES: usize = 2_000_000;

/// A YAML value with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Value,
    /// 1-based line.
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in document order; keys are unique.
    Map(Vec<Entry>),
}

/// One key of a mapping: the key's text and line, and the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    pub key_line: u32,
    pub value: Node,
}

impl Node {
    /// The value under `key` when this is a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// Takes the value under `key` out of a mapping.
    pub(crate) fn into_entry(self, key: &str) -> Option<Node> {
        match self.value {
            Value::Map(entries) => entries.into_iter().find(|e| e.key == key).map(|e| e.value),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// What kind of value this is, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Writes the node as JSON, keys in document order, as the API server would
/// receive it.
impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match &self.value {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Float(f) => match integral(*f) {
                Some(i) => serializer.serialize_i64(i),
                None if f.is_finite() => serializer.serialize_f64(*f),
                None => serializer.serialize_unit(),
            },
            Value::String(s) => serializer.serialize_str(s),
            Value::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for e in entries {
                    map.serialize_entry(&e.key, &e.value)?;
                }
                map.end()
            }
        }
    }
}

/// A float that is a whole number in i64 range (`8.0` from `08`), which JSON
/// writes as an integer.
pub(crate) fn integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64)
}

/// One `---`-separated document of a file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Document {
    /// Line where the document's content starts.
    pub line: u32,
    pub root: Node,
}

/// Why a file is not valid YAML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: u32,
    pub message: String,
}

/// Parses every document of a YAML stream. Empty and comment-only documents
/// come back with a null root.
pub(crate) fn parse(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        nodes: 0,
    };
    let mut documents = Vec::new();
    loop {
        let (event, span) = builder.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => return Ok(documents),
            Event::DocumentStart(_) => {
                builder.anchors.clear();
                let (event, span) = builder.next()?;
                let root = builder.node(event, span, 0)?;
                documents.push(Document {
                    line: root.line,
                    root,
                });
            }
            other => return Err(error(span, format!("unexpected {other:?}"))),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

fn error(span: Span, message: String) -> SyntaxError {
    SyntaxError {
        line: line_of(span),
        message,
    }
}

fn line_of(span: Span) -> u32 {
    u32::try_from(span.start.line()).unwrap_or(u32::MAX)
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), SyntaxError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(SyntaxError {
                line: u32::try_from(e.marker().line()).unwrap_or(u32::MAX),
                message: e.info().to_string(),
            }),
            None => Err(SyntaxError {
                line: 0,
                message: "unexpected end of the YAML stream".into(),
            }),
        }
    }

    fn count(&mut self, span: Span, n: usize) -> Result<(), SyntaxError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err(error(
                span,
                format!(
                    "the file expands to more than {MAX_NODES} YAML nodes (aliases included); split it or remove the alias chain"
                ),
            ));
        }
        Ok(())
    }

    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<Node, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(error(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        let line = line_of(span);
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count(span, 1)?;
                let value = resolve(text, style, tag.as_deref()).map_err(|m| error(span, m))?;
                (Node { value, line }, anchor)
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "seq").map_err(|m| error(span, m))?;
                self.count(span, 1)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span, depth + 1)?);
                }
                (
                    Node {
                        value: Value::Seq(items),
                        line,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_deref(), "map").map_err(|m| error(span, m))?;
                self.count(span, 1)?;
                (self.mapping(line, depth)?, anchor)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error(span, "alias to an unknown anchor".into()))?;
                self.count(span, size(&node))?;
                return Ok(Node { line, ..node });
            }
            other => return Err(error(span, format!("unexpected {other:?}"))),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn mapping(&mut self, line: u32, depth: usize) -> Result<Node, SyntaxError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut merged: Vec<Entry> = Vec::new();
        loop {
            let (event, span) = self.next()?;
            if matches!(event, Event::MappingEnd) {
                break;
            }
            let is_merge =
                matches!(&event, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
            let key_node = self.node(event, span, depth + 1)?;
            let (event, value_span) = self.next()?;
            let value = self.node(event, value_span, depth + 1)?;
            if is_merge {
                merge_into(&mut merged, value).map_err(|m| error(span, m))?;
                continue;
            }
            let key_line = key_node.line;
            let key = key_text(key_node).map_err(|m| error(span, m))?;
            if let Some(first) = entries.iter().find(|e| e.key == key) {
                return Err(error(
                    span,
                    format!(
                        "duplicate key {key:?} (first on line {}); remove one of them",
                        first.key_line
                    ),
                ));
            }
            entries.push(Entry {
                key,
                key_line,
                value,
            });
        }
        // Merged keys fill in only what the mapping does not set itself.
        for entry in merged {
            if !entries.iter().any(|e| e.key == entry.key) {
                entries.push(entry);
            }
        }
        Ok(Node {
            value: Value::Map(entries),
            line,
        })
    }
}

fn size(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|e| size(&e.value)).sum(),
        _ => 0,
    }
}

/// `<<: *base` or `<<: [*a, *b]`: earlier sources win over later ones.
fn merge_into(merged: &mut Vec<Entry>, value: Node) -> Result<(), String> {
    let sources = match value.value {
        Value::Map(_) => vec![value],
        Value::Seq(items) => items,
        _ => return Err("a merge key (<<) needs a mapping or a list of mappings".into()),
    };
    for source in sources {
        let Value::Map(entries) = source.value else {
            return Err("a merge key (<<) needs a mapping or a list of mappings".into());
        };
        for entry in entries {
            if !merged.iter().any(|e| e.key == entry.key) {
                merged.push(entry);
            }
        }
    }
    Ok(())
}

/// Mapping keys become strings, as they do in the JSON the API server sees.
fn key_text(key: Node) -> Result<String, String> {
    Ok(match key.value {
        Value::String(s) => s,
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Null => "null".to_string(),
        Value::Seq(_) | Value::Map(_) => {
            return Err("a mapping key must be a plain value, not a list or mapping".into());
        }
    })
}

fn check_collection_tag(tag: Option<&Tag>, expected: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(t) if t.is_yaml_core_schema() && t.suffix == expected => Ok(()),
        Some(t) => Err(format!(
            "unsupported tag {t}; Kubernetes manifests are plain YAML"
        )),
    }
}

/// Resolves a scalar to a typed value the way sigs.k8s.io/yaml (YAML 1.1) does.
fn resolve(text: Cow<'_, str>, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        let core = tag.is_yaml_core_schema();
        return match (core, tag.suffix.as_str()) {
            (true, "str") => Ok(Value::String(text.into_owned())),
            (true, "null") => Ok(Value::Null),
            (true, "bool") => resolve_plain(&text)
                .filter(|v| matches!(v, Value::Bool(_)))
                .ok_or_else(|| format!("{text:?} is not a boolean")),
            (true, "int") => resolve_plain(&text)
                .filter(|v| matches!(v, Value::Int(_)))
                .ok_or_else(|| format!("{text:?} is not an integer")),
            (true, "float") => match resolve_plain(&text) {
                Some(Value::Int(i)) => Ok(Value::Float(i as f64)),
                Some(v @ Value::Float(_)) => Ok(v),
                _ => Err(format!("{text:?} is not a number")),
            },
            _ => Err(format!(
                "unsupported tag {tag}; Kubernetes manifests are plain YAML"
            )),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.into_owned()));
    }
    Ok(resolve_plain(&text).unwrap_or_else(|| Value::String(text.into_owned())))
}

/// The non-string reading of a plain scalar, if it has one.
fn resolve_plain(text: &str) -> Option<Value> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Some(Value::Bool(true));
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Some(Value::Bool(false));
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Value::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Value::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Value::Float(f64::NAN)),
        _ => {}
    }
    let first = text.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return None;
    }
    let plain = text.replace('_', "");
    if let Some(i) = parse_int(&plain) {
        return Some(Value::Int(i));
    }
    if is_yaml_float(&plain) {
        return plain.parse::<f64>().ok().map(Value::Float);
    }
    None
}

/// Integers as Go's `strconv.ParseInt(s, 0, 64)` reads them: decimal, `0x`
/// hex, `0o`/leading-`0` octal, `0b` binary, with an optional sign.
fn parse_int(s: &str) -> Option<i64> {
    let (negative, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, body) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (2, bin)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        (8, oct)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if body.is_empty() || !body.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(body, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_yaml_float(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let docs = parse(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs.into_iter().next().unwrap().root
    }

    #[test]
    fn scalars_resolve_like_kubectl() {
        let root = one(
            "a: yes\nb: 0644\nc: 1_000\nd: '5'\ne: 08\nf: 0x1F\ng: ~\nh: 1.5e3\ni: +inf\nj: on\n",
        );
        let v = |k: &str| root.get(k).unwrap().value.clone();
        assert_eq!(v("a"), Value::Bool(true));
        assert_eq!(v("b"), Value::Int(420));
        assert_eq!(v("c"), Value::Int(1000));
        assert_eq!(v("d"), Value::String("5".into()));
        assert_eq!(v("e"), Value::Float(8.0));
        assert_eq!(v("f"), Value::Int(31));
        assert_eq!(v("g"), Value::Null);
        assert_eq!(v("h"), Value::Float(1500.0));
        assert_eq!(v("i"), Value::String("+inf".into()));
        assert_eq!(v("j"), Value::Bool(true));
    }

    #[test]
    fn lines_are_remembered_per_document_and_key() {
        let docs =
            parse("# comment\n---\na: 1\n---\n# only a comment\n---\n\nb:\n  c: 2\n").unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].line, 3);
        assert_eq!(docs[1].root.value, Value::Null);
        let b = docs[2].root.entry("b").unwrap();
        assert_eq!(b.key_line, 8);
        assert_eq!(b.value.entry("c").unwrap().key_line, 9);
    }

    #[test]
    fn merge_keys_and_aliases_expand() {
        let root = one("base: &b {a: 1, b: 2}\nd:\n  <<: *b\n  b: 3\n");
        let d = root.get("d").unwrap();
        assert_eq!(d.get("a").unwrap().value, Value::Int(1));
        assert_eq!(d.get("b").unwrap().value, Value::Int(3));
    }

    #[test]
    fn yaml_1_1_keys_become_strings_like_kubectl() {
        // sigs.k8s.io/yaml reads `y` as the boolean true, and a boolean key as "true".
        let root = one("y: 1\n0x10: 2\n");
        assert_eq!(root.get("true").unwrap().value, Value::Int(1));
        assert_eq!(root.get("16").unwrap().value, Value::Int(2));
    }

    #[test]
    fn duplicate_keys_are_errors_naming_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("first on line 1"), "{}", err.message);
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!("l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
        }
        assert!(
            parse(&bomb)
                .unwrap_err()
                .message
                .contains("expands to more than")
        );
        let deep = "[".repeat(500) + &"]".repeat(500);
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
    }
}
