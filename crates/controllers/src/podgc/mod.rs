//! Pod garbage collection: pods bound to nodes that no longer exist.
//!
//! A port of kube-controller-manager's pod GC (`pkg/controller/podgc`): every period it
//! force-deletes pods bound to nodes that have been gone for longer than a quarantine (running
//! or terminating alike: no kubelet will ever finish them), terminating pods that were never
//! scheduled, terminating pods on out-of-service nodes, and the oldest finished pods beyond a
//! threshold. Pods are marked Failed before deletion, as upstream does.

pub mod decide;
mod runtime;

use std::time::Duration;

pub use runtime::{run, run_with_pods};

/// Condition reasons.
pub mod reasons {
    /// The `DisruptionTarget` reason of a pod deleted because its node is gone.
    pub const DELETION_BY_POD_GC: &str = "DeletionByPodGC";
}

/// How pod GC runs. Defaults are kube-controller-manager's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodGcOptions {
    /// How often a pass runs (`gcCheckPeriod`, 20 s).
    pub period: Duration,
    /// How long a node must be missing before its pods go (`quarantineTime`, 40 s): long enough
    /// for a node that was just created to reach the cache.
    pub quarantine: Duration,
    /// Finished pods kept before the oldest are deleted (`--terminated-pod-gc-threshold`,
    /// 12500); 0 keeps them all.
    pub terminated_pod_threshold: usize,
}

impl Default for PodGcOptions {
    fn default() -> Self {
        PodGcOptions {
            period: Duration::from_secs(20),
            quarantine: Duration::from_secs(40),
            terminated_pod_threshold: 12_500,
        }
    }
}

/// Why pod GC stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A watch stream ended. kube's watchers retry forever, so this only happens when the
    /// client is shut down; not retryable.
    #[error("a pod GC watch stream ended")]
    WatchEnded,
}
