//! DaemonSet validation scenarios, named after upstream's `TestValidateDaemonSet*` cases where
//! one exists. Each builds a valid, defaulted DaemonSet and breaks one thing.

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EphemeralContainer, PodSpec, PodTemplateSpec, Toleration, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::*;
use crate::defaults::default_daemonset;
use crate::validation::message::invalid_message;

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// A minimal valid DaemonSet, defaulted as the API server would store it.
fn ds() -> DaemonSet {
    let mut ds = DaemonSet {
        metadata: ObjectMeta {
            name: Some("fluentd".into()),
            namespace: Some("kube-system".into()),
            ..Default::default()
        },
        spec: DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels(&[("app", "fluentd")])),
                match_expressions: None,
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[("app", "fluentd")])),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "fluentd".into(),
                        image: Some("fluentd:v1.16".into()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        status: None,
    };
    default_daemonset(&mut ds);
    ds
}

fn pod(ds: &mut DaemonSet) -> &mut PodSpec {
    ds.spec.template.spec.get_or_insert_with(PodSpec::default)
}

fn rolling(ds: &mut DaemonSet, max_unavailable: IntOrString, max_surge: IntOrString) {
    ds.spec.update_strategy = Some(DaemonSetUpdateStrategy {
        type_: Some("RollingUpdate".into()),
        rolling_update: Some(RollingUpdateDaemonSet {
            max_unavailable: Some(max_unavailable),
            max_surge: Some(max_surge),
        }),
    });
}

fn messages(errs: &ErrorList) -> Vec<String> {
    errs.iter().map(|e| e.to_string()).collect()
}

fn check(ds: &DaemonSet) -> Vec<String> {
    messages(&validate_daemonset(ds))
}

#[test]
fn valid_defaulted_daemonset_has_no_errors() {
    assert_eq!(check(&ds()), Vec::<String>::new());
    let mut on_delete = ds();
    on_delete.spec.update_strategy =
        Some(DaemonSetUpdateStrategy { type_: Some("OnDelete".into()), rolling_update: None });
    assert_eq!(check(&on_delete), Vec::<String>::new());
}

#[test]
fn daemonset_with_selector_not_matching_template_labels_is_invalid() {
    let mut d = ds();
    d.spec.template.metadata =
        Some(ObjectMeta { labels: Some(labels(&[("app", "other")])), ..Default::default() });
    assert_eq!(
        check(&d),
        [
            r#"spec.template.metadata.labels: Invalid value: {"app":"other"}: `selector` does not match template `labels`"#
        ]
    );
    d.spec.template.metadata = None;
    assert_eq!(
        check(&d),
        ["spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`"]
    );
}

#[test]
fn selector_expressions_must_match_template_labels_too() {
    let mut d = ds();
    d.spec.selector.match_expressions = Some(vec![LabelSelectorRequirement {
        key: "tier".into(),
        operator: "In".into(),
        values: Some(vec!["node".into()]),
    }]);
    assert_eq!(check(&d).len(), 1);
    pod(&mut d);
    d.spec.template.metadata.get_or_insert_with(Default::default).labels =
        Some(labels(&[("app", "fluentd"), ("tier", "node")]));
    assert_eq!(check(&d), Vec::<String>::new());
}

#[test]
fn missing_selector_matches_nothing_as_upstream_nil_selectors_do() {
    let mut d = ds();
    d.spec.selector = LabelSelector::default();
    assert_eq!(
        invalid_message("DaemonSet", "fluentd", &validate_daemonset(&d)),
        r#"The DaemonSet "fluentd" is invalid: spec.template.metadata.labels: Invalid value: {"app":"fluentd"}: `selector` does not match template `labels`"#
    );
}

#[test]
fn selector_sent_as_an_empty_object_is_the_empty_selector_error() {
    let mut d = ds();
    d.spec.selector = LabelSelector::default();
    let msgs: Vec<String> =
        super::validate_daemonset_as_sent(&d, true).iter().map(ToString::to_string).collect();
    assert_eq!(msgs, ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]);
}

#[test]
fn empty_selector_is_invalid_for_daemonset() {
    let mut d = ds();
    d.spec.selector = LabelSelector { match_labels: Some(Default::default()), match_expressions: None };
    assert_eq!(check(&d), ["spec.selector: Invalid value: {}: empty selector is invalid for daemonset"]);
}

#[test]
fn selector_label_values_are_validated() {
    let mut d = ds();
    d.spec.selector.match_labels = Some(labels(&[("app", "flu entd")]));
    let msgs = check(&d);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(
        msgs[0].starts_with(r#"spec.selector.matchLabels: Invalid value: "flu entd": a valid label must be"#)
    );
}

#[test]
fn restart_policy_must_be_always() {
    let mut d = ds();
    pod(&mut d).restart_policy = Some("Never".into());
    assert_eq!(
        check(&d),
        [r#"spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always""#]
    );
    pod(&mut d).restart_policy = Some("Sometimes".into());
    assert_eq!(
        check(&d),
        [
            r#"spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#,
            r#"spec.template.spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always""#,
        ]
    );
}

#[test]
fn active_deadline_seconds_is_forbidden() {
    let mut d = ds();
    pod(&mut d).active_deadline_seconds = Some(60);
    assert_eq!(
        check(&d),
        [
            "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in DaemonSet is not Supported"
        ]
    );
}

#[test]
fn negative_min_ready_seconds_and_revision_history_limit_are_invalid() {
    let mut d = ds();
    d.spec.min_ready_seconds = Some(-1);
    d.spec.revision_history_limit = Some(-2);
    assert_eq!(
        check(&d),
        [
            "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0",
            "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0",
        ]
    );
    d.spec.revision_history_limit = Some(0);
    d.spec.min_ready_seconds = Some(0);
    assert_eq!(check(&d), Vec::<String>::new());
}

#[test]
fn unknown_update_strategy_is_not_supported() {
    let mut d = ds();
    d.spec.update_strategy =
        Some(DaemonSetUpdateStrategy { type_: Some("Recreate".into()), rolling_update: None });
    assert_eq!(
        check(&d),
        [
            r#"spec.updateStrategy: Unsupported value: {"Type":"Recreate","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete""#
        ]
    );
}

#[test]
fn rolling_update_strategy_requires_rolling_update() {
    let mut d = ds();
    d.spec.update_strategy =
        Some(DaemonSetUpdateStrategy { type_: Some("RollingUpdate".into()), rolling_update: None });
    assert_eq!(check(&d), ["spec.updateStrategy.rollingUpdate: Required value"]);
}

#[test]
fn max_unavailable_must_be_a_percentage_or_non_negative_int() {
    let mut d = ds();
    rolling(&mut d, IntOrString::String("50".into()), IntOrString::Int(0));
    assert_eq!(
        check(&d),
        [
            r#"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "50": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"#
        ]
    );
    rolling(&mut d, IntOrString::Int(-1), IntOrString::Int(0));
    assert_eq!(
        check(&d),
        [
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: -1: must be greater than or equal to 0"
        ]
    );
}

#[test]
fn max_unavailable_may_not_exceed_100_percent() {
    let mut d = ds();
    rolling(&mut d, IntOrString::String("150%".into()), IntOrString::Int(0));
    assert_eq!(
        check(&d),
        [
            r#"spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "150%": must not be greater than 100%"#
        ]
    );
}

#[test]
fn max_surge_may_not_be_set_when_max_unavailable_is_non_zero() {
    let mut d = ds();
    rolling(&mut d, IntOrString::Int(1), IntOrString::String("10%".into()));
    assert_eq!(
        check(&d),
        [
            r#"spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: "10%": may not be set when maxUnavailable is non-zero"#
        ]
    );
}

#[test]
fn max_unavailable_cannot_be_0_when_max_surge_is_0() {
    let mut d = ds();
    rolling(&mut d, IntOrString::String("0%".into()), IntOrString::Int(0));
    assert_eq!(
        check(&d),
        ["spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0"]
    );
}

#[test]
fn surge_with_zero_unavailable_is_valid() {
    let mut d = ds();
    rolling(&mut d, IntOrString::Int(0), IntOrString::String("20%".into()));
    assert_eq!(check(&d), Vec::<String>::new());
}

#[test]
fn metadata_name_must_be_a_dns_subdomain() {
    let mut d = ds();
    d.metadata.name = Some("Fluentd".into());
    let msgs = check(&d);
    assert_eq!(msgs.len(), 1);
    assert!(
        msgs[0].starts_with(r#"metadata.name: Invalid value: "Fluentd": a lowercase RFC 1123 subdomain"#)
    );
    d.metadata.name = None;
    assert_eq!(check(&d), ["metadata.name: Required value: name or generateName is required"]);
}

#[test]
fn pod_template_errors_carry_full_field_paths() {
    let mut d = ds();
    let p = pod(&mut d);
    p.containers[0].image = None;
    p.containers[0].ports =
        Some(vec![ContainerPort { container_port: 0, protocol: Some("TCP".into()), ..Default::default() }]);
    p.containers[0].volume_mounts = Some(vec![VolumeMount {
        name: "varlog".into(),
        mount_path: "/var/log".into(),
        ..Default::default()
    }]);
    p.tolerations = Some(vec![Toleration {
        operator: Some("Exists".into()),
        value: Some("x".into()),
        ..Default::default()
    }]);
    assert_eq!(
        check(&d),
        [
            "spec.template.spec.containers[0].image: Required value",
            "spec.template.spec.containers[0].ports[0].containerPort: Required value",
            r#"spec.template.spec.containers[0].volumeMounts[0].name: Not found: "varlog""#,
            r#"spec.template.spec.tolerations[0].operator: Invalid value: "x": value must be empty when `operator` is 'Exists'"#,
        ]
    );
}

#[test]
fn template_without_containers_is_invalid() {
    let mut d = ds();
    pod(&mut d).containers.clear();
    assert_eq!(check(&d), ["spec.template.spec.containers: Required value"]);
}

#[test]
fn host_network_template_ports_must_match() {
    let mut d = ds();
    let p = pod(&mut d);
    p.host_network = Some(true);
    p.containers[0].ports = Some(vec![ContainerPort {
        container_port: 9100,
        host_port: Some(9200),
        protocol: Some("TCP".into()),
        ..Default::default()
    }]);
    assert_eq!(
        check(&d),
        [
            "spec.template.spec.containers[0].ports[0].hostPort: Invalid value: 9200: must match `containerPort` when `hostNetwork` is true"
        ]
    );
}

#[test]
fn ephemeral_containers_are_not_allowed_in_a_template() {
    let mut d = ds();
    pod(&mut d).ephemeral_containers =
        Some(vec![EphemeralContainer { name: "debug".into(), ..Default::default() }]);
    assert_eq!(
        check(&d),
        [
            "spec.template.spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template"
        ]
    );
}

#[test]
fn undefaulted_daemonset_is_reported_not_panicked_on() {
    let msgs = check(&DaemonSet::default());
    for expected in [
        "metadata.name: Required value: name or generateName is required",
        "metadata.namespace: Required value",
        "spec.template.metadata.labels: Invalid value: null: `selector` does not match template `labels`",
        "spec.template.spec.terminationGracePeriodSeconds: Required value",
        "spec.template.spec.containers: Required value",
        "spec.template.spec.restartPolicy: Required value",
        "spec.template.spec.dnsPolicy: Required value",
        r#"spec.template.spec.restartPolicy: Unsupported value: "": supported values: "Always""#,
        r#"spec.updateStrategy: Unsupported value: {"Type":"","RollingUpdate":null}: supported values: "RollingUpdate", "OnDelete""#,
    ] {
        assert!(msgs.iter().any(|m| m == expected), "missing {expected:?} in {msgs:#?}");
    }
}

#[test]
fn several_errors_aggregate_into_one_kubectl_line() {
    let mut d = ds();
    d.spec.min_ready_seconds = Some(-1);
    pod(&mut d).restart_policy = Some("Never".into());
    assert_eq!(
        invalid_message("DaemonSet", "fluentd", &validate_daemonset(&d)),
        r#"The DaemonSet "fluentd" is invalid: [spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always", spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0]"#
    );
}

#[test]
fn selector_is_immutable_on_update() {
    let old = ds();
    let mut new = ds();
    new.spec.selector.match_labels = Some(labels(&[("app", "fluentd"), ("tier", "node")]));
    new.spec.template.metadata.get_or_insert_with(Default::default).labels =
        Some(labels(&[("app", "fluentd"), ("tier", "node")]));
    assert_eq!(
        messages(&validate_daemonset_update(&new, &old)),
        [
            r#"spec.selector: Invalid value: {"matchLabels":{"app":"fluentd","tier":"node"}}: field is immutable"#
        ]
    );
}

#[test]
fn absent_and_empty_selector_parts_are_semantically_equal_on_update() {
    let old = ds();
    let mut new = ds();
    new.spec.selector.match_expressions = Some(Vec::new());
    assert_eq!(messages(&validate_daemonset_update(&new, &old)), Vec::<String>::new());
}

#[test]
fn update_revalidates_the_spec_and_keeps_identity() {
    let old = ds();
    let mut new = ds();
    new.metadata.namespace = Some("default".into());
    rolling(&mut new, IntOrString::Int(0), IntOrString::Int(0));
    assert_eq!(
        messages(&validate_daemonset_update(&new, &old)),
        [
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when maxSurge is 0",
            r#"metadata.namespace: Invalid value: "default": field is immutable"#,
        ]
    );
}

#[test]
fn status_counters_must_not_be_negative() {
    let old = ds();
    let mut new = ds();
    new.status = Some(DaemonSetStatus {
        number_ready: -1,
        observed_generation: Some(-3),
        number_unavailable: Some(-2),
        ..Default::default()
    });
    assert_eq!(
        messages(&validate_daemonset_status_update(&new, &old)),
        [
            "status.numberReady: Invalid value: -1: must be greater than or equal to 0",
            "status.observedGeneration: Invalid value: -3: must be greater than or equal to 0",
            "status.numberUnavailable: Invalid value: -2: must be greater than or equal to 0",
        ]
    );
}

#[test]
fn status_collision_count_cannot_be_decremented() {
    let mut old = ds();
    old.status = Some(DaemonSetStatus { collision_count: Some(2), ..Default::default() });
    let mut new = ds();
    new.status = Some(DaemonSetStatus { collision_count: Some(1), ..Default::default() });
    assert_eq!(
        messages(&validate_daemonset_status_update(&new, &old)),
        ["status.collisionCount: Invalid value: 1: cannot be decremented"]
    );
    new.status = None;
    assert_eq!(
        messages(&validate_daemonset_status_update(&new, &old)),
        ["status.collisionCount: Invalid value: 0: cannot be decremented"]
    );
}

#[test]
fn status_update_does_not_validate_the_spec() {
    let old = ds();
    let mut new = ds();
    new.spec.min_ready_seconds = Some(-5);
    new.status = Some(DaemonSetStatus { desired_number_scheduled: 3, number_ready: 3, ..Default::default() });
    assert_eq!(messages(&validate_daemonset_status_update(&new, &old)), Vec::<String>::new());
}
