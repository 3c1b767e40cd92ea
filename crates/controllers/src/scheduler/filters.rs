//! The Filter plugins of kube-scheduler's default profile that apply to everynode's pods, in
//! upstream order: NodeUnschedulable, TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit.
//! A node fails on the first plugin that rejects it; its reasons use upstream's exact words.

use k8s_openapi::api::core::v1::Taint;

use everynode_api::taints::{NO_EXECUTE, NO_SCHEDULE, find_untolerated, tolerates};

use super::fit_error::Status;
use super::pod_info::PodInfo;
use super::snapshot::NodeInfo;

/// NodeUnschedulable's reason.
pub const ERR_UNSCHEDULABLE: &str = "node(s) were unschedulable";
/// NodeAffinity's reason (`ErrReasonPod`).
pub const ERR_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
/// NodePorts' reason.
pub const ERR_NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
/// NodeAffinity's pre-filter reason when the name requirements cannot all hold.
pub const ERR_AFFINITY_CONFLICT: &str = "pod affinity terms conflict";
/// The reason given for nodes a pre-filter excluded (`node(s) didn't satisfy plugin(s) [...]`).
pub const ERR_PRE_FILTERED: &str = "node(s) didn't satisfy plugin(s) [NodeAffinity]";
/// NodeResourcesFit's reason for a full node.
pub const ERR_TOO_MANY_PODS: &str = "Too many pods";

/// The taint a cordoned node implicitly carries; tolerating it lets a pod onto cordoned nodes.
const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if !node.unschedulable() {
        return Ok(());
    }
    let implied = Taint {
        key: UNSCHEDULABLE_TAINT.to_owned(),
        effect: NO_SCHEDULE.to_owned(),
        value: None,
        time_added: None,
    };
    if pod.tolerations.iter().any(|t| tolerates(t, &implied)) {
        return Ok(());
    }
    Err(Status::unresolvable(ERR_UNSCHEDULABLE))
}

fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let blocking = |t: &Taint| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE;
    match find_untolerated(node.taints(), &pod.tolerations, blocking) {
        None => Ok(()),
        Some(taint) => Err(Status::unresolvable(format!(
            "node(s) had untolerated taint {{{}: {}}}",
            taint.key,
            taint.value.as_deref().unwrap_or_default()
        ))),
    }
}

fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    if pod.affinity.matches(node.name(), node.labels()) {
        Ok(())
    } else {
        Err(Status::unresolvable(ERR_NODE_AFFINITY))
    }
}

fn node_ports(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let conflict = pod
        .usage
        .host_ports
        .iter()
        .any(|wanted| node.used_ports().iter().any(|used| used.conflicts_with(wanted)));
    if conflict { Err(Status::unschedulable(vec![ERR_NODE_PORTS.to_owned()])) } else { Ok(()) }
}

/// `fitsRequest`: a pod slot, then every requested resource against what is left.
fn node_resources_fit(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    let mut reasons = Vec::new();
    let allocatable = node.allocatable();
    let requested = node.requested();
    let wanted = &pod.usage.requests;
    if node.pod_count() + 1 > allocatable.pods {
        reasons.push(ERR_TOO_MANY_PODS.to_owned());
    }
    if !wanted.is_zero() {
        let short = |want: i64, have: i64, used: i64| want > 0 && want > have.saturating_sub(used);
        if short(wanted.milli_cpu, allocatable.milli_cpu, requested.milli_cpu) {
            reasons.push("Insufficient cpu".to_owned());
        }
        if short(wanted.memory, allocatable.memory, requested.memory) {
            reasons.push("Insufficient memory".to_owned());
        }
        if short(wanted.ephemeral_storage, allocatable.ephemeral_storage, requested.ephemeral_storage) {
            reasons.push("Insufficient ephemeral-storage".to_owned());
        }
        for (name, want) in &wanted.scalar {
            let have = allocatable.scalar.get(name).copied().unwrap_or(0);
            let used = requested.scalar.get(name).copied().unwrap_or(0);
            if short(*want, have, used) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
    }
    if reasons.is_empty() { Ok(()) } else { Err(Status::unschedulable(reasons)) }
}

/// Runs the filters in upstream order; the first rejection is the node's status.
pub fn run_filters(pod: &PodInfo, node: &NodeInfo) -> Result<(), Status> {
    node_unschedulable(pod, node)?;
    taint_toleration(pod, node)?;
    node_affinity(pod, node)?;
    node_ports(pod, node)?;
    node_resources_fit(pod, node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::fit_error::Code;
    use crate::scheduler::snapshot::Snapshot;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{Value, json};
    use std::sync::Arc;

    fn node(value: Value) -> Arc<Node> {
        let mut value = value;
        if value.pointer("/status/allocatable").is_none() {
            value["status"] = json!({"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}});
        }
        Arc::new(serde_json::from_value(value).unwrap_or_else(|e| panic!("node fixture: {e}")))
    }

    fn pod(spec: Value) -> PodInfo {
        let mut spec = spec;
        if spec.get("containers").is_none() {
            spec["containers"] = json!([{"name": "c"}]);
        }
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}))
                .unwrap_or_else(|e| panic!("pod fixture: {e}"));
        PodInfo::new(&p)
    }

    fn judge(pod: &PodInfo, node: Arc<Node>) -> Result<(), Status> {
        let snapshot = Snapshot::new([node]);
        run_filters(pod, &snapshot.nodes()[0])
    }

    fn tainted(taints: Value) -> Arc<Node> {
        node(json!({"metadata": {"name": "nodeA"}, "spec": {"taints": taints}}))
    }

    fn reasons(result: Result<(), Status>) -> Vec<String> {
        result.err().map(|s| s.reasons).unwrap_or_default()
    }

    // Ported from taint_toleration_test.go TestTaintTolerationFilter.
    #[test]
    fn taint_toleration_filter() {
        let cases: Vec<(&str, Value, Value, Option<&str>)> = vec![
            (
                "A pod having no tolerations can't be scheduled onto a node with nonempty taints",
                json!([]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                "A pod which can be scheduled on a dedicated node assigned to user1 with effect NoSchedule",
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "A pod which can't be scheduled on a dedicated node assigned to user2 with effect NoSchedule",
                json!([{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "NoSchedule"}]),
                Some("node(s) had untolerated taint {dedicated: user1}"),
            ),
            (
                "A pod can be scheduled onto the node, with a toleration uses operator Exists that tolerates the taints on the node",
                json!([{"key": "foo", "operator": "Exists", "effect": "NoSchedule"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "A pod has multiple tolerations, node has multiple taints, all the taints are tolerated",
                json!([
                    {"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"},
                    {"key": "foo", "operator": "Exists", "effect": "NoSchedule"},
                ]),
                json!([
                    {"key": "dedicated", "value": "user2", "effect": "NoSchedule"},
                    {"key": "foo", "value": "bar", "effect": "NoSchedule"},
                ]),
                None,
            ),
            (
                "A pod has a toleration that keys and values match the taint on the node, but (non-empty) effect doesn't match",
                json!([{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                Some("node(s) had untolerated taint {foo: bar}"),
            ),
            (
                "The pod has a toleration that keys and values match the taint on the node, the effect of toleration is empty",
                json!([{"key": "foo", "operator": "Equal", "value": "bar"}]),
                json!([{"key": "foo", "value": "bar", "effect": "NoSchedule"}]),
                None,
            ),
            (
                "The pod has a toleration that key and value don't match the taint on the node, but the effect of taint on node is PreferNoSchedule",
                json!([{"key": "dedicated", "operator": "Equal", "value": "user2", "effect": "NoSchedule"}]),
                json!([{"key": "dedicated", "value": "user1", "effect": "PreferNoSchedule"}]),
                None,
            ),
            (
                "A NoExecute taint blocks scheduling too",
                json!([]),
                json!([{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}]),
                Some("node(s) had untolerated taint {node.kubernetes.io/unreachable: }"),
            ),
        ];
        for (name, tolerations, taints, want) in cases {
            let got = judge(&pod(json!({"tolerations": tolerations})), tainted(taints));
            match want {
                None => assert_eq!(got, Ok(()), "{name}"),
                Some(reason) => {
                    let status = got.err().unwrap_or_else(|| panic!("{name}: expected a rejection"));
                    assert_eq!(status.code, Code::UnschedulableAndUnresolvable, "{name}");
                    assert_eq!(status.reasons, vec![reason.to_owned()], "{name}");
                }
            }
        }
    }

    // Ported from node_unschedulable_test.go TestNodeUnschedulable.
    #[test]
    fn node_unschedulable_filter() {
        let cordoned = || node(json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}}));
        assert_eq!(reasons(judge(&pod(json!({})), cordoned())), vec![ERR_UNSCHEDULABLE]);
        let tolerant = pod(json!({"tolerations": [
            {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
        ]}));
        assert_eq!(judge(&tolerant, cordoned()), Ok(()));
        let open = node(json!({"metadata": {"name": "n"}, "spec": {"unschedulable": false}}));
        assert_eq!(judge(&pod(json!({})), open), Ok(()));
    }

    #[test]
    fn node_affinity_filter_checks_selector_and_match_fields() {
        let n = || node(json!({"metadata": {"name": "node-1", "labels": {"ssd": "true"}}}));
        assert_eq!(judge(&pod(json!({"nodeSelector": {"ssd": "true"}})), n()), Ok(()));
        assert_eq!(
            reasons(judge(&pod(json!({"nodeSelector": {"ssd": "false"}})), n())),
            vec![ERR_NODE_AFFINITY]
        );
        let pinned = |name: &str| {
            pod(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [name]}]}]
            }}}}))
        };
        assert_eq!(judge(&pinned("node-1"), n()), Ok(()));
        assert_eq!(reasons(judge(&pinned("node-2"), n())), vec![ERR_NODE_AFFINITY]);
    }

    #[test]
    fn taints_are_checked_before_affinity_as_upstream_orders_plugins() {
        let n = node(json!({"metadata": {"name": "cp"}, "spec": {"taints": [
            {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
        ]}}));
        let got = reasons(judge(&pod(json!({"nodeSelector": {"x": "y"}})), n));
        assert_eq!(got, vec!["node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"]);
    }

    // Ported from fit_test.go TestEnoughRequests (the cpu/memory/pods cases).
    #[test]
    fn enough_requests() {
        let full = |cpu: &str, memory: &str, pods: &str| {
            node(
                json!({"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": pods}}}),
            )
        };
        let wants = |cpu: &str, memory: &str| {
            pod(
                json!({"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}),
            )
        };
        let with_load = |node: Arc<Node>, cpu: &str, memory: &str, count: usize| {
            let mut s = Snapshot::new([node]);
            let used = wants(cpu, memory).usage;
            for _ in 0..count {
                s.add_pod("n", &used);
            }
            s
        };
        // no resources requested always fits
        let s = with_load(full("10m", "20", "32"), "10m", "20", 1);
        assert_eq!(run_filters(&pod(json!({})), &s.nodes()[0]), Ok(()));
        // too many resources fails
        let s = with_load(full("10m", "20", "32"), "10m", "20", 1);
        assert_eq!(
            reasons(run_filters(&wants("1m", "1"), &s.nodes()[0])),
            vec!["Insufficient cpu", "Insufficient memory"]
        );
        // equal edge case fits
        let s = with_load(full("10m", "20", "32"), "5m", "19", 1);
        assert_eq!(run_filters(&wants("5m", "1"), &s.nodes()[0]), Ok(()));
        // even for zero requests, the pod count is enforced
        let s = with_load(full("10m", "20", "1"), "0", "0", 1);
        let status = run_filters(&pod(json!({})), &s.nodes()[0]).err();
        assert_eq!(status.as_ref().map(|s| s.code), Some(Code::Unschedulable));
        assert_eq!(status.map(|s| s.reasons), Some(vec![ERR_TOO_MANY_PODS.to_owned()]));
    }

    #[test]
    fn a_node_without_allocatable_fits_no_pod() {
        let bare: Arc<Node> = Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "n"}}))
                .unwrap_or_else(|e| panic!("fixture: {e}")),
        );
        assert_eq!(reasons(judge(&pod(json!({})), bare)), vec![ERR_TOO_MANY_PODS]);
    }

    // Ported from node_ports_test.go TestNodePorts (conflict cases).
    #[test]
    fn node_ports_conflict_on_the_same_protocol_and_port() {
        let with_port = |proto: &str, ip: &str, port: i32| {
            pod(json!({"containers": [{"name": "c", "ports": [
                {"containerPort": port, "hostPort": port, "protocol": proto, "hostIP": ip}
            ]}]}))
        };
        let mut s = Snapshot::new([node(json!({"metadata": {"name": "n"}}))]);
        s.add_pod("n", &with_port("UDP", "127.0.0.1", 8080).usage);
        let n = &s.nodes()[0];
        assert_eq!(
            run_filters(&with_port("UDP", "127.0.0.1", 8080), n).err().map(|s| s.code),
            Some(Code::Unschedulable)
        );
        assert_eq!(run_filters(&with_port("TCP", "127.0.0.1", 8080), n), Ok(()));
        assert_eq!(run_filters(&with_port("UDP", "127.0.0.2", 8080), n), Ok(()));
        assert_eq!(reasons(run_filters(&with_port("UDP", "0.0.0.0", 8080), n)), vec![ERR_NODE_PORTS]);
    }
}
