//! Whatever is written reads back, through jobcd's own kubectl-compatible
//! YAML reader, as the same value.

use serde_json::{Value, json};

use super::*;
use crate::yaml;

fn read_back(text: &str) -> Value {
    let docs = yaml::parse(text).unwrap_or_else(|e| panic!("{e:?} in\n{text}"));
    serde_json::to_value(&docs[0].root).unwrap()
}

fn round_trips(value: Value) {
    let text = to_yaml(&value);
    assert_eq!(read_back(&text), value, "written as\n{text}");
}

#[test]
fn a_manifest_reads_back_the_same_and_looks_like_one() {
    let value = json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "labels": {"app": "pi"}},
        "spec": {"backoffLimit": 2, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "perl:5", "command": ["perl", "-e", "print 1"],
                            "env": [{"name": "A", "value": "1"}]}],
            "volumes": [{"name": "scratch", "emptyDir": {}}]}}}
    });
    let text = to_yaml(&value);
    assert_eq!(
        text,
        "apiVersion: batch/v1
kind: Job
metadata:
  labels:
    app: pi
  name: pi
spec:
  backoffLimit: 2
  template:
    spec:
      containers:
      - command:
        - perl
        - -e
        - print 1
        env:
        - name: A
          value: \"1\"
        image: perl:5
        name: main
      restartPolicy: Never
      volumes:
      - emptyDir: {}
        name: scratch
"
    );
    round_trips(value);
}

#[test]
fn strings_that_yaml_would_read_as_something_else_are_quoted() {
    for s in [
        "yes",
        "No",
        "on",
        "OFF",
        "y",
        "n",
        "true",
        "null",
        "~",
        "",
        " lead",
        "trail ",
        "0644",
        "1_000",
        "0x1f",
        "1e3",
        "1:30",
        "2026-01-01",
        "-1",
        "+1",
        ".5",
        ".inf",
        "-.inf",
        ".NaN",
        "a: b",
        "a #b",
        "key:",
        "#x",
        "&a",
        "*a",
        "!t",
        "|",
        ">",
        "'q'",
        "\"q\"",
        "%p",
        "@x",
        "`x",
        "[a]",
        "{a}",
        "tab\there",
        "- item",
        "? key",
        "\u{feff}bom",
        "-",
        "---",
        "...",
        "--x",
        "-.5",
        "-e",
    ] {
        round_trips(json!({ "k": s, s: [s] }));
    }
    assert_eq!(to_yaml(&json!({"k": "plain text"})), "k: plain text\n");
}

#[test]
fn multi_line_strings_are_literal_blocks_with_the_right_chomping() {
    let script = "set -e\nfor i in 1 2; do\n  echo \"$i\"\ndone\n";
    let value = json!({"args": [script], "a": {"b": script}});
    let text = to_yaml(&value);
    assert!(
        text.contains("args:\n- |\n  set -e\n  for i in 1 2; do\n    echo \"$i\"\n  done\n"),
        "{text}"
    );
    round_trips(value);
    for s in [
        "no newline at end\nsecond",
        "two at end\n\n",
        "blank\n\nline inside\n",
        "trailing spaces  \nkept\n",
        " leading space\nx\n",
        "only spaces line\n   \nx\n",
        "\nstarts with newline",
    ] {
        round_trips(json!({ "k": s, "l": [s, {"m": s}] }));
    }
}

#[test]
fn nested_and_empty_collections_read_back() {
    round_trips(
        json!({"a": [], "b": {}, "c": [[1, 2], [], [{"x": null}]], "d": [{}], "e": 1.5, "f": false}),
    );
    round_trips(json!([1, "two", {"three": 3}]));
    round_trips(json!("top"));
}
