//! The store's error type, and which of its variants a caller may retry.

use std::sync::Arc;

use crate::key::ObjectKey;
use crate::revision::Revision;

/// A `Result` whose error is a [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The cause of an IO or database failure, shared because one failed group commit fails every
/// write in its batch.
pub type StorageCause = Arc<dyn std::error::Error + Send + Sync>;

/// Why a store operation failed.
///
/// Retryability, from the caller's point of view:
/// - [`NotFound`](Self::NotFound), [`AlreadyExists`](Self::AlreadyExists),
///   [`InvalidObject`](Self::InvalidObject): not retryable, the request itself is wrong for the current
///   state (the API server answers 404, 409 and 400/500 respectively).
/// - [`Conflict`](Self::Conflict): retryable after re-reading the object (409; `guaranteed_update`
///   retries resource-version conflicts itself).
/// - [`TooOldRevision`](Self::TooOldRevision): not retryable at the same revision; re-list, then watch
///   from the list's revision (410 Gone, "too old resource version").
/// - [`RevisionTooLarge`](Self::RevisionTooLarge): retryable later, once the store has caught up.
/// - [`Storage`](Self::Storage): retryable; nothing from the failed batch was acknowledged or
///   became visible (500).
/// - [`Corrupt`](Self::Corrupt) and [`Closed`](Self::Closed): not retryable on this handle; the store
///   must be reopened (and a corrupt file repaired or restored).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// No object is stored under the key.
    #[error("{key} not found")]
    NotFound {
        /// The key that was looked up.
        key: ObjectKey,
    },
    /// A create found an object already stored under the key.
    #[error("{key} already exists")]
    AlreadyExists {
        /// The key that was to be created.
        key: ObjectKey,
    },
    /// A precondition did not hold against the stored object.
    #[error("conflict on {key} at revision {current}: {reason}")]
    Conflict {
        /// The object the precondition was checked against.
        key: ObjectKey,
        /// The stored object's current `resourceVersion`.
        current: Revision,
        /// Which precondition failed.
        reason: ConflictReason,
    },
    /// A watch asked for history that compaction has already discarded.
    #[error("too old resource version: {requested} (oldest available: {oldest})")]
    TooOldRevision {
        /// The revision the caller asked to watch from.
        requested: Revision,
        /// The oldest revision a watch may start from now.
        oldest: Revision,
    },
    /// A watch asked to start from a revision the store has not reached yet.
    #[error("too large resource version: {requested} (current: {current})")]
    RevisionTooLarge {
        /// The revision the caller asked to watch from.
        requested: Revision,
        /// The store's current revision.
        current: Revision,
    },
    /// The object cannot be stored as given (not a JSON object, `resourceVersion` set on create...).
    #[error("invalid object {key}: {reason}")]
    InvalidObject {
        /// The key the object was to be stored under.
        key: ObjectKey,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading or committing to the backing storage failed.
    #[error("storage error while {context}")]
    Storage {
        /// What the store was doing.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: StorageCause,
    },
    /// The data read back from storage breaks an invariant of the store.
    #[error("corrupt store: {0}")]
    Corrupt(String),
    /// The store's writer has stopped, so no more writes can be accepted.
    #[error("the store is closed")]
    Closed,
}

impl StoreError {
    /// Wraps a storage failure with what the store was doing when it happened.
    pub fn storage(context: &'static str, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Storage { context, source: Arc::new(source) }
    }

    /// Whether the same call may succeed if simply tried again (possibly after re-reading, see the
    /// type's documentation).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict { .. } | StoreError::RevisionTooLarge { .. } | StoreError::Storage { .. }
        )
    }
}

/// Which precondition of a write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConflictReason {
    /// The caller expected another `resourceVersion` (an optimistic-concurrency update lost a race).
    ResourceVersion {
        /// The revision the caller expected.
        expected: Revision,
    },
    /// The caller expected another `metadata.uid` (the object was deleted and recreated).
    /// (Boxed strings keep [`StoreError`] small enough to return by value.)
    Uid {
        /// The uid the caller expected.
        expected: Box<str>,
        /// The stored object's uid, if it has one.
        actual: Option<Box<str>>,
    },
}

impl std::fmt::Display for ConflictReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConflictReason::ResourceVersion { expected } => {
                write!(f, "the object has been modified (expected resourceVersion {expected})")
            }
            ConflictReason::Uid { expected, actual } => write!(
                f,
                "precondition failed: UID in precondition: {expected}, UID in object meta: {}",
                actual.as_deref().unwrap_or("")
            ),
        }
    }
}
