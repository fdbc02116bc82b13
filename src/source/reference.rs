//! Which commit a `--ref` means.

use git2::{Oid, Repository};

use super::Error;

/// A `--ref`: the default branch, a branch or tag name, or a pinned commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefName {
    /// The current branch of a local repository; the remote's default branch.
    Default,
    /// A branch, a tag, a full ref name (`refs/heads/main`), or any other
    /// revision git understands (a short sha, `main~1`).
    Named(String),
    /// A full 40-character commit sha: pinned, never moves.
    Commit(Oid),
}

impl RefName {
    /// Reads a `--ref` value (None for the default).
    pub fn parse(text: Option<&str>) -> RefName {
        match text.map(str::trim) {
            None | Some("") => RefName::Default,
            Some(t) if t.len() == 40 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Oid::from_str(t).map_or_else(|_| RefName::Named(t.to_string()), RefName::Commit)
            }
            Some(t) => RefName::Named(t.to_string()),
        }
    }
}

impl std::fmt::Display for RefName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefName::Default => f.write_str("HEAD"),
            RefName::Named(n) => f.write_str(n),
            RefName::Commit(oid) => write!(f, "{oid}"),
        }
    }
}

/// The commit `reference` points at in `repo`, and the full ref name.
pub(crate) fn resolve<'r>(
    repo: &'r Repository,
    reference: &RefName,
    url: &str,
) -> Result<(git2::Commit<'r>, String), Error> {
    let not_found = || Error::RefNotFound {
        reference: reference.to_string(),
        url: url.to_string(),
        available: branches(repo),
    };
    let (object, name) = match reference {
        RefName::Commit(oid) => {
            let commit = repo.find_commit(*oid).map_err(|_| Error::CommitNotFound {
                sha: oid.to_string(),
                url: url.to_string(),
            })?;
            return Ok((commit, oid.to_string()));
        }
        RefName::Default => {
            let head = repo.head().map_err(|_| not_found())?;
            let name = head.name().unwrap_or("HEAD").to_string();
            (
                head.peel(git2::ObjectType::Commit)
                    .map_err(|_| not_found())?,
                name,
            )
        }
        RefName::Named(name) => {
            let candidates = if name.starts_with("refs/") {
                vec![name.clone()]
            } else {
                vec![format!("refs/heads/{name}"), format!("refs/tags/{name}")]
            };
            match candidates
                .into_iter()
                .find_map(|full| repo.find_reference(&full).ok().map(|r| (r, full)))
            {
                Some((r, full)) => (
                    r.peel(git2::ObjectType::Commit).map_err(|_| not_found())?,
                    full,
                ),
                // Anything else git understands: a short sha, `main~2`, …
                None => (
                    repo.revparse_single(name)
                        .and_then(|o| o.peel(git2::ObjectType::Commit))
                        .map_err(|_| {
                            let full = format!("refs/heads/{name}");
                            if git2::Reference::is_valid_name(&full) {
                                not_found()
                            } else {
                                Error::InvalidRefName {
                                    reference: name.clone(),
                                    url: url.to_string(),
                                    available: branches(repo),
                                }
                            }
                        })?,
                    name.clone(),
                ),
            }
        }
    };
    let commit = object.into_commit().map_err(|_| not_found())?;
    Ok((commit, name))
}

/// A few branch names, for the hint of a ref that was not found: only
/// names git accepts (a file under refs/heads written by hand can have any
/// name, and offering it would only fail again).
fn branches(repo: &Repository) -> Vec<String> {
    let Ok(refs) = repo.references_glob("refs/heads/*") else {
        return Vec::new();
    };
    let mut names: Vec<String> = refs
        .filter_map(Result::ok)
        .filter(|r| r.name().is_ok_and(git2::Reference::is_valid_name))
        .filter_map(|r| r.shorthand().ok().map(str::to_string))
        .collect();
    names.sort();
    names.truncate(10);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_git_refuses_is_said_to_be_invalid_and_never_offered() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = git2::Signature::now("t", "t@example.com").unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let commit = repo
            .commit(Some("refs/heads/main"), &sig, &sig, "c", &tree, &[])
            .unwrap();
        // A ref file written by hand, with a name git refuses.
        let refs = dir.path().join(".git/refs/heads");
        std::fs::write(refs.join("a..b"), format!("{commit}\n")).unwrap();
        let error = resolve(&repo, &RefName::parse(Some("a..b")), "repo").unwrap_err();
        assert!(matches!(error, Error::InvalidRefName { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("not a valid branch or tag name"),
            "{message}"
        );
        assert!(message.ends_with("; branches: main"), "{message}");
        let error = resolve(&repo, &RefName::parse(Some("nope")), "repo").unwrap_err();
        assert!(matches!(error, Error::RefNotFound { .. }), "{error}");
    }

    #[test]
    fn shas_pin_and_names_do_not() {
        assert_eq!(RefName::parse(None), RefName::Default);
        assert_eq!(RefName::parse(Some("main")), RefName::Named("main".into()));
        let sha = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            RefName::parse(Some(sha)),
            RefName::Commit(Oid::from_str(sha).unwrap())
        );
        assert_eq!(
            RefName::parse(Some("0123456")),
            RefName::Named("0123456".into())
        );
    }
}
