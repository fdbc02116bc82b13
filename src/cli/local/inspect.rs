//! The read-only commands: `local status`, `local runs`, `local logs`.

use crate::cli::exit::Outcome;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob;

use super::verdict;
use crate::health;
use crate::manifest::Kind;
use crate::target::local::engine::Engine;
use crate::target::local::{BY_HAND, CronSpec, Executor, Isolation, Settings};

pub(super) fn status(
    executor: &Executor,
    state_dir: &Path,
    settings: &Settings,
) -> anyhow::Result<Outcome> {
    let objects = executor.objects()?;
    // Where a runner with these settings would run containers: an engine
    // (and whether it answers), or host processes (and whether isolated).
    match settings.runtime.engine() {
        Some(kind) => match Engine::probe(kind, state_dir) {
            Ok(engine) => println!("{}", engine.describe()),
            Err(e) => println!("containers cannot run: {e}"),
        },
        None => println!("{}", Isolation::probe().describe()),
    }
    if objects.is_empty() {
        println!("nothing applied yet; try `jobcd sync --repo . --path examples`");
        return Ok(Outcome::Success);
    }
    let runs = executor.runs(None)?;
    let states = executor.cron_states()?;
    let jobs: Vec<_> = runs.iter().map(|r| r.job.clone()).collect();
    let now = Timestamp::now();
    for o in &objects {
        let origin = if o.source == BY_HAND {
            "by hand".to_string()
        } else {
            format!("source {}", o.source)
        };
        let head = format!(
            "{:?} {}/{} ({origin}: {} @ {})",
            o.kind,
            o.namespace,
            o.name,
            o.path,
            crate::cli::short_sha(&o.revision)
        );
        if o.kind == Kind::ConfigMap {
            let keys = serde_json::from_str::<k8s_openapi::api::core::v1::ConfigMap>(&o.manifest)
                .map(|map| crate::cli::validate::config_map_summary(&map))
                .unwrap_or_default();
            println!("{head}\n  {keys}");
            continue;
        }
        let last = runs.iter().rev().find(|r| {
            r.job.namespace == o.namespace
                && match o.kind {
                    Kind::Job => r.job.name == o.name && r.job.owner_cronjob.is_none(),
                    Kind::CronJob => r.job.owner_cronjob.as_deref() == Some(o.name.as_str()),
                    Kind::ConfigMap => false,
                }
        });
        let last = last.map_or("never run".to_string(), |r| {
            let removed = if r.job.deleted_at.is_some() {
                " (removed)"
            } else {
                ""
            };
            format!(
                "last run {}{removed}, started {}: {}",
                r.job.name,
                r.job.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                verdict(&r.job.status)
            )
        });
        let next = match o.kind {
            Kind::CronJob => next_fire(&o.name, &o.manifest, now),
            Kind::Job | Kind::ConfigMap => String::new(),
        };
        println!("{head}{next}\n  {last}");
        if o.kind == Kind::CronJob {
            let state = states
                .iter()
                .find(|s| s.namespace == o.namespace && s.name == o.name);
            let made: Vec<_> = jobs
                .iter()
                .filter(|j| {
                    j.namespace == o.namespace
                        && j.owner_cronjob.as_deref() == Some(o.name.as_str())
                })
                .collect();
            let health = health::local::observed(o, state, &made)
                .map(|c| c.judge(now, &health::Policy::default()));
            println!("  {}", health_line(health));
        }
    }
    Ok(Outcome::Success)
}

/// "; "SCHEDULE" next at … (zone)" for a recorded CronJob. The local
/// executor evaluates a CronJob without timeZone in this machine's zone.
/// One line on a CronJob's health: what is wrong, or that nothing is.
fn health_line(health: Result<health::Health, health::observe::UnjudgedWhy>) -> String {
    let health = match health {
        Ok(health) => health,
        Err(e) => return format!("health: unknown ({e})"),
    };
    let time = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M UTC").to_string();
    let mut problems = Vec::new();
    let missed: Vec<Timestamp> = health.missed().collect();
    if let Some(last) = missed.last() {
        problems.push(format!("{} missed (last {})", missed.len(), time(*last)));
    }
    for overrun in &health.overruns {
        problems.push(format!(
            "the run of {} was still going at the next slot, {}",
            time(overrun.scheduled),
            time(overrun.next)
        ));
    }
    if let Some(stale) = health.stale {
        let allowed = stale.allowance.as_secs() / 3600;
        problems.push(match stale.last_success {
            Some(at) => format!("stale: last success {} (allowed {allowed} h)", time(at)),
            None => format!("stale: no success in the {allowed} h allowed"),
        });
    }
    if let Some(age) = health.suspended_too_long {
        problems.push(format!("suspended for {} days", age.as_secs() / 86_400));
    }
    if problems.is_empty() {
        let on_time = health
            .slots
            .iter()
            .filter(|s| matches!(s.state, health::SlotState::Ran { .. }))
            .count();
        format!("health: ok ({on_time} of {} slots ran)", health.slots.len())
    } else {
        format!("health: {}", problems.join("; "))
    }
}

fn next_fire(name: &str, manifest: &str, now: Timestamp) -> String {
    let spec = serde_json::from_str::<CronJob>(manifest)
        .map_err(|e| e.to_string())
        .and_then(|cron| CronSpec::from_cronjob(name, &cron));
    let spec = match spec {
        Ok(spec) => spec,
        Err(e) => return format!("; cannot be scheduled: {e}"),
    };
    let schedule = spec.schedule.as_str();
    if spec.suspend {
        return format!("; {schedule:?} suspended");
    }
    match spec.schedule.next_after(now, &spec.zone) {
        Some(next) => format!(
            "; {schedule:?} next at {} ({})",
            next.to_zoned(spec.zone.time_zone().clone())
                .strftime("%Y-%m-%d %H:%M:%S %Z"),
            spec.zone.name()
        ),
        None => format!("; {schedule:?} never fires"),
    }
}

pub(super) fn runs(executor: &Executor, name: Option<&str>) -> anyhow::Result<Outcome> {
    let runs = executor.runs(name)?;
    if runs.is_empty() {
        println!("no runs yet");
    }
    for r in runs {
        let deleted = r
            .job
            .deleted_at
            .map_or(String::new(), |t| format!(" (deleted {t})"));
        println!(
            "{}/{} uid {} created {}{deleted}: {}",
            r.job.namespace,
            r.job.name,
            &r.job.uid[..8],
            r.job.created_at,
            verdict(&r.job.status)
        );
        for p in &r.pods {
            let exits: Vec<String> = p.exits.iter().map(|(c, e)| format!("{c}={e}")).collect();
            let reason = p
                .reason
                .as_deref()
                .map_or(String::new(), |r| format!(" [{r}]"));
            println!(
                "  pod {} {:?}{reason} restarts {} exits [{}] {} -> {}",
                p.name,
                p.phase,
                p.restarts,
                exits.join(", "),
                p.started_at.map_or("-".into(), |t| t.to_string()),
                p.finished_at.map_or("-".into(), |t| t.to_string())
            );
            // On one line each, escaped: a message is the container's text.
            for (container, message) in &p.messages {
                println!(
                    "    {container} terminated with message {:?}",
                    message.trim_end()
                );
            }
        }
    }
    Ok(Outcome::Success)
}

pub(super) async fn logs(executor: &Executor, pod: &str, follow: bool) -> anyhow::Result<Outcome> {
    let Some(record) = executor.pod(pod)? else {
        anyhow::bail!("no pod named {pod}; `jobcd local runs` lists them");
    };
    let mut offsets: Vec<(PathBuf, u64)> = Vec::new();
    loop {
        // Read the state before the files: output written before the pod
        // was seen finished is then always printed.
        let finished = executor.pod(pod)?.is_none_or(|p| p.finished_at.is_some());
        let Some(files) = executor.logs(pod)? else {
            if record.finished_at.is_some() {
                anyhow::bail!(
                    "the logs of pod {pod} were removed with its Job (history limit or ttlSecondsAfterFinished)"
                );
            }
            if !follow {
                println!("(pod {pod} has not started yet)");
                return Ok(Outcome::Success);
            }
            tokio::time::sleep(FOLLOW_POLL).await;
            continue;
        };
        for file in files {
            if !offsets.iter().any(|(f, _)| *f == file) {
                offsets.push((file, 0));
            }
        }
        let many = offsets.len() > 1;
        let mut out = std::io::stdout().lock();
        for (file, offset) in &mut offsets {
            let bytes = read_from(file, *offset)?;
            if bytes.is_empty() {
                continue;
            }
            *offset += bytes.len() as u64;
            if many {
                let container = file.file_stem().unwrap_or_default().to_string_lossy();
                for line in String::from_utf8_lossy(&bytes).split_inclusive('\n') {
                    write!(out, "[{container}] {line}")?;
                }
            } else {
                out.write_all(&bytes)?;
            }
        }
        out.flush()?;
        drop(out);
        if !follow || finished {
            return Ok(Outcome::Success);
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

/// How often `logs --follow` looks for new output.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// The bytes of `file` from `offset` on.
fn read_from(file: &Path, offset: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    f.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", file.display()))?;
    Ok(bytes)
}
