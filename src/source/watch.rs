//! Noticing new commits: a file watch on a local repository's refs, a poll
//! timer for remotes (with jitter, and backing off while fetches fail), and a
//! trigger handle for webhooks. All of them wake the same [`Watcher`]; wakes
//! that arrive while the owner is busy coalesce into one.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};
use tokio::sync::mpsc;

/// How long ref-file events are gathered before one wake (a commit writes a
/// lock file, renames it, updates logs: one wake, not five).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(100);

/// Why the watcher woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A ref of the watched local repository changed.
    RefChanged,
    /// The poll interval passed.
    Poll,
    /// Someone (a webhook, a person) asked for a check.
    Triggered,
}

/// Asks the watcher to check now. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct Trigger(mpsc::Sender<Wake>);

impl Trigger {
    /// Requests a check. If one is already pending, this one joins it.
    pub fn fire(&self) {
        let _ = self.0.try_send(Wake::Triggered);
    }
}

/// A watch could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path} for new commits")]
pub struct Error {
    path: PathBuf,
    #[source]
    source: notify::Error,
}

/// Polling: an interval, a jitter so that many jobcd instances do not poll in
/// step, and exponential backoff while checks fail.
#[derive(Debug, Clone)]
pub struct Poll {
    /// Time between checks while they succeed.
    pub interval: Duration,
    /// Longest time between checks while they fail.
    pub max_backoff: Duration,
    /// Fraction of the delay added or removed at random (0.1 = ±10 %).
    pub jitter: f64,
    failures: u32,
    rng: u64,
}

impl Poll {
    /// Polls every `interval`, backing off up to ten times that, with ±10 % jitter.
    pub fn every(interval: Duration) -> Poll {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Poll {
            interval,
            max_backoff: interval * 10,
            jitter: 0.1,
            failures: 0,
            rng: seed | 1,
        }
    }

    /// Records how the last check went: failures double the delay.
    pub fn record(&mut self, ok: bool) {
        self.failures = if ok {
            0
        } else {
            self.failures.saturating_add(1)
        };
    }

    /// The delay before the next check.
    pub fn delay(&mut self) -> Duration {
        let base = self
            .interval
            .saturating_mul(1 << self.failures.min(16))
            .min(self.max_backoff.max(self.interval));
        // xorshift64: plenty for spreading polls.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let unit = (self.rng >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
        base.mul_f64(1.0 + self.jitter * (2.0 * unit - 1.0))
    }
}

/// A watch on a local repository's refs, calling back on each change
/// (debounced) until dropped.
pub struct RefWatch {
    _files: Debouncer<notify::RecommendedWatcher, RecommendedCache>,
}

impl RefWatch {
    /// Calls `changed` when a ref of the repository at `git_dir` changes:
    /// HEAD, anything under refs/, or packed-refs (in the common directory
    /// too, for a linked worktree). Events within `debounce` make one call.
    pub fn start(
        git_dir: &Path,
        common_dir: &Path,
        debounce: Duration,
        changed: impl Fn() + Send + 'static,
    ) -> Result<RefWatch, Error> {
        let watched: Vec<PathBuf> = [
            git_dir.join("HEAD"),
            common_dir.join("packed-refs"),
            common_dir.join("refs"),
        ]
        .into_iter()
        .collect();
        let relevant = watched.clone();
        // jobcd writes its statuses there itself: not a new commit.
        let notes = common_dir.join("refs/notes");
        let mut debouncer = new_debouncer(debounce, None, move |result: DebounceEventResult| {
            let touched = match result {
                // Reads (git opening HEAD to stage a file) are not changes.
                Ok(events) => events
                    .iter()
                    .filter(|e| !matches!(e.kind, notify::EventKind::Access(_)))
                    .flat_map(|e| e.paths.iter())
                    .any(|p| !p.starts_with(&notes) && is_ref_change(p, &relevant)),
                // A watch error may have hidden a change: look again.
                Err(_) => true,
            };
            if touched {
                changed();
            }
        })
        .map_err(|source| Error {
            path: git_dir.to_path_buf(),
            source,
        })?;
        let mut watch = |path: &Path, mode| {
            debouncer.watch(path, mode).map_err(|source| Error {
                path: path.to_path_buf(),
                source,
            })
        };
        // HEAD and packed-refs are replaced by rename, so watch their directories.
        watch(git_dir, RecursiveMode::NonRecursive)?;
        if common_dir != git_dir {
            watch(common_dir, RecursiveMode::NonRecursive)?;
        }
        watch(&common_dir.join("refs"), RecursiveMode::Recursive)?;
        Ok(RefWatch { _files: debouncer })
    }
}

/// Waits for reasons to look at a source again.
pub struct Watcher {
    tx: mpsc::Sender<Wake>,
    rx: mpsc::Receiver<Wake>,
    poll: Option<Poll>,
    _files: Option<RefWatch>,
}

impl Default for Watcher {
    fn default() -> Self {
        Watcher::new()
    }
}

impl Watcher {
    /// A watcher woken only by its triggers.
    pub fn new() -> Watcher {
        // Capacity one: wakes that arrive while one is pending coalesce.
        let (tx, rx) = mpsc::channel(1);
        Watcher {
            tx,
            rx,
            poll: None,
            _files: None,
        }
    }

    /// Also wakes when a ref of the repository at `git_dir` changes: HEAD,
    /// anything under refs/, or packed-refs (in the common directory too, for
    /// a linked worktree).
    pub fn watch_refs(
        mut self,
        git_dir: &Path,
        common_dir: &Path,
        debounce: Duration,
    ) -> Result<Watcher, Error> {
        let tx = self.tx.clone();
        self._files = Some(RefWatch::start(git_dir, common_dir, debounce, move || {
            let _ = tx.try_send(Wake::RefChanged);
        })?);
        Ok(self)
    }

    /// Also wakes on a timer.
    pub fn poll(mut self, poll: Poll) -> Watcher {
        self.poll = Some(poll);
        self
    }

    /// A handle that wakes this watcher.
    pub fn trigger(&self) -> Trigger {
        Trigger(self.tx.clone())
    }

    /// Tells the poll timer how the last check went (failures back off).
    pub fn record(&mut self, ok: bool) {
        if let Some(poll) = &mut self.poll {
            poll.record(ok);
        }
    }

    /// Waits for the next reason to check.
    pub async fn next(&mut self) -> Wake {
        let delay = self.poll.as_mut().map(Poll::delay);
        match delay {
            Some(delay) => tokio::select! {
                wake = self.rx.recv() => wake.unwrap_or(Wake::Triggered),
                () = tokio::time::sleep(delay) => Wake::Poll,
            },
            // The watcher holds a sender itself, so recv never ends.
            None => self.rx.recv().await.unwrap_or(Wake::Triggered),
        }
    }
}

/// HEAD, packed-refs or a ref file (not a `.lock` being written).
fn is_ref_change(path: &Path, watched: &[PathBuf]) -> bool {
    if path.extension().is_some_and(|e| e == "lock") {
        return false;
    }
    watched.iter().any(|w| path.starts_with(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_and_success_resets() {
        let mut poll = Poll::every(Duration::from_secs(10));
        poll.jitter = 0.0;
        assert_eq!(poll.delay(), Duration::from_secs(10));
        poll.record(false);
        assert_eq!(poll.delay(), Duration::from_secs(20));
        for _ in 0..10 {
            poll.record(false);
        }
        assert_eq!(
            poll.delay(),
            Duration::from_secs(100),
            "capped at max_backoff"
        );
        poll.record(true);
        assert_eq!(poll.delay(), Duration::from_secs(10));
    }

    #[test]
    fn jitter_spreads_delays_within_bounds() {
        let mut poll = Poll::every(Duration::from_secs(60));
        let delays: Vec<Duration> = (0..200).map(|_| poll.delay()).collect();
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_secs(54) && *d <= Duration::from_secs(66))
        );
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(
            distinct.len() > 100,
            "delays should vary: {}",
            distinct.len()
        );
    }

    #[test]
    fn lock_files_and_other_paths_are_not_ref_changes() {
        let refs = vec![PathBuf::from("/r/.git/refs"), PathBuf::from("/r/.git/HEAD")];
        assert!(is_ref_change(Path::new("/r/.git/refs/heads/main"), &refs));
        assert!(is_ref_change(Path::new("/r/.git/HEAD"), &refs));
        assert!(!is_ref_change(
            Path::new("/r/.git/refs/heads/main.lock"),
            &refs
        ));
        assert!(!is_ref_change(Path::new("/r/.git/index"), &refs));
    }

    #[tokio::test]
    async fn triggers_coalesce_into_one_wake() {
        let mut watcher = Watcher::new();
        let trigger = watcher.trigger();
        trigger.fire();
        trigger.fire();
        trigger.fire();
        assert_eq!(watcher.next().await, Wake::Triggered);
        let again = tokio::time::timeout(Duration::from_millis(50), watcher.next()).await;
        assert!(again.is_err(), "the extra triggers joined the first");
    }

    #[tokio::test(start_paused = true)]
    async fn the_poll_timer_wakes() {
        let mut watcher = Watcher::new().poll(Poll::every(Duration::from_secs(30)));
        assert_eq!(watcher.next().await, Wake::Poll);
    }
}
