//! The CronJob pages: every CronJob with its schedule explained, its next
//! fire and its last day; and one CronJob's timeline, next fires, clock
//! changes and runs.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::{Layout, not_found_page, observe, param, render, rows, runs_of};
use crate::daemon::dashboard::inspect::RunView;
use crate::daemon::dashboard::timeline::{self, MarkKind, Window};
use crate::daemon::dashboard::views::{RunRow, utc};
use crate::daemon::dashboard::{Dashboard, Shown};
use crate::health::observe::{Observation, Observed};
use crate::health::{CronJob, judge};
use crate::schedule::DstKind;

/// A CronJob's row in the list.
struct CronJobRow {
    namespace: String,
    name: String,
    source: String,
    schedule: String,
    explanation: String,
    zone: String,
    next: String,
    day: String,
    latest: &'static str,
}

impl CronJobRow {
    fn of(c: &Observed, t: &timeline::Timeline) -> CronJobRow {
        let past: Vec<MarkKind> = t
            .marks
            .iter()
            .filter(|m| m.at <= t.now)
            .map(|m| m.kind)
            .collect();
        let count = |kind| past.iter().filter(|k| **k == kind).count();
        let late = t.marks.iter().filter(|m| m.late.is_some()).count();
        let mut day = vec![
            format!("{} complete", count(MarkKind::Complete)),
            format!("{} failed", count(MarkKind::Failed)),
            format!("{} missed", count(MarkKind::Missed)),
        ];
        if late > 0 {
            day.push(format!("{late} late"));
        }
        let latest = c
            .runs
            .iter()
            .max_by_key(|r| r.started)
            .map_or("", |r| match r.outcome {
                crate::health::Outcome::Succeeded => "complete",
                crate::health::Outcome::Failed => "failed",
                crate::health::Outcome::Running => "running",
            });
        CronJobRow {
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            source: c.source.clone(),
            schedule: c.schedule.as_str().to_string(),
            explanation: t.explanation.clone(),
            zone: c.zone.name().to_string(),
            next: t
                .next
                .first()
                .map_or_else(|| "not within five years".into(), |f| f.local.clone()),
            day: day.join(", "),
            latest,
        }
    }
}

fn timeline_of(
    d: &Dashboard<impl Shown>,
    c: &Observed,
    now: Timestamp,
    window: Window,
) -> timeline::Timeline {
    let policy = timeline::judging(&d.health);
    let cronjob = CronJob {
        schedule: &c.schedule,
        zone: &c.zone,
        starting_deadline: c.starting_deadline,
        suspended_since: c.suspended_since,
        max_age: c.max_age,
        since: c.since,
    };
    let health = judge(&cronjob, &c.runs, now, &policy);
    timeline::of(c, &health, now, window)
}

#[derive(Template)]
#[template(path = "cronjobs.html")]
struct CronJobs {
    layout: Layout,
    unreadable: Option<String>,
    cronjobs: Vec<CronJobRow>,
    unjudged: Vec<String>,
}

pub async fn cronjobs<T: Shown>(State(d): State<Arc<Dashboard<T>>>) -> Response {
    let now = Timestamp::now();
    let (mut seen, unreadable) = match observe(&d, now).await {
        Ok(seen) => (seen, None),
        Err(e) => (Observation::default(), Some(e)),
    };
    seen.cronjobs
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    let cronjobs = seen
        .cronjobs
        .iter()
        .map(|c| CronJobRow::of(c, &timeline_of(&d, c, now, Window::Day)))
        .collect();
    render(&CronJobs {
        layout: Layout::of(&d, "cronjobs", now),
        unreadable,
        cronjobs,
        unjudged: seen
            .unjudged
            .iter()
            .map(|u| format!("{}/{}: {}", u.namespace, u.name, u.why))
            .collect(),
    })
}

/// A mark as the SVG draws it.
struct MarkView {
    x: String,
    x_minus: String,
    kind: &'static str,
    late: bool,
    label: String,
}

/// A past slot as the table lists it.
struct SlotView {
    local: String,
    kind: &'static str,
    late: Option<String>,
}

/// A fire time as the table lists it.
struct FireView {
    local: String,
    utc: String,
    iso: String,
    dst: &'static str,
}

#[derive(Template)]
#[template(path = "cronjob.html")]
struct CronJobPage {
    layout: Layout,
    c: CronJobRow,
    commit_link: Option<String>,
    short: String,
    suspended: Option<String>,
    window: &'static str,
    svg_title: String,
    from: String,
    to: String,
    caption: String,
    marks: Vec<MarkView>,
    past: Vec<SlotView>,
    next: Vec<FireView>,
    dst: Vec<String>,
    live_runs: &'static str,
    runs: Vec<RunRow>,
}

pub async fn cronjob<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Response {
    let now = Timestamp::now();
    let window = Window::parse(param(query.as_deref(), "window"));
    let seen = match observe(&d, now).await {
        Ok(seen) => seen,
        Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response(),
    };
    let Some(c) = seen
        .cronjobs
        .iter()
        .find(|c| c.namespace == namespace && c.name == name)
    else {
        let why = seen
            .unjudged
            .iter()
            .find(|u| u.namespace == namespace && u.name == name)
            .map(|u| format!("CronJob {namespace}/{name} cannot be shown: {}", u.why));
        return not_found_page(
            &d,
            why.unwrap_or_else(|| format!("jobcd manages no CronJob {namespace}/{name}.")),
        );
    };
    let t = timeline_of(&d, c, now, window);
    let zone = c.zone.clone();
    let local = |at: Timestamp| zone.wall_clock(at);
    let runs = runs_of(&d, Some(&seen)).await.unwrap_or_default();
    let runs: Vec<RunView> = runs
        .into_iter()
        .filter(|r| r.namespace == namespace && r.cronjob.as_deref() == Some(name.as_str()))
        .collect();
    let past: Vec<SlotView> = t
        .marks
        .iter()
        .filter(|m| m.at <= t.now && m.kind != MarkKind::Skipped)
        .rev()
        .map(|m| SlotView {
            local: local(m.at),
            kind: m.kind.as_str(),
            late: m.late.map(crate::daemon::dashboard::views::took),
        })
        .collect();
    let drawn = t.marks.len();
    let caption = format!(
        "{} to {} ({}): {} slot(s) before now, {} fire time(s) after{}.",
        local(t.from),
        local(t.to),
        zone.name(),
        past.len(),
        t.coming,
        if t.not_drawn > 0 {
            format!("; {} not drawn", t.not_drawn)
        } else {
            String::new()
        }
    );
    let page = CronJobPage {
        layout: Layout::of(&d, "cronjobs", now),
        commit_link: Some(format!("/ui/commits/{}/{}", c.source, c.revision)),
        short: crate::source::short_sha(&c.revision).to_string(),
        suspended: c.suspended_since.map(utc),
        window: window.as_str(),
        svg_title: format!("Timeline of {namespace}/{name}: {drawn} mark(s)"),
        from: local(t.from),
        to: local(t.to),
        caption,
        marks: t
            .marks
            .iter()
            .map(|m| MarkView {
                x: format!("{:.1}", m.x * 10.0),
                x_minus: format!("{:.1}", m.x * 10.0 - 6.0),
                kind: m.kind.as_str(),
                late: m.late.is_some(),
                label: m.label.clone(),
            })
            .collect(),
        past,
        next: t
            .next
            .iter()
            .map(|f| FireView {
                local: f.local.clone(),
                utc: utc(f.at),
                iso: f.at.to_string(),
                dst: match f.dst {
                    Some(DstKind::Repeated) => "the clock goes back: this time comes twice",
                    Some(DstKind::Skipped) => "the clock jumps past this time",
                    None => "",
                },
            })
            .collect(),
        dst: t
            .dst
            .iter()
            .map(|e| match e.kind {
                DstKind::Skipped => format!(
                    "{}: the clock jumps {}; {} does not exist and does not fire that day",
                    e.date,
                    e.stretch,
                    e.times.join(", ")
                ),
                DstKind::Repeated => format!(
                    "{}: the clock goes back over {}; {} happens twice and fires twice",
                    e.date,
                    e.stretch,
                    e.times.join(", ")
                ),
            })
            .collect(),
        c: CronJobRow::of(c, &t),
        live_runs: "prepend",
        runs: rows(&runs, now),
    };
    render(&page)
}
