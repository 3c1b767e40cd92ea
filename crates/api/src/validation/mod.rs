//! Validation of API objects, returning upstream's field-path errors.
//!
//! The entry points are [`validate_daemonset`], [`validate_daemonset_update`] and
//! [`validate_daemonset_status_update`]; run them after [`crate::defaults::default_daemonset`], as
//! the API server does. Messages, field paths and value renderings follow Kubernetes 1.34+
//! (values that are not plain strings or numbers print as JSON), one module per concept.

pub mod container;
pub mod daemonset;
pub mod env;
pub mod message;
pub mod meta;
pub mod names;
pub mod pod;
pub mod probe;
pub mod quantity;
pub mod render;
pub mod resources;
pub mod scheduling;
pub mod volume;

pub use daemonset::{
    validate_daemonset, validate_daemonset_as_sent, validate_daemonset_status_update,
    validate_daemonset_update, validate_daemonset_update_as_sent,
};
pub use message::{invalid_message, kubectl_message, status_message};
