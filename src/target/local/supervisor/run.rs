//! The supervisor process itself (`jobcd supervise DIR`).

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};

use super::super::pod::{self, Plan};
use super::{Ended, Files};

/// Set in the environment of a unit-test binary started as a supervisor.
#[cfg(test)]
pub(super) const TEST_ENTRY: &str = "JOBCD_TEST_SUPERVISOR";

/// First wait before writing the outcome again when the disk refused it.
const RETRY_FIRST: Duration = Duration::from_millis(500);
/// Longest wait between those writes.
const RETRY_CAP: Duration = Duration::from_secs(30);

/// Supervises the pod whose directory is `dir` until it ends and its end is
/// recorded; false when it could not start (why goes to stderr: the pod's
/// `supervisor.log`).
pub fn main(dir: &Path) -> bool {
    // A session of its own: neither a terminal's signals nor jobcd's end
    // reach it.
    let _ = nix::unistd::setsid();
    let files = Files::new(dir);
    // The plan comes on stdin once jobcd has recorded this process: a
    // supervisor whose jobcd died before that runs nothing.
    let mut bytes = Vec::new();
    let plan: Plan = match std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
        .map_err(|e| e.to_string())
        .and_then(|_| serde_json::from_slice(&bytes).map_err(|e| e.to_string()))
    {
        Ok(plan) => plan,
        Err(e) => {
            complain(format_args!(
                "jobcd supervise: no plan came on stdin ({e}); nothing was run"
            ));
            return false;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            complain(format_args!("jobcd supervise: cannot start: {e}"));
            return false;
        }
    };
    runtime.block_on(async {
        let ended = supervise(&plan, &files).await;
        leave(&files, &ended).await;
        // A pod that ran to its end leaves only what the engine keeps.
        let all = !matches!(&ended, Ended::Finished(outcome) if !outcome.stopped);
        pod::clean_up(&plan, all).await;
    });
    true
}

/// Runs the pod, recording its events, until it ends or SIGTERM stops it.
async fn supervise(plan: &Plan, files: &Files) -> Ended {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => return Ended::Broken(format!("cannot handle SIGTERM: {e}")),
    };
    let events_file = match tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(files.events())
        .await
    {
        Ok(file) => file,
        Err(e) => {
            return Ended::Broken(format!("cannot open {}: {e}", files.events().display()));
        }
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let pod = pod::run(plan, tx, stop_rx);
    let record = record(rx, events_file);
    let stopper = async {
        term.recv().await;
        let _ = stop_tx.send(true);
        std::future::pending::<()>().await
    };
    let (outcome, ()) = tokio::select! {
        both = async { tokio::join!(pod, record) } => both,
        () = stopper => unreachable!("the stopper never ends"),
    };
    match outcome {
        Ok(outcome) => Ended::Finished(outcome),
        Err(e) => Ended::Broken(format!("running the pod: {e}")),
    }
}

/// Appends each event to the events file and rings jobcd. A full disk
/// loses events (the outcome, written last, is what counts). The bell never
/// blocks: a ring that finds the pipe full is dropped (jobcd has one
/// waiting), and a jobcd that is gone stops the ringing.
async fn record(mut rx: mpsc::UnboundedReceiver<pod::Event>, mut file: tokio::fs::File) {
    use std::io::Write;
    use std::os::fd::AsFd;
    let mut bell = Some(std::io::stdout());
    if let Some(out) = &bell {
        let nonblocking = nix::fcntl::fcntl(
            out.as_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        if nonblocking.is_err() {
            bell = None;
        }
    }
    let mut complained = false;
    while let Some(event) = rx.recv().await {
        let mut line = serde_json::to_vec(&event).expect("events always serialize");
        line.push(b'\n');
        let written = async {
            file.write_all(&line).await?;
            file.flush().await
        };
        if let Err(e) = written.await
            && !std::mem::replace(&mut complained, true)
        {
            complain(format_args!("jobcd supervise: recording events: {e}"));
        }
        if let Some(out) = &mut bell {
            match out.lock().write(b"\n") {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => bell = None,
            }
        }
    }
}

/// Writes how the pod ended, atomically, retrying until it is written:
/// the pod's true end must not be lost to a full disk.
async fn leave(files: &Files, ended: &Ended) {
    let bytes = serde_json::to_vec(ended).expect("outcomes always serialize");
    let mut wait = RETRY_FIRST;
    loop {
        let (to, bytes) = (files.clone(), bytes.clone());
        let written = tokio::task::spawn_blocking(move || write_atomically(&to, &bytes))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match written {
            Ok(()) => return,
            // The pod was deleted (its directory with it): nobody will
            // read the outcome.
            Err(_) if !files.dir().is_dir() => return,
            Err(e) => {
                complain(format_args!(
                    "jobcd supervise: writing {} failed ({e}); trying again in {wait:?}",
                    files.outcome().display()
                ));
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(RETRY_CAP);
            }
        }
    }
}

fn write_atomically(files: &Files, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let partial = files.dir().join("outcome.json.partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&partial, files.outcome())
}

/// Writes a line to stderr (the pod's `supervisor.log`), if it can: on a
/// full disk it cannot, and the supervisor must go on regardless
/// (`eprintln!` would panic).
fn complain(what: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{what}");
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Not a test: the entry of a unit-test binary started as a supervisor
    /// (see [`super::super::Command::this_binary`]), run only when asked
    /// for by name with `--ignored`.
    #[test]
    #[ignore = "the entry of the unit-test binary when it runs as a pod's supervisor"]
    pub fn supervisor_entry() {
        assert!(
            std::env::var_os(TEST_ENTRY).is_some(),
            "started as a supervisor, with {TEST_ENTRY} set"
        );
        let dir = std::env::args().next_back().expect("a directory");
        std::process::exit(if main(Path::new(&dir)) { 0 } else { 1 });
    }
}
