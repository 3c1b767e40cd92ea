//! Renders offending values the way apimachinery's `field.Error` prints them (Kubernetes 1.34+).
//!
//! Since kubernetes/kubernetes#132314 a bad value that is not a Go `string`, integer or bool is
//! printed as `json.Marshal` output: maps as `{"app":"x"}`, selectors as
//! `{"matchLabels":{"app":"x"}}`, int-or-strings as `1` or `"50%"`, named string types such as
//! `TaintEffect` as `"NoSchedule"`. Validation runs on Go's *internal* types, whose structs carry no
//! JSON tags, so internal structs render with Go field names (`{"Type":"Foo","RollingUpdate":null}`).
//! kubectl prints these strings verbatim, so they are produced here by hand, with Go's escaping.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, Time};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::field::BadValue;

/// A string as Go's `json.Marshal` writes it, including its HTML-safe escapes (`<` as `\u003c`).
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value of a Go named string type (`TaintEffect`, `Protocol`, ...): JSON-quoted.
pub fn named_string(s: &str) -> BadValue {
    BadValue::Rendered(json_string(s))
}

/// A `map[string]string`: `{"a":"b"}`, or `null` when absent. Keys come out sorted, as Go sorts them.
pub fn string_map(map: Option<&BTreeMap<String, String>>) -> BadValue {
    BadValue::Rendered(match map {
        Some(map) => json_map(map),
        None => "null".to_string(),
    })
}

/// A `[]string`: `["a","b"]`.
pub fn string_list(items: &[String]) -> BadValue {
    BadValue::Rendered(json_list(items))
}

/// An `intstr.IntOrString`, which marshals as a bare number or a string.
pub fn int_or_string(value: &IntOrString) -> BadValue {
    BadValue::Rendered(json_int_or_string(value))
}

/// An optional integer behind a Go pointer: the number, or `null`.
pub fn optional_int(value: Option<i64>) -> BadValue {
    BadValue::Rendered(value.map_or_else(|| "null".to_string(), |v| v.to_string()))
}

/// A `*metav1.Time`: `"2024-01-02T03:04:05Z"`, or `null`.
pub fn optional_time(value: Option<&Time>) -> BadValue {
    let rendered = value.and_then(|t| serde_json::to_string(t).ok()).unwrap_or_else(|| "null".to_string());
    BadValue::Rendered(rendered)
}

/// A `*metav1.LabelSelector`, with its JSON tags and `omitempty` rules (empty parts are dropped).
pub fn label_selector(selector: Option<&LabelSelector>) -> BadValue {
    let Some(selector) = selector else {
        return BadValue::Rendered("null".to_string());
    };
    let mut fields = Vec::new();
    if let Some(labels) = selector.match_labels.as_ref().filter(|m| !m.is_empty()) {
        fields.push(format!("\"matchLabels\":{}", json_map(labels)));
    }
    if let Some(exprs) = selector.match_expressions.as_ref().filter(|e| !e.is_empty()) {
        let items: Vec<String> = exprs.iter().map(json_requirement).collect();
        fields.push(format!("\"matchExpressions\":[{}]", items.join(",")));
    }
    BadValue::Rendered(format!("{{{}}}", fields.join(",")))
}

/// The internal `apps.DaemonSetUpdateStrategy` (no JSON tags, so Go field names), as upstream shows
/// it in `spec.updateStrategy: Unsupported value: ...`. Unset int-or-strings convert to `0`.
pub fn internal_update_strategy(
    strategy_type: &str,
    max_unavailable: Option<Option<&IntOrString>>,
    max_surge: Option<Option<&IntOrString>>,
) -> BadValue {
    let rolling = match (max_unavailable, max_surge) {
        (None, None) => "null".to_string(),
        (unavailable, surge) => {
            let render =
                |v: Option<Option<&IntOrString>>| v.flatten().map_or("0".to_string(), json_int_or_string);
            format!("{{\"MaxUnavailable\":{},\"MaxSurge\":{}}}", render(unavailable), render(surge))
        }
    };
    BadValue::Rendered(format!("{{\"Type\":{},\"RollingUpdate\":{}}}", json_string(strategy_type), rolling))
}

fn json_map(map: &BTreeMap<String, String>) -> String {
    let body: Vec<String> =
        map.iter().map(|(k, v)| format!("{}:{}", json_string(k), json_string(v))).collect();
    format!("{{{}}}", body.join(","))
}

fn json_list(items: &[String]) -> String {
    let body: Vec<String> = items.iter().map(|s| json_string(s)).collect();
    format!("[{}]", body.join(","))
}

fn json_int_or_string(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(i) => i.to_string(),
        IntOrString::String(s) => json_string(s),
    }
}

fn json_requirement(r: &LabelSelectorRequirement) -> String {
    let mut out = format!("{{\"key\":{},\"operator\":{}", json_string(&r.key), json_string(&r.operator));
    if let Some(values) = r.values.as_ref().filter(|v| !v.is_empty()) {
        out.push_str(&format!(",\"values\":{}", json_list(values)));
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped_like_go_json() {
        assert_eq!(json_string("a\"b"), r#""a\"b""#);
        assert_eq!(json_string("<&>"), r#""\u003c\u0026\u003e""#);
        assert_eq!(json_string("tab\there"), r#""tab\there""#);
        assert_eq!(json_string("\u{1}"), r#""\u0001""#);
    }

    #[test]
    fn maps_render_as_json_objects_and_absent_maps_as_null() {
        let map: BTreeMap<String, String> = [("b".into(), "2".into()), ("a".into(), "1".into())].into();
        assert_eq!(string_map(Some(&map)), BadValue::Rendered(r#"{"a":"1","b":"2"}"#.into()));
        assert_eq!(string_map(None), BadValue::Rendered("null".into()));
    }

    #[test]
    fn selectors_follow_metav1_json_tags_and_omitempty() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "x".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "Exists".into(),
                values: None,
            }]),
        };
        assert_eq!(
            label_selector(Some(&sel)),
            BadValue::Rendered(
                r#"{"matchLabels":{"app":"x"},"matchExpressions":[{"key":"tier","operator":"Exists"}]}"#
                    .into()
            )
        );
        let empty = LabelSelector { match_labels: Some(BTreeMap::new()), match_expressions: None };
        assert_eq!(label_selector(Some(&empty)), BadValue::Rendered("{}".into()));
    }

    #[test]
    fn internal_update_strategy_uses_go_field_names() {
        assert_eq!(
            internal_update_strategy("Foo", None, None),
            BadValue::Rendered(r#"{"Type":"Foo","RollingUpdate":null}"#.into())
        );
        let pct = IntOrString::String("10%".into());
        assert_eq!(
            internal_update_strategy("Foo", Some(Some(&pct)), Some(None)),
            BadValue::Rendered(
                r#"{"Type":"Foo","RollingUpdate":{"MaxUnavailable":"10%","MaxSurge":0}}"#.into()
            )
        );
    }
}
