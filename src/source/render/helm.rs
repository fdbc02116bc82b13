//! `helm template` of a chart in the repository, and the objects it makes
//! filed by the chart file that wrote each (Helm's `# Source:` comments).
//!
//! The chart renders with its own values, then the values files of the
//! repository and the `--set` settings the source names, as the release it
//! names (default: `<the chart directory's name>` in namespace `default`),
//! without its test hooks; its dependencies must be vendored
//! under `charts/` (nothing is downloaded). A hook Job
//! (`helm.sh/hook: pre-install,pre-upgrade`, the usual migration) is synced
//! as an ordinary Job: jobcd runs each Job once per spec, which is what an
//! upgrade hook is for.

use std::path::Path;
use std::process::Stdio;

use super::run::Runner;
use super::{Engine, HelmValues, RenderError};
use crate::manifest;

/// `helm template` of the chart at `path` inside the checkout `root` (a
/// directory holding the commit's files, ours to write in), with `values`
/// (files of the repository, then `--set`s).
pub(super) fn build(
    helm: &Runner,
    root: &Path,
    path: &str,
    values: &HelmValues,
) -> Result<manifest::Tree, RenderError> {
    let release = values.release.clone().unwrap_or_else(|| release_name(path));
    let namespace = values.namespace.as_deref().unwrap_or("default");
    let (mut command, seen_root) = helm.command(root);
    // Helm wants writable homes; in the sandbox /tmp is its own tmpfs,
    // outside it a directory beside the checkout's files.
    let homes = if seen_root == root {
        root.join(".jobcd-helm")
    } else {
        std::path::PathBuf::from("/tmp")
    };
    for (var, dir) in [
        ("HELM_CACHE_HOME", "cache"),
        ("HELM_CONFIG_HOME", "config"),
        ("HELM_DATA_HOME", "data"),
    ] {
        command.env(var, homes.join(dir));
    }
    command
        .args(["template", &release])
        .arg(seen_root.join(path))
        .args(["--namespace", namespace, "--skip-tests"]);
    for file in &values.files {
        // Only files of the repository: a values file is read from the
        // commit's files, never from this machine.
        let inside = !file.starts_with('/') && !file.split('/').any(|p| p == "..");
        if !inside {
            return Err(RenderError::Failed {
                what: Engine::Helm.command(path),
                message: format!("values file {file:?} must be a path inside the repository"),
            });
        }
        command.arg("--values").arg(seen_root.join(file));
    }
    for setting in &values.set {
        command.arg("--set").arg(setting);
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let output = helm.run(command, &Engine::Helm.command(path))?;
    Ok(split_by_source(&output, path))
}

/// The release name: the chart directory's name (Helm's rules make it a
/// DNS label), else `release`.
fn release_name(path: &str) -> String {
    let last = path
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let name: String = last
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-').to_string();
    if name.is_empty() {
        "release".into()
    } else {
        name
    }
}

/// The rendered stream, one file per chart file that wrote objects (its
/// `# Source: <chart>/templates/x.yaml` comment, as the repository names
/// the file: `<path>/templates/x.yaml`).
fn split_by_source(output: &[u8], path: &str) -> manifest::Tree {
    let text = String::from_utf8_lossy(output);
    let documents = text
        .split("\n---\n")
        .filter(|document| {
            !document
                .lines()
                .all(|l| l.trim().is_empty() || l.starts_with('#') || l == "---")
        })
        .map(|document| {
            let origin = document
                .lines()
                .find_map(|l| l.strip_prefix("# Source: "))
                .map_or_else(
                    || format!("{path}/Chart.yaml"),
                    |s| {
                        let within = s.split_once('/').map_or(s, |(_, rest)| rest);
                        if path.is_empty() {
                            within.to_string()
                        } else {
                            format!("{path}/{within}")
                        }
                    },
                );
            (origin, document.trim_start_matches("---\n").to_string())
        });
    super::filed(Engine::Helm, path, documents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_filed_by_their_template() {
        let out = b"---\n# Source: jobs/templates/migrate.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: m\n---\n# Source: jobs/templates/cron.yaml\napiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: c\n";
        let tree = split_by_source(out, "charts/jobs");
        let names: Vec<&str> = tree.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            names,
            [
                "charts/jobs/templates/migrate.yaml (helm template charts/jobs)",
                "charts/jobs/templates/cron.yaml (helm template charts/jobs)"
            ]
        );
        assert!(
            String::from_utf8_lossy(&tree.files[0].bytes)
                .starts_with("# Source: jobs/templates/migrate.yaml\napiVersion")
        );
        assert_eq!(release_name("deploy/My_Chart"), "my-chart");
        assert_eq!(release_name(""), "release");
    }
}
