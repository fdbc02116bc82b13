//! Go duration strings, for `@every <duration>`.
//!
//! robfig/cron hands the text after `@every ` to Go's `time.ParseDuration`,
//! so jobcd accepts exactly its grammar: an optional sign, then one or more
//! `<number><unit>` pairs, where the number may have a fraction and the unit is
//! one of ns, us, µs, μs, ms, s, m, h (no `d`), or the bare string `0`. The
//! total must fit in a signed 64-bit count of nanoseconds.

const LIMIT: u64 = 1 << 63;

/// Parses a Go duration into nanoseconds, or says what is wrong with it.
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, String> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err("expected a duration such as 90s, 15m or 1h30m".into());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let first = rest.as_bytes()[0];
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(format!("expected a number at {rest:?}"));
        }
        let (whole, after_whole) = leading_int(rest).ok_or("the number is too large")?;
        let had_whole = after_whole.len() != rest.len();
        rest = after_whole;
        let (mut fraction, mut scale, mut had_fraction) = (0u64, 1f64, false);
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (f, s, after_fraction) = leading_fraction(after_dot);
            had_fraction = after_fraction.len() != after_dot.len();
            (fraction, scale, rest) = (f, s, after_fraction);
        }
        if !had_whole && !had_fraction {
            return Err("a '.' must have digits beside it".into());
        }
        let unit_len = rest
            .bytes()
            .position(|b| b == b'.' || b.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err("missing unit; use ns, us, ms, s, m or h".into());
        }
        let unit = match &rest[..unit_len] {
            "ns" => 1u64,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => {
                return Err(format!(
                    "unknown unit {other:?}; use ns, us, ms, s, m or h (there is no unit for days: write 24h)"
                ));
            }
        };
        rest = &rest[unit_len..];
        if whole > LIMIT / unit {
            return Err("the duration is too long".into());
        }
        let mut value = whole * unit;
        if fraction > 0 {
            value += (fraction as f64 * (unit as f64 / scale)) as u64;
            if value > LIMIT {
                return Err("the duration is too long".into());
            }
        }
        total += value;
        if total > LIMIT {
            return Err("the duration is too long".into());
        }
    }
    if negative {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| "the duration is too long".into())
}

/// Leading decimal digits as an integer, or None when it overflows 2^63.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let mut x: u64 = 0;
    for b in s[..digits].bytes() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(b - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[digits..]))
}

/// Leading fraction digits: their value and 10^(digits used); digits past
/// the precision are consumed but ignored.
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for b in s[..digits].bytes() {
        if overflow || x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(b - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[digits..])
}

#[cfg(test)]
mod tests {
    use super::parse_go_duration as p;

    #[test]
    fn accepts_go_durations() {
        assert_eq!(p("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(p("90s"), Ok(90_000_000_000));
        assert_eq!(p("1.5s"), Ok(1_500_000_000));
        assert_eq!(p(".5s"), Ok(500_000_000));
        assert_eq!(p("1.s"), Ok(1_000_000_000));
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("-5s"), Ok(-5_000_000_000));
        assert_eq!(p("+2m"), Ok(120_000_000_000));
        assert_eq!(p("1\u{b5}s"), Ok(1_000));
        assert_eq!(p("2562047h47m16.854775807s"), Ok(i64::MAX));
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "1",
            "1d",
            ".s",
            "1h 30m",
            "h",
            "-",
            "2562047h47m16.854775808s",
            "1e3s",
            " 1s",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
