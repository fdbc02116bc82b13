//! The schedule grammar the CronJob controller accepts.
//!
//! Kubernetes validates `spec.schedule` with robfig/cron v3's standard parser
//! and rejects any schedule containing `TZ`. The rules (docs/kubernetes-semantics.md §3.1):
//! exactly five whitespace-separated fields, or one of the lower-case `@`
//! descriptors, or `@every <Go duration>`. A field is a comma list (empty items
//! are dropped) of `*`, `?`, `N` or `N-M`, each with an optional `/step`;
//! `N/step` runs to the field's maximum. Names (`jan`, `mon`, any case, three
//! letters) work in month and weekday ranges. Day of week is 0–6, Sunday 0.

use super::Error;
use super::duration::parse_go_duration;

/// Set for a field written as `*` or `?` (or `*/1`): such a day field does not
/// take part in the day-of-month/day-of-week OR rule.
pub(crate) const STAR: u64 = 1 << 63;

const MONTH_NAMES: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAY_NAMES: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// One of the five fields, with its bounds and names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Minute of the hour, 0–59.
    Minute,
    /// Hour of the day, 0–23.
    Hour,
    /// Day of the month, 1–31.
    DayOfMonth,
    /// Month, 1–12 or jan–dec.
    Month,
    /// Day of the week, 0–6 (Sunday is 0) or sun–sat.
    DayOfWeek,
}

impl Field {
    const ALL: [Field; 5] = [
        Field::Minute,
        Field::Hour,
        Field::DayOfMonth,
        Field::Month,
        Field::DayOfWeek,
    ];

    pub(crate) fn bounds(self) -> (u32, u32) {
        match self {
            Field::Minute => (0, 59),
            Field::Hour => (0, 23),
            Field::DayOfMonth => (1, 31),
            Field::Month => (1, 12),
            Field::DayOfWeek => (0, 6),
        }
    }

    fn names(self) -> Option<(&'static [&'static str], u32)> {
        match self {
            Field::Month => Some((MONTH_NAMES, 1)),
            Field::DayOfWeek => Some((WEEKDAY_NAMES, 0)),
            _ => None,
        }
    }

    fn hint(self) -> &'static str {
        match self {
            Field::Minute => "minutes are 0-59",
            Field::Hour => "hours are 0-23",
            Field::DayOfMonth => "days of the month are 1-31",
            Field::Month => "months are 1-12 or jan-dec",
            Field::DayOfWeek => {
                "days of the week are 0-6 or sun-sat, Sunday is 0 (7 is not accepted by Kubernetes)"
            }
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Minute => "minute",
            Field::Hour => "hour",
            Field::DayOfMonth => "day-of-month",
            Field::Month => "month",
            Field::DayOfWeek => "day-of-week",
        })
    }
}

/// The five fields as bit sets (bit n set = value n allowed), plus [`STAR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fields {
    pub minute: u64,
    pub hour: u64,
    pub dom: u64,
    pub month: u64,
    pub dow: u64,
}

/// What a schedule string means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spec {
    /// Wall-clock fields.
    Fields(Fields),
    /// `@every`: a fixed delay in whole seconds from the previous time.
    Every(i64),
}

/// Parses a schedule as the Kubernetes API server validates it.
pub(crate) fn parse(text: &str) -> Result<Spec, Error> {
    if text.contains("TZ") {
        return Err(Error::TimeZoneInSchedule);
    }
    if text.is_empty() {
        return Err(Error::Empty);
    }
    if text.starts_with('@') {
        return parse_descriptor(text);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() != 5 {
        return Err(Error::FieldCount { found: words.len() });
    }
    let mut bits = [0u64; 5];
    for ((field, word), slot) in Field::ALL.into_iter().zip(&words).zip(&mut bits) {
        *slot = parse_field(field, word)?;
    }
    let [minute, hour, dom, month, dow] = bits;
    Ok(Spec::Fields(Fields {
        minute,
        hour,
        dom,
        month,
        dow,
    }))
}

fn parse_descriptor(text: &str) -> Result<Spec, Error> {
    let fields = |spec: &str| match parse(spec) {
        Ok(parsed) => Ok(parsed),
        Err(_) => unreachable!("descriptor expansions are valid schedules"),
    };
    match text {
        "@yearly" | "@annually" => fields("0 0 1 1 *"),
        "@monthly" => fields("0 0 1 * *"),
        "@weekly" => fields("0 0 * * 0"),
        "@daily" | "@midnight" => fields("0 0 * * *"),
        "@hourly" => fields("0 * * * *"),
        _ => match text.strip_prefix("@every ") {
            Some(duration) => {
                let nanos = parse_go_duration(duration).map_err(|reason| Error::Every {
                    duration: duration.to_string(),
                    reason,
                })?;
                // robfig rounds delays below a second up to one second and
                // drops sub-second parts.
                Ok(Spec::Every((nanos / 1_000_000_000).max(1)))
            }
            None => Err(Error::Descriptor {
                text: text.to_string(),
            }),
        },
    }
}

fn parse_field(field: Field, word: &str) -> Result<u64, Error> {
    word.split(',')
        .filter(|item| !item.is_empty())
        .try_fold(0, |bits, item| {
            parse_item(field, item)
                .map(|b| bits | b)
                .map_err(|problem| Error::Field {
                    field,
                    item: item.to_string(),
                    problem,
                    hint: field.hint(),
                })
        })
}

fn parse_item(field: Field, item: &str) -> Result<u64, String> {
    let (min, max) = field.bounds();
    let (min, max) = (u64::from(min), u64::from(max));
    let mut slash = item.split('/');
    let range = slash.next().unwrap_or_default();
    let step = slash.next();
    if slash.next().is_some() {
        return Err("more than one '/'".into());
    }
    let mut ends = range.split('-');
    let first = ends.next().unwrap_or_default();
    let single = !range.contains('-');
    let (mut start, mut end, mut star) = if first == "*" || first == "?" {
        // Anything after `*-` is ignored, as robfig ignores it.
        (min, max, true)
    } else {
        let start = value(field, first)?;
        let end = match (ends.next(), ends.next()) {
            (None, _) => start,
            (Some(end), None) => value(field, end)?,
            (Some(_), Some(_)) => return Err("more than one '-'".into()),
        };
        (start, end, false)
    };
    let step = match step {
        None => 1,
        Some(step) => {
            let step = number(step)?;
            if single {
                end = max;
            }
            if step > 1 {
                star = false;
            }
            step
        }
    };
    if start < min {
        return Err(format!("{start} is below the minimum {min}"));
    }
    if end > max {
        return Err(format!("{end} is above the maximum {max}"));
    }
    if start > end {
        return Err(format!(
            "the range starts at {start} after it ends at {end} (ranges cannot wrap around)"
        ));
    }
    if step == 0 {
        return Err("the step must be a positive number".into());
    }
    let mut bits = 0u64;
    while start <= end {
        bits |= 1 << start;
        start = match start.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }
    Ok(bits | if star { STAR } else { 0 })
}

/// A number or, in fields that have them, a three-letter name.
fn value(field: Field, text: &str) -> Result<u64, String> {
    if let Some((names, first)) = field.names() {
        // robfig lowers names with Go's strings.ToLower, which maps exactly
        // two non-ASCII characters to ASCII: U+0130 'İ' to 'i' (so `FRİ` is
        // Friday) and U+212A KELVIN SIGN to 'k'.
        let lower: String = text
            .chars()
            .map(|c| match c {
                '\u{130}' => 'i',
                '\u{212a}' => 'k',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        if let Some(i) = names.iter().position(|n| *n == lower) {
            return Ok(u64::from(first) + i as u64);
        }
    }
    number(text)
}

/// A non-negative decimal integer as Go's `strconv.Atoi` reads it: an
/// optional sign, then ASCII digits, within 64 bits.
fn number(text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let negative = text.starts_with('-');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{text:?} is not a number"));
    }
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is too large"))?;
    if negative && n != 0 {
        return Err(format!("negative numbers such as {text} are not allowed"));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Fields {
        match parse(text) {
            Ok(Spec::Fields(f)) => f,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        assert_eq!(fields("5/20 * * * *").minute, 1 << 5 | 1 << 25 | 1 << 45);
        assert_eq!(fields("0 0 * * MON/2").dow, 1 << 1 | 1 << 3 | 1 << 5);
        assert_eq!(fields("0 0 1,,15 * *").dom, 1 << 1 | 1 << 15);
        assert_eq!(fields("0 0 1 jan-Mar *").month, 0b1110);
        assert_eq!(fields("0 0 * * FR\u{130}").dow, 1 << 5);
        assert_eq!(fields("0 0 , * *").dom, 0);
    }

    #[test]
    fn star_bit_follows_robfig() {
        assert_ne!(fields("0 0 * * *").dom & STAR, 0);
        assert_ne!(fields("0 0 ? * *").dom & STAR, 0);
        assert_ne!(fields("0 0 */1 * *").dom & STAR, 0);
        assert_eq!(fields("0 0 */2 * *").dom & STAR, 0);
        assert_eq!(fields("0 0 1-31 * *").dom & STAR, 0);
        // robfig ignores what follows `*-`.
        assert_eq!(fields("*-5 * * * *").minute, fields("* * * * *").minute);
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        for bad in [
            "0 0 * * 7",
            "0 0 * * 5-7",
            "0 0 * * SAT-SUN",
            "0 0 * * Sunday",
            "@DAILY",
            "@daily ",
            " @daily",
            "@reboot",
            "@every 1d",
            "* * * *",
            "0 0 * * * *",
            "0 0 L * *",
            "0 22-2 * * *",
            "*/0 * * * *",
            "TZ=UTC 0 0 * * *",
            "CRON_TZ=UTC 0 0 * * *",
            "",
            "   ",
            "0 0 1-2-3 * *",
            "0 0 */2/2 * *",
            "-1 * * * *",
            "60 * * * *",
            "0 0 0 * *",
            "0 0 * 13 *",
            "0 0 * * mon/tue",
            "99999999999999999999 * * * *",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn every_rounds_to_whole_seconds_of_at_least_one() {
        assert_eq!(parse("@every 1h30m"), Ok(Spec::Every(5400)));
        assert_eq!(parse("@every 500ms"), Ok(Spec::Every(1)));
        assert_eq!(parse("@every 1.9s"), Ok(Spec::Every(1)));
        assert_eq!(parse("@every -5s"), Ok(Spec::Every(1)));
    }
}
