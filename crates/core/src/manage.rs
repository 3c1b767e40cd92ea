//! The manage step: one daemon pod per eligible node, none elsewhere (upstream `manage` and
//! `podsShouldBeOnNode`).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::backoff::{BackoffEntry, FailedPodBackoff, backoff_key};
use crate::constants::reasons;
use crate::placement::Placement;
use crate::plan::{EventType, PlannedEvent};
use crate::pod::{Phase, PodView, oldest_first};

/// Everything the manage step needs besides the pods.
pub struct ManageInput<'a, 'p> {
    pub namespace: &'a str,
    pub ds_uid: &'a str,
    /// `status.observedGeneration`, part of the failed-pod backoff key.
    pub observed_generation: i64,
    /// Nodes that exist, sorted by name, with their placement.
    pub nodes: &'a [(&'p str, Placement)],
    /// Live pods per target node (terminal pods already being deleted are left out).
    pub pods: &'a BTreeMap<&'p str, Vec<PodView<'p>>>,
    /// Current revision hash.
    pub hash: &'a str,
    pub surge: bool,
    pub min_ready_seconds: i32,
    pub backoff: &'a FailedPodBackoff,
    pub now: Timestamp,
}

/// What the manage step decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManageStep {
    /// Nodes needing a daemon pod.
    pub creates: Vec<String>,
    /// Pods to delete: (pod name, node).
    pub deletes: Vec<(String, String)>,
    pub events: Vec<PlannedEvent>,
    /// Backoff entries raised by failed-pod deletions.
    pub backoff: Vec<(String, BackoffEntry)>,
    /// The soonest a backed-off failed pod may be deleted.
    pub retry_after: Option<SignedDuration>,
}

impl ManageStep {
    fn delete(&mut self, pod: &PodView<'_>, node: &str) {
        self.deletes.push((pod.name.to_string(), node.to_string()));
    }
}

/// Decides creates and deletes for every node.
pub fn manage(input: &ManageInput<'_, '_>) -> ManageStep {
    let mut step = ManageStep::default();
    for &(node, placement) in input.nodes {
        match input.pods.get(node) {
            None if placement.should_run => step.creates.push(node.to_string()),
            None => {}
            Some(pods) if placement.should_continue_running => {
                on_eligible_node(input, node, placement, pods, &mut step)
            }
            Some(pods) => {
                for pod in pods.iter().filter(|p| !p.deleting) {
                    step.delete(pod, node);
                }
            }
        }
    }
    // Unscheduled pods aimed at nodes that no longer exist would never be bound, and pod garbage
    // collection only removes pods bound to vanished nodes: they are ours to delete.
    let existing: HashSet<&str> = input.nodes.iter().map(|(n, _)| *n).collect();
    for (node, pods) in input.pods.iter().filter(|(n, _)| !existing.contains(*n)) {
        for pod in pods.iter().filter(|p| !p.scheduled && !p.deleting) {
            step.delete(pod, node);
        }
    }
    step
}

fn on_eligible_node<'p>(
    input: &ManageInput<'_, 'p>,
    node: &str,
    placement: Placement,
    pods: &[PodView<'p>],
    step: &mut ManageStep,
) {
    let mut running: Vec<&PodView<'p>> = Vec::new();
    for pod in pods.iter().filter(|p| !p.deleting) {
        match pod.phase {
            Phase::Failed => {
                // The kubelet rejected or killed the pod; replacing it in a hot loop would fight
                // the kubelet, so deletions back off per node.
                let key = backoff_key(input.ds_uid, input.observed_generation, node);
                if input.backoff.in_backoff(&key, input.now) {
                    let wait = input.backoff.remaining(&key, input.now);
                    step.retry_after = Some(step.retry_after.map_or(wait, |w| w.min(wait)));
                    continue;
                }
                // A second failed pod on the same node in this pass reuses the raised entry.
                let raised = step.backoff.iter().find(|(k, _)| *k == key).map(|(_, e)| *e);
                let entry = raised.unwrap_or_else(|| input.backoff.next_entry(&key, input.now));
                if raised.is_none() {
                    step.backoff.push((key, entry));
                }
                step.events.push(PlannedEvent {
                    type_: EventType::Warning,
                    reason: reasons::FAILED_DAEMON_POD,
                    message: format!(
                        "Found failed daemon pod {}/{} on node {}, will try to kill it",
                        input.namespace, pod.name, node
                    ),
                });
                step.delete(pod, node);
            }
            Phase::Succeeded => {
                step.events.push(PlannedEvent {
                    type_: EventType::Normal,
                    reason: reasons::SUCCEEDED_DAEMON_POD,
                    message: format!(
                        "Found succeeded daemon pod {}/{} on node {}, will try to delete it",
                        input.namespace, pod.name, node
                    ),
                });
                step.delete(pod, node);
            }
            _ => running.push(pod),
        }
    }
    running.sort_by(|a, b| oldest_first(a, b));

    if !input.surge {
        for pod in running.iter().skip(1) {
            step.delete(pod, node);
        }
        return;
    }
    if running.len() <= 1 {
        if running.is_empty() && placement.should_run {
            step.creates.push(node.to_string());
        }
        return;
    }
    // While surging a node may hold the oldest new pod and the oldest old pod; any other pod
    // goes. The old one also goes once it is not ready or the new one is available.
    let mut oldest_new = None;
    let mut oldest_old = None;
    for pod in &running {
        let slot = if pod.hash == Some(input.hash) { &mut oldest_new } else { &mut oldest_old };
        if slot.is_none() {
            *slot = Some(*pod);
        } else {
            step.delete(pod, node);
        }
    }
    if let (Some(new), Some(old)) = (oldest_new, oldest_old)
        && (!old.ready || new.is_available(input.min_ready_seconds, input.now))
    {
        step.delete(old, node);
    }
}
