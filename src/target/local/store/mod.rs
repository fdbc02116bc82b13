//! The local executor's durable state: one SQLite file (WAL) in the state
//! directory holding what was applied, every Job and pod that ran, CronJob
//! scheduling state and the run-once ledger. Logs live beside it as files.
//!
//! Writes are small transactions, so a crash loses at most the write in
//! flight; WAL keeps readers (`jobcd local status`) off the writer's way. The
//! schema is versioned and migrated forward on open; a database written by a
//! newer jobcd is refused rather than damaged. rusqlite blocks: async callers
//! use it from a blocking thread.

mod records;
mod scheduling;
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::db;

pub use records::{AppliedObject, CronState, HostProcess, JobRecord, LedgerEntry, PodRecord};
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
    /// Opens (creating if needed) the database in `state_dir` and migrates it.
    pub fn open(state_dir: &Path) -> Result<Store, Error> {
        let path = state_dir.join(FILE_NAME);
        let conn = db::open(state_dir, &path, schema::MIGRATIONS)?;
        Ok(Store { conn, path })
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

#[cfg(test)]
mod tests;
