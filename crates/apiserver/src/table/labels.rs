//! Label maps and label selectors as upstream prints them (`labels.FormatLabels`,
//! `metav1.FormatLabelSelector`).

use serde_json::Value;

const NONE: &str = "<none>";

/// `labels.FormatLabels`: `k=v` pairs sorted by key and joined with ",", or "<none>".
pub(super) fn format_labels(map: Option<&Value>) -> String {
    let Some(Value::Object(map)) = map else { return NONE.to_owned() };
    let mut pairs: Vec<(&str, &str)> =
        map.iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default())).collect();
    pairs.sort_unstable();
    let text = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    if text.is_empty() { NONE.to_owned() } else { text }
}

/// `metav1.FormatLabelSelector`: the selector in label-selector syntax, "<none>" when it selects
/// nothing or everything, "<error>" when an expression is malformed.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    let selector = match selector {
        // A nil selector is `labels.Nothing()`, whose string is empty.
        None | Some(Value::Null) => return NONE.to_owned(),
        Some(s) => s,
    };
    match requirements(selector) {
        Some(reqs) if reqs.is_empty() => NONE.to_owned(),
        Some(reqs) => reqs.iter().map(Requirement::to_string).collect::<Vec<_>>().join(","),
        None => "<error>".to_owned(),
    }
}

/// One parsed requirement of a selector (`labels.Requirement`).
struct Requirement<'a> {
    key: &'a str,
    operator: Operator,
    values: Vec<&'a str>,
}

#[derive(Clone, Copy)]
enum Operator {
    Equals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// `LabelSelectorAsSelector`: matchLabels then matchExpressions, sorted by key. `None` when an
/// operator is unknown or the number of values does not fit it (upstream's conversion error).
/// Key and value syntax is not re-validated: stored objects passed validation on write.
fn requirements(selector: &Value) -> Option<Vec<Requirement<'_>>> {
    let mut reqs = Vec::new();
    if let Some(Value::Object(labels)) = selector.get("matchLabels") {
        for (key, value) in labels {
            let values = vec![value.as_str().unwrap_or_default()];
            reqs.push(Requirement { key, operator: Operator::Equals, values });
        }
    }
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    for expr in expressions.map(Vec::as_slice).unwrap_or_default() {
        let operator = match expr.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => Operator::In,
            "NotIn" => Operator::NotIn,
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            _ => return None,
        };
        let values: Vec<&str> = expr
            .get("values")
            .and_then(Value::as_array)
            .map(|vs| vs.iter().map(|v| v.as_str().unwrap_or_default()).collect())
            .unwrap_or_default();
        let fits = match operator {
            Operator::In | Operator::NotIn => !values.is_empty(),
            Operator::Exists | Operator::DoesNotExist => values.is_empty(),
            Operator::Equals => values.len() == 1,
        };
        if !fits {
            return None;
        }
        let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
        reqs.push(Requirement { key, operator, values });
    }
    // `Selector.Add` sorts by key; a stable sort keeps matchLabels before expressions on ties.
    reqs.sort_by(|a, b| a.key.cmp(b.key));
    Some(reqs)
}

impl std::fmt::Display for Requirement<'_> {
    /// `Requirement.String()`: `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`; values sorted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut values = self.values.clone();
        values.sort_unstable();
        let values = values.join(",");
        match self.operator {
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels_are_sorted_pairs_or_none() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(None), "<none>");
    }

    #[test]
    fn nil_and_empty_selectors_print_none() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(format_label_selector(Some(&json!(null))), "<none>");
        assert_eq!(format_label_selector(Some(&json!({}))), "<none>");
        assert_eq!(format_label_selector(Some(&json!({"matchLabels": {}}))), "<none>");
    }

    #[test]
    fn selector_requirements_are_sorted_by_key_with_sorted_values() {
        let selector = json!({
            "matchLabels": {"tier": "web", "app": "fluentd"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "dev"]},
                {"key": "zone", "operator": "NotIn", "values": ["b"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "legacy", "operator": "DoesNotExist", "values": []},
            ],
        });
        assert_eq!(
            format_label_selector(Some(&selector)),
            "app=fluentd,env in (dev,prod),gpu,!legacy,tier=web,zone notin (b)"
        );
    }

    #[test]
    fn malformed_expressions_print_error() {
        let bad_operator = json!({"matchExpressions": [{"key": "a", "operator": "Near"}]});
        assert_eq!(format_label_selector(Some(&bad_operator)), "<error>");
        let in_without_values = json!({"matchExpressions": [{"key": "a", "operator": "In"}]});
        assert_eq!(format_label_selector(Some(&in_without_values)), "<error>");
    }
}
