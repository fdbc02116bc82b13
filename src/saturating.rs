//! Time arithmetic that saturates at the ends of time instead of
//! panicking. Durations from manifests (`activeDeadlineSeconds`,
//! `startingDeadlineSeconds`, TTLs as `int64` seconds) and from forges (a
//! rate limit's reset) reach far past jiff's year 9999; an instant that far
//! away is as good as never.

use jiff::{SignedDuration, Timestamp};

/// `t` moved by `by`, or the first or last instant jiff knows.
pub fn shifted(t: Timestamp, by: SignedDuration) -> Timestamp {
    t.checked_add(by).unwrap_or(if by.is_negative() {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// `t` moved by a std duration, saturating.
pub fn after(t: Timestamp, by: std::time::Duration) -> Timestamp {
    shifted(
        t,
        SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifts_saturate_instead_of_panicking() {
        let t: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            shifted(t, SignedDuration::from_secs(i64::MAX)),
            Timestamp::MAX
        );
        assert_eq!(
            shifted(t, SignedDuration::from_secs(-i64::MAX)),
            Timestamp::MIN
        );
        assert_eq!(after(t, std::time::Duration::MAX), Timestamp::MAX);
        assert_eq!(
            shifted(t, SignedDuration::from_secs(60)),
            "2026-01-01T00:01:00Z".parse::<Timestamp>().unwrap()
        );
    }
}
