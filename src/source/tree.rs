//! Manifests straight from a commit's tree.
//!
//! Blobs are read from the object database, never from a working tree: there
//! is no checkout to corrupt and no race with someone editing files. A
//! symlink in the repository is followed only to a blob or tree inside the
//! manifest path; one that leads elsewhere is reported and not read.

use git2::{ObjectType, Oid, Repository, Tree};

use super::Error;
use crate::manifest::{self, Diagnostic, SourceFile};

const SYMLINK_MODE: i32 = 0o120_000;
/// Symlinks followed in a row before giving up (a loop).
const MAX_LINK_DEPTH: usize = 16;

/// Collects the manifest files under `path` in `commit`'s tree.
pub(crate) fn read(
    repo: &Repository,
    commit: &git2::Commit<'_>,
    path: &str,
) -> Result<manifest::Tree, Error> {
    let sha = commit.id().to_string();
    let top = commit.tree().map_err(|e| Error::git(&sha, e))?;
    read_tree(repo, top, &sha, path)
}

/// Collects the manifest files under `path` in the tree `top` (of commit
/// `sha`, or of a merge of it, for messages).
pub(crate) fn read_tree<'r>(
    repo: &'r Repository,
    top: Tree<'r>,
    sha: &str,
    path: &str,
) -> Result<manifest::Tree, Error> {
    let sha = sha.to_string();
    let path = normalise(path).ok_or_else(|| Error::Path {
        path: path.to_string(),
        sha: sha.clone(),
        problem: "must be a relative path inside the repository".into(),
    })?;
    let root = if path.is_empty() {
        top
    } else {
        let entry = top
            .get_path(std::path::Path::new(&path))
            .map_err(|_| Error::Path {
                path: path.clone(),
                sha: sha.clone(),
                problem: "does not exist in this commit".into(),
            })?;
        if entry.kind() != Some(ObjectType::Tree) {
            return Err(Error::Path {
                path,
                sha,
                problem: "is not a directory".into(),
            });
        }
        repo.find_tree(entry.id())
            .map_err(|e| Error::git(&sha, e))?
    };
    let mut walk = Walk {
        repo,
        root: &root,
        out: manifest::Tree::default(),
        visited: vec![root.id()],
    };
    walk.tree(&root, "", 0)?;
    walk.out.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(walk.out)
}

/// `./a//b/` → `a/b`; None for paths that leave the repository.
pub(crate) fn normalise(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

struct Walk<'r> {
    repo: &'r Repository,
    root: &'r Tree<'r>,
    out: manifest::Tree,
    visited: Vec<Oid>,
}

impl Walk<'_> {
    fn tree(&mut self, tree: &Tree<'_>, prefix: &str, depth: usize) -> Result<(), Error> {
        for entry in tree.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            // git itself never writes these; a tool that writes raw trees
            // can, and a name like `../x.yaml` must not become a path.
            if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
                self.out.problems.push(
                    Diagnostic::file_error(
                        &rel,
                        0,
                        format!("the tree has an entry named {name:?}, which no file can be named"),
                    )
                    .with_hint("the commit was written by a tool that made a malformed tree; recreate it with git"),
                );
                continue;
            }
            match entry.kind() {
                Some(ObjectType::Tree) if !name.starts_with('.') => {
                    self.subtree(entry.id(), &rel, depth)?
                }
                Some(ObjectType::Blob) if entry.filemode() == SYMLINK_MODE => {
                    self.symlink(entry.id(), prefix, &rel, &name, depth)?
                }
                Some(ObjectType::Blob) if manifest::is_manifest_name(&name) => {
                    self.blob(entry.id(), rel)?
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn subtree(&mut self, id: Oid, rel: &str, depth: usize) -> Result<(), Error> {
        if self.visited.contains(&id) && depth > 0 {
            return Ok(());
        }
        self.visited.push(id);
        let tree = self.repo.find_tree(id).map_err(|e| Error::git(rel, e))?;
        self.tree(&tree, rel, depth)
    }

    fn blob(&mut self, id: Oid, rel: String) -> Result<(), Error> {
        // The size from the object's header: a blob too large is refused
        // before it is read into memory.
        let odb = self.repo.odb().map_err(|e| Error::git(&rel, e))?;
        let (size, _) = odb.read_header(id).map_err(|e| Error::git(&rel, e))?;
        let size = size as u64;
        if size > manifest::MAX_FILE_BYTES {
            self.out.problems.push(
                Diagnostic::file_error(&rel, 0, format!("the file is {size} bytes; the limit is {}", manifest::MAX_FILE_BYTES))
                    .with_hint("a Kubernetes object is at most about 1.5 MiB; split the file or remove generated data"),
            );
            return Ok(());
        }
        let blob = self.repo.find_blob(id).map_err(|e| Error::git(&rel, e))?;
        self.out.files.push(SourceFile {
            path: rel,
            bytes: blob.content().to_vec(),
        });
        Ok(())
    }

    /// Follows a link that stays inside the manifest root; reports the rest.
    fn symlink(
        &mut self,
        id: Oid,
        dir: &str,
        rel: &str,
        name: &str,
        depth: usize,
    ) -> Result<(), Error> {
        let blob = self.repo.find_blob(id).map_err(|e| Error::git(rel, e))?;
        let target = String::from_utf8_lossy(blob.content()).into_owned();
        let inside = (!target.starts_with('/'))
            .then(|| {
                normalise(&if dir.is_empty() {
                    target.clone()
                } else {
                    format!("{dir}/{target}")
                })
            })
            .flatten();
        // A link to the directory it stands in, or to one above it, would
        // read the same files again and again.
        if let Some(p) = &inside
            && (p.is_empty() || dir == p || dir.starts_with(&format!("{p}/")))
        {
            self.out.problems.push(
                Diagnostic::file_error(
                    rel,
                    0,
                    format!("symlink to {target:?} loops back to a directory that holds it"),
                )
                .with_hint("remove the link, or point it at the files it stands for"),
            );
            return Ok(());
        }
        let resolved = inside.and_then(|p| {
            let entry = self.root.get_path(std::path::Path::new(&p)).ok();
            entry.map(|e| (e.id(), e.kind(), e.filemode()))
        });
        match resolved {
            _ if depth >= MAX_LINK_DEPTH => self.out.problems.push(
                Diagnostic::file_error(rel, 0, format!("symlink to {target:?}: more than {MAX_LINK_DEPTH} links in a row (a loop of links?)"))
                    .with_hint("remove the links that point at each other"),
            ),
            Some((target_id, Some(ObjectType::Tree), _)) => {
                self.subtree(target_id, rel, depth + 1)?
            }
            Some((target_id, Some(ObjectType::Blob), mode)) if mode == SYMLINK_MODE => {
                self.symlink(target_id, dir, rel, name, depth + 1)?;
            }
            Some((target_id, Some(ObjectType::Blob), _)) if manifest::is_manifest_name(name) => {
                self.blob(target_id, rel.to_string())?;
            }
            Some(_) => {}
            // A link that leaves the manifest path: an error when it stands
            // for a manifest, a warning when it may stand for a directory of
            // them (no extension), and nothing for other files.
            None if manifest::is_manifest_name(name) || !name.contains('.') => {
                let mut d = Diagnostic::file_error(rel, 0, format!("symlink to {target:?} leads outside the manifest path or to nothing; it is not followed"))
                    .with_hint("commit the files themselves instead of a link to them");
                if !manifest::is_manifest_name(name) {
                    d.severity = manifest::Severity::Warning;
                }
                self.out.problems.push(d);
            }
            None => {}
        }
        Ok(())
    }
}

/// The most bytes of a commit's files written out for a renderer.
const WRITE_OUT_LIMIT: u64 = 512 << 20;

/// Writes every file of `top` (a commit's or a merge's tree) under `dir`,
/// for a renderer that reads a directory. Symlinks are not written: what
/// they point to may be outside the repository.
pub(crate) fn write_out(
    repo: &Repository,
    top: &Tree<'_>,
    dir: &std::path::Path,
    sha: &str,
) -> Result<(), Error> {
    let mut written = 0u64;
    let mut problem = None;
    top.walk(git2::TreeWalkMode::PreOrder, |prefix, entry| {
        let name = String::from_utf8_lossy(entry.name_bytes()).into_owned();
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return git2::TreeWalkResult::Skip;
        }
        let path = dir.join(prefix).join(&name);
        match entry.kind() {
            Some(ObjectType::Tree) => {
                if let Err(e) = std::fs::create_dir_all(&path) {
                    problem = Some(e.to_string());
                    return git2::TreeWalkResult::Abort;
                }
            }
            Some(ObjectType::Blob) if entry.filemode() != SYMLINK_MODE => {
                let blob = match repo.find_blob(entry.id()) {
                    Ok(blob) => blob,
                    Err(e) => {
                        problem = Some(e.message().to_string());
                        return git2::TreeWalkResult::Abort;
                    }
                };
                written += blob.size() as u64;
                if written > WRITE_OUT_LIMIT {
                    problem = Some(format!(
                        "the commit's files exceed {} MiB",
                        WRITE_OUT_LIMIT >> 20
                    ));
                    return git2::TreeWalkResult::Abort;
                }
                if let Err(e) = std::fs::write(&path, blob.content()) {
                    problem = Some(e.to_string());
                    return git2::TreeWalkResult::Abort;
                }
            }
            _ => {}
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| Error::git(sha, e))
    .ok();
    match problem {
        Some(message) => Err(Error::Git {
            what: format!("{sha} (writing its files for kustomize)"),
            message,
        }),
        None => Ok(()),
    }
}

/// The working tree of `repo` as a tree: what `git add -A` would stage
/// (ignored files left out), its blobs and trees written to the object
/// database as `git add` writes them; the index file is not changed.
pub(crate) fn working_tree<'r>(repo: &'r Repository, sha: &str) -> Result<Tree<'r>, Error> {
    let err = |e| Error::git(&format!("{sha} (the working tree)"), e);
    let mut index = repo.index().map_err(err)?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(err)?;
    index.update_all(["*"], None).map_err(err)?;
    let id = index.write_tree_to(repo).map_err(err)?;
    repo.find_tree(id).map_err(err)
}

/// The names of the files directly in `path` of `top`.
pub(crate) fn names_in(repo: &Repository, top: &Tree<'_>, path: &str) -> Vec<String> {
    let dir = match normalise(path).as_deref() {
        None => return Vec::new(),
        Some("") => Some(top.clone()),
        Some(path) => top
            .get_path(std::path::Path::new(path))
            .ok()
            .and_then(|e| repo.find_tree(e.id()).ok()),
    };
    dir.map(|t| {
        t.iter()
            .map(|e| String::from_utf8_lossy(e.name_bytes()).into_owned())
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn paths_normalise_and_cannot_escape() {
        assert_eq!(
            normalise("./examples//batch/").as_deref(),
            Some("examples/batch")
        );
        assert_eq!(normalise("").as_deref(), Some(""));
        assert_eq!(normalise("a/../b").as_deref(), Some("b"));
        assert_eq!(normalise("../x"), None);
    }
}
