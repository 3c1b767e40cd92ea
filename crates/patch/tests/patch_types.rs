//! The JSON patch and JSON merge patch wrappers, dispatch by patch type, and the errors the API
//! server maps to status codes.

use everynode_patch::json::MAX_JSON_PATCH_OPERATIONS;
use everynode_patch::{PatchError, PatchType, Untyped, apply_patch};
use serde_json::{Value, json};

fn target() -> Value {
    json!({"metadata": {"name": "n1", "labels": {"a": "1"}}, "spec": {"taints": [{"key": "k"}]}})
}

fn apply(patch_type: PatchType, body: &str) -> Result<Value, PatchError> {
    apply_patch(&target(), body.as_bytes(), patch_type, &Untyped)
}

#[test]
fn json_patch_applies_operations_in_order() {
    let body = r#"[
        {"op": "test", "path": "/metadata/name", "value": "n1"},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/spec/taints/0/key", "value": "k2"},
        {"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"},
        {"op": "remove", "path": "/metadata/labels/a"}
    ]"#;
    assert_eq!(
        apply(PatchType::Json, body).ok(),
        Some(json!({
            "metadata": {"name": "n1", "labels": {"b": "2"}, "annotations": {"a": "1", "b": "2"}},
            "spec": {"taints": [{"key": "k2"}]},
        }))
    );
}

#[test]
fn failed_json_patch_test_names_the_operation_and_is_unprocessable() {
    let body = r#"[{"op": "add", "path": "/x", "value": 1}, {"op": "test", "path": "/metadata/name", "value": "other"}]"#;
    let err = apply(PatchType::Json, body).err();
    assert!(matches!(err, Some(PatchError::JsonPatch { operation: 1, .. })), "{err:?}");
    assert_eq!(err.map(|e| e.http_status()), Some(422));
}

#[test]
fn json_patch_on_a_missing_path_fails() {
    let err = apply(PatchType::Json, r#"[{"op": "remove", "path": "/spec/nope"}]"#).err();
    assert!(err.as_ref().is_some_and(|e| e.to_string().contains("/spec/nope")), "{err:?}");
}

#[test]
fn json_patch_must_be_a_list_of_operations() {
    for body in [r#"{"op": "add"}"#, r#"[{"op": "frobnicate", "path": "/a"}]"#, "not json"] {
        let err = apply(PatchType::Json, body).err();
        assert!(matches!(err, Some(PatchError::Malformed { .. })), "{body}: {err:?}");
        assert_eq!(err.map(|e| e.http_status()), Some(400), "{body}");
    }
}

#[test]
fn json_patch_operation_count_is_limited() {
    let op = r#"{"op": "test", "path": "/metadata/name", "value": "n1"}"#;
    let body = format!("[{}]", vec![op; MAX_JSON_PATCH_OPERATIONS + 1].join(","));
    let err = apply(PatchType::Json, &body).err();
    assert!(matches!(err, Some(PatchError::TooManyOperations { .. })), "{err:?}");
}

#[test]
fn json_patch_copies_cannot_blow_up_the_document() {
    // Each copy doubles /a; without a limit 64 operations would need 2^64 strings.
    let seed = r#"{"op": "add", "path": "/a", "value": ["xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]}"#;
    let double = r#"{"op": "copy", "from": "/a", "path": "/a/0"}"#;
    let body = format!("[{seed},{}]", vec![double; 64].join(","));
    let err = apply(PatchType::Json, &body).err();
    assert!(matches!(err, Some(PatchError::CopyLimitExceeded { .. })), "{err:?}");
}

#[test]
fn merge_patch_merges_maps_and_replaces_lists() {
    let body = r#"{"metadata": {"labels": {"a": null, "b": "2"}}, "spec": {"taints": []}}"#;
    assert_eq!(
        apply(PatchType::Merge, body).ok(),
        Some(json!({"metadata": {"name": "n1", "labels": {"b": "2"}}, "spec": {"taints": []}}))
    );
}

#[test]
fn merge_patch_must_be_an_object() {
    for body in ["[]", "\"x\"", "null"] {
        let err = apply(PatchType::Merge, body).err();
        assert!(matches!(err, Some(PatchError::NotAnObject { .. })), "{body}: {err:?}");
    }
    assert!(matches!(apply(PatchType::Merge, "{").err(), Some(PatchError::Malformed { .. })));
}

#[test]
fn strategic_merge_patch_body_must_be_a_json_object() {
    assert!(matches!(apply(PatchType::StrategicMerge, "[1]").err(), Some(PatchError::NotAnObject { .. })));
    assert!(matches!(apply(PatchType::StrategicMerge, "").err(), Some(PatchError::Malformed { .. })));
    assert_eq!(apply(PatchType::StrategicMerge, "null").ok(), Some(target()));
}

#[test]
fn strategic_merge_patch_needs_an_object_to_patch() {
    let err = apply_patch(&json!([1]), b"{}", PatchType::StrategicMerge, &Untyped).err();
    assert!(matches!(err, Some(PatchError::NotAnObject { what: "target object" })), "{err:?}");
}

#[test]
fn strategic_merge_patch_directive_misuse_is_a_bad_request() {
    let err = apply(PatchType::StrategicMerge, r#"{"metadata": {"$patch": "bogus"}}"#).err();
    assert_eq!(err.as_ref().map(PatchError::http_status), Some(400), "{err:?}");
    assert!(err.is_some_and(|e| e.to_string().starts_with("strategic merge patch at metadata:")));
}

#[test]
fn server_side_apply_is_not_supported_yet() {
    let err = apply(PatchType::Apply, "apiVersion: v1\nkind: Node\n").err();
    assert!(matches!(err, Some(PatchError::Unsupported(PatchType::Apply))), "{err:?}");
    assert_eq!(err.map(|e| e.http_status()), Some(415));
}
