//! Kubernetes-compatible cron schedules: parse, next fire times in a time
//! zone, and a plain-English description.
//!
//! The CronJob controller evaluates `spec.schedule` with robfig/cron v3's
//! standard parser in `spec.timeZone` (UTC when unset on a standard control
//! plane). This module reproduces that evaluation exactly — including its
//! handling of DST gaps and overlaps and its five-year search horizon — and is
//! checked against robfig itself by the differential test in
//! `tests/schedule_oracle.rs`. It knows nothing about manifests and does no
//! I/O; time is always an argument.

mod civil;
mod describe;
mod dst;
mod duration;
mod next;
mod parse;
mod range;
mod zone;

use jiff::Timestamp;

pub use dst::{DstEffect, DstKind};
pub(crate) use duration::parse_go_duration;
pub use parse::Field;
pub use zone::Zone;

use parse::Spec;

/// Why a schedule or a time zone is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The schedule is empty.
    #[error(
        "the schedule is empty; write five fields such as \"0 3 * * *\" or a macro such as @daily"
    )]
    Empty,
    /// A `TZ=`/`CRON_TZ=` prefix (Kubernetes rejects any schedule containing `TZ`).
    #[error("the schedule may not contain TZ or CRON_TZ; set spec.timeZone instead")]
    TimeZoneInSchedule,
    /// Not exactly five fields.
    #[error(
        "expected exactly 5 fields (minute hour day-of-month month day-of-week), found {found}; Kubernetes has no seconds or year field"
    )]
    FieldCount {
        /// How many whitespace-separated fields there were.
        found: usize,
    },
    /// One item of one field is invalid.
    #[error("{field} field: {item:?}: {problem}; {hint}")]
    Field {
        /// The field holding the item.
        field: Field,
        /// The comma-separated item that is wrong.
        item: String,
        /// What is wrong with it.
        problem: String,
        /// The field's valid values.
        hint: &'static str,
    },
    /// An `@` word Kubernetes does not know.
    #[error(
        "unknown macro {text:?}; use @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every <duration> (lower case, nothing around it)"
    )]
    Descriptor {
        /// The whole schedule.
        text: String,
    },
    /// `@every` with a duration Go cannot parse.
    #[error("@every {duration:?}: {reason}")]
    Every {
        /// The text after `@every `.
        duration: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An invalid `timeZone`.
    #[error("time zone {name:?}: {reason}")]
    Zone {
        /// The zone name given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// A schedule the Kubernetes API server would accept; parsed once, never invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    spec: Spec,
}

impl Schedule {
    /// Parses `spec.schedule` with the API server's rules.
    pub fn parse(text: &str) -> Result<Schedule, Error> {
        Ok(Schedule {
            text: text.to_string(),
            spec: parse::parse(text)?,
        })
    }

    /// The schedule as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether this is an `@every` schedule, which counts from the previous
    /// run rather than following the clock.
    pub fn is_interval(&self) -> bool {
        matches!(self.spec, Spec::Every(_))
    }

    /// The first fire time strictly after `after`, or None when the schedule
    /// does not fire within five years of it (as the controller gives up).
    pub fn next_after(&self, after: Timestamp, zone: &Zone) -> Option<Timestamp> {
        self.next_with(after, &zone.clock())
    }

    /// Fire times strictly after `after`, each computed from the one before.
    pub fn upcoming<'a>(
        &'a self,
        after: Timestamp,
        zone: &'a Zone,
    ) -> impl Iterator<Item = Timestamp> + 'a {
        let clock = zone.clock();
        std::iter::successors(self.next_with(after, &clock), move |t| {
            self.next_with(*t, &clock)
        })
    }

    /// A short English description, e.g. "At 03:00 every day".
    pub fn describe(&self) -> String {
        describe::describe(&self.spec)
    }

    fn next_with(&self, after: Timestamp, clock: &zone::Clock<'_>) -> Option<Timestamp> {
        // Whole seconds, rounding towards the past like Go's time.Time.
        let mut secs = after.as_second();
        if after.subsec_nanosecond() < 0 {
            secs -= 1;
        }
        let next = match &self.spec {
            Spec::Fields(fields) => next::next_fields(fields, clock, secs)?,
            Spec::Every(delay) => secs.checked_add(*delay)?,
        };
        Timestamp::from_second(next).ok()
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}
