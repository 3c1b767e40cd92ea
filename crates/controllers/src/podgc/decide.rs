//! One garbage collection pass (`PodGCController.gc`) as a decision: which pods to force-delete
//! and why, given the pods, the nodes, the quarantine book and the time.
//!
//! A pod bound to a node the informer does not know is not deleted at once: the node may just
//! not have reached the cache yet. Its node is quarantined, and only after `quarantine` has
//! passed is it a candidate; the runtime then confirms with a direct GET that the node is really
//! gone (`discoverDeletedNodes`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{Node, Pod};

/// The taint an operator puts on a node that is down for good, so its terminating pods can go
/// (`node.kubernetes.io/out-of-service`).
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

/// Nodes missing from the informer, by name, with when that was first noticed.
pub type Quarantine = HashMap<String, Timestamp>;

/// What a pass decided.
#[derive(Debug, Clone, Default)]
pub struct GcPlan {
    /// Finished pods beyond the threshold, oldest (and evicted) first (`gcTerminated`).
    pub terminated: Vec<Arc<Pod>>,
    /// Terminating pods on not-Ready nodes tainted out-of-service (`gcTerminating`).
    pub out_of_service: Vec<Arc<Pod>>,
    /// Pods bound to nodes missing for longer than the quarantine, by node (`gcOrphaned`); the
    /// runtime deletes them once a GET confirms the node is gone.
    pub orphans: BTreeMap<String, Vec<Arc<Pod>>>,
    /// Terminating pods that were never bound (`gcUnscheduledTerminating`).
    pub unscheduled_terminating: Vec<Arc<Pod>>,
    /// The quarantine after this pass.
    pub quarantine: Quarantine,
}

fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or_default()
}

/// `isPodTerminated`: anything but Pending, Running and Unknown (a pod without a phase yet
/// counts as finished, as upstream's check does).
fn terminated(pod: &Pod) -> bool {
    !matches!(phase(pod), "Pending" | "Running" | "Unknown")
}

/// `eviction.PodIsEvicted`.
fn evicted(pod: &Pod) -> bool {
    phase(pod) == "Failed" && pod.status.as_ref().and_then(|s| s.reason.as_deref()) == Some("Evicted")
}

fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn out_of_service(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| ts.iter().any(|t| t.key == OUT_OF_SERVICE_TAINT))
}

/// Decides a pass. `terminated_threshold` 0 disables the terminated-pod collection.
pub fn decide(
    pods: &[Arc<Pod>],
    nodes: &[Arc<Node>],
    quarantine: &Quarantine,
    quarantine_time: Duration,
    terminated_threshold: usize,
    now: Timestamp,
) -> GcPlan {
    let mut plan = GcPlan::default();
    let mut chosen: HashSet<*const Pod> = HashSet::new();
    let by_name: HashMap<&str, &Node> =
        nodes.iter().filter_map(|n| n.metadata.name.as_deref().map(|name| (name, n.as_ref()))).collect();

    if terminated_threshold > 0 {
        let mut finished: Vec<&Arc<Pod>> = pods.iter().filter(|p| terminated(p)).collect();
        if finished.len() > terminated_threshold {
            finished.sort_by(|a, b| {
                evicted(b)
                    .cmp(&evicted(a))
                    .then_with(|| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
                    .then_with(|| a.metadata.name.cmp(&b.metadata.name))
            });
            let excess = finished.len() - terminated_threshold;
            for pod in finished.into_iter().take(excess) {
                chosen.insert(Arc::as_ptr(pod));
                plan.terminated.push(pod.clone());
            }
        }
    }

    for pod in pods {
        if pod.metadata.deletion_timestamp.is_none() || chosen.contains(&Arc::as_ptr(pod)) {
            continue;
        }
        if let Some(node) = node_name(pod).and_then(|n| by_name.get(n))
            && !is_ready(node)
            && out_of_service(node)
        {
            chosen.insert(Arc::as_ptr(pod));
            plan.out_of_service.push(pod.clone());
        }
    }

    let wait = SignedDuration::try_from(quarantine_time).unwrap_or(SignedDuration::MAX);
    for pod in pods {
        let Some(node) = node_name(pod) else { continue };
        if by_name.contains_key(node) {
            continue;
        }
        let since = *plan
            .quarantine
            .entry(node.to_owned())
            .or_insert_with(|| quarantine.get(node).copied().unwrap_or(now));
        let released = since.checked_add(wait).is_ok_and(|at| at <= now);
        if released && !chosen.contains(&Arc::as_ptr(pod)) {
            chosen.insert(Arc::as_ptr(pod));
            plan.orphans.entry(node.to_owned()).or_default().push(pod.clone());
        }
    }

    for pod in pods {
        if pod.metadata.deletion_timestamp.is_some()
            && node_name(pod).is_none()
            && !chosen.contains(&Arc::as_ptr(pod))
        {
            plan.unscheduled_terminating.push(pod.clone());
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn pod(name: &str, node: &str, phase: &str, extra: Value) -> Arc<Pod> {
        let mut value = json!({
            "metadata": {"name": name, "namespace": "default", "creationTimestamp": t(0).to_string()},
            "spec": {"nodeName": node, "containers": [{"name": "c"}]},
            "status": {"phase": phase},
        });
        if let Some(meta) = extra.get("metadata").and_then(Value::as_object) {
            for (k, v) in meta {
                value["metadata"][k] = v.clone();
            }
        }
        if let Some(status) = extra.get("status").and_then(Value::as_object) {
            for (k, v) in status {
                value["status"][k] = v.clone();
            }
        }
        Arc::new(serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}")))
    }

    fn node(name: &str, ready: &str, taints: Value) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name},
                "spec": {"taints": taints},
                "status": {"conditions": [{"type": "Ready", "status": ready}]},
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        )
    }

    fn names(pods: &[Arc<Pod>]) -> Vec<&str> {
        pods.iter().map(|p| p.metadata.name.as_deref().unwrap_or_default()).collect()
    }

    const QUARANTINE: Duration = Duration::from_secs(40);

    // Ported from gc_controller_test.go TestGCOrphaned: "orphaned pods are deleted only after
    // the quarantine", "pods on existing nodes are kept".
    #[test]
    fn gc_orphaned_waits_for_the_quarantine() {
        let pods =
            vec![pod("a", "deleted", "Running", json!({})), pod("b", "existing", "Running", json!({}))];
        let nodes = vec![node("existing", "True", json!([]))];
        let first = decide(&pods, &nodes, &Quarantine::new(), QUARANTINE, 0, t(0));
        assert!(first.orphans.is_empty());
        assert_eq!(first.quarantine.get("deleted"), Some(&t(0)));
        let early = decide(&pods, &nodes, &first.quarantine, QUARANTINE, 0, t(39));
        assert!(early.orphans.is_empty());
        let due = decide(&pods, &nodes, &early.quarantine, QUARANTINE, 0, t(40));
        assert_eq!(due.orphans.keys().collect::<Vec<_>>(), ["deleted"]);
        assert_eq!(names(&due.orphans["deleted"]), ["a"]);
    }

    #[test]
    fn a_node_that_shows_up_leaves_quarantine() {
        let pods = vec![pod("a", "late", "Running", json!({}))];
        let first = decide(&pods, &[], &Quarantine::new(), QUARANTINE, 0, t(0));
        let arrived =
            decide(&pods, &[node("late", "True", json!([]))], &first.quarantine, QUARANTINE, 0, t(50));
        assert!(arrived.orphans.is_empty());
        assert!(arrived.quarantine.is_empty());
    }

    // Ported from TestGCTerminated: the oldest finished pods beyond the threshold go, evicted
    // ones first.
    #[test]
    fn gc_terminated() {
        let mut pods: Vec<Arc<Pod>> = (0..4)
            .map(|i| {
                pod(
                    &format!("done-{i}"),
                    "n",
                    "Succeeded",
                    json!({"metadata": {"creationTimestamp": t(i).to_string()}}),
                )
            })
            .collect();
        pods.push(pod(
            "evicted",
            "n",
            "Failed",
            json!({"metadata": {"creationTimestamp": t(9).to_string()}, "status": {"reason": "Evicted"}}),
        ));
        pods.push(pod("running", "n", "Running", json!({})));
        let nodes = vec![node("n", "True", json!([]))];
        let plan = decide(&pods, &nodes, &Quarantine::new(), QUARANTINE, 3, t(0));
        assert_eq!(names(&plan.terminated), ["evicted", "done-0"]);
        assert!(decide(&pods, &nodes, &Quarantine::new(), QUARANTINE, 0, t(0)).terminated.is_empty());
    }

    // Ported from TestGCTerminating: only terminating pods on not-Ready out-of-service nodes.
    #[test]
    fn gc_terminating_on_out_of_service_nodes() {
        let deleting = json!({"metadata": {"deletionTimestamp": t(0).to_string()}});
        let pods = vec![
            pod("a", "down", "Running", deleting.clone()),
            pod("b", "down", "Running", json!({})),
            pod("c", "ready", "Running", deleting.clone()),
            pod("d", "not-ready", "Running", deleting),
        ];
        let oos = json!([{"key": OUT_OF_SERVICE_TAINT, "value": "nodeshutdown", "effect": "NoExecute"}]);
        let nodes = vec![
            node("down", "False", oos.clone()),
            node("ready", "True", oos),
            node("not-ready", "False", json!([])),
        ];
        let plan = decide(&pods, &nodes, &Quarantine::new(), QUARANTINE, 0, t(0));
        assert_eq!(names(&plan.out_of_service), ["a"]);
    }

    // Ported from TestGCUnscheduledTerminating.
    #[test]
    fn gc_unscheduled_terminating() {
        let deleting = json!({"metadata": {"deletionTimestamp": t(0).to_string()}});
        let pods = vec![
            pod("a", "", "Pending", deleting.clone()),
            pod("b", "", "Pending", json!({})),
            pod("c", "n", "Running", deleting),
        ];
        let plan = decide(&pods, &[node("n", "True", json!([]))], &Quarantine::new(), QUARANTINE, 0, t(0));
        assert_eq!(names(&plan.unscheduled_terminating), ["a"]);
    }

    #[test]
    fn terminating_pods_on_deleted_nodes_are_orphans_too() {
        let pods =
            vec![pod("a", "gone", "Running", json!({"metadata": {"deletionTimestamp": t(0).to_string()}}))];
        let first = decide(&pods, &[], &Quarantine::new(), QUARANTINE, 0, t(0));
        let due = decide(&pods, &[], &first.quarantine, QUARANTINE, 0, t(41));
        assert_eq!(names(&due.orphans["gone"]), ["a"]);
    }
}
