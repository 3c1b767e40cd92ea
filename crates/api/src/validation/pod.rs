//! Pod templates and pod specs (core validation's `ValidatePodTemplateSpec` and `ValidatePodSpec`),
//! for the fields a DaemonSet's pods use. Containers, volumes, scheduling and resources have their
//! own modules; this one orders the checks as upstream does and covers the pod-level fields.

use k8s_openapi::api::core::v1::{PodDNSConfig, PodSpec, PodTemplateSpec};

use crate::field::{BadValue, ErrorList, FieldError, FieldPath};
use crate::validation::container::{PodContext, validate_containers, validate_init_containers};
use crate::validation::meta::{
    invalid_each, name_is_dns_subdomain, validate_annotations, validate_dns1123_label, validate_labels,
    validate_qualified_name,
};
use crate::validation::render;
use crate::validation::scheduling::{validate_affinity, validate_tolerations};
use crate::validation::volume::validate_volumes;

/// Annotation the ReplicaSet controller reads to pick pods to delete; must be an int32.
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";
const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const MAX_DNS_NAMESERVERS: usize = 3;
const MAX_DNS_SEARCH_PATHS: usize = 32;
const MAX_DNS_SEARCH_LIST_CHARS: usize = 2048;

/// `ValidatePodTemplateSpec`. Note upstream's paths: template labels are reported at
/// `<path>.labels`, not `<path>.metadata.labels`.
pub fn validate_pod_template_spec(template: &PodTemplateSpec, path: &FieldPath) -> ErrorList {
    let meta = template.metadata.as_ref();
    let annotations = meta.and_then(|m| m.annotations.as_ref());
    let mut errs = validate_labels(meta.and_then(|m| m.labels.as_ref()), &path.child("labels"));
    errs.extend(validate_annotations(annotations, &path.child("annotations")));
    if let Some(cost) = annotations.and_then(|a| a.get(POD_DELETION_COST_ANNOTATION))
        && !is_valid_deletion_cost(cost)
    {
        errs.push(FieldError::invalid(
            &path.child("annotations").key(POD_DELETION_COST_ANNOTATION),
            BadValue::Str(cost.clone()),
            "must be a 32bit integer",
        ));
    }
    let default_spec = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&default_spec);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if spec.ephemeral_containers.as_ref().is_some_and(|e| !e.is_empty()) {
        errs.push(FieldError::forbidden(
            &path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// `ValidatePodSpec`, in upstream's order. Security contexts, pod (anti-)affinity, topology spread,
/// scheduling gates, host aliases, overhead and pod-level resources are not checked.
pub fn validate_pod_spec(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    let mut errs = Vec::new();
    if spec.termination_grace_period_seconds.is_none() {
        errs.push(FieldError::required(&path.child("terminationGracePeriodSeconds"), ""));
    }
    let (volumes, volume_errs) =
        validate_volumes(spec.volumes.as_deref().unwrap_or_default(), &path.child("volumes"));
    errs.extend(volume_errs);
    let ctx = PodContext { volumes: &volumes, grace_period: spec.termination_grace_period_seconds };
    errs.extend(validate_containers(&spec.containers, ctx, &path.child("containers")));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or_default(),
        &spec.containers,
        ctx,
        &path.child("initContainers"),
    ));
    errs.extend(validate_host_network_ports(spec, path));
    errs.extend(required_enum(
        spec.restart_policy.as_deref(),
        &RESTART_POLICIES,
        &path.child("restartPolicy"),
    ));
    errs.extend(required_enum(spec.dns_policy.as_deref(), &DNS_POLICIES, &path.child("dnsPolicy")));
    errs.extend(validate_labels(spec.node_selector.as_ref(), &path.child("nodeSelector")));
    if let Some(affinity) = &spec.affinity {
        errs.extend(validate_affinity(affinity, &path.child("affinity")));
    }
    errs.extend(validate_dns_config(
        spec.dns_config.as_ref(),
        spec.dns_policy.as_deref(),
        &path.child("dnsConfig"),
    ));
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        errs.extend(validate_qualified_name(
            &gate.condition_type,
            &path.child("readinessGates").index(i).child("conditionType"),
        ));
    }
    for (field, value) in [("serviceAccountName", &spec.service_account_name), ("nodeName", &spec.node_name)]
    {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(invalid_each(name_is_dns_subdomain(v, false), &path.child(field), v));
        }
    }
    if let Some(seconds) = spec.active_deadline_seconds
        && !(1..=i64::from(i32::MAX)).contains(&seconds)
    {
        errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            BadValue::Int(seconds),
            format!("must be between 1 and {}, inclusive", i32::MAX),
        ));
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            errs.extend(validate_dns1123_label(v, &path.child(field)));
        }
    }
    if let Some(tolerations) = spec.tolerations.as_deref().filter(|t| !t.is_empty()) {
        errs.extend(validate_tolerations(tolerations, &path.child("tolerations")));
    }
    for (field, value) in [
        ("priorityClassName", spec.priority_class_name.as_deref().filter(|v| !v.is_empty())),
        ("runtimeClassName", spec.runtime_class_name.as_deref()),
    ] {
        if let Some(v) = value {
            errs.extend(invalid_each(name_is_dns_subdomain(v, false), &path.child(field), v));
        }
    }
    if let Some(policy) = spec.preemption_policy.as_deref() {
        errs.extend(required_enum(
            Some(policy),
            &["PreemptLowerPriority", "Never"],
            &path.child("preemptionPolicy"),
        ));
    }
    errs
}

/// A required string enum: Required when empty, NotSupported (with the JSON-quoted value) otherwise.
fn required_enum(value: Option<&str>, allowed: &[&str], path: &FieldPath) -> ErrorList {
    match value.unwrap_or_default() {
        "" => vec![FieldError::required(path, "")],
        v if allowed.contains(&v) => Vec::new(),
        v => vec![FieldError::not_supported(path, render::named_string(v), allowed)],
    }
}

/// `validatePodHostNetworkDeps` for a template: with host networking a container's `hostPort`
/// may be left 0 (the pod will default it) but otherwise must equal `containerPort`.
fn validate_host_network_ports(spec: &PodSpec, path: &FieldPath) -> ErrorList {
    if spec.host_network != Some(true) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 && host_port != port.container_port {
                errs.push(FieldError::invalid(
                    &path.child("containers").index(i).child("ports").index(j).child("hostPort"),
                    BadValue::Int(i64::from(host_port)),
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

/// `validatePodDNSConfig`, without the search-domain syntax check.
fn validate_dns_config(config: Option<&PodDNSConfig>, policy: Option<&str>, path: &FieldPath) -> ErrorList {
    if policy == Some("None") {
        let Some(config) = config else {
            return vec![FieldError::required(path, "must provide `dnsConfig` when `dnsPolicy` is None")];
        };
        if config.nameservers.as_ref().is_none_or(|n| n.is_empty()) {
            return vec![FieldError::required(
                &path.child("nameservers"),
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            )];
        }
    }
    let Some(config) = config else {
        return Vec::new();
    };
    let mut errs = Vec::new();
    let nameservers = config.nameservers.as_deref().unwrap_or_default();
    if nameservers.len() > MAX_DNS_NAMESERVERS {
        errs.push(FieldError::invalid(
            &path.child("nameservers"),
            render::string_list(nameservers),
            format!("must not have more than {MAX_DNS_NAMESERVERS} nameservers"),
        ));
    }
    for (i, ns) in nameservers.iter().enumerate() {
        if ns.parse::<std::net::IpAddr>().is_err() {
            errs.push(FieldError::invalid(
                &path.child("nameservers").index(i),
                BadValue::Str(ns.clone()),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    let searches = config.searches.as_deref().unwrap_or_default();
    if searches.len() > MAX_DNS_SEARCH_PATHS {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            render::string_list(searches),
            format!("must not have more than {MAX_DNS_SEARCH_PATHS} search paths"),
        ));
    }
    if searches.join(" ").len() > MAX_DNS_SEARCH_LIST_CHARS {
        errs.push(FieldError::invalid(
            &path.child("searches"),
            render::string_list(searches),
            format!("must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters (including spaces) in the search list"),
        ));
    }
    for (i, option) in config.options.iter().flatten().enumerate() {
        if option.name.as_deref().unwrap_or_default().is_empty() {
            errs.push(FieldError::required(&path.child("options").index(i), "must not be empty"));
        }
    }
    errs
}

/// `validFirstDigit` + `ParseInt(v, 10, 32)`: no `+`, no leading zeros, fits in an int32.
fn is_valid_deletion_cost(value: &str) -> bool {
    let first_ok = match value.as_bytes().first() {
        Some(b'-') | Some(b'1'..=b'9') => true,
        Some(b'0') => value == "0",
        _ => false,
    };
    first_ok && value.parse::<i32>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ContainerPort};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn spec() -> PodSpec {
        PodSpec {
            containers: vec![Container {
                name: "agent".into(),
                image: Some("agent:1".into()),
                image_pull_policy: Some("IfNotPresent".into()),
                termination_message_policy: Some("File".into()),
                ..Default::default()
            }],
            restart_policy: Some("Always".into()),
            dns_policy: Some("ClusterFirst".into()),
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }
    }

    fn check(spec: &PodSpec) -> Vec<String> {
        validate_pod_spec(spec, &FieldPath::new("spec")).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_defaulted_spec_is_valid() {
        assert!(check(&spec()).is_empty());
    }

    #[test]
    fn host_network_requires_matching_host_ports() {
        let mut s = spec();
        s.host_network = Some(true);
        s.containers[0].ports = Some(vec![
            ContainerPort {
                container_port: 9100,
                host_port: Some(9101),
                protocol: Some("TCP".into()),
                ..Default::default()
            },
            ContainerPort { container_port: 53, protocol: Some("UDP".into()), ..Default::default() },
        ]);
        assert_eq!(
            check(&s),
            [
                "spec.containers[0].ports[0].hostPort: Invalid value: 9101: must match `containerPort` when `hostNetwork` is true"
            ]
        );
    }

    #[test]
    fn dns_policy_and_restart_policy_are_enums() {
        let mut s = spec();
        s.dns_policy = Some("Cluster".into());
        s.restart_policy = None;
        assert_eq!(
            check(&s),
            [
                "spec.restartPolicy: Required value",
                r#"spec.dnsPolicy: Unsupported value: "Cluster": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#,
            ]
        );
    }

    #[test]
    fn dns_policy_none_needs_a_dns_config() {
        let mut s = spec();
        s.dns_policy = Some("None".into());
        assert_eq!(
            check(&s),
            ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"]
        );
    }

    #[test]
    fn grace_period_is_required_but_may_be_negative_in_a_template() {
        let mut s = spec();
        s.termination_grace_period_seconds = None;
        assert_eq!(check(&s), ["spec.terminationGracePeriodSeconds: Required value"]);
        s.termination_grace_period_seconds = Some(-1);
        assert!(check(&s).is_empty());
    }

    #[test]
    fn node_selector_and_service_account_names_are_checked() {
        let mut s = spec();
        s.node_selector = Some([("disk type".to_string(), "ssd".to_string())].into());
        s.service_account_name = Some("Agent".into());
        let msgs = check(&s);
        assert_eq!(msgs.len(), 2);
        assert!(
            msgs[0]
                .starts_with(r#"spec.nodeSelector: Invalid value: "disk type": name part must consist of"#)
        );
        assert!(msgs[1].starts_with(
            r#"spec.serviceAccountName: Invalid value: "Agent": a lowercase RFC 1123 subdomain"#
        ));
    }

    #[test]
    fn template_labels_are_reported_at_template_labels() {
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "not valid".to_string())].into()),
                annotations: Some([(POD_DELETION_COST_ANNOTATION.to_string(), "+5".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(spec()),
        };
        let errs = validate_pod_template_spec(&template, &FieldPath::new("spec").child("template"));
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(msgs.len(), 2);
        assert!(
            msgs[0].starts_with(r#"spec.template.labels: Invalid value: "not valid": a valid label must be"#)
        );
        assert_eq!(
            msgs[1],
            r#"spec.template.annotations[controller.kubernetes.io/pod-deletion-cost]: Invalid value: "+5": must be a 32bit integer"#
        );
    }

    #[test]
    fn active_deadline_must_be_positive_int32() {
        let mut s = spec();
        s.active_deadline_seconds = Some(0);
        assert_eq!(
            check(&s),
            ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]
        );
    }
}
