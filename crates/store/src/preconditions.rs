//! `Preconditions`: what a delete or guaranteed update requires of the stored object.

use serde_json::Value;

use crate::error::{ConflictReason, Result, StoreError};
use crate::key::ObjectKey;
use crate::object;
use crate::revision::Revision;

/// Conditions the stored object must meet for a write to go ahead (Kubernetes
/// `DeleteOptions.preconditions`). A failed condition is a [`StoreError::Conflict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preconditions {
    /// The object's `metadata.uid` must be this.
    pub uid: Option<String>,
    /// The object's `metadata.resourceVersion` must be this.
    pub resource_version: Option<Revision>,
}

impl Preconditions {
    /// No conditions.
    pub fn none() -> Self {
        Preconditions::default()
    }

    /// Requires the stored object to be at `revision`.
    pub fn at_revision(revision: Revision) -> Self {
        Preconditions { uid: None, resource_version: Some(revision) }
    }

    /// Checks the conditions against the stored object `current` (which the store always keeps
    /// with a `resourceVersion`). The uid is checked first, as Kubernetes does.
    pub fn check(&self, key: &ObjectKey, current: &Value) -> Result<()> {
        let current_revision = object::resource_version(current).unwrap_or(Revision::ZERO);
        let conflict = |reason| StoreError::Conflict { key: key.clone(), current: current_revision, reason };
        if let Some(expected) = &self.uid {
            let actual = object::uid(current);
            if actual != Some(expected.as_str()) {
                return Err(conflict(ConflictReason::Uid {
                    expected: expected.as_str().into(),
                    actual: actual.map(Box::from),
                }));
            }
        }
        if let Some(expected) = self.resource_version
            && expected != current_revision
        {
            return Err(conflict(ConflictReason::ResourceVersion { expected }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> Value {
        json!({"metadata": {"name": "web", "uid": "u-1", "resourceVersion": "5"}})
    }

    #[test]
    fn empty_preconditions_always_hold() {
        Preconditions::none().check(&ObjectKey::cluster("nodes", "web"), &stored()).unwrap();
    }

    #[test]
    fn a_wrong_uid_is_a_conflict_naming_both_uids() {
        let pre = Preconditions { uid: Some("u-2".into()), resource_version: None };
        let err = pre.check(&ObjectKey::cluster("nodes", "web"), &stored()).unwrap_err();
        let StoreError::Conflict { current, reason, .. } = err else {
            panic!("want a conflict, got {err:?}")
        };
        assert_eq!(current, Revision::new(5));
        assert_eq!(reason, ConflictReason::Uid { expected: "u-2".into(), actual: Some("u-1".into()) });
    }

    #[test]
    fn a_stale_resource_version_is_a_conflict() {
        let pre = Preconditions::at_revision(Revision::new(4));
        let err = pre.check(&ObjectKey::cluster("nodes", "web"), &stored()).unwrap_err();
        assert!(matches!(
            err,
            StoreError::Conflict { reason: ConflictReason::ResourceVersion { expected }, .. }
                if expected == Revision::new(4)
        ));
        Preconditions::at_revision(Revision::new(5))
            .check(&ObjectKey::cluster("nodes", "web"), &stored())
            .unwrap();
    }
}
