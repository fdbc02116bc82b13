//! The chart README's values table, generated from values.yaml: every key
//! with a `# -- ` comment becomes a row (its dotted path, its default as
//! JSON, and the comment's first part — up to the first blank or indented
//! comment line, which hold the details and examples that stay in
//! values.yaml).

use serde_json::Value;

/// One documented value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub path: String,
    pub default: String,
    pub description: String,
}

/// The documented values of `values_yaml` (parsed: `tree`), in file
/// order.
pub fn rows(values_yaml: &str, tree: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut stack: Vec<(usize, String)> = Vec::new();
    // The comment being read: its lines, and whether its summary is over.
    let mut pending: Option<(Vec<String>, bool)> = None;
    for line in values_yaml.lines() {
        let text = line.trim_start();
        let indent = line.len() - text.len();
        if let Some(first) = text.strip_prefix("# -- ") {
            pending = Some((vec![first.trim().to_string()], false));
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            if let Some((lines, done)) = &mut pending {
                let detail = comment.trim().is_empty() || comment.starts_with("  ");
                *done |= detail;
                if !*done {
                    lines.push(comment.trim().to_string());
                }
            }
            continue;
        }
        if text.is_empty() || text.starts_with("- ") {
            continue;
        }
        let Some((key, _)) = text.split_once(':') else {
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        while stack.last().is_some_and(|(i, _)| *i >= indent) {
            stack.pop();
        }
        stack.push((indent, key.to_string()));
        if let Some((lines, _)) = pending.take() {
            let mut description = lines.join(" ");
            // "Each entry:" introduces details that stay in values.yaml.
            if let Some(cut) = description.strip_suffix("Each entry:") {
                description = format!("{cut}(Each entry: see values.yaml.)");
            }
            let keys: Vec<&str> = stack.iter().map(|(_, k)| k.as_str()).collect();
            let default = keys
                .iter()
                .try_fold(tree, |v, k| v.get(*k))
                .map(|v| v.to_string())
                .unwrap_or_default();
            rows.push(Row {
                path: keys.join("."),
                default,
                description,
            });
        }
    }
    rows
}

/// The table, in Markdown; a value whose parts have rows of their own
/// shows its default there, not as a whole.
pub fn markdown(rows: &[Row]) -> String {
    let cell = |s: &str| s.replace('|', "\\|");
    let mut out = String::from("| value | default | what it does |\n|---|---|---|\n");
    for row in rows {
        let parent = format!("{}.", row.path);
        let default = if rows.iter().any(|r| r.path.starts_with(&parent)) {
            "see below".to_string()
        } else {
            format!("`{}`", cell(&row.default))
        };
        out.push_str(&format!(
            "| `{}` | {default} | {} |\n",
            row.path,
            cell(&row.description)
        ));
    }
    out
}

/// Every leaf path of `tree` (a list or an empty map counts as a leaf).
pub fn leaves(tree: &Value, prefix: &str, out: &mut Vec<String>) {
    match tree {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaves(value, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}
