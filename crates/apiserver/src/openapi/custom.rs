//! Component schemas of custom resources, from their CRD version's `schema.openAPIV3Schema`.
//!
//! As upstream's apiextensions-apiserver does, the schema is named after the reversed group
//! (`stable.example.com`, `v1`, `CronTab` gives `com.example.stable.v1.CronTab`), its `metadata`
//! is replaced by a ref to `ObjectMeta` (a CRD may only constrain `name` and `generateName`, which
//! explain has no use for), `apiVersion` and `kind` are described, and the kind is tagged with
//! `x-kubernetes-group-version-kind` so kubectl can find it. A kind without a schema (or with a
//! malformed one) gets an object that preserves unknown fields, which is what the server accepts.

use serde_json::{Map, Value, json};

use super::builtin::{API_VERSION_DESCRIPTION, KIND_DESCRIPTION, OBJECT_META};
use super::group_version::GroupVersion;
use super::refs::described_ref;

/// The upstream `description` of an object's `metadata`.
const METADATA_DESCRIPTION: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The component name upstream gives a custom kind: the group's DNS labels reversed, then the
/// version and the kind.
pub fn schema_name(group_version: &GroupVersion, kind: &str) -> String {
    let mut labels: Vec<&str> = group_version.group.split('.').filter(|label| !label.is_empty()).collect();
    labels.reverse();
    labels.push(&group_version.version);
    labels.push(kind);
    labels.join(".")
}

/// The component schema of a custom kind, from its `openAPIV3Schema` if it has one.
pub fn kind_schema(group_version: &GroupVersion, kind: &str, openapi_v3_schema: Option<&Value>) -> Value {
    let mut schema = match openapi_v3_schema {
        Some(Value::Object(schema)) => schema.clone(),
        _ => preserve_unknown_fields(),
    };
    strip_refs(&mut schema);
    schema.entry("type").or_insert_with(|| json!("object"));
    let properties = schema.entry("properties").or_insert_with(|| json!({}));
    if let Value::Object(properties) = properties {
        properties
            .entry("apiVersion")
            .or_insert_with(|| json!({ "description": API_VERSION_DESCRIPTION, "type": "string" }));
        properties
            .entry("kind")
            .or_insert_with(|| json!({ "description": KIND_DESCRIPTION, "type": "string" }));
        properties.insert("metadata".into(), described_ref(OBJECT_META, METADATA_DESCRIPTION));
    }
    schema.insert("x-kubernetes-group-version-kind".into(), group_version.gvk_list(kind));
    Value::Object(schema)
}

fn preserve_unknown_fields() -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("x-kubernetes-preserve-unknown-fields".into(), json!(true));
    schema
}

/// Removes `$ref` keywords: CRD validation forbids them, so one can only be stray input, and a
/// ref that resolves nowhere in the document makes kubectl reject the whole group-version.
fn strip_refs(schema: &mut Map<String, Value>) {
    if schema.get("$ref").is_some_and(Value::is_string) {
        schema.remove("$ref");
    }
    for value in schema.values_mut() {
        strip_refs_in(value);
    }
}

fn strip_refs_in(value: &mut Value) {
    match value {
        Value::Object(map) => strip_refs(map),
        Value::Array(items) => items.iter_mut().for_each(strip_refs_in),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crontabs() -> GroupVersion {
        GroupVersion::new("stable.example.com", "v1")
    }

    #[test]
    fn names_reverse_the_group() {
        assert_eq!(schema_name(&crontabs(), "CronTab"), "com.example.stable.v1.CronTab");
    }

    #[test]
    fn crd_schemas_keep_their_fields_and_gain_object_meta_and_gvk() {
        let openapi_v3_schema = json!({
            "type": "object",
            "description": "A cron tab.",
            "properties": {
                "metadata": { "type": "object", "properties": { "name": { "maxLength": 20 } } },
                "spec": { "type": "object", "properties": { "cronSpec": { "type": "string", "description": "When." } } },
            },
        });
        let schema = kind_schema(&crontabs(), "CronTab", Some(&openapi_v3_schema));
        assert_eq!(schema["description"], "A cron tab.");
        assert_eq!(schema["properties"]["spec"]["properties"]["cronSpec"]["description"], "When.");
        assert_eq!(
            schema["properties"]["metadata"]["allOf"][0]["$ref"],
            format!("#/components/schemas/{OBJECT_META}")
        );
        assert_eq!(schema["properties"]["kind"]["type"], "string");
        assert_eq!(
            schema["x-kubernetes-group-version-kind"],
            json!([{ "group": "stable.example.com", "kind": "CronTab", "version": "v1" }])
        );
    }

    #[test]
    fn kinds_without_a_schema_preserve_unknown_fields() {
        let schema = kind_schema(&crontabs(), "CronTab", None);
        assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn stray_refs_are_dropped_but_properties_named_ref_stay() {
        let openapi_v3_schema = json!({
            "properties": {
                "a": { "$ref": "#/definitions/Elsewhere", "type": "string" },
                "$ref": { "type": "string" },
            },
        });
        let schema = kind_schema(&crontabs(), "CronTab", Some(&openapi_v3_schema));
        assert_eq!(schema["properties"]["a"], json!({ "type": "string" }));
        assert_eq!(schema["properties"]["$ref"], json!({ "type": "string" }));
    }
}
