//! Where the executor gets the time. Production reads the system clock;
//! tests use a clock they move by hand ([`ManualClock`]) or tokio's paused
//! clock ([`TokioClock`]), so schedules, retry delays and deadlines never make
//! a test wait real minutes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A future a clock hands out to wait for an instant.
pub type Wait<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The current time, for everything that schedules.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Resolves once [`Clock::now`] reads `at` or later.
    fn wait_until(&self, at: Timestamp) -> Wait<'_>;
}

/// The longest single sleep of the system clock: the wall clock can jump
/// (suspend, NTP), so a long wait re-reads it this often.
const RECHECK: Duration = Duration::from_secs(30);

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn wait_until(&self, at: Timestamp) -> Wait<'_> {
        Box::pin(async move {
            while let Some(wait) = remaining(self.now(), at) {
                tokio::time::sleep(wait.min(RECHECK)).await;
            }
        })
    }
}

/// A clock that starts at a chosen instant and moves with tokio's time
/// (real, or paused and advanced by a test).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: Timestamp,
    origin: tokio::time::Instant,
}

impl TokioClock {
    /// A clock reading `start` now.
    pub fn starting_at(start: Timestamp) -> TokioClock {
        TokioClock {
            start,
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        let elapsed =
            SignedDuration::try_from(self.origin.elapsed()).unwrap_or(SignedDuration::MAX);
        self.start + elapsed
    }

    fn wait_until(&self, at: Timestamp) -> Wait<'_> {
        Box::pin(async move {
            while let Some(wait) = remaining(self.now(), at) {
                tokio::time::sleep(wait).await;
            }
        })
    }
}

/// A clock that only moves when told to: tests set the time, and everything
/// waiting for an instant that has come wakes up. Processes still run in
/// real time; only jobcd's own timers follow this clock.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    changed: watch::Sender<Timestamp>,
}

impl ManualClock {
    /// A clock reading `start` until it is moved.
    pub fn starting_at(start: Timestamp) -> ManualClock {
        ManualClock {
            now: Mutex::new(start),
            changed: watch::Sender::new(start),
        }
    }

    /// Moves the clock to `to` (never backwards: an earlier time is ignored).
    pub fn set(&self, to: Timestamp) {
        let mut now = self.now.lock().expect("the clock's lock is never poisoned");
        if to > *now {
            *now = to;
            self.changed.send_replace(to);
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let to = self.now() + by;
        self.set(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("the clock's lock is never poisoned")
    }

    fn wait_until(&self, at: Timestamp) -> Wait<'_> {
        let mut changed = self.changed.subscribe();
        Box::pin(async move {
            // The sender lives as long as `self`, so this never errs.
            let _ = changed.wait_for(|now| *now >= at).await;
        })
    }
}

/// How long until `at`, or None when it has come.
fn remaining(now: Timestamp, at: Timestamp) -> Option<Duration> {
    Duration::try_from(at.duration_since(now))
        .ok()
        .filter(|d| !d.is_zero())
}

/// Sleeps until `clock` reads `at` (at once if that has passed).
pub async fn sleep_until(clock: &dyn Clock, at: Timestamp) {
    clock.wait_until(at).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let clock = TokioClock::starting_at(at("2026-01-01T00:00:00Z"));
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.now(), at("2026-01-01T00:01:30Z"));
        sleep_until(&clock, at("2026-01-01T01:00:00Z")).await;
        assert_eq!(clock.now(), at("2026-01-01T01:00:00Z"));
    }

    #[tokio::test]
    async fn the_manual_clock_wakes_waiters_only_when_moved_past_their_time() {
        let clock = std::sync::Arc::new(ManualClock::starting_at(at("2026-01-01T00:00:00Z")));
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.wait_until(at("2026-01-01T00:05:00Z")).await })
        };
        tokio::task::yield_now().await;
        clock.set(at("2026-01-01T00:04:59Z"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "woke before its time");
        clock.set(at("2026-01-01T00:03:00Z"));
        assert_eq!(clock.now(), at("2026-01-01T00:04:59Z"), "moved backwards");
        clock.advance(SignedDuration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woke once the time came")
            .unwrap();
        // A time already past resolves at once.
        clock.wait_until(at("2025-01-01T00:00:00Z")).await;
    }
}
