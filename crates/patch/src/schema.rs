//! Where strategic merge patch learns how each field merges: the `patchStrategy` and
//! `patchMergeKey` tags of the Kubernetes Go types, looked up by field path.

mod kinds;

use std::borrow::Cow;

pub use kinds::KindSchema;

/// How a field's current value and a patch value combine (the `patchStrategy` tag).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PatchStrategy {
    /// No tag: maps merge key by key and lists are replaced whole, as in a JSON merge patch.
    /// Atomic lists such as `tolerations`, `args` and `command` are untagged.
    #[default]
    Default,
    /// `patchStrategy:"merge"`: lists merge, objects matched by the merge key and primitives as a
    /// set (`finalizers`).
    Merge,
    /// `patchStrategy:"replace"`: the patch value replaces the field, maps included.
    Replace,
}

/// Patch metadata of one field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldMeta {
    /// How the field merges.
    pub strategy: PatchStrategy,
    /// For lists of objects merged by key: the field that identifies an element (`name` for
    /// containers, `containerPort` for ports, ...).
    pub merge_key: Option<Cow<'static, str>>,
    /// The `retainKeys` strategy (`volumes`): clients send a `$retainKeys` directive listing the
    /// fields to keep. Applying a patch honours `$retainKeys` wherever it appears, so this flag only
    /// documents the schema; it matters to patch *generators*.
    pub retain_keys: bool,
}

impl FieldMeta {
    /// An untagged field: JSON merge patch behaviour.
    pub const DEFAULT: FieldMeta =
        FieldMeta { strategy: PatchStrategy::Default, merge_key: None, retain_keys: false };

    /// A list merged as a set of primitives (`patchStrategy:"merge"` without a merge key).
    pub const SET: FieldMeta =
        FieldMeta { strategy: PatchStrategy::Merge, merge_key: None, retain_keys: false };

    /// A field replaced whole (`patchStrategy:"replace"`).
    pub const REPLACE: FieldMeta =
        FieldMeta { strategy: PatchStrategy::Replace, merge_key: None, retain_keys: false };

    /// A list of objects merged by `key` (`patchStrategy:"merge" patchMergeKey:"<key>"`).
    pub const fn merge_by(key: &'static str) -> FieldMeta {
        FieldMeta { strategy: PatchStrategy::Merge, merge_key: Some(Cow::Borrowed(key)), retain_keys: false }
    }

    /// A list of objects merged by `key` whose elements also follow `retainKeys`
    /// (`patchStrategy:"merge,retainKeys"`, e.g. `volumes`).
    pub const fn merge_by_retaining_keys(key: &'static str) -> FieldMeta {
        FieldMeta { strategy: PatchStrategy::Merge, merge_key: Some(Cow::Borrowed(key)), retain_keys: true }
    }
}

/// Patch metadata for the fields of one kind of object.
///
/// A path is the list of field names from the object root; list elements add no segment, so the
/// ports of any container are `["spec", "template", "spec", "containers", "ports"]` in a
/// DaemonSet. Fields the schema does not know get [`FieldMeta::DEFAULT`], which is how custom
/// resources patch: lists replaced, maps merged.
pub trait Schema {
    /// The metadata of the field at `path`.
    fn field(&self, path: &[&str]) -> FieldMeta;
}

/// A schema that knows no field: strategic merge patch degrades to JSON merge patch plus the
/// directives. Useful for custom resources and tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Untyped;

impl Schema for Untyped {
    fn field(&self, _path: &[&str]) -> FieldMeta {
        FieldMeta::DEFAULT
    }
}
