//! When a source reconciles under `jobcd serve`: on a poll (its interval,
//! with up to 10 % jitter so that sources do not poll in step), on a
//! webhook or a file change (at once), and after a failure only once its
//! backoff has passed (doubling from 5 s up to 5 min). Triggers that arrive
//! while a reconcile runs coalesce into one follow-up reconcile.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// First wait after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(5);
/// Longest wait after failures.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why a reconcile starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The service started.
    Start,
    /// The poll interval passed.
    Poll,
    /// A push webhook named the source.
    Webhook,
    /// A file of a watched local repository changed.
    Watch,
    /// This replica took over the source's shard.
    Takeover,
}

/// Fires a source's trigger; cheap to clone, for webhooks and watchers.
#[derive(Debug, Clone)]
pub struct Handle {
    pending: Arc<Mutex<Option<Reason>>>,
    notify: Arc<Notify>,
}

impl Handle {
    /// Asks for a reconcile. While one is pending, later requests join it.
    pub fn fire(&self, reason: Reason) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        pending.get_or_insert(reason);
        self.notify.notify_one();
    }

    /// Resolves once a reconcile is pending (it stays pending, for
    /// [`Trigger::next`] to take).
    pub async fn fired(&self) {
        loop {
            // Made before the check, so that a fire in between is not lost.
            let notified = self.notify.notified();
            if self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some()
            {
                return;
            }
            notified.await;
        }
    }
}

/// The loop's side of a source's trigger.
#[derive(Debug)]
pub struct Trigger {
    handle: Handle,
    interval: Option<Duration>,
    failures: u32,
    next_poll: Option<Instant>,
    rounds: u64,
}

impl Trigger {
    /// A trigger polling every `interval` (None: no polling), pending a
    /// first reconcile at once.
    pub fn new(interval: Option<Duration>) -> Trigger {
        let handle = Handle {
            pending: Arc::new(Mutex::new(Some(Reason::Start))),
            notify: Arc::new(Notify::new()),
        };
        Trigger {
            handle,
            interval: interval.filter(|d| !d.is_zero()),
            failures: 0,
            next_poll: None,
            rounds: 0,
        }
    }

    /// A handle to fire it.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// Waits for the next reconcile and says why. Call [`Trigger::done`]
    /// when it finished.
    pub async fn next(&mut self) -> Reason {
        if self.failures > 0 {
            tokio::time::sleep(self.backoff()).await;
        }
        loop {
            if let Some(reason) = self.take() {
                return reason;
            }
            match self.next_poll {
                Some(at) => {
                    tokio::select! {
                        _ = self.handle.notify.notified() => {}
                        _ = tokio::time::sleep_until(at) => {
                            self.next_poll = None;
                            return Reason::Poll;
                        }
                    }
                }
                None => self.handle.notify.notified().await,
            }
        }
    }

    /// Records how the reconcile ended; schedules the next poll.
    pub fn done(&mut self, succeeded: bool) {
        self.failures = if succeeded { 0 } else { self.failures + 1 };
        self.rounds += 1;
        self.next_poll = self.interval.map(|i| Instant::now() + i + self.jitter(i));
    }

    /// How long until the next poll, counted from the last
    /// [`Trigger::done`] (a failure's backoff included); None without an
    /// interval. A push or a file change comes sooner.
    pub fn until_next_poll(&self) -> Option<Duration> {
        let wait = self.next_poll?.saturating_duration_since(Instant::now());
        Some(if self.failures > 0 {
            wait.max(self.backoff())
        } else {
            wait
        })
    }

    /// The wait before retrying after the failures so far.
    pub fn backoff(&self) -> Duration {
        let factor = 1u32 << self.failures.saturating_sub(1).min(16);
        (BACKOFF_BASE * factor).min(BACKOFF_MAX)
    }

    fn take(&self) -> Option<Reason> {
        self.handle
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }

    /// Up to a tenth of the interval, different each round.
    fn jitter(&self, interval: Duration) -> Duration {
        let spread = interval.as_millis() as u64 / 10;
        if spread == 0 {
            return Duration::ZERO;
        }
        let random = std::collections::hash_map::RandomState::new().hash_one(self.rounds);
        Duration::from_millis(random % spread)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn fired_waits_for_a_trigger_and_leaves_it_pending() {
        let mut t = Trigger::new(None);
        let h = t.handle();
        assert_eq!(t.next().await, Reason::Start);
        t.done(true);
        let waiting = tokio::time::timeout(Duration::from_secs(5), h.fired()).await;
        assert!(waiting.is_err(), "nothing fired yet");
        let fired = tokio::spawn({
            let h = h.clone();
            async move { h.fired().await }
        });
        tokio::task::yield_now().await;
        h.fire(Reason::Webhook);
        fired.await.unwrap();
        // Still there for the loop.
        assert_eq!(t.next().await, Reason::Webhook);
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_poll_is_told_with_the_backoff_of_a_failure() {
        let mut t = Trigger::new(Some(Duration::from_secs(60)));
        assert_eq!(t.until_next_poll(), None, "nothing done yet");
        assert_eq!(t.next().await, Reason::Start);
        t.done(true);
        let wait = t.until_next_poll().unwrap();
        assert!(
            wait >= Duration::from_secs(60) && wait < Duration::from_secs(66),
            "{wait:?}"
        );
        // Ten failures back off 5 min, longer than the interval.
        for _ in 0..10 {
            t.done(false);
        }
        assert_eq!(t.until_next_poll(), Some(BACKOFF_MAX));
        assert_eq!(Trigger::new(None).until_next_poll(), None, "no interval");
    }

    #[tokio::test(start_paused = true)]
    async fn starts_at_once_then_polls_with_jitter() {
        let mut t = Trigger::new(Some(Duration::from_secs(60)));
        assert_eq!(t.next().await, Reason::Start);
        t.done(true);
        let before = Instant::now();
        assert_eq!(t.next().await, Reason::Poll);
        let waited = before.elapsed();
        assert!(
            waited >= Duration::from_secs(60) && waited < Duration::from_secs(66),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn triggers_during_a_reconcile_coalesce_into_one() {
        let mut t = Trigger::new(None);
        let h = t.handle();
        assert_eq!(t.next().await, Reason::Start);
        // Three pushes arrive while it runs.
        h.fire(Reason::Webhook);
        h.fire(Reason::Webhook);
        h.fire(Reason::Watch);
        t.done(true);
        assert_eq!(t.next().await, Reason::Webhook);
        t.done(true);
        // Nothing more is pending: without polling it waits for a fire.
        let waiting = tokio::time::timeout(Duration::from_secs(3600), t.next()).await;
        assert!(waiting.is_err(), "one follow-up, not three");
    }

    #[tokio::test(start_paused = true)]
    async fn a_webhook_wakes_it_before_the_poll() {
        let mut t = Trigger::new(Some(Duration::from_secs(600)));
        let h = t.handle();
        assert_eq!(t.next().await, Reason::Start);
        t.done(true);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            h.fire(Reason::Webhook);
        });
        let before = Instant::now();
        assert_eq!(t.next().await, Reason::Webhook);
        assert!(before.elapsed() < Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_up_to_the_cap() {
        let mut t = Trigger::new(None);
        let h = t.handle();
        assert_eq!(t.next().await, Reason::Start);
        let mut waits = Vec::new();
        for _ in 0..9 {
            t.done(false);
            h.fire(Reason::Webhook);
            let before = Instant::now();
            t.next().await;
            waits.push(before.elapsed().as_secs());
        }
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300, 300]);
        t.done(true);
        h.fire(Reason::Webhook);
        let before = Instant::now();
        t.next().await;
        assert_eq!(
            before.elapsed().as_secs(),
            0,
            "a success resets the backoff"
        );
    }
}
