//! `jobcd schedule EXPR`.

use anyhow::Context;
use jiff::Timestamp;
use serde::Serialize;

use super::exit::Outcome;
use super::{Format, print_report};
use crate::schedule::{Schedule, Zone};

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The schedule, as in a CronJob's spec.schedule (quote it: "0 3 * * *").
    expr: String,
    /// IANA time zone, as in spec.timeZone (default: UTC, as a standard control plane runs).
    #[arg(long = "tz")]
    tz: Option<String>,
    /// How many fire times to show (1 to 10,000). (`-n` is a namespace in every jobcd command, as in kubectl.)
    #[arg(short = 'c', long = "count", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_FIRE_TIMES)))]
    n: u32,
    /// Start from this instant (RFC 3339) instead of now; fire times are strictly after it.
    #[arg(long)]
    from: Option<String>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    output: Format,
}

/// The most fire times one call lists: ten thousand runs of a per-minute
/// schedule is a week; more is output nobody reads (and unbounded, minutes
/// of work and gigabytes of text).
pub(crate) const MAX_FIRE_TIMES: u32 = 10_000;

/// The JSON form of `jobcd schedule -o json`.
#[derive(Serialize)]
struct Report<'a> {
    schedule: &'a str,
    #[serde(rename = "timeZone")]
    time_zone: &'a str,
    description: String,
    next: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<Outcome> {
    let from = match &args.from {
        Some(text) => text.parse::<Timestamp>().with_context(|| {
            format!("--from {text:?} is not an RFC 3339 instant such as 2026-01-05T00:00:00Z")
        })?,
        None => Timestamp::now(),
    };
    let parsed = Schedule::parse(&args.expr)
        .and_then(|s| Zone::from_spec(args.tz.as_deref()).map(|z| (s, z)));
    let (schedule, zone) = match parsed {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(Outcome::Invalid);
        }
    };
    let next: Vec<Timestamp> = schedule
        .upcoming(from, &zone)
        .take(args.n as usize)
        .collect();
    let description = format!("{} ({})", schedule.describe(), zone.name());
    match args.output {
        Format::Json | Format::Yaml => print_report(
            args.output,
            &Report {
                schedule: schedule.as_str(),
                time_zone: zone.name(),
                description,
                next: next.iter().map(|t| t.to_string()).collect(),
            },
        )?,
        Format::Text => {
            println!("schedule:     {}", schedule.as_str());
            println!("time zone:    {}", zone.name());
            println!("description:  {description}");
            if next.is_empty() {
                println!("never fires within five years after {from}");
            } else {
                println!("next {} after {from}:", next.len());
                for t in &next {
                    println!("  {}  {t}", zone.wall_clock(*t));
                }
            }
        }
    }
    Ok(Outcome::Success)
}
