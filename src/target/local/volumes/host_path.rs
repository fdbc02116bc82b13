//! `hostPath` volumes: only under the directories the configuration
//! allows (a symlink cannot lead out), and of the `type` they say, as the
//! kubelet checks it; `DirectoryOrCreate` and `FileOrCreate` are made when
//! the pod starts, not when it is checked.

use std::path::Path;

use super::{Context, Prepared, Problem, problem};

/// Checks a `hostPath` volume against the allowed directories and its `type`.
pub(super) fn check(
    path: &Path,
    kind: Option<&str>,
    field: &str,
    ctx: Context<'_>,
    out: &mut Prepared,
) -> Result<(), Problem> {
    let allowed = ctx.host_paths.iter().any(|root| {
        let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        // The path may not exist yet (DirectoryOrCreate): its nearest
        // existing ancestor decides, so a symlink cannot lead out.
        let mut existing = path.to_path_buf();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (
                existing.file_name().map(ToOwned::to_owned),
                existing.parent(),
            ) {
                (Some(name), Some(parent)) => {
                    rest.push(name);
                    existing = parent.to_path_buf();
                }
                _ => return false,
            }
        }
        let Ok(real) = std::fs::canonicalize(&existing) else {
            return false;
        };
        real.starts_with(&root) && !rest.iter().any(|c| c == "..")
    });
    if !allowed {
        return Err(problem(
            format!("{field}.path"),
            format!(
                "{} is not under a directory the local target allows for hostPath volumes ({}); allow one with --allow-host-path DIR (target.hostPaths in the serve configuration)",
                path.display(),
                if ctx.host_paths.is_empty() {
                    "none is allowed".to_string()
                } else {
                    ctx.host_paths
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
        ));
    }
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).ok();
    let is = |check: fn(&std::fs::Metadata) -> bool| meta.as_ref().is_some_and(check);
    let wrong = |what: &str| {
        Err(problem(
            format!("{field}.type"),
            format!(
                "hostPath type check failed: {} is not {what}",
                path.display()
            ),
        ))
    };
    match kind.unwrap_or_default() {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() || is(|m| m.is_dir()) => {
            out.host_paths.push((path.to_path_buf(), true));
            Ok(())
        }
        "DirectoryOrCreate" => wrong("a directory"),
        "Directory" if is(|m| m.is_dir()) => Ok(()),
        "Directory" => wrong("a directory"),
        "FileOrCreate" if meta.is_none() || is(|m| m.is_file()) => {
            out.host_paths.push((path.to_path_buf(), false));
            Ok(())
        }
        "FileOrCreate" => wrong("a file"),
        "File" if is(|m| m.is_file()) => Ok(()),
        "File" => wrong("a file"),
        "Socket" if is(|m| m.file_type().is_socket()) => Ok(()),
        "Socket" => wrong("a socket"),
        "CharDevice" if is(|m| m.file_type().is_char_device()) => Ok(()),
        "CharDevice" => wrong("a character device"),
        "BlockDevice" if is(|m| m.file_type().is_block_device()) => Ok(()),
        "BlockDevice" => wrong("a block device"),
        other => Err(problem(
            format!("{field}.type"),
            format!("hostPath type {other:?} is not one Kubernetes has"),
        )),
    }
}
