//! Multi-document YAML (what `helm template` prints) as `serde_json`
//! values, so the chart tests can look into the rendered objects without a
//! cluster or kubectl. Built on saphyr-parser, the YAML parser jobcd itself
//! uses. Plain scalars resolve as Go's YAML reader (and so kubectl) reads
//! Kubernetes manifests: `true`/`false`, `null`/`~`/empty, integers
//! (a leading `0` is octal, as in `defaultMode: 0440`), floats, and
//! everything else a string; quoted and block scalars are always strings.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Number, Value};

/// Every non-empty document of `text`, in order. Panics with the line of a
/// syntax error: in a test, that is the finding.
pub fn documents(text: &str) -> Vec<Value> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
    };
    let mut out = Vec::new();
    loop {
        match reader.next().0 {
            Event::StreamEnd => return out,
            Event::DocumentStart(_) => {
                let (event, span) = reader.next();
                let root = reader.node(event, span);
                if !root.is_null() {
                    out.push(root);
                }
            }
            _ => {}
        }
    }
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    anchors: HashMap<usize, Value>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> (Event<'a>, Span) {
        match self.parser.next_event() {
            Some(Ok(pair)) => pair,
            Some(Err(e)) => panic!("invalid YAML at line {}: {}", e.marker().line(), e.info()),
            None => panic!("the YAML stream ended early"),
        }
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Value {
        let (value, anchor) = match event {
            Event::Scalar(text, style, anchor, _) => (scalar(&text, style), anchor),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next();
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span));
                }
                (Value::Array(items), anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut map = Map::new();
                loop {
                    let (event, span) = self.next();
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key = match self.node(event, span) {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    let (event, span) = self.next();
                    let value = self.node(event, span);
                    assert!(
                        map.insert(key.clone(), value).is_none(),
                        "duplicate key {key:?} at line {}",
                        span.start.line()
                    );
                }
                (Value::Object(map), anchor)
            }
            Event::Alias(id) => {
                return self.anchors.get(&id).cloned().unwrap_or_else(|| {
                    panic!("alias to an unknown anchor at line {}", span.start.line())
                });
            }
            other => panic!("unexpected {other:?} at line {}", span.start.line()),
        };
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        value
    }
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let int = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(digits, 8).ok()
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    };
    if let Some(n) = int {
        return Value::Number((sign * n).into());
    }
    let looks_numeric = text
        .bytes()
        .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        && text.bytes().any(|b| b.is_ascii_digit());
    if looks_numeric && let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::documents;
    use serde_json::json;

    #[test]
    fn reads_helm_output_as_kubectl_would() {
        let docs = documents(
            "---\n# Source: a.yaml\n---\n# Source: b.yaml\nkind: ConfigMap\ndata:\n  a: |\n    x: 1\n  b: \"true\"\nmode: 0440\nn: 8080\nok: true\nf: 1.5\nv: 1.2.3\nlist: [a, 'b']\n",
        );
        assert_eq!(
            docs,
            vec![
                json!({"kind": "ConfigMap", "data": {"a": "x: 1\n", "b": "true"},
                "mode": 288, "n": 8080, "ok": true, "f": 1.5, "v": "1.2.3", "list": ["a", "b"]})
            ]
        );
    }
}
