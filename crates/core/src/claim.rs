//! Ownership: which pods and revisions a DaemonSet controls, adopts or releases
//! (upstream `BaseControllerRefManager.ClaimObject`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use everynode_api::labels::Selector;

/// What to do with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Ours and selected: managed by this DaemonSet.
    Owned,
    /// An orphan that the selector matches: take ownership (then manage it).
    Adopt,
    /// Ours but no longer selected: drop our controller reference.
    Release,
    /// Someone else's, or not ours to take.
    Ignore,
}

/// The object's controller reference, if any.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.as_deref().unwrap_or_default().iter().find(|r| r.controller == Some(true))
}

/// The owner the claim is made for.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub uid: &'a str,
    pub namespace: &'a str,
    /// The owner is being deleted: it adopts nothing and releases nothing.
    pub deleting: bool,
    pub selector: &'a Selector,
}

/// Decides the claim for one object.
///
/// Adoption must be confirmed by the runtime with a fresh read of the owner (it may have started
/// deleting since the snapshot) before the ownerReference patch is sent, as upstream's
/// `RecheckDeletionTimestamp` does.
pub fn claim(meta: &ObjectMeta, owner: Claimant<'_>) -> Claim {
    let matches = owner.selector.matches_opt(meta.labels.as_ref());
    if let Some(controller) = controller_of(meta) {
        if controller.uid != owner.uid {
            return Claim::Ignore;
        }
        if matches {
            return Claim::Owned;
        }
        return if owner.deleting { Claim::Ignore } else { Claim::Release };
    }
    if owner.deleting || !matches || meta.deletion_timestamp.is_some() {
        return Claim::Ignore;
    }
    if !owner.namespace.is_empty() && meta.namespace.as_deref().unwrap_or_default() != owner.namespace {
        return Claim::Ignore;
    }
    Claim::Adopt
}
