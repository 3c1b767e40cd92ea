//! Per-kind rules: how a kind is decoded, defaulted and validated on create, update and status
//! update, and which field selectors it supports. The REST handlers are generic; everything that
//! differs between kinds lives behind [`Strategy`].

mod builtin;
mod custom;
mod daemonset;
mod decode;
mod pod;

use everynode_api::ErrorList;
use serde_json::Value;

use crate::error::ApiResult;

pub use builtin::{
    ConfigMapStrategy, EventStrategy, NamespaceStrategy, NodeStrategy, PlainStrategy, RevisionStrategy,
    SecretStrategy,
};
pub use custom::{CrdStrategy, CustomStrategy, served_versions as custom_served_versions};
pub use daemonset::DaemonSetStrategy;
pub use decode::{Decoded, decode_typed};
pub use pod::{PodStrategy, bind_pod};

/// The rules of one kind. Objects are JSON throughout; typed kinds round-trip through their
/// k8s-openapi type in [`decode`](Strategy::decode), which also finds unknown fields.
pub trait Strategy: Send + Sync + std::fmt::Debug {
    /// Checks that the body is a well-formed object of the kind and drops fields the kind does
    /// not have (reporting them, for `fieldValidation`).
    fn decode(&self, object: Value) -> ApiResult<Decoded>;

    /// Defaults a new object (metadata is already filled) and validates it.
    fn create(&self, object: &mut Value) -> ErrorList;

    /// Prepares a replacement of `old` (status already carried over, generation handled by the
    /// caller) and validates it.
    fn update(&self, new: &mut Value, old: &Value) -> ErrorList;

    /// Validates a `/status` write; `new` already has `old`'s desired state.
    fn status_update(&self, _new: &mut Value, _old: &Value) -> ErrorList {
        Vec::new()
    }

    /// Whether `metadata.generation` tracks changes to the desired state.
    fn tracks_generation(&self) -> bool {
        false
    }

    /// Field labels this kind supports in field selectors besides `metadata.name` and
    /// `metadata.namespace`.
    fn field_labels(&self) -> &'static [&'static str] {
        &[]
    }

    /// The value of a supported field label.
    fn field_value(&self, _object: &Value, _label: &str) -> Option<String> {
        None
    }
}

/// A string at a JSON pointer, for field selectors.
pub(crate) fn pointer_str(object: &Value, pointer: &str) -> Option<String> {
    object.pointer(pointer).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}
