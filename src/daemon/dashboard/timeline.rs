//! One CronJob's timeline: what became of its slots in the window before
//! now (ran, and how it ended; late; missed; suspended), its fire times in
//! the window after now, in its zone, and the daylight-saving changes that
//! skip or repeat one of its times. Pure: the same CronJob, runs and
//! instant give the same timeline, for the page and for the tests.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::health::observe::Observed;
use crate::health::{Health, Outcome, Policy, SlotState};
use crate::preview::timing::human_seconds;
use crate::schedule::{DstEffect, DstKind, Zone};

/// A slot whose Job came this long after its time or later is late: the
/// CronJob controller makes a Job within seconds of its time.
pub const LATE_AFTER: Duration = Duration::from_secs(60);

/// Marks drawn on either side of now at the most; a busier schedule
/// (every minute over a week) is summed up in words.
pub const MARKS_DRAWN: usize = 500;

/// Fire times listed, whatever the window.
pub const FIRES_LISTED: usize = 10;

/// How far ahead daylight-saving changes are looked for.
const DST_AHEAD: SignedDuration = SignedDuration::from_hours(366 * 24);

/// How much of the past and of the future a timeline shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// 24 hours each way.
    Day,
    /// 7 days each way.
    Week,
}

impl Window {
    /// From the page's `window=` parameter (`24h` or `7d`; anything else:
    /// a day).
    pub fn parse(text: Option<&str>) -> Window {
        match text {
            Some("7d") => Window::Week,
            _ => Window::Day,
        }
    }

    /// As in links.
    pub fn as_str(self) -> &'static str {
        match self {
            Window::Day => "24h",
            Window::Week => "7d",
        }
    }

    fn span(self) -> SignedDuration {
        match self {
            Window::Day => SignedDuration::from_hours(24),
            Window::Week => SignedDuration::from_hours(7 * 24),
        }
    }
}

/// What a mark on the timeline stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    /// A run that completed.
    Complete,
    /// A run that failed.
    Failed,
    /// A run still going.
    Running,
    /// A slot that got no Job in time.
    Missed,
    /// A slot still waiting for its Job.
    Due,
    /// A slot while the CronJob was suspended.
    Suspended,
    /// A fire time to come.
    Coming,
    /// A fire time to come that a clock change repeats: it fires twice.
    Repeated,
    /// A wall-clock time a clock change skips: nothing fires.
    Skipped,
}

impl MarkKind {
    /// The CSS class, and the word in the legend.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkKind::Complete => "complete",
            MarkKind::Failed => "failed",
            MarkKind::Running => "running",
            MarkKind::Missed => "missed",
            MarkKind::Due => "due",
            MarkKind::Suspended => "suspended",
            MarkKind::Coming => "coming",
            MarkKind::Repeated => "repeated",
            MarkKind::Skipped => "skipped",
        }
    }
}

/// One mark.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Its instant.
    pub at: Timestamp,
    /// Where on the line, 0 (window start) to 100 (window end).
    pub x: f64,
    /// What it stands for.
    pub kind: MarkKind,
    /// The Job came late: [`LATE_AFTER`] or more after its time.
    pub late: Option<Duration>,
    /// Its time in the CronJob's zone and what happened, for a tooltip and
    /// a screen reader.
    pub label: String,
}

/// A coming fire time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// The instant.
    pub at: Timestamp,
    /// In the CronJob's zone: `Sun 2027-03-28 03:30 CEST`.
    pub local: String,
    /// A clock change on that day touches it.
    pub dst: Option<DstKind>,
}

/// A CronJob's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// The window.
    pub window: Window,
    /// Its start.
    pub from: Timestamp,
    /// Now, where past meets future (50 on the line).
    pub now: Timestamp,
    /// Its end.
    pub to: Timestamp,
    /// The marks, in time order (at most [`MARKS_DRAWN`] each side).
    pub marks: Vec<Mark>,
    /// Marks left out, each side, on a busy schedule.
    pub not_drawn: usize,
    /// The next [`FIRES_LISTED`] fire times, window or not.
    pub next: Vec<Fire>,
    /// Fire times in the window ahead.
    pub coming: usize,
    /// Clock changes within a year that skip or repeat one of its times.
    pub dst: Vec<DstEffect>,
    /// What the schedule means: "At 03:00 every day (Europe/Berlin)".
    pub explanation: String,
}

/// A health policy that judges every slot of the window (the watch's own
/// looks back a few periods only).
pub fn judging(policy: &Policy) -> Policy {
    Policy {
        lookback_periods: u32::MAX,
        ..*policy
    }
}

/// The timeline of `cronjob`, whose health at `now` is `health` (judged
/// with [`judging`]).
pub fn of(cronjob: &Observed, health: &Health, now: Timestamp, window: Window) -> Timeline {
    let span = window.span();
    let from = now.checked_sub(span).unwrap_or(now);
    let to = now.checked_add(span).unwrap_or(now);
    let zone = &cronjob.zone;
    let x = |at: Timestamp| {
        let whole = to.duration_since(from).as_secs_f64();
        (at.duration_since(from).as_secs_f64() / whole * 100.0).clamp(0.0, 100.0)
    };
    let local = |at: Timestamp| zone.wall_clock(at);
    let dst = cronjob
        .schedule
        .dst_effects(zone, now, now.checked_add(DST_AHEAD).unwrap_or(now));
    let touched = |at: Timestamp| touched_by(&dst, at, zone);

    let mut past: Vec<Mark> = health
        .slots
        .iter()
        .filter(|s| s.at >= from && s.at <= now)
        .map(|slot| {
            let (kind, late, what) = match slot.state {
                SlotState::Ran { delay, outcome } => {
                    let kind = match outcome {
                        Outcome::Succeeded => MarkKind::Complete,
                        Outcome::Failed => MarkKind::Failed,
                        Outcome::Running => MarkKind::Running,
                    };
                    let late = (delay >= LATE_AFTER).then_some(delay);
                    let what = match late {
                        Some(d) => format!(
                            "{}, started {} late",
                            kind.as_str(),
                            human_seconds(d.as_secs() as i64)
                        ),
                        None => kind.as_str().to_string(),
                    };
                    (kind, late, what)
                }
                SlotState::Missed => (MarkKind::Missed, None, "missed: no Job".into()),
                SlotState::Due => (MarkKind::Due, None, "due: its Job may still come".into()),
                SlotState::Suspended => (MarkKind::Suspended, None, "suspended".into()),
            };
            Mark {
                at: slot.at,
                x: x(slot.at),
                kind,
                late,
                label: format!("{}: {what}", local(slot.at)),
            }
        })
        .collect();
    let mut not_drawn = past.len().saturating_sub(MARKS_DRAWN);
    past.drain(..not_drawn);

    let mut coming = 0;
    let mut marks = past;
    for at in cronjob
        .schedule
        .upcoming(now, zone)
        .take_while(|at| *at <= to)
    {
        coming += 1;
        if coming > MARKS_DRAWN {
            continue;
        }
        let (kind, what) = match touched(at) {
            Some(DstKind::Repeated) => (
                MarkKind::Repeated,
                "fires; the clock goes back, so this time comes twice",
            ),
            _ => (MarkKind::Coming, "fires"),
        };
        marks.push(Mark {
            at,
            x: x(at),
            kind,
            late: None,
            label: format!("{}: {what}", local(at)),
        });
    }
    not_drawn += coming.saturating_sub(MARKS_DRAWN);
    for effect in dst
        .iter()
        .filter(|e| e.kind == DstKind::Skipped && e.at <= to)
    {
        marks.push(Mark {
            at: effect.at,
            x: x(effect.at),
            kind: MarkKind::Skipped,
            late: None,
            label: format!(
                "{}: the clock jumps {}; {} does not fire",
                effect.date,
                effect.stretch,
                effect.times.join(", ")
            ),
        });
    }
    marks.sort_by_key(|m| m.at);

    let next = cronjob
        .schedule
        .upcoming(now, zone)
        .take(FIRES_LISTED)
        .map(|at| Fire {
            at,
            local: local(at),
            dst: touched(at),
        })
        .collect();
    Timeline {
        window,
        from,
        now,
        to,
        marks,
        not_drawn,
        next,
        coming,
        dst,
        explanation: format!("{} ({})", cronjob.schedule.describe(), zone.name()),
    }
}

/// Which clock change, if any, touches the fire time `at`: one whose day
/// and wall-clock time it shares.
fn touched_by(effects: &[DstEffect], at: Timestamp, zone: &Zone) -> Option<DstKind> {
    let zoned = at.to_zoned(zone.time_zone().clone());
    let (date, time) = (
        zoned.strftime("%Y-%m-%d").to_string(),
        zoned.strftime("%H:%M").to_string(),
    );
    effects
        .iter()
        .find(|e| e.date == date && e.times.contains(&time))
        .map(|e| e.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::{CronJob, Run, judge};
    use crate::schedule::Schedule;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn observed(schedule: &str, zone: &str, runs: Vec<Run>, since: &str) -> Observed {
        Observed {
            namespace: "ops".into(),
            name: "backup".into(),
            source: "jobs".into(),
            revision: "abc".into(),
            schedule: Schedule::parse(schedule).unwrap(),
            zone: Zone::named(zone).unwrap(),
            starting_deadline: None,
            suspended_since: None,
            max_age: None,
            since: at(since),
            runs,
        }
    }

    fn timeline(o: &Observed, now: &str, window: Window) -> Timeline {
        let now = at(now);
        let policy = judging(&Policy::default());
        let cronjob = CronJob {
            schedule: &o.schedule,
            zone: &o.zone,
            starting_deadline: o.starting_deadline,
            suspended_since: o.suspended_since,
            max_age: o.max_age,
            since: o.since,
        };
        let health = judge(&cronjob, &o.runs, now, &policy);
        of(o, &health, now, window)
    }

    #[test]
    fn past_slots_are_marked_by_what_became_of_them() {
        // Hourly; followed since 06:00; ran at 07:00 (ok), 08:00 (failed,
        // 3 min late), nothing at 09:00; now 09:30.
        let runs = vec![
            Run {
                scheduled: at("2026-12-01T07:00:00Z"),
                started: at("2026-12-01T07:00:02Z"),
                finished: Some(at("2026-12-01T07:01:00Z")),
                outcome: Outcome::Succeeded,
            },
            Run {
                scheduled: at("2026-12-01T08:00:00Z"),
                started: at("2026-12-01T08:03:00Z"),
                finished: Some(at("2026-12-01T08:04:00Z")),
                outcome: Outcome::Failed,
            },
        ];
        let o = observed("0 * * * *", "UTC", runs, "2026-12-01T06:30:00Z");
        let t = timeline(&o, "2026-12-01T09:30:00Z", Window::Day);
        let past: Vec<(String, MarkKind, bool)> = t
            .marks
            .iter()
            .filter(|m| m.at <= t.now)
            .map(|m| (m.at.to_string(), m.kind, m.late.is_some()))
            .collect();
        assert_eq!(
            past,
            [
                ("2026-12-01T07:00:00Z".into(), MarkKind::Complete, false),
                ("2026-12-01T08:00:00Z".into(), MarkKind::Failed, true),
                ("2026-12-01T09:00:00Z".into(), MarkKind::Missed, false),
            ]
        );
        assert!(
            t.marks[1].label.contains("started 3 min late"),
            "{}",
            t.marks[1].label
        );
        // 24 fires ahead in a day, the first at 10:00, half-way plus a bit.
        assert_eq!(t.coming, 24);
        let first = t.marks.iter().find(|m| m.kind == MarkKind::Coming).unwrap();
        assert_eq!(first.at, at("2026-12-01T10:00:00Z"));
        assert!(
            (first.x - (50.0 + 0.5 / 48.0 * 100.0)).abs() < 1e-9,
            "{}",
            first.x
        );
        assert_eq!(t.explanation, "At minute 0 past every hour every day (UTC)");
    }

    #[test]
    fn a_skipped_time_is_marked_and_the_next_fire_is_the_day_after() {
        // 02:30 daily in Berlin; on 2027-03-28 02:00 CET becomes 03:00 CEST.
        let o = observed(
            "30 2 * * *",
            "Europe/Berlin",
            vec![],
            "2027-03-20T00:00:00Z",
        );
        let t = timeline(&o, "2027-03-27T12:00:00Z", Window::Day);
        let next: Vec<&str> = t.next.iter().take(2).map(|f| f.local.as_str()).collect();
        assert_eq!(
            next,
            ["Mon 2027-03-29 02:30 CEST", "Tue 2027-03-30 02:30 CEST"]
        );
        let skipped: Vec<&Mark> = t
            .marks
            .iter()
            .filter(|m| m.kind == MarkKind::Skipped)
            .collect();
        assert_eq!(skipped.len(), 1, "{:?}", t.marks);
        assert!(
            skipped[0].label.contains("02:30 does not fire"),
            "{}",
            skipped[0].label
        );
        assert_eq!(t.dst[0].kind, DstKind::Skipped);
        assert_eq!(t.coming, 0, "nothing fires in the 24 h ahead");
    }

    #[test]
    fn a_repeated_time_fires_twice_and_is_marked_so() {
        // On 2027-10-31 03:00 CEST becomes 02:00 CET: 02:30 comes twice.
        let o = observed(
            "30 2 * * *",
            "Europe/Berlin",
            vec![],
            "2027-10-20T00:00:00Z",
        );
        let t = timeline(&o, "2027-10-30T12:00:00Z", Window::Day);
        let repeated: Vec<&Fire> = t.next.iter().filter(|f| f.dst.is_some()).collect();
        assert_eq!(repeated.len(), 2, "{:?}", t.next);
        assert_eq!(repeated[0].local, "Sun 2027-10-31 02:30 CEST");
        assert_eq!(repeated[1].local, "Sun 2027-10-31 02:30 CET");
        assert_eq!(
            t.marks
                .iter()
                .filter(|m| m.kind == MarkKind::Repeated)
                .count(),
            2
        );
    }

    #[test]
    fn a_busy_schedule_is_capped_and_counted() {
        let o = observed("* * * * *", "UTC", vec![], "2026-12-01T00:00:00Z");
        let t = timeline(&o, "2026-12-03T00:00:00Z", Window::Week);
        assert_eq!(t.coming, 7 * 24 * 60);
        let drawn_ahead = t.marks.iter().filter(|m| m.at > t.now).count();
        assert_eq!(drawn_ahead, MARKS_DRAWN);
        assert!(t.not_drawn >= t.coming - MARKS_DRAWN);
        assert!(t.marks.iter().filter(|m| m.at <= t.now).count() <= MARKS_DRAWN);
    }
}
