//! Applies the bodies of Kubernetes PATCH requests to JSON objects, as pure functions.
//!
//! The API server reads the `Content-Type` ([`PatchType::from_content_type`]), picks the
//! [`Schema`] of the object's kind ([`KindSchema`]) and calls [`apply_patch`] on the stored
//! object; validation, defaulting and storage happen afterwards, in their own crates. Three
//! formats are implemented:
//! - JSON patch (RFC 6902) and JSON merge patch (RFC 7396), through the `json-patch` crate;
//! - strategic merge patch, after upstream's `k8s.io/apimachinery/pkg/util/strategicpatch`:
//!   lists merge by the merge keys of the Kubernetes types, and the `$patch`, `$retainKeys`,
//!   `$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` directives are honoured
//!   and never copied into the result.
//!
//! Server-side apply is recognised and refused with [`PatchError::Unsupported`].

pub mod error;
pub mod json;
pub mod patch_type;
pub mod schema;
pub mod strategic;

use serde_json::Value;

pub use error::{PatchError, Result, StrategicError};
pub use json::{apply_json_patch, apply_merge_patch};
pub use patch_type::PatchType;
pub use schema::{FieldMeta, KindSchema, PatchStrategy, Schema, Untyped};
pub use strategic::{apply_strategic_merge_patch, is_directive_key};

/// Applies `patch` (the raw request body) of type `patch_type` to a copy of `target`.
///
/// `schema` supplies merge keys and strategies for strategic merge patches and is ignored by the
/// other formats. The result is not validated: it may, for instance, change immutable fields.
pub fn apply_patch(
    target: &Value,
    patch: &[u8],
    patch_type: PatchType,
    schema: &dyn Schema,
) -> Result<Value> {
    match patch_type {
        PatchType::Json => apply_json_patch(target, patch),
        PatchType::Merge => apply_merge_patch(target, patch),
        PatchType::StrategicMerge => {
            let patch: Value = serde_json::from_slice(patch)
                .map_err(|source| PatchError::Malformed { format: "strategic merge patch", source })?;
            apply_strategic_merge_patch(target, patch, schema)
        }
        PatchType::Apply => Err(PatchError::Unsupported(PatchType::Apply)),
    }
}

/// [`apply_patch`] with the schema of `kind` (e.g. `"DaemonSet"`); kinds without a table of
/// their own, such as custom resources, get [`KindSchema::generic`].
pub fn apply_patch_for_kind(
    target: &Value,
    patch: &[u8],
    patch_type: PatchType,
    kind: &str,
) -> Result<Value> {
    apply_patch(target, patch, patch_type, &KindSchema::for_kind_or_generic(kind))
}
