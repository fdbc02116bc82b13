//! The durable outbox: statuses are written here first and delivered to
//! each reporter afterwards, so a reporter that is down never slows or
//! stops a sync and nothing is lost when jobcd restarts.
//!
//! Per (reporter, commit, context) the latest state wins: a new status
//! replaces one still waiting, and one identical to what was last delivered
//! (or is waiting) is not queued at all. A failed delivery is retried with
//! exponential backoff (1 s doubling, at most 5 minutes), or when the
//! reporter says (a rate-limit reset).

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{Reporter, State, Status};
use crate::db::{self, Error};

/// The outbox's file in the state directory.
pub const FILE_NAME: &str = "statuses.db";
/// First retry delay.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
/// Longest retry delay.
const BACKOFF_CAP: Duration = Duration::from_secs(300);

const MIGRATIONS: &[&str] = &[
    // 1: statuses waiting, and the last one delivered per key.
    r#"
    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        reporter        TEXT NOT NULL,
        sha             TEXT NOT NULL,
        context         TEXT NOT NULL,
        state           TEXT NOT NULL,
        description     TEXT NOT NULL,
        target_url      TEXT,
        created_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error      TEXT
    ) STRICT;
    CREATE INDEX outbox_key ON outbox (reporter, sha, context);
    CREATE TABLE delivered (
        reporter     TEXT NOT NULL,
        sha          TEXT NOT NULL,
        context      TEXT NOT NULL,
        state        TEXT NOT NULL,
        description  TEXT NOT NULL,
        target_url   TEXT,
        delivered_at TEXT NOT NULL,
        PRIMARY KEY (reporter, sha, context)
    ) STRICT;
"#,
    // 2: where each source's statuses go, so that runs jobcd starts on its
    // own (CronJobs) are reported on the commit their spec came from.
    r#"
    CREATE TABLE sources (
        name       TEXT PRIMARY KEY,
        notes_repo TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) STRICT;
"#,
    // 3: a reporter that asked to be left alone (a rate limit) until a time.
    r#"
    CREATE TABLE paused (
        reporter TEXT PRIMARY KEY,
        until    TEXT NOT NULL
    ) STRICT;
"#,
    // 4: how many statuses each key has been sent (GitHub keeps 1,000).
    r#"
    ALTER TABLE delivered ADD COLUMN posts INTEGER NOT NULL DEFAULT 1;
"#,
    // 5: the forge a source reports to, if any (JSON, without the token).
    r#"
    ALTER TABLE sources ADD COLUMN forge TEXT;
"#,
    // 6: what a notification receiver sends (JSON), beside the status
    // that names it; compared like the rest when deduplicating.
    r#"
    ALTER TABLE outbox ADD COLUMN payload TEXT;
    ALTER TABLE delivered ADD COLUMN payload TEXT;
"#,
];

/// Where a source's statuses go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    /// The repository holding its git notes.
    pub notes_repo: PathBuf,
    /// The forge, if it reports to one.
    pub forge: Option<super::forge::Config>,
}

/// A status of a commit as jobcd reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The reporter (`git-notes`, `github`, …).
    pub reporter: String,
    /// Its context (`jobcd/sync`, `jobcd/job/<ns>/<name>`, …).
    pub context: String,
    /// Its state (None: one this version does not know).
    pub state: Option<State>,
    /// Its description.
    pub description: String,
    /// Its link.
    pub target_url: Option<String>,
    /// When it was queued (waiting) or delivered.
    pub at: Option<Timestamp>,
    /// Why its last delivery failed, while it waits.
    pub last_error: Option<String>,
    /// Whether the reporter has it.
    pub delivered: bool,
}

/// A status waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// Row id.
    pub id: i64,
    /// The reporter it is for.
    pub reporter: String,
    /// The status.
    pub status: Status,
    /// Failed attempts so far.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
}

/// The outbox.
#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
    path: PathBuf,
}

/// What one [`Outbox::deliver_due`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Statuses delivered.
    pub delivered: usize,
    /// Statuses whose delivery failed (they wait for their retry).
    pub failed: Vec<String>,
    /// Statuses still waiting.
    pub backlog: usize,
}

impl Outbox {
    /// Opens (creating) the outbox in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Outbox, Error> {
        let path = state_dir.join(FILE_NAME);
        let conn = db::open(state_dir, &path, MIGRATIONS)?;
        Ok(Outbox { conn, path })
    }

    fn sqlite(&self, what: &str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
        db::sqlite(&self.path, what)
    }

    /// Queues `status` for `reporter`; false when it was not needed (the
    /// same state is already delivered or waiting).
    pub fn enqueue(&self, reporter: &str, status: &Status, now: Timestamp) -> Result<bool, Error> {
        let key = params![reporter, status.sha, status.context];
        type Last = (String, String, Option<String>, Option<String>);
        let waiting: Option<Last> = self
            .conn
            .query_row(
                "SELECT state, description, target_url, payload FROM outbox
                 WHERE reporter = ?1 AND sha = ?2 AND context = ?3 ORDER BY id DESC LIMIT 1",
                key,
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.sqlite("reading the outbox"))?;
        let last = match waiting {
            Some(w) => Some(w),
            None => self
                .conn
                .query_row(
                    "SELECT state, description, target_url, payload FROM delivered
                     WHERE reporter = ?1 AND sha = ?2 AND context = ?3",
                    key,
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()
                .map_err(self.sqlite("reading the outbox"))?,
        };
        let this = (
            status.state.as_str().to_string(),
            status.description.clone(),
            status.target_url.clone(),
            status.payload.clone(),
        );
        if last.as_ref() == Some(&this) {
            return Ok(false);
        }
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sqlite("starting a transaction"))?;
        // The latest state wins over one whose delivery already failed (its
        // reporter is down: only the state now matters); one not tried yet
        // stays, so a reporter that keeps up sees every transition in order.
        tx.execute(
            "DELETE FROM outbox WHERE reporter = ?1 AND sha = ?2 AND context = ?3 AND attempts > 0",
            key,
        )
        .map_err(self.sqlite("updating the outbox"))?;
        tx.execute(
            "INSERT INTO outbox (reporter, sha, context, state, description, target_url, payload, created_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                reporter,
                status.sha,
                status.context,
                status.state.as_str(),
                status.description,
                status.target_url,
                status.payload,
                now.to_string()
            ],
        )
        .map_err(self.sqlite("queueing a status"))?;
        tx.commit().map_err(self.sqlite("queueing a status"))?;
        Ok(true)
    }

    /// Records where `source` reports.
    pub fn set_source(
        &self,
        source: &str,
        report: &SourceReport,
        now: Timestamp,
    ) -> Result<(), Error> {
        let forge = report
            .forge
            .as_ref()
            .map(|f| serde_json::to_string(f).expect("forge configs always serialize"));
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sources (name, notes_repo, updated_at, forge) VALUES (?1, ?2, ?3, ?4)",
                params![source, report.notes_repo.display().to_string(), now.to_string(), forge],
            )
            .map(drop)
            .map_err(self.sqlite("recording a source"))
    }

    /// Where `source` reports, if a sync has said.
    pub fn source(&self, source: &str) -> Result<Option<SourceReport>, Error> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT notes_repo, forge FROM sources WHERE name = ?1",
                params![source],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sqlite("reading sources"))?;
        Ok(row.map(|(notes_repo, forge)| SourceReport {
            notes_repo: PathBuf::from(notes_repo),
            forge: forge.and_then(|f| serde_json::from_str(&f).ok()),
        }))
    }

    /// How many statuses wait to be delivered.
    pub fn backlog(&self) -> Result<i64, Error> {
        self.conn
            .query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))
            .map_err(self.sqlite("reading the outbox"))
    }

    /// The latest state queued or delivered for (reporter, commit, context).
    pub fn latest(&self, reporter: &str, sha: &str, context: &str) -> Result<Option<State>, Error> {
        let key = params![reporter, sha, context];
        let state: Option<String> = self
            .conn
            .query_row(
                "SELECT state FROM outbox WHERE reporter = ?1 AND sha = ?2 AND context = ?3
                 UNION ALL
                 SELECT state FROM delivered WHERE reporter = ?1 AND sha = ?2 AND context = ?3
                 LIMIT 1",
                key,
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sqlite("reading the outbox"))?;
        Ok(state.and_then(|s| State::parse(&s)))
    }

    /// Every status of commit `sha`, per reporter and context the latest:
    /// delivered, or waiting (with why its last delivery failed).
    pub fn of_commit(&self, sha: &str) -> Result<Vec<Reported>, Error> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT reporter, context, state, description, target_url, created_at, last_error, 0 FROM outbox WHERE sha = ?1
                 UNION ALL
                 SELECT reporter, context, state, description, target_url, delivered_at, NULL, 1 FROM delivered WHERE sha = ?1
                   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.sha = ?1 AND o.reporter = delivered.reporter AND o.context = delivered.context)
                 ORDER BY 2, 1",
            )
            .map_err(self.sqlite("reading the outbox"))?;
        let rows = statement
            .query_map(params![sha], |r| {
                let state: String = r.get(2)?;
                let at: String = r.get(5)?;
                Ok(Reported {
                    reporter: r.get(0)?,
                    context: r.get(1)?,
                    state: State::parse(&state),
                    description: r.get(3)?,
                    target_url: r.get(4)?,
                    at: at.parse().ok(),
                    last_error: r.get(6)?,
                    delivered: r.get::<_, i64>(7)? == 1,
                })
            })
            .map_err(self.sqlite("reading the outbox"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.sqlite("reading the outbox"))
    }

    /// Statuses waiting for `reporter` whose time has come, oldest first.
    pub fn due(&self, reporter: &str, now: Timestamp) -> Result<Vec<Pending>, Error> {
        self.pending_where(
            "reporter = ?1 AND next_attempt_at <= ?2",
            params![reporter, now.to_string()],
        )
    }

    /// Every status waiting, for any reporter, oldest first.
    pub fn waiting(&self) -> Result<Vec<Pending>, Error> {
        self.pending_where("1 = 1", params![])
    }

    fn pending_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Pending>, Error> {
        let sql = format!(
            "SELECT id, reporter, sha, context, state, description, target_url, attempts, last_error, payload
             FROM outbox WHERE {condition} ORDER BY id"
        );
        let mut statement = self
            .conn
            .prepare_cached(&sql)
            .map_err(self.sqlite("reading the outbox"))?;
        let rows = statement
            .query_map(args, |r| {
                let state: String = r.get(4)?;
                Ok(Pending {
                    id: r.get(0)?,
                    reporter: r.get(1)?,
                    status: Status {
                        sha: r.get(2)?,
                        context: r.get(3)?,
                        state: State::parse(&state).unwrap_or(State::Error),
                        description: r.get(5)?,
                        target_url: r.get(6)?,
                        payload: r.get(9)?,
                    },
                    attempts: r.get(7)?,
                    last_error: r.get(8)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>());
        rows.map_err(self.sqlite("reading the outbox"))
    }

    fn delivered(&self, pending: &Pending, now: Timestamp) -> Result<(), Error> {
        let s = &pending.status;
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sqlite("starting a transaction"))?;
        tx.execute(
            "INSERT INTO delivered (reporter, sha, context, state, description, target_url, payload, delivered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (reporter, sha, context) DO UPDATE SET
               state = excluded.state, description = excluded.description,
               target_url = excluded.target_url, payload = excluded.payload,
               delivered_at = excluded.delivered_at, posts = posts + 1",
            params![
                pending.reporter,
                s.sha,
                s.context,
                s.state.as_str(),
                s.description,
                s.target_url,
                s.payload,
                now.to_string()
            ],
        )
        .map_err(self.sqlite("recording a delivery"))?;
        // It and the older states of its context (waiting for a retry)
        // are done with: an older state never goes out after a newer one.
        tx.execute(
            "DELETE FROM outbox WHERE reporter = ?1 AND sha = ?2 AND context = ?3 AND id <= ?4",
            params![pending.reporter, s.sha, s.context, pending.id],
        )
        .map_err(self.sqlite("recording a delivery"))?;
        tx.commit().map_err(self.sqlite("recording a delivery"))
    }

    /// Whether a newer state of `pending`'s context waits behind it.
    fn superseded(&self, pending: &Pending) -> Result<bool, Error> {
        let s = &pending.status;
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM outbox WHERE reporter = ?1 AND sha = ?2 AND context = ?3 AND id > ?4)",
                params![pending.reporter, s.sha, s.context, pending.id],
                |r| r.get(0),
            )
            .map_err(self.sqlite("reading the outbox"))
    }

    /// Until when `reporter` asked not to be sent anything, if that is
    /// still ahead.
    fn paused_until(&self, reporter: &str, now: Timestamp) -> Result<Option<Timestamp>, Error> {
        let until: Option<String> = self
            .conn
            .query_row(
                "SELECT until FROM paused WHERE reporter = ?1",
                params![reporter],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sqlite("reading the outbox"))?;
        Ok(until
            .and_then(|u| u.parse::<Timestamp>().ok())
            .filter(|u| *u > now))
    }

    fn pause(&self, reporter: &str, until: Timestamp) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO paused (reporter, until) VALUES (?1, ?2)",
                params![reporter, until.to_string()],
            )
            .map(drop)
            .map_err(self.sqlite("pausing a reporter"))
    }

    /// How many statuses (reporter, commit, context) has been sent.
    fn posts(&self, pending: &Pending) -> Result<u32, Error> {
        let s = &pending.status;
        self.conn
            .query_row(
                "SELECT posts FROM delivered WHERE reporter = ?1 AND sha = ?2 AND context = ?3",
                params![pending.reporter, s.sha, s.context],
                |r| r.get(0),
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(self.sqlite("reading the outbox"))
    }

    fn drop_pending(&self, pending: &Pending) -> Result<(), Error> {
        self.conn
            .execute("DELETE FROM outbox WHERE id = ?1", params![pending.id])
            .map(drop)
            .map_err(self.sqlite("updating the outbox"))
    }

    fn failed(
        &self,
        pending: &Pending,
        error: &str,
        retry_after: Option<Duration>,
        now: Timestamp,
    ) -> Result<(), Error> {
        let delay = retry_after.unwrap_or_else(|| {
            BACKOFF_BASE
                .saturating_mul(1 << pending.attempts.min(16))
                .min(BACKOFF_CAP)
        });
        let next = crate::saturating::after(now, delay);
        self.conn
            .execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
                params![pending.id, error, next.to_string()],
            )
            .map(drop)
            .map_err(self.sqlite("recording a failed delivery"))
    }

    /// Delivers every status that is due to its reporter, in order; a
    /// failure is recorded for a later retry and does not stop the others.
    /// Statuses for a reporter not in `reporters` wait.
    pub fn deliver_due(
        &self,
        reporters: &[&dyn Reporter],
        now: Timestamp,
    ) -> Result<Delivery, Error> {
        let mut result = Delivery::default();
        for reporter in reporters {
            // A rate-limited reporter gets nothing until its reset.
            if self.paused_until(reporter.name(), now)?.is_some() {
                continue;
            }
            for pending in self.due(reporter.name(), now)? {
                // A retry whose context has moved on: only the newer state
                // goes out.
                if pending.attempts > 0 && self.superseded(&pending)? {
                    self.drop_pending(&pending)?;
                    continue;
                }
                if let Some(max) = reporter.max_per_context()
                    && self.posts(&pending)? >= max
                {
                    self.drop_pending(&pending)?;
                    result.failed.push(format!(
                        "{} keeps at most {max} statuses per commit and context; {} on {} is not posted",
                        reporter.name(),
                        pending.status.context,
                        &pending.status.sha[..pending.status.sha.len().min(7)]
                    ));
                    continue;
                }
                match reporter.deliver(&pending.status, now) {
                    Ok(()) => {
                        self.delivered(&pending, now)?;
                        result.delivered += 1;
                    }
                    Err(failure) => {
                        self.failed(&pending, &failure.message, failure.retry_after, now)?;
                        if let Some(wait) = failure.retry_after {
                            let until = crate::saturating::after(now, wait);
                            self.pause(reporter.name(), until)?;
                            result.failed.push(format!(
                                "{}: rate limited; nothing more is sent before {until}",
                                reporter.name()
                            ));
                            break;
                        }
                        result.failed.push(format!(
                            "{} {} on {}: {}",
                            reporter.name(),
                            pending.status.context,
                            &pending.status.sha[..pending.status.sha.len().min(7)],
                            failure.message
                        ));
                    }
                }
            }
        }
        result.backlog = self.waiting()?.len();
        Ok(result)
    }
}

#[cfg(test)]
mod tests;
