//! Random cron schedules, zones and start instants for differential tests.
//!
//! `valid_schedule` writes schedules Kubernetes accepts, in all the shapes
//! robfig/cron v3's standard parser knows; `edge_schedule` writes strings near
//! and beyond the edge of the grammar, most of which are rejected. Both are
//! deterministic given the generator's seed.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::rng::Rng;

/// The `spec.timeZone` values tried; "" is "unset, controller in UTC".
pub const ZONES: &[&str] = &[
    "",
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "America/Santiago",
];

/// Zones and their offset transitions in 2024–2030.
pub struct Zones {
    transitions: Vec<(&'static str, Vec<i64>)>,
}

impl Zones {
    pub fn new() -> Zones {
        let from: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
        let until: Timestamp = "2031-01-01T00:00:00Z".parse().unwrap();
        let transitions = ZONES
            .iter()
            .map(|&name| {
                let times = if name.is_empty() {
                    Vec::new()
                } else {
                    let tz =
                        TimeZone::get(name).unwrap_or_else(|err| panic!("time zone {name}: {err}"));
                    tz.following(from)
                        .map(|t| t.timestamp())
                        .take_while(|t| *t < until)
                        .map(|t| t.as_second())
                        .collect()
                };
                (name, times)
            })
            .collect();
        Zones { transitions }
    }

    /// A random zone and a start instant: anywhere in 2020–2035, or (for
    /// zones with DST) within three days of one of its transitions.
    pub fn zone_and_start(&self, rng: &mut Rng) -> (&'static str, Timestamp) {
        let (name, transitions) = rng.pick(&self.transitions);
        let seconds = if !transitions.is_empty() && rng.percent(60) {
            let at = *rng.pick(transitions);
            if rng.percent(25) {
                // Right at the transition.
                at + rng.range(-7200, 7200)
            } else {
                at + rng.range(-3 * 86_400, 3 * 86_400)
            }
        } else {
            // 2020-01-01T00:00:00Z ..= 2035-12-31T23:59:59Z
            rng.range(1_577_836_800, 2_082_758_399)
        };
        (*name, start_near(rng, seconds))
    }

    /// A random zone and a start instant in 2090–2110, around the century
    /// year 2100, which is not a leap year.
    pub fn zone_and_far_start(&self, rng: &mut Rng) -> (&'static str, Timestamp) {
        let (name, _) = rng.pick(&self.transitions);
        // 2090-01-01T00:00:00Z ..= 2110-12-31T23:59:59Z
        let seconds = rng.range(3_786_912_000, 4_449_513_599);
        (*name, start_near(rng, seconds))
    }

    /// Whether `t` is within `window` seconds of an offset change of `zone`
    /// in 2024–2030.
    pub fn near_transition(&self, zone: &str, t: Timestamp, window: i64) -> bool {
        let Some((_, transitions)) = self.transitions.iter().find(|(name, _)| *name == zone) else {
            return false;
        };
        let t = t.as_second();
        let i = transitions.partition_point(|&at| at < t - window);
        transitions.get(i).is_some_and(|&at| at <= t + window)
    }
}

/// An instant at or just after `seconds`: sometimes the whole minute or hour
/// (where schedules fire), otherwise with a random sub-second part.
fn start_near(rng: &mut Rng, seconds: i64) -> Timestamp {
    let (seconds, nanos) = match rng.below(20) {
        0 | 1 => (seconds - seconds.rem_euclid(60), 0),
        2 => (seconds - seconds.rem_euclid(3600), 0),
        3..=6 => (seconds, 0),
        7..=9 => (seconds, rng.range(0, 999) as i32 * 1_000_000),
        10 | 11 => (seconds, 999_999_999),
        _ => (seconds, rng.range(0, 999_999_999) as i32),
    };
    Timestamp::new(seconds, nanos).unwrap()
}

#[derive(Clone, Copy)]
struct Spec {
    min: i64,
    max: i64,
    names: &'static [&'static str],
    /// Percentage of schedules with `*` (or `?`) in this field.
    star: u64,
}

const MINUTE: Spec = Spec {
    min: 0,
    max: 59,
    names: &[],
    star: 15,
};
const HOUR: Spec = Spec {
    min: 0,
    max: 23,
    names: &[],
    star: 30,
};
const DOM: Spec = Spec {
    min: 1,
    max: 31,
    names: &[],
    star: 55,
};
const MONTH: Spec = Spec {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
    star: 65,
};
const DOW: Spec = Spec {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
    star: 55,
};
const FIELDS: [Spec; 5] = [MINUTE, HOUR, DOM, MONTH, DOW];

/// A number as `strconv.Atoi` reads it: mostly plain, sometimes `05` or `+5`.
fn number(rng: &mut Rng, n: i64) -> String {
    match rng.below(20) {
        0 => format!("0{n}"),
        1 => format!("+{n}"),
        2 => format!("00{n}"),
        _ => n.to_string(),
    }
}

/// A value of the field: a number, or a name in random letter case.
fn value(rng: &mut Rng, spec: Spec, n: i64) -> String {
    if !spec.names.is_empty() && rng.percent(35) {
        let name = spec.names[(n - spec.min) as usize];
        return name
            .chars()
            .map(|c| {
                if rng.percent(50) {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
    }
    number(rng, n)
}

fn step(rng: &mut Rng, spec: Spec) -> String {
    let n = if rng.percent(80) {
        rng.range(1, (spec.max - spec.min + 1).min(15))
    } else {
        rng.range(1, spec.max + 5)
    };
    number(rng, n)
}

/// One comma-separated item of a valid field.
fn item(rng: &mut Rng, spec: Spec) -> String {
    let (lo, hi) = (spec.min, spec.max);
    match rng.below(16) {
        0 => "*".into(),
        1 => "?".into(),
        2..=6 => {
            let n = rng.range(lo, hi);
            value(rng, spec, n)
        }
        7..=9 => {
            let a = rng.range(lo, hi);
            let b = rng.range(a, hi);
            format!("{}-{}", value(rng, spec, a), value(rng, spec, b))
        }
        10 | 11 => format!("*/{}", step(rng, spec)),
        12 => {
            let a = rng.range(lo, hi);
            let b = rng.range(a, hi);
            format!(
                "{}-{}/{}",
                value(rng, spec, a),
                value(rng, spec, b),
                step(rng, spec)
            )
        }
        13 => {
            let a = rng.range(lo, hi);
            format!("{}/{}", value(rng, spec, a), step(rng, spec))
        }
        14 => format!("?/{}", step(rng, spec)),
        _ => "*/1".into(),
    }
}

/// A valid field: usually `*`, otherwise a list of items (sometimes with
/// empty items, which robfig drops).
fn field(rng: &mut Rng, spec: Spec) -> String {
    if rng.percent(spec.star) {
        return if rng.percent(90) { "*" } else { "?" }.into();
    }
    let count = match rng.below(10) {
        0..=5 => 1,
        6 | 7 => 2,
        8 => 3,
        _ => 4,
    };
    let mut items: Vec<String> = (0..count).map(|_| item(rng, spec)).collect();
    if rng.percent(3) {
        let at = rng.below(items.len() as u64 + 1) as usize;
        items.insert(at, String::new());
    }
    items.join(",")
}

const SEPARATORS: &[&str] = &[" ", " ", " ", " ", "  ", "\t", " \t", "\t\t ", "   "];

fn join_fields(rng: &mut Rng, fields: &[String]) -> String {
    let mut out = String::new();
    if rng.percent(10) {
        out.push_str(rng.pick::<&str>(SEPARATORS));
    }
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(if rng.percent(85) {
                " "
            } else {
                rng.pick::<&str>(SEPARATORS)
            });
        }
        out.push_str(f);
    }
    if rng.percent(10) {
        out.push_str(rng.pick::<&str>(SEPARATORS));
    }
    out
}

/// A Go duration that `time.ParseDuration` accepts.
pub fn go_duration(rng: &mut Rng) -> String {
    const UNITS: &[(&str, i64)] = &[
        ("h", 2_000),
        ("m", 5_000),
        ("s", 200_000),
        ("ms", 10_000_000),
        ("us", 1_000_000),
        ("\u{b5}s", 1_000_000),
        ("\u{3bc}s", 1_000_000),
        ("ns", 1_000_000_000),
    ];
    let mut out = String::new();
    match rng.below(20) {
        0 => out.push('+'),
        1 => out.push('-'),
        _ => {}
    }
    let parts = rng.range(1, 3);
    for _ in 0..parts {
        let (unit, limit) = *rng.pick(UNITS);
        let whole = if rng.percent(70) {
            rng.range(1, 120)
        } else {
            rng.range(0, limit)
        };
        match rng.below(6) {
            0 => out.push_str(&format!("{whole}.{}", rng.range(0, 999_999))),
            1 => out.push_str(&format!(".{}", rng.range(0, 99_999))),
            2 => out.push_str(&format!("{whole}.")),
            _ => out.push_str(&whole.to_string()),
        }
        out.push_str(unit);
    }
    out
}

/// A schedule the Kubernetes API server accepts.
pub fn valid_schedule(rng: &mut Rng) -> String {
    match rng.below(100) {
        0..=7 => (*rng.pick(&[
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ]))
        .into(),
        8..=12 => format!("@every {}", go_duration(rng)),
        _ => {
            let fields: Vec<String> = FIELDS.iter().map(|&spec| field(rng, spec)).collect();
            join_fields(rng, &fields)
        }
    }
}

/// A schedule that fires only on 29 February (so at most every four years,
/// and not from 2096 to 2104), for robfig's five-year search horizon.
pub fn leap_day_schedule(rng: &mut Rng) -> String {
    let (minute, hour) = (rng.range(0, 59), rng.range(0, 23));
    let (day, month, weekday) = *rng.pick(&[
        ("29", "2", "*"),
        ("29", "FEB", "?"),
        ("29", "feb", "*/1"),
        ("29,30,31", "2", "*"),
        ("29-31", "2", "?"),
    ]);
    format!("{minute} {hour} {day} {month} {weekday}")
}

/// Field items at or beyond the edge of the grammar.
#[rustfmt::skip]
const EDGE_ITEMS: &[&str] = &[
    "7", "5-7", "SAT-SUN", "sat-sun", "L", "W", "15W", "LW", "5#3", "MON#2", "H", "H/5",
    "H(0-29)", "22-2", "*/0", "0/0", "1-5/0", "1,,2", ",", ",,", ",5", "5,", "*-5", "*-",
    "?-3/2", "*-5/2", "+5", "05", "007", "-1", "-0", "1-", "-", "--1", "1--2", "1-2-3",
    "99999999999999999999", "9223372036854775807", "18446744073709551616", "60", "59", "24",
    "23", "0", "1", "31", "32", "12", "13", "6", "mon/2", "1/mon", "jan/2", "*/jan", "*/2/3",
    "1//2", "/", "/5", "*/", "**", "*?", "?*", "Sunday", "sunday", "SUNDAY", "tues", "JANUARY",
    "fr\u{130}", "FR\u{130}", "\u{130}", "\u{212a}", "mon-fri", "MON-fri/2", "jan-dec",
    "dec-jan", "0x5", "1_0", "1.5", "1e2", "\u{663}", "\u{ff15}", "*/+2", "*/-1", "*/-0",
    "*/01", "+0", "+", "5-+7", "+1-+5", "?/0", "*/9223372036854775807",
    "*/18446744073709551615", "0-59/60", "0-59/59", "1-31/31", "*/100", "0-0", "6-6", "0-6",
    "1-31", "1-12", "0-23", "0-59", "*/1", "?/1", "sun-sat", "SUN-sat/3", "mon-", "-mon",
    "mo", "m", "jun-may", "may-jun",
];

/// Whole schedules at or beyond the edge of the grammar.
const EDGE_SCHEDULES: &[&str] = &[
    "",
    " ",
    "\t",
    "@DAILY",
    "@Daily",
    "@reboot",
    "@every 1d",
    "@every -5s",
    "@every 500ms",
    "@every .5s",
    "@every",
    "@every ",
    "@every  5s",
    "@every 5",
    "@every 1h 30m",
    "@every 1e3s",
    "@every 0",
    "@every -0",
    "@every +0",
    "@every 0s",
    "@every 1.s",
    "@every .s",
    "@every 9223372036s",
    "@every 9223372037s",
    "@every 2562047h47m16.854775807s",
    "@every 2562047h47m16.854775808s",
    "@every 1\u{b5}s",
    "@every 1\u{3bc}s",
    "@every 1Ms",
    "@every 1H",
    "@every 1h30",
    "@every 5s\t",
    "@every\t5s",
    "@every 5s\n",
    "@every 1.000000000000000000001s",
    "@every 0.99999999999s",
    " @daily",
    "@daily ",
    "@daily\t",
    "\t@hourly",
    "@hourly\n",
    "@ daily",
    "@",
    "@@daily",
    "@daily @daily",
    "@weekly 0",
    "@yearly\u{a0}",
    "TZ=UTC 0 0 * * *",
    "CRON_TZ=UTC 0 0 * * *",
    "TZ=Europe/Berlin @daily",
    "TZ=",
    "TZ",
    "0 0 * * * TZ",
    "tz=UTC 0 0 * * *",
    "0 TZ * * *",
    "@every 1hTZ",
    "TZ=UTC",
    "CRON_TZ=",
    "* * * *",
    "* * * * * *",
    "0 0 * * * *",
    "* * * * * * *",
    "*",
    "0 0 0 0 0",
    "0 0 1 1 0",
    "59 23 31 12 6",
    "0 0 30 2 *",
    "0 0 31 2,4,6,9,11 *",
    "0 0 , * *",
    ", , , , ,",
    "0 0 29 2 *",
    "0 0 29 2 1",
    "0 0 L * *",
    "0 0 ? ? ?",
    "? ? ? ? ?",
    "0 0 * * 1#2",
    "0 0 1W * *",
    "H H * * *",
    "0 0 * * *\n",
    "0\n0 * * *",
    "0\r0 * * *",
    "0\u{b}0\u{c}*\u{85}*\u{a0}*",
    "0\u{2003}0\u{3000}*\u{1680}*\u{2028}*",
    "0\u{200b}0 * * *",
    "0\u{feff} 0 * * *",
    "0 0 * * *\u{2029}",
    "0 0 * * mon-fri",
    "0 0 * * fri-mon",
    "0 0 * * 0-7",
    "0 0 * * */7",
    "0 0 * * 7/1",
];

/// Unicode characters that do or do not separate fields.
#[rustfmt::skip]
const ODD_SPACES: &[&str] = &[
    "\u{a0}", "\u{85}", "\u{1680}", "\u{2000}", "\u{2003}", "\u{200a}", "\u{2028}", "\u{2029}",
    "\u{202f}", "\u{205f}", "\u{3000}", "\u{b}", "\u{c}", "\r", "\n", "\u{200b}", "\u{feff}",
    "\u{180e}", "\u{2060}", "\u{1c}",
];

/// Characters and fragments random strings are built from.
#[rustfmt::skip]
const GARBAGE: &[&str] = &[
    "0", "1", "2", "5", "7", "9", "12", "31", "59", "60", "*", "*", "?", ",", ",", "-", "-",
    "/", "/", " ", " ", " ", " ", "\t", "L", "W", "#", "H", "mon", "JAN", "sun", "Fri", "@",
    "@every ", "@daily", "s", "h", "m", ".", "+", "TZ=", "x",
];

/// A string near or beyond the edge of the schedule grammar.
pub fn edge_schedule(rng: &mut Rng) -> String {
    match rng.below(100) {
        // A valid schedule with one or two fields replaced by edge items.
        0..=39 => {
            let mut fields: Vec<String> = FIELDS.iter().map(|&spec| field(rng, spec)).collect();
            for _ in 0..rng.range(1, 2) {
                let at = rng.below(5) as usize;
                let edge = (*rng.pick(EDGE_ITEMS)).to_string();
                fields[at] = match rng.below(4) {
                    0 => format!("{},{}", fields[at], edge),
                    1 => format!("{edge},{}", item(rng, FIELDS[at])),
                    _ => edge,
                };
            }
            join_fields(rng, &fields)
        }
        40..=54 => (*rng.pick(EDGE_SCHEDULES)).into(),
        // Random fragments.
        55..=74 => {
            let len = rng.range(1, 14);
            (0..len).map(|_| *rng.pick(GARBAGE)).collect()
        }
        // Unusual separators between otherwise valid fields.
        75..=84 => {
            let fields: Vec<String> = FIELDS.iter().map(|&spec| field(rng, spec)).collect();
            let mut out = String::new();
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(if rng.percent(50) {
                        rng.pick::<&str>(ODD_SPACES)
                    } else {
                        " "
                    });
                }
                out.push_str(f);
            }
            out
        }
        // Too few or too many fields.
        85..=92 => {
            let count = *rng.pick(&[0usize, 1, 2, 3, 4, 6, 7]);
            let fields: Vec<String> = (0..count).map(|i| field(rng, FIELDS[i % 5])).collect();
            join_fields(rng, &fields)
        }
        // A valid schedule with a prefix or suffix around it.
        _ => {
            let base = valid_schedule(rng);
            let affix = *rng.pick(&[
                "TZ=UTC ",
                "CRON_TZ=America/New_York ",
                " ",
                "\t",
                "\u{a0}",
                "x",
                "@",
                "0 ",
                "\u{feff}",
            ]);
            if rng.percent(50) {
                format!("{affix}{base}")
            } else {
                format!("{base}{affix}")
            }
        }
    }
}
