//! Change events: what the history keeps and what watchers receive.

use std::sync::Arc;

use serde_json::Value;

use crate::key::ObjectKey;
use crate::revision::Revision;

/// What a write did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The object was created.
    Added,
    /// The object was replaced.
    Modified,
    /// The object was removed.
    Deleted,
}

impl EventKind {
    /// The Kubernetes watch event `type` (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }

    /// The one-byte tag used on disk.
    pub(crate) fn tag(self) -> u8 {
        match self {
            EventKind::Added => 1,
            EventKind::Modified => 2,
            EventKind::Deleted => 3,
        }
    }

    /// The inverse of [`tag`](Self::tag).
    pub(crate) fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(EventKind::Added),
            2 => Some(EventKind::Modified),
            3 => Some(EventKind::Deleted),
            _ => None,
        }
    }
}

/// One committed write, as kept in the history and sent to watchers.
///
/// `object` is the object after the write; for [`EventKind::Deleted`] it is the last stored state
/// with `metadata.resourceVersion` set to the deletion's revision, as Kubernetes sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// What the write did.
    pub kind: EventKind,
    /// Which object it touched.
    pub key: ObjectKey,
    /// The write's revision (equal to the object's `resourceVersion`).
    pub revision: Revision,
    /// The object, shared with the store's cache and every watcher.
    pub object: Arc<Value>,
    /// For [`EventKind::Modified`], the object before the write, when known: always for live
    /// events, and for history replayed after a restart unless the write is the first of its
    /// object in the retained history. Watches with selectors need it to turn an update that
    /// leaves (or enters) the selection into DELETED (or ADDED), as Kubernetes does.
    pub previous: Option<Arc<Value>>,
    /// `object` as JSON, the bytes the store committed: a watch serving the object unchanged
    /// sends these instead of encoding it once per watcher. `None` when not known.
    pub encoded: Option<Arc<[u8]>>,
}
