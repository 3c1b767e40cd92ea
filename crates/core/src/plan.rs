//! The plan a sync produces: everything the runtime must do, decided up front.

use k8s_openapi::api::apps::v1::DaemonSetStatus;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::SignedDuration;

use crate::backoff::BackoffEntry;
use crate::history::HistoryPlan;
use crate::status::StatusCounts;

/// Normal or Warning, as Events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    /// The Event `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// An Event to record on the DaemonSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// A pod to create.
#[derive(Debug, Clone, PartialEq)]
pub struct PodCreate {
    pub node: String,
    pub pod: Pod,
}

/// A pod to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodDelete {
    pub name: String,
    pub node: String,
    /// Why, for logs.
    pub reason: DeleteReason,
}

/// Why a pod is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Manage: failed, succeeded, duplicate, misplaced or orphaned by its node.
    Manage,
    /// Rolling update: an old pod replaced by the current revision.
    Rollout,
}

/// Ownership changes (ownerReference patches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnershipChange {
    /// Add our controller reference to an orphan pod. The runtime re-reads the DaemonSet first
    /// and skips adoption if it started deleting.
    AdoptPod { name: String, uid: String },
    /// Remove our controller reference from a pod the selector no longer matches.
    ReleasePod { name: String, uid: String },
    /// Adopt an orphan revision.
    AdoptRevision { name: String, uid: String },
    /// Release a revision the selector no longer matches.
    ReleaseRevision { name: String, uid: String },
}

/// Why a sync stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The selector is empty and would select every pod in the namespace.
    SelectingAll,
    /// The DaemonSet is being deleted; garbage collection handles its pods.
    BeingDeleted,
    /// The selector does not parse.
    InvalidSelector(String),
}

/// Everything one sync decided. The runtime carries it out in this order: ownership changes,
/// history writes, deletes, creates (in slow-start batches), revision cleanup, status, events.
/// If some action fails, the runtime must not write `status` (it assumed success) and should
/// requeue instead; the next sync recomputes from what really happened.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub stop: Option<Stop>,
    pub ownership: Vec<OwnershipChange>,
    pub history: HistoryPlan,
    /// Old revisions to delete (beyond revisionHistoryLimit).
    pub prune_revisions: Vec<String>,
    pub deletes: Vec<PodDelete>,
    pub creates: Vec<PodCreate>,
    pub events: Vec<PlannedEvent>,
    /// Backoff entries to record.
    pub backoff: Vec<(String, BackoffEntry)>,
    /// The status to write, when it changed.
    pub status: Option<DaemonSetStatus>,
    /// The counts behind the status (also when unchanged), for reporting.
    pub counts: StatusCounts,
    /// Sync again after this long even without events.
    pub requeue_after: Option<SignedDuration>,
    /// Problems that did not stop the sync (an unusable maxSurge, a node that vanished).
    pub warnings: Vec<String>,
}

impl Plan {
    /// Keeps the sooner of the current and the given requeue delay.
    pub fn requeue_within(&mut self, after: SignedDuration) {
        self.requeue_after = Some(self.requeue_after.map_or(after, |a| a.min(after)));
    }
}
