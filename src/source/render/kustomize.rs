//! `kustomize build`, and the objects it makes filed by the repository
//! file each came from (its origin annotations, removed before use).

use std::path::Path;
use std::process::Stdio;

use super::run::Runner;
use super::{Engine, RenderError};
use crate::manifest;

/// `kustomize build` of `path` inside the checkout `root` (a directory
/// holding the commit's files, ours to write in): the rendered objects,
/// filed by the repository file each came from.
pub(super) fn build(
    kustomize: &Runner,
    root: &Path,
    path: &str,
) -> Result<manifest::Tree, RenderError> {
    // A kustomization of our own around the user's, asking for origin
    // annotations; it lives beside the checkout's files.
    let wrapper = root.join(".jobcd-render");
    std::fs::create_dir_all(&wrapper)?;
    let target = if path.is_empty() {
        ".".to_string()
    } else {
        path.to_string()
    };
    std::fs::write(
        wrapper.join("kustomization.yaml"),
        format!("resources:\n  - ../{target}\nbuildMetadata: [originAnnotations]\n"),
    )?;
    let (mut command, seen_root) = kustomize.command(root);
    command
        .args(["build", "--load-restrictor", "LoadRestrictionsRootOnly"])
        .arg(seen_root.join(".jobcd-render"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = kustomize.run(command, &Engine::Kustomize.command(path))?;
    Ok(split_by_origin(&output, path))
}

/// The rendered stream, one file per repository file the objects came
/// from (in the order they came), without the origin annotations.
fn split_by_origin(output: &[u8], path: &str) -> manifest::Tree {
    let text = String::from_utf8_lossy(output);
    let documents = text.split("\n---\n").map(|document| {
        let (origin, cleaned) = without_origin(document);
        let origin = origin.unwrap_or_else(|| format!("{path}/kustomization.yaml"));
        (origin, cleaned)
    });
    super::filed(Engine::Kustomize, path, documents)
}

/// A document's origin (the repository path of the file it came from) and
/// the document without the `config.kubernetes.io/origin` annotation (and
/// without `annotations:` when that was the only one). kustomize writes
/// top-level metadata at two spaces and annotations at four.
fn without_origin(document: &str) -> (Option<String>, String) {
    const KEY: &str = "    config.kubernetes.io/origin: |";
    let lines: Vec<&str> = document.lines().collect();
    let Some(at) = lines.iter().position(|l| *l == KEY) else {
        return (None, ensure_newline(document));
    };
    let end = lines[at + 1..]
        .iter()
        .position(|l| !l.starts_with("      "))
        .map_or(lines.len(), |n| at + 1 + n);
    let origin = lines[at + 1..end].iter().find_map(|l| {
        let l = l.trim();
        l.strip_prefix("path: ")
            .or_else(|| l.strip_prefix("configuredIn: "))
            .map(|p| p.trim_start_matches("../").to_string())
    });
    let mut kept: Vec<&str> = lines[..at].iter().chain(&lines[end..]).copied().collect();
    // `  annotations:` left with no entry of its own.
    if let Some(a) = kept.iter().position(|l| *l == "  annotations:")
        && !kept.get(a + 1).is_some_and(|next| next.starts_with("    "))
    {
        kept.remove(a);
    }
    (origin, ensure_newline(&kept.join("\n")))
}

fn ensure_newline(text: &str) -> String {
    let mut text = text.trim_end_matches('\n').to_string();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_taken_out_and_name_the_file() {
        let document = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  annotations:\n    config.kubernetes.io/origin: |\n      path: ../deploy/base/job.yaml\n  labels:\n    env: prod\n  name: prod-migrate\n";
        let (origin, cleaned) = without_origin(document);
        assert_eq!(origin.as_deref(), Some("deploy/base/job.yaml"));
        assert_eq!(
            cleaned,
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  labels:\n    env: prod\n  name: prod-migrate\n"
        );
        let kept = "metadata:\n  annotations:\n    a: b\n    config.kubernetes.io/origin: |\n      configuredIn: ../k/kustomization.yaml\n      configuredBy:\n        kind: ConfigMapGenerator\n  name: x\n";
        let (origin, cleaned) = without_origin(kept);
        assert_eq!(origin.as_deref(), Some("k/kustomization.yaml"));
        assert_eq!(cleaned, "metadata:\n  annotations:\n    a: b\n  name: x\n");
    }
}
