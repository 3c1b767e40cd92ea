//! What a silent node's status becomes once its grace period is over: every kubelet-owned
//! condition Unknown (`tryUpdateNodeHealth`'s "NodeReady condition or lease was last set longer
//! ago than gracePeriod" branch).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::health::READY;

/// The conditions set to Unknown. NetworkUnavailable is left alone: the network plugin, not
/// the kubelet, owns it.
pub const KUBELET_CONDITIONS: [&str; 4] = [READY, "MemoryPressure", "DiskPressure", "PIDPressure"];

/// Reason for a condition the kubelet stopped updating.
pub const REASON_STATUS_UNKNOWN: &str = "NodeStatusUnknown";
/// Message for a condition the kubelet stopped updating.
pub const MESSAGE_STATUS_UNKNOWN: &str = "Kubelet stopped posting node status.";
/// Reason for a condition the kubelet never posted.
pub const REASON_NEVER_UPDATED: &str = "NodeStatusNeverUpdated";
/// Message for a condition the kubelet never posted.
pub const MESSAGE_NEVER_UPDATED: &str = "Kubelet never posted node status.";

const UNKNOWN: &str = "Unknown";

/// The node's conditions with every kubelet condition Unknown: missing ones are added as never
/// updated (heartbeat at the node's creation), others flip to Unknown with a new transition
/// time; heartbeats are left as the kubelet last wrote them.
pub fn mark_unknown(node: &Node, now: Timestamp) -> Vec<NodeCondition> {
    let mut conditions = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    for type_ in KUBELET_CONDITIONS {
        match conditions.iter_mut().find(|c| c.type_ == type_) {
            Some(condition) => {
                if condition.status != UNKNOWN {
                    condition.status = UNKNOWN.to_owned();
                    condition.reason = Some(REASON_STATUS_UNKNOWN.to_owned());
                    condition.message = Some(MESSAGE_STATUS_UNKNOWN.to_owned());
                    condition.last_transition_time = Some(Time(now));
                }
            }
            None => conditions.push(NodeCondition {
                type_: type_.to_owned(),
                status: UNKNOWN.to_owned(),
                reason: Some(REASON_NEVER_UPDATED.to_owned()),
                message: Some(MESSAGE_NEVER_UPDATED.to_owned()),
                last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                last_transition_time: Some(Time(now)),
            }),
        }
    }
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(conditions: serde_json::Value) -> Node {
        serde_json::from_value(json!({
            "metadata": {"name": "n", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "status": {"conditions": conditions},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    // Ported from node_lifecycle_controller_test.go TestMonitorNodeHealthUpdateStatus: "Node
    // created long time ago, and kubelet posted NotReady for a short period of time" / "never
    // posted" expectations.
    #[test]
    fn posted_conditions_become_unknown_and_missing_ones_never_updated() {
        let now = Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
        let n = node(json!([
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastHeartbeatTime": "2024-01-01T00:01:00Z", "lastTransitionTime": "2024-01-01T00:01:00Z"},
            {"type": "NetworkUnavailable", "status": "False"},
        ]));
        let got = mark_unknown(&n, now);
        let ready = got.iter().find(|c| c.type_ == "Ready").unwrap_or_else(|| panic!("Ready"));
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
        assert_eq!(ready.last_transition_time, Some(Time(now)));
        assert_eq!(
            ready.last_heartbeat_time.as_ref().map(|t| t.0.to_string()).as_deref(),
            Some("2024-01-01T00:01:00Z")
        );
        let memory =
            got.iter().find(|c| c.type_ == "MemoryPressure").unwrap_or_else(|| panic!("MemoryPressure"));
        assert_eq!(memory.reason.as_deref(), Some("NodeStatusNeverUpdated"));
        assert_eq!(memory.message.as_deref(), Some("Kubelet never posted node status."));
        assert_eq!(
            got.iter().find(|c| c.type_ == "NetworkUnavailable").map(|c| c.status.as_str()),
            Some("False")
        );
        assert_eq!(got.len(), 5);
    }

    #[test]
    fn an_already_unknown_condition_keeps_its_transition_time() {
        let n = node(
            json!([{"type": "Ready", "status": "Unknown", "lastTransitionTime": "2024-01-01T00:01:00Z"}]),
        );
        let got = mark_unknown(&n, Timestamp::UNIX_EPOCH);
        let ready = got.iter().find(|c| c.type_ == "Ready").unwrap_or_else(|| panic!("Ready"));
        assert_eq!(
            ready.last_transition_time.as_ref().map(|t| t.0.to_string()).as_deref(),
            Some("2024-01-01T00:01:00Z")
        );
    }
}
