//! Resource quantities as integers (`Quantity.MilliValue()` / `Quantity.Value()`), for arithmetic.
//!
//! `everynode_api::validation::quantity::Quantity` parses and compares quantities but keeps its
//! value private; the scheduler needs sums and differences (`allocatable - requested`), so this
//! reads the same grammar into nano-units. Values round up, as apimachinery's do, so a request of
//! `0.5m` CPU counts as `1m` and never as free.

/// Nano-units per unit.
const NANOS: i128 = 1_000_000_000;

/// The value in nano-units, or `None` when the text is not a quantity. Magnitudes beyond `i128`
/// saturate: they only occur as absurd allocatables, where "huge" is the right answer.
pub fn nanos(text: &str) -> Option<i128> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, suffix) = rest.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() || fraction.contains('.') {
        return None;
    }
    let mut digits: i128 = 0;
    for b in whole.bytes().chain(fraction.bytes()) {
        digits = digits.saturating_mul(10).saturating_add(i128::from(b - b'0'));
    }
    let scale = 10i128.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let (multiplier, divisor) = suffix_factor(suffix)?;
    // value = digits / 10^fraction * multiplier / divisor, in nano-units, rounded up.
    let numerator = digits.saturating_mul(multiplier).saturating_mul(NANOS);
    let denominator = scale.saturating_mul(divisor);
    let magnitude = div_ceil(numerator, denominator);
    Some(if negative { -magnitude } else { magnitude })
}

/// `(multiplier, divisor)` for a suffix: `m` is `(1, 1000)`, `Ki` is `(1024, 1)`, `e3` is `(1000, 1)`.
fn suffix_factor(suffix: &str) -> Option<(i128, i128)> {
    let binary = |power: u32| Some((1024i128.pow(power), 1));
    let decimal = |exponent: i32| {
        let magnitude = 10i128.checked_pow(exponent.unsigned_abs())?;
        Some(if exponent >= 0 { (magnitude, 1) } else { (1, magnitude) })
    };
    match suffix {
        "" => Some((1, 1)),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(1),
        "Mi" => binary(2),
        "Gi" => binary(3),
        "Ti" => binary(4),
        "Pi" => binary(5),
        "Ei" => binary(6),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let exponent: i32 = exponent.parse().ok()?;
            // Beyond 10^38 nothing fits an i128 anyway.
            if exponent.abs() > 38 {
                return None;
            }
            decimal(exponent)
        }
    }
}

fn div_ceil(numerator: i128, denominator: i128) -> i128 {
    if denominator == 0 {
        return i128::MAX;
    }
    let quotient = numerator / denominator;
    if numerator % denominator > 0 { quotient + 1 } else { quotient }
}

fn clamp_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// `Quantity.MilliValue()`: thousandths of a unit, rounded up (CPU is counted this way).
pub fn milli_value(text: &str) -> Option<i64> {
    nanos(text).map(|n| clamp_i64(div_ceil(n, 1_000_000)))
}

/// `Quantity.Value()`: whole units, rounded up (memory, storage, pods, extended resources).
pub fn value(text: &str) -> Option<i64> {
    nanos(text).map(|n| clamp_i64(div_ceil(n, NANOS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milli_values_round_up_like_apimachinery() {
        assert_eq!(milli_value("100m"), Some(100));
        assert_eq!(milli_value("1"), Some(1000));
        assert_eq!(milli_value("1.5"), Some(1500));
        assert_eq!(milli_value("0.5m"), Some(1));
        assert_eq!(milli_value("2k"), Some(2_000_000));
    }

    #[test]
    fn values_understand_binary_decimal_and_exponent_suffixes() {
        assert_eq!(value("1Ki"), Some(1024));
        assert_eq!(value("1Gi"), Some(1 << 30));
        assert_eq!(value("1G"), Some(1_000_000_000));
        assert_eq!(value("1e3"), Some(1000));
        assert_eq!(value("1.5Mi"), Some(1_572_864));
        assert_eq!(value("110"), Some(110));
        assert_eq!(value("100m"), Some(1));
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for text in ["", "abc", "1.2.3", "1Zi", "Mi", "1e"] {
            assert_eq!(nanos(text), None, "{text:?}");
        }
    }

    #[test]
    fn absurd_quantities_saturate() {
        assert_eq!(value("9999999999999999999999999E"), Some(i64::MAX));
    }
}
