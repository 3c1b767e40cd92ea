//! The Events a kubelet records about pods and nodes: upstream's reasons (`pkg/kubelet/events`)
//! and message formats, so `kubectl describe` and `kubectl events` read as on a real node.

use everynode_controllers::events::EventType;

/// Image pull started.
pub const PULLING: &str = "Pulling";
/// Image present (pulled or cached).
pub const PULLED: &str = "Pulled";
/// Container created.
pub const CREATED: &str = "Created";
/// Container started.
pub const STARTED: &str = "Started";
/// Container being stopped.
pub const KILLING: &str = "Killing";
/// Crash-loop or image pull back-off.
pub const BACK_OFF: &str = "BackOff";
/// Image pull or container start failed.
pub const FAILED: &str = "Failed";
/// A probe failed.
pub const UNHEALTHY: &str = "Unhealthy";
/// The pod network could not be set up.
pub const FAILED_CREATE_POD_SANDBOX: &str = "FailedCreatePodSandBox";
/// A node became Ready.
pub const NODE_READY: &str = "NodeReady";

/// An event about the pod being stepped, recorded once its write succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodEvent {
    /// Normal or Warning.
    pub type_: EventType,
    /// One of the reasons above.
    pub reason: &'static str,
    /// Upstream's message.
    pub message: String,
}

impl PodEvent {
    /// A Normal event.
    pub fn normal(reason: &'static str, message: impl Into<String>) -> PodEvent {
        PodEvent { type_: EventType::Normal, reason, message: message.into() }
    }

    /// A Warning event.
    pub fn warning(reason: &'static str, message: impl Into<String>) -> PodEvent {
        PodEvent { type_: EventType::Warning, reason, message: message.into() }
    }
}
