//! Pods: defaulting, validation, the fields an update may change, binding, and graceful deletion.

use everynode_api::defaults::default_pod_spec;
use everynode_api::validation::meta::name_is_dns_subdomain;
use everynode_api::validation::pod::validate_pod_spec;
use everynode_api::{ErrorList, FieldError, FieldPath};
use k8s_openapi::api::core::v1::{Pod, PodSpec};
use serde_json::{Value, json};

use super::builtin::{validate_meta, validate_meta_update};
use super::{Decoded, Strategy, decode_typed, pointer_str};
use crate::error::{ApiError, ApiResult};

/// `DefaultTerminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// The pod rules (`pkg/registry/core/pod/strategy.go`).
#[derive(Debug, Default)]
pub struct PodStrategy;

const POD_FIELDS: &[&str] = &[
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
];

fn spec(object: &Value) -> Option<PodSpec> {
    object.get("spec").cloned().and_then(|s| serde_json::from_value(s).ok())
}

/// The spec with the fields an update may change blanked out, to compare the rest.
fn frozen_part(spec: &Value) -> Value {
    let mut spec = spec.clone();
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
    }
    if let Some(s) = spec.as_object_mut() {
        s.remove("activeDeadlineSeconds");
        s.remove("tolerations");
        s.remove("terminationGracePeriodSeconds");
    }
    spec
}

impl Strategy for PodStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<Pod>(object, "Pod", "v1")
    }

    fn create(&self, object: &mut Value) -> ErrorList {
        let mut errs = validate_meta(object, true, name_is_dns_subdomain);
        let Some(mut pod_spec) = spec(object) else {
            errs.push(FieldError::required(&FieldPath::new("spec"), ""));
            return errs;
        };
        default_pod_spec(&mut pod_spec);
        if pod_spec.enable_service_links.is_none() {
            pod_spec.enable_service_links = Some(true);
        }
        if pod_spec.termination_grace_period_seconds.is_none() {
            pod_spec.termination_grace_period_seconds = Some(DEFAULT_GRACE_SECONDS);
        }
        errs.extend(validate_pod_spec(&pod_spec, &FieldPath::new("spec")));
        if let Ok(value) = serde_json::to_value(&pod_spec) {
            object["spec"] = value;
        }
        object["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        errs
    }

    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = validate_meta_update(new, old, true, name_is_dns_subdomain);
        let (new_spec, old_spec) = (
            new.get("spec").cloned().unwrap_or(Value::Null),
            old.get("spec").cloned().unwrap_or(Value::Null),
        );
        if frozen_part(&new_spec) != frozen_part(&old_spec) {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec"),
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
            ));
        }
        errs
    }

    fn status_update(&self, new: &mut Value, old: &Value) -> ErrorList {
        validate_meta_update(new, old, true, name_is_dns_subdomain)
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn field_labels(&self) -> &'static [&'static str] {
        POD_FIELDS
    }

    fn field_value(&self, object: &Value, label: &str) -> Option<String> {
        match label {
            "spec.hostNetwork" => Some(
                object.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false).to_string(),
            ),
            other => Some(pointer_str(object, &format!("/{}", other.replace('.', "/"))).unwrap_or_default()),
        }
    }
}

impl PodStrategy {
    /// How long a deleted pod may take to stop: the request's grace period, else the pod's own,
    /// and none for pods that never ran on a node or have finished (nothing to stop).
    pub fn grace_period(pod: &Value, requested: Option<i64>) -> i64 {
        let bound = pod.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let finished =
            matches!(pod.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        if !bound || finished {
            return 0;
        }
        requested
            .or_else(|| pod.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64))
            .unwrap_or(DEFAULT_GRACE_SECONDS)
            .max(0)
    }
}

/// Applies a `Binding` to a pod: sets `spec.nodeName` and the PodScheduled condition. A pod that
/// is already bound, or being deleted, cannot be bound again (409).
pub fn bind_pod(pod: &Value, binding: &Value, now: &str) -> ApiResult<Value> {
    let name = crate::meta::name(pod);
    let target = binding.pointer("/target/name").and_then(Value::as_str).unwrap_or_default();
    if target.is_empty() {
        return Err(ApiError::invalid(
            "",
            "Binding",
            name,
            &[FieldError::required(&FieldPath::new("target").child("name"), "")],
        ));
    }
    if crate::meta::is_deleting(pod) {
        return Err(ApiError::conflict(
            "",
            "pods/binding",
            name,
            &format!("pod {name} is being deleted, cannot be assigned to a host"),
        ));
    }
    if let Some(node) = pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
        return Err(ApiError::conflict(
            "",
            "pods/binding",
            name,
            &format!("pod {name} is already assigned to node \"{node}\""),
        ));
    }
    let mut pod = pod.clone();
    pod["spec"]["nodeName"] = json!(target);
    let condition =
        json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    let status = pod.as_object_mut().map(|o| o.entry("status").or_insert_with(|| json!({})));
    if let Some(Value::Object(status)) = status {
        let conditions = status.entry("conditions").or_insert_with(|| json!([]));
        if let Value::Array(conditions) = conditions {
            conditions.retain(|c| c.get("type").and_then(Value::as_str) != Some("PodScheduled"));
            conditions.push(condition);
        }
    }
    Ok(pod)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "namespace": "default"}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}})
    }

    #[test]
    fn created_pods_are_defaulted_and_pending() {
        let mut p = pod();
        let errs = PodStrategy.create(&mut p);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(p["status"]["phase"], "Pending");
        assert_eq!(p["spec"]["restartPolicy"], "Always");
        assert_eq!(p["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn updates_may_change_the_image_but_not_the_node_selector() {
        let mut old = pod();
        PodStrategy.create(&mut old);
        let mut image = old.clone();
        image["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        assert!(PodStrategy.update(&mut image, &old).is_empty());
        let mut selector = old.clone();
        selector["spec"]["nodeSelector"] = json!({"a": "b"});
        let errs = PodStrategy.update(&mut selector, &old);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].field, "spec");
    }

    #[test]
    fn binding_sets_the_node_once() {
        let p = pod();
        let bound =
            bind_pod(&p, &json!({"target": {"kind": "Node", "name": "n1"}}), "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(bound["spec"]["nodeName"], "n1");
        assert_eq!(bound["status"]["conditions"][0]["type"], "PodScheduled");
        let again = bind_pod(&bound, &json!({"target": {"name": "n2"}}), "2026-01-01T00:00:00Z").unwrap_err();
        assert_eq!(again.code, 409);
        assert!(again.message.contains("already assigned to node \"n1\""), "{}", again.message);
    }

    #[test]
    fn unbound_pods_have_no_grace_period() {
        let mut p = pod();
        assert_eq!(PodStrategy::grace_period(&p, Some(10)), 0);
        p["spec"]["nodeName"] = json!("n1");
        assert_eq!(PodStrategy::grace_period(&p, None), 30);
        assert_eq!(PodStrategy::grace_period(&p, Some(5)), 5);
        p["status"] = json!({"phase": "Failed"});
        assert_eq!(PodStrategy::grace_period(&p, None), 0);
    }
}
