//! Plain-English descriptions of schedules, for people reading a preview or
//! the output of `jobcd schedule`.
//!
//! The text is built from the parsed bit sets, not from the source string, so
//! it says what the schedule does (`MON/2` reads "on Monday, Wednesday and
//! Friday"), including the day-of-month/day-of-week OR rule.

use super::parse::{Field, Fields, STAR, Spec};

const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

pub(crate) fn describe(spec: &Spec) -> String {
    match spec {
        Spec::Every(secs) => format!(
            "Every {} after the previous run (not aligned to the clock)",
            duration(*secs)
        ),
        Spec::Fields(f) => fields(f),
    }
}

fn fields(f: &Fields) -> String {
    for (field, bits) in [
        (Field::Minute, f.minute),
        (Field::Hour, f.hour),
        (Field::Month, f.month),
    ] {
        if values(bits, field).is_empty() {
            return format!("Never (the {field} field matches nothing)");
        }
    }
    let mut text = time_of_day(f);
    let days = days(f);
    if days.is_empty() {
        return "Never (neither day field matches anything)".to_string();
    }
    text.push(' ');
    text.push_str(&days);
    if !is_full(f.month, Field::Month) {
        text.push_str(" in ");
        text.push_str(&list(&values(f.month, Field::Month), |m| {
            MONTHS[m as usize - 1].to_string()
        }));
    }
    text
}

fn time_of_day(f: &Fields) -> String {
    let minutes = values(f.minute, Field::Minute);
    let hours = values(f.hour, Field::Hour);
    let all_hours = is_full(f.hour, Field::Hour);
    if !all_hours && minutes.len() * hours.len() <= 6 {
        let times: Vec<String> = hours
            .iter()
            .flat_map(|h| minutes.iter().map(move |m| format!("{h:02}:{m:02}")))
            .collect();
        return format!("At {}", join(&times));
    }
    let minute_part = if is_full(f.minute, Field::Minute) {
        "Every minute".to_string()
    } else if let Some((0, step)) = step_pattern(&minutes, Field::Minute) {
        format!("Every {step} minutes")
    } else if minutes.len() == 1 {
        format!("At minute {}", minutes[0])
    } else {
        format!("At minutes {}", numbers(&minutes, Field::Minute))
    };
    if all_hours {
        if minute_part.starts_with("Every") {
            minute_part
        } else {
            format!("{minute_part} past every hour")
        }
    } else {
        let hour_list = list_or_step(&hours, Field::Hour, |h| format!("{h:02}:00"));
        let hour_part = match step_pattern(&hours, Field::Hour) {
            Some((0, step)) => format!("every {step} hours"),
            _ => format!("the hours starting {hour_list}"),
        };
        if minute_part.starts_with("Every") {
            format!("{} during {hour_part}", minute_part)
        } else {
            format!("{minute_part} past {hour_part}")
        }
    }
}

fn days(f: &Fields) -> String {
    let dom = values(f.dom, Field::DayOfMonth);
    let dow = values(f.dow, Field::DayOfWeek);
    let dom_text = || {
        let s = numbers(&dom, Field::DayOfMonth);
        if dom.len() == 1 {
            format!("on day {s} of the month")
        } else {
            format!("on days {s} of the month")
        }
    };
    let dow_text = || {
        format!(
            "on {}",
            list_or_step(&dow, Field::DayOfWeek, |d| WEEKDAYS[d as usize].to_string())
        )
    };
    let dom_star = f.dom & STAR != 0;
    let dow_star = f.dow & STAR != 0;
    match (dom_star, dow_star) {
        // A star day field defers to the other one.
        (true, true) => "every day".to_string(),
        (true, false) if dow.is_empty() => String::new(),
        (true, false) if is_full(f.dow, Field::DayOfWeek) => "every day".to_string(),
        (true, false) => dow_text(),
        (false, true) if dom.is_empty() => String::new(),
        (false, true) if is_full(f.dom, Field::DayOfMonth) => "every day".to_string(),
        (false, true) => dom_text(),
        // Neither is a star: either one matching is enough.
        (false, false) => match (dom.is_empty(), dow.is_empty()) {
            (true, true) => String::new(),
            (true, false) => dow_text(),
            (false, true) => dom_text(),
            _ if is_full(f.dom, Field::DayOfMonth) || is_full(f.dow, Field::DayOfWeek) => {
                "every day".to_string()
            }
            _ => format!("{} or {}", dom_text(), dow_text()),
        },
    }
}

fn values(bits: u64, field: Field) -> Vec<u32> {
    let (min, max) = field.bounds();
    (min..=max).filter(|v| bits & (1 << v) != 0).collect()
}

fn is_full(bits: u64, field: Field) -> bool {
    let (min, max) = field.bounds();
    (min..=max).all(|v| bits & (1 << v) != 0)
}

/// `Some((start, step))` when the values are start, start+step, … up to the
/// field's maximum, with at least three of them.
fn step_pattern(values: &[u32], field: Field) -> Option<(u32, u32)> {
    let (_, max) = field.bounds();
    if values.len() < 3 {
        return None;
    }
    let step = values[1] - values[0];
    let regular = values.windows(2).all(|w| w[1] - w[0] == step);
    (step > 1 && regular && values[values.len() - 1] + step > max).then_some((values[0], step))
}

fn numbers(values: &[u32], field: Field) -> String {
    list_or_step(values, field, |v| v.to_string())
}

fn list_or_step(values: &[u32], field: Field, name: impl Fn(u32) -> String) -> String {
    match step_pattern(values, field) {
        Some((start, step)) if values.len() > 3 => {
            format!("every {} from {}", ordinal_step(step), name(start))
        }
        _ => list(values, name),
    }
}

fn ordinal_step(step: u32) -> String {
    match step {
        2 => "second".into(),
        3 => "third".into(),
        n => format!("{n}th"),
    }
}

/// Runs of three or more consecutive values read "A through B".
fn list(values: &[u32], name: impl Fn(u32) -> String) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        if j - i >= 2 {
            parts.push(format!("{} through {}", name(values[i]), name(values[j])));
        } else {
            parts.extend(values[i..=j].iter().map(|v| name(*v)));
        }
        i = j + 1;
    }
    join(&parts)
}

fn join(parts: &[String]) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn duration(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Schedule;

    fn d(expr: &str) -> String {
        Schedule::parse(expr).unwrap().describe()
    }

    #[test]
    fn common_schedules_read_naturally() {
        assert_eq!(d("0 3 * * *"), "At 03:00 every day");
        assert_eq!(d("@daily"), "At 00:00 every day");
        assert_eq!(d("0 9 * * MON-FRI"), "At 09:00 on Monday through Friday");
        assert_eq!(
            d("0 0 * * MON/2"),
            "At 00:00 on Monday, Wednesday and Friday"
        );
        assert_eq!(d("*/15 * * * *"), "Every 15 minutes every day");
        assert_eq!(d("* * * * *"), "Every minute every day");
        assert_eq!(d("0 * * * *"), "At minute 0 past every hour every day");
        assert_eq!(d("0 0 1 * *"), "At 00:00 on day 1 of the month");
        assert_eq!(
            d("0 12 * JAN,JUL *"),
            "At 12:00 every day in January and July"
        );
        assert_eq!(
            d("0 0 */6 * *"),
            "At 00:00 on days every 6th from 1 of the month"
        );
        assert_eq!(
            d("@every 1h30m"),
            "Every 1h30m after the previous run (not aligned to the clock)"
        );
    }

    #[test]
    fn or_rule_is_spelled_out() {
        assert_eq!(
            d("0 0 13 * 5"),
            "At 00:00 on day 13 of the month or on Friday"
        );
        assert_eq!(d("0 0 1-31 * 1"), "At 00:00 every day");
    }

    #[test]
    fn empty_fields_say_never() {
        assert_eq!(d("0 0 , * *"), "Never (neither day field matches anything)");
        assert_eq!(d(", 0 * * *"), "Never (the minute field matches nothing)");
    }
}
