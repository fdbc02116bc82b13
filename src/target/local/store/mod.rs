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
mod schema;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

pub use records::{
    AppliedObject, CronState, HostProcess, JobRecord, LEDGER_RUNNING, LedgerEntry, PodRecord,
};

/// File name of the database in the state directory.
pub const FILE_NAME: &str = "local.db";

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation.
    #[error("local state database {path}: {what}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: rusqlite::Error,
    },
    /// The state directory cannot be created.
    #[error("cannot create the state directory {path}; set --state-dir to a writable directory")]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer jobcd.
    #[error(
        "local state database {path} has schema version {found}, newer than this jobcd knows ({known}); run the newer jobcd, or move the file away to start afresh"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
}

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
        let sqlite = |what: &str| {
            let path = path.clone();
            let what = what.to_string();
            move |source| Error::Sqlite { path, what, source }
        };
        std::fs::create_dir_all(state_dir).map_err(|source| Error::StateDir {
            path: state_dir.to_path_buf(),
            source,
        })?;
        let mut conn = Connection::open(&path).map_err(sqlite("opening"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite("enabling WAL"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite("setting synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite("enabling foreign keys"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite("setting the busy timeout"))?;
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sqlite("reading the schema version"))?;
        let known = schema::MIGRATIONS.len() as u32;
        if version > known {
            return Err(Error::TooNew {
                path,
                found: version,
                known,
            });
        }
        for (i, migration) in schema::MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction().map_err(sqlite("starting a migration"))?;
            tx.execute_batch(migration)
                .map_err(sqlite(&format!("applying migration {}", i + 1)))?;
            tx.pragma_update(None, "user_version", (i + 1) as u32)
                .map_err(sqlite("recording the schema version"))?;
            tx.commit().map_err(sqlite("committing a migration"))?;
        }
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
        Error::Sqlite {
            path: self.path.clone(),
            what: what.to_string(),
            source,
        }
    }
}

#[cfg(test)]
mod tests;
