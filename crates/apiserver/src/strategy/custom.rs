//! CustomResourceDefinitions and the custom resources they define: CRD validation and status, and
//! structural-schema pruning plus basic type/required/enum validation for custom objects.

use everynode_api::validation::meta::{name_is_dns_subdomain, validate_dns1123_subdomain};
use everynode_api::{BadValue, ErrorList, FieldError, FieldPath};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use super::builtin::{validate_meta, validate_meta_update};
use super::{Decoded, Strategy, decode_typed};
use crate::error::{ApiError, ApiResult};

/// The CRD rules: names, versions, scope; the server accepts names at once and marks the CRD
/// Established, as upstream's controllers do within moments.
#[derive(Debug, Default)]
pub struct CrdStrategy;

fn validate_crd(object: &Value) -> ErrorList {
    let mut errs = validate_meta(object, false, name_is_dns_subdomain);
    let spec = FieldPath::new("spec");
    let group = object.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
    let plural = object.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
    let kind = object.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or_default();
    if group.is_empty() {
        errs.push(FieldError::required(&spec.child("group"), ""));
    } else {
        errs.extend(validate_dns1123_subdomain(group, &spec.child("group")));
        if !group.contains('.') {
            errs.push(FieldError::invalid(
                &spec.child("group"),
                BadValue::Str(group.into()),
                "should be a domain with at least one dot",
            ));
        }
    }
    if plural.is_empty() {
        errs.push(FieldError::required(&spec.child("names").child("plural"), ""));
    }
    if kind.is_empty() {
        errs.push(FieldError::required(&spec.child("names").child("kind"), ""));
    }
    let name = crate::meta::name(object);
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        errs.push(FieldError::invalid(
            &FieldPath::new("metadata").child("name"),
            BadValue::Str(name.into()),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    match object.pointer("/spec/scope").and_then(Value::as_str) {
        Some("Namespaced" | "Cluster") => {}
        other => errs.push(FieldError::not_supported(
            &spec.child("scope"),
            BadValue::Str(other.unwrap_or_default().into()),
            &["Cluster", "Namespaced"],
        )),
    }
    let versions = object.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            &spec.child("versions"),
            BadValue::Omit,
            "must have exactly one version marked as storage version",
        ));
    } else {
        let storage =
            versions.iter().filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true)).count();
        if storage != 1 {
            errs.push(FieldError::invalid(
                &spec.child("versions"),
                BadValue::Omit,
                "must have exactly one version marked as storage version",
            ));
        }
    }
    errs
}

fn crd_status(object: &Value) -> Value {
    let names = object.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let storage: Vec<Value> = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let now = crate::meta::timestamp(k8s_openapi::jiff::Timestamp::now());
    json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": storage,
    })
}

impl Strategy for CrdStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        decode_typed::<CustomResourceDefinition>(
            object,
            "CustomResourceDefinition",
            "apiextensions.k8s.io/v1",
        )
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        let errs = validate_crd(object);
        object["status"] = crd_status(object);
        errs
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = validate_crd(new);
        errs.extend(validate_meta_update(new, old, false, name_is_dns_subdomain));
        for field in ["group", "scope"] {
            if new.pointer(&format!("/spec/{field}")) != old.pointer(&format!("/spec/{field}")) {
                errs.push(FieldError::invalid(
                    &FieldPath::new("spec").child(field),
                    BadValue::Omit,
                    "field is immutable",
                ));
            }
        }
        new["status"] = crd_status(new);
        errs
    }
    fn tracks_generation(&self) -> bool {
        true
    }
}

/// A custom resource kind served from a CRD version.
#[derive(Debug, Clone)]
pub struct CustomStrategy {
    kind: String,
    namespaced: bool,
    /// `schema.openAPIV3Schema` of the served version.
    schema: Option<Value>,
}

impl CustomStrategy {
    /// The rules for `kind` with the version's schema.
    pub fn new(kind: &str, namespaced: bool, schema: Option<Value>) -> Self {
        CustomStrategy { kind: kind.to_owned(), namespaced, schema }
    }

    fn validate(&self, object: &Value) -> ErrorList {
        let mut errs = validate_meta(object, self.namespaced, name_is_dns_subdomain);
        if let (Some(schema), Value::Object(map)) = (&self.schema, object) {
            for (key, value) in map {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                if let Some(prop) = schema.pointer(&format!("/properties/{}", escape_pointer(key))) {
                    validate_value(value, prop, &FieldPath::new(key), &mut errs);
                }
            }
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = required.as_str()
                    && !matches!(name, "apiVersion" | "kind" | "metadata")
                    && map.get(name).is_none_or(Value::is_null)
                {
                    errs.push(FieldError::required(&FieldPath::new(name), ""));
                }
            }
        }
        errs
    }
}

impl Strategy for CustomStrategy {
    fn decode(&self, object: Value) -> ApiResult<Decoded> {
        let Value::Object(mut map) = object else {
            return Err(ApiError::bad_request(format!("{} must be a JSON object", self.kind)));
        };
        let mut unknown_fields = Vec::new();
        if let Some(schema) = &self.schema {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match child_schema(schema, &key) {
                    Some(child) => {
                        if let Some(value) = map.get_mut(&key) {
                            prune(value, child, &key, &mut unknown_fields);
                        }
                    }
                    None if preserves_unknown(schema) => {}
                    None => {
                        map.remove(&key);
                        unknown_fields.push(key);
                    }
                }
            }
        }
        Ok(Decoded { object: Value::Object(map), unknown_fields })
    }
    fn create(&self, object: &mut Value) -> ErrorList {
        self.validate(object)
    }
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(validate_meta_update(new, old, self.namespaced, name_is_dns_subdomain));
        errs
    }
    fn status_update(&self, new: &mut Value, old: &Value) -> ErrorList {
        let mut errs = self.validate(new);
        errs.extend(validate_meta_update(new, old, self.namespaced, name_is_dns_subdomain));
        errs
    }
    fn tracks_generation(&self) -> bool {
        true
    }
}

fn escape_pointer(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn preserves_unknown(schema: &Value) -> bool {
    schema.get("x-kubernetes-preserve-unknown-fields").and_then(Value::as_bool) == Some(true)
}

/// The schema of property `key` of an object schema: from `properties`, else
/// `additionalProperties` when it is a schema.
fn child_schema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    if let Some(prop) = schema.get("properties").and_then(|p| p.get(key)) {
        return Some(prop);
    }
    match schema.get("additionalProperties") {
        Some(additional @ Value::Object(_)) => Some(additional),
        _ => None,
    }
}

/// Drops fields the structural schema does not declare (upstream's pruning), recording them.
fn prune(value: &mut Value, schema: &Value, path: &str, unknown: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if schema.get("x-kubernetes-embedded-resource").and_then(Value::as_bool) == Some(true) {
                return;
            }
            let declares = schema.get("properties").is_some()
                || schema.get("additionalProperties").is_some_and(Value::is_object);
            if !declares {
                if !preserves_unknown(schema)
                    && schema.get("type").and_then(Value::as_str) == Some("object")
                    && schema.get("additionalProperties") != Some(&Value::Bool(true))
                {
                    let dropped: Vec<String> = map.keys().cloned().collect();
                    unknown.extend(dropped.iter().map(|k| format!("{path}.{k}")));
                    map.clear();
                }
                return;
            }
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                let child_path = format!("{path}.{key}");
                match child_schema(schema, &key) {
                    Some(child) => {
                        if let Some(v) = map.get_mut(&key) {
                            prune(v, child, &child_path, unknown);
                        }
                    }
                    None if preserves_unknown(schema) => {}
                    None => {
                        map.remove(&key);
                        unknown.push(child_path);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    prune(item, item_schema, &format!("{path}[{i}]"), unknown);
                }
            }
        }
        _ => {}
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn bad_value(value: &Value) -> BadValue {
    match value {
        Value::String(s) => BadValue::Str(s.clone()),
        Value::Null => BadValue::Null,
        Value::Bool(b) => BadValue::Bool(*b),
        Value::Number(n) if n.is_i64() => BadValue::Int(n.as_i64().unwrap_or_default()),
        other => BadValue::Rendered(other.to_string()),
    }
}

/// Type, enum and required checks, with upstream's messages
/// (`spec.replicas in body must be of type integer: "string"`).
fn validate_value(value: &Value, schema: &Value, path: &FieldPath, errs: &mut ErrorList) {
    if value.is_null() {
        if schema.get("nullable").and_then(Value::as_bool) != Some(true) && schema.get("type").is_some() {
            let expected = schema.get("type").and_then(Value::as_str).unwrap_or_default();
            errs.push(FieldError::invalid(
                path,
                BadValue::Str("null".into()),
                format!("{path} in body must be of type {expected}: \"null\""),
            ));
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let int_or_string = schema.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
            && matches!(actual, "integer" | "string");
        let ok = actual == expected || (expected == "number" && actual == "integer") || int_or_string;
        if !ok {
            errs.push(FieldError::invalid(
                path,
                BadValue::Str(actual.into()),
                format!("{} in body must be of type {expected}: \"{actual}\"", path.as_str()),
            ));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let names: Vec<String> =
            allowed.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        errs.push(FieldError::not_supported(path, bad_value(value), &names));
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if let Some(child_schema) = child_schema(schema, key) {
                    validate_value(child, child_schema, &path.child(key), errs);
                }
            }
            for required in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = required.as_str()
                    && map.get(name).is_none()
                {
                    errs.push(FieldError::required(&path.child(name), ""));
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_value(item, item_schema, &path.index(i), errs);
                }
            }
        }
        _ => {}
    }
}

/// The version entries of a CRD that are served: (version name, schema, has status subresource,
/// additionalPrinterColumns).
pub fn served_versions(crd: &Value) -> Vec<(String, Option<Value>, bool, Option<Value>)> {
    crd.pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v.get("served").and_then(Value::as_bool) != Some(false))
                .filter_map(|v| {
                    Some((
                        v.get("name")?.as_str()?.to_owned(),
                        v.pointer("/schema/openAPIV3Schema").cloned(),
                        v.pointer("/subresources/status").is_some(),
                        v.get("additionalPrinterColumns").cloned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "spec": {"type": "object", "required": ["image"], "properties": {
                "image": {"type": "string"}, "replicas": {"type": "integer"},
                "phase": {"type": "string", "enum": ["Pending", "Done"]},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }},
            "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
        }})
    }

    #[test]
    fn undeclared_fields_are_pruned_and_reported() {
        let strategy = CustomStrategy::new("Thing", true, Some(schema()));
        let body = json!({"apiVersion": "x.io/v1", "kind": "Thing", "metadata": {"name": "a"}, "spec": {"image": "i", "bogus": 1, "free": {"any": 2}}, "extra": true});
        let decoded = strategy.decode(body).unwrap();
        assert_eq!(decoded.unknown_fields, ["extra", "spec.bogus"]);
        assert_eq!(decoded.object["spec"]["free"]["any"], 2);
        assert!(decoded.object["spec"].get("bogus").is_none());
    }

    #[test]
    fn types_required_fields_and_enums_are_checked() {
        let strategy = CustomStrategy::new("Thing", true, Some(schema()));
        let mut object = json!({"metadata": {"name": "a", "namespace": "default"}, "spec": {"replicas": "three", "phase": "Lost"}});
        let errs = strategy.create(&mut object);
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["spec.phase", "spec.replicas", "spec.image"], "{errs:?}");
        assert!(errs[1].body().contains("must be of type integer"), "{}", errs[0].body());
    }

    #[test]
    fn crd_name_must_be_plural_dot_group() {
        let mut crd = json!({"metadata": {"name": "things.x.io"}, "spec": {"group": "x.io", "scope": "Namespaced",
            "names": {"plural": "widgets", "kind": "Widget"}, "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let errs = CrdStrategy.create(&mut crd);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].field, "metadata.name");
        assert_eq!(crd["status"]["conditions"][1]["type"], "Established");
    }
}
