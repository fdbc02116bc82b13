//! Rendered sources: a manifest path that holds a `kustomization.yaml` is
//! built with the real `kustomize`, one that holds a `Chart.yaml` is
//! rendered with the real `helm template`, as Flux and Argo CD render them,
//! and the objects they produce are what jobcd validates, plans and applies.
//!
//! A repository is untrusted input, and so is what it asks an engine to do:
//! - the engine sees only the commit's files, written out to a temporary
//!   directory (symlinks are not written), and runs in a bubblewrap sandbox
//!   where that directory and the binary are all there is, with no network
//!   (so no remote bases or chart repositories) — or, where no sandbox can
//!   be made, with its HTTP sent to a proxy that refuses it;
//! - its environment is empty (no jobcd credentials, no `PATH` to find
//!   `git` or plugins), kustomize loads files under its root-only
//!   restrictor, and a render runs at most [`TIME_LIMIT`] with its output
//!   cut at [`OUTPUT_LIMIT`].
//!
//! Provenance: each rendered object is filed under the repository file it
//! came from (kustomize's origin annotations, Helm's `# Source:`
//! comments), named `<file> (<engine command>)`, so a diagnostic names the
//! file to edit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::manifest::{self, SourceFile};

mod cache;
mod helm;
mod kustomize;
mod run;

pub use cache::{CACHE_ENTRIES, Cache};

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

    /// What the program takes to print its version.
    fn version_args(self) -> &'static [&'static str] {
        match self {
            Engine::Kustomize => &["version"],
            Engine::Helm => &["version", "--short"],
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.program())
    }
}

/// What rendered a source's manifests, for statuses and `--version`:
/// `kustomize v5.8.1`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rendered {
    /// The engine's program name.
    pub engine: String,
    /// What the program says its version is.
    pub version: String,
}

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.engine, self.version)
    }
}

/// An engine found on this machine, ready to render: its program, how it
/// runs (sandboxed or not) and its version.
#[derive(Debug, Clone)]
pub struct Renderer {
    engine: Engine,
    runner: run::Runner,
    version: String,
}

impl Renderer {
    /// `engine` as found on this machine ([`Engine::find`]), for the
    /// manifest path `path` (named when it is missing). Asks the program
    /// its version, in the sandbox it will render in.
    pub fn find(engine: Engine, path: &str) -> Result<Renderer, RenderError> {
        let program = engine.find().ok_or_else(|| RenderError::NoEngine {
            engine,
            path: path.to_string(),
        })?;
        Renderer::at(engine, program)
    }

    /// `engine` run as `program`. A program is probed (sandbox, version)
    /// once per process, and again only when its file changes.
    pub fn at(engine: Engine, program: PathBuf) -> Result<Renderer, RenderError> {
        use std::collections::HashMap;
        use std::sync::Mutex;
        type Probed = HashMap<String, (run::Runner, String)>;
        static PROBED: Mutex<Option<Probed>> = Mutex::new(None);
        let key = identity(&program);
        let known = PROBED
            .lock()
            .ok()
            .and_then(|probed| probed.as_ref()?.get(&key).cloned());
        let (runner, version) = match known {
            Some(known) => known,
            None => {
                let probed = run::Runner::probe(program, engine.version_args())?;
                if let Ok(mut memo) = PROBED.lock() {
                    memo.get_or_insert_with(HashMap::new)
                        .insert(key, probed.clone());
                }
                probed
            }
        };
        Ok(Renderer {
            engine,
            runner,
            version,
        })
    }

    /// What it is, for statuses: `kustomize v5.8.1`.
    pub fn rendered(&self) -> Rendered {
        Rendered {
            engine: self.engine.program().to_string(),
            version: self.version.clone(),
        }
    }

    /// Whether it runs in a bubblewrap sandbox.
    pub fn sandboxed(&self) -> bool {
        self.runner.bwrap.is_some()
    }

    /// Its render of `path` inside the checkout `root` (a directory holding
    /// the commit's files): the objects, filed by the repository file each
    /// came from.
    pub fn build(
        &self,
        root: &Path,
        path: &str,
        values: &HelmValues,
    ) -> Result<manifest::Tree, RenderError> {
        match self.engine {
            Engine::Kustomize => kustomize::build(&self.runner, root, path),
            Engine::Helm => helm::build(&self.runner, root, path, values),
        }
    }
}

/// `program`'s path, size and modification time: what changes when the
/// binary is replaced (keys of the render cache and of the probes).
fn identity(program: &Path) -> String {
    let meta = std::fs::metadata(program).ok();
    let modified = meta
        .as_ref()
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    format!(
        "{}:{}:{:?}",
        program.display(),
        meta.map_or(0, |m| m.len()),
        modified
    )
}

/// One line per engine for `jobcd --version`: its version and program, or
/// that it is missing and how to provide it.
pub fn versions() -> Vec<String> {
    [Engine::Kustomize, Engine::Helm]
        .into_iter()
        .map(|engine| match engine.find() {
            None => format!(
                "{engine}: not found (put it on PATH or name it with {}; needed to render a {})",
                engine.variable(),
                engine.input()
            ),
            Some(program) => match Renderer::at(engine, program.clone()) {
                Ok(r) => format!(
                    "{} ({}{})",
                    r.rendered(),
                    program.display(),
                    if r.sandboxed() {
                        ", sandboxed"
                    } else {
                        ", NOT sandboxed"
                    }
                ),
                Err(e) => format!("{engine}: {} does not run: {e}", program.display()),
            },
        })
        .collect()
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
