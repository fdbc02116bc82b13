//! Resource quantities (`250m`, `1.5Gi`, `1e3`) as the API server reads
//! them: the same accepted spellings and the same value, compared exactly
//! (a request of `1000m` equals a limit of `1`, `1Gi` is more than `1G`).
//!
//! A quantity is an optional sign, decimal digits with at most one point
//! (either side may be empty), and one suffix: none, a decimal SI one (`n`,
//! `u`, `m`, `k`, `M`, `G`, `T`, `P`, `E`), a binary one (`Ki` … `Ei`), or
//! an exponent (`e3`, `E-2`). Like the API server, jobcd takes a lone sign
//! or point as zero, rounds anything smaller than a nano-unit up to one,
//! and caps binary-suffixed values at 2^63 − 1.

use std::cmp::Ordering;
use std::fmt;

/// Why a text is not a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuantityError {
    /// Not shaped like a number and a suffix.
    Format,
    /// A number followed by a suffix Kubernetes does not know (`K`, `m0`).
    Suffix,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuantityError::Format => {
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            }
            QuantityError::Suffix => "unable to parse quantity's suffix",
        })
    }
}

/// An exact quantity: `digits × 10^exponent`, with a sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quantity {
    negative: bool,
    /// Decimal digits without leading or trailing zeros; empty for zero.
    digits: Vec<u8>,
    exponent: i64,
}

/// Nano-units: the smallest amount a quantity holds.
const SMALLEST_EXPONENT: i64 = -9;
/// 2^63 − 1, the largest value.
const LARGEST: &[u8] = b"9223372036854775807";

impl Quantity {
    /// Reads a quantity as the API server does.
    pub(crate) fn parse(text: &str) -> Result<Quantity, QuantityError> {
        if text.is_empty() {
            return Err(QuantityError::Format);
        }
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        let whole_end = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let whole = &rest[..whole_end];
        let mut at = whole_end;
        let mut fraction: &[u8] = &[];
        if rest.get(at) == Some(&b'.') {
            let len = rest[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            fraction = &rest[at + 1..at + 1 + len];
            at += 1 + len;
        }
        let suffix = &rest[at..];
        if !suffix_shape(suffix) {
            return Err(QuantityError::Format);
        }
        let (exp10, exp2) = suffix_value(suffix).ok_or(QuantityError::Suffix)?;
        let mut digits: Vec<u8> = whole.iter().chain(fraction).map(|b| b - b'0').collect();
        let mut exponent = exp10 - fraction.len() as i64;
        for _ in 0..exp2 / 10 {
            digits = times(&digits, 1024);
        }
        normalize(&mut digits, &mut exponent);
        let mut q = Quantity {
            negative: negative && !digits.is_empty(),
            digits,
            exponent,
        };
        q.round_up_to_nano();
        if exp2 > 0 {
            q.cap();
        }
        Ok(q)
    }

    /// Below zero.
    pub(crate) fn is_negative(&self) -> bool {
        self.negative
    }

    /// A whole number.
    pub(crate) fn is_integer(&self) -> bool {
        self.exponent >= 0
    }

    /// The value, when it is a whole number from 0 to 2^64 − 1.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        if self.negative || !self.is_integer() {
            return None;
        }
        let zeros = usize::try_from(self.exponent).ok()?;
        let mut value: u64 = 0;
        for d in self
            .digits
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, zeros))
        {
            value = value.checked_mul(10)?.checked_add(u64::from(d))?;
        }
        Some(value)
    }

    /// The value in units of 10^`scale`, rounded up (toward +∞): Kubernetes'
    /// `ScaledValue` (`Value()` is scale 0, `MilliValue()` scale −3) for
    /// the quantities resources take. Beyond i64 it saturates (Kubernetes
    /// gives 0 or a wrapped value there).
    pub(crate) fn scaled(&self, scale: i64) -> i64 {
        let shift = self.exponent - scale;
        let (whole, rest_nonzero): (&[u8], bool) = if shift >= 0 {
            (&self.digits, false)
        } else {
            let keep = self.digits.len() as i64 + shift;
            if keep <= 0 {
                (&[], !self.digits.is_empty())
            } else {
                let (whole, rest) = self.digits.split_at(keep as usize);
                (whole, rest.iter().any(|d| *d != 0))
            }
        };
        let zeros = usize::try_from(shift.max(0)).unwrap_or(usize::MAX).min(64);
        let mut value: i64 = 0;
        for d in whole.iter().copied().chain(std::iter::repeat_n(0, zeros)) {
            match value
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(d)))
            {
                Some(v) => value = v,
                None => return if self.negative { i64::MIN } else { i64::MAX },
            }
        }
        match (self.negative, rest_nonzero) {
            (true, _) => -value,
            (false, true) => value.saturating_add(1),
            (false, false) => value,
        }
    }

    /// A whole multiple of `unit` (a positive whole number).
    pub(crate) fn is_multiple_of(&self, unit: u64) -> bool {
        if !self.is_integer() || unit == 0 {
            return false;
        }
        let mut remainder: u128 = 0;
        let zeros = usize::try_from(self.exponent).unwrap_or(usize::MAX);
        for d in self
            .digits
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, zeros.min(64)))
        {
            remainder = (remainder * 10 + u128::from(d)) % u128::from(unit);
        }
        remainder == 0
    }

    /// Rounds up to nano-units, as the API server stores a quantity.
    fn round_up_to_nano(&mut self) {
        if self.digits.is_empty() {
            return;
        }
        if self.exponent < SMALLEST_EXPONENT {
            let keep = self.digits.len() as i64 + self.exponent - SMALLEST_EXPONENT;
            let keep = usize::try_from(keep.max(0)).unwrap_or(0);
            self.digits.truncate(keep);
            self.digits = plus_one(&self.digits);
            self.exponent = SMALLEST_EXPONENT;
            normalize(&mut self.digits, &mut self.exponent);
        }
    }

    /// Caps at 2^63 − 1, as the API server caps a binary-suffixed quantity
    /// (`100Ei`); decimal ones it keeps as large as they are.
    fn cap(&mut self) {
        let magnitude = self.digits.len() as i64 + self.exponent;
        let largest: Vec<u8> = LARGEST.iter().map(|b| b - b'0').collect();
        let too_big = match magnitude.cmp(&(largest.len() as i64)) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => self.cmp_digits(&largest, 0) == Ordering::Greater,
        };
        if too_big {
            self.digits = largest;
            self.exponent = 0;
        }
    }

    /// Compares the magnitudes of `self` and `digits × 10^exponent`.
    fn cmp_digits(&self, digits: &[u8], exponent: i64) -> Ordering {
        let (a_mag, b_mag) = (
            self.digits.len() as i64 + self.exponent,
            digits.len() as i64 + exponent,
        );
        match (self.digits.is_empty(), digits.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        a_mag.cmp(&b_mag).then_with(|| {
            let n = self.digits.len().max(digits.len());
            let at = |d: &[u8], i: usize| d.get(i).copied().unwrap_or(0);
            (0..n)
                .map(|i| at(&self.digits, i).cmp(&at(digits, i)))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        })
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Quantity) -> Ordering {
        match (self.negative, other.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => self.cmp_digits(&other.digits, other.exponent),
            (true, true) => other.cmp_digits(&self.digits, self.exponent),
        }
    }
}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Quantity) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The suffix's shape: letters from `eEinumkKMGTP`, then an optional sign
/// and digits.
fn suffix_shape(suffix: &[u8]) -> bool {
    let letters = suffix
        .iter()
        .take_while(|b| b"eEinumkKMGTP".contains(b))
        .count();
    let mut rest = &suffix[letters..];
    if let Some(b'+' | b'-') = rest.first() {
        rest = &rest[1..];
    }
    rest.iter().all(u8::is_ascii_digit)
}

/// A suffix's power of ten and power of two.
fn suffix_value(suffix: &[u8]) -> Option<(i64, u32)> {
    let decimal = match suffix {
        b"" => Some(0),
        b"n" => Some(-9),
        b"u" => Some(-6),
        b"m" => Some(-3),
        b"k" => Some(3),
        b"M" => Some(6),
        b"G" => Some(9),
        b"T" => Some(12),
        b"P" => Some(15),
        b"E" => Some(18),
        _ => None,
    };
    if let Some(e) = decimal {
        return Some((e, 0));
    }
    let binary = match suffix {
        b"Ki" => Some(10),
        b"Mi" => Some(20),
        b"Gi" => Some(30),
        b"Ti" => Some(40),
        b"Pi" => Some(50),
        b"Ei" => Some(60),
        _ => None,
    };
    if let Some(e) = binary {
        return Some((0, e));
    }
    match suffix {
        [b'e' | b'E', rest @ ..] if !rest.is_empty() => {
            let text = std::str::from_utf8(rest).ok()?;
            text.parse::<i32>().ok().map(|e| (i64::from(e), 0))
        }
        _ => None,
    }
}

/// `digits × by`.
fn times(digits: &[u8], by: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(digits.len() + 4);
    let mut carry: u64 = 0;
    for d in digits.iter().rev() {
        let v = u64::from(*d) * u64::from(by) + carry;
        out.push((v % 10) as u8);
        carry = v / 10;
    }
    while carry > 0 {
        out.push((carry % 10) as u8);
        carry /= 10;
    }
    out.reverse();
    out
}

/// `digits + 1`.
fn plus_one(digits: &[u8]) -> Vec<u8> {
    let mut out = digits.to_vec();
    for d in out.iter_mut().rev() {
        if *d == 9 {
            *d = 0;
        } else {
            *d += 1;
            return out;
        }
    }
    out.insert(0, 1);
    out
}

/// Drops leading zeros, and trailing zeros into the exponent.
fn normalize(digits: &mut Vec<u8>, exponent: &mut i64) {
    let lead = digits.iter().take_while(|d| **d == 0).count();
    digits.drain(..lead);
    while digits.last() == Some(&0) {
        digits.pop();
        *exponent += 1;
    }
    if digits.is_empty() {
        *exponent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(text: &str) -> Quantity {
        Quantity::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn scaled_values_round_up_as_kubernetes_does() {
        // resource.Quantity's Value() and MilliValue() on the same inputs.
        for (text, value, milli) in [
            ("500m", 1, 500),
            ("1", 1, 1000),
            ("2.5", 3, 2500),
            ("1Gi", 1_073_741_824, 1_073_741_824_000),
            ("128Mi", 134_217_728, 134_217_728_000),
            ("1k", 1000, 1_000_000),
            ("0.1m", 1, 1),
            ("0", 0, 0),
        ] {
            assert_eq!(q(text).scaled(0), value, "{text}");
            assert_eq!(q(text).scaled(-3), milli, "{text}");
        }
    }

    #[test]
    fn spellings_the_api_server_takes_and_refuses() {
        for ok in [
            "1",
            "0",
            "250m",
            "0.5",
            "1.5",
            "2Gi",
            "1G",
            "1e3",
            "1E3",
            "1e-3",
            "1e+3",
            "1Ki",
            "1k",
            "0.1m",
            "1n",
            "1u",
            "100Ei",
            "+1",
            "-1",
            ".5",
            "5.",
            "9223372036854775807",
            "-",
            "+",
            ".",
            "e3",
            "m",
            "E",
            "99999999999999999999",
        ] {
            assert!(Quantity::parse(ok).is_ok(), "{ok:?}");
        }
        for (bad, why) in [
            ("", QuantityError::Format),
            ("256MB", QuantityError::Format),
            ("1GiB", QuantityError::Format),
            ("1.2.3", QuantityError::Format),
            ("1 Gi", QuantityError::Format),
            ("0x10", QuantityError::Format),
            ("1gi", QuantityError::Format),
            ("12.5%", QuantityError::Format),
            (" 1", QuantityError::Format),
            ("1e", QuantityError::Suffix),
            ("1K", QuantityError::Suffix),
            ("1m0", QuantityError::Suffix),
            ("1Mii", QuantityError::Suffix),
        ] {
            assert_eq!(Quantity::parse(bad), Err(why), "{bad:?}");
        }
    }

    #[test]
    fn values_compare_exactly_across_notations() {
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Gi"), q("1073741824"));
        assert!(q("1Gi") > q("1G"));
        assert!(q("600Mi") > q("512Mi"));
        assert!(q("0.5") == q("500m"));
        assert!(q("1e3") == q("1k"));
        assert!(q("-1") < q("0"));
        assert!(q("-2") < q("-1"));
        assert_eq!(q("-"), q("0"));
        assert!(!q("-0").is_negative());
        // Below a nano-unit rounds up; a binary value beyond 2^63 − 1 is
        // capped, a decimal one is not.
        assert_eq!(q("0.1n"), q("1n"));
        assert_eq!(q("100Ei"), q("9223372036854775807"));
        assert!(q("99999999999999999999") > q("100Ei"));
    }

    #[test]
    fn integers_and_multiples() {
        assert!(q("2").is_integer() && q("2k").is_integer() && q("1Gi").is_integer());
        assert!(!q("0.5").is_integer() && !q("1500m").is_integer());
        assert!(q("4Mi").is_multiple_of(2 * 1024 * 1024));
        assert!(!q("3Mi").is_multiple_of(2 * 1024 * 1024));
        assert!(q("1G").is_multiple_of(1000));
    }
}
