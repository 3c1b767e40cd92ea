//! Container resource requests and limits (core validation's `validateResourceRequirements` with
//! `validateContainerResourceName`).
//!
//! A quantity string that does not parse never reaches validation upstream (JSON decoding rejects
//! it with a 400); since k8s-openapi keeps quantities as strings, it is reported here as Invalid
//! with upstream's parse message so the object is still refused.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as QuantityString;

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::meta::{IS_NEGATIVE_ERROR_MSG, validate_qualified_name};
use crate::validation::names::is_qualified_name;
use crate::validation::quantity::{Quantity, QuantityError};

/// Resource names that need no domain prefix (`helper.IsStandardResourceName`, hugepages aside).
const STANDARD_RESOURCES: [&str; 20] = [
    "cpu",
    "memory",
    "ephemeral-storage",
    "storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "requests.cpu",
    "requests.memory",
    "requests.storage",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "services.nodeports",
    "services.loadbalancers",
];
const HUGEPAGES_PREFIX: &str = "hugepages-";

/// `ValidateContainerResourceRequirements` for one container's `resources`.
pub fn validate_container_resources(resources: Option<&ResourceRequirements>, path: &FieldPath) -> ErrorList {
    let Some(resources) = resources else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let lim_path = path.child("limits");
    let req_path = path.child("requests");
    let empty = BTreeMap::new();
    let limits = resources.limits.as_ref().unwrap_or(&empty);
    let requests = resources.requests.as_ref().unwrap_or(&empty);
    let mut has_cpu_or_memory = false;
    let mut has_hugepages = false;

    for (name, raw) in limits {
        let p = lim_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, raw, &p));
        has_hugepages |= name.starts_with(HUGEPAGES_PREFIX);
        has_cpu_or_memory |= name == "cpu" || name == "memory";
    }
    for (name, raw) in requests {
        let p = req_path.key(name);
        errs.extend(validate_container_resource_name(name, &p));
        errs.extend(validate_quantity_value(name, raw, &p));
        let overcommit = is_overcommit_allowed(name);
        match limits.get(name) {
            Some(limit_raw) => {
                if let (Ok(request), Ok(limit)) = (Quantity::parse(&raw.0), Quantity::parse(&limit_raw.0)) {
                    if request != limit && !overcommit {
                        errs.push(FieldError::invalid(
                            &req_path,
                            BadValue::Str(request.canonical()),
                            format!("must be equal to {name} limit of {limit}"),
                        ));
                    } else if request > limit {
                        errs.push(FieldError::invalid(
                            &req_path,
                            BadValue::Str(request.canonical()),
                            format!("must be less than or equal to {name} limit of {limit}"),
                        ));
                    }
                }
            }
            None if !overcommit => {
                errs.push(FieldError::required(
                    &lim_path,
                    "Limit must be set for non overcommitable resources",
                ));
            }
            None => {}
        }
        has_hugepages |= name.starts_with(HUGEPAGES_PREFIX);
        has_cpu_or_memory |= name == "cpu" || name == "memory";
    }
    if has_hugepages && !has_cpu_or_memory {
        errs.push(FieldError::forbidden(path, "HugePages require cpu or memory"));
    }
    errs
}

/// `ValidateResourceQuantityValue`: not negative, and whole for integer (extended) resources.
fn validate_quantity_value(name: &str, raw: &QuantityString, path: &FieldPath) -> ErrorList {
    match Quantity::parse(&raw.0) {
        Ok(q) => {
            let mut errs = Vec::new();
            if q.is_negative() {
                errs.push(FieldError::invalid(path, BadValue::Str(q.canonical()), IS_NEGATIVE_ERROR_MSG));
            }
            if is_extended_resource_name(name) && q.round_up(0) != q {
                errs.push(FieldError::invalid(path, BadValue::Str(q.canonical()), "must be an integer"));
            }
            errs
        }
        Err(QuantityError::OutOfRange) => Vec::new(),
        Err(e) => vec![FieldError::invalid(path, BadValue::Str(raw.0.clone()), e.to_string())],
    }
}

/// `validateContainerResourceName`.
fn validate_container_resource_name(name: &str, path: &FieldPath) -> ErrorList {
    let mut errs = validate_qualified_name(name, path);
    if !errs.is_empty() {
        return errs;
    }
    if !name.contains('/') {
        if !STANDARD_RESOURCES.contains(&name) && !is_hugepages(name) {
            errs.push(invalid(name, path, "must be a standard resource type or fully qualified"));
        }
        if !matches!(name, "cpu" | "memory" | "ephemeral-storage") && !name.starts_with(HUGEPAGES_PREFIX) {
            errs.push(invalid(name, path, "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource_name(name) {
        errs.push(invalid(name, path, "doesn't follow extended resource name standard"));
    }
    errs
}

fn invalid(name: &str, path: &FieldPath, msg: &str) -> FieldError {
    FieldError::invalid(path, crate::validation::render::named_string(name), msg)
}

fn is_hugepages(name: &str) -> bool {
    ["", "requests.", "limits."]
        .iter()
        .any(|p| name.strip_prefix(p).is_some_and(|n| n.starts_with(HUGEPAGES_PREFIX)))
}

/// Unprefixed names and `kubernetes.io/` names are Kubernetes' own.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// Device-plugin style resources (`example.com/gpu`): integers that cannot be overcommitted.
fn is_extended_resource_name(name: &str) -> bool {
    !is_native_resource(name)
        && !name.starts_with("requests.")
        && is_qualified_name(&format!("requests.{name}")).is_empty()
}

fn is_overcommit_allowed(name: &str) -> bool {
    is_native_resource(name) && !name.starts_with(HUGEPAGES_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reqs(limits: &[(&str, &str)], requests: &[(&str, &str)]) -> ResourceRequirements {
        let list = |items: &[(&str, &str)]| {
            (!items.is_empty()).then(|| {
                items
                    .iter()
                    .map(|(k, v)| (k.to_string(), QuantityString(v.to_string())))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ResourceRequirements { limits: list(limits), requests: list(requests), claims: None }
    }

    fn check(r: ResourceRequirements) -> Vec<String> {
        validate_container_resources(Some(&r), &FieldPath::new("resources"))
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn requests_above_limits_are_invalid_with_canonical_quantities() {
        assert_eq!(
            check(reqs(&[("cpu", "500m"), ("memory", "128Mi")], &[("cpu", "1.5"), ("memory", "0.125Gi")])),
            [
                r#"resources.requests: Invalid value: "1500m": must be less than or equal to cpu limit of 500m"#
            ]
        );
    }

    #[test]
    fn requests_equal_to_limits_are_fine() {
        assert!(check(reqs(&[("cpu", "1")], &[("cpu", "1000m")])).is_empty());
        assert!(check(reqs(&[("memory", "1Gi")], &[("memory", "512Mi")])).is_empty());
    }

    #[test]
    fn negative_and_unparseable_quantities_are_invalid() {
        assert_eq!(
            check(reqs(&[("cpu", "-1")], &[])),
            [r#"resources.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0"#]
        );
        assert_eq!(
            check(reqs(&[("memory", "lots")], &[])),
            [
                r#"resources.limits[memory]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#
            ]
        );
    }

    #[test]
    fn unknown_unprefixed_names_are_rejected() {
        assert_eq!(
            check(reqs(&[("gpu", "1")], &[])),
            [
                r#"resources.limits[gpu]: Invalid value: "gpu": must be a standard resource type or fully qualified"#,
                r#"resources.limits[gpu]: Invalid value: "gpu": must be a standard resource for containers"#,
            ]
        );
    }

    #[test]
    fn extended_resources_are_whole_and_not_overcommitted() {
        assert_eq!(
            check(reqs(&[("example.com/gpu", "2")], &[("example.com/gpu", "1")])),
            [r#"resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2"#]
        );
        assert_eq!(
            check(reqs(&[], &[("example.com/gpu", "500m")])),
            [
                r#"resources.requests[example.com/gpu]: Invalid value: "500m": must be an integer"#,
                "resources.limits: Required value: Limit must be set for non overcommitable resources",
            ]
        );
    }
}
