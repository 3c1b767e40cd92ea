//! Label selectors: built from `metav1.LabelSelector` or parsed from text, and matched against labels.
//!
//! Semantics follow apimachinery `labels.Requirement`: `NotIn` and `!=` match when the key is
//! absent, `Gt`/`Lt` need the label to parse as an integer, and building a requirement validates
//! keys and values exactly as `labels.NewRequirement` does. The string syntax (`app=x,tier in
//! (a,b)`) is parsed in `labels/parse.rs`; `Display` renders the canonical form, which parses
//! back to the same selector.

mod parse;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::field::{BadValue, ErrorList, FieldError, FieldPath, aggregate_message};
use crate::validation::names::{is_qualified_name, is_valid_label_value};

/// A set of labels, as objects carry them.
pub type Labels = BTreeMap<String, String>;

/// A selector operator (apimachinery `selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    In,
    NotIn,
    /// `a=b`.
    Equals,
    /// `a==b`: matches like [`Operator::Equals`]; kept apart so the string form round-trips.
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The operator's name in `selection.Operator` (`in`, `==`, `gt`), as parse errors list them.
    pub fn name(self) -> &'static str {
        match self {
            Operator::In => "in",
            Operator::NotIn => "notin",
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::Exists => "exists",
            Operator::DoesNotExist => "!",
            Operator::GreaterThan => "gt",
            Operator::LessThan => "lt",
        }
    }
}

/// A selector could not be built; the message is upstream's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SelectorError {
    /// The rendered error, as apimachinery would print it.
    pub message: String,
    /// The individual problems with their field paths.
    pub errors: ErrorList,
}

impl SelectorError {
    fn from_errors(errors: ErrorList) -> Self {
        SelectorError { message: aggregate_message(&errors), errors }
    }

    fn plain(message: String) -> Self {
        SelectorError { message, errors: Vec::new() }
    }
}

/// One `key op values` requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
    /// Parsed once for Gt/Lt so matching a thousand nodes does not re-parse it.
    number: Option<i64>,
}

fn render_values(values: &[String]) -> BadValue {
    let quoted: Vec<String> = values.iter().map(|v| crate::field::go_quote(v)).collect();
    BadValue::Rendered(format!("[]string{{{}}}", quoted.join(", ")))
}

impl Requirement {
    /// Builds and validates a requirement (`labels.NewRequirement`). `path` names the requirement
    /// in error messages; pass an empty path where upstream does.
    ///
    /// As upstream, all problems with one key or one value form a single error whose detail joins
    /// them with `; `, and a bad value is reported at `values[i][key]`.
    pub fn new(key: &str, op: Operator, values: Vec<String>, path: &FieldPath) -> Result<Self, ErrorList> {
        let mut errs = Vec::new();
        if let Some(err) = invalid_key(key, &path.child("key")) {
            errs.push(err);
        }
        let values_path = path.child("values");
        let mut number = None;
        match op {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    errs.push(FieldError::invalid(
                        &values_path,
                        render_values(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        &values_path,
                        render_values(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    errs.push(FieldError::invalid(
                        &values_path,
                        render_values(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(FieldError::invalid(
                        &values_path,
                        render_values(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    match v.parse::<i64>() {
                        Ok(n) => number = Some(n),
                        Err(_) => errs.push(FieldError::invalid(
                            &values_path.index(i),
                            BadValue::Str(v.clone()),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        )),
                    }
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            let msgs = is_valid_label_value(v);
            if !msgs.is_empty() {
                errs.push(FieldError::invalid(
                    &values_path.index(i).key(key),
                    BadValue::Str(v.clone()),
                    msgs.join("; "),
                ));
            }
        }
        if errs.is_empty() { Ok(Requirement { key: key.to_string(), op, values, number }) } else { Err(errs) }
    }

    /// The label key this requirement constrains.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values, as written.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                value.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotIn | Operator::NotEquals => {
                value.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(v), Some(bound)) = (value, self.number) else {
                    return false;
                };
                let Ok(n) = v.parse::<i64>() else {
                    return false;
                };
                if self.op == Operator::GreaterThan { n > bound } else { n < bound }
            }
        }
    }
}

/// `validateLabelKey`: every problem with `key` as one error at `path`.
fn invalid_key(key: &str, path: &FieldPath) -> Option<FieldError> {
    let msgs = is_qualified_name(key);
    if msgs.is_empty() {
        None
    } else {
        Some(FieldError::invalid(path, BadValue::Str(key.to_string()), msgs.join("; ")))
    }
}

impl std::fmt::Display for Requirement {
    /// The string form used in `kubectl` and `labelSelector=` queries (`app=x`, `tier in (a,b)`),
    /// as upstream's `Requirement.String()`: several values are shown sorted, without changing
    /// the stored order.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let values = if self.values.len() == 1 || self.values.is_sorted() {
            self.values.join(",")
        } else {
            let mut sorted = self.values.clone();
            sorted.sort();
            sorted.join(",")
        };
        match self.op {
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
            Operator::In | Operator::NotIn => write!(f, "{} {} ({values})", self.key, self.op.name()),
        }
    }
}

/// A parsed selector: the AND of its requirements. `Nothing` matches no object at all (a nil
/// `LabelSelector`), which differs from an empty requirement list (matches everything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Selects nothing (nil selector).
    Nothing,
    /// Selects objects whose labels satisfy every requirement (none: everything).
    Requirements(Vec<Requirement>),
}

impl Selector {
    /// A selector that matches everything.
    pub fn everything() -> Self {
        Selector::Requirements(Vec::new())
    }

    /// `labels.SelectorFromSet`: every `k=v` must hold. Not validated, as upstream.
    pub fn from_set(set: &Labels) -> Self {
        Selector::Requirements(
            set.iter()
                .map(|(k, v)| Requirement {
                    key: k.clone(),
                    op: Operator::Equals,
                    values: vec![v.clone()],
                    number: None,
                })
                .collect(),
        )
    }

    /// `metav1.LabelSelectorAsSelector`: nil selects nothing, empty selects everything.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, SelectorError> {
        let Some(selector) = selector else {
            return Ok(Selector::Nothing);
        };
        let mut reqs = Vec::new();
        let root = FieldPath::default();
        if let Some(ml) = &selector.match_labels {
            for (k, v) in ml {
                let r = Requirement::new(k, Operator::Equals, vec![v.clone()], &root)
                    .map_err(SelectorError::from_errors)?;
                reqs.push(r);
            }
        }
        if let Some(exprs) = &selector.match_expressions {
            for e in exprs {
                let op = match e.operator.as_str() {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(SelectorError::plain(format!(
                            "{} is not a valid label selector operator",
                            crate::field::go_quote(other)
                        )));
                    }
                };
                let r = Requirement::new(&e.key, op, e.values.clone().unwrap_or_default(), &root)
                    .map_err(SelectorError::from_errors)?;
                reqs.push(r);
            }
        }
        Ok(Selector::Requirements(reqs))
    }

    /// Parses the string form used by `kubectl -l` and `?labelSelector=` (`labels.Parse`), such
    /// as `app=x,tier in (a,b),!canary,cpu>4`. The empty string selects everything. Keys and
    /// values are validated as label keys and values; errors carry upstream's messages
    /// (`unable to parse requirement: ...`, `found ',', expected: identifier after ','`).
    /// Requirements come out sorted by key, and `Display` renders them back to equal input.
    pub fn parse(input: &str) -> Result<Self, SelectorError> {
        parse::parse(input).map(Selector::Requirements)
    }

    /// Whether the selector matches everything (an empty, non-nil selector).
    pub fn is_everything(&self) -> bool {
        matches!(self, Selector::Requirements(r) if r.is_empty())
    }

    /// Whether `labels` are selected.
    pub fn matches(&self, labels: &Labels) -> bool {
        match self {
            Selector::Nothing => false,
            Selector::Requirements(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }

    /// Like [`Selector::matches`] for objects whose labels may be absent.
    pub fn matches_opt(&self, labels: Option<&Labels>) -> bool {
        static EMPTY: Labels = Labels::new();
        self.matches(labels.unwrap_or(&EMPTY))
    }

    /// The requirements (empty for `Nothing`).
    pub fn requirements(&self) -> &[Requirement] {
        match self {
            Selector::Nothing => &[],
            Selector::Requirements(r) => r,
        }
    }
}

impl std::fmt::Display for Selector {
    /// The canonical string form, as upstream's `Selector.String()`: requirements sorted by key
    /// (stably, so equal keys keep their order) and joined with `,`. [`Selector::parse`] reads
    /// it back to an equal selector. `Nothing` renders as the empty string, like upstream's
    /// `labels.Nothing()`, although the empty string parses to everything.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut reqs: Vec<&Requirement> = self.requirements().iter().collect();
        // Parsed selectors are already sorted; only ones built from a LabelSelector may not be.
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        for (i, r) in reqs.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_string(),
            operator: op.to_string(),
            values: if values.is_empty() {
                None
            } else {
                Some(values.iter().map(|s| s.to_string()).collect())
            },
        }
    }

    #[test]
    fn nil_selects_nothing_and_empty_selects_everything() {
        assert!(!Selector::from_label_selector(None).unwrap().matches(&labels(&[])));
        let empty = LabelSelector::default();
        let s = Selector::from_label_selector(Some(&empty)).unwrap();
        assert!(s.is_everything());
        assert!(s.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn match_labels_and_expressions_are_anded() {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), "x".to_string())].into()),
            match_expressions: Some(vec![expr("tier", "NotIn", &["db"]), expr("zone", "Exists", &[])]),
        };
        let s = Selector::from_label_selector(Some(&sel)).unwrap();
        assert!(s.matches(&labels(&[("app", "x"), ("zone", "a")])));
        assert!(s.matches(&labels(&[("app", "x"), ("zone", "a"), ("tier", "web")])));
        assert!(!s.matches(&labels(&[("app", "x"), ("zone", "a"), ("tier", "db")])));
        assert!(!s.matches(&labels(&[("app", "x")])));
        assert!(!s.matches(&labels(&[("app", "y"), ("zone", "a")])));
    }

    #[test]
    fn bad_operator_and_bad_values_are_errors() {
        let sel =
            LabelSelector { match_expressions: Some(vec![expr("a", "Like", &["x"])]), ..Default::default() };
        let err = Selector::from_label_selector(Some(&sel)).unwrap_err();
        assert_eq!(err.message, r#""Like" is not a valid label selector operator"#);

        let sel = LabelSelector { match_expressions: Some(vec![expr("a", "In", &[])]), ..Default::default() };
        let err = Selector::from_label_selector(Some(&sel)).unwrap_err();
        assert!(err.message.contains("values set can't be empty"), "{}", err.message);

        let sel = LabelSelector {
            match_labels: Some([("a".to_string(), "b c".to_string())].into()),
            ..Default::default()
        };
        assert!(Selector::from_label_selector(Some(&sel)).is_err());
    }

    #[test]
    fn gt_and_lt_compare_integers_only() {
        let root = FieldPath::default();
        let gt = Requirement::new("cpu", Operator::GreaterThan, vec!["4".into()], &root).unwrap();
        assert!(gt.matches(&labels(&[("cpu", "8")])));
        assert!(!gt.matches(&labels(&[("cpu", "4")])));
        assert!(!gt.matches(&labels(&[("cpu", "many")])));
        assert!(!gt.matches(&labels(&[])));
        let lt = Requirement::new("cpu", Operator::LessThan, vec!["4".into()], &root).unwrap();
        assert!(lt.matches(&labels(&[("cpu", "-1")])));
        assert!(Requirement::new("cpu", Operator::LessThan, vec!["x".into()], &root).is_err());
        assert!(Requirement::new("cpu", Operator::LessThan, vec!["1".into(), "2".into()], &root).is_err());
    }

    #[test]
    fn requirements_render_like_kubectl() {
        let root = FieldPath::default();
        let r = Requirement::new("tier", Operator::In, vec!["a".into(), "b".into()], &root).unwrap();
        assert_eq!(r.to_string(), "tier in (a,b)");
        let r = Requirement::new("app", Operator::Equals, vec!["x".into()], &root).unwrap();
        assert_eq!(r.to_string(), "app=x");
    }
}
