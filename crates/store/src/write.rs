//! Deciding what one write does to the stored object, before anything is committed.
//!
//! The writer thread calls [`decide`] for each queued write against the state that includes the
//! earlier writes of the same batch; nothing here does IO, so every rule is unit-tested directly.

use std::sync::Arc;

use serde_json::Value;

use crate::error::{ConflictReason, Result, StoreError};
use crate::event::{EventKind, WatchEvent};
use crate::key::ObjectKey;
use crate::object;
use crate::preconditions::Preconditions;
use crate::revision::Revision;

/// A write to one object, as submitted by a caller.
#[derive(Debug, Clone)]
pub(crate) enum ObjectWrite {
    /// Store a new object; fails if the key is taken.
    Create(Value),
    /// Replace the stored object, if it is at `expected` (when given).
    Update { object: Value, expected: Option<Revision> },
    /// Remove the stored object, if it meets the preconditions.
    Delete(Preconditions),
}

/// Decides the outcome of `write` on the object stored as `current`, were it committed at
/// `revision`: the event to record, or why the write is refused.
pub(crate) fn decide(
    key: &ObjectKey,
    write: ObjectWrite,
    current: Option<&Arc<Value>>,
    revision: Revision,
) -> Result<WatchEvent> {
    let invalid = |reason: String| StoreError::InvalidObject { key: key.clone(), reason };
    let (kind, mut object) = match (write, current) {
        (ObjectWrite::Create(_), Some(_)) => return Err(StoreError::AlreadyExists { key: key.clone() }),
        (ObjectWrite::Create(object), None) => {
            // Kubernetes storage refuses this too: a create cannot claim a place in history.
            if object::has_resource_version(&object) {
                return Err(invalid("resourceVersion should not be set on objects to be created".into()));
            }
            (EventKind::Added, object)
        }
        (ObjectWrite::Update { .. } | ObjectWrite::Delete(_), None) => {
            return Err(StoreError::NotFound { key: key.clone() });
        }
        (ObjectWrite::Update { object, expected }, Some(current)) => {
            let current_revision = object::resource_version(current).unwrap_or(Revision::ZERO);
            if let Some(expected) = expected
                && expected != current_revision
            {
                return Err(StoreError::Conflict {
                    key: key.clone(),
                    current: current_revision,
                    reason: ConflictReason::ResourceVersion { expected },
                });
            }
            (EventKind::Modified, object)
        }
        (ObjectWrite::Delete(preconditions), Some(current)) => {
            preconditions.check(key, current)?;
            // The deleted object carries the deletion's revision, as in Kubernetes, so a watcher
            // resuming from it does not see the deletion twice.
            (EventKind::Deleted, Value::clone(current))
        }
    };
    object::set_resource_version(&mut object, revision).map_err(invalid)?;
    let previous = if kind == EventKind::Modified { current.cloned() } else { None };
    Ok(WatchEvent { kind, key: key.clone(), revision, object: Arc::new(object), previous, encoded: None })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key() -> ObjectKey {
        ObjectKey::namespaced("daemonsets", "default", "ds")
    }

    fn stored(revision: u64) -> Arc<Value> {
        Arc::new(json!({"metadata": {"name": "ds", "uid": "u-1", "resourceVersion": revision.to_string()}}))
    }

    #[test]
    fn create_sets_the_resource_version_to_the_commit_revision() {
        let event = decide(&key(), ObjectWrite::Create(json!({"spec": 1})), None, Revision::new(3)).unwrap();
        assert_eq!(event.kind, EventKind::Added);
        assert_eq!(*event.object, json!({"spec": 1, "metadata": {"resourceVersion": "3"}}));
    }

    #[test]
    fn create_of_an_existing_key_is_already_exists() {
        let err = decide(&key(), ObjectWrite::Create(json!({})), Some(&stored(1)), Revision::new(2));
        assert!(matches!(err, Err(StoreError::AlreadyExists { .. })));
    }

    #[test]
    fn create_with_a_resource_version_is_invalid() {
        let object = json!({"metadata": {"resourceVersion": "9"}});
        let err = decide(&key(), ObjectWrite::Create(object), None, Revision::new(2));
        assert!(matches!(err, Err(StoreError::InvalidObject { .. })));
    }

    #[test]
    fn create_of_a_non_object_is_invalid() {
        let err = decide(&key(), ObjectWrite::Create(json!("pod")), None, Revision::new(2));
        assert!(matches!(err, Err(StoreError::InvalidObject { .. })));
    }

    #[test]
    fn update_with_a_stale_revision_is_a_conflict_reporting_the_current_one() {
        let write = ObjectWrite::Update { object: json!({}), expected: Some(Revision::new(1)) };
        let err = decide(&key(), write, Some(&stored(4)), Revision::new(5)).unwrap_err();
        assert!(matches!(err, StoreError::Conflict { current, .. } if current == Revision::new(4)));
    }

    #[test]
    fn update_without_a_precondition_replaces_whatever_is_stored() {
        let write = ObjectWrite::Update { object: json!({"spec": 2}), expected: None };
        let event = decide(&key(), write, Some(&stored(4)), Revision::new(5)).unwrap();
        assert_eq!(event.kind, EventKind::Modified);
        assert_eq!(*event.object, json!({"spec": 2, "metadata": {"resourceVersion": "5"}}));
    }

    #[test]
    fn update_and_delete_of_a_missing_key_are_not_found() {
        let update = ObjectWrite::Update { object: json!({}), expected: None };
        assert!(matches!(decide(&key(), update, None, Revision::new(1)), Err(StoreError::NotFound { .. })));
        let delete = ObjectWrite::Delete(Preconditions::none());
        assert!(matches!(decide(&key(), delete, None, Revision::new(1)), Err(StoreError::NotFound { .. })));
    }

    #[test]
    fn delete_returns_the_last_state_at_the_deletion_revision() {
        let event =
            decide(&key(), ObjectWrite::Delete(Preconditions::none()), Some(&stored(4)), Revision::new(9))
                .unwrap();
        assert_eq!(event.kind, EventKind::Deleted);
        assert_eq!(*event.object, json!({"metadata": {"name": "ds", "uid": "u-1", "resourceVersion": "9"}}));
    }

    #[test]
    fn delete_checks_its_preconditions() {
        let pre = Preconditions { uid: Some("other".into()), resource_version: None };
        let err = decide(&key(), ObjectWrite::Delete(pre), Some(&stored(4)), Revision::new(9));
        assert!(matches!(err, Err(StoreError::Conflict { reason: ConflictReason::Uid { .. }, .. })));
    }
}
