//! One group-version's OpenAPI 3.0 document, assembled from the resources the registry serves
//! there: their operations under `paths`, and under `components.schemas` every schema those
//! operations reach, built-in or custom.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::Endpoint;
use super::builtin::{BuiltinSchemas, list_schema_for};
use super::custom;
use super::digest::hex_digest;
use super::group_version::GroupVersion;
use super::operations::{self, Resource, Subresource};
use super::refs::{closure, schema_names_in};

/// Create-only subresources whose body is a kind of its own, and that kind. Other subresources
/// (`scale`, `eviction`, `log`, ...) take kinds this server does not publish, so their operations
/// are left out rather than pointing at schemas the document lacks.
const CREATE_SUBRESOURCES: &[(&str, &str, &str, &str)] = &[("binding", "", "v1", "Binding")];

/// A finished document: its JSON value, its serialized bytes (what the server sends) and the
/// digest of those bytes (what the index puts in the URL).
#[derive(Debug, Clone)]
pub struct Document {
    value: Value,
    json: Vec<u8>,
    hash: String,
}

impl Document {
    fn new(value: Value) -> Self {
        let json = value.to_string().into_bytes();
        let hash = hex_digest(&json);
        Document { value, json, hash }
    }

    /// The document as JSON.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The document serialized, ready to send as `application/json`.
    pub fn json(&self) -> &[u8] {
        &self.json
    }

    /// The hex digest of [`Document::json`], as in the index's `?hash=`.
    pub fn hash(&self) -> &str {
        &self.hash
    }
}

/// Builds the document of `group_version` from its `endpoints` (all of which it serves).
pub fn build(builtin: &BuiltinSchemas, group_version: &GroupVersion, endpoints: &[&Endpoint]) -> Document {
    let mut custom_schemas = Map::new();
    let mut paths = BTreeMap::new();
    for endpoint in endpoints {
        let builtin_kind =
            builtin.kind(group_version, &endpoint.kind).filter(|_| endpoint.custom_schema.is_none());
        let (schema, list_schema, strategic_merge) = match builtin_kind {
            Some(kind) => (kind.schema.clone(), kind.list.as_ref().map(|(_, schema)| schema.clone()), true),
            None => {
                // Custom resources (and built-in endpoints this module has no schema for) use the
                // schema the endpoint brings, or one that accepts anything; patches of them are
                // never strategic, as upstream.
                let schema = custom::schema_name(group_version, &endpoint.kind);
                let list_kind = format!("{}List", endpoint.kind);
                let list_schema = format!("{schema}List");
                let kind_schema =
                    custom::kind_schema(group_version, &endpoint.kind, endpoint.custom_schema.as_ref());
                custom_schemas.insert(schema.clone(), kind_schema);
                custom_schemas.insert(
                    list_schema.clone(),
                    list_schema_for(group_version, &list_kind, &schema, &endpoint.kind),
                );
                (schema, Some(list_schema), false)
            }
        };
        let resource = Resource {
            group_version,
            kind: &endpoint.kind,
            plural: &endpoint.plural,
            namespaced: endpoint.namespaced,
            schema: &schema,
            list_schema: list_schema.as_deref(),
            strategic_merge,
            subresources: subresources(builtin, endpoint),
        };
        paths.extend(operations::paths(&resource));
    }
    let paths: Map<String, Value> = paths.into_iter().collect();
    let paths = Value::Object(paths);
    let schemas =
        closure(schema_names_in(&paths), |name| custom_schemas.get(name).or_else(|| builtin.schema(name)));
    Document::new(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "unversioned" },
        "paths": paths,
        "components": { "schemas": schemas },
    }))
}

fn subresources<'a>(builtin: &'a BuiltinSchemas, endpoint: &'a Endpoint) -> Vec<Subresource<'a>> {
    let mut subresources = Vec::new();
    for name in &endpoint.subresources {
        if name == "status" {
            subresources.push(Subresource::Status);
            continue;
        }
        let takes = CREATE_SUBRESOURCES.iter().find(|(subresource, ..)| subresource == name);
        if let Some((_, group, version, kind)) = takes {
            let group_version = GroupVersion::new(group, version);
            if let Some(kind) = builtin.kind(&group_version, kind) {
                subresources.push(Subresource::Create {
                    name,
                    group_version,
                    kind: kind.kind,
                    schema: &kind.schema,
                });
            }
        }
    }
    subresources
}
