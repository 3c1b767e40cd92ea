//! Strategic merge patch (`application/strategic-merge-patch+json`), applied as upstream's
//! `StrategicMergeMapPatch` in k8s.io/apimachinery/pkg/util/strategicpatch/patch.go does on the
//! server: parallel lists (`$deleteFromPrimitiveList`, `$setElementOrder`) are merged, and nulls
//! for fields the target lacks are dropped.
//!
//! Deliberate differences from upstream, each so that no directive ever reaches a result and no
//! input can panic:
//! - A patch value for a field the target lacks (or holds as `null`), a replaced map or list, an
//!   appended list element: upstream copies these verbatim, directives and all, and relies on
//!   typed decoding to drop unknown `$` fields. We merge them into an empty value of their kind,
//!   so their directives apply (a `$patch: delete` element is simply not added).
//! - `$patch: merge` is accepted as the explicit default (upstream rejects it).
//! - `$deleteFromPrimitiveList` on a missing field deletes nothing (upstream stores the deletion
//!   list as the field), and one that is not a list, or aims at a list that is not a merging list
//!   of primitives, is an error (upstream replaces or merges with it).
//! - `null` elements and non-comparable merge keys give errors or non-matches where Go panics.
//! - Deletion lists apply after the other fields of their map; Go visits them in random order.
//! - `$setElementOrder` over lists that are both empty is a no-op rather than an error.

mod directives;
mod list;
mod merge;
mod order;

use serde_json::Value;

pub use directives::is_directive_key;

use crate::error::{PatchError, Result, StrategicError};
use crate::schema::{FieldMeta, Schema};

/// Applies the strategic merge patch `patch` to a copy of `target`, with field metadata from
/// `schema`. Both must be JSON objects (a `null` patch changes nothing).
///
/// The merge recurses as deep as the patch is nested; patches parsed by `serde_json` from bytes
/// (as [`crate::apply_patch`] does) are at most 128 levels deep.
pub fn apply_strategic_merge_patch(target: &Value, patch: Value, schema: &dyn Schema) -> Result<Value> {
    let Value::Object(original) = target else {
        return Err(PatchError::NotAnObject { what: "target object" });
    };
    let patch = match patch {
        Value::Object(patch) => patch,
        Value::Null => return Ok(target.clone()),
        _ => return Err(PatchError::NotAnObject { what: "patch" }),
    };
    let mut merger = Merger { schema, path: Vec::new() };
    merger.merge_map(original.clone(), patch).map(Value::Object)
}

/// The state of one merge: the schema and the path of the field being merged, which is both the
/// schema lookup key and the location named in errors.
struct Merger<'s> {
    schema: &'s dyn Schema,
    path: Vec<String>,
}

impl Merger<'_> {
    /// The metadata of `field` of the map being merged.
    fn meta(&self, field: &str) -> FieldMeta {
        let mut path: Vec<&str> = self.path.iter().map(String::as_str).collect();
        path.push(field);
        self.schema.field(&path)
    }

    /// Runs `merge` with `field` appended to the path.
    fn descend<T>(&mut self, field: &str, merge: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.path.push(field.to_owned());
        let result = merge(self);
        self.path.pop();
        result
    }

    /// An error located at the current path.
    fn error(&self, source: StrategicError) -> PatchError {
        let path = if self.path.is_empty() { "the object root".to_owned() } else { self.path.join(".") };
        PatchError::Strategic { path, source }
    }
}
