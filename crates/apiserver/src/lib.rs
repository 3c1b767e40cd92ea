//! The embedded Kubernetes-compatible API server.
//!
//! Real `kubectl` and kube-rs clients talk to it unchanged. Resources are described by a
//! [`registry`] (one table entry per kind plus its [`strategy`]), stored as JSON in
//! `everynode-store`, and served by one set of generic REST [`handlers`]. The garbage collector
//! ([`gc`]) runs beside the handlers and does cascading deletion and namespace cleanup.

pub mod discovery;
pub mod error;
pub mod gc;
pub mod handlers;
pub mod meta;
pub mod openapi;
pub mod protobuf;
pub mod registry;
pub mod request;
pub mod server;
pub mod strategy;
pub mod table;

pub use error::{ApiError, ApiResult};
pub use server::{ApiServer, StartError};
