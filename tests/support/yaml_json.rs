//! YAML read back into JSON values, by the YAML 1.2 core schema (plain
//! `true`, `false`, `null`, `~`, integers and floats are typed; quoted
//! scalars are strings), to compare a `-o yaml` report with `-o json`'s.

use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Value};

/// The first document of `text`.
pub fn parse(text: &str) -> Value {
    let mut events = Parser::new_from_str(text).map(|e| e.expect("valid YAML").0);
    loop {
        match events.next().expect("a document") {
            Event::StreamStart | Event::DocumentStart(_) => continue,
            first => return node(first, &mut events),
        }
    }
}

fn node<'a>(first: Event<'a>, events: &mut impl Iterator<Item = Event<'a>>) -> Value {
    match first {
        Event::Scalar(text, style, ..) => scalar(&text, style),
        Event::SequenceStart(..) => {
            let mut items = Vec::new();
            loop {
                match events.next().expect("the sequence ends") {
                    Event::SequenceEnd => return Value::Array(items),
                    e => items.push(node(e, events)),
                }
            }
        }
        Event::MappingStart(..) => {
            let mut map = Map::new();
            loop {
                match events.next().expect("the mapping ends") {
                    Event::MappingEnd => return Value::Object(map),
                    key => {
                        let Value::String(key) = node(key, events) else {
                            panic!("a mapping key is a string")
                        };
                        let value = events.next().expect("a value");
                        map.insert(key, node(value, events));
                    }
                }
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn scalar(text: &str, style: ScalarStyle) -> Value {
    if style != ScalarStyle::Plain {
        return Value::String(text.to_string());
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" | "~" | "" => Value::Null,
        _ => {
            if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else if let Ok(f) = text.parse::<f64>() {
                Value::from(f)
            } else {
                Value::String(text.to_string())
            }
        }
    }
}
