//! Reading and writing `metadata` fields of objects held as JSON.

use serde_json::{Map, Value};

/// `metadata`, created empty if missing (or replaced if it is not an object).
pub fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    let Value::Object(root) = object else { unreachable!("made an object above") };
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    match meta {
        Value::Object(map) => map,
        _ => unreachable!("made an object above"),
    }
}

/// A string field of `metadata`.
pub fn str_field<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get("metadata")?.get(field)?.as_str()
}

/// `metadata.name`, or "".
pub fn name(object: &Value) -> &str {
    str_field(object, "name").unwrap_or_default()
}

/// `metadata.namespace`, or "".
pub fn namespace(object: &Value) -> &str {
    str_field(object, "namespace").unwrap_or_default()
}

/// `metadata.uid`, or "".
pub fn uid(object: &Value) -> &str {
    str_field(object, "uid").unwrap_or_default()
}

/// Whether `metadata.deletionTimestamp` is set.
pub fn is_deleting(object: &Value) -> bool {
    object.get("metadata").and_then(|m| m.get("deletionTimestamp")).is_some_and(|v| !v.is_null())
}

/// `metadata.finalizers`.
pub fn finalizers(object: &Value) -> Vec<String> {
    object
        .get("metadata")
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Replaces `metadata.finalizers`, dropping the field when empty.
pub fn set_finalizers(object: &mut Value, finalizers: &[String]) {
    let meta = metadata_mut(object);
    if finalizers.is_empty() {
        meta.remove("finalizers");
    } else {
        meta.insert("finalizers".into(), Value::from(finalizers.to_vec()));
    }
}

/// `metadata.labels` as string pairs (non-string values are ignored).
pub fn labels(object: &Value) -> std::collections::BTreeMap<String, String> {
    object
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|map| map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default()
}

/// `metadata.ownerReferences` as (uid, kind, name, controller, blockOwnerDeletion) views.
pub fn owner_references(object: &Value) -> Vec<&Value> {
    object
        .get("metadata")
        .and_then(|m| m.get("ownerReferences"))
        .and_then(Value::as_array)
        .map(|refs| refs.iter().collect())
        .unwrap_or_default()
}

/// The object without `metadata` and `status`, to tell whether a write changed its desired state
/// (which bumps `metadata.generation`).
pub fn desired_state(object: &Value) -> Value {
    match object {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// An RFC 3339 timestamp with second precision, as Kubernetes writes `metav1.Time`.
pub fn timestamp(now: k8s_openapi::jiff::Timestamp) -> String {
    now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
