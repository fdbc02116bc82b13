//! Strict decoding of YAML nodes into the k8s-openapi types.
//!
//! The typed structs silently drop fields they do not know, so a typo such as
//! `backofLimit` would mean "default 6". This deserializer walks the node tree
//! itself: it sees the field list of every struct it fills, reports each
//! unknown key with its line and the nearest valid field (as `kubectl apply
//! --validate=strict` does), and places type errors at the field that holds
//! them.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use super::path::Path;
use crate::yaml::{Entry, Node, Value, integral};

/// A decoding problem at one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub field: String,
    pub line: u32,
    pub message: String,
    pub hint: Option<String>,
}

/// Decodes `node` into `T`. Unknown fields do not stop decoding, so the
/// value comes back (for further validation) along with them; a type error
/// does, and is the last problem listed.
pub(crate) fn decode<T: DeserializeOwned>(
    node: &Node,
    root: &Path<'_>,
) -> (Option<T>, Vec<Problem>) {
    let unknown = RefCell::new(Vec::new());
    let result = T::deserialize(De {
        node,
        path: root,
        unknown: &unknown,
    });
    let mut problems = unknown.into_inner();
    match result {
        Ok(value) => (Some(value), problems),
        Err(e) => {
            let (field, line) = e.at.unwrap_or_else(|| (root.to_string(), node.line));
            problems.push(Problem {
                field,
                line,
                message: e.message,
                hint: None,
            });
            (None, problems)
        }
    }
}

#[derive(Debug)]
struct Error {
    message: String,
    /// Set once, by the innermost node that saw the error.
    at: Option<(String, u32)>,
    /// For a missing required field: its name, appended to the struct's path.
    missing: Option<&'static str>,
}

impl Error {
    fn located(mut self, path: &Path<'_>, line: u32) -> Error {
        if self.at.is_none() {
            let field = match self.missing {
                Some(name) => Path::Key(path, name).to_string(),
                None => path.to_string(),
            };
            self.at = Some((field, line));
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            at: None,
            missing: None,
        }
    }

    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "expected {}, found {}",
            expected(exp),
            unexpected(unexp)
        ))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::custom(format_args!(
            "expected {}, found {}",
            expected(exp),
            unexpected(unexp)
        ))
    }

    fn missing_field(field: &'static str) -> Self {
        Error {
            message: "required field is missing".into(),
            at: None,
            missing: Some(field),
        }
    }
}

fn expected(exp: &dyn de::Expected) -> String {
    let text = exp.to_string();
    match text.as_str() {
        // The API's integer fields are int32 or int64: say which, with the
        // range, rather than "an integer" when the value is one.
        "i32" => "an int32 (from -2147483648 to 2147483647)".into(),
        "i64" => "an int64 (from -9223372036854775808 to 9223372036854775807)".into(),
        "u32" => "a non-negative int32 (at most 4294967295)".into(),
        "i8" | "i16" | "u8" | "u16" | "u64" => format!("an integer ({text})"),
        "a 32-bit integer" => "a 32-bit integer".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        t if t.starts_with("struct ") => "a mapping".into(),
        _ => text,
    }
}

fn unexpected(unexp: de::Unexpected<'_>) -> String {
    match unexp {
        de::Unexpected::Str(s) => {
            format!("the string {s:?} (quote numbers and booleans only where a string is wanted)")
        }
        de::Unexpected::Bool(b) => format!(
            "the boolean {b} (write \"{b}\" in quotes if you mean text; YAML also reads yes/no/on/off as booleans)"
        ),
        de::Unexpected::Signed(i) => format!("the integer {i}"),
        de::Unexpected::Unsigned(i) => format!("the integer {i}"),
        de::Unexpected::Float(f) => format!("the number {f}"),
        de::Unexpected::Unit => "null".into(),
        de::Unexpected::Seq => "a list".into(),
        de::Unexpected::Map => "a mapping".into(),
        other => other.to_string(),
    }
}

struct De<'a> {
    node: &'a Node,
    path: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
}

impl De<'_> {
    fn locate<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        r.map_err(|e| e.located(self.path, self.node.line))
    }
}

impl<'de> de::Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => match integral(*f) {
                Some(i) => visitor.visit_i64(i),
                None => visitor.visit_f64(*f),
            },
            Value::String(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(Seq {
                items: items.iter().enumerate(),
                parent: self.path,
                unknown: self.unknown,
            }),
            Value::Map(entries) => visitor.visit_map(Map::new(entries, None, &self)),
        };
        self.locate(r)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::Map(entries) => visitor.visit_map(Map::new(entries, Some(fields), &self)),
            _ => Err(de::Error::invalid_type(
                unexpected_of(self.node),
                &"a mapping",
            )),
        };
        self.locate(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let r = match &self.node.value {
            Value::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::invalid_type(
                unexpected_of(self.node),
                &"a string",
            )),
        };
        self.locate(r)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    // Go's JSON decoding leaves a string that is `null` as it was, empty:
    // `data: {FLAG: null}` is a ConfigMap key with an empty value, and a
    // required name that is null is missing, not mistyped.
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => self.locate(visitor.visit_str("")),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

fn unexpected_of(node: &Node) -> de::Unexpected<'_> {
    match &node.value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Int(i) => de::Unexpected::Signed(*i),
        Value::Float(f) => de::Unexpected::Float(*f),
        Value::String(s) => de::Unexpected::Str(s),
        Value::Seq(_) => de::Unexpected::Seq,
        Value::Map(_) => de::Unexpected::Map,
    }
}

struct Seq<'a, I> {
    items: I,
    parent: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
}

impl<'de, 'a, I: Iterator<Item = (usize, &'a Node)>> de::SeqAccess<'de> for Seq<'a, I> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.parent, i);
        seed.deserialize(De {
            node,
            path: &path,
            unknown: self.unknown,
        })
        .map(Some)
    }
}

struct Map<'a> {
    entries: std::slice::Iter<'a, Entry>,
    current: Option<&'a Entry>,
    fields: Option<&'static [&'static str]>,
    parent: &'a Path<'a>,
    unknown: &'a RefCell<Vec<Problem>>,
}

impl<'a> Map<'a> {
    fn new(entries: &'a [Entry], fields: Option<&'static [&'static str]>, de: &De<'a>) -> Map<'a> {
        Map {
            entries: entries.iter(),
            current: None,
            fields,
            parent: de.path,
            unknown: de.unknown,
        }
    }
}

impl<'de> de::MapAccess<'de> for Map<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        for entry in self.entries.by_ref() {
            if let Some(fields) = self.fields
                && !fields.contains(&entry.key.as_str())
            {
                self.unknown.borrow_mut().push(Problem {
                    field: Path::Key(self.parent, &entry.key).to_string(),
                    line: entry.key_line,
                    message: "unknown field".into(),
                    hint: Some(match closest(&entry.key, fields) {
                        Some(name) => format!("did you mean {name:?}?"),
                        None => format!("valid fields here: {}", fields.join(", ")),
                    }),
                });
                continue;
            }
            self.current = Some(entry);
            let key: de::value::StrDeserializer<'_, Error> = entry.key.as_str().into_deserializer();
            return seed.deserialize(key).map(Some);
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let entry = self
            .current
            .take()
            .expect("serde asks for a value only after a key");
        let path = Path::Key(self.parent, &entry.key);
        seed.deserialize(De {
            node: &entry.value,
            path: &path,
            unknown: self.unknown,
        })
    }
}

/// The field most likely meant by a misspelt key: within a third of the
/// name's length in edits.
pub(crate) fn closest<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    crate::suggest::closest(
        key,
        fields.iter().copied(),
        (key.chars().count() / 3).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::Job;

    fn decode_job(text: &str) -> Result<Job, Vec<Problem>> {
        let docs = crate::yaml::parse(text).unwrap();
        match decode(&docs[0].root, &Path::Root) {
            (Some(job), problems) if problems.is_empty() => Ok(job),
            (_, problems) => Err(problems),
        }
    }

    #[test]
    fn typo_is_an_unknown_field_with_a_suggestion() {
        let problems = decode_job(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  backofLimit: 3\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: a, image: b, comand: [x]}]\n",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].field, "spec.backofLimit");
        assert_eq!(problems[0].line, 5);
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("did you mean \"backoffLimit\"?")
        );
        assert_eq!(problems[1].field, "spec.template.spec.containers[0].comand");
        assert_eq!(
            problems[1].hint.as_deref(),
            Some("did you mean \"command\"?")
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let problems = decode_job(
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers:\n      - name: a\n        image: b\n        env: [{name: A, value: yes}]\n",
        )
        .unwrap_err();
        assert_eq!(
            problems[0].field,
            "spec.template.spec.containers[0].env[0].value"
        );
        assert!(
            problems[0]
                .message
                .starts_with("expected a string, found the boolean true"),
            "{}",
            problems[0].message
        );
        let problems = decode_job(
            "apiVersion: batch/v1\nkind: Job\nspec:\n  backoffLimit: three\n  template: {}\n",
        )
        .unwrap_err();
        assert_eq!(problems[0].field, "spec.backoffLimit");
        assert_eq!(problems[0].line, 4);
    }

    #[test]
    fn suggestions_need_a_close_name() {
        assert_eq!(
            closest("backofLimit", &["backoffLimit", "completions"]),
            Some("backoffLimit")
        );
        assert_eq!(
            closest("RestartPolicy", &["restartPolicy"]),
            Some("restartPolicy")
        );
        assert_eq!(closest("zzz", &["backoffLimit"]), None);
    }
}
