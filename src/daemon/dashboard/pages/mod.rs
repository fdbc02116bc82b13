//! The pages: each handler reads what it shows (the board, the target's
//! CronJobs and runs, the outbox) when it is asked, and renders a
//! template. The overview and a commit's statuses are here; the CronJob
//! pages in [`cronjobs`], the run pages in [`runs`].

mod cronjobs;
mod runs;

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use jiff::Timestamp;

pub use cronjobs::{cronjob, cronjobs};
pub use runs::{logs, run, runs};

use super::inspect::{Inspect, RunView};
use super::views::{RunRow, SourceView, When, utc};
use super::{Dashboard, Role, Shown};
use crate::health::observe::{Observation, Observe};
use crate::report::outbox::Outbox;

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
        for run in &mut runs {
            attribute(run, seen);
        }
    }
    Ok(runs)
}

/// A run whose Job names no commit (a CronJob made it) gets its CronJob's
/// commit and source, as `seen` has them.
fn attribute(run: &mut RunView, seen: &Observation) {
    if run.revision.is_some() {
        return;
    }
    if let Some(c) = seen
        .cronjobs
        .iter()
        .find(|c| Some(&c.name) == run.cronjob.as_ref() && c.namespace == run.namespace)
    {
        run.revision = Some(c.revision.clone());
        run.source.get_or_insert_with(|| c.source.clone());
    }
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
            .map(|c| SourceView::of(c, (d.owns)(&c.name), now))
            .collect(),
        cronjob_summary,
        caption: "The latest runs, newest first",
        live_runs: "prepend",
        runs: rows(&runs[..runs.len().min(RECENT)], now),
    })
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
