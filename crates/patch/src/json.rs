//! RFC 6902 JSON patch and RFC 7396 JSON merge patch, applied with the `json-patch` crate behind
//! our error type and upstream's abuse limits.

use serde_json::Value;

use crate::error::{PatchError, Result};

/// Upstream's limit on JSON patch operations (`maxJSONPatchOperations` in the apiserver).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// How much data all `copy` operations of one patch may copy, in approximate bytes. Upstream caps
/// the accumulated copy size too (`AccumulatedCopySizeLimit`, a multiple of the request size
/// limit); without a cap, a few hundred bytes of `copy` operations double the document each time.
pub const MAX_JSON_PATCH_COPY_BYTES: usize = 9 * 1024 * 1024;

/// Applies an RFC 6902 JSON patch (a JSON array of operations) to a copy of `target`.
///
/// Operations apply in order and all-or-nothing: on the first failure the error names the
/// operation and `target` is untouched.
pub fn apply_json_patch(target: &Value, patch: &[u8]) -> Result<Value> {
    let operations: json_patch::Patch = serde_json::from_slice(patch)
        .map_err(|source| PatchError::Malformed { format: "JSON patch", source })?;
    if operations.0.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            count: operations.0.len(),
            limit: MAX_JSON_PATCH_OPERATIONS,
        });
    }
    let mut doc = target.clone();
    let mut copied = 0usize;
    for (index, operation) in operations.0.iter().enumerate() {
        if let json_patch::PatchOperation::Copy(copy) = operation {
            // A missing `from` is reported by the crate below; only measure what exists.
            copied = copied.saturating_add(doc.pointer(copy.from.as_str()).map_or(0, approx_size));
            if copied > MAX_JSON_PATCH_COPY_BYTES {
                return Err(PatchError::CopyLimitExceeded { limit: MAX_JSON_PATCH_COPY_BYTES });
            }
        }
        // One operation at a time, on our own copy: the crate's all-or-nothing `patch` undoes
        // failed patches itself (and panics if the undo fails); we simply drop `doc` instead.
        json_patch::patch_unsafe(&mut doc, std::slice::from_ref(operation)).map_err(|source| {
            PatchError::JsonPatch {
                operation: index,
                path: source.path.to_string(),
                reason: source.kind.to_string(),
                source,
            }
        })?;
    }
    Ok(doc)
}

/// Applies an RFC 7396 JSON merge patch to a copy of `target`: objects merge key by key, `null`
/// deletes, everything else (lists included) replaces.
///
/// The patch must be an object: a merge patch that replaces a whole API object with a string or
/// a list is always a mistake, and upstream rejects it too.
pub fn apply_merge_patch(target: &Value, patch: &[u8]) -> Result<Value> {
    let patch: Value = serde_json::from_slice(patch)
        .map_err(|source| PatchError::Malformed { format: "JSON merge patch", source })?;
    if !patch.is_object() {
        return Err(PatchError::NotAnObject { what: "patch" });
    }
    let mut doc = target.clone();
    json_patch::merge(&mut doc, &patch);
    Ok(doc)
}

/// Roughly how many bytes `value` takes as JSON, counted without recursion (documents built by
/// JSON patch can be deeper than any parser would allow).
fn approx_size(value: &Value) -> usize {
    let mut size = 0usize;
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        size = size.saturating_add(match value {
            Value::Null | Value::Bool(_) => 5,
            Value::Number(_) => 8,
            Value::String(s) => s.len() + 2,
            Value::Array(items) => {
                pending.extend(items);
                2 + items.len()
            }
            Value::Object(map) => {
                pending.extend(map.values());
                2 + map.keys().map(|k| k.len() + 4).sum::<usize>()
            }
        });
    }
    size
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn approx_size_counts_nested_strings() {
        assert!(approx_size(&json!({"a": ["xxxxxxxxxx"]})) >= 10);
    }
}
