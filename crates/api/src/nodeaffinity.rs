//! Required node affinity: `nodeSelector` plus `requiredDuringSchedulingIgnoredDuringExecution`.
//!
//! Mirrors component-helpers `nodeaffinity.RequiredNodeAffinity` with its "lazy error" behaviour:
//! terms are ORed; a term with no requirements is dropped; a term that fails to parse never
//! matches, while the other terms still can. Parsed once per pod template so that checking
//! thousands of nodes costs only the comparisons. [`RequiredNodeAffinity::explain`] says which
//! requirement failed, for humans.

use k8s_openapi::api::core::v1::{NodeSelector, NodeSelectorRequirement, PodSpec};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::labels::{Labels, Operator, Requirement, Selector};

/// The only node field a `matchFields` requirement may name.
pub const OBJECT_NAME_FIELD: &str = "metadata.name";

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRequirement {
    key: String,
    equal: bool,
    value: String,
}

impl FieldRequirement {
    fn matches(&self, node_name: &str) -> bool {
        let actual = if self.key == OBJECT_NAME_FIELD { node_name } else { "" };
        (actual == self.value) == self.equal
    }

    fn describe(&self) -> String {
        format!("{}{}{}", self.key, if self.equal { "=" } else { "!=" }, self.value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    index: usize,
    labels: Vec<Requirement>,
    fields: Vec<FieldRequirement>,
}

/// Why a node fails a pod's required node affinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AffinityMismatch {
    /// A `nodeSelector` entry is missing or different on the node.
    NodeSelector { key: String, want: String, have: Option<String> },
    /// No `nodeSelectorTerms` entry matched; one explanation per term, in order.
    NoTermMatched { terms: Vec<TermMismatch> },
}

/// Why one node selector term did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermMismatch {
    /// Index of the term in `nodeSelectorTerms`.
    pub index: usize,
    /// What failed: a rendered requirement (`disktype in (ssd)`), or a parse problem.
    pub reason: String,
}

impl std::fmt::Display for AffinityMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AffinityMismatch::NodeSelector { key, want, have: None } => {
                write!(f, "nodeSelector {key}={want}: node has no label {key}")
            }
            AffinityMismatch::NodeSelector { key, want, have: Some(have) } => {
                write!(f, "nodeSelector {key}={want}: node has {key}={have}")
            }
            AffinityMismatch::NoTermMatched { terms } if terms.is_empty() => {
                write!(f, "required node affinity has no usable nodeSelectorTerms")
            }
            AffinityMismatch::NoTermMatched { terms } => {
                let parts: Vec<String> =
                    terms.iter().map(|t| format!("term {}: {}", t.index, t.reason)).collect();
                write!(f, "required node affinity: no term matches ({})", parts.join("; "))
            }
        }
    }
}

/// A parsed required node selector (`spec.affinity.nodeAffinity.requiredDuring...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedNodeSelector {
    terms: Vec<Term>,
    /// Terms that failed to parse, with their problems; they never match.
    errors: Vec<(usize, ErrorList)>,
}

fn label_op(op: &str) -> Option<Operator> {
    Some(match op {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        "Gt" => Operator::GreaterThan,
        "Lt" => Operator::LessThan,
        _ => return None,
    })
}

fn parse_term_labels(
    reqs: &[NodeSelectorRequirement],
    path: &FieldPath,
) -> Result<Vec<Requirement>, ErrorList> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let p = path.index(i);
        let Some(op) = label_op(&r.operator) else {
            errs.push(FieldError::not_supported(
                &p.child("operator"),
                BadValue::Str(r.operator.clone()),
                &["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"],
            ));
            continue;
        };
        match Requirement::new(&r.key, op, r.values.clone().unwrap_or_default(), &p) {
            Ok(req) => out.push(req),
            Err(e) => errs.extend(e),
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

fn parse_term_fields(
    reqs: &[NodeSelectorRequirement],
    path: &FieldPath,
) -> Result<Vec<FieldRequirement>, ErrorList> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        let p = path.index(i);
        let values = r.values.as_deref().unwrap_or_default();
        let equal = match r.operator.as_str() {
            "In" => true,
            "NotIn" => false,
            other => {
                errs.push(FieldError::not_supported(
                    &p.child("operator"),
                    BadValue::Str(other.to_string()),
                    &["In", "NotIn"],
                ));
                continue;
            }
        };
        if values.len() != 1 {
            let quoted: Vec<String> = values.iter().map(|v| crate::field::go_quote(v)).collect();
            errs.push(FieldError::invalid(
                &p.child("values"),
                BadValue::Rendered(format!("[]string{{{}}}", quoted.join(", "))),
                "must have one element",
            ));
            continue;
        }
        out.push(FieldRequirement { key: r.key.clone(), equal, value: values[0].clone() });
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

impl ParsedNodeSelector {
    /// Parses a node selector; parse problems are kept per term, never fatal.
    pub fn parse(selector: &NodeSelector) -> Self {
        let mut terms = Vec::new();
        let mut errors = Vec::new();
        let path = FieldPath::new("nodeSelectorTerms");
        for (index, term) in selector.node_selector_terms.iter().enumerate() {
            let exprs = term.match_expressions.as_deref().unwrap_or_default();
            let fields = term.match_fields.as_deref().unwrap_or_default();
            // An empty term selects no objects: drop it, as upstream does.
            if exprs.is_empty() && fields.is_empty() {
                continue;
            }
            let p = path.index(index);
            let labels = parse_term_labels(exprs, &p.child("matchExpressions"));
            let fields = parse_term_fields(fields, &p.child("matchFields"));
            match (labels, fields) {
                (Ok(labels), Ok(fields)) => terms.push(Term { index, labels, fields }),
                (l, f) => {
                    let mut errs = l.err().unwrap_or_default();
                    errs.extend(f.err().unwrap_or_default());
                    errors.push((index, errs));
                }
            }
        }
        ParsedNodeSelector { terms, errors }
    }

    /// Whether any term matches the node.
    pub fn matches(&self, node_name: &str, node_labels: &Labels) -> bool {
        self.terms.iter().any(|t| {
            t.labels.iter().all(|r| r.matches(node_labels)) && t.fields.iter().all(|f| f.matches(node_name))
        })
    }

    /// Parse problems of terms that can therefore never match.
    pub fn parse_errors(&self) -> impl Iterator<Item = &FieldError> {
        self.errors.iter().flat_map(|(_, e)| e.iter())
    }

    fn explain(&self, node_name: &str, node_labels: &Labels) -> Vec<TermMismatch> {
        let mut out: Vec<TermMismatch> = Vec::new();
        for t in &self.terms {
            let failed_label = t.labels.iter().find(|r| !r.matches(node_labels)).map(|r| {
                let have = node_labels
                    .get(r.key())
                    .map_or_else(|| "no such label".to_string(), |v| format!("node has {}={}", r.key(), v));
                format!("{r} ({have})")
            });
            let failed_field = || {
                t.fields
                    .iter()
                    .find(|f| !f.matches(node_name))
                    .map(|f| format!("{} (node is {})", f.describe(), node_name))
            };
            if let Some(reason) = failed_label.or_else(failed_field) {
                out.push(TermMismatch { index: t.index, reason });
            }
        }
        for (index, errs) in &self.errors {
            let reason = format!("invalid term never matches: {}", crate::field::aggregate_message(errs));
            out.push(TermMismatch { index: *index, reason });
        }
        out.sort_by_key(|t| t.index);
        out
    }
}

/// A pod's required node affinity: its `nodeSelector` AND its required node selector terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredNodeAffinity {
    node_selector: Option<Selector>,
    required: Option<ParsedNodeSelector>,
}

impl RequiredNodeAffinity {
    /// Parses the parts of a pod spec that constrain node choice (`GetRequiredNodeAffinity`).
    pub fn from_pod_spec(spec: &PodSpec) -> Self {
        let node_selector = spec.node_selector.as_ref().filter(|m| !m.is_empty()).map(Selector::from_set);
        let required = spec
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref())
            .map(ParsedNodeSelector::parse);
        RequiredNodeAffinity { node_selector, required }
    }

    /// Whether a node with this name and these labels satisfies the affinity.
    pub fn matches(&self, node_name: &str, node_labels: &Labels) -> bool {
        if let Some(sel) = &self.node_selector
            && !sel.matches(node_labels)
        {
            return false;
        }
        match &self.required {
            Some(req) => req.matches(node_name, node_labels),
            None => true,
        }
    }

    /// The reasons a node fails, empty when it matches.
    pub fn explain(&self, node_name: &str, node_labels: &Labels) -> Vec<AffinityMismatch> {
        let mut out = Vec::new();
        if let Some(sel) = &self.node_selector {
            for r in sel.requirements() {
                if !r.matches(node_labels) {
                    out.push(AffinityMismatch::NodeSelector {
                        key: r.key().to_string(),
                        want: r.values().first().cloned().unwrap_or_default(),
                        have: node_labels.get(r.key()).cloned(),
                    });
                }
            }
        }
        if let Some(req) = &self.required
            && !req.matches(node_name, node_labels)
        {
            out.push(AffinityMismatch::NoTermMatched { terms: req.explain(node_name, node_labels) });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, NodeSelectorTerm};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: if values.is_empty() {
                None
            } else {
                Some(values.iter().map(|s| s.to_string()).collect())
            },
        }
    }

    fn spec_with_terms(terms: Vec<NodeSelectorTerm>) -> PodSpec {
        PodSpec {
            affinity: Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: terms,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn terms_are_ored_and_requirements_anded() {
        let spec = spec_with_terms(vec![
            NodeSelectorTerm {
                match_expressions: Some(vec![req("a", "In", &["1"]), req("b", "Exists", &[])]),
                match_fields: None,
            },
            NodeSelectorTerm { match_expressions: Some(vec![req("c", "In", &["3"])]), match_fields: None },
        ]);
        let aff = RequiredNodeAffinity::from_pod_spec(&spec);
        assert!(aff.matches("n", &labels(&[("a", "1"), ("b", "")])));
        assert!(aff.matches("n", &labels(&[("c", "3")])));
        assert!(!aff.matches("n", &labels(&[("a", "1")])));
    }

    #[test]
    fn match_fields_select_by_node_name() {
        let spec = spec_with_terms(vec![NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![req(OBJECT_NAME_FIELD, "In", &["node-1"])]),
        }]);
        let aff = RequiredNodeAffinity::from_pod_spec(&spec);
        assert!(aff.matches("node-1", &labels(&[])));
        assert!(!aff.matches("node-2", &labels(&[])));
    }

    #[test]
    fn empty_and_invalid_terms_never_match_but_others_still_can() {
        let spec = spec_with_terms(vec![
            NodeSelectorTerm::default(),
            NodeSelectorTerm { match_expressions: Some(vec![req("a", "Gt", &["x"])]), match_fields: None },
            NodeSelectorTerm {
                match_expressions: None,
                match_fields: Some(vec![req(OBJECT_NAME_FIELD, "In", &["a", "b"])]),
            },
        ]);
        let aff = RequiredNodeAffinity::from_pod_spec(&spec);
        assert!(!aff.matches("a", &labels(&[("a", "5")])));
        let spec = spec_with_terms(vec![
            NodeSelectorTerm { match_expressions: Some(vec![req("a", "Gt", &["x"])]), match_fields: None },
            NodeSelectorTerm { match_expressions: Some(vec![req("a", "Gt", &["1"])]), match_fields: None },
        ]);
        assert!(RequiredNodeAffinity::from_pod_spec(&spec).matches("n", &labels(&[("a", "5")])));
    }

    #[test]
    fn no_terms_at_all_matches_nothing() {
        let aff = RequiredNodeAffinity::from_pod_spec(&spec_with_terms(vec![]));
        assert!(!aff.matches("n", &labels(&[])));
    }

    #[test]
    fn node_selector_is_anded_with_affinity_and_explained() {
        let mut spec = spec_with_terms(vec![NodeSelectorTerm {
            match_expressions: Some(vec![
                req("kubernetes.io/os", "In", &["linux"]),
                req("node-type", "NotIn", &["gpu"]),
            ]),
            match_fields: None,
        }]);
        spec.node_selector = Some([("ssd".to_string(), "true".to_string())].into());
        let aff = RequiredNodeAffinity::from_pod_spec(&spec);
        let node = labels(&[("kubernetes.io/os", "linux"), ("node-type", "gpu")]);
        assert!(!aff.matches("n", &node));
        let why = aff.explain("n", &node);
        assert_eq!(why.len(), 2);
        assert_eq!(why[0].to_string(), "nodeSelector ssd=true: node has no label ssd");
        assert_eq!(
            why[1].to_string(),
            "required node affinity: no term matches (term 0: node-type notin (gpu) (node has node-type=gpu))"
        );
        assert!(aff.matches("n", &labels(&[("kubernetes.io/os", "linux"), ("ssd", "true")])));
        assert!(aff.explain("n", &labels(&[("kubernetes.io/os", "linux"), ("ssd", "true")])).is_empty());
    }
}
