//! One scheduling decision (`schedulePod`): pre-filter, filter the nodes, score the feasible ones.
//!
//! Scoring is deliberately simple: the node with the fewest pods wins and ties go to the
//! alphabetically first name. That spreads pods evenly and makes every decision reproducible,
//! where upstream's weighted plugins and random tie-breaks would not be.

use super::filters::{ERR_AFFINITY_CONFLICT, ERR_PRE_FILTERED, run_filters};
use super::fit_error::{FitError, Preemption, Status};
use super::pod_info::{Candidates, PodInfo};
use super::snapshot::{NodeInfo, Snapshot};

/// Below this many nodes every node is evaluated (`minFeasibleNodesToFind`).
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The floor of the adaptive percentage (`minFeasibleNodesPercentageToFind`).
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// How many feasible nodes are enough (`numFeasibleNodesToFind` with the adaptive default
/// percentage `50 - nodes/125`, at least 5%): large clusters stop filtering early so a decision
/// costs about the same at 500 nodes as at 10,000. The rotating start spreads the sampling.
pub fn num_feasible_nodes_to_find(all_nodes: usize) -> usize {
    if all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return all_nodes;
    }
    let percentage = 50usize.saturating_sub(all_nodes / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND);
    (all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
}

/// What to do with the pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Bind it to this node.
    Bind {
        /// The chosen node.
        node: String,
    },
    /// It fits nowhere; the error explains why.
    Unschedulable(FitError),
}

/// A decision and where the next pod's filtering should start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The decision.
    pub decision: Decision,
    /// The start index for the next decision (`nextStartNodeIndex`).
    pub next_start: usize,
}

fn unschedulable(pod: &PodInfo, snapshot: &Snapshot) -> FitError {
    FitError {
        num_all_nodes: snapshot.len(),
        pre_filter: None,
        node_statuses: Vec::new(),
        absent: None,
        preemption: if pod.never_preempts { Preemption::NotEligible } else { Preemption::Evaluated },
    }
}

/// Decides where `pod` goes in `snapshot`, filtering from node index `start` onwards.
pub fn schedule(pod: &PodInfo, snapshot: &Snapshot, start: usize) -> Outcome {
    let mut fit_error = unschedulable(pod, snapshot);
    if snapshot.is_empty() {
        return Outcome { decision: Decision::Unschedulable(fit_error), next_start: 0 };
    }
    let all = snapshot.nodes();
    let start = start % all.len();
    let (nodes, rotated): (Vec<&NodeInfo>, bool) = match &pod.candidates {
        Candidates::Conflict => {
            fit_error.pre_filter = Some(ERR_AFFINITY_CONFLICT.to_owned());
            fit_error.absent = Some(Status::unresolvable(ERR_AFFINITY_CONFLICT));
            return Outcome { decision: Decision::Unschedulable(fit_error), next_start: start };
        }
        Candidates::Named(names) => {
            fit_error.absent = Some(Status::unresolvable(ERR_PRE_FILTERED));
            (names.iter().filter_map(|n| snapshot.node(n)).collect(), false)
        }
        Candidates::All => ((0..all.len()).map(|i| &all[(start + i) % all.len()]).collect(), true),
    };
    let wanted = num_feasible_nodes_to_find(nodes.len());
    let mut feasible: Vec<&NodeInfo> = Vec::new();
    for node in &nodes {
        if feasible.len() >= wanted {
            break;
        }
        match run_filters(pod, node) {
            Ok(()) => feasible.push(node),
            Err(status) => fit_error.node_statuses.push((node.name().to_owned(), status)),
        }
    }
    let processed = feasible.len() + fit_error.node_statuses.len();
    let next_start = if rotated { (start + processed) % all.len() } else { start };
    let best =
        feasible.into_iter().min_by(|a, b| a.pod_count().cmp(&b.pod_count()).then(a.name().cmp(b.name())));
    let decision = match best {
        Some(node) => Decision::Bind { node: node.name().to_owned() },
        None => Decision::Unschedulable(fit_error),
    };
    Outcome { decision, next_start }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Node, Pod};
    use serde_json::{Value, json};
    use std::sync::Arc;

    fn node(name: &str, extra: Value) -> Arc<Node> {
        let mut value = json!({
            "metadata": {"name": name},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        });
        if let (Some(obj), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        Arc::new(serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture: {e}")))
    }

    fn pod(spec: Value) -> PodInfo {
        let mut spec = spec;
        spec["containers"] = json!([{"name": "c"}]);
        let p: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": spec}))
                .unwrap_or_else(|e| panic!("fixture: {e}"));
        PodInfo::new(&p)
    }

    fn daemon_pod(node: &str) -> PodInfo {
        pod(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
        }}}}))
    }

    fn control_plane() -> Arc<Node> {
        node(
            "cp",
            json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
        )
    }

    fn message(outcome: Outcome) -> String {
        match outcome.decision {
            Decision::Unschedulable(e) => e.to_string(),
            other => panic!("expected no fit, got {other:?}"),
        }
    }

    #[test]
    fn a_daemon_pod_is_bound_to_exactly_its_node() {
        let s = Snapshot::new([node("a", json!({})), node("b", json!({})), node("c", json!({}))]);
        assert_eq!(schedule(&daemon_pod("b"), &s, 0).decision, Decision::Bind { node: "b".into() });
    }

    #[test]
    fn a_daemon_pod_for_a_tainted_node_reports_both_the_taint_and_the_pre_filter() {
        let s = Snapshot::new([control_plane(), node("a", json!({})), node("b", json!({}))]);
        assert_eq!(
            message(schedule(&daemon_pod("cp"), &s, 0)),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn a_daemon_pod_for_a_missing_node_fits_nowhere() {
        let s = Snapshot::new([node("a", json!({}))]);
        assert_eq!(
            message(schedule(&daemon_pod("gone"), &s, 0)),
            "0/1 nodes are available: 1 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
             preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn the_node_with_fewest_pods_wins_and_ties_go_to_the_first_name() {
        let mut s = Snapshot::new([node("b", json!({})), node("a", json!({})), node("c", json!({}))]);
        assert_eq!(schedule(&pod(json!({})), &s, 2).decision, Decision::Bind { node: "a".into() });
        let one = pod(json!({})).usage;
        s.add_pod("a", &one);
        s.add_pod("b", &one);
        assert_eq!(schedule(&pod(json!({})), &s, 0).decision, Decision::Bind { node: "c".into() });
    }

    #[test]
    fn the_upstream_example_message_for_a_selector_pod() {
        let labelled =
            |name: &str| node(name, json!({"metadata": {"name": name, "labels": {"disk": "hdd"}}}));
        let s = Snapshot::new([control_plane(), labelled("w1"), labelled("w2")]);
        assert_eq!(
            message(schedule(&pod(json!({"nodeSelector": {"disk": "ssd"}})), &s, 0)),
            "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
             2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn conflicting_name_requirements_fail_in_the_pre_filter() {
        let s = Snapshot::new([node("a", json!({})), node("b", json!({}))]);
        let p = pod(json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["a"]},
                {"key": "metadata.name", "operator": "In", "values": ["b"]},
            ]}]
        }}}}));
        assert_eq!(
            message(schedule(&p, &s, 0)),
            "0/2 nodes are available: pod affinity terms conflict. \
             preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
        );
    }

    #[test]
    fn large_clusters_stop_filtering_after_enough_feasible_nodes() {
        assert_eq!(num_feasible_nodes_to_find(50), 50);
        assert_eq!(num_feasible_nodes_to_find(1000), 420);
        assert_eq!(num_feasible_nodes_to_find(10_000), 500);
        assert_eq!(num_feasible_nodes_to_find(150), 100);
    }

    #[test]
    fn the_start_index_rotates_by_the_nodes_processed() {
        let nodes: Vec<Arc<Node>> = (0..300).map(|i| node(&format!("n{i:03}"), json!({}))).collect();
        let s = Snapshot::new(nodes);
        let outcome = schedule(&pod(json!({})), &s, 10);
        assert_eq!(outcome.next_start, 10 + num_feasible_nodes_to_find(300));
    }
}
