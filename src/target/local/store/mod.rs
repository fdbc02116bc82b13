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
        // First, so that everything below waits for another process that
        // is opening the same file at the same moment.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite("setting the busy timeout"))?;
        // Switching to WAL can answer "busy" without waiting while another
        // process switches it too; try again for as long as the timeout.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                result => break result.map_err(sqlite("enabling WAL"))?,
            }
        }
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite("setting synchronous"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite("enabling foreign keys"))?;
        let known = schema::MIGRATIONS.len() as u32;
        // Each migration runs in an immediate transaction that first reads
        // the version again: two processes opening a new file together
        // apply each migration once.
        loop {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sqlite("starting a migration"))?;
            let version: u32 = tx
                .pragma_query_value(None, "user_version", |row| row.get(0))
                .map_err(sqlite("reading the schema version"))?;
            if version > known {
                return Err(Error::TooNew {
                    path,
                    found: version,
                    known,
                });
            }
            if version == known {
                break;
            }
            tx.execute_batch(schema::MIGRATIONS[version as usize])
                .map_err(sqlite(&format!("applying migration {}", version + 1)))?;
            tx.pragma_update(None, "user_version", version + 1)
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
