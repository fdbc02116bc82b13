//! Time zones as the CronJob controller sees them.
//!
//! `spec.timeZone` is validated by the API server (each `/`-separated part
//! matches `[A-Za-z.\-_0-9+]{1,14}`, not `.` or `..`, no leading `-`, not
//! `Local`) and then loaded with Go's `time.LoadLocation`, which reads the
//! system zoneinfo and is case-sensitive. jiff reads the same files, but looks
//! names up ignoring ASCII case, so the name it returns is compared with the
//! one given.

use std::cell::Cell;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Error;
use super::civil::{Civil, civil_from_local, local_from_fields};

/// A validated time zone: `spec.timeZone`, or UTC when it is unset.
#[derive(Debug, Clone)]
pub struct Zone {
    name: Option<String>,
    tz: TimeZone,
}

impl Zone {
    /// UTC, which is what a CronJob without `timeZone` uses on a standard
    /// control plane.
    pub fn utc() -> Zone {
        Zone {
            name: None,
            tz: TimeZone::UTC,
        }
    }

    /// This machine's zone, which the CronJob controller uses for a CronJob
    /// without `timeZone` (UTC on standard control planes; whatever the host
    /// says for the local executor). Falls back to UTC when the system zone
    /// cannot be determined.
    pub fn system() -> Zone {
        match TimeZone::try_system() {
            Ok(tz) => Zone {
                name: tz.iana_name().map(str::to_string),
                tz,
            },
            Err(_) => Zone::utc(),
        }
    }

    /// Validates and loads an IANA zone name as the API server would.
    pub fn named(name: &str) -> Result<Zone, Error> {
        let invalid = |reason: &str| Error::Zone {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        if name.is_empty() {
            return Err(invalid("the name is empty; remove the field to use UTC"));
        }
        if name.eq_ignore_ascii_case("local") {
            return Err(invalid(
                "`Local` depends on the controller's machine; name a zone such as Europe/Berlin",
            ));
        }
        for part in name.split('/') {
            let ok = (1..=14).contains(&part.len())
                && part != "."
                && part != ".."
                && !part.starts_with('-')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b));
            if !ok {
                return Err(invalid(
                    "each part must be 1-14 characters of A-Z, a-z, 0-9, '.', '_', '-', '+' (not starting with '-')",
                ));
            }
        }
        let tz = TimeZone::get(name).map_err(|_| {
            invalid(&match closest_zone(name) {
                Some(near) => {
                    format!("no such zone in the IANA time zone database; did you mean {near}?")
                }
                None => {
                    "no such zone in the IANA time zone database (names look like America/New_York)"
                        .into()
                }
            })
        })?;
        if tz.iana_name() != Some(name) {
            return Err(invalid(&format!(
                "zone names are case-sensitive on a cluster; did you mean {}?",
                tz.iana_name().unwrap_or("a differently spelled zone")
            )));
        }
        Ok(Zone {
            name: Some(name.to_string()),
            tz,
        })
    }

    /// Loads `spec.timeZone` if set, UTC otherwise.
    pub fn from_spec(time_zone: Option<&str>) -> Result<Zone, Error> {
        time_zone.map_or_else(|| Ok(Zone::utc()), Zone::named)
    }

    /// The zone's name, `UTC` when it is the default.
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("UTC")
    }

    /// Whether `spec.timeZone` named this zone (false for the UTC default).
    pub fn is_explicit(&self) -> bool {
        self.name.is_some()
    }

    /// The underlying jiff zone, for formatting instants in it.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// `at` on this zone's wall clock, as fire times are shown everywhere:
    /// `Sun 2027-03-28 03:30 CEST`.
    pub fn wall_clock(&self, at: jiff::Timestamp) -> String {
        at.to_zoned(self.tz.clone())
            .strftime("%a %Y-%m-%d %H:%M %Z")
            .to_string()
    }

    pub(crate) fn clock(&self) -> Clock<'_> {
        Clock {
            tz: &self.tz,
            fixed: self.name.is_none() || self.tz.iana_name() == Some("UTC"),
            period: Cell::new(Period::EMPTY),
        }
    }
}

/// The known zone name nearest to a misspelt one, if any is close.
fn closest_zone(name: &str) -> Option<String> {
    let names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    crate::suggest::closest(name, names.iter().map(String::as_str), 2).map(str::to_string)
}

/// A span of Unix seconds during which a zone's offset does not change.
#[derive(Debug, Clone, Copy)]
struct Period {
    start: i64,
    end: i64,
    offset: i64,
}

impl Period {
    const EMPTY: Period = Period {
        start: 0,
        end: 0,
        offset: 0,
    };
}

/// Converts between instants and wall clocks in one zone, remembering the
/// current offset period so that the schedule search, which steps through
/// neighbouring instants, rarely asks the zone database.
pub(crate) struct Clock<'a> {
    tz: &'a TimeZone,
    fixed: bool,
    period: Cell<Period>,
}

impl Clock<'_> {
    /// The zone's UTC offset in seconds at a Unix second.
    pub(crate) fn offset(&self, unix: i64) -> i64 {
        if self.fixed {
            return 0;
        }
        let p = self.period.get();
        if p.start <= unix && unix < p.end {
            return p.offset;
        }
        let p = self.lookup(unix);
        self.period.set(p);
        p.offset
    }

    /// The first Unix second after `unix` at which the offset may change
    /// (`i64::MAX` for a fixed zone): every second in between has the same
    /// offset as `unix`.
    pub(crate) fn stable_until(&self, unix: i64) -> i64 {
        if self.fixed {
            return i64::MAX;
        }
        self.offset(unix);
        self.period.get().end
    }

    fn lookup(&self, unix: i64) -> Period {
        let clamped = unix.clamp(
            Timestamp::MIN.as_second() + 1,
            Timestamp::MAX.as_second() - 1,
        );
        let at = Timestamp::from_second(clamped).expect("clamped into jiff's range");
        let after = Timestamp::from_second(clamped + 1).expect("clamped into jiff's range");
        let offset = i64::from(self.tz.to_offset(at).seconds());
        let start = self
            .tz
            .preceding(after)
            .next()
            .map_or(i64::MIN, |t| t.timestamp().as_second());
        let end = self
            .tz
            .following(at)
            .next()
            .map_or(i64::MAX, |t| t.timestamp().as_second());
        // Outside jiff's range only this one second is known.
        if clamped != unix {
            return Period {
                start: unix,
                end: unix + 1,
                offset,
            };
        }
        Period { start, end, offset }
    }

    /// The wall clock at a Unix second.
    pub(crate) fn civil(&self, unix: i64) -> Civil {
        civil_from_local(unix + self.offset(unix))
    }

    /// The Unix second of a wall-clock reading, resolved the way Go's
    /// `time.Date` resolves it: take the offset in force at the reading taken
    /// as UTC, then use the offset in force at the instant that gives. In a
    /// spring-forward gap this lands an hour early (02:30 → 01:30 standard
    /// time); in a fall-back overlap it picks the earlier instant west of
    /// Greenwich and the later one east of it. robfig/cron inherits exactly
    /// this, and so the CronJob controller's fire times depend on it.
    pub(crate) fn resolve(
        &self,
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
    ) -> i64 {
        let local = local_from_fields(year, month, day, hour, minute, second);
        let guess = local - self.offset(local);
        local - self.offset(guess)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_second()
    }

    #[test]
    fn case_and_syntax_are_checked_like_the_api_server() {
        assert!(Zone::named("Europe/Berlin").is_ok());
        assert!(Zone::named("Etc/GMT+5").is_ok());
        for bad in [
            "europe/berlin",
            "",
            "Local",
            "local",
            "Mars/Olympus",
            "../etc/passwd",
            "America/Argentina_Buenos_Aires_X",
        ] {
            assert!(Zone::named(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn cached_offsets_equal_direct_lookups() {
        let zone = Zone::named("Australia/Lord_Howe").unwrap();
        let clock = zone.clock();
        let start = unix("2024-01-01T00:00:00Z");
        for i in 0..20_000 {
            let t = start + i * 5_407; // about 3.5 years, odd step
            let direct = zone
                .tz
                .to_offset(Timestamp::from_second(t).unwrap())
                .seconds();
            assert_eq!(clock.offset(t), i64::from(direct), "at {t}");
        }
    }

    #[test]
    fn gap_and_overlap_resolve_as_go_does() {
        let ny = Zone::named("America/New_York").unwrap();
        let c = ny.clock();
        // 02:30 on 2025-03-09 does not exist; Go gives 01:30 EST = 06:30Z.
        assert_eq!(
            c.resolve(2025, 3, 9, 2, 30, 0),
            unix("2025-03-09T06:30:00Z")
        );
        // 01:30 on 2025-11-02 happens twice; Go picks EDT (the first) = 05:30Z.
        assert_eq!(
            c.resolve(2025, 11, 2, 1, 30, 0),
            unix("2025-11-02T05:30:00Z")
        );
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let c = berlin.clock();
        // 02:30 on 2025-10-26 happens twice; east of Greenwich Go picks CET (the second).
        assert_eq!(
            c.resolve(2025, 10, 26, 2, 30, 0),
            unix("2025-10-26T01:30:00Z")
        );
    }
}
