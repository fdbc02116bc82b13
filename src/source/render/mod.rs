//! Rendered sources: a manifest path that holds a `kustomization.yaml` is
//! built with the real `kustomize`, one that holds a `Chart.yaml` is
//! rendered with the real `helm template`, as Flux and Argo CD render them,
//! and the objects they produce are what jobcd validates, plans and applies.
//!
//! A repository is untrusted input, and so is what it asks an engine to do:
//! - the engine sees only the commit's files, written out to a temporary
//!   directory (symlinks are not written), and, where bubblewrap exists,
//!   runs in a sandbox where that directory and the binary are all there
//!   is, with no network (so no remote bases or chart repositories);
//! - its environment is empty (no jobcd credentials, no `PATH` to find
//!   `git` or plugins), kustomize loads files under its root-only
//!   restrictor, and a render runs at most [`TIME_LIMIT`] with its output
//!   cut at [`OUTPUT_LIMIT`].
//!
//! Provenance: each rendered object is filed under the repository file it
//! came from (kustomize's origin annotations, Helm's `# Source:`
//! comments), named `<file> (<engine command>)`, so a diagnostic names the
//! file to edit.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::manifest::{self, SourceFile};

mod helm;
mod kustomize;

/// How a source's manifests become objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Render {
    /// Build with kustomize when the path holds a kustomization, template
    /// with helm when it holds a `Chart.yaml`, else read the YAML files as
    /// they are.
    #[default]
    Auto,
    /// The YAML files as they are.
    Plain,
    /// Always `kustomize build` the path.
    Kustomize,
    /// Always `helm template` the path.
    Helm,
}

/// How a Helm chart is rendered, besides its own `values.yaml`: files of
/// the repository (paths from its top, applied in order, as `helm -f`),
/// then `KEY=VALUE` settings (as `helm --set`), the release's name and its
/// namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelmValues {
    /// Values files, repository paths.
    pub files: Vec<String>,
    /// `KEY=VALUE` settings.
    pub set: Vec<String>,
    /// The release name (default: the chart directory's name).
    pub release: Option<String>,
    /// `.Release.Namespace` (default: `default`).
    pub namespace: Option<String>,
}

/// A rendering engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `kustomize build`.
    Kustomize,
    /// `helm template`.
    Helm,
}

impl Engine {
    /// The program's name, as found on `PATH`.
    pub fn program(self) -> &'static str {
        match self {
            Engine::Kustomize => "kustomize",
            Engine::Helm => "helm",
        }
    }

    /// The variable that names the program.
    pub fn variable(self) -> &'static str {
        match self {
            Engine::Kustomize => "JOBCD_KUSTOMIZE",
            Engine::Helm => "JOBCD_HELM",
        }
    }

    /// The file that makes a directory this engine's input.
    pub fn input(self) -> &'static str {
        match self {
            Engine::Kustomize => "kustomization.yaml",
            Engine::Helm => "Chart.yaml",
        }
    }

    /// The command a person would run, for messages: `kustomize build
    /// deploy/prod`.
    pub fn command(self, path: &str) -> String {
        match self {
            Engine::Kustomize => format!("kustomize build {path}"),
            Engine::Helm => format!("helm template {path}"),
        }
    }

    /// The program to run: the variable's path, else the program on `PATH`.
    pub fn find(self) -> Option<PathBuf> {
        match std::env::var_os(self.variable()) {
            Some(path) if !path.is_empty() => Some(PathBuf::from(path)),
            _ => crate::programs::on_path(self.program()),
        }
    }
}

impl std::str::FromStr for Render {
    type Err = String;

    fn from_str(text: &str) -> Result<Render, String> {
        match text {
            "auto" => Ok(Render::Auto),
            "plain" => Ok(Render::Plain),
            "kustomize" => Ok(Render::Kustomize),
            "helm" => Ok(Render::Helm),
            other => Err(format!(
                "{other:?} is not a renderer: use auto, plain, kustomize or helm"
            )),
        }
    }
}

/// The file names that make a directory a kustomization.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The longest a render may take.
pub const TIME_LIMIT: Duration = Duration::from_secs(60);
/// The most output a render may produce.
pub const OUTPUT_LIMIT: usize = 64 << 20;

/// Why a render failed.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// No engine to run.
    #[error(
        "{path} holds a {}, and no {} was found: install it on PATH or name it with {} (or render plain with --render plain)",
        engine.input(), engine.program(), engine.variable()
    )]
    NoEngine {
        /// The engine.
        engine: Engine,
        /// The manifest path.
        path: String,
    },
    /// The engine could not be started.
    #[error("starting {engine}: {source}")]
    Start {
        /// The program.
        engine: String,
        /// Why.
        source: std::io::Error,
    },
    /// The render failed; the engine's own message says why.
    #[error("{what} failed: {message}")]
    Failed {
        /// The command, as a person would run it.
        what: String,
        /// The engine's error output.
        message: String,
    },
    /// The render ran past [`TIME_LIMIT`].
    #[error("{what} took longer than {}s and was stopped", TIME_LIMIT.as_secs())]
    TooSlow {
        /// The command, as a person would run it.
        what: String,
    },
    /// The render wrote more than [`OUTPUT_LIMIT`].
    #[error("{what} wrote more than {} MiB and was stopped", OUTPUT_LIMIT >> 20)]
    TooLarge {
        /// The command, as a person would run it.
        what: String,
    },
    /// Writing the commit's files out failed.
    #[error("writing the commit's files for rendering: {0}")]
    Write(#[from] std::io::Error),
}

/// A directory of its own under the system's temporary directory, removed
/// with everything in it when dropped: where a commit's files are written
/// for a renderer.
pub struct Scratch(PathBuf);

impl Scratch {
    /// Makes one.
    pub fn new() -> Result<Scratch, RenderError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "jobcd-render-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir(&dir)?;
        Ok(Scratch(dir))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The engine `render` builds the directory holding the files `names`
/// with, if any.
pub fn builds(render: Render, names: &[&str]) -> Option<Engine> {
    match render {
        Render::Plain => None,
        Render::Kustomize => Some(Engine::Kustomize),
        Render::Helm => Some(Engine::Helm),
        Render::Auto if names.iter().any(|n| KUSTOMIZATION_FILES.contains(n)) => {
            Some(Engine::Kustomize)
        }
        Render::Auto if names.contains(&"Chart.yaml") => Some(Engine::Helm),
        Render::Auto => None,
    }
}

/// `engine`'s render of `path` inside the checkout `root` (a directory
/// holding the commit's files): the objects, filed by the repository file
/// each came from.
pub fn build(
    engine: Engine,
    root: &Path,
    path: &str,
    values: &HelmValues,
) -> Result<manifest::Tree, RenderError> {
    match engine {
        Engine::Kustomize => kustomize::build(root, path),
        Engine::Helm => helm::build(root, path, values),
    }
}

/// Rendered documents filed by the repository file each came from: one
/// file per origin, named `<origin> (<engine command>)`, its documents in
/// the order they came, each ending in a newline.
pub(super) fn filed(
    engine: Engine,
    path: &str,
    documents: impl IntoIterator<Item = (String, String)>,
) -> manifest::Tree {
    let mut files: Vec<(String, String)> = Vec::new();
    for (origin, mut body) in documents {
        if !body.ends_with('\n') {
            body.push('\n');
        }
        let name = format!("{origin} ({})", engine.command(path));
        match files.iter_mut().find(|(n, _)| *n == name) {
            Some((_, text)) => {
                text.push_str("---\n");
                text.push_str(&body);
            }
            None => files.push((name, body)),
        }
    }
    manifest::Tree {
        files: files
            .into_iter()
            .map(|(path, text)| SourceFile {
                path,
                bytes: text.into_bytes(),
            })
            .collect(),
        problems: Vec::new(),
    }
}

/// Renders already made, in the state directory: a revision whose commit
/// tree, manifest path and renderer are the same is not built again (so a
/// steady `serve` poll renders nothing). Each entry is one JSON file named
/// by the hash of its key, written atomically; the oldest beyond
/// [`CACHE_ENTRIES`] are removed. Only renders without problems are kept.
pub struct Cache {
    dir: PathBuf,
}

/// Renders the cache keeps.
pub const CACHE_ENTRIES: usize = 64;

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    path: String,
    text: String,
}

impl Cache {
    /// The cache under `state_dir`.
    pub fn new(state_dir: &Path) -> Cache {
        Cache {
            dir: state_dir.join("render-cache"),
        }
    }

    /// The key of a render of `path` in the tree `tree_id` with `render`
    /// by the kustomize that would run now (its path, size and time, so a
    /// new kustomize renders afresh).
    pub fn key(tree_id: &str, path: &str, render: Render, engine: Engine) -> String {
        let program = engine
            .find()
            .map(|e| {
                let meta = std::fs::metadata(&e).ok();
                let stamp = meta
                    .as_ref()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                format!(
                    "{}:{}:{:?}",
                    e.display(),
                    meta.map_or(0, |m| m.len()),
                    stamp
                )
            })
            .unwrap_or_default();
        use sha2::Digest;
        let digest = sha2::Sha256::digest(
            format!("{tree_id}\n{path}\n{render:?}\n{engine:?}\n{program}").as_bytes(),
        );
        crate::hex::hex(&digest)
    }

    /// The render stored under `key`.
    pub fn get(&self, key: &str) -> Option<manifest::Tree> {
        let text = std::fs::read(self.dir.join(format!("{key}.json"))).ok()?;
        let entries: Vec<Entry> = serde_json::from_slice(&text).ok()?;
        Some(manifest::Tree {
            files: entries
                .into_iter()
                .map(|e| SourceFile {
                    path: e.path,
                    bytes: e.text.into_bytes(),
                })
                .collect(),
            problems: Vec::new(),
        })
    }

    /// Stores `tree` under `key` (when it has no problems); a cache that
    /// cannot be written only costs a render next time.
    pub fn put(&self, key: &str, tree: &manifest::Tree) {
        if !tree.problems.is_empty() || std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let entries: Vec<Entry> = tree
            .files
            .iter()
            .map(|f| Entry {
                path: f.path.clone(),
                text: String::from_utf8_lossy(&f.bytes).into_owned(),
            })
            .collect();
        let Ok(json) = serde_json::to_vec(&entries) else {
            return;
        };
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        if std::fs::write(&tmp, json).is_ok() {
            let _ = std::fs::rename(&tmp, self.dir.join(format!("{key}.json")));
        }
        self.prune();
    }

    /// Removes the oldest entries beyond [`CACHE_ENTRIES`].
    fn prune(&self) {
        let Ok(listing) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = listing
            .filter_map(Result::ok)
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if entries.len() <= CACHE_ENTRIES {
            return;
        }
        entries.sort();
        for (_, path) in &entries[..entries.len() - CACHE_ENTRIES] {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A render's objects, or, when the repository's kustomization is at fault
/// (the build failed, ran too long, wrote too much), a tree holding that
/// one problem: the revision is invalid, as one with a bad manifest is.
/// Errors of this machine (no kustomize) stay errors.
pub fn tree(
    rendered: Result<manifest::Tree, RenderError>,
    engine: Engine,
    path: &str,
) -> Result<manifest::Tree, RenderError> {
    match rendered {
        Ok(tree) => Ok(tree),
        Err(
            e @ (RenderError::Failed { .. }
            | RenderError::TooSlow { .. }
            | RenderError::TooLarge { .. }),
        ) => {
            let file = if path.is_empty() {
                engine.input().to_string()
            } else {
                format!("{path}/{}", engine.input())
            };
            let hint = format!(
                "fix the repository's input; `{}` shows the same error",
                engine.command(if path.is_empty() { "." } else { path })
            );
            Ok(manifest::Tree {
                files: Vec::new(),
                problems: vec![
                    manifest::Diagnostic::file_error(&file, 0, e.to_string()).with_hint(hint),
                ],
            })
        }
        Err(e) => Err(e),
    }
}

/// kustomize in bubblewrap when it exists (the checkout at /src, read-only,
/// and nothing else of this machine; no network), else as a plain process;
/// either way with an empty environment. Also where the command sees the
/// checkout.
pub(super) fn sandboxed(engine: &Path, root: &Path) -> (Command, PathBuf) {
    let bwrap = std::env::var_os("JOBCD_BWRAP")
        .map(PathBuf::from)
        .or_else(|| crate::programs::on_path("bwrap"))
        .filter(|b| b.is_file());
    let (mut command, seen) = match bwrap {
        Some(bwrap) => {
            let mut c = Command::new(bwrap);
            c.args(["--unshare-all", "--die-with-parent", "--new-session"])
                .arg("--ro-bind")
                .arg(root)
                .arg("/src")
                .arg("--ro-bind")
                .arg(engine)
                .arg("/engine")
                .args([
                    "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--chdir", "/src",
                    "/engine",
                ]);
            (c, PathBuf::from("/src"))
        }
        None => {
            let mut c = Command::new(engine);
            c.current_dir(root);
            (c, root.to_path_buf())
        }
    };
    command.env_clear().env("HOME", "/nonexistent");
    (command, seen)
}

/// Runs `command`, keeping at most [`OUTPUT_LIMIT`] of its stdout and
/// stopping it after [`TIME_LIMIT`].
pub(super) fn run_bounded(
    mut command: Command,
    engine: &Path,
    what: &str,
) -> Result<Vec<u8>, RenderError> {
    let mut child = command.spawn().map_err(|source| RenderError::Start {
        engine: engine.display().to_string(),
        source,
    })?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let read = (&mut stdout)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_to_end(&mut out);
        (read, out)
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = (&mut stderr).take(64 << 10).read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() > TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RenderError::TooSlow {
                what: what.to_string(),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (_, out) = reader.join().unwrap_or((Ok(0), Vec::new()));
    let message = errors.join().unwrap_or_default();
    if out.len() > OUTPUT_LIMIT {
        return Err(RenderError::TooLarge {
            what: what.to_string(),
        });
    }
    if !status.success() {
        return Err(RenderError::Failed {
            what: what.to_string(),
            message: message.trim().trim_start_matches("Error: ").to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_builds_a_kustomization_or_a_chart() {
        let k = Some(Engine::Kustomize);
        assert_eq!(builds(Render::Auto, &["kustomization.yaml", "job.yaml"]), k);
        assert_eq!(builds(Render::Auto, &["Kustomization"]), k);
        assert_eq!(
            builds(Render::Auto, &["Chart.yaml", "values.yaml"]),
            Some(Engine::Helm)
        );
        assert_eq!(builds(Render::Auto, &["job.yaml"]), None);
        assert_eq!(builds(Render::Plain, &["kustomization.yaml"]), None);
        assert_eq!(builds(Render::Kustomize, &[]), k);
        assert_eq!(builds(Render::Helm, &[]), Some(Engine::Helm));
        assert_eq!("helm".parse(), Ok(Render::Helm));
        assert!("jsonnet".parse::<Render>().is_err());
    }
}
