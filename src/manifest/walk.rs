//! Finding manifest files under a directory.
//!
//! Every `*.yaml` and `*.yml` file below the root, recursively, in a stable
//! order; directories whose name starts with `.` (`.git`, `.github`) are
//! skipped. A symlink is followed only while it stays inside the root: one
//! that points outside is reported, never read, so a manifest tree cannot
//! make jobcd read arbitrary files.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;
use super::load::{SourceFile, Tree};

/// Files larger than this are refused; a Kubernetes object is at most about
/// 1.5 MiB, so a manifest file this big is a mistake.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// The manifest root itself cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The root does not exist or is not readable.
    #[error("cannot read {path}")]
    Root {
        /// The root as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The root is a file, not a directory.
    #[error("{path} is not a directory; pass the directory that holds the manifests")]
    NotADirectory {
        /// The root as given.
        path: PathBuf,
    },
}

/// The name standard input is given in messages.
pub const STDIN: &str = "<stdin>";

/// Reads manifests from `paths`, as `kubectl apply -f` takes them: each a
/// directory (every manifest file under it), a file (read whatever its
/// name), or `-` for standard input; none means the current directory. One
/// directory alone names its files relative to it, as [`read_dir`] does;
/// otherwise files are named by the path given.
pub fn read_paths(paths: &[PathBuf]) -> Result<Tree, Error> {
    let stdin = Path::new("-");
    match paths {
        [] => return read_dir(Path::new(".")),
        [one] if one != stdin && one.is_dir() => return read_dir(one),
        _ => {}
    }
    let mut tree = Tree::default();
    let mut walk = Walk {
        root: PathBuf::new(),
        files: Vec::new(),
        problems: Vec::new(),
        visited: Vec::new(),
    };
    for path in paths {
        if path == stdin {
            let mut bytes = Vec::new();
            std::io::Read::take(std::io::stdin().lock(), MAX_FILE_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(|source| Error::Root {
                    path: path.clone(),
                    source,
                })?;
            if bytes.len() as u64 > MAX_FILE_BYTES {
                walk.problems.push(Unread::Grew.diagnostic(STDIN));
            } else {
                walk.files.push(SourceFile {
                    path: STDIN.into(),
                    bytes,
                });
            }
        } else {
            let metadata = fs::metadata(path).map_err(|source| Error::Root {
                path: path.clone(),
                source,
            })?;
            if metadata.is_dir() {
                let under = read_dir(path)?.prefixed(&path.display().to_string());
                tree.files.extend(under.files);
                tree.problems.extend(under.problems);
            } else {
                walk.file(path, path.display().to_string());
            }
        }
    }
    tree.files.extend(walk.files);
    tree.problems.extend(walk.problems);
    Ok(tree)
}

/// Reads every manifest file under `root`.
pub fn read_dir(root: &Path) -> Result<Tree, Error> {
    let canonical = root.canonicalize().map_err(|source| Error::Root {
        path: root.to_path_buf(),
        source,
    })?;
    if !canonical.is_dir() {
        return Err(Error::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let mut walk = Walk {
        root: canonical.clone(),
        files: Vec::new(),
        problems: Vec::new(),
        visited: vec![canonical.clone()],
    };
    walk.dir(&canonical, "")?;
    walk.files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Tree {
        files: walk.files,
        problems: walk.problems,
    })
}

struct Walk {
    root: PathBuf,
    files: Vec<SourceFile>,
    problems: Vec<Diagnostic>,
    /// Canonical directories already entered, so symlink loops end.
    visited: Vec<PathBuf>,
}

impl Walk {
    fn dir(&mut self, dir: &Path, relative: &str) -> Result<(), Error> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(source) if relative.is_empty() => {
                return Err(Error::Root {
                    path: dir.to_path_buf(),
                    source,
                });
            }
            Err(e) => {
                self.problems.push(Diagnostic::file_error(
                    relative,
                    0,
                    format!("cannot read directory: {e}"),
                ));
                return Ok(());
            }
        };
        let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if relative.is_empty() {
                name.clone()
            } else {
                format!("{relative}/{name}")
            };
            let path = entry.path();
            let Ok(file_type) = entry.file_type() else {
                continue;
            };
            let target = if file_type.is_symlink() {
                match path.canonicalize() {
                    Ok(t) if t.starts_with(&self.root) => t,
                    Ok(t) => {
                        if is_manifest_name(&name) || t.is_dir() {
                            self.problems.push(
                                Diagnostic::file_error(
                                    &rel,
                                    0,
                                    format!(
                                        "symlink points outside the manifest root, to {}",
                                        t.display()
                                    ),
                                )
                                .with_hint(
                                    "copy the file into the repository instead of linking to it",
                                ),
                            );
                        }
                        continue;
                    }
                    Err(e) => {
                        if is_manifest_name(&name) {
                            self.problems.push(Diagnostic::file_error(
                                &rel,
                                0,
                                format!("broken symlink: {e}"),
                            ));
                        }
                        continue;
                    }
                }
            } else {
                path.clone()
            };
            if target.is_dir() {
                if name.starts_with('.') || self.visited.contains(&target) {
                    continue;
                }
                self.visited.push(target.clone());
                self.dir(&target, &rel)?;
            } else if is_manifest_name(&name) {
                self.file(&target, rel);
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, rel: String) {
        match read_capped(path) {
            Ok(bytes) => self.files.push(SourceFile { path: rel, bytes }),
            Err(problem) => self.problems.push(problem.diagnostic(&rel)),
        }
    }
}

/// Why a manifest file was not read.
enum Unread {
    /// A FIFO, a device or a socket: reading it could block forever or
    /// never end.
    NotRegular(&'static str),
    /// More than [`MAX_FILE_BYTES`] (its size).
    TooLarge(u64),
    /// It grew past the cap while it was read.
    Grew,
    /// The file system refused.
    Io(std::io::Error),
}

impl Unread {
    fn diagnostic(self, rel: &str) -> Diagnostic {
        match self {
            Unread::NotRegular(what) => Diagnostic::file_error(
                rel,
                0,
                format!("is a {what}, not a regular file; it is not read"),
            )
            .with_hint("manifests are plain files; remove it or rename it so it does not end in .yaml"),
            Unread::TooLarge(size) => Diagnostic::file_error(
                rel,
                0,
                format!("the file is {size} bytes; the limit is {MAX_FILE_BYTES}"),
            )
            .with_hint("a Kubernetes object is at most about 1.5 MiB; split the file or remove generated data"),
            Unread::Grew => Diagnostic::file_error(
                rel,
                0,
                format!("the file grew past the limit of {MAX_FILE_BYTES} bytes while it was read"),
            )
            .with_hint("something is writing to it; validate once it is done"),
            Unread::Io(e) => Diagnostic::file_error(rel, 0, format!("cannot read the file: {e}")),
        }
    }
}

/// A regular file's bytes, read with the size cap enforced while reading
/// (the file may grow after it was looked at).
fn read_capped(path: &Path) -> Result<Vec<u8>, Unread> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let metadata = fs::metadata(path).map_err(Unread::Io)?;
    let kind = metadata.file_type();
    if !kind.is_file() {
        return Err(Unread::NotRegular(if kind.is_fifo() {
            "named pipe (FIFO)"
        } else if kind.is_char_device() {
            "character device"
        } else if kind.is_block_device() {
            "block device"
        } else if kind.is_socket() {
            "socket"
        } else {
            "special file"
        }));
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(Unread::TooLarge(metadata.len()));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(Unread::Io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Unread::Grew);
    }
    Ok(bytes)
}

/// Whether a file name is one jobcd reads as a manifest.
pub fn is_manifest_name(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}
