//! `health:` (how often CronJobs are judged, and by what rules) and
//! `notifications:` (who is told of their troubles).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use super::read::{Map, Problems};
use super::{SecretRef, secret};
use crate::health::Policy;
use crate::health::track::Kind;
use crate::report::notify::{DEFAULT_RESEND, Format};

/// Default time between two looks at the CronJobs, seconds.
pub const DEFAULT_INTERVAL: u64 = 30;

/// How CronJob health is watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Time between two looks (0: never look).
    pub interval: Duration,
    /// The rules.
    pub policy: Policy,
}

impl Default for Health {
    fn default() -> Health {
        Health {
            interval: Duration::from_secs(DEFAULT_INTERVAL),
            policy: Policy::default(),
        }
    }
}

/// One receiver of notifications, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Its name.
    pub name: String,
    /// How it is spoken to.
    pub format: Format,
    /// Where, written in the file (not for Slack, whose URL is a secret).
    pub url: Option<String>,
    /// Where, from a file or the environment.
    pub url_secret: Option<SecretRef>,
    /// The webhook's HMAC key, or Alertmanager's bearer token.
    pub secret: Option<SecretRef>,
    /// The kinds it is told about.
    pub events: BTreeSet<Kind>,
    /// Whether it is told of recoveries.
    pub recovered: bool,
    /// How often a firing alert is sent again (Alertmanager).
    pub resend: Duration,
}

/// The events a receiver may select: the kinds, and `recovered`.
const RECOVERED: &str = "recovered";

pub(super) fn read_health(top: &Map<'_>, p: &mut Problems<'_>) -> Health {
    let mut out = Health::default();
    let Some(m) = top.get("health").and_then(|n| Map::of(n, "health", p)) else {
        return out;
    };
    m.only(&["interval", "grace", "stalePeriods", "suspendedMaxAge"], p);
    if let Some(secs) = m.duration("interval", p) {
        out.interval = Duration::from_secs(secs);
    }
    if let Some(secs) = m.duration("grace", p) {
        out.policy.grace = Duration::from_secs(secs);
    }
    if let Some(n) = m.integer("stalePeriods", 1..=1000, p) {
        out.policy.stale_periods = n as u32;
    }
    if let Some(secs) = m.duration("suspendedMaxAge", p) {
        // 0: a suspension is never too old.
        out.policy.suspended_max_age = (secs > 0).then(|| Duration::from_secs(secs));
    }
    out
}

pub(super) fn read_notifications(top: &Map<'_>, p: &mut Problems<'_>) -> Vec<Notification> {
    let Some(node) = top.get("notifications") else {
        return Vec::new();
    };
    let crate::yaml::Value::Seq(items) = &node.value else {
        p.add(
            node.line,
            "notifications",
            format!("expected a list of receivers, found {}", node.type_name()),
            None,
        );
        return Vec::new();
    };
    let mut names = HashSet::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("notifications[{i}]");
        let Some(m) = Map::of(item, &at, p) else {
            continue;
        };
        m.only(
            &[
                "name",
                "kind",
                "url",
                "urlFile",
                "urlEnv",
                "secretFile",
                "secretEnv",
                "events",
                "resend",
            ],
            p,
        );
        let line = |key: &str| m.get(key).map_or(item.line, |n| n.line);
        let name = m.required("name", p).unwrap_or_default();
        if !name.is_empty() && !names.insert(name.clone()) {
            p.add(
                line("name"),
                &m.path_of("name"),
                format!("receiver {name:?} is defined twice"),
                Some("each receiver needs its own name"),
            );
        }
        let format = match m.required("kind", p).as_deref() {
            Some("webhook") => Some(Format::Webhook),
            Some("slack") => Some(Format::Slack),
            Some("alertmanager") => Some(Format::Alertmanager),
            Some(other) => {
                p.add(
                    line("kind"),
                    &m.path_of("kind"),
                    format!("{other:?} is not a kind of receiver"),
                    Some("webhook, slack or alertmanager"),
                );
                None
            }
            None => None,
        };
        let url = m.string("url", p);
        let url_secret = secret(&m, "url", &at, p, false);
        match (&url, &url_secret, format) {
            (Some(_), _, Some(Format::Slack)) => p.add(
                line("url"),
                &m.path_of("url"),
                "a Slack webhook URL is a secret and is never written in the file",
                Some("give urlFile or urlEnv"),
            ),
            (Some(_), Some(_), _) => p.add(
                line("url"),
                &m.path_of("url"),
                "give url, urlFile or urlEnv, only one",
                None,
            ),
            (None, None, _) => p.add(
                item.line,
                &m.path_of("url"),
                "url (or urlFile, urlEnv) is required",
                None,
            ),
            _ => {}
        }
        if let Some(url) = &url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            p.add(
                line("url"),
                &m.path_of("url"),
                format!("{url:?} is not an http:// or https:// URL"),
                None,
            );
        }
        let secret_ref = secret(&m, "secret", &at, p, false);
        if secret_ref.is_some() && format == Some(Format::Slack) {
            p.add(
                line("secretFile").max(line("secretEnv")),
                &m.path_of("secretFile"),
                "Slack signs nothing: its URL is the secret",
                Some("remove secretFile/secretEnv"),
            );
        }
        let (events, recovered) = match m.strings("events", p) {
            None => (Kind::ALL.into_iter().collect(), true),
            Some(list) => {
                let mut kinds = BTreeSet::new();
                let mut recovered = false;
                for event in &list {
                    match event.parse::<Kind>() {
                        Ok(kind) => {
                            kinds.insert(kind);
                        }
                        Err(_) if event == RECOVERED => recovered = true,
                        Err(e) => p.add(
                            line("events"),
                            &m.path_of("events"),
                            e,
                            Some("missed, overrunning, stale, suspended, failed, recovered"),
                        ),
                    }
                }
                (kinds, recovered)
            }
        };
        let resend = m
            .duration("resend", p)
            .map_or(DEFAULT_RESEND, Duration::from_secs);
        if m.get("resend").is_some() && format != Some(Format::Alertmanager) {
            p.add(
                line("resend"),
                &m.path_of("resend"),
                "only Alertmanager alerts are sent again while they fire",
                Some("remove resend"),
            );
        } else if resend.is_zero() {
            p.add(
                line("resend"),
                &m.path_of("resend"),
                "resend must be at least 1s",
                None,
            );
        }
        if let Some(format) = format {
            out.push(Notification {
                name,
                format,
                url,
                url_secret,
                secret: secret_ref,
                events,
                recovered,
                resend,
            });
        }
    }
    out
}
