//! Webhook deliveries already acted on, so that a replayed one triggers
//! nothing. A delivery is known by the forge's delivery id (GitHub's
//! `X-GitHub-Delivery`, Gitea's and Forgejo's `X-Gitea-Delivery`, GitLab's
//! `X-Gitlab-Event-UUID`) and by its body's digest: the forges sign the
//! body, not the id, so a replay with a new id but the same signed body is
//! caught too. A redelivery of one that failed (401, 503) is new: only
//! deliveries that triggered something are remembered.
//!
//! Bounded: the most recent [`CAPACITY`] deliveries of the last [`TTL`].

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// How many deliveries are remembered.
pub const CAPACITY: usize = 4096;
/// How long one is remembered.
pub const TTL: Duration = Duration::from_secs(24 * 3600);

/// A delivery's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The forge's delivery id, when it sent one.
    pub id: Option<String>,
    /// SHA-256 of the body.
    digest: [u8; 32],
}

impl Delivery {
    /// The delivery with `id` and `body`.
    pub fn of(id: Option<&str>, body: &[u8]) -> Delivery {
        Delivery {
            id: id
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(str::to_string),
            digest: Sha256::digest(body).into(),
        }
    }

    /// Whether `other` is the same delivery: the same id, or the same body.
    fn same(&self, other: &Delivery) -> bool {
        self.digest == other.digest || (self.id.is_some() && self.id == other.id)
    }
}

/// The deliveries acted on recently.
#[derive(Debug, Default)]
pub struct Deliveries {
    seen: Mutex<VecDeque<(Instant, Delivery)>>,
}

impl Deliveries {
    /// Claims `delivery` at `now`: true when it is new (it is remembered
    /// from now on), false when it was already acted on.
    pub fn claim(&self, delivery: &Delivery, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while seen
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) > TTL)
        {
            seen.pop_front();
        }
        if seen.iter().any(|(_, d)| d.same(delivery)) {
            return false;
        }
        if seen.len() == CAPACITY {
            seen.pop_front();
        }
        seen.push_back((now, delivery.clone()));
        true
    }

    /// Forgets `delivery`: it failed, and a redelivery must be acted on.
    pub fn release(&self, delivery: &Delivery) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|(_, d)| d != delivery);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_acted_on_once_by_id_or_by_body() {
        let deliveries = Deliveries::default();
        let now = Instant::now();
        let first = Delivery::of(Some("a1"), b"{\"after\":\"1\"}");
        assert!(deliveries.claim(&first, now));
        assert!(!deliveries.claim(&first, now), "the same delivery again");
        // A new id on the same signed body is a replay.
        assert!(!deliveries.claim(&Delivery::of(Some("b2"), b"{\"after\":\"1\"}"), now));
        // The same id on another body is a replay too.
        assert!(!deliveries.claim(&Delivery::of(Some("a1"), b"{\"after\":\"2\"}"), now));
        // A new push is new, with or without an id.
        assert!(deliveries.claim(&Delivery::of(None, b"{\"after\":\"3\"}"), now));
        assert!(deliveries.claim(&Delivery::of(Some("c3"), b"{\"after\":\"4\"}"), now));
        // One that failed is forgotten, so that its redelivery counts.
        deliveries.release(&first);
        assert!(deliveries.claim(&first, now));
    }

    #[test]
    fn memory_is_bounded_in_count_and_time() {
        let deliveries = Deliveries::default();
        let start = Instant::now();
        let old = Delivery::of(Some("old"), b"old");
        assert!(deliveries.claim(&old, start));
        let later = start + TTL + Duration::from_secs(1);
        assert!(deliveries.claim(&old, later), "remembered only for the TTL");
        for i in 0..CAPACITY {
            assert!(deliveries.claim(&Delivery::of(None, &i.to_le_bytes()), later));
        }
        assert_eq!(deliveries.seen.lock().unwrap().len(), CAPACITY);
        assert!(deliveries.claim(&old, later), "the oldest made room");
    }
}
