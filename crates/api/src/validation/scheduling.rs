//! Where a pod may run: tolerations and node affinity (core validation's `ValidateTolerations`,
//! `validateNodeAffinity` and friends). `nodeSelector` is plain label validation, done in
//! [`crate::validation::pod`].

use k8s_openapi::api::core::v1::{
    Affinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Toleration,
};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::meta::{invalid_each, name_is_dns_subdomain, validate_qualified_name};
use crate::validation::names::is_valid_label_value;
use crate::validation::render;

/// The only node field a `matchFields` requirement may use.
const NODE_FIELD_SELECTOR_KEY: &str = "metadata.name";
const TAINT_EFFECTS: [&str; 3] = ["NoSchedule", "PreferNoSchedule", "NoExecute"];

/// `ValidateTolerations`. An empty operator means `Equal`; an empty effect matches all effects.
pub fn validate_tolerations(tolerations: &[Toleration], path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let p = path.index(i);
        let key = t.key.as_deref().unwrap_or_default();
        let operator = t.operator.as_deref().unwrap_or_default();
        let value = t.value.as_deref().unwrap_or_default();
        let effect = t.effect.as_deref().unwrap_or_default();
        if !key.is_empty() {
            errs.extend(validate_qualified_name(key, &p.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                &p.child("operator"),
                render::named_string(operator),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                &p.child("effect"),
                render::named_string(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let msgs = is_valid_label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        BadValue::Str(value.into()),
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    errs.push(FieldError::invalid(
                        &p.child("operator"),
                        BadValue::Str(value.into()),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                &p.child("operator"),
                render::named_string(other),
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !TAINT_EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(
                &p.child("effect"),
                render::named_string(effect),
                &TAINT_EFFECTS,
            ));
        }
    }
    errs
}

/// `validateAffinity`, node affinity only: pod (anti-)affinity is not checked here.
pub fn validate_affinity(affinity: &Affinity, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let Some(na) = &affinity.node_affinity else {
        return errs;
    };
    let path = path.child("nodeAffinity");
    if let Some(required) = &na.required_during_scheduling_ignored_during_execution {
        errs.extend(validate_node_selector(
            required,
            &path.child("requiredDuringSchedulingIgnoredDuringExecution"),
        ));
    }
    let preferred_path = path.child("preferredDuringSchedulingIgnoredDuringExecution");
    for (i, term) in na.preferred_during_scheduling_ignored_during_execution.iter().flatten().enumerate() {
        let p = preferred_path.index(i);
        if term.weight <= 0 || term.weight > 100 {
            errs.push(FieldError::invalid(
                &p.child("weight"),
                BadValue::Int(i64::from(term.weight)),
                "must be in the range 1-100",
            ));
        }
        // Preferred terms may carry invalid label values: they can still succeed on one node.
        errs.extend(validate_node_selector_term(&term.preference, true, &p.child("preference")));
    }
    errs
}

/// `ValidateNodeSelector` for required node affinity.
pub fn validate_node_selector(selector: &NodeSelector, path: &FieldPath) -> ErrorList {
    let terms_path = path.child("nodeSelectorTerms");
    if selector.node_selector_terms.is_empty() {
        return vec![FieldError::required(&terms_path, "must have at least one node selector term")];
    }
    let mut errs = Vec::new();
    for (i, term) in selector.node_selector_terms.iter().enumerate() {
        errs.extend(validate_node_selector_term(term, false, &terms_path.index(i)));
    }
    errs
}

fn validate_node_selector_term(
    term: &NodeSelectorTerm,
    allow_invalid_values: bool,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = Vec::new();
    for (j, req) in term.match_expressions.iter().flatten().enumerate() {
        errs.extend(validate_node_selector_requirement(
            req,
            allow_invalid_values,
            &path.child("matchExpressions").index(j),
        ));
    }
    for (j, req) in term.match_fields.iter().flatten().enumerate() {
        errs.extend(validate_node_field_selector_requirement(req, &path.child("matchFields").index(j)));
    }
    errs
}

/// `ValidateNodeSelectorRequirement`. Note that upstream only counts `Gt`/`Lt` values here; that
/// the single value is an integer is checked when the selector is used, not on write.
fn validate_node_selector_requirement(
    req: &NodeSelectorRequirement,
    allow_invalid_values: bool,
    path: &FieldPath,
) -> ErrorList {
    let mut errs = Vec::new();
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if values.is_empty() {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
        }
        "Exists" | "DoesNotExist" => {
            if !values.is_empty() {
                errs.push(FieldError::forbidden(
                    &path.child("values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
        }
        "Gt" | "Lt" => {
            if values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            render::named_string(other),
            "not a valid selector operator",
        )),
    }
    errs.extend(validate_qualified_name(&req.key, &path.child("key")));
    if !allow_invalid_values {
        for (i, v) in values.iter().enumerate() {
            errs.extend(invalid_each(is_valid_label_value(v), &path.child("values").index(i), v));
        }
    }
    errs
}

/// `ValidateNodeFieldSelectorRequirement`: only `metadata.name`, only `In`/`NotIn`, one value.
fn validate_node_field_selector_requirement(req: &NodeSelectorRequirement, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let values = req.values.as_deref().unwrap_or_default();
    match req.operator.as_str() {
        "In" | "NotIn" => {
            if values.len() != 1 {
                errs.push(FieldError::required(
                    &path.child("values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
                ));
            }
        }
        other => errs.push(FieldError::invalid(
            &path.child("operator"),
            render::named_string(other),
            "not a valid selector operator",
        )),
    }
    if req.key == NODE_FIELD_SELECTOR_KEY {
        for (i, v) in values.iter().enumerate() {
            errs.extend(invalid_each(name_is_dns_subdomain(v, false), &path.child("values").index(i), v));
        }
    } else {
        errs.push(FieldError::invalid(
            &path.child("key"),
            BadValue::Str(req.key.clone()),
            "not a valid field selector key",
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeAffinity, PreferredSchedulingTerm};

    fn tol(key: &str, op: &str, value: &str, effect: &str) -> Toleration {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Toleration {
            key: opt(key),
            operator: opt(op),
            value: opt(value),
            effect: opt(effect),
            toleration_seconds: None,
        }
    }

    fn messages(errs: ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    fn path() -> FieldPath {
        FieldPath::new("spec").child("tolerations")
    }

    #[test]
    fn exists_with_a_value_is_invalid() {
        assert_eq!(
            messages(validate_tolerations(&[tol("k", "Exists", "v", "")], &path())),
            [
                r#"spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is 'Exists'"#
            ]
        );
    }

    #[test]
    fn empty_key_requires_exists() {
        assert_eq!(
            messages(validate_tolerations(&[tol("", "Equal", "", "")], &path())),
            [
                r#"spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#
            ]
        );
        assert!(validate_tolerations(&[tol("", "Exists", "", "NoSchedule")], &path()).is_empty());
    }

    #[test]
    fn unknown_operator_and_effect_are_not_supported() {
        assert_eq!(
            messages(validate_tolerations(&[tol("k", "Like", "", "Sometimes")], &path())),
            [
                r#"spec.tolerations[0].operator: Unsupported value: "Like": supported values: "Equal", "Exists""#,
                r#"spec.tolerations[0].effect: Unsupported value: "Sometimes": supported values: "NoSchedule", "PreferNoSchedule", "NoExecute""#,
            ]
        );
    }

    #[test]
    fn toleration_seconds_need_no_execute() {
        let mut t = tol("k", "Exists", "", "NoSchedule");
        t.toleration_seconds = Some(30);
        assert_eq!(
            messages(validate_tolerations(&[t], &path())),
            [
                r#"spec.tolerations[0].effect: Invalid value: "NoSchedule": effect must be 'NoExecute' when `tolerationSeconds` is set"#
            ]
        );
    }

    #[test]
    fn bad_toleration_key_is_invalid() {
        let errs = validate_tolerations(&[tol("bad key", "Exists", "", "")], &path());
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec.tolerations[0].key");
    }

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|s| s.to_string()).collect()),
        }
    }

    fn required(terms: Vec<NodeSelectorTerm>) -> Affinity {
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: terms,
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn node_affinity_operators_follow_upstream_rules() {
        let term = NodeSelectorTerm {
            match_expressions: Some(vec![
                req("disk", "In", &[]),
                req("disk", "Exists", &["ssd"]),
                req("cpus", "Gt", &["1", "2"]),
                req("disk", "Near", &[]),
            ]),
            match_fields: None,
        };
        let p =
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]";
        assert_eq!(
            messages(validate_affinity(&required(vec![term]), &FieldPath::new("spec").child("affinity"))),
            [
                format!(
                    "{p}.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
                ),
                format!(
                    "{p}.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
                ),
                format!(
                    "{p}.matchExpressions[2].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'"
                ),
                format!(
                    r#"{p}.matchExpressions[3].operator: Invalid value: "Near": not a valid selector operator"#
                ),
            ]
        );
    }

    #[test]
    fn match_fields_only_allow_metadata_name_with_one_value() {
        let term = NodeSelectorTerm {
            match_expressions: None,
            match_fields: Some(vec![
                req("metadata.name", "In", &["node-1"]),
                req("metadata.name", "In", &["a", "b"]),
                req("spec.unschedulable", "Exists", &[]),
            ]),
        };
        let p =
            "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]";
        assert_eq!(
            messages(validate_affinity(&required(vec![term]), &FieldPath::new("spec").child("affinity"))),
            [
                format!(
                    "{p}.matchFields[1].values: Required value: must be only one value when `operator` is 'In' or 'NotIn' for node field selector"
                ),
                format!(
                    r#"{p}.matchFields[2].operator: Invalid value: "Exists": not a valid selector operator"#
                ),
                format!(
                    r#"{p}.matchFields[2].key: Invalid value: "spec.unschedulable": not a valid field selector key"#
                ),
            ]
        );
    }

    #[test]
    fn required_affinity_needs_a_term_and_preferred_weights_are_bounded() {
        let errs = validate_affinity(&required(vec![]), &FieldPath::new("spec").child("affinity"));
        assert_eq!(
            messages(errs),
            [
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"
            ]
        );
        let affinity = Affinity {
            node_affinity: Some(NodeAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![PreferredSchedulingTerm {
                    weight: 0,
                    preference: NodeSelectorTerm {
                        match_expressions: Some(vec![req("a", "In", &["b c"])]),
                        match_fields: None,
                    },
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            messages(validate_affinity(&affinity, &FieldPath::new("spec").child("affinity"))),
            [
                "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: must be in the range 1-100"
            ]
        );
    }
}
