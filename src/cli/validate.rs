//! `jobcd validate [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;

use super::{EXIT_INVALID, Format, print_json};
use crate::manifest::{self, Diagnostic, Ignored, Typed, Validation};
use crate::schedule::{Schedule, Zone};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory holding the manifests (searched recursively).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Treat documents that are not batch/v1 Jobs or CronJobs as errors.
    #[arg(long, env = "JOBCD_STRICT")]
    strict: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let options = manifest::Options {
        strict: args.strict,
        now: jiff::Timestamp::now(),
    };
    let validation = manifest::read_dir(&args.dir, &options)
        .with_context(|| format!("validating {}", args.dir.display()))?;
    match args.output {
        Format::Json => print_json(&Report::from(&validation))?,
        Format::Text => print_text(&args.dir, &validation),
    }
    Ok(if validation.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn print_text(dir: &std::path::Path, v: &Validation) {
    for d in &v.diagnostics {
        eprintln!("{d}");
    }
    for object in &v.objects {
        let detail = match &object.typed {
            Typed::CronJob(cj) => cj
                .spec
                .as_ref()
                .map(|s| cron_summary(&s.schedule, s.time_zone.as_deref())),
            Typed::Job(_) => None,
        };
        match detail {
            Some(d) => println!("{:<40} {}  {d}", object.id.to_string(), object.location),
            None => println!("{:<40} {}", object.id.to_string(), object.location),
        }
    }
    for ignored in &v.ignored {
        println!(
            "{:<40} {}  ignored (not a Job or CronJob)",
            format!(
                "{} {}",
                ignored.kind,
                ignored.name.as_deref().unwrap_or("<unnamed>")
            ),
            ignored.location
        );
    }
    let errors = v.diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = v.diagnostics.len() - errors;
    let verdict = if errors == 0 { "valid" } else { "INVALID" };
    println!(
        "{}: {verdict}: {} objects in {} files, {} ignored, {errors} errors, {warnings} warnings",
        dir.display(),
        v.objects.len(),
        v.files,
        v.ignored.len()
    );
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
    files: usize,
    objects: Vec<ObjectSummary<'a>>,
    ignored: &'a [Ignored],
    diagnostics: &'a [Diagnostic],
}

#[derive(Serialize)]
struct ObjectSummary<'a> {
    kind: manifest::Kind,
    namespace: &'a str,
    name: &'a str,
    file: &'a str,
    line: u32,
}

impl<'a> From<&'a Validation> for Report<'a> {
    fn from(v: &'a Validation) -> Self {
        Report {
            valid: v.is_valid(),
            files: v.files,
            objects: v
                .objects
                .iter()
                .map(|o| ObjectSummary {
                    kind: o.id.kind,
                    namespace: &o.id.namespace,
                    name: &o.id.name,
                    file: &o.location.file,
                    line: o.location.line,
                })
                .collect(),
            ignored: &v.ignored,
            diagnostics: &v.diagnostics,
        }
    }
}
