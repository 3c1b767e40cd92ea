//! Int-or-percent values (`maxUnavailable: 2` or `"20%"`) scaled against a total.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// Why an int-or-percent value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntOrPercentError {
    /// A string value without a trailing `%`.
    #[error("invalid value for IntOrString: invalid type: string is not a percentage")]
    NotAPercentage,
    /// A `%` string whose number does not parse.
    #[error("invalid value for IntOrString: invalid value {0:?}")]
    BadNumber(String),
}

/// The value as written: an absolute number, or a percentage.
pub fn int_or_percent(value: &IntOrString) -> Result<(i64, bool), IntOrPercentError> {
    match value {
        IntOrString::Int(i) => Ok((i64::from(*i), false)),
        IntOrString::String(s) => {
            let Some(number) = s.strip_suffix('%') else {
                return Err(IntOrPercentError::NotAPercentage);
            };
            number.parse::<i64>().map(|v| (v, true)).map_err(|_| IntOrPercentError::BadNumber(s.clone()))
        }
    }
}

/// Scales `value` against `total` like apimachinery's `GetScaledValueFromIntOrPercent`:
/// percentages are rounded up (`round_up`) or down; absolute numbers are returned as they are.
///
/// Upstream computes `ceil(float(value) * float(total) / 100)`; we do the same in f64 so that every
/// (value, total) pair rounds exactly as it does there.
pub fn scaled_value(value: &IntOrString, total: i64, round_up: bool) -> Result<i64, IntOrPercentError> {
    let (v, is_percent) = int_or_percent(value)?;
    if !is_percent {
        return Ok(v);
    }
    let scaled = (v as f64) * (total as f64) / 100.0;
    Ok(if round_up { scaled.ceil() } else { scaled.floor() } as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> IntOrString {
        IntOrString::String(v.to_string())
    }

    #[test]
    fn percentages_round_up_like_upstream() {
        assert_eq!(scaled_value(&s("50%"), 3, true), Ok(2));
        assert_eq!(scaled_value(&s("20%"), 5, true), Ok(1));
        assert_eq!(scaled_value(&s("10%"), 1000, true), Ok(100));
        assert_eq!(scaled_value(&s("1%"), 1, true), Ok(1));
        assert_eq!(scaled_value(&s("0%"), 10, true), Ok(0));
        assert_eq!(scaled_value(&s("50%"), 3, false), Ok(1));
    }

    #[test]
    fn integers_are_not_scaled() {
        assert_eq!(scaled_value(&IntOrString::Int(7), 3, true), Ok(7));
    }

    #[test]
    fn strings_without_percent_are_rejected() {
        assert_eq!(scaled_value(&s("5"), 10, true), Err(IntOrPercentError::NotAPercentage));
        assert!(matches!(scaled_value(&s("x%"), 10, true), Err(IntOrPercentError::BadNumber(_))));
    }
}
