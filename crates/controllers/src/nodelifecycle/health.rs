//! When the controller last saw a node alive (`nodeHealthData`): the local time at which its
//! Ready heartbeat or its Lease last changed.
//!
//! Upstream measures silence with the controller's own clock, not the timestamps the kubelet
//! writes, so clock skew between nodes and the control plane cannot fake or hide a heartbeat;
//! `leaseDurationSeconds` plays no part. A restarted controller therefore gives every node a
//! fresh grace period.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition};

/// The Ready condition type.
pub const READY: &str = "Ready";

/// `ts + d`, saturating.
pub fn after(ts: Timestamp, d: Duration) -> Timestamp {
    let d = SignedDuration::try_from(d).unwrap_or(SignedDuration::MAX);
    ts.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// A node's Ready condition, if it has one.
pub fn ready_condition(node: &Node) -> Option<&NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == READY)
}

/// The Ready condition's status (`True`, `False`, `Unknown`), `None` without a condition.
pub fn ready_status(node: &Node) -> Option<&str> {
    ready_condition(node).map(|c| c.status.as_str())
}

/// What the controller remembers about one node between passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeHealth {
    /// Local time of the last sign of life (`probeTimestamp`).
    pub probe: Timestamp,
    /// The Ready heartbeat last seen; `None` when the node had no Ready condition.
    saved_ready: Option<Option<Timestamp>>,
    /// The Lease renew time last seen.
    lease_renew: Option<Timestamp>,
    /// The Ready status at the end of the previous pass (for `NodeNotReady` events).
    pub last_ready_status: Option<String>,
    /// Whether this not-Ready episode's pods have been marked not ready (`nodesToRetry`'s
    /// complement): set by the runtime once every pod update succeeded.
    pub pods_marked_not_ready: bool,
}

fn heartbeat(condition: &NodeCondition) -> Option<Timestamp> {
    condition.last_heartbeat_time.as_ref().map(|t| t.0)
}

fn renew_time(lease: &Lease) -> Option<Timestamp> {
    lease.spec.as_ref()?.renew_time.as_ref().map(|t| t.0)
}

impl NodeHealth {
    /// Folds the node's current status and Lease into what was known (`tryUpdateNodeHealth`'s
    /// bookkeeping). A node seen for the first time without a Ready condition is dated from its
    /// creation, so the startup grace period runs from when it registered.
    pub fn observe(
        previous: Option<&NodeHealth>,
        node: &Node,
        lease: Option<&Lease>,
        now: Timestamp,
    ) -> NodeHealth {
        let current = ready_condition(node);
        let mut health = match previous {
            Some(previous) => {
                let mut health = previous.clone();
                match (&previous.saved_ready, current) {
                    (None, Some(c)) => {
                        health.probe = now;
                        health.saved_ready = Some(heartbeat(c));
                    }
                    (Some(_), None) => {
                        health.probe = now;
                        health.saved_ready = None;
                    }
                    (Some(saved), Some(c)) if *saved != heartbeat(c) => {
                        health.probe = now;
                        health.saved_ready = Some(heartbeat(c));
                    }
                    _ => {}
                }
                health
            }
            None => {
                let created = node.metadata.creation_timestamp.as_ref().map(|t| t.0);
                NodeHealth {
                    probe: if current.is_some() { now } else { created.unwrap_or(now) },
                    saved_ready: current.map(heartbeat),
                    lease_renew: None,
                    last_ready_status: None,
                    pods_marked_not_ready: false,
                }
            }
        };
        if let Some(renewed) = lease.and_then(renew_time)
            && health.lease_renew.is_none_or(|seen| seen < renewed)
        {
            health.lease_renew = Some(renewed);
            health.probe = now;
        }
        health
    }

    /// Remembers a Ready condition the controller itself wrote, so its own write is not taken
    /// for a heartbeat.
    pub fn saw_own_ready(&mut self, condition: Option<&NodeCondition>) {
        self.saved_ready = condition.map(heartbeat);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn node(heartbeat: Option<i64>) -> Node {
        let mut value = json!({"metadata": {"name": "n", "creationTimestamp": t(-100).to_string()}});
        if let Some(h) = heartbeat {
            value["status"] = json!({"conditions": [
                {"type": "Ready", "status": "True", "lastHeartbeatTime": t(h).to_string()}
            ]});
        }
        serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    fn lease(renewed: i64) -> Lease {
        serde_json::from_value(
            json!({"metadata": {"name": "n"}, "spec": {"renewTime": t(renewed).to_string()}}),
        )
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn a_new_node_without_status_is_dated_from_its_creation() {
        let h = NodeHealth::observe(None, &node(None), None, t(0));
        assert_eq!(h.probe, t(-100));
    }

    #[test]
    fn a_changed_heartbeat_or_renewed_lease_is_a_sign_of_life() {
        let first = NodeHealth::observe(None, &node(Some(0)), Some(&lease(0)), t(0));
        let silent = NodeHealth::observe(Some(&first), &node(Some(0)), Some(&lease(0)), t(30));
        assert_eq!(silent.probe, t(0), "nothing changed");
        let heartbeat = NodeHealth::observe(Some(&silent), &node(Some(31)), Some(&lease(0)), t(40));
        assert_eq!(heartbeat.probe, t(40));
        let renewed = NodeHealth::observe(Some(&heartbeat), &node(Some(31)), Some(&lease(45)), t(50));
        assert_eq!(renewed.probe, t(50));
        let stale = NodeHealth::observe(Some(&renewed), &node(Some(31)), Some(&lease(44)), t(60));
        assert_eq!(stale.probe, t(50), "an older renew time is not a renewal");
    }

    #[test]
    fn the_controllers_own_write_is_not_a_heartbeat() {
        let first = NodeHealth::observe(None, &node(None), None, t(0));
        let mut after_write = first.clone();
        let written = node(Some(-100));
        after_write.saw_own_ready(ready_condition(&written));
        let next = NodeHealth::observe(Some(&after_write), &written, None, t(10));
        assert_eq!(next.probe, first.probe);
    }
}
