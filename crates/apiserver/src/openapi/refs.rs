//! `$ref`s between component schemas: building them, following them, and checking that a
//! document's refs all resolve.
//!
//! A group-version document carries only the components its operations reach (as upstream's do),
//! so assembling one is a transitive closure over refs; and kubectl fails on a ref it cannot
//! resolve, so the same walk doubles as the checker the tests use.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// Where OpenAPI 3 documents keep named schemas.
pub const SCHEMA_REF_PREFIX: &str = "#/components/schemas/";

/// `{"$ref": "#/components/schemas/<name>"}`.
pub fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{SCHEMA_REF_PREFIX}{name}") })
}

/// A ref to `name` carrying a description: upstream wraps the ref in `allOf` because OpenAPI 3.0
/// ignores the siblings of a `$ref`, and kubectl's `explain` and patch code both understand it.
pub fn described_ref(name: &str, description: &str) -> Value {
    json!({ "allOf": [schema_ref(name)], "description": description })
}

/// Every `$ref` string in `value`, as written. Only string values count: a JSON Schema's
/// `properties` may legitimately name a field `$ref` (JSONSchemaProps does), whose value is a
/// schema object, not a reference.
pub fn refs_in(value: &Value) -> Vec<&str> {
    fn walk<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    match (key.as_str(), child) {
                        ("$ref", Value::String(target)) => out.push(target),
                        _ => walk(child, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut out);
    out
}

/// The component names `value` refers to (refs outside `#/components/schemas/` are skipped).
pub fn schema_names_in(value: &Value) -> BTreeSet<String> {
    refs_in(value)
        .into_iter()
        .filter_map(|target| target.strip_prefix(SCHEMA_REF_PREFIX))
        .map(str::to_owned)
        .collect()
}

/// The schemas reachable from `roots` through refs, looked up with `lookup`. Names `lookup` does
/// not know are left out; [`dangling_refs`] reports them on the finished document.
pub fn closure<'a>(
    roots: impl IntoIterator<Item = String>,
    lookup: impl Fn(&str) -> Option<&'a Value>,
) -> Map<String, Value> {
    let mut found = BTreeMap::new();
    let mut pending: Vec<String> = roots.into_iter().collect();
    while let Some(name) = pending.pop() {
        if found.contains_key(&name) {
            continue;
        }
        let Some(schema) = lookup(&name) else { continue };
        pending.extend(schema_names_in(schema).into_iter().filter(|next| !found.contains_key(next)));
        found.insert(name, schema.clone());
    }
    found.into_iter().collect()
}

/// The refs in an OpenAPI document that do not name one of its `components.schemas`.
pub fn dangling_refs(document: &Value) -> Vec<String> {
    let schemas = document.pointer("/components/schemas").and_then(Value::as_object);
    refs_in(document)
        .into_iter()
        .filter(|target| {
            let name = target.strip_prefix(SCHEMA_REF_PREFIX);
            !name.is_some_and(|name| schemas.is_some_and(|schemas| schemas.contains_key(name)))
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_in_skips_properties_named_ref() {
        let schema = json!({
            "properties": {
                "$ref": { "type": "string" },
                "child": { "$ref": "#/components/schemas/Child" },
            }
        });
        assert_eq!(refs_in(&schema), vec!["#/components/schemas/Child"]);
    }

    #[test]
    fn closure_follows_refs_transitively_and_survives_cycles() {
        let all: BTreeMap<String, Value> = [
            ("A".to_owned(), json!({ "properties": { "b": schema_ref("B") } })),
            ("B".to_owned(), json!({ "items": described_ref("A", "back to A") })),
            ("C".to_owned(), json!({ "type": "string" })),
        ]
        .into_iter()
        .collect();
        let found = closure(["A".to_owned()], |name| all.get(name));
        assert_eq!(found.keys().collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn dangling_refs_names_what_the_components_lack() {
        let document = json!({
            "paths": { "/x": { "get": { "schema": schema_ref("Missing") } } },
            "components": { "schemas": { "Present": { "items": schema_ref("Present") } } },
        });
        assert_eq!(dangling_refs(&document), vec!["#/components/schemas/Missing"]);
    }
}
