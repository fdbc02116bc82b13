//! CronJob scheduling state and the run-once ledger: what decides whether
//! something runs, beside the records of what ran.

use jiff::Timestamp;
use rusqlite::{Row, params};

use super::records::{CronState, LedgerEntry, time, ts, ts_opt};
use super::{Error, Store};
use crate::target::local::cron_controller;

/// The ledger outcome of a Job that has not finished.
pub const LEDGER_RUNNING: &str = "Running";

impl Store {
    /// A CronJob's scheduling state, if it has been seen before.
    pub fn cron_state(&self, namespace: &str, name: &str) -> Result<Option<CronState>, Error> {
        Ok(self
            .cron_states_where("namespace = ?1 AND name = ?2", params![namespace, name])?
            .pop())
    }

    /// Every CronJob's scheduling state.
    pub fn cron_states(&self) -> Result<Vec<CronState>, Error> {
        self.cron_states_where("1 = 1", params![])
    }

    fn cron_states_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<CronState>, Error> {
        self.select(
            &format!(
                "SELECT namespace, name, created_at, last_schedule_time, last_successful_time
                 FROM cronjob_state WHERE {condition} ORDER BY namespace, name"
            ),
            args,
            cron_row,
            "reading CronJob state",
        )
    }

    /// Forgets a CronJob's scheduling state (the CronJob was deleted).
    pub fn delete_cron_state(&self, namespace: &str, name: &str) -> Result<(), Error> {
        self.conn
            .execute(
                "DELETE FROM cronjob_state WHERE namespace = ?1 AND name = ?2",
                params![namespace, name],
            )
            .map(drop)
            .map_err(|e| self.sqlite("deleting CronJob state", e))
    }

    /// Saves a CronJob's scheduling state.
    pub fn put_cron_state(&self, c: &CronState) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO cronjob_state (namespace, name, created_at, last_schedule_time, last_successful_time)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    c.namespace,
                    c.name,
                    time(c.state.created),
                    c.state.last_schedule.map(time),
                    c.state.last_successful.map(time)
                ],
            )
            .map(drop)
            .map_err(|e| self.sqlite("saving CronJob state", e))
    }

    /// The ledger entry for a spec of a Job, if it ran.
    pub fn ledger(
        &self,
        source: &str,
        namespace: &str,
        name: &str,
        spec_hash: &str,
    ) -> Result<Option<LedgerEntry>, Error> {
        Ok(self
            .ledger_where(
                "source = ?1 AND namespace = ?2 AND name = ?3 AND spec_hash = ?4",
                params![source, namespace, name, spec_hash],
            )?
            .pop())
    }

    /// Records (or updates) a ledger entry.
    pub fn put_ledger(&self, e: &LedgerEntry) -> Result<(), Error> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO ledger (source, namespace, name, spec_hash, outcome, job_uid, recorded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.source, e.namespace, e.name, e.spec_hash, e.outcome, e.job_uid, time(e.recorded_at)],
            )
            .map(drop)
            .map_err(|err| self.sqlite("writing the run-once ledger", err))
    }

    /// Ledger entries of Jobs that were running when last seen.
    pub fn running_ledger(&self) -> Result<Vec<LedgerEntry>, Error> {
        self.ledger_where("outcome = ?1", params![LEDGER_RUNNING])
    }

    /// Every ledger entry of a source.
    pub fn ledger_of(&self, source: &str) -> Result<Vec<LedgerEntry>, Error> {
        self.ledger_where("source = ?1", params![source])
    }

    fn ledger_where(
        &self,
        condition: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<LedgerEntry>, Error> {
        self.select(
            &format!(
                "SELECT source, namespace, name, spec_hash, outcome, job_uid, recorded_at FROM ledger WHERE {condition}"
            ),
            args,
            ledger_row,
            "reading the run-once ledger",
        )
    }

    /// Records the outcome of Job instance `job_uid` in the ledger entry
    /// that started it, if one did and is still marked running.
    pub fn settle_ledger(&self, job_uid: &str, outcome: &str, at: Timestamp) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE ledger SET outcome = ?2, recorded_at = ?3 WHERE job_uid = ?1 AND outcome = ?4",
                params![job_uid, outcome, time(at), LEDGER_RUNNING],
            )
            .map(drop)
            .map_err(|e| self.sqlite("writing the run-once ledger", e))
    }
}

fn cron_row(r: &Row<'_>) -> rusqlite::Result<CronState> {
    Ok(CronState {
        namespace: r.get(0)?,
        name: r.get(1)?,
        state: cron_controller::State {
            created: ts(r, 2)?,
            last_schedule: ts_opt(r, 3)?,
            last_successful: ts_opt(r, 4)?,
        },
    })
}

fn ledger_row(r: &Row<'_>) -> rusqlite::Result<LedgerEntry> {
    Ok(LedgerEntry {
        source: r.get(0)?,
        namespace: r.get(1)?,
        name: r.get(2)?,
        spec_hash: r.get(3)?,
        outcome: r.get(4)?,
        job_uid: r.get(5)?,
        recorded_at: ts(r, 6)?,
    })
}
