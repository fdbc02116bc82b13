//! When one CronJob runs, as the controller would run it: its schedule in
//! its zone, the next fire times, how many runs fall in the window, and the
//! fields that change how runs start (suspend, concurrency, deadlines).

use jiff::Timestamp;
use k8s_openapi::api::batch::v1::CronJob;
use serde::Serialize;

use crate::schedule::{DstEffect, Schedule, Zone};

/// Counting stops here; an `@every 1s` schedule over a year is still
/// counted, anything beyond is reported as "more than".
pub const MAX_COUNTED: u64 = 1_000_000;

/// One CronJob's timing in one revision.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timing {
    /// `spec.schedule` as written.
    pub schedule: String,
    /// Plain English, e.g. "At 03:00 every day".
    pub description: String,
    /// The zone it is evaluated in.
    pub time_zone: String,
    /// Whether `spec.timeZone` names it (otherwise the default zone).
    pub time_zone_set: bool,
    /// `spec.suspend`.
    pub suspend: bool,
    /// `spec.concurrencyPolicy` (`Allow` when unset).
    pub concurrency_policy: String,
    /// `spec.startingDeadlineSeconds`.
    pub starting_deadline_seconds: Option<i64>,
    /// The Job template's `activeDeadlineSeconds`.
    pub active_deadline_seconds: Option<i64>,
    /// The next fire times after the preview's "now" (none when suspended
    /// is still listed: suspend stops runs, not the schedule).
    pub next: Vec<Timestamp>,
    /// Fire times in the window, up to [`MAX_COUNTED`].
    pub runs_in_window: u64,
    /// The shortest time between two fire times in the window, seconds.
    pub shortest_interval_seconds: Option<i64>,
    /// DST changes in the window that skip or repeat a fire time.
    pub dst: Vec<DstEffect>,
    #[serde(skip)]
    pub(crate) parsed: Schedule,
    #[serde(skip)]
    pub(crate) zone: Zone,
}

/// The window a preview looks at.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Its start (fire times are strictly after it).
    pub from: Timestamp,
    /// Its end (exclusive).
    pub to: Timestamp,
    /// How many next fire times to list.
    pub runs: usize,
}

impl Timing {
    /// The timing of `cron`, or why it cannot be computed (the manifest
    /// loader has validated schedule and zone, so this is only for objects
    /// that bypassed it).
    pub fn of(cron: &CronJob, default_zone: &Zone, window: Window) -> Result<Timing, String> {
        let spec = cron.spec.clone().unwrap_or_default();
        let parsed = Schedule::parse(&spec.schedule)
            .map_err(|e| format!("spec.schedule {:?}: {e}", spec.schedule))?;
        let zone = match spec.time_zone.as_deref() {
            Some(name) => Zone::named(name).map_err(|e| format!("spec.timeZone: {e}"))?,
            None => default_zone.clone(),
        };
        let next: Vec<Timestamp> = parsed
            .upcoming(window.from, &zone)
            .take(window.runs)
            .collect();
        let (runs_in_window, shortest) = count(&parsed, &zone, window);
        Ok(Timing {
            schedule: spec.schedule.clone(),
            description: parsed.describe(),
            time_zone: zone.name().to_string(),
            time_zone_set: spec.time_zone.is_some(),
            suspend: spec.suspend.unwrap_or(false),
            concurrency_policy: spec
                .concurrency_policy
                .clone()
                .unwrap_or_else(|| "Allow".into()),
            starting_deadline_seconds: spec.starting_deadline_seconds,
            active_deadline_seconds: spec
                .job_template
                .spec
                .as_ref()
                .and_then(|j| j.active_deadline_seconds),
            next,
            runs_in_window,
            shortest_interval_seconds: shortest,
            dst: parsed.dst_effects(&zone, window.from, window.to),
            parsed,
            zone,
        })
    }

    /// Whether anything that decides when runs start differs.
    pub fn differs(&self, other: &Timing) -> bool {
        self.schedule != other.schedule
            || self.time_zone != other.time_zone
            || self.suspend != other.suspend
            || self.concurrency_policy != other.concurrency_policy
            || self.starting_deadline_seconds != other.starting_deadline_seconds
            || self.active_deadline_seconds != other.active_deadline_seconds
    }

    /// Fire times in `[from, to)`, at most `limit`.
    pub fn fires(&self, from: Timestamp, to: Timestamp, limit: usize) -> Vec<Timestamp> {
        self.parsed.fires_between(&self.zone, from, to, limit)
    }

    /// The schedule and its zone.
    pub fn schedule(&self) -> (&Schedule, &Zone) {
        (&self.parsed, &self.zone)
    }
}

/// Fire times in the window and the shortest gap between two of them.
fn count(schedule: &Schedule, zone: &Zone, window: Window) -> (u64, Option<i64>) {
    let fires = schedule.fires_between(zone, window.from, window.to, MAX_COUNTED as usize);
    let shortest = fires
        .windows(2)
        .map(|pair| pair[1].as_second() - pair[0].as_second())
        .min();
    (fires.len() as u64, shortest)
}

/// Something a reviewer should look at twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Warning {
    /// What kind of thing.
    pub kind: WarningKind,
    /// For people, one sentence.
    pub message: String,
}

/// Kinds of [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WarningKind {
    /// A fire time falls in a DST gap or overlap.
    Dst,
    /// `suspend` flips.
    Suspend,
    /// `concurrencyPolicy` changes.
    ConcurrencyPolicy,
    /// `startingDeadlineSeconds` changes.
    StartingDeadline,
    /// A run may outlast the interval between runs while overlaps are allowed.
    LongRun,
    /// Too many CronJobs start in the same minute.
    Collision,
}

/// The warnings about one CronJob's change from `before` to `after`.
pub fn warnings(before: Option<&Timing>, after: Option<&Timing>) -> Vec<Warning> {
    let mut out = Vec::new();
    let mut warn = |kind, message: String| out.push(Warning { kind, message });
    if let Some(after) = after {
        for effect in &after.dst {
            warn(WarningKind::Dst, dst_sentence(effect, &after.time_zone));
        }
    }
    if let (Some(b), Some(a)) = (before, after) {
        if b.suspend != a.suspend {
            warn(
                WarningKind::Suspend,
                if a.suspend {
                    "suspend turns on: no new runs start until it is turned off again (running Jobs continue)".into()
                } else {
                    "suspend turns off: runs start again; a missed run within startingDeadlineSeconds may start at once".into()
                },
            );
        }
        if b.concurrency_policy != a.concurrency_policy {
            warn(
                WarningKind::ConcurrencyPolicy,
                format!(
                    "concurrencyPolicy changes from {} to {}: {}",
                    b.concurrency_policy,
                    a.concurrency_policy,
                    concurrency_meaning(&a.concurrency_policy)
                ),
            );
        }
        if b.starting_deadline_seconds != a.starting_deadline_seconds {
            warn(
                WarningKind::StartingDeadline,
                format!(
                    "startingDeadlineSeconds changes from {} to {}: {}",
                    seconds_or_unset(b.starting_deadline_seconds),
                    seconds_or_unset(a.starting_deadline_seconds),
                    match a.starting_deadline_seconds {
                        Some(s) => format!(
                            "a run that cannot start within {s} s of its time is skipped and counted as missed"
                        ),
                        None => "late runs start however late they are".into(),
                    }
                ),
            );
        }
    }
    if let Some(a) = after
        && let (Some(deadline), Some(period)) =
            (a.active_deadline_seconds, a.shortest_interval_seconds)
        && a.concurrency_policy == "Allow"
        && deadline > period
        && !a.suspend
    {
        warn(
            WarningKind::LongRun,
            format!(
                "a run may take up to {} (activeDeadlineSeconds) but runs start every {} at the closest; with concurrencyPolicy Allow they can pile up: consider Forbid or Replace",
                human_seconds(deadline),
                human_seconds(period)
            ),
        );
    }
    out
}

fn dst_sentence(effect: &DstEffect, zone: &str) -> String {
    let times = list_times(&effect.times);
    match effect.kind {
        crate::schedule::DstKind::Skipped => format!(
            "on {} the clocks in {zone} skip {}: the run at {times} does not happen that day",
            effect.date, effect.stretch
        ),
        crate::schedule::DstKind::Repeated => format!(
            "on {} the clocks in {zone} repeat {}: the run at {times} happens twice that day",
            effect.date, effect.stretch
        ),
    }
}

fn list_times(times: &[String]) -> String {
    const SHOWN: usize = 4;
    if times.len() <= SHOWN {
        times.join(", ")
    } else {
        format!(
            "{} and {} more",
            times[..SHOWN].join(", "),
            times.len() - SHOWN
        )
    }
}

fn concurrency_meaning(policy: &str) -> &'static str {
    match policy {
        "Forbid" => "a run is skipped while the previous one is still running",
        "Replace" => "a new run stops the one still running",
        _ => "runs may overlap",
    }
}

fn seconds_or_unset(s: Option<i64>) -> String {
    s.map_or_else(|| "unset".into(), |s| format!("{s} s"))
}

/// A window's length for people: "7 days", "24 hours", "90 minutes".
pub fn human_window(total: i64) -> String {
    let (n, unit) = if total % 86_400 == 0 {
        (total / 86_400, "day")
    } else if total % 3600 == 0 {
        (total / 3600, "hour")
    } else {
        (total / 60, "minute")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `90` → "1 min 30 s", `7200` → "2 h".
pub fn human_seconds(total: i64) -> String {
    let (d, h, m, s) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(yaml: &str) -> CronJob {
        let objects = crate::testing::objects("c.yaml", yaml);
        match &objects[0].typed {
            crate::manifest::Typed::CronJob(c) => (**c).clone(),
            _ => panic!("not a CronJob"),
        }
    }

    fn timing(spec: &str) -> Timing {
        let yaml = format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: c}}\nspec:\n{spec}\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{{name: m, image: busybox}}]\n"
        );
        let window = Window {
            from: "2026-11-27T07:43:00Z".parse().expect("instant"),
            to: "2026-12-04T07:43:00Z".parse().expect("instant"),
            runs: 3,
        };
        Timing::of(&cron(&yaml), &Zone::utc(), window).expect("valid")
    }

    #[test]
    fn counts_next_times_and_the_shortest_interval() {
        let t = timing("  schedule: \"0 */6 * * *\"");
        assert_eq!(t.runs_in_window, 28);
        assert_eq!(t.shortest_interval_seconds, Some(6 * 3600));
        assert_eq!(
            t.next.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [
                "2026-11-27T12:00:00Z",
                "2026-11-27T18:00:00Z",
                "2026-11-28T00:00:00Z"
            ]
        );
        assert_eq!(t.time_zone, "UTC");
        assert!(!t.time_zone_set);
    }

    #[test]
    fn warns_about_flips_policies_deadlines_and_long_runs() {
        let before = timing("  schedule: \"0 3 * * *\"");
        let after = timing(
            "  schedule: \"*/10 * * * *\"\n  suspend: true\n  concurrencyPolicy: Forbid\n  startingDeadlineSeconds: 60",
        );
        let kinds: Vec<WarningKind> = warnings(Some(&before), Some(&after))
            .iter()
            .map(|w| w.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                WarningKind::Suspend,
                WarningKind::ConcurrencyPolicy,
                WarningKind::StartingDeadline
            ]
        );
        let long = timing("  schedule: \"*/10 * * * *\"");
        let mut long = long;
        long.active_deadline_seconds = Some(3600);
        let found = warnings(Some(&before), Some(&long));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, WarningKind::LongRun);
        assert!(found[0].message.contains("1 h"), "{}", found[0].message);
        assert!(found[0].message.contains("10 min"), "{}", found[0].message);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_seconds(90), "1 min 30 s");
        assert_eq!(human_seconds(7200), "2 h");
        assert_eq!(human_seconds(86_400 + 60), "1 d 1 min");
        assert_eq!(human_seconds(0), "0 s");
        assert_eq!(human_window(7 * 86_400), "7 days");
        assert_eq!(human_window(86_400), "1 day");
        assert_eq!(human_window(36 * 3600), "36 hours");
        assert_eq!(human_window(90 * 60), "90 minutes");
    }
}
