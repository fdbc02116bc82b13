//! Next-fire-time throughput, in UTC and in a DST zone, with robfig/cron's
//! figure measured in the same run (when Go is available) for comparison.
//!
//! `cargo bench --bench schedule`. Each figure is the median of several
//! rounds of chained `next_after` calls on one core.

use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use jiff::Timestamp;
use jobcd::schedule::{Schedule, Zone};

const CALLS: usize = 200_000;
const ROUNDS: usize = 7;

/// Schedules of different shapes: minutely, hourly, daily, weekly, sparse.
const SCHEDULES: &[&str] = &[
    "*/5 * * * *",
    "0 * * * *",
    "0 3 * * *",
    "30 8 * * MON-FRI",
    "0 0 1 */3 *",
];

fn main() {
    // Like the robfig bench: chain from 2025 and start again after 2035, so
    // every call falls in years a real controller sees.
    let start: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let end: Timestamp = "2035-01-01T00:00:00Z".parse().unwrap();
    for zone_name in ["UTC", "Europe/Berlin"] {
        let zone = if zone_name == "UTC" {
            Zone::utc()
        } else {
            Zone::named(zone_name).unwrap()
        };
        let mut all = Vec::new();
        for expr in SCHEDULES {
            let schedule = Schedule::parse(expr).unwrap();
            let rate = median_rate(|| {
                let mut t = start;
                for _ in 0..CALLS {
                    t = match schedule.next_after(black_box(t), &zone) {
                        Some(next) if next < end => next,
                        _ => start,
                    };
                }
                black_box(t);
            });
            all.push(rate);
            let robfig = robfig_rate(expr, zone_name);
            println!(
                "next_after {zone_name:<14} {expr:<20} jobcd {:>6.2} M/s   robfig {}",
                rate / 1e6,
                robfig.map_or("n/a (go not found)".to_string(), |r| format!(
                    "{:>6.3} M/s",
                    r / 1e6
                )),
            );
        }
        all.sort_by(f64::total_cmp);
        println!(
            "next_after {zone_name:<14} median over schedules: {:.2} M/s",
            all[all.len() / 2] / 1e6
        );
    }
}

fn median_rate(mut round: impl FnMut()) -> f64 {
    round(); // warm up
    let mut rates: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            round();
            CALLS as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[ROUNDS / 2]
}

/// Runs the robfig/cron oracle's bench mode, if Go can build it.
fn robfig_rate(expr: &str, zone: &str) -> Option<f64> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/robfig-oracle");
    let bin = concat!(env!("CARGO_MANIFEST_DIR"), "/target/robfig-oracle-bench");
    if !std::path::Path::new(bin).exists() {
        let built = Command::new(go())
            .args(["build", "-o", bin, "."])
            .current_dir(dir)
            .env("GOFLAGS", "-mod=mod -buildvcs=false")
            .status()
            .ok()?;
        if !built.success() {
            return None;
        }
    }
    let zone = if zone == "UTC" { "" } else { zone };
    let out = Command::new(bin)
        .args(["-bench", "-zone", zone, expr])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .find_map(|w| w.strip_prefix("calls_per_sec=")?.parse::<f64>().ok())
}

fn go() -> String {
    if std::path::Path::new("/usr/local/go/bin/go").exists() {
        "/usr/local/go/bin/go".into()
    } else {
        "go".into()
    }
}
