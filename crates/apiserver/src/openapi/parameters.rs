//! The path and query parameters of operations, in the shapes upstream publishes.
//!
//! kubectl reads one of them: before `apply`, `create` or `replace` it looks for a query
//! parameter named `fieldValidation` on the PATCH operation of the kind; when present it skips its
//! own (OpenAPI v2, protobuf-only) schema validation and sends `fieldValidation=Strict` instead.
//! The rest document what the server accepts.

use serde_json::{Value, json};

fn query(name: &str, ty: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": ty } })
}

/// `{name}` in item paths.
pub fn name(kind: &str) -> Value {
    json!({
        "name": "name",
        "in": "path",
        "required": true,
        "description": format!("name of the {kind}"),
        "schema": { "type": "string" },
    })
}

/// `{namespace}` in namespaced paths.
pub fn namespace() -> Value {
    json!({
        "name": "namespace",
        "in": "path",
        "required": true,
        "description": "object name and auth scope, such as for teams and projects",
        "schema": { "type": "string" },
    })
}

/// `pretty`, accepted everywhere.
pub fn pretty() -> Value {
    query("pretty", "string", "If 'true', then the output is pretty printed.")
}

fn dry_run() -> Value {
    query(
        "dryRun",
        "string",
        "When present, modifications are validated but not persisted. The only valid value is All.",
    )
}

fn field_manager() -> Value {
    query(
        "fieldManager",
        "string",
        "The name of the actor making these changes, recorded in managedFields. Required for apply patches.",
    )
}

/// The parameter kubectl checks for to decide that the server validates fields itself.
pub fn field_validation() -> Value {
    query(
        "fieldValidation",
        "string",
        "How to treat unknown or duplicate fields in the request object: Ignore drops them silently, Warn drops them with a warning header, Strict fails the request with a BadRequest error naming them.",
    )
}

fn force() -> Value {
    query("force", "boolean", "Re-acquire fields owned by other managers. Only valid for apply patches.")
}

/// The parameters of create and replace operations.
pub fn write() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation()]
}

/// The parameters of patch operations.
pub fn patch() -> Vec<Value> {
    vec![dry_run(), field_manager(), field_validation(), force()]
}

/// The parameters of deletes of one object.
pub fn delete() -> Vec<Value> {
    vec![
        dry_run(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted; zero means immediately.",
        ),
        query(
            "ignoreStoreReadErrorWithClusterBreakingPotential",
            "boolean",
            "Delete objects that cannot be read from storage (corrupt or undecryptable) without finalizers or admission. Dangerous.",
        ),
        query(
            "orphanDependents",
            "boolean",
            "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection is performed: Orphan, Background or Foreground.",
        ),
    ]
}

fn list_filters() -> Vec<Value> {
    vec![
        query("continue", "string", "The continue token of a previous, paginated list call."),
        query(
            "fieldSelector",
            "string",
            "Restrict the returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "Restrict the returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "The maximum number of objects to return; the list metadata carries a continue token for the rest.",
        ),
        query("resourceVersion", "string", "The resource version the list or watch starts from."),
        query(
            "resourceVersionMatch",
            "string",
            "How resourceVersion applies to list calls: Exact or NotOlderThan.",
        ),
        query(
            "sendInitialEvents",
            "boolean",
            "With watch=true and resourceVersionMatch=NotOlderThan: first send the current objects as ADDED events, then a bookmark annotated k8s.io/initial-events-end.",
        ),
        query("timeoutSeconds", "integer", "Timeout for the list or watch call."),
    ]
}

/// The parameters of list (and watch) operations.
pub fn list() -> Vec<Value> {
    let mut parameters = vec![query(
        "allowWatchBookmarks",
        "boolean",
        "Ask for BOOKMARK watch events. Servers send them at their discretion.",
    )];
    parameters.extend(list_filters());
    parameters.push(query(
        "watch",
        "boolean",
        "Watch for changes to the described objects instead of listing them.",
    ));
    parameters
}

/// The parameters of deletes of a collection: a delete's, plus a list's filters.
pub fn delete_collection() -> Vec<Value> {
    let mut parameters = delete();
    parameters.extend(list_filters());
    parameters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(parameters: &[Value]) -> Vec<&str> {
        parameters.iter().filter_map(|parameter| parameter["name"].as_str()).collect()
    }

    #[test]
    fn writes_and_patches_accept_field_validation_in_the_query() {
        for parameters in [write(), patch()] {
            let field_validation = parameters.iter().find(|parameter| parameter["name"] == "fieldValidation");
            assert_eq!(field_validation.map(|parameter| &parameter["in"]), Some(&json!("query")));
        }
    }

    #[test]
    fn delete_collection_takes_list_filters_but_not_watch() {
        let parameters = delete_collection();
        let names = names(&parameters);
        assert!(names.contains(&"labelSelector") && names.contains(&"propagationPolicy"));
        assert!(!names.contains(&"watch"));
    }
}
