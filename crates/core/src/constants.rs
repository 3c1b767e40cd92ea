//! Well-known label keys, annotations, event reasons and limits of the DaemonSet controller.

/// Label on pods and revisions naming the ControllerRevision hash they were made from.
pub const CONTROLLER_REVISION_HASH_LABEL: &str = "controller-revision-hash";
/// Legacy label on pods carrying the DaemonSet's template generation (pre-hash clients use it).
pub const POD_TEMPLATE_GENERATION_LABEL: &str = "pod-template-generation";
/// DaemonSet annotation counting template changes; written by the API server.
pub const TEMPLATE_GENERATION_ANNOTATION: &str = "deprecated.daemonset.template.generation";
/// Annotation that `kubectl rollout history` shows as CHANGE-CAUSE.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";

/// How many pods one sync may create, and separately delete. Upstream's `BurstReplicas`: large
/// enough that a fresh DaemonSet covers a few hundred nodes per sync, small enough that a broken
/// template does not flood the API server with thousands of doomed creates at once.
pub const BURST_REPLICAS: usize = 250;
/// The first slow-start batch; each successful batch doubles the next one.
pub const SLOW_START_INITIAL_BATCH_SIZE: usize = 1;

/// Event reasons (the `reason` field of Events the controller emits), as upstream names them.
pub mod reasons {
    /// Warning: the DaemonSet's selector is empty, which would select every pod.
    pub const SELECTING_ALL: &str = "SelectingAll";
    /// Warning: a daemon pod failed and will be deleted (and recreated).
    pub const FAILED_DAEMON_POD: &str = "FailedDaemonPod";
    /// Normal: a daemon pod succeeded (exited) and will be deleted (and recreated).
    pub const SUCCEEDED_DAEMON_POD: &str = "SucceededDaemonPod";
    /// Normal: emitted by the runtime after each pod create.
    pub const SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
    /// Normal: emitted by the runtime after each pod delete.
    pub const SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
    /// Warning: emitted by the runtime when a pod create fails.
    pub const FAILED_CREATE: &str = "FailedCreate";
    /// Warning: emitted by the runtime when a pod delete fails.
    pub const FAILED_DELETE: &str = "FailedDelete";
}
