//! SQLite files in the state directory: opened in WAL mode and migrated
//! forward by an ordered list of migrations (`PRAGMA user_version` counts
//! how many were applied). A file written by a newer jobcd is refused, not
//! damaged; two processes opening a new file together apply each migration
//! once. Used by the local executor's store and the status outbox.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

/// How long to wait for another process holding the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a database cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// SQLite refused an operation.
    #[error("state database {path}: {what}{}", if *.disk_full { DISK_FULL } else { "" })]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        what: String,
        /// The disk holding it has no space left (SQLite may call that a
        /// disk I/O error).
        disk_full: bool,
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
    /// The database is missing or empty, but the state beside it shows it
    /// existed: opening it afresh would forget every Job that ran (and run
    /// them all again).
    #[error(
        "state database {path} is missing or empty, but {evidence} shows jobcd kept state here; if that is intended, move the whole state directory away to start afresh (every Job then runs again); otherwise restore the file"
    )]
    Vanished {
        /// The database file.
        path: PathBuf,
        /// What shows it existed.
        evidence: String,
    },
    /// SQLite's integrity check found damage.
    #[error(
        "state database {path} is damaged ({report}); restore it from a backup, or move the state directory away to start afresh (every Job then runs again)"
    )]
    Damaged {
        /// The database file.
        path: PathBuf,
        /// The first problem the check found.
        report: String,
    },
    /// The file was written by a newer jobcd.
    #[error(
        "state database {path} has schema version {found}, newer than this jobcd knows ({known}); run the newer jobcd, or move the file away to start afresh"
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

/// What an error on a full disk adds.
const DISK_FULL: &str =
    " (its disk is full: free some space and run jobcd again; nothing was recorded half-way)";

/// The error for SQLite refusing `what` on the database at `path`.
pub(crate) fn sqlite(path: &Path, what: &str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
    let (path, what) = (path.to_path_buf(), what.to_string());
    move |source| Error::Sqlite {
        disk_full: disk_full(&path),
        path,
        what,
        source,
    }
}

/// Whether the filesystem holding `path` has no space left for jobcd.
fn disk_full(path: &Path) -> bool {
    let dir = path.parent().unwrap_or(path);
    nix::sys::statvfs::statvfs(dir).is_ok_and(|s| s.blocks_available() == 0)
}

/// SQLite's quick integrity check of an open database: `Damaged` with the
/// first problem it reports (or its failure to read the file at all).
pub(crate) fn check(conn: &Connection, path: &Path) -> Result<(), Error> {
    let damaged = |report: String| Error::Damaged {
        path: path.to_path_buf(),
        report,
    };
    let report: String = conn
        .query_row("PRAGMA quick_check(1)", [], |row| row.get(0))
        .map_err(|e| damaged(e.to_string()))?;
    if report == "ok" {
        Ok(())
    } else {
        Err(damaged(report))
    }
}

/// Opens (creating `state_dir` and the file if needed) the database at
/// `path` and applies the migrations it lacks; migration n (1-based) is
/// `migrations[n - 1]`.
pub(crate) fn open(
    state_dir: &Path,
    path: &Path,
    migrations: &[&str],
) -> Result<Connection, Error> {
    let sqlite = |what: &str| sqlite(path, what);
    std::fs::create_dir_all(state_dir).map_err(|source| Error::StateDir {
        path: state_dir.to_path_buf(),
        source,
    })?;
    let mut conn = Connection::open(path).map_err(sqlite("opening"))?;
    // First, so that everything below waits for another process that is
    // opening the same file at the same moment.
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(sqlite("setting the busy timeout"))?;
    // Switching to WAL can answer "busy" without waiting while another
    // process switches it too; try again for as long as the timeout.
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == ErrorCode::DatabaseBusy && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => break result.map_err(sqlite("enabling WAL"))?,
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite("setting synchronous"))?;
    conn.pragma_update(None, "foreign_keys", true)
        .map_err(sqlite("enabling foreign keys"))?;
    let known = migrations.len() as u32;
    // Each migration runs in an immediate transaction that first reads the
    // version again.
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite("starting a migration"))?;
        let version: u32 = tx
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(sqlite("reading the schema version"))?;
        if version > known {
            return Err(Error::TooNew {
                path: path.to_path_buf(),
                found: version,
                known,
            });
        }
        if version == known {
            break;
        }
        tx.execute_batch(migrations[version as usize])
            .map_err(sqlite(&format!("applying migration {}", version + 1)))?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(sqlite("recording the schema version"))?;
        tx.commit().map_err(sqlite("committing a migration"))?;
    }
    Ok(conn)
}
