//! Duration strings as Kubernetes and Go write them (`1s`, `500ms`, `1m30s`, `1.5h`).
//!
//! Fleet files are written by people used to `kubectl` flags such as `--timeout=2m`, so the
//! grammar is Go's `time.ParseDuration` without negative values: one or more `<number><unit>`
//! terms, units `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`, and a bare `0`.

use std::fmt::Write as _;
use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty string.
    #[error("invalid duration \"\": expected a number and a unit such as 500ms, 1s or 2m")]
    Empty,
    /// A term has no number (`ms`) or a malformed one (`1..5s`).
    #[error("invalid duration {input:?}: expected a number before each unit")]
    Number {
        /// The whole string.
        input: String,
    },
    /// A number without a unit (`10`), which Go rejects too: seconds or milliseconds?
    #[error("invalid duration {input:?}: missing unit (use ns, us, ms, s, m or h)")]
    MissingUnit {
        /// The whole string.
        input: String,
    },
    /// An unknown unit (`1d`, `5sec`).
    #[error("invalid duration {input:?}: unknown unit {unit:?} (use ns, us, ms, s, m or h)")]
    Unit {
        /// The whole string.
        input: String,
        /// The unit found.
        unit: String,
    },
    /// Negative values make no sense for delays.
    #[error("invalid duration {input:?}: must not be negative")]
    Negative {
        /// The whole string.
        input: String,
    },
    /// More than about 584 years.
    #[error("invalid duration {input:?}: too large")]
    TooLarge {
        /// The whole string.
        input: String,
    },
}

/// Nanoseconds per unit, longest unit names first so `ms` is not read as `m` then `s`.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

/// Parses a Go-style duration string.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationError::Negative { input: input.to_owned() });
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = s;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(DurationError::Number { input: input.to_owned() });
        }
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(DurationError::MissingUnit { input: input.to_owned() });
        }
        let Some(&(_, unit_nanos)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(DurationError::Unit { input: input.to_owned(), unit: unit.to_owned() });
        };
        let nanos = term_nanos(number, unit_nanos)
            .ok_or_else(|| DurationError::TooLarge { input: input.to_owned() })?;
        total_nanos = total_nanos
            .checked_add(nanos)
            .ok_or_else(|| DurationError::TooLarge { input: input.to_owned() })?;
        rest = after;
    }
    let nanos =
        u64::try_from(total_nanos).map_err(|_| DurationError::TooLarge { input: input.to_owned() })?;
    Ok(Duration::from_nanos(nanos))
}

/// `<whole>.<fraction>` times `unit_nanos`, exactly (fractions below a nanosecond are dropped,
/// as Go does).
fn term_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut nanos = whole.checked_mul(unit_nanos)?;
    let mut scale = unit_nanos;
    for digit in fraction.chars() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(digit.to_digit(10)?) * scale)?;
    }
    Some(nanos)
}

/// Formats a duration the way Go's `Duration.String` does (`1m30s`, `500ms`, `1.5s`, `0s`), so
/// values read back from an annotation look like what the user wrote.
pub fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}us", decimal(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", decimal(nanos, 1_000_000));
    }
    let mut out = String::new();
    let hours = nanos / 3_600_000_000_000;
    let minutes = (nanos / 60_000_000_000) % 60;
    let second_nanos = nanos % 60_000_000_000;
    if hours > 0 {
        let _ = write!(out, "{hours}h");
    }
    if hours > 0 || minutes > 0 {
        let _ = write!(out, "{minutes}m");
    }
    let _ = write!(out, "{}s", decimal(second_nanos, 1_000_000_000));
    out
}

/// `value / unit` with the fraction's trailing zeros trimmed.
fn decimal(value: u128, unit: u128) -> String {
    let whole = value / unit;
    let fraction = value % unit;
    if fraction == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// `#[serde(with = "crate::duration::serde_str")]` for `std::time::Duration` fields.
pub mod serde_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the Go form.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*duration))
    }

    /// Reads the Go form; a bare `0` is accepted as a number too.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(u64),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => super::parse(&text).map_err(serde::de::Error::custom),
            Raw::Number(0) => Ok(Duration::ZERO),
            Raw::Number(n) => Err(serde::de::Error::custom(format!(
                "invalid duration {n}: missing unit (write {n}s or {n}ms)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_durations_parse() {
        let cases = [
            ("0", Duration::ZERO),
            ("1s", Duration::from_secs(1)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1m30s", Duration::from_secs(90)),
            ("1.5s", Duration::from_millis(1500)),
            ("1h", Duration::from_secs(3600)),
            ("10us", Duration::from_micros(10)),
            ("10µs", Duration::from_micros(10)),
            ("7ns", Duration::from_nanos(7)),
            (".5s", Duration::from_millis(500)),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input), Ok(want), "{input}");
        }
    }

    #[test]
    fn malformed_durations_say_what_is_wrong() {
        assert_eq!(parse(""), Err(DurationError::Empty));
        assert!(matches!(parse("10"), Err(DurationError::MissingUnit { .. })));
        assert!(matches!(parse("1d"), Err(DurationError::Unit { unit, .. }) if unit == "d"));
        assert!(matches!(parse("5sec"), Err(DurationError::Unit { unit, .. }) if unit == "sec"));
        assert!(matches!(parse("-1s"), Err(DurationError::Negative { .. })));
        assert!(matches!(parse("ms"), Err(DurationError::Number { .. })));
        assert!(matches!(parse("1..5s"), Err(DurationError::Number { .. })));
        assert!(matches!(parse("99999999999h"), Err(DurationError::TooLarge { .. })));
        let message = parse("1x").unwrap_err().to_string();
        assert_eq!(message, "invalid duration \"1x\": unknown unit \"x\" (use ns, us, ms, s, m or h)");
    }

    #[test]
    fn durations_format_like_go_and_round_trip() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_micros(250), "250us"),
            (Duration::from_nanos(3), "3ns"),
        ];
        for (duration, want) in cases {
            assert_eq!(format(duration), want);
            assert_eq!(parse(want), Ok(duration), "{want} round trip");
        }
    }
}
