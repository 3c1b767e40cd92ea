//! Node lifecycle: heartbeat monitoring, not-ready/unreachable taints, and NoExecute eviction.
//!
//! Two controllers, as upstream's kube-controller-manager has them:
//! - the node health monitor (`pkg/controller/nodelifecycle`): a node whose Lease and Ready
//!   heartbeat stay unchanged for the grace period gets every kubelet condition set to Unknown
//!   and the `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints; Ready=False gives
//!   the `not-ready` pair; conditions and cordons are mirrored as NoSchedule taints; recovery
//!   removes them; pods on a node that stops being Ready are marked not ready;
//! - taint eviction (`pkg/controller/tainteviction`): pods not tolerating a node's NoExecute
//!   taints are deleted, after their `tolerationSeconds` if they have one. DaemonSet pods
//!   tolerate not-ready/unreachable forever, so node agents stay.
//!
//! The monitor never sets Ready back to True: the kubelet does that when it posts status again
//! (a simulated kubelet must too), after which the taints go.

pub mod conditions;
pub mod disruption;
pub mod eviction;
mod eviction_loop;
pub mod health;
pub mod monitor;
mod monitor_loop;
pub mod taints;

use std::time::Duration;

pub use eviction_loop::run as run_taint_eviction;
pub use monitor_loop::run as run_monitor;

/// The namespace of the kubelets' heartbeat Leases (one per node, named after it).
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Event and condition reasons.
pub mod reasons {
    /// A node's Ready condition stopped being True (on the node, `Normal`), and its pods were
    /// marked not ready (on each pod, `Warning`).
    pub const NODE_NOT_READY: &str = "NodeNotReady";
    /// A pod is deleted, or its deletion cancelled, because of NoExecute taints.
    pub const TAINT_MANAGER_EVICTION: &str = "TaintManagerEviction";
    /// The `DisruptionTarget` condition reason of a pod evicted for a taint.
    pub const DELETION_BY_TAINT_MANAGER: &str = "DeletionByTaintManager";
}

/// How the node lifecycle controllers run. Defaults are kube-controller-manager's.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLifecycleOptions {
    /// How often node health is checked (`--node-monitor-period`, 5 s).
    pub monitor_period: Duration,
    /// Silence after which a node is Unknown (`--node-monitor-grace-period`, 50 s since
    /// Kubernetes 1.32, up from 40 s: it must exceed the kubelet's 45 s HTTP/2 health check).
    pub grace_period: Duration,
    /// The same for a node that never posted status (`--node-startup-grace-period`, 60 s).
    pub startup_grace_period: Duration,
    /// Fraction of not-Ready nodes (above two) that makes a zone partially disrupted
    /// (`--unhealthy-zone-threshold`, 0.55).
    pub unhealthy_zone_threshold: f32,
    /// Zones up to this size stop adding NoExecute taints when partially disrupted
    /// (`--large-cluster-size-threshold`, 50).
    pub large_cluster_threshold: usize,
    /// Whether [`run`] also runs taint eviction (upstream's `SeparateTaintEvictionController`
    /// makes it a controller of its own; everynode runs both by default).
    pub taint_eviction: bool,
}

impl Default for NodeLifecycleOptions {
    fn default() -> Self {
        NodeLifecycleOptions {
            monitor_period: Duration::from_secs(5),
            grace_period: Duration::from_secs(50),
            startup_grace_period: Duration::from_secs(60),
            unhealthy_zone_threshold: 0.55,
            large_cluster_threshold: 50,
            taint_eviction: true,
        }
    }
}

/// Why a node lifecycle controller stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A watch stream ended. kube's watchers retry forever, so this only happens when the
    /// client is shut down; not retryable.
    #[error("a node lifecycle watch stream ended")]
    WatchEnded,
}

/// Runs the node health monitor and, unless disabled, taint eviction, until the future is
/// dropped or one of them stops.
pub async fn run(client: kube::Client, options: NodeLifecycleOptions) -> Result<(), Error> {
    run_with_pods(client, options, None).await
}

/// [`run`], with taint eviction taking its pods from `pods` (a shared watch) when given, rather
/// than from its own watch.
pub async fn run_with_pods(
    client: kube::Client,
    options: NodeLifecycleOptions,
    pods: Option<crate::informer::Watch<k8s_openapi::api::core::v1::Pod>>,
) -> Result<(), Error> {
    if options.taint_eviction {
        let pods = pods.unwrap_or_else(|| crate::informer::Watch::own(kube::Api::all(client.clone())));
        let eviction = eviction_loop::run_with_pods(client.clone(), pods);
        let monitor = run_monitor(client, options);
        tokio::select! {
            result = eviction => result,
            result = monitor => result,
        }
    } else {
        run_monitor(client, options).await
    }
}
