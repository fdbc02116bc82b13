//! Reading typed values out of a YAML mapping, collecting every problem
//! with its line and key path instead of stopping at the first: unknown
//! keys (with the closest known one), wrong types, bad values.

use crate::manifest::{Diagnostic, Severity};
use crate::yaml::{Node, Value};

/// Problems found so far, for one file.
pub(crate) struct Problems<'f> {
    pub file: &'f str,
    pub found: Vec<Diagnostic>,
}

impl<'f> Problems<'f> {
    pub fn new(file: &'f str) -> Problems<'f> {
        Problems {
            file,
            found: Vec::new(),
        }
    }

    /// Records a problem at `line` with `field` (a key path).
    pub fn add(&mut self, line: u32, field: &str, message: impl Into<String>, hint: Option<&str>) {
        self.found.push(Diagnostic {
            severity: Severity::Error,
            file: self.file.to_string(),
            line,
            object: None,
            field: (!field.is_empty()).then(|| field.to_string()),
            message: message.into(),
            hint: hint.map(str::to_string),
        });
    }
}

/// A mapping being read: its keys are checked against those asked for.
pub(crate) struct Map<'n> {
    node: &'n Node,
    path: String,
}

impl<'n> Map<'n> {
    /// `node` as a mapping at `path`; a problem if it is something else.
    pub fn of(node: &'n Node, path: &str, problems: &mut Problems<'_>) -> Option<Map<'n>> {
        match node.value {
            Value::Map(_) => Some(Map {
                node,
                path: path.to_string(),
            }),
            Value::Null => None,
            _ => {
                problems.add(
                    node.line,
                    path,
                    format!("expected a mapping, found {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// The path of a key of this mapping.
    pub fn path_of(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value under `key`, if set (null counts as unset).
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.node
            .get(key)
            .filter(|n| !matches!(n.value, Value::Null))
    }

    /// Reports every key not in `known`, suggesting the closest.
    pub fn only(&self, known: &[&str], problems: &mut Problems<'_>) {
        let Value::Map(entries) = &self.node.value else {
            return;
        };
        for e in entries {
            if !known.contains(&e.key.as_str()) {
                let near = crate::suggest::closest(&e.key, known.iter().copied(), 3);
                let hint = match near {
                    Some(n) => format!("did you mean {n:?}? known keys: {}", known.join(", ")),
                    None => format!("known keys: {}", known.join(", ")),
                };
                problems.add(
                    e.key_line,
                    &self.path_of(&e.key),
                    format!("unknown key {:?}", e.key),
                    Some(&hint),
                );
            }
        }
    }

    /// A string under `key`.
    pub fn string(&self, key: &str, problems: &mut Problems<'_>) -> Option<String> {
        let node = self.get(key)?;
        match &node.value {
            Value::String(s) => Some(s.clone()),
            _ => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    format!("expected a string, found {}", node.type_name()),
                    Some("quote it if it looks like a number or a boolean"),
                );
                None
            }
        }
    }

    /// A required string under `key`.
    pub fn required(&self, key: &str, problems: &mut Problems<'_>) -> Option<String> {
        if self.get(key).is_none() {
            problems.add(
                self.node.line,
                &self.path_of(key),
                format!("{key} is required"),
                None,
            );
            return None;
        }
        self.string(key, problems)
    }

    /// A boolean under `key`.
    pub fn boolean(&self, key: &str, problems: &mut Problems<'_>) -> Option<bool> {
        let node = self.get(key)?;
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    format!("expected true or false, found {}", node.type_name()),
                    None,
                );
                None
            }
        }
    }

    /// A whole number in `range` under `key`.
    pub fn integer(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<i64>,
        problems: &mut Problems<'_>,
    ) -> Option<i64> {
        let node = self.get(key)?;
        match node.value {
            Value::Int(i) if range.contains(&i) => Some(i),
            _ => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    format!(
                        "expected a whole number from {} to {}, found {}",
                        range.start(),
                        range.end(),
                        describe(node)
                    ),
                    None,
                );
                None
            }
        }
    }

    /// A list of strings under `key`.
    pub fn strings(&self, key: &str, problems: &mut Problems<'_>) -> Option<Vec<String>> {
        let node = self.get(key)?;
        let Value::Seq(items) = &node.value else {
            problems.add(
                node.line,
                &self.path_of(key),
                format!("expected a list of strings, found {}", node.type_name()),
                None,
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.as_str() {
                Some(s) => out.push(s.to_string()),
                None => problems.add(
                    item.line,
                    &format!("{}[{i}]", self.path_of(key)),
                    format!("expected a string, found {}", item.type_name()),
                    None,
                ),
            }
        }
        Some(out)
    }

    /// A duration (`30s`, `5m`, `1h30m`, as Go writes them) under `key`,
    /// in whole seconds.
    pub fn duration(&self, key: &str, problems: &mut Problems<'_>) -> Option<u64> {
        let node = self.get(key)?;
        let text = match &node.value {
            Value::String(s) => s.clone(),
            _ => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    format!(
                        "expected a duration such as 30s or 5m, found {}",
                        describe(node)
                    ),
                    None,
                );
                return None;
            }
        };
        match crate::schedule::parse_go_duration(&text) {
            Ok(nanos) if nanos >= 0 => Some((nanos / 1_000_000_000) as u64),
            Ok(_) => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    "a duration may not be negative",
                    None,
                );
                None
            }
            Err(e) => {
                problems.add(
                    node.line,
                    &self.path_of(key),
                    format!("{text:?} is not a duration: {e}"),
                    Some("write it like 30s, 5m or 1h30m"),
                );
                None
            }
        }
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::String(s) => format!("{s:?}"),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => node.type_name().to_string(),
    }
}
