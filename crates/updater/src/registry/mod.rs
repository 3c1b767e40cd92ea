//! Container registries: pull-secret credentials, tag lists and digests, and the polling backoff.
//!
//! `auth` and `backoff` are pure decisions; `client` is the IO, behind the small [`TagSource`]
//! trait so that the poller can run against a fake. A real registry is exercised by
//! `tests/registry.rs` (Debian's `docker-registry`, started by `tests/support/registry.rs`).

pub mod auth;
pub mod backoff;
pub mod client;
pub mod error;
mod paging;

pub use auth::{AuthError, Credentials, PullSecret, lookup};
pub use backoff::{PollOutcome, PollSchedule, PollState};
pub use client::{Auth, OciRegistry, RegistryConfig, RegistryImage, TagSource};
pub use error::RegistryError;
