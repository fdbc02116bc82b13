//! What `jobcd serve` knows of each source's reconciles, kept as they
//! happen: the revision it read, how its last reconcile ended and why, the
//! drift and conflicts its plan found, and when it polls next. `/readyz`
//! asks it whether every source synced once; the dashboard shows it and
//! streams its changes.
//!
//! Kept small and bounded (one card per source, the latest of each thing),
//! so that it costs nothing when no one looks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::broadcast;

use crate::reconcile::Verdict;
use crate::source::Revision;

/// Changes a slow dashboard reader may fall behind by before it misses
/// some (it then reloads the cards it shows).
const CHANGES: usize = 64;

/// Drift and conflict lines kept per source: a plan's first ones.
pub const FINDINGS_KEPT: usize = 20;

/// Every source's card, and the stream of their changes.
#[derive(Debug)]
pub struct Board {
    cards: Vec<Arc<Card>>,
    changes: broadcast::Sender<String>,
}

impl Board {
    /// A board for `sources` (name, repository as shown, ref followed).
    pub fn new(sources: impl IntoIterator<Item = (String, String, Option<String>)>) -> Board {
        let (changes, _) = broadcast::channel(CHANGES);
        let cards = sources
            .into_iter()
            .map(|(name, repo, reference)| {
                Arc::new(Card {
                    name,
                    repo: crate::source::redact_url(&repo),
                    reference,
                    synced: AtomicBool::new(false),
                    state: Mutex::new(State::default()),
                    changes: changes.clone(),
                })
            })
            .collect();
        Board { cards, changes }
    }

    /// The cards, in the configuration's order.
    pub fn cards(&self) -> &[Arc<Card>] {
        &self.cards
    }

    /// The card of source `name`.
    pub fn card(&self, name: &str) -> Option<&Arc<Card>> {
        self.cards.iter().find(|c| c.name == name)
    }

    /// The names of the sources whose card changes from now on.
    pub fn changes(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe()
    }
}

/// One source's card.
#[derive(Debug)]
pub struct Card {
    /// The source's name.
    pub name: String,
    /// Its repository, credentials removed.
    pub repo: String,
    /// The ref it follows (None: the default branch).
    pub reference: Option<String>,
    synced: AtomicBool,
    state: Mutex<State>,
    changes: broadcast::Sender<String>,
}

/// What a card says now.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// The revision the latest reconcile read.
    pub revision: Option<Revision>,
    /// Whether a reconcile runs now, and since when.
    pub running_since: Option<Timestamp>,
    /// How the latest finished reconcile ended.
    pub last: Option<Last>,
    /// When the next poll is due (a push or a file change comes sooner).
    pub next_poll: Option<Timestamp>,
    /// Objects changed on the target since they were applied, with what
    /// changed (the latest plan's; at most [`FINDINGS_KEPT`]).
    pub drift: Vec<Finding>,
    /// Desired objects whose names another owner holds (idem).
    pub conflicts: Vec<Finding>,
}

/// How a reconcile ended.
#[derive(Debug, Clone)]
pub struct Last {
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, in a sentence (the summary when it synced).
    pub why: String,
    /// When it ended.
    pub at: Timestamp,
    /// How long it took.
    pub took: Duration,
}

/// One object a plan found something about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `Kind namespace/name`.
    pub object: String,
    /// What.
    pub reason: String,
}

impl Card {
    /// Whether the source has synced once.
    pub fn ready(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }

    /// What the card says now.
    pub fn state(&self) -> State {
        self.lock().clone()
    }

    /// Why the source is not ready yet, in a sentence; None when it is.
    pub fn why_not(&self) -> Option<String> {
        if self.ready() {
            return None;
        }
        let name = &self.name;
        Some(match self.lock().last.as_ref().map(|l| l.verdict) {
            None => format!("source {name}: its first sync has not ended yet"),
            Some(verdict) => format!(
                "source {name}: its last sync {} (the log and `jobcd status` on its commit say why)",
                ended(verdict)
            ),
        })
    }

    /// A reconcile began.
    pub fn began(&self, at: Timestamp) {
        self.change(|s| s.running_since = Some(at));
    }

    /// The reconcile read `revision`.
    pub fn read(&self, revision: &Revision) {
        self.change(|s| s.revision = Some(revision.clone()));
    }

    /// The reconcile's plan found this drift and these conflicts.
    pub fn planned(&self, drift: Vec<Finding>, conflicts: Vec<Finding>) {
        self.change(|s| {
            s.drift = drift;
            s.conflicts = conflicts;
        });
    }

    /// The reconcile ended; the next poll is due at `next_poll`.
    pub fn ended(&self, last: Last, next_poll: Option<Timestamp>) {
        if last.verdict == Verdict::Synced {
            self.synced.store(true, Ordering::SeqCst);
        }
        self.change(|s| {
            s.running_since = None;
            s.last = Some(last);
            s.next_poll = next_poll;
        });
    }

    fn change(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        // No receiver: no one looks, nothing to do.
        let _ = self.changes.send(self.name.clone());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// How a reconcile that ended with `verdict` is told: "synced", "was
/// refused (…)".
pub fn ended(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Invalid => "found the revision invalid",
        Verdict::Refused => "was refused (prune safety, or the target)",
        Verdict::Failed => "failed (a run failed, or an object conflicts)",
        Verdict::Error => "met an error",
        Verdict::Interrupted => "was interrupted",
        Verdict::Synced => "synced",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(verdict: Verdict) -> Last {
        Last {
            verdict,
            why: "because".into(),
            at: Timestamp::UNIX_EPOCH,
            took: Duration::from_millis(5),
        }
    }

    #[test]
    fn a_source_is_ready_after_its_first_sync_and_stays_ready() {
        let board = Board::new([("jobs".to_string(), "/repo".to_string(), None)]);
        let card = &board.cards()[0];
        assert_eq!(
            card.why_not().as_deref(),
            Some("source jobs: its first sync has not ended yet")
        );
        card.ended(last(Verdict::Refused), None);
        assert!(card.why_not().unwrap().contains("was refused"));
        card.ended(last(Verdict::Synced), None);
        assert_eq!(card.why_not(), None);
        card.ended(last(Verdict::Failed), None);
        assert!(card.ready(), "a later failure is not a readiness matter");
    }

    #[test]
    fn changes_name_the_source_and_credentials_never_show() {
        let board = Board::new([(
            "jobs".to_string(),
            "https://bot:s3cret@git.example.com/ops/jobs.git".to_string(),
            Some("main".to_string()),
        )]);
        let mut changes = board.changes();
        let card = board.card("jobs").unwrap();
        assert!(!card.repo.contains("s3cret"), "{}", card.repo);
        card.began(Timestamp::UNIX_EPOCH);
        assert_eq!(changes.try_recv().unwrap(), "jobs");
        assert!(card.state().running_since.is_some());
        card.ended(last(Verdict::Synced), Some(Timestamp::UNIX_EPOCH));
        assert_eq!(changes.try_recv().unwrap(), "jobs");
        let state = card.state();
        assert!(state.running_since.is_none());
        assert_eq!(state.next_poll, Some(Timestamp::UNIX_EPOCH));
    }
}
