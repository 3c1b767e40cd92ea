//! The JSONPath subset CRD printer columns use, evaluated like client-go's `jsonpath` with
//! `AllowMissingKeys(true)`, plus Go's `fmt.Print` rendering of the values it finds.
//!
//! Supported: `.a.b`, `.a\.b` (escaped dot), `['a.b']`, `.*` / `[*]`, `[0]`, `[-1]`, `[1:3]`,
//! and filters `[?(@.type=="Ready")]` with `==`, `!=`, `<`, `<=`, `>`, `>=` against a string,
//! number or boolean literal (or `[?(@.x)]` for presence). Recursive descent (`..`), unions
//! (`[0,1]`) and templates with text or functions are not.

use serde_json::Value;

/// A parsed path: a sequence of steps from the object root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    steps: Vec<Step>,
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unrecognized JSONPath {path:?}: {reason}")]
pub(crate) struct JsonPathError {
    path: String,
    reason: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    /// Path relative to each element (`@`).
    left: Vec<Step>,
    /// `None` for a presence test.
    comparison: Option<(Op, Literal)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
}

impl JsonPath {
    /// Parses a CRD column path such as `.status.replicas`; surrounding `{}` are optional.
    pub(crate) fn parse(text: &str) -> Result<Self, JsonPathError> {
        let error = |reason| JsonPathError { path: text.to_owned(), reason };
        let trimmed = text.trim();
        let inner = trimmed.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or(trimmed);
        let inner = inner.trim();
        let inner = inner.strip_prefix('$').or_else(|| inner.strip_prefix('@')).unwrap_or(inner);
        parse_steps(inner).map(|steps| Self { steps }).map_err(error)
    }

    /// The plain field path `.a.b` from its keys.
    pub(crate) fn fields(keys: &[&str]) -> Self {
        Self { steps: keys.iter().map(|k| Step::Field((*k).to_owned())).collect() }
    }

    /// Every value the path reaches, in document order; missing keys and out-of-range indexes
    /// simply yield nothing.
    pub(crate) fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        evaluate(&self.steps, root)
    }
}

fn parse_steps(mut rest: &str) -> Result<Vec<Step>, &'static str> {
    let mut steps = Vec::new();
    while let Some(first) = rest.chars().next() {
        match first {
            '.' => {
                rest = &rest[1..];
                if rest.starts_with('.') {
                    return Err("recursive descent is not supported");
                }
                let (name, after) = field_name(rest);
                rest = after;
                match name.as_str() {
                    // "." alone (or "a.") addresses the current value.
                    "" => {}
                    "*" => steps.push(Step::Wildcard),
                    _ => steps.push(Step::Field(name)),
                }
            }
            '[' => {
                let end = closing_bracket(rest).ok_or("unterminated [")?;
                steps.push(bracket(&rest[1..end])?);
                rest = &rest[end + 1..];
            }
            _ => return Err("expected . or ["),
        }
    }
    Ok(steps)
}

/// A field name up to the next unescaped `.` or `[`; a backslash escapes the next character.
fn field_name(text: &str) -> (String, &str) {
    let mut name = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                if let Some((_, escaped)) = chars.next() {
                    name.push(escaped);
                }
            }
            '.' | '[' => return (name, &text[i..]),
            _ => name.push(c),
        }
    }
    (name, "")
}

/// The index of the `]` closing the `[` at the start of `text`, skipping quoted text and
/// nested brackets (filters contain paths with their own brackets).
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn bracket(content: &str) -> Result<Step, &'static str> {
    let content = content.trim();
    if content == "*" {
        return Ok(Step::Wildcard);
    }
    if let Some(filter) = content.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return parse_filter(filter.trim()).map(Step::Filter);
    }
    if let Some(key) = quoted(content) {
        return Ok(Step::Field(key.to_owned()));
    }
    if content.contains(',') {
        return Err("unions are not supported");
    }
    if let Some((start, end)) = content.split_once(':') {
        let bound = |b: &str| -> Result<Option<i64>, &'static str> {
            let b = b.trim();
            if b.is_empty() { Ok(None) } else { b.parse().map(Some).map_err(|_| "bad slice bound") }
        };
        // A step (`[a:b:c]`) would leave a second ':' in `end` and fail to parse as a bound.
        return Ok(Step::Slice(bound(start)?, bound(end)?));
    }
    content.parse().map(Step::Index).map_err(|_| "expected an index, a quoted key, * or a filter")
}

/// The text between matching single or double quotes, if `text` is one quoted string.
fn quoted(text: &str) -> Option<&str> {
    let quote = text.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let inner = text.strip_prefix(quote)?.strip_suffix(quote)?;
    (!inner.contains(quote)).then_some(inner)
}

fn parse_filter(text: &str) -> Result<Filter, &'static str> {
    const OPS: [(&str, Op); 6] =
        [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let found = OPS.iter().find_map(|(token, op)| text.split_once(token).map(|(l, r)| (l, *op, r)));
    let (left, comparison) = match found {
        Some((left, op, right)) => (left.trim(), Some((op, literal(right.trim())?))),
        None => (text, None),
    };
    let left = left.strip_prefix('@').ok_or("a filter must start with @")?;
    Ok(Filter { left: parse_steps(left)?, comparison })
}

fn literal(text: &str) -> Result<Literal, &'static str> {
    if let Some(s) = quoted(text) {
        return Ok(Literal::Str(s.to_owned()));
    }
    match text {
        "true" => Ok(Literal::Bool(true)),
        "false" => Ok(Literal::Bool(false)),
        _ => text.parse().map(Literal::Num).map_err(|_| "filters compare against a literal only"),
    }
}

fn evaluate<'a>(steps: &[Step], root: &'a Value) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        current = current.into_iter().flat_map(|value| apply(step, value)).collect();
    }
    current
}

fn apply<'a>(step: &Step, value: &'a Value) -> Vec<&'a Value> {
    match (step, value) {
        (Step::Field(key), Value::Object(map)) => map.get(key).into_iter().collect(),
        (Step::Wildcard, Value::Object(map)) => map.values().collect(),
        (Step::Wildcard, Value::Array(items)) => items.iter().collect(),
        (Step::Index(i), Value::Array(items)) => {
            let index = if *i < 0 { i + len(items) } else { *i };
            usize::try_from(index).ok().and_then(|i| items.get(i)).into_iter().collect()
        }
        (Step::Slice(start, end), Value::Array(items)) => {
            let n = len(items);
            let clamp = |b: i64| (if b < 0 { b + n } else { b }).clamp(0, n);
            let start = clamp(start.unwrap_or(0));
            let end = clamp(end.unwrap_or(n));
            let range = usize::try_from(start).unwrap_or(0)..usize::try_from(end).unwrap_or(0);
            items.get(range).map(|s| s.iter().collect()).unwrap_or_default()
        }
        (Step::Filter(filter), Value::Array(items)) => {
            items.iter().filter(|item| filter.matches(item)).collect()
        }
        _ => Vec::new(),
    }
}

fn len(items: &[Value]) -> i64 {
    i64::try_from(items.len()).unwrap_or(i64::MAX)
}

impl Filter {
    fn matches(&self, item: &Value) -> bool {
        let lefts = evaluate(&self.left, item);
        match &self.comparison {
            None => !lefts.is_empty(),
            Some((op, right)) => lefts.iter().any(|left| compare(left, *op, right)),
        }
    }
}

fn compare(left: &Value, op: Op, right: &Literal) -> bool {
    let ordering = match (left, right) {
        (Value::String(l), Literal::Str(r)) => l.as_str().partial_cmp(r.as_str()),
        (Value::Number(l), Literal::Num(r)) => l.as_f64().and_then(|l| l.partial_cmp(r)),
        (Value::Bool(l), Literal::Bool(r)) => l.partial_cmp(r),
        // Values of different kinds are never equal.
        _ => return op == Op::Ne,
    };
    let Some(ordering) = ordering else { return false };
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
    }
}

/// A JSON value as Go's `fmt.Print` shows the decoded `interface{}`: strings bare, maps as
/// `map[k:v]` with sorted keys, slices as `[a b]`, null inside them as `<nil>`, floats in `%v`.
pub(crate) fn go_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => go_float(f),
            _ => n.to_string(),
        },
        Value::Array(items) => format!("[{}]", items.iter().map(go_text).collect::<Vec<_>>().join(" ")),
        Value::Object(map) => {
            let mut pairs: Vec<(&String, &Value)> = map.iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(b.0));
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}:{}", go_text(v))).collect();
            format!("map[{}]", pairs.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest digits, in
/// exponent form when the exponent is below -4 or at least 6 (`1e+06`, `1.5e-05`).
fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.234567e6".
    let scientific = format!("{f:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else { return f.to_string() };
    let Ok(exponent) = exponent.parse::<i32>() else { return f.to_string() };
    if (-4..6).contains(&exponent) {
        return f.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(path: &str, value: &Value) -> Vec<Value> {
        JsonPath::parse(path).unwrap().find(value).into_iter().cloned().collect()
    }

    fn object() -> Value {
        json!({
            "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web", "tier": "front"}},
            "spec": {"replicas": 3, "ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]},
            "status": {"conditions": [
                {"type": "Synced", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "Waiting"},
            ]},
        })
    }

    #[test]
    fn dotted_paths_reach_nested_fields() {
        assert_eq!(find(".spec.replicas", &object()), [json!(3)]);
        assert_eq!(find("{.metadata.name}", &object()), [json!("x")]);
        assert_eq!(find(".metadata.labels.tier", &object()), [json!("front")]);
    }

    #[test]
    fn dots_in_keys_are_escaped_or_quoted() {
        assert_eq!(find(r".metadata.labels.app\.kubernetes\.io/name", &object()), [json!("web")]);
        assert_eq!(find(".metadata.labels['app.kubernetes.io/name']", &object()), [json!("web")]);
        assert_eq!(find(r#".metadata.labels["tier"]"#, &object()), [json!("front")]);
    }

    #[test]
    fn indexes_wildcards_and_slices_select_array_elements() {
        assert_eq!(find(".spec.ports[0].port", &object()), [json!(80)]);
        assert_eq!(find(".spec.ports[-1].name", &object()), [json!("https")]);
        assert_eq!(find(".spec.ports[*].port", &object()), [json!(80), json!(443)]);
        assert_eq!(find(".spec.ports[1:].port", &object()), [json!(443)]);
        assert_eq!(find(".spec.ports[:1].port", &object()), [json!(80)]);
        assert_eq!(find(".metadata.labels.*", &object()), [json!("web"), json!("front")]);
    }

    #[test]
    fn filters_select_matching_elements() {
        let ready = r#".status.conditions[?(@.type=="Ready")].status"#;
        assert_eq!(find(ready, &object()), [json!("False")]);
        let single = ".status.conditions[?(@.type == 'Synced')].status";
        assert_eq!(find(single, &object()), [json!("True")]);
        assert_eq!(find(".status.conditions[?(@.reason)].type", &object()), [json!("Ready")]);
        assert_eq!(find(".spec.ports[?(@.port > 100)].name", &object()), [json!("https")]);
        assert_eq!(find(r#".status.conditions[?(@.type!="Ready")].type"#, &object()), [json!("Synced")]);
    }

    #[test]
    fn missing_keys_and_out_of_range_indexes_find_nothing() {
        assert!(find(".spec.missing.deeper", &object()).is_empty());
        assert!(find(".spec.ports[5].port", &object()).is_empty());
        assert!(find(".spec.replicas.x", &object()).is_empty());
        assert!(find(".metadata[0]", &object()).is_empty());
    }

    #[test]
    fn the_root_path_finds_the_object_itself() {
        assert_eq!(find(".", &json!({"a": 1})), [json!({"a": 1})]);
    }

    #[test]
    fn unsupported_syntax_is_rejected() {
        assert!(JsonPath::parse("..name").is_err());
        assert!(JsonPath::parse(".a[0,1]").is_err());
        assert!(JsonPath::parse(".a[").is_err());
        assert!(JsonPath::parse("spec").is_err());
        assert!(JsonPath::parse(".a[?(@.b == @.c)]").is_err());
    }

    #[test]
    fn values_print_like_go_fmt() {
        assert_eq!(go_text(&json!("text")), "text");
        assert_eq!(go_text(&json!(true)), "true");
        assert_eq!(go_text(&json!(42)), "42");
        assert_eq!(go_text(&json!(1.5)), "1.5");
        assert_eq!(go_text(&json!(3.0)), "3");
        assert_eq!(go_text(&json!(123456.0)), "123456");
        assert_eq!(go_text(&json!(1234567.0)), "1.234567e+06");
        assert_eq!(go_text(&json!(0.00001)), "1e-05");
        assert_eq!(go_text(&json!(0.0001)), "0.0001");
        assert_eq!(go_text(&json!(["a", 1, null])), "[a 1 <nil>]");
        assert_eq!(go_text(&json!({"b": {"c": 1}, "a": "x"})), "map[a:x b:map[c:1]]");
    }
}
