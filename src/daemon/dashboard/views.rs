//! What the templates show, made from the board, the target's runs and
//! the outbox: strings ready to print (times in UTC and in words, states
//! as a word and a CSS class), so that the templates hold no logic.

use std::time::Duration;

use askama::Template;
use jiff::Timestamp;

use super::inspect::{RunState, RunView};
use crate::daemon::board::{self, Card, Finding};
use crate::preview::timing::human_seconds;
use crate::reconcile::Verdict;

/// `2026-12-07 03:00:12 UTC`.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `4.2 s` under a minute, then as the preview tells durations: `3 min
/// 10 s`, `2 h 5 min`.
pub fn took(d: Duration) -> String {
    match d.as_secs() {
        0..60 => format!("{:.1} s", d.as_secs_f64()),
        s => human_seconds(s as i64),
    }
}

/// `3 min ago`, `in 40 s`, `2 d ago`.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let secs = at.as_second() - now.as_second();
    let n = secs.unsigned_abs();
    let words = match n {
        0..60 => format!("{n} s"),
        60..3600 => format!("{} min", n / 60),
        3600..86400 => format!("{} h", n / 3600),
        _ => format!("{} d", n / 86400),
    };
    if secs >= 0 {
        format!("in {words}")
    } else {
        format!("{words} ago")
    }
}

/// A time shown: its words and the instant for `<time datetime>`.
#[derive(Debug, Clone)]
pub struct When {
    /// RFC 3339.
    pub iso: String,
    /// In UTC.
    pub utc: String,
    /// Relative to the page's now.
    pub relative: String,
}

impl When {
    pub fn of(at: Timestamp, now: Timestamp) -> When {
        When {
            iso: at.to_string(),
            utc: utc(at),
            relative: relative(at, now),
        }
    }
}

/// A source's card.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub name: String,
    pub repo: String,
    pub reference: String,
    /// The revision's short sha, subject, author and time.
    pub revision: Option<RevisionView>,
    /// `synced`, `failed`, … (also the CSS class).
    pub state: &'static str,
    /// How it ended, in words.
    pub state_text: String,
    pub why: String,
    pub last: Option<When>,
    pub took: String,
    pub running: Option<When>,
    pub next_poll: Option<When>,
    pub drift: Vec<Finding>,
    pub conflicts: Vec<Finding>,
}

/// A revision as shown.
#[derive(Debug, Clone)]
pub struct RevisionView {
    pub sha: String,
    pub short: String,
    pub subject: String,
    pub author: String,
    pub when: When,
}

impl SourceView {
    /// Source `card` at `now`; `owned`: this replica reconciles it (else
    /// what the card says is this replica's last word, not the latest).
    pub fn of(card: &Card, owned: bool, now: Timestamp) -> SourceView {
        let s = card.state();
        let state = match s.last.as_ref().map(|l| l.verdict) {
            _ if !owned => "elsewhere",
            None => "pending",
            Some(Verdict::Synced) => "synced",
            Some(Verdict::Failed) => "failed",
            Some(Verdict::Invalid) => "invalid",
            Some(Verdict::Refused) => "refused",
            Some(Verdict::Error) => "error",
            Some(Verdict::Interrupted) => "interrupted",
        };
        SourceView {
            name: card.name.clone(),
            repo: card.repo.clone(),
            reference: card
                .reference
                .clone()
                .unwrap_or_else(|| "default branch".into()),
            revision: s.revision.as_ref().map(|r| RevisionView {
                sha: r.sha.clone(),
                short: r.short_sha.clone(),
                subject: r.subject.clone(),
                author: r.author.clone(),
                when: When::of(r.committed_at, now),
            }),
            state,
            state_text: match &s.last {
                _ if !owned => {
                    "another replica reconciles it now; its dashboard has the latest".into()
                }
                None => "its first sync has not ended yet".into(),
                Some(last) => board::ended(last.verdict).into(),
            },
            why: s.last.as_ref().map(|l| l.why.clone()).unwrap_or_default(),
            last: s.last.as_ref().map(|l| When::of(l.at, now)),
            took: s.last.as_ref().map(|l| took(l.took)).unwrap_or_default(),
            running: s.running_since.map(|at| When::of(at, now)),
            next_poll: s.next_poll.map(|at| When::of(at, now)),
            drift: s.drift,
            conflicts: s.conflicts,
        }
    }
}

/// A run's row.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub cronjob: Option<String>,
    /// The commit's short sha (empty: none known).
    pub short: String,
    /// The commit's page here.
    pub commit_link: Option<String>,
    pub state: &'static str,
    pub reason: String,
    pub message: String,
    pub attempts: i32,
    pub failed: i32,
    pub created: When,
    pub duration: String,
}

impl RunRow {
    pub fn of(run: &RunView, now: Timestamp) -> RunRow {
        let end = match run.state {
            RunState::Running => Some(now),
            _ => run.finished,
        };
        RunRow {
            uid: run.uid.clone(),
            namespace: run.namespace.clone(),
            name: run.name.clone(),
            cronjob: run.cronjob.clone(),
            short: run
                .revision
                .as_deref()
                .map(|r| crate::source::short_sha(r).to_string())
                .unwrap_or_default(),
            commit_link: run
                .source
                .as_ref()
                .zip(run.revision.as_ref())
                .map(|(source, sha)| format!("/ui/commits/{source}/{sha}")),
            state: run.state.as_str(),
            reason: run.reason.clone().unwrap_or_default(),
            message: run.message.clone().unwrap_or_default(),
            attempts: run.attempts(),
            failed: run.failed,
            created: When::of(run.created, now),
            duration: end
                .and_then(|end| Duration::try_from(end.duration_since(run.created)).ok())
                .map(took)
                .unwrap_or_default(),
        }
    }
}

/// A source's card alone, for a live update.
#[derive(Template)]
#[template(path = "source_card_fragment.html")]
pub struct SourceFragment<'a> {
    pub card: &'a SourceView,
}

/// A run's row alone, for a live update.
#[derive(Template)]
#[template(path = "run_row_fragment.html")]
pub struct RunFragment<'a> {
    pub run: &'a RunRow,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_relative_times_read_well() {
        assert_eq!(took(Duration::from_millis(4200)), "4.2 s");
        assert_eq!(took(Duration::from_secs(190)), "3 min 10 s");
        assert_eq!(took(Duration::from_secs(7500)), "2 h 5 min");
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        assert_eq!(relative(at("2026-12-07T09:57:00Z"), now), "3 min ago");
        assert_eq!(relative(at("2026-12-05T09:00:00Z"), now), "2 d ago");
        assert_eq!(relative(at("2026-12-07T10:00:40Z"), now), "in 40 s");
    }
}
