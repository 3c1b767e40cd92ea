//! The status a simulated kubelet reports for its node, and when it must report it again.
//!
//! With node leases, the kubelet writes its status only when something changed or, as a
//! heartbeat, every `nodeStatusReportFrequency` (5 min); the Lease carries liveness in between.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    DaemonEndpoint, Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::{Value, json};

use super::schedule;
use crate::clock::time;
use crate::fingerprint;

/// The Kubernetes version the simulated kubelets claim.
pub const KUBELET_VERSION: &str = "v1.37.0";
/// The container runtime they claim.
pub const CONTAINER_RUNTIME_VERSION: &str = "containerd://2.1.4";
/// The OS image they claim.
pub const OS_IMAGE: &str = "everynode simulated node (Debian GNU/Linux 12)";
/// The kernel they claim.
pub const KERNEL_VERSION: &str = "6.8.0-everynode";
/// The kubelet's port.
const KUBELET_PORT: i32 = 10250;
/// How often an unchanged status is reported (`nodeStatusReportFrequency`).
pub const STATUS_REPORT_INTERVAL: Duration = Duration::from_secs(300);

/// The kind name of status heartbeats in [`schedule`] (separates their slots from leases').
const SLOT_KIND: &str = "status";

/// `(type, status, reason, message)` of the conditions a healthy kubelet reports.
const HEALTHY: [(&str, &str, &str, &str); 4] = [
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
];

/// The healthy conditions at `now`; a condition that already had the same status keeps its
/// `lastTransitionTime`. Conditions of other types (set by others) follow unchanged.
pub fn healthy_conditions(observed: &[NodeCondition], now: Timestamp) -> Vec<NodeCondition> {
    let mut conditions: Vec<NodeCondition> = HEALTHY
        .iter()
        .map(|(type_, status, reason, message)| {
            let since = observed
                .iter()
                .find(|c| c.type_ == *type_ && c.status == *status)
                .and_then(|c| c.last_transition_time.clone())
                .unwrap_or_else(|| time(now));
            NodeCondition {
                type_: (*type_).to_owned(),
                status: (*status).to_owned(),
                reason: Some((*reason).to_owned()),
                message: Some((*message).to_owned()),
                last_heartbeat_time: Some(time(now)),
                last_transition_time: Some(since),
            }
        })
        .collect();
    for c in observed {
        if !HEALTHY.iter().any(|(type_, ..)| *type_ == c.type_) {
            conditions.push(c.clone());
        }
    }
    conditions
}

/// The machine facts of node `name` (stable IDs derived from the name).
pub fn node_info(name: &str) -> NodeSystemInfo {
    NodeSystemInfo {
        architecture: "amd64".to_owned(),
        boot_id: fingerprint::hex(32, &["boot", name]),
        container_runtime_version: CONTAINER_RUNTIME_VERSION.to_owned(),
        kernel_version: KERNEL_VERSION.to_owned(),
        kube_proxy_version: String::new(),
        kubelet_version: KUBELET_VERSION.to_owned(),
        machine_id: fingerprint::hex(32, &["machine", name]),
        operating_system: "linux".to_owned(),
        os_image: OS_IMAGE.to_owned(),
        system_uuid: fingerprint::hex(32, &["uuid", name]),
        ..NodeSystemInfo::default()
    }
}

/// InternalIP and Hostname addresses.
pub fn addresses(name: &str, internal_ip: Ipv4Addr) -> Vec<NodeAddress> {
    vec![
        NodeAddress { type_: "InternalIP".to_owned(), address: internal_ip.to_string() },
        NodeAddress { type_: "Hostname".to_owned(), address: name.to_owned() },
    ]
}

fn quantities(capacity: &BTreeMap<String, String>) -> BTreeMap<String, Quantity> {
    capacity.iter().map(|(k, v)| (k.clone(), Quantity(v.clone()))).collect()
}

/// The full status a kubelet registers its node with.
pub fn registration_status(
    name: &str,
    internal_ip: Ipv4Addr,
    capacity: &BTreeMap<String, String>,
    now: Timestamp,
) -> NodeStatus {
    NodeStatus {
        addresses: Some(addresses(name, internal_ip)),
        allocatable: Some(quantities(capacity)),
        capacity: Some(quantities(capacity)),
        conditions: Some(healthy_conditions(&[], now)),
        daemon_endpoints: Some(daemon_endpoints()),
        node_info: Some(node_info(name)),
        ..NodeStatus::default()
    }
}

fn daemon_endpoints() -> NodeDaemonEndpoints {
    NodeDaemonEndpoints { kubelet_endpoint: Some(DaemonEndpoint { port: KUBELET_PORT }) }
}

/// What a node's status needs.
#[derive(Debug, Clone, PartialEq)]
pub enum StatusDecision {
    /// Reported recently and unchanged; look again at `next`.
    UpToDate {
        /// When the next heartbeat is due.
        next: Timestamp,
    },
    /// Write `patch` (a JSON merge patch of `nodes/status`).
    Write {
        /// The patch.
        patch: Value,
        /// Whether the node turns Ready with it (worth a `NodeReady` event).
        becomes_ready: bool,
        /// Why, for logs.
        why: &'static str,
    },
}

/// Decides whether `node` (healthy, not failed) must report its status at `now`.
/// `internal_ip` is used when the node shows no InternalIP yet; `capacity` when it shows none.
pub fn decide(
    node: &Node,
    internal_ip: Ipv4Addr,
    capacity: &BTreeMap<String, String>,
    report_interval: Duration,
    now: Timestamp,
) -> StatusDecision {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let status = node.status.clone().unwrap_or_default();
    let observed = status.conditions.as_deref().unwrap_or_default();
    let mut patch = serde_json::Map::new();
    let mut why = None;
    if status.addresses.as_ref().is_none_or(|a| !a.iter().any(|a| a.type_ == "InternalIP")) {
        patch.insert("addresses".into(), json!(addresses(name, internal_ip)));
        why = why.or(Some("addresses missing"));
    }
    if status.capacity.as_ref().is_none_or(BTreeMap::is_empty) {
        patch.insert("capacity".into(), json!(quantities(capacity)));
        why = why.or(Some("capacity missing"));
    }
    if status.allocatable.as_ref().is_none_or(BTreeMap::is_empty) {
        let allocatable =
            status.capacity.clone().filter(|c| !c.is_empty()).unwrap_or_else(|| quantities(capacity));
        patch.insert("allocatable".into(), json!(allocatable));
        why = why.or(Some("allocatable missing"));
    }
    if status.node_info.as_ref().is_none_or(|i| i.kubelet_version.is_empty()) {
        patch.insert("nodeInfo".into(), json!(node_info(name)));
        why = why.or(Some("nodeInfo missing"));
    }
    if status.daemon_endpoints.as_ref().and_then(|d| d.kubelet_endpoint.as_ref()).is_none() {
        patch.insert("daemonEndpoints".into(), json!(daemon_endpoints()));
    }
    let unhealthy = HEALTHY.iter().any(|(type_, want, reason, _)| {
        !observed
            .iter()
            .any(|c| c.type_ == *type_ && c.status == *want && c.reason.as_deref() == Some(*reason))
    });
    if unhealthy {
        why = why.or(Some("conditions changed"));
    }
    let becomes_ready = !observed.iter().any(|c| c.type_ == "Ready" && c.status == "True");
    let last_heartbeat = HEALTHY
        .iter()
        .filter_map(|(type_, ..)| observed.iter().find(|c| c.type_ == *type_))
        .filter_map(|c| c.last_heartbeat_time.as_ref().map(|t| t.0))
        .min();
    if why.is_none() {
        let due =
            last_heartbeat.map_or(now, |last| schedule::after_write(name, SLOT_KIND, last, report_interval));
        if now < due {
            return StatusDecision::UpToDate { next: due };
        }
        why = Some("heartbeat");
    }
    patch.insert("conditions".into(), json!(healthy_conditions(observed, now)));
    StatusDecision::Write {
        patch: json!({ "status": patch }),
        becomes_ready,
        why: why.unwrap_or("heartbeat"),
    }
}

/// When the status heartbeat after one written at `written_at` is due.
pub fn next_report(name: &str, written_at: Timestamp, report_interval: Duration) -> Timestamp {
    schedule::after_write(name, SLOT_KIND, written_at, report_interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::after;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    fn registered(now: Timestamp) -> Node {
        let status = registration_status(
            "worker-1",
            Ipv4Addr::new(172, 16, 0, 2),
            &crate::fleet::default_capacity(),
            now,
        );
        let node = Node {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("worker-1".into()),
                ..Default::default()
            },
            status: Some(status),
            ..Node::default()
        };
        serde_json::from_value(serde_json::to_value(node).unwrap()).unwrap()
    }

    fn decide_at(node: &Node, now: Timestamp) -> StatusDecision {
        decide(
            node,
            Ipv4Addr::new(172, 16, 0, 9),
            &crate::fleet::default_capacity(),
            STATUS_REPORT_INTERVAL,
            now,
        )
    }

    #[test]
    fn a_registered_node_reports_again_only_at_its_heartbeat_slot() {
        let node = registered(t(1000));
        let StatusDecision::UpToDate { next } = decide_at(&node, t(1001)) else { panic!() };
        let wait = crate::clock::until(t(1000), next);
        assert!(wait >= Duration::from_secs(150) && wait < Duration::from_secs(450), "{wait:?}");
        let StatusDecision::Write { patch, becomes_ready, why } = decide_at(&node, next) else { panic!() };
        assert_eq!(why, "heartbeat");
        assert!(!becomes_ready);
        let conditions = patch["status"]["conditions"].as_array().unwrap();
        let ready = conditions.iter().find(|c| c["type"] == "Ready").unwrap();
        assert_eq!(ready["lastTransitionTime"], "1970-01-01T00:16:40Z", "transition kept");
        assert_ne!(ready["lastHeartbeatTime"], ready["lastTransitionTime"]);
        assert!(patch["status"].get("nodeInfo").is_none(), "only what changed is written");
    }

    #[test]
    fn a_node_marked_not_ready_by_someone_else_reports_ready_at_once() {
        let mut node = registered(t(1000));
        let conditions = node.status.as_mut().unwrap().conditions.as_mut().unwrap();
        for c in conditions.iter_mut() {
            c.status = "Unknown".into();
            c.reason = Some("NodeStatusUnknown".into());
        }
        let StatusDecision::Write { patch, becomes_ready, why } = decide_at(&node, t(1010)) else { panic!() };
        assert_eq!(why, "conditions changed");
        assert!(becomes_ready);
        let ready = patch["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .cloned()
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert_eq!(ready["lastTransitionTime"], "1970-01-01T00:16:50Z", "a new transition");
    }

    #[test]
    fn a_node_created_by_hand_gets_everything_filled_in() {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "by-hand"}})).unwrap();
        let StatusDecision::Write { patch, becomes_ready, .. } = decide_at(&node, t(50)) else { panic!() };
        assert!(becomes_ready);
        let status = &patch["status"];
        assert_eq!(status["addresses"][0], json!({"type": "InternalIP", "address": "172.16.0.9"}));
        assert_eq!(status["addresses"][1], json!({"type": "Hostname", "address": "by-hand"}));
        assert_eq!(status["capacity"]["pods"], "110");
        assert_eq!(status["allocatable"]["cpu"], "4");
        assert_eq!(status["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
        assert_eq!(status["conditions"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn conditions_of_other_owners_are_kept() {
        let mut node = registered(t(0));
        node.status.as_mut().unwrap().conditions.as_mut().unwrap().push(NodeCondition {
            type_: "NetworkUnavailable".into(),
            status: "False".into(),
            ..Default::default()
        });
        let all = healthy_conditions(
            node.status.as_ref().unwrap().conditions.as_deref().unwrap(),
            after(t(0), Duration::from_secs(1)),
        );
        assert_eq!(all.len(), 5);
        assert_eq!(all[4].type_, "NetworkUnavailable");
    }
}
