//! Server-Sent Events: `/ui/events` tells an open page what changed — a
//! source's card (`event: source`) and a run's row (`event: run`), each
//! as the HTML the page would render, so the script swaps it in — and
//! `/ui/pods/<pod>/logs/follow` sends what a container writes to its log
//! (`event: log`). Streams exist only while a page is open; with no page
//! open nothing is rendered, read or kept.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::broadcast::error::RecvError;

use super::inspect::Inspect;
use super::pages::{param, valid_name};
use super::views::{RunFragment, RunRow, SourceFragment, SourceView};
use super::{Dashboard, Shown};
use crate::target::{RunEvent, Target};

/// How often a followed log is looked at for more.
const LOG_POLL: Duration = Duration::from_millis(250);
/// The most of a log one event carries.
const LOG_CHUNK: u64 = 64 * 1024;

/// The page updates.
pub async fn events<T: Shown>(State(d): State<Arc<Dashboard<T>>>) -> impl IntoResponse {
    let state = (d.board.changes(), Target::events(d.target.as_ref()), d);
    let stream = futures::stream::unfold(state, |(mut cards, mut runs, d)| async move {
        loop {
            let event = tokio::select! {
                () = d.stop.cancelled() => return None,
                changed = cards.recv() => match changed {
                    Ok(name) => source_event(&d, &name),
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return None,
                },
                happened = runs.recv() => match happened {
                    Ok(RunEvent::Started { job, .. } | RunEvent::Pod { job, .. }) => run_event(&d, &job.uid).await,
                    Ok(RunEvent::Ended(outcome)) => run_event(&d, &outcome.uid).await,
                    Err(RecvError::Lagged(_)) => None,
                    Err(RecvError::Closed) => return None,
                },
            };
            if let Some(event) = event {
                return Some((Ok::<Event, Infallible>(event), (cards, runs, d)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn source_event<T>(d: &Dashboard<T>, name: &str) -> Option<Event> {
    let card = SourceView::of(d.board.card(name)?, (d.owns)(name), Timestamp::now());
    let html = SourceFragment { card: &card }.render().ok()?;
    Some(Event::default().event("source").data(lines(&html)))
}

async fn run_event<T: Shown>(d: &Dashboard<T>, uid: &str) -> Option<Event> {
    let detail = Inspect::run(d.target.as_ref(), uid).await.ok()??;
    let row = RunRow::of(&detail.run, Timestamp::now());
    let html = RunFragment { run: &row }.render().ok()?;
    Some(Event::default().event("run").data(lines(&html)))
}

/// Follows one log file of a pod from byte `from` on.
pub async fn follow_logs<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    Path(pod): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let query = query.as_deref();
    let index: usize = param(query, "file")
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    // A browser reconnecting says where it got to (each event's id is the
    // offset after it); the first time, the page says where it ended.
    let from: u64 = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .or_else(|| param(query, "from"))
        .and_then(|i| i.parse().ok())
        .unwrap_or(0);
    let path = valid_name(&pod)
        .then(|| d.target.logs(&pod))
        .flatten()
        .and_then(|files| files.into_iter().nth(index));
    let Some(path) = path else {
        return (StatusCode::NOT_FOUND, "no such log\n").into_response();
    };
    let stop = d.stop.clone();
    let stream = futures::stream::unfold((path, from), |(path, mut offset)| async move {
        loop {
            let length = tokio::fs::metadata(&path).await.map(|m| m.len()).ok()?;
            if length < offset {
                // Truncated (a restarted container's log starts over).
                offset = 0;
            }
            if length > offset {
                let mut file = tokio::fs::File::open(&path).await.ok()?;
                file.seek(std::io::SeekFrom::Start(offset)).await.ok()?;
                let mut chunk = Vec::new();
                let want = (length - offset).min(LOG_CHUNK);
                file.take(want).read_to_end(&mut chunk).await.ok()?;
                offset += chunk.len() as u64;
                let event = Event::default()
                    .event("log")
                    .id(offset.to_string())
                    .data(lines(&String::from_utf8_lossy(&chunk)));
                return Some((Ok::<Event, Infallible>(event), (path, offset)));
            }
            tokio::time::sleep(LOG_POLL).await;
        }
    });
    // Ends at shutdown, like the page updates.
    let stream = futures::StreamExt::take_until(stream, stop.cancelled_owned());
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// `text` with every carriage return made a line feed (`\r\n` one line
/// feed): an event cannot carry one, and a log's progress bar writes them.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carriage_returns_become_line_feeds() {
        assert_eq!(lines("a\r\nb\rc\n"), "a\nb\nc\n");
        // What the event takes without panicking.
        let _ = Event::default().data(lines("10%\r20%\r\n"));
    }
}
