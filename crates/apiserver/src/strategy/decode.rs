//! Decoding request bodies into a kind's shape: typed round trips and unknown-field detection.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A body decoded into a kind's shape.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// The object with only the kind's fields.
    pub object: Value,
    /// Paths (`spec.foo`) of fields the kind does not have, in document order.
    pub unknown_fields: Vec<String>,
}

/// Round-trips `object` through `K`, as the Kubernetes API server decodes into Go structs: fields
/// `K` lacks are dropped and reported, wrongly typed fields are a 400.
pub fn decode_typed<K: DeserializeOwned + Serialize>(
    object: Value,
    kind: &str,
    version: &str,
) -> ApiResult<Decoded> {
    // Decoding from a reference: no copy of the body first.
    let typed = K::deserialize(&object).map_err(|error| {
        ApiError::bad_request(format!(
            "{kind} in version \"{version}\" cannot be handled as a {kind}: {error}"
        ))
    })?;
    let mut decoded = serde_json::to_value(&typed)
        .map_err(|error| ApiError::internal(format!("cannot encode {kind}: {error}")))?;
    let mut unknown_fields = Vec::new();
    find_unknown(&object, &decoded, "", &mut unknown_fields);
    // Typed structs drop apiVersion/kind on some k8s-openapi versions; keep them as sent.
    if let (Value::Object(out), Value::Object(original)) = (&mut decoded, &object) {
        for key in ["apiVersion", "kind"] {
            if let Some(v) = original.get(key) {
                out.entry(key).or_insert_with(|| v.clone());
            }
        }
    }
    Ok(Decoded { object: decoded, unknown_fields })
}

/// Records the paths present (and not null) in `original` but missing from `decoded`.
fn find_unknown(original: &Value, decoded: &Value, path: &str, out: &mut Vec<String>) {
    match (original, decoded) {
        (Value::Object(orig), Value::Object(dec)) => {
            for (key, value) in orig {
                let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match dec.get(key) {
                    Some(inner) => find_unknown(value, inner, &child, out),
                    None if value.is_null() => {}
                    // An empty object or list can be dropped by typed encoding without loss.
                    None if is_empty_container(value) => {}
                    None => out.push(child),
                }
            }
        }
        (Value::Object(orig), _) => {
            // A typed field that is opaque (e.g. RawExtension) keeps what was sent; nothing unknown.
            let _ = orig;
        }
        (Value::Array(orig), Value::Array(dec)) => {
            for (i, (a, b)) in orig.iter().zip(dec).enumerate() {
                find_unknown(a, b, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn is_empty_container(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().all(|v| v.is_null() || is_empty_container(v)),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::ConfigMap;
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_dropped_and_reported_with_their_paths() {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "bogus": 1}, "data": {"a": "b"}, "spek": {}, "extra": "y"});
        let decoded = decode_typed::<ConfigMap>(body, "ConfigMap", "v1").unwrap();
        assert_eq!(decoded.unknown_fields, ["extra", "metadata.bogus"]);
        assert_eq!(decoded.object["data"]["a"], "b");
        assert!(decoded.object.get("extra").is_none());
    }

    #[test]
    fn wrongly_typed_fields_are_a_bad_request() {
        let body = json!({"metadata": {"name": "x"}, "data": {"a": 1}});
        let error = decode_typed::<ConfigMap>(body, "ConfigMap", "v1").unwrap_err();
        assert_eq!(error.code, 400);
        assert!(
            error.message.starts_with("ConfigMap in version \"v1\" cannot be handled as a ConfigMap"),
            "{}",
            error.message
        );
    }
}
