//! Where the executor gets the time. Production reads the system clock;
//! tests use tokio's clock, which they can pause and advance, so schedules,
//! retry delays and deadlines never make a test wait real minutes.

use jiff::{SignedDuration, Timestamp};

/// The current time, for everything that schedules.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
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
}

/// Sleeps until `clock` reads `at` (at once if that has passed).
pub async fn sleep_until(clock: &dyn Clock, at: Timestamp) {
    let wait = at.duration_since(clock.now());
    if let Ok(wait) = std::time::Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = TokioClock::starting_at(start);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(
            clock.now(),
            "2026-01-01T00:01:30Z".parse::<Timestamp>().unwrap()
        );
        sleep_until(&clock, "2026-01-01T01:00:00Z".parse().unwrap()).await;
        assert_eq!(
            clock.now(),
            "2026-01-01T01:00:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
