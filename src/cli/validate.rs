//! `jobcd validate [PATH…] | --repo URL [--ref REF] [--path P]`.

use std::path::PathBuf;

use serde::Serialize;

use super::exit::Outcome;
use super::repo::RepoArgs;
use super::{Format, Verbosity, print_report};
use crate::manifest::{self, Diagnostic, Ignored, Object, Typed, Validation, printable};
use crate::schedule::{Schedule, Zone};
use crate::source::Revision;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Manifests: directories (searched recursively), files, or `-` for
    /// standard input (default: the current directory); or use --repo.
    #[arg(conflicts_with = "repo", value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    repo: RepoArgs,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Treat documents that are not batch/v1 Jobs or CronJobs as errors.
    #[arg(long, env = "JOBCD_STRICT")]
    strict: bool,
}

pub(crate) fn run(args: Args, state_dir: PathBuf, verbosity: Verbosity) -> anyhow::Result<Outcome> {
    let options = manifest::Options {
        strict: args.strict,
        now: jiff::Timestamp::now(),
        allow_secrets: args.repo.allow_secrets,
    };
    let loaded = args.repo.load(&args.paths, state_dir)?;
    let (label, tree, revision) = (loaded.label, loaded.tree, loaded.revision);
    let validation = manifest::load_tree(&tree, &label, &options);
    match args.output {
        Format::Json | Format::Yaml => print_report(
            args.output,
            &Report {
                revision: revision.as_ref(),
                ..Report::from(&validation)
            },
        )?,
        Format::Text if verbosity.reports() => print_text(&label, &validation),
        Format::Text => print_diagnostics(&validation),
    }
    Ok(if validation.is_valid() {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

fn print_text(label: &str, v: &Validation) {
    print_diagnostics(v);
    print_objects(v);
    let errors = v.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = v.diagnostics.len() - errors;
    let verdict = if errors == 0 { "valid" } else { "INVALID" };
    println!(
        "{label}: {verdict}: {} objects in {} files, {} ignored, {errors} errors, {warnings} warnings",
        v.objects.len(),
        v.files,
        v.ignored.len()
    );
}

/// Every problem, on stderr.
fn print_diagnostics(v: &Validation) {
    for d in &v.diagnostics {
        eprintln!("{d}");
    }
}

/// One line per object (with the schedule of a CronJob) and per ignored document.
pub(crate) fn print_objects(v: &Validation) {
    for object in &v.objects {
        let detail = match &object.typed {
            Typed::CronJob(cj) => cj
                .spec
                .as_ref()
                .map(|s| cron_summary(&s.schedule, s.time_zone.as_deref())),
            Typed::Job(_) => None,
            Typed::ConfigMap(map) => Some(config_map_summary(map)),
        };
        match detail {
            Some(d) => println!("{:<40} {}  {d}", object.id.to_string(), object.location),
            None => println!("{:<40} {}", object.id.to_string(), object.location),
        }
    }
    for ignored in &v.ignored {
        println!(
            "{:<40} {}  ignored (not a Job, CronJob or ConfigMap)",
            format!(
                "{} {}",
                printable(&ignored.kind),
                printable(ignored.name.as_deref().unwrap_or("<unnamed>"))
            ),
            ignored.location
        );
    }
}

/// "3 keys: A, B, C" (binaryData keys too).
pub(crate) fn config_map_summary(map: &k8s_openapi::api::core::v1::ConfigMap) -> String {
    let keys: Vec<&str> = map
        .data
        .iter()
        .flat_map(|d| d.keys())
        .chain(map.binary_data.iter().flat_map(|d| d.keys()))
        .map(String::as_str)
        .collect();
    match keys.len() {
        0 => "no keys".to_string(),
        1 => format!("1 key: {}", keys[0]),
        n => format!("{n} keys: {}", keys.join(", ")),
    }
}

fn cron_summary(schedule: &str, zone: Option<&str>) -> String {
    let description = Schedule::parse(schedule)
        .map(|s| s.describe())
        .unwrap_or_default();
    let zone = Zone::from_spec(zone)
        .map(|z| z.name().to_string())
        .unwrap_or_default();
    format!("{schedule:?} {description} ({zone})")
}

/// The JSON form of `jobcd validate -o json`.
#[derive(Serialize)]
struct Report<'a> {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    revision: Option<&'a Revision>,
    files: usize,
    objects: Vec<ObjectSummary<'a>>,
    ignored: &'a [Ignored],
    diagnostics: &'a [Diagnostic],
}

/// An object in JSON listings.
#[derive(Serialize)]
pub(crate) struct ObjectSummary<'a> {
    kind: manifest::Kind,
    namespace: &'a str,
    name: &'a str,
    file: &'a str,
    line: u32,
}

impl<'a> From<&'a Object> for ObjectSummary<'a> {
    fn from(o: &'a Object) -> Self {
        ObjectSummary {
            kind: o.id.kind,
            namespace: &o.id.namespace,
            name: &o.id.name,
            file: &o.location.file,
            line: o.location.line,
        }
    }
}

impl<'a> From<&'a Validation> for Report<'a> {
    fn from(v: &'a Validation) -> Self {
        Report {
            valid: v.is_valid(),
            revision: None,
            files: v.files,
            objects: v.objects.iter().map(ObjectSummary::from).collect(),
            ignored: &v.ignored,
            diagnostics: &v.diagnostics,
        }
    }
}
