//! The pages: each handler reads what it shows (the board, the target's
//! CronJobs and runs, the outbox) when it is asked, and renders a
//! template.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;

use super::inspect::{ConditionView, Inspect, RUNS_SHOWN, RunView};
use super::timeline::{self, MarkKind, Window};
use super::views::{RunRow, SourceView, When, utc};
use super::{Dashboard, Role, Shown};
use crate::health::observe::{Observation, Observe, Observed};
use crate::health::{CronJob, judge};
use crate::report::outbox::Outbox;
use crate::schedule::DstKind;

/// What every page's frame shows.
pub struct Layout {
    /// The nav entry of this page.
    pub nav: &'static str,
    /// This replica's part, in a word.
    pub role: &'static str,
    /// Its CSS class.
    pub role_class: &'static str,
    /// Which target.
    pub target: &'static str,
    /// When the page was made.
    pub now: When,
}

impl Layout {
    fn of<T>(d: &Dashboard<T>, nav: &'static str, now: Timestamp) -> Layout {
        let (role, role_class) = match (d.role)() {
            Role::Alone => ("reconciling", "synced"),
            Role::Leader => ("leader", "synced"),
            Role::Shards => ("holds shards", "synced"),
            Role::Standby(_) => ("standby", "pending"),
        };
        Layout {
            nav,
            role,
            role_class,
            target: d.target_kind,
            now: When::of(now, now),
        }
    }
}

fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("rendering the page: {e}\n"),
        )
            .into_response(),
    }
}

/// A name as Kubernetes allows it (a DNS subdomain): anything else never
/// reaches a store or a path.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with('.')
        && !name.contains("..")
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFound {
    layout: Layout,
    what: String,
}

fn not_found_page<T>(d: &Dashboard<T>, what: String) -> Response {
    let page = NotFound {
        layout: Layout::of(d, "", Timestamp::now()),
        what,
    };
    (StatusCode::NOT_FOUND, render(&page)).into_response()
}

/// Any other path under `/ui/`.
pub async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "no such page of the dashboard\n")
}

/// The runs, newest first, with their commits filled in from the
/// CronJobs that made them where the Job names none; or why they cannot
/// be read.
async fn runs_of<T: Shown>(
    d: &Dashboard<T>,
    seen: Option<&Observation>,
) -> Result<Vec<RunView>, String> {
    let mut runs = Inspect::runs(d.target.as_ref())
        .await
        .map_err(|e| format!("reading the runs: {}", crate::causes::one_line(&e)))?;
    if let Some(seen) = seen {
        for run in runs.iter_mut().filter(|r| r.revision.is_none()) {
            if let Some(c) = seen
                .cronjobs
                .iter()
                .find(|c| Some(&c.name) == run.cronjob.as_ref() && c.namespace == run.namespace)
            {
                run.revision = Some(c.revision.clone());
                run.source.get_or_insert_with(|| c.source.clone());
            }
        }
    }
    Ok(runs)
}

fn rows(runs: &[RunView], now: Timestamp) -> Vec<RunRow> {
    runs.iter().map(|r| RunRow::of(r, now)).collect()
}

async fn observe<T: Shown>(d: &Dashboard<T>, now: Timestamp) -> Result<Observation, String> {
    Observe::observe(d.target.as_ref(), now)
        .await
        .map_err(|e| format!("reading the CronJobs: {}", crate::causes::one_line(&e)))
}

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    layout: Layout,
    cards: Vec<SourceView>,
    cronjob_summary: String,
    caption: &'static str,
    live_runs: &'static str,
    runs: Vec<RunRow>,
}

/// Recent runs on the overview.
const RECENT: usize = 10;

pub async fn overview<T: Shown>(State(d): State<Arc<Dashboard<T>>>) -> Response {
    let now = Timestamp::now();
    let seen = observe(&d, now).await;
    let runs = runs_of(&d, seen.as_ref().ok()).await.unwrap_or_default();
    let cronjob_summary = match &seen {
        Ok(seen) => {
            let policy = d.health;
            let failing = seen
                .cronjobs
                .iter()
                .filter(|c| {
                    let h = c.judge(now, &policy);
                    h.missed().next().is_some()
                        || h.last_failure
                            .is_some_and(|f| h.last_success.is_none_or(|s| f > s))
                })
                .count();
            format!(
                "{} CronJob(s) managed; {failing} with a missed slot or a failed latest run.",
                seen.cronjobs.len()
            )
        }
        Err(e) => e.clone(),
    };
    render(&Overview {
        layout: Layout::of(&d, "overview", now),
        cards: d
            .board
            .cards()
            .iter()
            .map(|c| SourceView::of(c, now))
            .collect(),
        cronjob_summary,
        caption: "The latest runs, newest first",
        live_runs: "prepend",
        runs: rows(&runs[..runs.len().min(RECENT)], now),
    })
}

#[derive(Template)]
#[template(path = "runs.html")]
struct Runs {
    layout: Layout,
    unreadable: Option<String>,
    caption: String,
    live_runs: &'static str,
    runs: Vec<RunRow>,
}

pub async fn runs<T: Shown>(State(d): State<Arc<Dashboard<T>>>) -> Response {
    let now = Timestamp::now();
    let seen = observe(&d, now).await.ok();
    let (runs, unreadable) = match runs_of(&d, seen.as_ref()).await {
        Ok(runs) => (runs, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    render(&Runs {
        layout: Layout::of(&d, "runs", now),
        unreadable,
        caption: format!("The latest {RUNS_SHOWN} runs at most, newest first"),
        live_runs: "prepend",
        runs: rows(&runs, now),
    })
}

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
    let local = |at: Timestamp| timeline::local_time(at, &zone);
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
            late: m.late.map(super::views::took),
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

/// A pod as the run page lists it.
struct PodRow {
    name: String,
    phase: String,
    started: String,
    finished: String,
    detail: String,
    logs: bool,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    layout: Layout,
    run: RunRow,
    caption: &'static str,
    live_runs: &'static str,
    runs: Vec<RunRow>,
    conditions: Vec<ConditionRow>,
    pods: Vec<PodRow>,
    pods_unreadable: Option<String>,
}

struct ConditionRow {
    kind: String,
    status: String,
    reason: String,
    message: String,
    at: String,
}

impl From<&ConditionView> for ConditionRow {
    fn from(c: &ConditionView) -> ConditionRow {
        ConditionRow {
            kind: c.kind.clone(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            at: c.at.map(utc).unwrap_or_default(),
        }
    }
}

pub async fn run<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    Path(uid): Path<String>,
) -> Response {
    let now = Timestamp::now();
    let detail = match Inspect::run(d.target.as_ref(), &uid).await {
        Ok(Some(detail)) => detail,
        Ok(None) => return not_found_page(&d, format!("No run has the uid {uid}.")),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("reading the run: {}\n", crate::causes::one_line(&e)),
            )
                .into_response();
        }
    };
    let mut run = detail.run.clone();
    if run.revision.is_none() && run.cronjob.is_some() {
        let seen = observe(&d, now).await.ok();
        if let Ok(filled) = runs_of(&d, seen.as_ref()).await
            && let Some(found) = filled.into_iter().find(|r| r.uid == run.uid)
        {
            run = found;
        }
    }
    let row = RunRow::of(&run, now);
    render(&RunPage {
        layout: Layout::of(&d, "runs", now),
        caption: "This run; its row follows it live",
        live_runs: "",
        runs: vec![row.clone()],
        run: row,
        conditions: detail.conditions.iter().map(ConditionRow::from).collect(),
        pods: detail
            .pods
            .iter()
            .map(|p| PodRow {
                name: p.name.clone(),
                phase: p.phase.clone(),
                started: p.started.map(utc).unwrap_or_default(),
                finished: p.finished.map(utc).unwrap_or_default(),
                detail: p.detail.clone(),
                logs: d
                    .target
                    .logs(&p.name)
                    .is_some_and(|files| !files.is_empty()),
            })
            .collect(),
        pods_unreadable: detail.pods_unreadable,
    })
}

/// One container's log as the page shows it.
struct LogFile {
    container: String,
    text: String,
    truncated: bool,
    skipped: u64,
    /// Its length when read: where following begins.
    end: u64,
}

/// The most of a log the page holds (its tail).
pub const LOG_TAIL: u64 = 256 * 1024;

#[derive(Template)]
#[template(path = "logs.html")]
struct Logs {
    layout: Layout,
    pod: String,
    files: Vec<LogFile>,
}

pub async fn logs<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    Path(pod): Path<String>,
) -> Response {
    if !valid_name(&pod) {
        return not_found_page(&d, format!("{pod:?} is not a pod name."));
    }
    let Some(paths) = d.target.logs(&pod) else {
        return not_found_page(
            &d,
            format!(
                "No logs of pod {pod} are kept here (a cluster's kubelets keep them: kubectl logs)."
            ),
        );
    };
    let read = tokio::task::spawn_blocking(move || {
        paths
            .iter()
            .map(|p| tail(p, LOG_TAIL))
            .collect::<Vec<LogFile>>()
    })
    .await
    .unwrap_or_default();
    render(&Logs {
        layout: Layout::of(&d, "runs", Timestamp::now()),
        pod,
        files: read,
    })
}

/// The last `most` bytes of the log at `path`, from a line's start.
fn tail(path: &std::path::Path, most: u64) -> LogFile {
    use std::io::{Read, Seek, SeekFrom};
    let container = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut text = Vec::new();
    let mut skipped = 0;
    let mut end = 0;
    if let Ok(mut file) = std::fs::File::open(path) {
        end = file.metadata().map(|m| m.len()).unwrap_or(0);
        skipped = end.saturating_sub(most);
        if file.seek(SeekFrom::Start(skipped)).is_ok() {
            let _ = file.take(end - skipped).read_to_end(&mut text);
        }
        if skipped > 0 {
            let cut = text.iter().position(|b| *b == b'\n').map_or(0, |i| i + 1);
            text.drain(..cut);
            skipped += cut as u64;
        }
    }
    LogFile {
        container,
        text: String::from_utf8_lossy(&text).into_owned(),
        truncated: skipped > 0,
        skipped,
        end,
    }
}

/// A status as the commit page lists it.
struct StatusRow {
    context: String,
    state: &'static str,
    description: String,
    reporter: String,
    delivery: String,
}

#[derive(Template)]
#[template(path = "commit.html")]
struct CommitPage {
    layout: Layout,
    source: String,
    sha: String,
    short: String,
    forge_url: Option<String>,
    unreadable: Option<String>,
    statuses: Vec<StatusRow>,
}

pub async fn commit<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    Path((source, sha)): Path<(String, String)>,
) -> Response {
    if !(sha.len() >= 4 && sha.len() <= 64 && sha.bytes().all(|b| b.is_ascii_hexdigit())) {
        return not_found_page(&d, format!("{sha:?} is not a commit sha."));
    }
    let read = {
        let (dir, sha) = (d.state_dir.clone(), sha.clone());
        tokio::task::spawn_blocking(move || Outbox::open(&dir)?.of_commit(&sha)).await
    };
    let (statuses, unreadable) = match read {
        Ok(Ok(found)) => (found, None),
        Ok(Err(e)) => (Vec::new(), Some(format!("reading the statuses: {e}"))),
        Err(e) => (Vec::new(), Some(format!("reading the statuses: {e}"))),
    };
    render(&CommitPage {
        layout: Layout::of(&d, "overview", Timestamp::now()),
        forge_url: d.forges.get(&source).map(|f| f.commit_url(&sha)),
        short: crate::source::short_sha(&sha).to_string(),
        source,
        sha,
        unreadable,
        statuses: statuses
            .into_iter()
            .map(|s| StatusRow {
                context: s.context,
                state: s.state.map_or("unknown", |s| s.as_str()),
                description: s.description,
                reporter: s.reporter,
                delivery: match (s.delivered, s.at, s.last_error) {
                    (true, Some(at), _) => format!("delivered {}", utc(at)),
                    (true, None, _) => "delivered".into(),
                    (false, _, Some(e)) => format!("waiting; the last try failed: {e}"),
                    (false, _, None) => "waiting".into(),
                },
            })
            .collect(),
    })
}

/// The value of `key` in a query string (`window=7d&x=1`), undecoded.
pub fn param<'a>(query: Option<&'a str>, key: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_a_directory_are_refused() {
        for good in ["backup-29123", "a.b-c", "x"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [
            "", "..", "../etc", "a/b", ".hidden", "a..b", "UPPER", "a b", "a%2Fb",
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn query_parameters_are_found_by_name() {
        assert_eq!(param(Some("window=7d"), "window"), Some("7d"));
        assert_eq!(param(Some("file=1&from=20"), "from"), Some("20"));
        assert_eq!(param(Some("file=1"), "from"), None);
        assert_eq!(param(None, "window"), None);
    }
}
