//! What a DaemonSet would do on a fleet: where it runs, why not elsewhere, and the status it
//! would report once its new pods are up.
//!
//! The status is not estimated but computed by the real controller core: sync once on the given
//! pods, carry out that sync's creates in memory as if the scheduler bound each pod to its node
//! and the kubelet reported it Running and Ready at once, then sync again and take that sync's
//! counts. Deletes are not carried out, so pods the controller would remove (misscheduled ones, old
//! revisions a rollout replaces) still show in the counts, as they do right after the creates.

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use everynode_core::backoff::FailedPodBackoff;
use everynode_core::constants::BURST_REPLICAS;
use everynode_core::plan::{PodCreate, Stop};
use everynode_core::status::StatusCounts;
use everynode_core::{Placement, PlacementRules, Snapshot, sync};

/// The fleet and what already runs on it.
#[derive(Debug, Clone, Copy)]
pub struct Fleet<'a> {
    pub nodes: &'a [Node],
    /// Pods of any namespace; a pod without a namespace is taken to be in the DaemonSet's.
    pub pods: &'a [Pod],
    /// ControllerRevisions, same namespace rule as pods.
    pub revisions: &'a [ControllerRevision],
}

/// The verdict for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeVerdict {
    pub node: String,
    pub placement: Placement,
    /// Why the node does not fully qualify, in words; empty when the daemon runs there.
    pub reasons: Vec<String>,
}

/// What the DaemonSet would do.
#[derive(Debug, Clone, PartialEq)]
pub struct Forecast {
    /// One verdict per node, sorted by node name.
    pub nodes: Vec<NodeVerdict>,
    /// The current revision's hash (`controller-revision-hash` of the new pods).
    pub revision_hash: String,
    /// Pods the first sync creates (at most the burst limit).
    pub first_sync_creates: usize,
    /// Pods the first sync deletes.
    pub first_sync_deletes: usize,
    /// Pods created before the counts were taken: the first sync's, plus later syncs' when the
    /// first was cut short by the burst limit.
    pub total_creates: usize,
    /// The status counts right after the creates, with the new pods Ready.
    pub counts: StatusCounts,
    /// Why the controller would not act at all, if so.
    pub stopped: Option<String>,
    /// Problems that did not stop the controller.
    pub warnings: Vec<String>,
}

/// A uid for a DaemonSet read from a manifest, which has none until the API server assigns one.
/// Pods whose controller reference names the DaemonSet by kind and name are taken to be its own
/// (see [`forecast`]).
fn manifest_uid(ds: &DaemonSet) -> String {
    let meta = &ds.metadata;
    format!(
        "everynode-plan/{}/{}",
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

fn in_namespace(object_namespace: Option<&str>, namespace: &str) -> bool {
    object_namespace.is_none_or(|ns| ns.is_empty() || ns == namespace)
}

/// Forecasts `ds` (as admitted: defaulted and valid) on `fleet` at `now`.
///
/// A DaemonSet from a manifest has no uid, but pods exported from a cluster carry the uid of the
/// live DaemonSet in their controller reference. So that `--pods` describes "the pods this
/// DaemonSet already has", a uid-less DaemonSet gets a made-up one and pods controlled by a
/// DaemonSet of the same name are re-pointed at it.
pub fn forecast(ds: &DaemonSet, fleet: Fleet<'_>, now: Timestamp) -> Forecast {
    let mut ds = ds.clone();
    let namespace = ds.metadata.namespace.clone().unwrap_or_default();
    let adopt_by_name = ds.metadata.uid.is_none();
    if adopt_by_name {
        ds.metadata.uid = Some(manifest_uid(&ds));
    }
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let name = ds.metadata.name.clone().unwrap_or_default();

    let mut pods: Vec<Pod> = fleet
        .pods
        .iter()
        .filter(|p| in_namespace(p.metadata.namespace.as_deref(), &namespace))
        .cloned()
        .collect();
    for pod in &mut pods {
        pod.metadata.namespace = Some(namespace.clone());
        if !adopt_by_name {
            continue;
        }
        for owner in pod.metadata.owner_references.iter_mut().flatten() {
            if owner.controller == Some(true) && owner.kind == "DaemonSet" && owner.name == name {
                owner.uid.clone_from(&uid);
            }
        }
    }
    let mut revisions: Vec<ControllerRevision> = fleet
        .revisions
        .iter()
        .filter(|r| in_namespace(r.metadata.namespace.as_deref(), &namespace))
        .cloned()
        .collect();

    let rules = PlacementRules::new(&ds);
    let mut verdicts: Vec<NodeVerdict> = fleet
        .nodes
        .iter()
        .map(|node| {
            let placement = rules.placement(node);
            let reasons = if placement.should_run {
                Vec::new()
            } else {
                rules.explain(node).iter().map(ToString::to_string).collect()
            };
            NodeVerdict { node: node.metadata.name.clone().unwrap_or_default(), placement, reasons }
        })
        .collect();
    verdicts.sort_by(|a, b| a.node.cmp(&b.node));

    let backoff = FailedPodBackoff::default();
    let nodes: Vec<&Node> = fleet.nodes.iter().collect();
    let mut out = Forecast {
        nodes: verdicts,
        revision_hash: String::new(),
        first_sync_creates: 0,
        first_sync_deletes: 0,
        total_creates: 0,
        counts: StatusCounts::default(),
        stopped: None,
        warnings: Vec::new(),
    };
    // Each sync creates at most BURST_REPLICAS pods, so a fleet needing more takes several syncs:
    // while a sync was cut short by the limit, its creates are carried out and the next one runs
    // too. The counts are always those of a sync that saw every create carried out before it.
    let max_rounds = fleet.nodes.len() / BURST_REPLICAS + 2;
    let mut carry_out = true;
    for round in 0..max_rounds {
        let plan = sync(&Snapshot {
            daemon_set: &ds,
            nodes: nodes.clone(),
            pods: pods.iter().collect(),
            revisions: revisions.iter().collect(),
            now,
            expectations_satisfied: true,
            backoff: &backoff,
        });
        out.counts = plan.counts;
        out.revision_hash.clone_from(&plan.history.hash);
        if round == 0 {
            out.first_sync_creates = plan.creates.len();
            out.first_sync_deletes = plan.deletes.len();
            out.stopped = plan.stop.as_ref().map(describe_stop);
        }
        for warning in plan.warnings {
            if !out.warnings.contains(&warning) {
                out.warnings.push(warning);
            }
        }
        if !carry_out || plan.creates.is_empty() || round + 1 == max_rounds {
            break;
        }
        carry_out = plan.creates.len() >= BURST_REPLICAS;
        if let Some(rev) = plan.history.create {
            revisions.push(rev);
        }
        for create in plan.creates {
            out.total_creates += 1;
            pods.push(running_and_ready(create, out.total_creates, now));
        }
    }
    out
}

fn describe_stop(stop: &Stop) -> String {
    match stop {
        Stop::SelectingAll => "the selector is empty and would select every pod".to_string(),
        Stop::BeingDeleted => "the DaemonSet is being deleted".to_string(),
        Stop::InvalidSelector(e) => format!("invalid selector: {e}"),
    }
}

/// The pod a create becomes once the API server named it, the scheduler bound it to its node and
/// the kubelet reported it Running and Ready, all at `now`.
fn running_and_ready(create: PodCreate, serial: usize, now: Timestamp) -> Pod {
    let PodCreate { node, mut pod } = create;
    let prefix = pod.metadata.generate_name.clone().unwrap_or_default();
    pod.metadata.name = Some(format!("{prefix}{serial:05}"));
    pod.metadata.uid = Some(format!("everynode-plan-pod-{serial}"));
    pod.metadata.creation_timestamp = Some(Time(now));
    if let Some(spec) = pod.spec.as_mut() {
        spec.node_name = Some(node);
    }
    pod.status = Some(PodStatus {
        phase: Some("Running".to_string()),
        conditions: Some(vec![PodCondition {
            type_: "Ready".to_string(),
            status: "True".to_string(),
            last_transition_time: Some(Time(now)),
            ..Default::default()
        }]),
        ..Default::default()
    });
    pod
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::admission::admit;

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap()
    }

    fn agent() -> DaemonSet {
        let ds = serde_json::from_value(json!({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "kube-system"},
            "spec": {
                "selector": {"matchLabels": {"app": "agent"}},
                "template": {
                    "metadata": {"labels": {"app": "agent"}},
                    "spec": {"containers": [{"name": "agent", "image": "agent:v1"}]}
                }
            }
        }))
        .unwrap();
        admit(ds).unwrap()
    }

    fn nodes(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| serde_json::from_value(json!({"metadata": {"name": format!("node-{i:04}")}})).unwrap())
            .collect()
    }

    #[test]
    fn fleets_beyond_the_burst_limit_are_counted_once_every_sync_has_created() {
        let fleet = nodes(600);
        let f = forecast(&agent(), Fleet { nodes: &fleet, pods: &[], revisions: &[] }, now());
        assert_eq!(f.first_sync_creates, BURST_REPLICAS);
        assert_eq!(f.total_creates, 600);
        assert_eq!(
            f.counts,
            StatusCounts {
                desired: 600,
                current: 600,
                misscheduled: 0,
                ready: 600,
                updated: 600,
                available: 600
            }
        );
    }

    #[test]
    fn pods_of_the_live_daemonset_count_as_its_own_though_the_manifest_has_no_uid() {
        let fleet = nodes(2);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "name": "agent-abcde", "namespace": "kube-system",
                "labels": {"app": "agent", "controller-revision-hash": "old"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "agent",
                                     "uid": "uid-in-the-cluster", "controller": true}]
            },
            "spec": {"nodeName": "node-0000", "containers": []},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let f = forecast(&agent(), Fleet { nodes: &fleet, pods: &[pod], revisions: &[] }, now());
        assert_eq!(f.first_sync_creates, 1, "only node-0001 lacks a pod");
        assert_eq!(f.counts.current, 2);
        assert_eq!(f.counts.updated, 1, "the existing pod is of another revision");
    }

    #[test]
    fn pods_of_other_namespaces_are_not_considered() {
        let fleet = nodes(1);
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "agent-abcde", "namespace": "default", "labels": {"app": "agent"}},
            "spec": {"nodeName": "node-0000", "containers": []}
        }))
        .unwrap();
        let f = forecast(&agent(), Fleet { nodes: &fleet, pods: &[pod], revisions: &[] }, now());
        assert_eq!(f.first_sync_creates, 1);
    }
}
