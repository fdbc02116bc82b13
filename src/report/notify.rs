//! Notifications of CronJob health: a notice (a missed slot, an overrun,
//! staleness, a long suspension, a failed run, and each recovery) becomes
//! a message for each receiver that selected its kind, queued in the
//! durable outbox like a commit status — same retries, dedupe and rate
//! limits — and delivered as
//!
//! - a generic **webhook**: the [`Message`] as JSON, signed like GitHub
//!   signs its hooks (`X-Jobcd-Signature-256: sha256=<hex HMAC-SHA256 of
//!   the body>`) when the receiver has a secret;
//! - a **Slack**-compatible incoming webhook: `{"text": …}`;
//! - **Alertmanager**: `POST /api/v2/alerts` with one alert, re-sent while
//!   it fires (its `endsAt` a few re-sends ahead, so that alerts of a
//!   jobcd that died resolve on their own) and resolved (`endsAt` now)
//!   when the CronJob recovers.
//!
//! In the outbox a message is keyed by its commit and the context
//! `jobcd/cronjob/<ns>/<name>/<kind>`: the latest state of each trouble
//! wins, as for statuses.

use std::collections::BTreeSet;
use std::time::Duration;

use hmac::{Hmac, Mac};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{Failure, Reporter, State, Status, cronjob_context};
use crate::health::track::{Change, Kind, Notice, Trouble};
use crate::source::Secret;

/// How a receiver is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON [`Message`], HMAC-signed when there is a secret.
    Webhook,
    /// Slack's incoming-webhook payload.
    Slack,
    /// Alertmanager's `POST /api/v2/alerts`.
    Alertmanager,
}

impl Format {
    /// Its name in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Webhook => "webhook",
            Format::Slack => "slack",
            Format::Alertmanager => "alertmanager",
        }
    }
}

/// Alertmanager receivers re-send a firing alert this often by default.
pub const DEFAULT_RESEND: Duration = Duration::from_secs(60);

/// A firing alert ends this many re-sends after it was sent, unless sent
/// again (Prometheus does the same).
const ENDS_AFTER_RESENDS: u32 = 4;

/// One receiver of notifications.
#[derive(Clone)]
pub struct Receiver {
    /// Its name (unique; the outbox keys deliveries by it).
    pub name: String,
    /// How it is spoken to.
    pub format: Format,
    /// Where (for Alertmanager its root, e.g. `http://alertmanager:9093`).
    pub url: String,
    /// The webhook's HMAC key, or the bearer token for Alertmanager.
    pub secret: Option<Secret>,
    /// The kinds of trouble it is told about.
    pub events: BTreeSet<Kind>,
    /// Whether it is told when a trouble clears (Alertmanager always is).
    pub recovered: bool,
    /// How often a firing alert is sent again (Alertmanager only).
    pub resend: Duration,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// The outbox's name for it.
    pub fn reporter_name(&self) -> String {
        format!("notify/{}", self.name)
    }

    /// Whether it is told of `change`.
    pub fn wants(&self, change: &Change) -> bool {
        let told_recovery = self.recovered || self.format == Format::Alertmanager;
        self.events.contains(&change.kind())
            && (matches!(change, Change::Firing(_)) || told_recovery)
    }

    /// Whether firing troubles are sent again while they last.
    pub fn resends(&self) -> bool {
        self.format == Format::Alertmanager
    }

    /// The outbox entry that tells it `notice`, sent `now`.
    pub fn status(&self, notice: &Notice, now: Timestamp) -> Status {
        let message = Message::of(notice, self.ends_at(notice, now));
        let context = format!(
            "{}/{}",
            cronjob_context(&notice.namespace, &notice.name),
            notice.change.kind().as_str()
        );
        let state = match notice.change {
            Change::Firing(_) => State::Failure,
            Change::Resolved(_) => State::Success,
        };
        let mut status = Status::new(&notice.revision, &context, state, &notice.message);
        status.payload = serde_json::to_string(&message).ok();
        status
    }

    /// When an alert ends: a firing one a few re-sends from now, a resolved
    /// one now; other formats say nothing.
    fn ends_at(&self, notice: &Notice, now: Timestamp) -> Option<Timestamp> {
        if self.format != Format::Alertmanager {
            return None;
        }
        Some(match notice.change {
            Change::Firing(_) => {
                crate::saturating::after(now, self.resend.saturating_mul(ENDS_AFTER_RESENDS))
            }
            Change::Resolved(_) => now,
        })
    }
}

/// Firing or resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// The trouble is there.
    Firing,
    /// It cleared.
    Resolved,
}

/// What a receiver is told (the generic webhook's body, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// `missed`, `overrunning`, `stale`, `suspended` or `failed`.
    pub event: String,
    /// Firing or resolved.
    pub state: Phase,
    /// The CronJob's namespace.
    pub namespace: String,
    /// The CronJob.
    pub name: String,
    /// The source that manages it.
    pub source: String,
    /// The commit its spec came from.
    pub revision: String,
    /// Its zone.
    pub time_zone: String,
    /// What happened, for people.
    pub summary: String,
    /// When the trouble began (the missed slot, the slot that came during
    /// an overrun, the failed run's end, when the allowance ran out, when
    /// the suspension began); for a recovery, when it was noticed.
    pub since: Timestamp,
    /// Alertmanager only: when the alert ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<Timestamp>,
}

impl Message {
    /// The message of `notice`.
    pub fn of(notice: &Notice, ends_at: Option<Timestamp>) -> Message {
        let (state, since) = match notice.change {
            Change::Firing(trouble) => (Phase::Firing, began(trouble, notice.at)),
            Change::Resolved(_) => (Phase::Resolved, notice.at),
        };
        Message {
            event: notice.change.kind().as_str().into(),
            state,
            namespace: notice.namespace.clone(),
            name: notice.name.clone(),
            source: notice.source.clone(),
            revision: notice.revision.clone(),
            time_zone: notice.zone.clone(),
            summary: notice.message.clone(),
            since,
            ends_at,
        }
    }

    /// The alert name (`JobcdCronJobMissed`), if the event is known.
    fn alert_name(&self) -> String {
        self.event
            .parse::<Kind>()
            .map_or_else(|_| "JobcdCronJob".into(), |k| k.alert_name().into())
    }
}

/// When `trouble` began, stable from one look to the next (so that a
/// message told again after a restart is the same message).
fn began(trouble: Trouble, now: Timestamp) -> Timestamp {
    let back = |d: Duration| {
        jiff::SignedDuration::try_from(d)
            .ok()
            .and_then(|d| now.checked_sub(d).ok())
            .unwrap_or(now)
    };
    match trouble {
        Trouble::Missed { last, .. } => last,
        Trouble::Overrunning { next, .. } => next,
        Trouble::Stale(stale) => stale.since,
        Trouble::Suspended { age } => back(age),
        Trouble::Failed { at } => at,
    }
}

/// Delivers messages to one receiver.
pub struct Sender {
    receiver: Receiver,
    name: String,
    agent: ureq::Agent,
}

impl Sender {
    /// A sender for `receiver`.
    pub fn new(receiver: Receiver) -> Sender {
        Sender {
            name: receiver.reporter_name(),
            receiver,
            agent: super::forge::agent(),
        }
    }

    /// The request for `message`: URL, body, headers.
    pub fn request(&self, message: &Message) -> (String, String, Vec<(&'static str, String)>) {
        let r = &self.receiver;
        match r.format {
            Format::Webhook => {
                let body = serde_json::to_string(message).unwrap_or_default();
                let mut headers = vec![("X-Jobcd-Event", message.event.clone())];
                if let Some(secret) = &r.secret {
                    headers.push(("X-Jobcd-Signature-256", sign(secret, body.as_bytes())));
                }
                (r.url.clone(), body, headers)
            }
            Format::Slack => (r.url.clone(), slack_body(message).to_string(), Vec::new()),
            Format::Alertmanager => {
                let url = format!("{}/api/v2/alerts", r.url.trim_end_matches('/'));
                let headers = r
                    .secret
                    .iter()
                    .map(|s| ("Authorization", format!("Bearer {}", s.expose())))
                    .collect();
                (url, alert_body(message).to_string(), headers)
            }
        }
    }
}

impl Reporter for Sender {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver(&self, status: &Status, _at: Timestamp) -> Result<(), Failure> {
        let message: Message = status
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .ok_or_else(|| Failure {
                message: format!(
                    "{}: {} holds no notification to send",
                    self.receiver.name, status.context
                ),
                retry_after: None,
            })?;
        let (url, body, headers) = self.request(&message);
        let mut request = self.agent.post(&url).content_type("application/json");
        for (name, value) in &headers {
            request = request.header(*name, value);
        }
        let response = request.send(body).map_err(|e| Failure {
            message: format!(
                "{} {}: {e}",
                self.receiver.format.as_str(),
                self.receiver.name
            ),
            retry_after: None,
        })?;
        let code = response.status().as_u16();
        if (200..300).contains(&code) {
            return Ok(());
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                super::forge::rate_limit_wait(code, Some(v), None, None, Timestamp::now())
            });
        Err(Failure {
            message: format!(
                "{} {}: POST {}: HTTP {code}",
                self.receiver.format.as_str(),
                self.receiver.name,
                redact(&url)
            ),
            retry_after,
        })
    }
}

/// `sha256=<hex>`: HMAC-SHA256 of `body` keyed with `secret`, as GitHub
/// signs its webhooks (check it with `openssl dgst -sha256 -hmac KEY`).
pub fn sign(secret: &Secret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", crate::hex::hex(&mac.finalize().into_bytes()))
}

/// Slack's incoming-webhook payload: `text` (mrkdwn), the fallback every
/// client shows.
fn slack_body(m: &Message) -> serde_json::Value {
    let mark = match m.state {
        Phase::Firing => ":warning:",
        Phase::Resolved => ":white_check_mark:",
    };
    let sha = &m.revision[..m.revision.len().min(7)];
    serde_json::json!({
        "text": format!(
            "{mark} CronJob *{}/{}* (source `{}`, `{sha}`): {}",
            m.namespace, m.name, m.source, m.summary
        ),
    })
}

/// One postable alert, as Alertmanager's API v2 describes it.
fn alert_body(m: &Message) -> serde_json::Value {
    let mut alert = serde_json::json!({
        "labels": {
            "alertname": m.alert_name(),
            "namespace": m.namespace,
            "name": m.name,
            "source": m.source,
            "severity": "warning",
        },
        "annotations": {
            "summary": m.summary,
            "revision": m.revision,
            "timeZone": m.time_zone,
        },
        "startsAt": m.since.to_string(),
    });
    if let Some(ends) = m.ends_at {
        alert["endsAt"] = serde_json::Value::String(ends.to_string());
    }
    serde_json::json!([alert])
}

/// A URL without its path and query (a Slack webhook's path is its
/// secret).
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}/…")
        }
        None => "…".into(),
    }
}

#[cfg(test)]
mod tests;
