//! Object metadata, labels, annotations and label selectors (apimachinery `api/validation` and
//! `apis/meta/v1/validation`), plus the small name helpers every other validator uses.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::field::{BadValue, ErrorList, ErrorType, FieldError, FieldPath};
use crate::validation::names::{
    is_dns1123_label, is_dns1123_subdomain, is_qualified_name, is_valid_label_value,
};
use crate::validation::render;

/// `IsNegativeErrorMsg`.
pub const IS_NEGATIVE_ERROR_MSG: &str = "must be greater than or equal to 0";
/// `FieldImmutableErrorMsg`.
pub const FIELD_IMMUTABLE_ERROR_MSG: &str = "field is immutable";
/// Upstream's limit on the summed size of all annotation keys and values (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT_BYTES: usize = 256 * 1024;

/// Finalizers Kubernetes itself understands without a domain prefix.
const STANDARD_FINALIZERS: [&str; 3] = ["kubernetes", "orphan", "foregroundDeletion"];

/// A `ValidateNameFunc`: problems with `name`; `prefix` says it is a `generateName` prefix.
pub type NameFn = fn(&str, bool) -> Vec<String>;

/// `NameIsDNSSubdomain`, the rule for DaemonSet names.
pub fn name_is_dns_subdomain(name: &str, prefix: bool) -> Vec<String> {
    if prefix { is_dns1123_subdomain(&mask_trailing_dash(name)) } else { is_dns1123_subdomain(name) }
}

/// `NameIsDNSLabel`, the rule for namespace names.
pub fn name_is_dns_label(name: &str, prefix: bool) -> Vec<String> {
    if prefix { dns1123_label(&mask_trailing_dash(name)) } else { dns1123_label(name) }
}

/// `maskTrailingDash`, bug for bug: upstream replaces the last *two* characters of a prefix ending
/// in `-` with `a` (`foo-` is checked as `foa`).
fn mask_trailing_dash(name: &str) -> String {
    if name.len() >= 2 && name.ends_with('-') && name.is_char_boundary(name.len() - 2) {
        format!("{}a", &name[..name.len() - 2])
    } else {
        name.to_string()
    }
}

/// `IsDNS1123Label`, including upstream's special message for names that have subdomain syntax
/// but contain dots (`a.b` is reported as "must not contain dots", not with the regex).
pub fn dns1123_label(value: &str) -> Vec<String> {
    let subdomain_syntax =
        !is_dns1123_subdomain(value).iter().any(|m| m.starts_with("a lowercase RFC 1123 subdomain"));
    is_dns1123_label(value)
        .into_iter()
        .map(|m| {
            if subdomain_syntax && m.starts_with("a lowercase RFC 1123 label") {
                "must not contain dots".to_string()
            } else {
                m
            }
        })
        .collect()
}

/// `ValidateDNS1123Label`: one Invalid error per problem.
pub fn validate_dns1123_label(value: &str, path: &FieldPath) -> ErrorList {
    invalid_each(dns1123_label(value), path, value)
}

/// `ValidateDNS1123Subdomain`.
pub fn validate_dns1123_subdomain(value: &str, path: &FieldPath) -> ErrorList {
    invalid_each(is_dns1123_subdomain(value), path, value)
}

/// `ValidateQualifiedName` / `ValidateLabelName`.
pub fn validate_qualified_name(value: &str, path: &FieldPath) -> ErrorList {
    invalid_each(is_qualified_name(value), path, value)
}

/// Turns a list of messages about `value` into Invalid errors at `path`.
pub fn invalid_each(msgs: Vec<String>, path: &FieldPath, value: &str) -> ErrorList {
    msgs.into_iter().map(|m| FieldError::invalid(path, BadValue::Str(value.to_string()), m)).collect()
}

/// `ValidateNonnegativeField`.
pub fn validate_nonnegative(value: i64, path: &FieldPath) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid(path, BadValue::Int(value), IS_NEGATIVE_ERROR_MSG)]
    } else {
        vec![]
    }
}

/// A field error of kind TooLong with the post-1.34 wording ("may not be more than N bytes").
pub fn too_long_bytes(path: &FieldPath, max_bytes: usize) -> FieldError {
    FieldError {
        kind: ErrorType::TooLong,
        field: path.to_string(),
        bad_value: BadValue::Omit,
        detail: format!("may not be more than {max_bytes} bytes"),
    }
}

/// `ValidateLabels`: keys must be qualified names and values valid label values. Both kinds of
/// error are reported at the map's path, not at the key, exactly as upstream does.
pub fn validate_labels(labels: Option<&BTreeMap<String, String>>, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for (k, v) in labels.into_iter().flatten() {
        errs.extend(validate_qualified_name(k, path));
        errs.extend(invalid_each(is_valid_label_value(v), path, v));
    }
    errs
}

/// `ValidateAnnotations`: keys are qualified names ignoring case; the total size is limited.
pub fn validate_annotations(annotations: Option<&BTreeMap<String, String>>, path: &FieldPath) -> ErrorList {
    let Some(annotations) = annotations else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let mut total = 0usize;
    for (k, v) in annotations {
        errs.extend(invalid_each(is_qualified_name(&k.to_lowercase()), path, k));
        total += k.len() + v.len();
    }
    if total > TOTAL_ANNOTATION_SIZE_LIMIT_BYTES {
        errs.push(too_long_bytes(path, TOTAL_ANNOTATION_SIZE_LIMIT_BYTES));
    }
    errs
}

/// `ValidateLabelSelector` with `AllowInvalidLabelValueInSelector: false`.
pub fn validate_label_selector(selector: &LabelSelector, path: &FieldPath) -> ErrorList {
    let mut errs = validate_labels(selector.match_labels.as_ref(), &path.child("matchLabels"));
    for (i, req) in selector.match_expressions.iter().flatten().enumerate() {
        let p = path.child("matchExpressions").index(i);
        let values = req.values.as_deref().unwrap_or_default();
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => errs.push(FieldError::required(
                &p.child("values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => errs.push(FieldError::forbidden(
                &p.child("values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => errs.push(FieldError::invalid(
                &p.child("operator"),
                render::named_string(other),
                "not a valid selector operator",
            )),
        }
        errs.extend(validate_qualified_name(&req.key, &p.child("key")));
        for (j, v) in values.iter().enumerate() {
            errs.extend(invalid_each(is_valid_label_value(v), &p.child("values").index(j), v));
        }
    }
    errs
}

/// `ValidateObjectMeta` for a namespaced object on create. Name generation must already have
/// happened (the server turns `generateName` into `name` before validating), and the request's
/// namespace must already be filled in, as upstream's `BeforeCreate` does.
pub fn validate_object_meta(meta: &ObjectMeta, name_fn: NameFn, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let generate_name = meta.generate_name.as_deref().unwrap_or_default();
    if !generate_name.is_empty() {
        errs.extend(invalid_each(name_fn(generate_name, true), &path.child("generateName"), generate_name));
    }
    let name = meta.name.as_deref().unwrap_or_default();
    if name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), "name or generateName is required"));
    } else {
        errs.extend(invalid_each(name_fn(name, false), &path.child("name"), name));
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if namespace.is_empty() {
        errs.push(FieldError::required(&path.child("namespace"), ""));
    } else {
        errs.extend(invalid_each(name_is_dns_label(namespace, false), &path.child("namespace"), namespace));
    }
    errs.extend(validate_nonnegative(meta.generation.unwrap_or(0), &path.child("generation")));
    errs.extend(validate_labels(meta.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(meta.annotations.as_ref(), &path.child("annotations")));
    errs.extend(validate_owner_references(meta, &path.child("ownerReferences")));
    errs.extend(validate_finalizers(
        meta.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    errs
}

/// `ValidateObjectMetaUpdate`, minus the "resourceVersion must be specified" rule: the store's
/// optimistic concurrency owns resource versions, and upstream fills it in for unconditional
/// updates before validating anyway.
pub fn validate_object_meta_update(new: &ObjectMeta, old: &ObjectMeta, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_finalizers = old.finalizers.as_deref().unwrap_or_default();
        let mut extra: Vec<String> =
            new.finalizers.iter().flatten().filter(|f| !old_finalizers.contains(f)).cloned().collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let quoted: Vec<String> = extra.iter().map(|f| crate::field::go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    quoted.join(", ")
                ),
            ));
        }
    }
    let (new_gen, old_gen) = (new.generation.unwrap_or(0), old.generation.unwrap_or(0));
    if new_gen < old_gen {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            BadValue::Int(new_gen),
            "must not be decremented",
        ));
    }
    let immutable_str = |field: &str, n: &Option<String>, o: &Option<String>| {
        let (n, o) = (n.as_deref().unwrap_or_default(), o.as_deref().unwrap_or_default());
        (n != o).then(|| {
            FieldError::invalid(&path.child(field), BadValue::Str(n.to_string()), FIELD_IMMUTABLE_ERROR_MSG)
        })
    };
    errs.extend(immutable_str("name", &new.name, &old.name));
    errs.extend(immutable_str("namespace", &new.namespace, &old.namespace));
    errs.extend(immutable_str("uid", &new.uid, &old.uid));
    if new.creation_timestamp != old.creation_timestamp {
        errs.push(FieldError::invalid(
            &path.child("creationTimestamp"),
            render::optional_time(new.creation_timestamp.as_ref()),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    if new.deletion_timestamp != old.deletion_timestamp {
        errs.push(FieldError::invalid(
            &path.child("deletionTimestamp"),
            render::optional_time(new.deletion_timestamp.as_ref()),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    if new.deletion_grace_period_seconds != old.deletion_grace_period_seconds {
        errs.push(FieldError::invalid(
            &path.child("deletionGracePeriodSeconds"),
            render::optional_int(new.deletion_grace_period_seconds),
            FIELD_IMMUTABLE_ERROR_MSG,
        ));
    }
    errs.extend(validate_labels(new.labels.as_ref(), &path.child("labels")));
    errs.extend(validate_annotations(new.annotations.as_ref(), &path.child("annotations")));
    errs.extend(validate_owner_references(new, &path.child("ownerReferences")));
    errs.extend(validate_finalizers(
        new.finalizers.as_deref().unwrap_or_default(),
        &path.child("finalizers"),
    ));
    errs
}

/// `ValidateOwnerReferences`: every reference names a version, kind, name and uid; at most one is
/// the controller.
fn validate_owner_references(meta: &ObjectMeta, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    let mut first_controller: Option<String> = None;
    for r in meta.owner_references.iter().flatten() {
        // schema.ParseGroupVersion: "v1", "apps/v1"; anything with more slashes has no version.
        let version = match r.api_version.split('/').collect::<Vec<_>>().as_slice() {
            [v] | [_, v] => *v,
            _ => "",
        };
        if version.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("apiVersion"),
                BadValue::Str(r.api_version.clone()),
                "version must not be empty",
            ));
        }
        for (field, value) in [("kind", &r.kind), ("name", &r.name), ("uid", &r.uid)] {
            if value.is_empty() {
                errs.push(FieldError::invalid(
                    &path.child(field),
                    BadValue::Str(String::new()),
                    "must not be empty",
                ));
            }
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    owner_references_json(meta),
                    format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
    errs
}

/// `[]metav1.OwnerReference` as JSON, in Go's field order with its `omitempty` rules.
fn owner_references_json(meta: &ObjectMeta) -> BadValue {
    let items: Vec<String> = meta
        .owner_references
        .iter()
        .flatten()
        .map(|r| {
            let mut s = format!(
                "{{\"apiVersion\":{},\"kind\":{},\"name\":{},\"uid\":{}",
                render::json_string(&r.api_version),
                render::json_string(&r.kind),
                render::json_string(&r.name),
                render::json_string(&r.uid)
            );
            if let Some(c) = r.controller {
                s.push_str(&format!(",\"controller\":{c}"));
            }
            if let Some(b) = r.block_owner_deletion {
                s.push_str(&format!(",\"blockOwnerDeletion\":{b}"));
            }
            s.push('}');
            s
        })
        .collect();
    BadValue::Rendered(format!("[{}]", items.join(",")))
}

/// `ValidateFinalizers` plus core's `validateKubeFinalizerName` (which reports at the indexed path).
fn validate_finalizers(finalizers: &[String], path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    for f in finalizers {
        errs.extend(validate_qualified_name(f, path));
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            render::string_list(finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    for (i, f) in finalizers.iter().enumerate() {
        let p = path.index(i);
        errs.extend(validate_qualified_name(f, &p));
        if !f.contains('/') && !STANDARD_FINALIZERS.contains(&f.as_str()) {
            errs.push(FieldError::invalid(
                &p,
                BadValue::Str(f.clone()),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, namespace: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: Some(namespace.into()), ..Default::default() }
    }

    fn messages(errs: &ErrorList) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn missing_name_is_required_with_upstream_detail() {
        let errs =
            validate_object_meta(&meta("", "default"), name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(messages(&errs), ["metadata.name: Required value: name or generateName is required"]);
    }

    #[test]
    fn generate_name_prefix_may_end_with_a_dash() {
        let mut m = meta("fluentd-x7k2p", "default");
        m.generate_name = Some("fluentd-".into());
        assert!(validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata")).is_empty());
        m.generate_name = Some("Fluentd-".into());
        let errs = validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "metadata.generateName");
    }

    #[test]
    fn namespace_must_be_a_dns_label() {
        let errs =
            validate_object_meta(&meta("x", "a.b"), name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(messages(&errs), [r#"metadata.namespace: Invalid value: "a.b": must not contain dots"#]);
        let errs = validate_object_meta(&meta("x", ""), name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(messages(&errs), ["metadata.namespace: Required value"]);
    }

    #[test]
    fn dotted_names_are_told_they_must_not_contain_dots() {
        assert_eq!(dns1123_label("a.b"), ["must not contain dots"]);
        let long = format!("{}.b", "a".repeat(70));
        assert_eq!(dns1123_label(&long), ["must be no more than 63 characters", "must not contain dots"]);
        assert!(dns1123_label("a_b")[0].starts_with("a lowercase RFC 1123 label"));
        assert!(dns1123_label("agent").is_empty());
    }

    #[test]
    fn bad_label_keys_and_values_are_reported_at_the_map_path() {
        let mut m = meta("x", "default");
        m.labels = Some([("bad key".to_string(), "-v".to_string())].into());
        let errs = validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().all(|e| e.field == "metadata.labels"));
        assert!(
            errs[0]
                .to_string()
                .starts_with(r#"metadata.labels: Invalid value: "bad key": name part must consist of"#)
        );
        assert!(
            errs[1].to_string().starts_with(r#"metadata.labels: Invalid value: "-v": a valid label must be"#)
        );
    }

    #[test]
    fn annotations_larger_than_256_kib_are_too_long() {
        let mut m = meta("x", "default");
        m.annotations = Some([("big".to_string(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT_BYTES))].into());
        let errs = validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(messages(&errs), ["metadata.annotations: Too long: may not be more than 262144 bytes"]);
    }

    #[test]
    fn annotation_keys_ignore_case_but_not_syntax() {
        let mut m = meta("x", "default");
        m.annotations = Some([("Example.COM/Key".to_string(), String::new())].into());
        assert!(validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata")).is_empty());
        m.annotations = Some([("a b".to_string(), String::new())].into());
        assert_eq!(validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata")).len(), 1);
    }

    #[test]
    fn updates_may_not_change_identity_fields() {
        let old = meta("x", "default");
        let mut new = meta("y", "default");
        new.generation = Some(-1);
        let errs = validate_object_meta_update(&new, &old, &FieldPath::new("metadata"));
        assert_eq!(
            messages(&errs),
            [
                "metadata.generation: Invalid value: -1: must not be decremented",
                r#"metadata.name: Invalid value: "y": field is immutable"#,
            ]
        );
    }

    #[test]
    fn selector_requirements_follow_metav1_rules() {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
        let req = |op: &str, values: Option<Vec<&str>>| LabelSelectorRequirement {
            key: "tier".into(),
            operator: op.into(),
            values: values.map(|v| v.into_iter().map(String::from).collect()),
        };
        let sel = LabelSelector {
            match_expressions: Some(vec![req("In", None), req("Exists", Some(vec!["a"])), req("Like", None)]),
            ..Default::default()
        };
        assert_eq!(
            messages(&validate_label_selector(&sel, &FieldPath::new("spec").child("selector"))),
            [
                "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
                "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                r#"spec.selector.matchExpressions[2].operator: Invalid value: "Like": not a valid selector operator"#,
            ]
        );
    }

    #[test]
    fn finalizers_must_be_standard_or_qualified() {
        let mut m = meta("x", "default");
        m.finalizers = Some(vec!["orphan".into(), "example.com/cleanup".into(), "cleanup".into()]);
        let errs = validate_object_meta(&m, name_is_dns_subdomain, &FieldPath::new("metadata"));
        assert_eq!(
            messages(&errs),
            [
                r#"metadata.finalizers[2]: Invalid value: "cleanup": name is neither a standard finalizer name nor is it fully qualified"#
            ]
        );
    }
}
