//! What the API server does to a DaemonSet before storing it: namespace, defaults, validation.
//!
//! `plan` answers "what would happen if I applied this?", so it must refuse exactly what the
//! API server refuses, with the same message, and plan the object the API server would store.

use k8s_openapi::api::apps::v1::DaemonSet;

use everynode_api::defaults::default_daemonset;
use everynode_api::validation::{invalid_message, validate_daemonset};

/// The namespace `kubectl apply` uses when neither the manifest nor the context names one.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The API server would refuse the DaemonSet. Not retryable: the manifest must change.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The API server's message, `The DaemonSet "x" is invalid: <field errors>`.
    pub message: String,
}

/// Returns the DaemonSet as the API server would store it on create, or its refusal.
pub fn admit(mut ds: DaemonSet) -> Result<DaemonSet, Invalid> {
    if ds.metadata.namespace.as_deref().is_none_or(str::is_empty) {
        ds.metadata.namespace = Some(DEFAULT_NAMESPACE.to_string());
    }
    default_daemonset(&mut ds);
    let errors = validate_daemonset(&ds);
    if errors.is_empty() {
        return Ok(ds);
    }
    let name = ds.metadata.name.as_deref().unwrap_or_default();
    Err(Invalid { message: invalid_message("DaemonSet", name, &errors) })
}
