//! Resource quantities (`500m`, `1Gi`, `1e3`): parsing, comparison and canonical form.
//!
//! Mirrors apimachinery's `resource.Quantity` closely enough for validation and defaulting:
//! `ParseQuantity`'s grammar and error messages, its round-up to nano precision, the binary cap at
//! 2^63-1, and `String()`'s canonical form (largest suffix, no fractional digits: `1.5` is `1500m`,
//! `1536Mi` stays, `1000` becomes `1k`). Values are held as an `i128` count of nano-units, which
//! covers every quantity a pod spec realistically carries; anything larger reports
//! [`QuantityError::OutOfRange`] so callers can skip it instead of guessing.

use std::cmp::Ordering;
use std::fmt;

/// Nano-units per unit.
const NANOS_PER_UNIT: i128 = 1_000_000_000;
/// Upstream caps binary-suffixed quantities at `math.MaxInt64` units.
const MAX_BINARY_NANOS: i128 = (i64::MAX as i128) * NANOS_PER_UNIT;

/// The suffix family a quantity was written with; it is kept for serialization, as upstream does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `m`, `k`, `M`, ... or no suffix.
    DecimalSI,
    /// `Ki`, `Mi`, `Gi`, ...
    BinarySI,
    /// `e3`, `E-2`.
    DecimalExponent,
}

/// Why a string is not a quantity; the texts are apimachinery's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string does not have the shape of a quantity at all.
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    FormatWrong,
    /// The suffix is not one of the known ones.
    #[error("unable to parse quantity's suffix")]
    Suffix,
    /// Well formed, but beyond what this implementation represents (about 1.7e29 units).
    #[error("quantity is out of the supported range")]
    OutOfRange,
}

/// A parsed quantity. Equality and ordering compare values only, as `Quantity.Cmp` does
/// (`1Ki` == `1024`); the format only matters for [`Quantity::canonical`].
#[derive(Debug, Clone, Copy)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl Quantity {
    /// Parses like `resource.ParseQuantity`.
    pub fn parse(s: &str) -> Result<Quantity, QuantityError> {
        if s.is_empty() {
            return Err(QuantityError::FormatWrong);
        }
        let parts = split(s)?;
        let (base, exponent, mut format) = interpret_suffix(parts.suffix).ok_or(QuantityError::Suffix)?;
        let magnitude = magnitude_nanos(parts.num, parts.denom, base, exponent)?;
        let mut nanos = if parts.positive { magnitude } else { -magnitude };
        if format == Format::BinarySI {
            nanos = nanos.clamp(-MAX_BINARY_NANOS, MAX_BINARY_NANOS);
            if nanos > 0 && nanos < NANOS_PER_UNIT {
                format = Format::DecimalSI;
            }
        }
        Ok(Quantity { nanos, format })
    }

    /// The suffix family the quantity was written with.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the quantity is below zero.
    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    /// Rounds away from zero to a multiple of 10^`scale` units (`scale` = -3 for milli), as
    /// `Quantity.RoundUp`; the API server does this to every resource list it stores.
    pub fn round_up(self, scale: i32) -> Quantity {
        let step_exp = scale + 9;
        if step_exp <= 0 {
            return self;
        }
        let Some(step) = 10i128.checked_pow(step_exp.unsigned_abs()) else {
            return self;
        };
        let rem = self.nanos % step;
        if rem == 0 {
            return self;
        }
        let toward_zero = self.nanos - rem;
        let nanos = if self.nanos > 0 { toward_zero.saturating_add(step) } else { toward_zero - step };
        Quantity { nanos, format: self.format }
    }

    /// The canonical text, as `Quantity.String()` renders it.
    pub fn canonical(&self) -> String {
        if self.nanos == 0 {
            return "0".to_string();
        }
        let binary = self.format == Format::BinarySI
            && (self.nanos <= -1024 * NANOS_PER_UNIT || self.nanos >= 1024 * NANOS_PER_UNIT)
            && self.nanos % NANOS_PER_UNIT == 0;
        if binary {
            return canonical_binary(self.nanos / NANOS_PER_UNIT);
        }
        let format = if self.format == Format::BinarySI { Format::DecimalSI } else { self.format };
        canonical_decimal(self.nanos, format)
    }
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.canonical())
    }
}

struct Parts<'a> {
    positive: bool,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// `parseQuantityString`: sign, integer digits, optional `.fraction`, then a suffix made of
/// `[eEinumkKMGTP]*` optionally followed by a signed integer.
fn split(s: &str) -> Result<Parts<'_>, QuantityError> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    let digits_end = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let num_end = digits_end(pos);
    let num = &s[pos..num_end];
    pos = num_end;
    let mut denom = "";
    if b.get(pos) == Some(&b'.') {
        let denom_end = digits_end(pos + 1);
        denom = &s[pos + 1..denom_end];
        pos = denom_end;
    }
    let suffix_start = pos;
    pos += b[pos..].iter().take_while(|c| b"eEinumkKMGTP".contains(c)).count();
    if matches!(b.get(pos), Some(b'-' | b'+')) {
        pos += 1;
    }
    pos = digits_end(pos);
    if pos != b.len() {
        return Err(QuantityError::FormatWrong);
    }
    Ok(Parts { positive, num, denom, suffix: &s[suffix_start..] })
}

/// Base (10 or 2), exponent and format for a suffix, as apimachinery's `suffixHandler.interpret`.
fn interpret_suffix(suffix: &str) -> Option<(u32, i64, Format)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(exp) = decimal {
        return Some((10, exp, Format::DecimalSI));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(exp) = binary {
        return Some((2, exp, Format::BinarySI));
    }
    let rest = suffix.strip_prefix(['e', 'E'])?;
    let exp = rest.parse::<i64>().ok()?;
    Some((10, exp, Format::DecimalExponent))
}

/// |value| in nano-units, rounded up to a whole nano as upstream does ("if you want some
/// resources, you should get some").
fn magnitude_nanos(num: &str, denom: &str, base: u32, exponent: i64) -> Result<i128, QuantityError> {
    let denom = denom.trim_end_matches('0');
    let digits = format!("{}{}", num.trim_start_matches('0'), denom);
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() {
        return Ok(0);
    }
    if digits.len() > 38 {
        return Err(QuantityError::OutOfRange);
    }
    let mut mantissa: i128 = digits.parse().map_err(|_| QuantityError::OutOfRange)?;
    let mut scale10 = 9 - i64::try_from(denom.len()).map_err(|_| QuantityError::OutOfRange)?;
    if base == 2 {
        let factor = 2i128.checked_pow(u32::try_from(exponent).map_err(|_| QuantityError::OutOfRange)?);
        mantissa = factor.and_then(|f| mantissa.checked_mul(f)).ok_or(QuantityError::OutOfRange)?;
    } else {
        scale10 += exponent;
    }
    if scale10 >= 0 {
        let factor = u32::try_from(scale10).ok().and_then(|e| 10i128.checked_pow(e));
        factor.and_then(|f| mantissa.checked_mul(f)).ok_or(QuantityError::OutOfRange)
    } else {
        // Dividing by 10^k with k beyond i128 leaves a fraction of a nano: round up to 1.
        let divisor = u32::try_from(-scale10).ok().and_then(|e| 10i128.checked_pow(e));
        Ok(match divisor {
            Some(d) => (mantissa + d - 1) / d,
            None => 1,
        })
    }
}

fn canonical_decimal(nanos: i128, format: Format) -> String {
    let mut mantissa = nanos;
    let mut exponent: i64 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    // The exponent must be a multiple of three; move the remainder into the mantissa. This cannot
    // overflow: the mantissa only regains at most two of the zeros just removed.
    let rem = exponent.rem_euclid(3);
    mantissa *= 10i128.pow(rem as u32);
    exponent -= rem;
    let suffix = match (format, exponent) {
        (Format::DecimalExponent, 0) => String::new(),
        (Format::DecimalExponent, e) => format!("e{e}"),
        (_, e) => decimal_suffix(e).map_or_else(|| format!("e{e}"), str::to_string),
    };
    format!("{mantissa}{suffix}")
}

fn decimal_suffix(exponent: i64) -> Option<&'static str> {
    Some(match exponent {
        -9 => "n",
        -6 => "u",
        -3 => "m",
        0 => "",
        3 => "k",
        6 => "M",
        9 => "G",
        12 => "T",
        15 => "P",
        18 => "E",
        _ => return None,
    })
}

fn canonical_binary(units: i128) -> String {
    const SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
    let mut amount = units;
    let mut power = 0;
    while amount % 1024 == 0 && power < SUFFIXES.len() - 1 {
        amount /= 1024;
        power += 1;
    }
    format!("{amount}{}", SUFFIXES[power])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> String {
        Quantity::parse(s).map(|q| q.canonical()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn canonical_forms_match_upstream_examples() {
        assert_eq!(canon("1.5"), "1500m");
        assert_eq!(canon("1.5Gi"), "1536Mi");
        assert_eq!(canon("500m"), "500m");
        assert_eq!(canon("0.5"), "500m");
        assert_eq!(canon("1000m"), "1");
        assert_eq!(canon("1000"), "1k");
        assert_eq!(canon("1500000"), "1500k");
        assert_eq!(canon("1024Mi"), "1Gi");
        assert_eq!(canon("1000Mi"), "1000Mi");
        assert_eq!(canon("512Ki"), "512Ki");
        assert_eq!(canon("0.5Ki"), "512");
        assert_eq!(canon("1e3"), "1e3");
        assert_eq!(canon("100e-3"), "100e-3");
        assert_eq!(canon("0"), "0");
        assert_eq!(canon("0Gi"), "0");
        assert_eq!(canon("-1"), "-1");
        assert_eq!(canon("+2"), "2");
        assert_eq!(canon("1M"), "1M");
        assert_eq!(canon(".5"), "500m");
        assert_eq!(canon("5."), "5");
    }

    #[test]
    fn precision_below_a_nano_rounds_up() {
        assert_eq!(canon("0.1n"), "1n");
        assert_eq!(canon("1e-20"), "1e-9", "the exponent form is kept");
    }

    #[test]
    fn bad_strings_report_upstream_messages() {
        assert_eq!(Quantity::parse(""), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("abc"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1.2.3"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("5%"), Err(QuantityError::FormatWrong));
        assert_eq!(Quantity::parse("1i"), Err(QuantityError::Suffix));
        assert_eq!(Quantity::parse("1kk"), Err(QuantityError::Suffix));
        assert_eq!(
            QuantityError::FormatWrong.to_string(),
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        );
    }

    #[test]
    fn comparison_ignores_the_suffix_family() {
        let q = |s: &str| Quantity::parse(s).unwrap();
        assert_eq!(q("1Ki").cmp(&q("1024")), Ordering::Equal);
        assert!(q("200m") < q("1"));
        assert!(q("2") > q("1999m"));
        assert!(q("129Mi") > q("128Mi"));
        assert!(q("-1").is_negative());
    }

    #[test]
    fn rounding_up_to_milli_is_what_the_server_stores() {
        let q = Quantity::parse("0.0001").unwrap().round_up(-3);
        assert_eq!(q.canonical(), "1m");
        let q = Quantity::parse("1.2345").unwrap().round_up(-3);
        assert_eq!(q.canonical(), "1235m");
        let q = Quantity::parse("250m").unwrap().round_up(-3);
        assert_eq!(q.canonical(), "250m");
    }

    #[test]
    fn huge_values_are_out_of_range_not_wrong() {
        assert_eq!(Quantity::parse("1e100"), Err(QuantityError::OutOfRange));
        assert_eq!(Quantity::parse("1Ei").map(|q| q.canonical()), Ok("1Ei".to_string()));
    }
}
