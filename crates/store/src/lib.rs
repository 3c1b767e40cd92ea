//! Durable, embedded object store behind the everynode API server.
//!
//! Objects are JSON values keyed by [`ObjectKey`] (resource, namespace, name). Every acknowledged
//! write is committed to a redb file first (kill -9 loses none), gets the next global
//! [`Revision`] as its `metadata.resourceVersion`, and is appended to a bounded history that
//! [`Store::watch`] replays before switching to live events. Concurrent writes share one commit
//! (group commit). Reads are served from an in-memory copy rebuilt from disk on open. See
//! `DESIGN.md` for the on-disk tables, commit protocol and recovery.
//!
//! The store knows nothing of Kubernetes kinds: defaulting, validation, uids, timestamps, finalizers
//! and selectors belong to the API server.

mod backend;
mod error;
mod event;
mod key;
pub mod object;
mod options;
mod preconditions;
mod revision;
mod state;
mod store;
mod watch;
mod write;
mod writer;

pub use backend::{Backend, Commit, MemoryBackend, Record, Recovered, RedbBackend};
pub use error::{ConflictReason, Result, StorageCause, StoreError};
pub use event::{EventKind, WatchEvent};
pub use key::ObjectKey;
pub use options::StoreOptions;
pub use preconditions::Preconditions;
pub use revision::{ParseRevisionError, Revision};
pub use store::{List, Store};
pub use watch::Watch;
