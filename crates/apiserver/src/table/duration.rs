//! Human-readable ages: a port of apimachinery `util/duration.HumanDuration` and the printers'
//! `translateTimestampSince`.

use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

const SECOND: i128 = 1_000_000_000;
const MINUTE: i128 = 60 * SECOND;
const HOUR: i128 = 60 * MINUTE;

/// What upstream prints for a missing (zero) timestamp.
pub(super) const UNKNOWN: &str = "<unknown>";

/// A succinct duration with ~2-3 significant figures, exactly as `duration.HumanDuration` prints
/// it (e.g. "45s", "3m10s", "70m", "2d1h", "2y1d").
///
/// Up to two seconds in the future still reads "0s": clocks of different machines drift, and
/// such an object was created "just now". Further in the future reads "<invalid>".
pub(crate) fn human_duration(nanos: i128) -> String {
    // Rust integer division truncates towards zero, as Go's `int(d.Seconds())` and `d / unit` do.
    let seconds = nanos / SECOND;
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    if seconds < 0 {
        return "0s".to_owned();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = nanos / MINUTE;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = nanos / HOUR;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        let days = hours / 24;
        return if h == 0 { format!("{days}d") } else { format!("{days}d{h}h") };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let years = hours / 24 / 365;
        let days = (hours / 24) % 365;
        return if days == 0 { format!("{years}y") } else { format!("{years}y{days}d") };
    }
    format!("{}y", hours / 24 / 365)
}

/// Parses a stored `metav1.Time` / `metav1.MicroTime`. Missing, null, empty and Go's zero time
/// ("0001-01-01T00:00:00Z") all read as `None`, the way `Time.IsZero()` sees them upstream; text
/// that is not RFC 3339 also reads as `None` (upstream could not have decoded the object at all).
pub(super) fn parse_time(value: Option<&Value>) -> Option<Timestamp> {
    let text = value?.as_str()?;
    let parsed: Timestamp = text.parse().ok()?;
    (parsed != go_zero_time()).then_some(parsed)
}

/// `translateTimestampSince`: the age of a timestamp field, or "<unknown>" when unset.
pub(super) fn since(value: Option<&Value>, now: Timestamp) -> String {
    match parse_time(value) {
        Some(then) => age(then, now),
        None => UNKNOWN.to_owned(),
    }
}

/// `HumanDuration(now - then)`.
pub(super) fn age(then: Timestamp, now: Timestamp) -> String {
    human_duration(now.as_nanosecond() - then.as_nanosecond())
}

/// `t.UTC().Format(time.RFC3339)` of a stored timestamp, Go's zero time when unset.
pub(super) fn rfc3339(value: Option<&Value>) -> String {
    match parse_time(value) {
        Some(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "0001-01-01T00:00:00Z".to_owned(),
    }
}

/// Go's `time.Time{}`: January 1, year 1, 00:00:00 UTC.
fn go_zero_time() -> Timestamp {
    // Seconds from 0001-01-01 to the Unix epoch: 719162 days.
    Timestamp::from_second(-62_135_596_800).unwrap_or(Timestamp::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MS: i128 = 1_000_000;
    const DAY: i128 = 24 * HOUR;
    const YEAR: i128 = 365 * DAY;

    /// `TestHumanDuration` from apimachinery's duration_test.go.
    #[test]
    fn human_duration_matches_upstream_examples() {
        let cases = [
            (SECOND, "1s"),
            (70 * SECOND, "70s"),
            (190 * SECOND, "3m10s"),
            (70 * MINUTE, "70m"),
            (47 * HOUR, "47h"),
            (49 * HOUR, "2d1h"),
            ((8 * 24 + 2) * HOUR, "8d"),
            ((367 * 24) * HOUR, "367d"),
            ((365 * 2 * 24 + 25) * HOUR, "2y1d"),
            ((365 * 8 * 24 + 2) * HOUR, "8y"),
        ];
        for (nanos, want) in cases {
            assert_eq!(human_duration(nanos), want, "HumanDuration({nanos}ns)");
        }
    }

    /// `TestHumanDurationBoundaries` from apimachinery's duration_test.go.
    #[test]
    fn human_duration_matches_upstream_boundaries() {
        let cases = [
            (-2 * SECOND, "<invalid>"),
            (-2 * SECOND + 1, "0s"),
            (0, "0s"),
            (SECOND - MS, "0s"),
            (2 * MINUTE - MS, "119s"),
            (2 * MINUTE, "2m"),
            (2 * MINUTE + SECOND, "2m1s"),
            (10 * MINUTE - MS, "9m59s"),
            (10 * MINUTE, "10m"),
            (10 * MINUTE + SECOND, "10m"),
            (3 * HOUR - MS, "179m"),
            (3 * HOUR, "3h"),
            (3 * HOUR + MINUTE, "3h1m"),
            (8 * HOUR - MS, "7h59m"),
            (8 * HOUR, "8h"),
            (8 * HOUR + 59 * MINUTE, "8h"),
            (2 * DAY - MS, "47h"),
            (2 * DAY, "2d"),
            (2 * DAY + HOUR, "2d1h"),
            (8 * DAY - MS, "7d23h"),
            (8 * DAY, "8d"),
            (8 * DAY + 23 * HOUR, "8d"),
            (2 * YEAR - MS, "729d"),
            (2 * YEAR, "2y"),
            (2 * YEAR + 23 * HOUR, "2y"),
            (2 * YEAR + 23 * HOUR + 59 * MINUTE, "2y"),
            (2 * YEAR + DAY - MS, "2y"),
            (2 * YEAR + DAY, "2y1d"),
            (3 * YEAR, "3y"),
            (4 * YEAR, "4y"),
            (5 * YEAR, "5y"),
            (6 * YEAR, "6y"),
            (7 * YEAR, "7y"),
            (8 * YEAR - MS, "7y364d"),
            (8 * YEAR, "8y"),
            (8 * YEAR + 364 * DAY, "8y"),
            (9 * YEAR, "9y"),
        ];
        for (nanos, want) in cases {
            assert_eq!(human_duration(nanos), want, "HumanDuration({nanos}ns)");
        }
    }

    #[test]
    fn since_reads_unknown_for_missing_null_and_go_zero_timestamps() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(since(None, now), "<unknown>");
        assert_eq!(since(Some(&json!(null)), now), "<unknown>");
        assert_eq!(since(Some(&json!("")), now), "<unknown>");
        assert_eq!(since(Some(&json!("0001-01-01T00:00:00Z")), now), "<unknown>");
        assert_eq!(since(Some(&json!("2024-05-01T11:55:00Z")), now), "5m");
        assert_eq!(since(Some(&json!("2024-05-01T11:59:59.5Z")), now), "0s");
    }

    #[test]
    fn rfc3339_is_utc_with_second_precision_and_go_zero_when_unset() {
        assert_eq!(rfc3339(Some(&json!("2024-05-01T14:00:00.123+02:00"))), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
    }
}
