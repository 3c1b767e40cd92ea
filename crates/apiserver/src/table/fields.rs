//! Defensive reads from stored JSON: a missing or mistyped field reads as Go's zero value.
//!
//! Upstream printers work on typed Go structs, where an absent field is `""`, `0`, `false` or an
//! empty slice. These helpers give the same defaults so a printer never panics on odd input.

use serde_json::Value;

/// The value at `path` (object keys only), if every step exists.
pub(super) fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |current, key| current.get(key))
}

/// The string at `path`, or "" when missing or not a string.
pub(super) fn str_at<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    at(value, path).and_then(Value::as_str).unwrap_or_default()
}

/// The integer at `path`, or 0 when missing; a float is truncated as Go's `int64(f)` does.
pub(super) fn int_at(value: &Value, path: &[&str]) -> i64 {
    at(value, path).map(as_int).unwrap_or_default()
}

/// A JSON number as an integer (0 for anything else).
pub(super) fn as_int(value: &Value) -> i64 {
    if let Some(i) = value.as_i64() {
        return i;
    }
    // `as` saturates, which is the least surprising reading of an out-of-range count.
    value.as_f64().map(|f| f as i64).unwrap_or_default()
}

/// The boolean at `path`, or false.
pub(super) fn bool_at(value: &Value, path: &[&str]) -> bool {
    at(value, path).and_then(Value::as_bool).unwrap_or_default()
}

/// The array at `path`, or an empty slice.
pub(super) fn array_at<'a>(value: &'a Value, path: &[&str]) -> &'a [Value] {
    at(value, path).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// The number of entries of the object or array at `path` (Go's `len` of a map or slice).
pub(super) fn len_at(value: &Value, path: &[&str]) -> usize {
    match at(value, path) {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    }
}

/// Whether the field at `path` is present and not null (Go's non-nil pointer).
pub(super) fn is_set(value: &Value, path: &[&str]) -> bool {
    at(value, path).is_some_and(|v| !v.is_null())
}

/// `metadata.name`, or "".
pub(super) fn name(object: &Value) -> &str {
    str_at(object, &["metadata", "name"])
}

/// `metadata.creationTimestamp` as stored (maybe missing).
pub(super) fn creation_timestamp(object: &Value) -> Option<&Value> {
    at(object, &["metadata", "creationTimestamp"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_or_mistyped_fields_read_as_zero_values() {
        let object = json!({"a": {"s": 5, "n": "x", "b": "yes"}});
        assert_eq!(str_at(&object, &["a", "s"]), "");
        assert_eq!(str_at(&object, &["nope"]), "");
        assert_eq!(int_at(&object, &["a", "n"]), 0);
        assert!(!bool_at(&object, &["a", "b"]));
        assert!(array_at(&object, &["a"]).is_empty());
        assert_eq!(len_at(&object, &["a"]), 3);
        assert_eq!(len_at(&json!(null), &["a"]), 0);
    }

    #[test]
    fn floats_truncate_like_go_integer_conversion() {
        assert_eq!(int_at(&json!({"n": 2.9}), &["n"]), 2);
        assert_eq!(int_at(&json!({"n": -2.9}), &["n"]), -2);
    }

    #[test]
    fn null_is_not_set() {
        let object = json!({"a": null, "b": {}});
        assert!(!is_set(&object, &["a"]));
        assert!(is_set(&object, &["b"]));
        assert!(!is_set(&object, &["c"]));
    }
}
