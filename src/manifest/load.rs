//! From files to objects: split documents, sort out kinds, decode strictly,
//! validate, and find duplicates — collecting every problem in one pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::ConfigMap;

use super::decode::{self, closest};
use super::diagnostic::{Diagnostic, Severity};
use super::object::{Ignored, Kind, Location, Manifest, Object, ObjectRef, Typed};
use super::path::Path;
use super::validate;
use crate::yaml::{self, Node, Value};

/// The namespace of an object whose manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One file's path (relative to the manifest root, `/`-separated) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Relative path, used in every message about the file.
    pub path: String,
    /// The file's contents.
    pub bytes: Vec<u8>,
}

/// Manifest files found under a root, and the problems met finding them
/// (unreadable files, links that leave the root, files over the size limit).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Files to load, sorted by path.
    pub files: Vec<SourceFile>,
    /// Problems with files that were not read.
    pub problems: Vec<Diagnostic>,
}

impl Tree {
    /// The same files and problems, their paths under `dir` (a manifest
    /// path inside a repository), so that messages name files as the
    /// repository does.
    pub fn under(self, dir: &str) -> Tree {
        self.prefixed(dir.trim_matches('/'))
    }

    /// The same files and problems, their paths under `dir` as written (an
    /// absolute directory stays absolute).
    pub fn prefixed(mut self, dir: &str) -> Tree {
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            return self;
        }
        for file in &mut self.files {
            file.path = format!("{dir}/{}", file.path);
        }
        for problem in &mut self.problems {
            problem.file = format!("{dir}/{}", problem.file);
        }
        self
    }
}

/// How strictly to load.
#[derive(Debug, Clone)]
pub struct Options {
    /// Treat documents that are not Jobs or CronJobs as errors.
    pub strict: bool,
    /// The current time, for warnings about schedules that never fire.
    pub now: Timestamp,
    /// Let plain `v1` Secrets stay in the repository (ignored, never
    /// applied) instead of refusing the revision.
    pub allow_secrets: bool,
}

/// Everything found in a set of files: the valid objects, the documents of
/// other kinds, and every problem.
#[derive(Debug, Clone, Default)]
pub struct Validation {
    /// Jobs and CronJobs that decoded and validated, sorted by kind, namespace, name.
    pub objects: Vec<Object>,
    /// Documents of other kinds (never applied).
    pub ignored: Vec<Ignored>,
    /// Errors and warnings, sorted by file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// Files read.
    pub files: usize,
}

impl Validation {
    /// True when there is no error (warnings allowed).
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The first error, as one line without its `error: ` prefix (what a
    /// rejected revision's status says), or "" when there is none.
    pub fn first_error(&self) -> String {
        self.diagnostics
            .iter()
            .find(|d| d.is_error())
            .map(|d| d.to_string().trim_start_matches("error: ").to_string())
            .unwrap_or_default()
    }

    /// The desired set, if nothing is wrong; a revision with any error is
    /// rejected whole.
    pub fn into_desired(self) -> Result<DesiredSet, Validation> {
        if self.is_valid() {
            Ok(DesiredSet {
                objects: self.objects,
                ignored: self.ignored,
            })
        } else {
            Err(self)
        }
    }

    /// A copy of the desired set, if nothing is wrong.
    pub fn desired_set(&self) -> Option<DesiredSet> {
        self.is_valid().then(|| DesiredSet {
            objects: self.objects.clone(),
            ignored: self.ignored.clone(),
        })
    }
}

/// The validated Jobs and CronJobs of one revision. Only a revision without
/// errors becomes one.
#[derive(Debug, Clone)]
pub struct DesiredSet {
    objects: Vec<Object>,
    ignored: Vec<Ignored>,
}

impl DesiredSet {
    /// The objects, sorted by kind, namespace and name.
    pub fn objects(&self) -> &[Object] {
        &self.objects
    }

    /// Documents of other kinds, reported but never applied.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ignored
    }
}

/// Below this many files, loading stays on the calling thread.
const PARALLEL_MIN_FILES: usize = 64;

/// Loads and validates every document of every file. Files are spread over
/// the machine's cores; the result does not depend on how.
pub fn load(files: &[SourceFile], options: &Options) -> Validation {
    let all: Vec<&SourceFile> = files.iter().collect();
    merge(load_each(&all, options), files.len())
}

/// Loads two sets of files, such as two revisions of a tree, parsing a file
/// of `second` only when `first` has no file of the same path and bytes
/// (the result is the same as two [`load`]s).
pub fn load_both(
    first: &[SourceFile],
    second: &[SourceFile],
    options: &Options,
) -> (Validation, Validation) {
    let all: Vec<&SourceFile> = first.iter().collect();
    let first_parts = load_each(&all, options);
    let known: std::collections::HashMap<&str, (&[u8], &Validation)> = first
        .iter()
        .zip(&first_parts)
        .map(|(f, part)| (f.path.as_str(), (f.bytes.as_slice(), part)))
        .collect();
    let same = |f: &SourceFile| {
        known
            .get(f.path.as_str())
            .filter(|(bytes, _)| *bytes == f.bytes.as_slice())
            .map(|(_, part)| (*part).clone())
    };
    let fresh: Vec<&SourceFile> = second.iter().filter(|f| same(f).is_none()).collect();
    let mut fresh_parts = load_each(&fresh, options).into_iter();
    let second_parts: Vec<Validation> = second
        .iter()
        .map(|f| same(f).unwrap_or_else(|| fresh_parts.next().expect("one part per fresh file")))
        .collect();
    (
        merge(first_parts, first.len()),
        merge(second_parts, second.len()),
    )
}

/// One validation per file, in order.
fn load_each(files: &[&SourceFile], options: &Options) -> Vec<Validation> {
    let one = |part: &[&SourceFile]| -> Vec<Validation> {
        part.iter()
            .map(|file| {
                let mut out = Validation {
                    objects: Vec::new(),
                    ignored: Vec::new(),
                    diagnostics: Vec::new(),
                    files: 1,
                };
                load_file(file, options, &mut out);
                out
            })
            .collect()
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    if workers < 2 || files.len() < PARALLEL_MIN_FILES {
        return one(files);
    }
    let chunk = files.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || one(part)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// The validation of all files from each file's own: objects sorted,
/// duplicates across files reported.
fn merge(parts: Vec<Validation>, files: usize) -> Validation {
    let mut out = Validation {
        objects: Vec::new(),
        ignored: Vec::new(),
        diagnostics: Vec::new(),
        files,
    };
    for part in parts {
        out.objects.extend(part.objects);
        out.ignored.extend(part.ignored);
        out.diagnostics.extend(part.diagnostics);
    }
    report_duplicates(&mut out);
    out.objects.sort_by(|a, b| a.id.cmp(&b.id));
    sort_diagnostics(&mut out.diagnostics);
    out
}

/// File, then line, errors before warnings; stable, so a line's problems
/// keep the order they were found in.
fn sort_diagnostics(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| (&a.file, a.line, a.severity).cmp(&(&b.file, b.line, b.severity)));
}

/// Loads and validates a tree; `label` names its root in messages.
pub fn load_tree(tree: &Tree, label: &str, options: &Options) -> Validation {
    finish_tree(load(&tree.files, options), tree, label)
}

/// Loads two trees (two revisions), parsing each file the second shares
/// with the first only once; `labels` name their roots.
pub fn load_trees(
    first: &Tree,
    second: &Tree,
    labels: (&str, &str),
    options: &Options,
) -> (Validation, Validation) {
    let (a, b) = load_both(&first.files, &second.files, options);
    (
        finish_tree(a, first, labels.0),
        finish_tree(b, second, labels.1),
    )
}

/// A tree's validation: its files' problems added, and a warning when it
/// holds nothing to apply.
fn finish_tree(mut validation: Validation, tree: &Tree, label: &str) -> Validation {
    validation.diagnostics.extend(tree.problems.iter().cloned());
    if validation.objects.is_empty() && validation.is_valid() {
        validation.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::file_error(label, 0, "no Job or CronJob manifests found")
                .with_hint("check the path; syncing an empty tree would prune every managed object")
        });
    }
    sort_diagnostics(&mut validation.diagnostics);
    validation
}

fn load_file(file: &SourceFile, options: &Options, out: &mut Validation) {
    let text = match std::str::from_utf8(&file.bytes) {
        Ok(text) => text,
        Err(e) => {
            let line = 1 + file.bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            out.diagnostics.push(
                Diagnostic::file_error(&file.path, line as u32, "the file is not valid UTF-8")
                    .with_hint("save it as UTF-8 (YAML manifests must be UTF-8 text)"),
            );
            return;
        }
    };
    // YAML allows no control characters but tab and line breaks; the
    // parser reports a NUL as the stream ending early, so name it here.
    if let Some((offset, c)) = text
        .char_indices()
        .find(|&(_, c)| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}'))
    {
        let before = &text[..offset];
        let line = 1 + before.matches('\n').count();
        let column = 1 + before
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count();
        out.diagnostics.push(
            Diagnostic::file_error(
                &file.path,
                line as u32,
                format!(
                    "column {column}: the control character U+{:04X}, which YAML does not allow",
                    u32::from(c)
                ),
            )
            .with_hint("remove it; to put such a character in a value, write it as an escape (\"\\0\", \"\\x1b\") in a double-quoted string"),
        );
        return;
    }
    let documents = match yaml::parse(text) {
        Ok(docs) => docs,
        Err(e) => {
            out.diagnostics.push(
                Diagnostic::file_error(&file.path, e.line, format!("invalid YAML: {}", e.message))
                    .with_hint("fix the syntax; nothing in this file was checked further"),
            );
            return;
        }
    };
    let text: Arc<str> = Arc::from(text);
    for (document, doc) in documents.into_iter().enumerate() {
        let origin = Origin {
            file: &file.path,
            text: &text,
            document,
            items: Vec::new(),
        };
        load_document(&origin, doc.root, options, out);
    }
}

/// Where a document came from, so that its lines can be found again later.
struct Origin<'a> {
    file: &'a str,
    text: &'a Arc<str>,
    document: usize,
    /// Indexes into nested `kind: List` items.
    items: Vec<usize>,
}

fn load_document(origin: &Origin<'_>, root: Node, options: &Options, out: &mut Validation) {
    let file = origin.file;
    let here = |line| Location {
        file: file.to_string(),
        line,
    };
    match &root.value {
        Value::Null => return,
        Value::Map(_) => {}
        _ => {
            out.diagnostics.push(
                Diagnostic::file_error(
                    file,
                    root.line,
                    format!(
                        "expected a Kubernetes object (a mapping), found {}",
                        root.type_name()
                    ),
                )
                .with_hint(
                    "each YAML document must be one object with apiVersion, kind and metadata",
                ),
            );
            return;
        }
    }
    let api_version = root
        .get("apiVersion")
        .and_then(Node::as_str)
        .map(str::to_string);
    let kind = root.get("kind").and_then(Node::as_str).map(str::to_string);
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        out.diagnostics.push(
            Diagnostic::file_error(
                file,
                root.line,
                "the document has no apiVersion or kind (both must be strings)",
            )
            .with_hint("a Job starts with `apiVersion: batch/v1` and `kind: Job`"),
        );
        return;
    };
    let (api_version, kind) = (api_version.as_str(), kind.as_str());
    match (api_version, kind) {
        ("batch/v1", "Job") => load_object::<Job>(origin, root, Kind::Job, options, out),
        ("batch/v1", "CronJob") => {
            load_object::<CronJob>(origin, root, Kind::CronJob, options, out)
        }
        ("v1", "ConfigMap") => load_object::<ConfigMap>(origin, root, Kind::ConfigMap, options, out),
        ("v1", "Secret") if !options.allow_secrets => out.diagnostics.push(
            located(
                file,
                &root,
                kind,
                "kind",
                "a Secret in git is readable by everyone who can read the repository (base64 is not encryption)".into(),
            )
            .with_hint("keep its values out of git: `jobcd local secret create` for the local target, a sealed or external secret on a cluster; or let it be ignored with --allow-secrets (sources[].allowSecrets)"),
        ),
        ("v1", "List") => match (root.line, root.into_entry("items").map(|n| n.value)) {
            (_, Some(Value::Seq(items))) => {
                for (i, item) in items.into_iter().enumerate() {
                    let mut nested = origin.items.clone();
                    nested.push(i);
                    let origin = Origin {
                        items: nested,
                        ..*origin
                    };
                    load_document(&origin, item, options, out);
                }
            }
            (line, _) => out.diagnostics.push(Diagnostic::file_error(
                file,
                line,
                "a List needs `items`, a list of objects",
            )),
        },
        ("batch/v1beta1" | "batch/v2alpha1", "CronJob") => out.diagnostics.push(
            located(
                file,
                &root,
                kind,
                "apiVersion",
                format!("{api_version} CronJob was removed in Kubernetes 1.25 (no matches for kind \"CronJob\" in version \"{api_version}\")"),
            )
            .with_hint("use apiVersion: batch/v1 (the spec is the same)"),
        ),
        // The core group and other batch versions serve no Job or CronJob;
        // a Job of another group (Volcano's, say) is another kind.
        (version, "Job" | "CronJob") if version == "v1" || version.starts_with("batch/") => out
            .diagnostics
            .push(
                located(
                    file,
                    &root,
                    kind,
                    "apiVersion",
                    format!("no matches for kind {kind:?} in version {version:?}: {kind} is served only as batch/v1"),
                )
                .with_hint("use apiVersion: batch/v1"),
            ),
        ("batch/v1", other) => out.diagnostics.push(
            located(
                file,
                &root,
                other,
                "kind",
                format!("unknown kind {other:?} in batch/v1"),
            )
            .with_hint(match closest(other, &["Job", "CronJob"]) {
                Some(k) => format!("did you mean {k}?"),
                None => "batch/v1 has Job and CronJob".to_string(),
            }),
        ),
        _ => {
            let ignored = Ignored {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                name: meta_str(&root, "name").map(str::to_string),
                location: here(root.line),
            };
            if options.strict {
                out.diagnostics.push(
                    Diagnostic::file_error(file, root.line, format!("{api_version} {kind} is not a Job, CronJob or ConfigMap"))
                        .with_hint("jobcd applies only batch/v1 Jobs and CronJobs and the v1 ConfigMaps they read; move other objects elsewhere or drop --strict"),
                );
            }
            out.ignored.push(ignored);
        }
    }
}

fn load_object<T>(
    origin: &Origin<'_>,
    root: Node,
    kind: Kind,
    options: &Options,
    out: &mut Validation,
) where
    T: serde::de::DeserializeOwned + Validate,
{
    let file = origin.file;
    let id = ObjectRef {
        kind,
        namespace: meta_str(&root, "namespace")
            .unwrap_or(DEFAULT_NAMESPACE)
            .to_string(),
        name: meta_str(&root, "name").unwrap_or("<unnamed>").to_string(),
    };
    let diagnostic =
        |severity, field: String, line, message: String, hint: Option<String>| Diagnostic {
            severity,
            file: file.to_string(),
            line,
            object: Some(id.clone()),
            field: Some(field),
            message,
            hint,
        };
    let (typed, problems) = decode::decode::<T>(&root, &Path::Root);
    let mut valid = problems.is_empty();
    out.diagnostics.extend(
        problems
            .into_iter()
            .map(|p| diagnostic(Severity::Error, p.field, p.line, p.message, p.hint)),
    );
    let Some(typed) = typed else { return };
    let findings = typed.validate(&root, options.now);
    valid &= !findings.iter().any(|f| f.severity == Severity::Error);
    out.diagnostics.extend(
        findings
            .into_iter()
            .map(|f| diagnostic(f.severity, f.field, f.line, f.message, f.hint)),
    );
    if valid {
        out.objects.push(Object {
            id,
            location: Location {
                file: file.to_string(),
                line: root.line,
            },
            typed: typed.into_typed(),
            manifest: Manifest::new(
                &root,
                origin.text.clone(),
                origin.document,
                origin.items.clone(),
            ),
        });
    }
}

/// The kinds `load_object` handles.
trait Validate {
    fn validate(&self, root: &Node, now: Timestamp) -> Vec<validate::Finding>;
    fn into_typed(self) -> Typed;
}

impl Validate for Job {
    fn validate(&self, root: &Node, _now: Timestamp) -> Vec<validate::Finding> {
        validate::job(self, root)
    }
    fn into_typed(self) -> Typed {
        Typed::Job(std::sync::Arc::new(self))
    }
}

impl Validate for ConfigMap {
    fn validate(&self, root: &Node, _now: Timestamp) -> Vec<validate::Finding> {
        validate::config_map(self, root)
    }
    fn into_typed(self) -> Typed {
        Typed::ConfigMap(std::sync::Arc::new(self))
    }
}

impl Validate for CronJob {
    fn validate(&self, root: &Node, now: Timestamp) -> Vec<validate::Finding> {
        validate::cronjob(self, root, now)
    }
    fn into_typed(self) -> Typed {
        Typed::CronJob(std::sync::Arc::new(self))
    }
}

fn meta_str<'a>(root: &'a Node, key: &str) -> Option<&'a str> {
    root.get("metadata")?.get(key)?.as_str()
}

fn located(file: &str, root: &Node, kind: &str, key: &str, message: String) -> Diagnostic {
    let line = root.entry(key).map_or(root.line, |e| e.key_line);
    let mut d = Diagnostic::file_error(file, line, message);
    d.field = Some(key.to_string());
    if let Some(name) = meta_str(root, "name") {
        d.message = format!("{kind} {name}: {}", d.message);
    }
    d
}

/// Two documents naming the same kind/namespace/name: one error naming both
/// places, and neither object goes forward.
fn report_duplicates(out: &mut Validation) {
    let mut places: BTreeMap<&ObjectRef, Vec<&Location>> = BTreeMap::new();
    for object in &out.objects {
        places.entry(&object.id).or_default().push(&object.location);
    }
    let duplicated: Vec<(ObjectRef, Vec<Location>)> = places
        .into_iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(id, at)| (id.clone(), at.into_iter().cloned().collect()))
        .collect();
    for (id, at) in duplicated {
        let list: Vec<String> = at.iter().map(ToString::to_string).collect();
        out.diagnostics.push(Diagnostic {
            severity: Severity::Error,
            file: at[0].file.clone(),
            line: at[0].line,
            object: Some(id.clone()),
            field: None,
            message: format!("defined {} times: {}", at.len(), list.join(" and ")),
            hint: Some(
                "keep one definition, or give the others different names or namespaces".into(),
            ),
        });
        out.objects.retain(|o| o.id != id);
    }
}

#[cfg(test)]
mod tests;
