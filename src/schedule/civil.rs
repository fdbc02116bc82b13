//! Proleptic Gregorian calendar arithmetic on plain integers.
//!
//! The schedule search runs millions of times per second, so it works on Unix
//! seconds and does calendar maths itself instead of building `jiff` civil
//! values at every step. The day-number conversions are the classic
//! era-based algorithms for the proleptic Gregorian calendar.

pub(crate) const SECS_PER_DAY: i64 = 86_400;

/// A wall-clock reading: what a clock in some zone shows at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday … 6 = Saturday, as cron counts.
    pub weekday: u32,
}

/// Days since 1970-01-01 of a date whose day may run past the month's end
/// (day 32 of January is February 1st), as Go's `time.Date` allows.
pub(crate) fn days_from_civil(year: i64, month: u32, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468 + (day - 1)
}

/// Days in a month of the proleptic Gregorian calendar.
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The date of a day number (days since 1970-01-01).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Reads a local-seconds count (Unix seconds shifted by the zone's offset)
/// as a wall clock.
pub(crate) fn civil_from_local(local: i64) -> Civil {
    let days = local.div_euclid(SECS_PER_DAY);
    let secs = local.rem_euclid(SECS_PER_DAY) as u32;
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as u32,
    }
}

/// Local seconds of a wall-clock reading, normalising an out-of-range month
/// into the year the way Go's `time.Date` does.
pub(crate) fn local_from_fields(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
) -> i64 {
    let month0 = month - 1;
    let year = year + month0.div_euclid(12);
    let month = (month0.rem_euclid(12) + 1) as u32;
    days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip_across_four_centuries() {
        for days in -200_000..200_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, i64::from(d)), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn known_dates_and_weekdays() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        let c = civil_from_local(1_735_689_600); // 2025-01-01T00:00:00Z
        assert_eq!((c.year, c.month, c.day, c.weekday), (2025, 1, 1, 3));
        let c = civil_from_local(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day, c.weekday), (2000, 2, 29, 2));
        let c = civil_from_local(-1); // 1969-12-31T23:59:59Z
        assert_eq!(
            (c.year, c.hour, c.minute, c.second, c.weekday),
            (1969, 23, 59, 59, 3)
        );
    }

    #[test]
    fn month_and_day_overflow_normalise_like_go() {
        // Go: time.Date(2025, 13, 1, ...) is 2026-01-01; day 32 of Jan is Feb 1.
        assert_eq!(
            local_from_fields(2025, 13, 1, 0, 0, 0),
            local_from_fields(2026, 1, 1, 0, 0, 0)
        );
        assert_eq!(
            local_from_fields(2025, 1, 32, 0, 0, 0),
            local_from_fields(2025, 2, 1, 0, 0, 0)
        );
        assert_eq!(
            local_from_fields(2025, 0, 1, 0, 0, 0),
            local_from_fields(2024, 12, 1, 0, 0, 0)
        );
    }
}
