//! The dashboard `jobcd serve` shows under `/ui/`: each source and the
//! revision it is at, every CronJob's timeline of past and coming runs in
//! its zone, recent runs with their pods (and on the local target their
//! logs), and each commit's statuses as jobcd reported them.
//!
//! Server-rendered HTML (askama templates compiled into the binary); one
//! small script, served from here, that applies the Server-Sent Events of
//! `/ui/events` to the page (a source's card, a run's row) and follows a
//! pod's log. Everything reads on request: nothing is kept or computed for
//! the dashboard while no one looks.
//!
//! Read-only. Behind an optional bearer token or basic auth (each from a
//! file or the environment); every answer carries a Content-Security-Policy
//! that allows only this server's own script and style.

mod auth;
mod inspect;
mod live;
mod pages;
pub mod timeline;
mod views;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

pub use auth::Auth;
pub use inspect::Inspect;

use super::board::Board;
use super::followers::Owns;
use crate::health::Policy;
use crate::health::observe::Observe;
use crate::report::forge;
use crate::target::Target;

/// Every answer's Content-Security-Policy: this server's own script,
/// style and images, nothing inline, no frames, no other origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Whether this replica reconciles, as the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The only replica.
    Alone,
    /// It holds the leader Lease.
    Leader,
    /// It holds some shards' Leases.
    Shards,
    /// A standby, and why.
    Standby(&'static str),
}

/// What the pages read.
pub struct Dashboard<T> {
    /// The target.
    pub target: Arc<T>,
    /// Which target, in words ("local executor", "Kubernetes cluster").
    pub target_kind: &'static str,
    /// The sources' cards.
    pub board: Arc<Board>,
    /// jobcd's state directory, whose outbox holds the statuses reported
    /// on commits (read with a connection of the page's own: the
    /// dashboard never holds the status reporter open).
    pub state_dir: PathBuf,
    /// Ends the live streams (at shutdown).
    pub stop: CancellationToken,
    /// This replica's part.
    pub role: Arc<dyn Fn() -> Role + Send + Sync>,
    /// Whether this replica reconciles a source now (a standby, or a
    /// replica without that source's shard, shows it as another's).
    pub owns: Owns,
    /// Each source's forge, for links to its commits.
    pub forges: BTreeMap<String, forge::Config>,
    /// How CronJob health is judged.
    pub health: Policy,
    /// Who may look.
    pub auth: Auth,
}

/// What a target must tell for the dashboard.
pub trait Shown: Target + Observe + Inspect + Send + Sync + 'static {}
impl<T: Target + Observe + Inspect + Send + Sync + 'static> Shown for T {}

/// The dashboard's routes, all under `/ui/` (the pages' links and the
/// script name them so too).
pub fn router<T: Shown>(dashboard: Arc<Dashboard<T>>) -> Router {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(pages::overview::<T>))
        .route("/ui/cronjobs", get(pages::cronjobs::<T>))
        .route("/ui/cronjobs/{namespace}/{name}", get(pages::cronjob::<T>))
        .route("/ui/runs", get(pages::runs::<T>))
        .route("/ui/runs/{uid}", get(pages::run::<T>))
        .route("/ui/pods/{pod}/logs", get(pages::logs::<T>))
        .route("/ui/pods/{pod}/logs/follow", get(live::follow_logs::<T>))
        .route("/ui/commits/{source}/{sha}", get(pages::commit::<T>))
        .route("/ui/events", get(live::events::<T>))
        .route("/ui/assets/dashboard.css", get(css))
        .route("/ui/assets/dashboard.js", get(js))
        .route("/ui/{*rest}", get(pages::not_found))
        .layer(middleware::from_fn_with_state(
            dashboard.clone(),
            guard::<T>,
        ))
        .with_state(dashboard)
}

/// Asks for credentials when they are set, and puts the security headers
/// on every answer.
async fn guard<T: Shown>(
    State(d): State<Arc<Dashboard<T>>>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = match d.auth.check(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(challenge) => {
            let mut r = (
                StatusCode::UNAUTHORIZED,
                "the dashboard asks for credentials\n",
            )
                .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
            r
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}

/// The stylesheet, compiled in.
const CSS: &str = include_str!("assets/dashboard.css");
/// The script, compiled in.
const JS: &str = include_str!("assets/dashboard.js");

async fn css() -> impl IntoResponse {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(kind: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, kind),
            // Assets change with the binary only.
            (header::CACHE_CONTROL, "private, max-age=300"),
        ],
        body,
    )
}
