//! `Backend`: the seam between the store's logic and durable bytes.
//!
//! A backend stores three things: the current objects (key to JSON bytes), the history (revision
//! to change record) and two counters (the last revision and the compaction floor). The store
//! hands it one [`Commit`] per group commit and reads everything back once, on open.

mod memory;
mod redb;

pub use self::memory::MemoryBackend;
pub use self::redb::RedbBackend;

use crate::error::Result;
use crate::event::EventKind;
use crate::key::ObjectKey;
use crate::revision::Revision;

/// One change in the history, as stored: the object is serialized JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The change's revision.
    pub revision: Revision,
    /// What the change did.
    pub kind: EventKind,
    /// The object it touched.
    pub key: ObjectKey,
    /// The object after the change (for a deletion, its last state), as JSON with
    /// `metadata.resourceVersion` equal to `revision`.
    pub object: Vec<u8>,
}

/// Everything one group commit changes.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The changes, in revision order with no gaps, continuing from the last committed revision.
    /// For each record, the backend stores `object` under `key` (or removes `key` for a deletion)
    /// and appends the record to the history.
    pub records: &'a [Record],
    /// The last revision after this commit.
    pub revision: Revision,
    /// The compaction floor after this commit: history records at or below it may be discarded.
    pub compacted: Revision,
}

/// The durable state, as read back on open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last committed revision.
    pub revision: Revision,
    /// The compaction floor: the history holds exactly the revisions above it.
    pub compacted: Revision,
    /// The current objects, as JSON.
    pub objects: Vec<(ObjectKey, Vec<u8>)>,
    /// The history, in revision order.
    pub history: Vec<Record>,
}

/// Durable storage for a [`Store`](crate::Store).
///
/// The store calls these from its single writer thread, never concurrently.
pub trait Backend: Send + 'static {
    /// Reads back the state as of the last successful [`commit`](Self::commit).
    fn load(&mut self) -> Result<Recovered>;

    /// Applies `commit` atomically and durably: when this returns `Ok`, the whole commit survives
    /// a crash (kill -9 or power loss); when it fails or the process dies first, none of it does.
    fn commit(&mut self, commit: &Commit<'_>) -> Result<()>;
}
