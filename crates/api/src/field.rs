//! Field-level validation errors, rendered exactly as Kubernetes renders them.
//!
//! kubectl prints the API server's messages verbatim (`spec.selector: Required value`), and users
//! compare them with what a real cluster says, so `Display` follows apimachinery's
//! `field.Error.Error()` to the letter.

use std::collections::BTreeMap;
use std::fmt;

/// A path to a field, such as `spec.template.spec.containers[0].image`.
///
/// Built by appending children, like apimachinery's `field.Path`; cloning is cheap enough for
/// validation, which is never a hot path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldPath(String);

impl FieldPath {
    /// A root path (`FieldPath::new("spec")`).
    pub fn new(root: &str) -> Self {
        FieldPath(root.to_string())
    }

    /// `self.name`.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{}", self.0, name))
        }
    }

    /// `self[index]`.
    pub fn index(&self, index: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, index))
    }

    /// `self[key]`, as used for map entries (`metadata.labels[app]`).
    pub fn key(&self, key: &str) -> Self {
        FieldPath(format!("{}[{}]", self.0, key))
    }

    /// The dotted path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The kind of a field error; the wire names are the `reason` of a Status cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl ErrorType {
    /// The machine-readable cause type (`FieldValueInvalid`), as sent in `details.causes[].reason`.
    pub fn cause_type(self) -> &'static str {
        match self {
            ErrorType::NotFound => "FieldValueNotFound",
            ErrorType::Required => "FieldValueRequired",
            ErrorType::Duplicate => "FieldValueDuplicate",
            ErrorType::Invalid => "FieldValueInvalid",
            ErrorType::NotSupported => "FieldValueNotSupported",
            ErrorType::Forbidden => "FieldValueForbidden",
            ErrorType::TooLong => "FieldValueTooLong",
            ErrorType::TooMany => "FieldValueTooMany",
            ErrorType::Internal => "InternalError",
            ErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// The human text kubectl shows (`Invalid value`).
    pub fn message(self) -> &'static str {
        match self {
            ErrorType::NotFound => "Not found",
            ErrorType::Required => "Required value",
            ErrorType::Duplicate => "Duplicate value",
            ErrorType::Invalid | ErrorType::TypeInvalid => "Invalid value",
            ErrorType::NotSupported => "Unsupported value",
            ErrorType::Forbidden => "Forbidden",
            ErrorType::TooLong => "Too long",
            ErrorType::TooMany => "Too many",
            ErrorType::Internal => "Internal error",
        }
    }
}

/// The offending value, rendered the way Go's `%v`/`%q`/`%#v` would render it upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadValue {
    /// No value is shown (Required, Forbidden, TooLong, Internal).
    Omit,
    /// `null`.
    Null,
    /// A string, shown quoted (`"Foo"`).
    Str(String),
    /// An integer, shown bare.
    Int(i64),
    /// A boolean, shown bare.
    Bool(bool),
    /// Text already rendered in upstream's style (for example `map[string]string{"a":"b"}`).
    Rendered(String),
}

impl BadValue {
    /// A string map as Go's `%#v` shows it: `map[string]string{"a":"b", "c":"d"}` (keys sorted).
    pub fn string_map(map: &BTreeMap<String, String>) -> Self {
        let body: Vec<String> = map.iter().map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v))).collect();
        BadValue::Rendered(format!("map[string]string{{{}}}", body.join(", ")))
    }

    /// A string map that may be absent (`map[string]string(nil)` when it is).
    pub fn opt_string_map(map: Option<&BTreeMap<String, String>>) -> Self {
        match map {
            Some(m) => Self::string_map(m),
            None => BadValue::Rendered("map[string]string(nil)".to_string()),
        }
    }
}

/// Quotes a string like Go's `%q` / `strconv.Quote` for the characters that matter here.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One field-level error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub kind: ErrorType,
    pub field: String,
    pub bad_value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn required(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Required, path, BadValue::Omit, detail)
    }

    pub fn invalid(path: &FieldPath, value: BadValue, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Invalid, path, value, detail)
    }

    pub fn forbidden(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Forbidden, path, BadValue::Omit, detail)
    }

    pub fn duplicate(path: &FieldPath, value: BadValue) -> Self {
        Self::new(ErrorType::Duplicate, path, value, "")
    }

    pub fn not_found(path: &FieldPath, value: BadValue) -> Self {
        Self::new(ErrorType::NotFound, path, value, "")
    }

    /// `Unsupported value: "X": supported values: "A", "B"`.
    pub fn not_supported(path: &FieldPath, value: BadValue, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(ErrorType::NotSupported, path, value, detail)
    }

    pub fn too_long(path: &FieldPath, max_bytes: usize) -> Self {
        Self::new(ErrorType::TooLong, path, BadValue::Omit, format!("must have at most {max_bytes} bytes"))
    }

    pub fn internal(path: &FieldPath, detail: impl Into<String>) -> Self {
        Self::new(ErrorType::Internal, path, BadValue::Omit, detail)
    }

    fn new(kind: ErrorType, path: &FieldPath, bad_value: BadValue, detail: impl Into<String>) -> Self {
        FieldError { kind, field: path.to_string(), bad_value, detail: detail.into() }
    }

    /// The message without the field name, as apimachinery's `ErrorBody()`.
    pub fn body(&self) -> String {
        let mut s = match (self.kind, &self.bad_value) {
            (ErrorType::Required | ErrorType::Forbidden | ErrorType::TooLong | ErrorType::Internal, _)
            | (_, BadValue::Omit) => self.kind.message().to_string(),
            (kind, BadValue::Null) => format!("{}: null", kind.message()),
            (kind, BadValue::Str(v)) => format!("{}: {}", kind.message(), go_quote(v)),
            (kind, BadValue::Int(v)) => format!("{}: {}", kind.message(), v),
            (kind, BadValue::Bool(v)) => format!("{}: {}", kind.message(), v),
            (kind, BadValue::Rendered(v)) => format!("{}: {}", kind.message(), v),
        };
        if !self.detail.is_empty() {
            s.push_str(": ");
            s.push_str(&self.detail);
        }
        s
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.body())
    }
}

impl std::error::Error for FieldError {}

/// A list of field errors, in the order validation found them.
pub type ErrorList = Vec<FieldError>;

/// Joins errors the way apimachinery's aggregate does: one error alone, several as `[a, b]`, with
/// exact duplicates dropped.
pub fn aggregate_message(errors: &[FieldError]) -> String {
    let mut seen = std::collections::HashSet::new();
    let msgs: Vec<String> = errors.iter().map(|e| e.to_string()).filter(|m| seen.insert(m.clone())).collect();
    match msgs.len() {
        0 => String::new(),
        1 => msgs[0].clone(),
        _ => format!("[{}]", msgs.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_string_value_is_quoted_like_go() {
        let e = FieldError::invalid(
            &FieldPath::new("metadata").child("name"),
            BadValue::Str("Foo".into()),
            "bad",
        );
        assert_eq!(e.to_string(), r#"metadata.name: Invalid value: "Foo": bad"#);
    }

    #[test]
    fn required_never_shows_a_value() {
        let e = FieldError::required(&FieldPath::new("spec").child("selector"), "");
        assert_eq!(e.to_string(), "spec.selector: Required value");
    }

    #[test]
    fn string_map_renders_like_go_percent_hash_v() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), "2".to_string());
        m.insert("a".to_string(), "1".to_string());
        assert_eq!(
            BadValue::string_map(&m),
            BadValue::Rendered(r#"map[string]string{"a":"1", "b":"2"}"#.to_string())
        );
    }

    #[test]
    fn not_supported_lists_quoted_values() {
        let e = FieldError::not_supported(
            &FieldPath::new("spec").child("updateStrategy"),
            BadValue::Str("Foo".into()),
            &["RollingUpdate", "OnDelete"],
        );
        assert_eq!(
            e.to_string(),
            r#"spec.updateStrategy: Unsupported value: "Foo": supported values: "RollingUpdate", "OnDelete""#
        );
    }

    #[test]
    fn paths_compose_with_indexes_and_keys() {
        let p = FieldPath::new("spec").child("containers").index(0).child("env").key("X");
        assert_eq!(p.as_str(), "spec.containers[0].env[X]");
    }

    #[test]
    fn aggregate_drops_duplicates_and_brackets_many() {
        let a = FieldError::required(&FieldPath::new("a"), "");
        let b = FieldError::required(&FieldPath::new("b"), "");
        assert_eq!(aggregate_message(std::slice::from_ref(&a)), "a: Required value");
        assert_eq!(aggregate_message(&[a.clone(), b, a]), "[a: Required value, b: Required value]");
    }
}
