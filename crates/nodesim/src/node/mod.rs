//! Simulated nodes, free of IO: the Node a kubelet registers ([`object`]), the status it keeps
//! reporting ([`status`]), its Lease ([`lease`]), and when each heartbeat is due ([`schedule`]).
//! Also the labels and annotations through which users steer the simulation.

pub mod lease;
pub mod object;
pub mod schedule;
pub mod status;

use k8s_openapi::api::core::v1::Node;

/// `"false"` keeps a node out of the simulation (a real kubelet or another simulator owns it).
pub const SIMULATED_ANNOTATION: &str = "everynode.io/simulated";
/// `"true"` makes the node's kubelet "die": no more heartbeats, status or pod updates, as after
/// `everynode nodes fail NODE`. Removing it recovers the node.
pub const FAILED_ANNOTATION: &str = "everynode.io/failed";
/// The node's pod behaviour as JSON (a fleet pool's `behaviour`), so nodes added by any process
/// carry their behaviour with them.
pub const BEHAVIOUR_ANNOTATION: &str = "everynode.io/behaviour";
/// The fleet pool a node belongs to.
pub const POOL_LABEL: &str = "everynode.io/pool";
/// The pool's node template as JSON (prefix, labels, taints, capacity, unschedulable), written
/// at registration: `everynode nodes add --pool P` builds new nodes from it, so a label or taint
/// added by hand to one member is not copied to the new ones.
pub const POOL_SPEC_ANNOTATION: &str = "everynode.io/pool-spec";

fn annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether the simulation drives this node (every node unless annotated otherwise).
pub fn is_simulated(node: &Node) -> bool {
    annotation(node, SIMULATED_ANNOTATION) != Some("false")
}

/// Whether the node's kubelet is failed.
pub fn is_failed(node: &Node) -> bool {
    annotation(node, FAILED_ANNOTATION) == Some("true")
}

/// The node's behaviour annotation, if any.
pub fn behaviour_annotation(node: &Node) -> Option<&str> {
    annotation(node, BEHAVIOUR_ANNOTATION)
}

/// The node's pool template annotation, if any.
pub fn pool_spec_annotation(node: &Node) -> Option<&str> {
    annotation(node, POOL_SPEC_ANNOTATION)
}

/// The node's pool, if it came from a fleet.
pub fn pool_of(node: &Node) -> Option<&str> {
    node.metadata.labels.as_ref()?.get(POOL_LABEL).map(String::as_str)
}
