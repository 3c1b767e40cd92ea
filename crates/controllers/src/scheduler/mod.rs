//! The scheduler: binds pending pods to nodes through the `/binding` subresource.
//!
//! A port of the parts of kube-scheduler's default profile that matter for everynode's pods:
//! the NodeUnschedulable, TaintToleration, NodeAffinity (with its `matchFields metadata.name`
//! pre-filter, which every DaemonSet pod uses), NodePorts and NodeResourcesFit filters, and the
//! exact `FailedScheduling` wording (`0/3 nodes are available: ...`). Scoring is simpler than
//! upstream's: fewest pods first, then node name. Preemption, pod (anti-)affinity, topology
//! spread, volumes and DRA are not implemented.
//!
//! Decisions are pure ([`decide::schedule`] over a [`snapshot::Snapshot`]); [`run`] is the thin
//! loop that keeps the snapshot from reflectors and performs the API calls.

mod cache;
pub mod decide;
pub mod filters;
pub mod fit_error;
pub mod pod_info;
pub mod quantity;
pub mod queue;
pub mod resources;
mod runtime;
pub mod snapshot;

use std::time::Duration;

pub use decide::{Decision, schedule};
pub use fit_error::FitError;
pub use queue::RetryPolicy;
pub use runtime::{run, run_with_pods};

/// Event and condition reasons.
pub mod reasons {
    /// A pod was bound (`Normal`).
    pub const SCHEDULED: &str = "Scheduled";
    /// A pod fits no node (`Warning`).
    pub const FAILED_SCHEDULING: &str = "FailedScheduling";
    /// The `PodScheduled=False` reason for a pod that fits no node.
    pub const UNSCHEDULABLE: &str = "Unschedulable";
}

/// The name pods select the scheduler by (`spec.schedulerName`), and the events' source.
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";

/// How the scheduler runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerOptions {
    /// Pods with this `spec.schedulerName` (or none) are ours; also the events' source component.
    pub scheduler_name: String,
    /// API calls (bindings, unschedulable reports) in flight at once. Bindings are independent,
    /// so concurrency is what makes thousands of pending pods bind in seconds.
    pub max_in_flight: usize,
    /// Backoff and retry of pods that failed.
    pub retry: RetryPolicy,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            scheduler_name: DEFAULT_SCHEDULER_NAME.to_owned(),
            max_in_flight: 32,
            retry: RetryPolicy::default(),
        }
    }
}

impl SchedulerOptions {
    /// Shorter backoffs, for tests and small simulated clusters.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry.initial_backoff = initial;
        self.retry.max_backoff = max;
        self
    }
}

/// Why the scheduler stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A watch stream ended. kube's watchers retry forever, so this only happens when the
    /// client is shut down; not retryable.
    #[error("a scheduler watch stream ended")]
    WatchEnded,
}
