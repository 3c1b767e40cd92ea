//! apps/v1 DaemonSets: defaulting, validation, template generation and the status subresource.

use everynode_api::ErrorList;
use everynode_api::defaults::default_daemonset;
use everynode_api::validation::daemonset::{
    validate_daemonset_as_sent, validate_daemonset_status_update, validate_daemonset_update_as_sent,
};
use k8s_openapi::api::apps::v1::DaemonSet;
use serde_json::Value;

use super::{Decoded, Strategy, decode_typed};
use crate::error::ApiResult;

/// apps/v1 stores the internal `spec.templateGeneration` in this annotation; the DaemonSet
/// controller labels pods with it (`pod-template-generation`).
const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

/// The DaemonSet rules (`pkg/registry/apps/daemonset/strategy.go`).
#[derive(Debug, Default)]
pub struct DaemonSetStrategy;

fn typed(object: &Value) -> Option<DaemonSet> {
    serde_json::from_value(object.clone()).ok()
}

/// Applies the defaults by round-tripping through the typed object; `decode` has already proven
/// the object decodes, so a failure here leaves it as it is (validation will then report it).
fn defaulted(object: &mut Value) {
    if let Some(mut ds) = typed(object)
        && let Ok(value) = {
            default_daemonset(&mut ds);
            serde_json::to_value(&ds)
        }
    {
        let (api_version, kind) = (object.get("apiVersion").cloned(), object.get("kind").cloned());
        *object = value;
        if let (Some(v), Some(k)) = (api_version, kind) {
            object["apiVersion"] = v;
            object["kind"] = k;
        }
    }
}

/// Whether the body has a `spec.selector` (null counts as missing, as in Go).
fn selector_sent(object: &Value) -> bool {
    object.pointer("/spec/selector").is_some_and(|s| !s.is_null())
}

fn template_generation(object: &Value) -> i64 {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TEMPLATE_GENERATION))
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn set_template_generation(object: &mut Value, generation: i64) {
    let meta = crate::meta::metadata_mut(object);
    let annotations = meta.entry("annotations").or_insert_with(|| serde_json::json!({}));
    if let Value::Object(annotations) = annotations {
        annotations.insert(TEMPLATE_GENERATION.into(), Value::String(generation.to_string()));
    }
}

impl Strategy for DaemonSetStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        // Upstream names the version alone: `DaemonSet in version "v1" cannot be handled ...`.
        let sent = selector_sent(&object);
        let mut decoded = decode_typed::<DaemonSet>(object, "DaemonSet", "v1")?;
        // The typed round trip writes a missing (required) selector as `{}`; keep it missing so
        // validation can tell the two apart, as upstream's nil pointer does.
        if !sent && let Some(spec) = decoded.object.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("selector");
        }
        Ok(decoded)
    }

    fn create(&self, object: &mut Value) -> ErrorList {
        let sent = selector_sent(object);
        defaulted(object);
        // Upstream resets the status to an empty DaemonSetStatus, whose counters are not omitempty.
        object["status"] = serde_json::json!({
            "currentNumberScheduled": 0,
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 0,
            "numberReady": 0,
        });
        if template_generation(object) < 1 {
            set_template_generation(object, 1);
        }
        match typed(object) {
            Some(ds) => validate_daemonset_as_sent(&ds, sent),
            None => Vec::new(),
        }
    }

    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let sent = selector_sent(new);
        defaulted(new);
        // The template generation is the server's: carried over, bumped when the template changes.
        let mut generation = template_generation(old).max(1);
        if new.pointer("/spec/template") != old.pointer("/spec/template") {
            generation += 1;
        }
        set_template_generation(new, generation);
        match (typed(new), typed(old)) {
            (Some(n), Some(o)) => validate_daemonset_update_as_sent(&n, &o, sent),
            _ => Vec::new(),
        }
    }

    fn status_update(&self, new: &mut Value, old: &Value) -> ErrorList {
        match (typed(new), typed(old)) {
            (Some(n), Some(o)) => validate_daemonset_status_update(&n, &o),
            _ => Vec::new(),
        }
    }

    fn tracks_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ds() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "x", "namespace": "default"},
            "spec": {
                "selector": {"matchLabels": {"app": "x"}},
                "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
            }
        })
    }

    #[test]
    fn create_defaults_the_strategy_and_starts_template_generation_at_one() {
        let mut object = ds();
        let errs = DaemonSetStrategy.create(&mut object);
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(object["spec"]["updateStrategy"]["type"], "RollingUpdate");
        assert_eq!(object["spec"]["revisionHistoryLimit"], 10);
        assert_eq!(object["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
    }

    #[test]
    fn template_changes_bump_the_template_generation() {
        let mut old = ds();
        DaemonSetStrategy.create(&mut old);
        let mut same = old.clone();
        assert!(DaemonSetStrategy.update(&mut same, &old).is_empty());
        assert_eq!(same["metadata"]["annotations"][TEMPLATE_GENERATION], "1");
        let mut changed = old.clone();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
        assert!(DaemonSetStrategy.update(&mut changed, &old).is_empty());
        assert_eq!(changed["metadata"]["annotations"][TEMPLATE_GENERATION], "2");
    }

    #[test]
    fn selector_that_does_not_match_the_template_is_invalid() {
        let mut object = ds();
        object["spec"]["template"]["metadata"]["labels"]["app"] = json!("y");
        let errs = DaemonSetStrategy.create(&mut object);
        assert!(errs.iter().any(|e| e.field == "spec.template.metadata.labels"), "{errs:?}");
    }
}
