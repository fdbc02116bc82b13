//! The local executor's durable state: one SQLite file (WAL) in the state
//! directory holding what was applied, every Job and pod that ran, CronJob
//! scheduling state and the run-once ledger. Logs live beside it as files.
//!
//! Writes are small transactions, so a crash loses at most the write in
//! flight; WAL keeps readers (`jobcd local status`) off the writer's way. The
//! schema is versioned and migrated forward on open; a database written by a
//! newer jobcd is refused rather than damaged. rusqlite blocks: async callers
//! use it from a blocking thread.

pub mod index;
mod records;
mod scheduling;
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::db;

pub use records::{
    AppliedObject, CronJobHead, CronState, HostProcess, JobRecord, LedgerEntry, PodRecord,
    Supervisor,
};
pub use scheduling::LEDGER_RUNNING;

/// File name of the database in the state directory.
pub const FILE_NAME: &str = "local.db";

/// Why the store cannot be used.
pub use crate::db::Error;

/// An open store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database in `state_dir` and migrates
    /// it. A database that is missing or empty while the state beside it
    /// shows it existed is refused, never silently started afresh.
    pub fn open(state_dir: &Path) -> Result<Store, Error> {
        let path = state_dir.join(FILE_NAME);
        let empty = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
        if empty && let Some(evidence) = earlier_state(state_dir) {
            return Err(Error::Vanished { path, evidence });
        }
        let conn = db::open(state_dir, &path, schema::MIGRATIONS)?;
        Ok(Store { conn, path })
    }

    /// SQLite's integrity check: damage is found here, at a runner's
    /// start, rather than misread later.
    pub fn check(&self) -> Result<(), Error> {
        db::check(&self.conn, &self.path)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version in force.
    pub fn schema_version(&self) -> Result<u32, Error> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|source| self.sqlite("reading the schema version", source))
    }

    fn sqlite(&self, what: &str, source: rusqlite::Error) -> Error {
        db::sqlite(&self.path, what)(source)
    }
}

/// What in `state_dir` shows that a runner kept a database there: its lock
/// file (a runner creates it with the database), or pods' files.
fn earlier_state(state_dir: &Path) -> Option<String> {
    let lock = state_dir.join(super::executor::lock::FILE_NAME);
    if lock.exists() {
        return Some(lock.display().to_string());
    }
    let pods = state_dir.join("pods");
    let has_pods = std::fs::read_dir(&pods).is_ok_and(|mut entries| entries.next().is_some());
    has_pods.then(|| format!("{}/ (pods' logs)", pods.display()))
}

#[cfg(test)]
mod tests;
