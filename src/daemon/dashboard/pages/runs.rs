//! The run pages: the latest runs; one run's conditions and pods; a pod's
//! logs (the local target keeps them).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::{Layout, attribute, not_found_page, observe, render, rows, runs_of, valid_name};
use crate::daemon::dashboard::inspect::{ConditionView, Inspect, RUNS_SHOWN};
use crate::daemon::dashboard::views::{RunRow, utc};
use crate::daemon::dashboard::{Dashboard, Shown};

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
    if run.revision.is_none()
        && run.cronjob.is_some()
        && let Ok(seen) = observe(&d, now).await
    {
        attribute(&mut run, &seen);
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
