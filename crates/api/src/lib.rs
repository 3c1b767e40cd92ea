//! Kubernetes API object rules shared by the API server and the controllers.
//!
//! This crate knows what Kubernetes objects *mean* (selectors, int-or-percent values, defaults,
//! validity) but never performs IO. The DaemonSet controller core builds on its selectors; the API
//! server calls its defaulting and validation before it stores anything.

pub mod defaults;
pub mod field;
pub mod fields;
pub mod intstr;
pub mod labels;
pub mod nodeaffinity;
pub mod taints;
pub mod validation;

pub use field::{BadValue, ErrorList, ErrorType, FieldError, FieldPath};
