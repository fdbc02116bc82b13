//! The service's HTTP side: push webhooks (`POST /hooks/github`,
//! `/hooks/gitlab`, `/hooks/gitea`), liveness (`GET /healthz`), readiness
//! (`GET /readyz`: after the first successful sync of every source, or at
//! once on a standby replica; otherwise it says which source is not ready
//! and how its last sync ended) and
//! metrics (`GET /metrics`).
//!
//! A webhook is answered at once: it is verified against the secret of
//! each source that has one (constant time), read, and the sources it
//! concerns are triggered; the reconcile runs in the background. A delivery
//! no source's secret verifies gets 401 and triggers nothing; one that is
//! not a push, or pushes a ref no source follows, triggers nothing; one
//! already acted on (a replay) triggers nothing; a body over
//! [`HOOK_BODY_LIMIT`] gets 413.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};

use super::deliveries::{Deliveries, Delivery};
use super::followers::Owns;
use super::trigger::{Handle, Reason};
use super::webhook::{self, Forge};

/// A source as webhooks see it.
#[derive(Debug, Clone)]
pub struct HookSource {
    /// Its name.
    pub name: String,
    /// The repository it syncs.
    pub repo: webhook::RepositoryKey,
    /// The ref it follows (None: the default branch).
    pub reference: Option<String>,
    /// Its webhook secret; a source without one is never triggered by a hook.
    pub secret: Option<Vec<u8>>,
    /// Fires its reconcile.
    pub trigger: Handle,
}

/// What the endpoints read.
pub struct Service {
    /// The sources.
    pub sources: Vec<HookSource>,
    /// Why each source that has not synced once yet is not ready, a
    /// sentence each (none: ready).
    pub not_ready: Box<dyn Fn() -> Vec<String> + Send + Sync>,
    /// Why this replica reconciles nothing now (another replica holds the
    /// leader Lease, or every shard); None while it reconciles.
    pub standby: Box<dyn Fn() -> Option<&'static str> + Send + Sync>,
    /// Whether this replica reconciles source `name` (with sharding, only
    /// the sources of the shards it holds).
    pub owns: Owns,
    /// Who reconciles the sources this replica does not, for answers:
    /// "the leader", "the replica holding its shard".
    pub others: &'static str,
    /// The metrics, in Prometheus' text format.
    pub metrics: Box<dyn Fn() -> String + Send + Sync>,
    /// Hands the sources a verified push concerns that this replica does
    /// not reconcile to the one that does (None: the push is refused with
    /// 503).
    pub relay: Option<Relay>,
    /// The deliveries acted on, so that a replay triggers nothing.
    pub deliveries: Deliveries,
}

/// The largest webhook body accepted (413 above it). Push payloads list
/// at most 20 commits (GitHub, GitLab) and weigh kilobytes; GitHub caps
/// its deliveries at 25 MB. A push not delivered is still seen by the
/// next poll.
pub const HOOK_BODY_LIMIT: usize = 4 << 20;

/// Sends source names to the leader; the error is for the answer.
pub type Relay = Box<
    dyn Fn(Vec<String>) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync,
>;

/// The routes.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/hooks/github", post(github))
        .route("/hooks/gitlab", post(gitlab))
        .route("/hooks/gitea", post(gitea))
        .layer(DefaultBodyLimit::max(HOOK_BODY_LIMIT))
        .with_state(service)
}

async fn readyz(State(s): State<Arc<Service>>) -> (StatusCode, String) {
    if let Some(why) = (s.standby)() {
        // Healthy and ready to take over: a standby is not restarted, and
        // a rolling update can go on while the leader runs.
        return (StatusCode::OK, format!("standby: {why}\n"));
    }
    let not_ready = (s.not_ready)();
    if not_ready.is_empty() {
        (StatusCode::OK, "ready\n".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready:\n{}\n", not_ready.join("\n")),
        )
    }
}

async fn metrics(State(s): State<Arc<Service>>) -> ([(&'static str, &'static str); 1], String) {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        (s.metrics)(),
    )
}

async fn github(s: State<Arc<Service>>, h: HeaderMap, body: Bytes) -> (StatusCode, String) {
    hook(&s, Forge::GitHub, &h, &body).await
}

async fn gitlab(s: State<Arc<Service>>, h: HeaderMap, body: Bytes) -> (StatusCode, String) {
    hook(&s, Forge::GitLab, &h, &body).await
}

async fn gitea(s: State<Arc<Service>>, h: HeaderMap, body: Bytes) -> (StatusCode, String) {
    hook(&s, Forge::Gitea, &h, &body).await
}

/// Handles one delivery; the answer says what was triggered.
async fn hook(
    service: &Service,
    forge: Forge,
    headers: &HeaderMap,
    body: &[u8],
) -> (StatusCode, String) {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (signature, event) = match forge {
        Forge::GitHub => (header("x-hub-signature-256"), header("x-github-event")),
        Forge::GitLab => (header("x-gitlab-token"), header("x-gitlab-event")),
        Forge::Gitea => (
            header("x-gitea-signature").or(header("x-forgejo-signature")),
            header("x-gitea-event").or(header("x-forgejo-event")),
        ),
    };
    // Each distinct secret is checked once: a fleet of sources often
    // shares one, and 5,000 HMACs per delivery added up.
    let mut checked: std::collections::HashMap<&[u8], bool> = std::collections::HashMap::new();
    let verified: Vec<&HookSource> = service
        .sources
        .iter()
        .filter(|s| {
            s.secret.as_deref().is_some_and(|secret| {
                *checked
                    .entry(secret)
                    .or_insert_with(|| webhook::verify(forge, secret, body, signature))
            })
        })
        .collect();
    if verified.is_empty() {
        return (
            StatusCode::UNAUTHORIZED,
            "the signature or token matches no source's webhook secret\n".into(),
        );
    }
    let Some(push) = webhook::push(forge, event, body) else {
        return (StatusCode::OK, "not a push: nothing to do\n".into());
    };
    let concerned: Vec<&HookSource> = verified
        .into_iter()
        .filter(|s| webhook::concerns(&push, &s.repo, s.reference.as_deref()))
        .collect();
    if concerned.is_empty() {
        return (
            StatusCode::ACCEPTED,
            "no source follows this repository and branch\n".into(),
        );
    }
    let id = webhook::delivery_headers(forge)
        .iter()
        .find_map(|name| header(name));
    let delivery = Delivery::of(id, body);
    if !service
        .deliveries
        .claim(&delivery, std::time::Instant::now())
    {
        return (
            StatusCode::OK,
            format!(
                "delivery {} was already received: nothing to do\n",
                delivery.id.as_deref().unwrap_or("with this body")
            ),
        );
    }
    let (mine, theirs): (Vec<&HookSource>, Vec<&HookSource>) =
        concerned.into_iter().partition(|s| (service.owns)(&s.name));
    let names = |sources: &[&HookSource]| -> Vec<String> {
        sources.iter().map(|s| s.name.clone()).collect()
    };
    let (names, relayed) = (names(&mine), names(&theirs));
    for source in &mine {
        source.trigger.fire(Reason::Webhook);
    }
    let mut answer = String::new();
    if !names.is_empty() {
        answer = format!("triggered: {}\n", names.join(", "));
    }
    if !relayed.is_empty() {
        let Some(relay) = &service.relay else {
            // The forge shows the failed delivery (and can redeliver it);
            // the leader's poll picks the commit up in any case.
            service.deliveries.release(&delivery);
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{answer}this replica is a standby for {}: {} reconciles; redeliver, or wait for its poll\n",
                    relayed.join(", "),
                    service.others
                ),
            );
        };
        match relay(relayed.clone()).await {
            Ok(()) => answer.push_str(&format!(
                "relayed to {}: {}\n",
                service.others,
                relayed.join(", ")
            )),
            Err(e) => {
                service.deliveries.release(&delivery);
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "{answer}this replica is a standby and could not reach {}: {e}\n",
                        service.others
                    ),
                );
            }
        }
    }
    (StatusCode::ACCEPTED, answer)
}
