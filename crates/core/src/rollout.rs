//! RollingUpdate: which old pods to delete and where to surge new ones (upstream `rollingUpdate`).
//!
//! Assumptions, as upstream states them: the manage step keeps at most one pod per node (two
//! while surging, one old and one new), creates missing pods and deals with failed ones; pods
//! being deleted do not count as unavailable, so that updates progress while nodes are down.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::jiff::Timestamp;

use everynode_api::intstr::{IntOrPercentError, scaled_value};

use crate::placement::Placement;
use crate::pod::PodView;

/// The DaemonSet's update strategy is RollingUpdate (the default when unset).
pub fn is_rolling_update(ds: &DaemonSet) -> bool {
    let kind = ds.spec.update_strategy.as_ref().and_then(|u| u.type_.as_deref());
    matches!(kind, None | Some("RollingUpdate"))
}

/// `util.SurgeCount`: maxSurge scaled against `desired`, rounding up; 0 without RollingUpdate.
pub fn surge_count(ds: &DaemonSet, desired: usize) -> Result<usize, IntOrPercentError> {
    if !is_rolling_update(ds) {
        return Ok(0);
    }
    let ru = ds.spec.update_strategy.as_ref().and_then(|u| u.rolling_update.as_ref());
    match ru.and_then(|r| r.max_surge.as_ref()) {
        None => Ok(0),
        Some(v) => scaled_value(v, desired as i64, true).map(|n| usize::try_from(n).unwrap_or(0)),
    }
}

/// `util.UnavailableCount`: maxUnavailable scaled against `desired`, rounding up. An unset value
/// means the API server's default, 1.
pub fn unavailable_count(ds: &DaemonSet, desired: usize) -> Result<usize, IntOrPercentError> {
    if !is_rolling_update(ds) {
        return Ok(0);
    }
    let ru = ds.spec.update_strategy.as_ref().and_then(|u| u.rolling_update.as_ref());
    match ru.and_then(|r| r.max_unavailable.as_ref()) {
        None => Ok(1),
        Some(v) => scaled_value(v, desired as i64, true).map(|n| usize::try_from(n).unwrap_or(0)),
    }
}

/// `util.AllowsSurge`: surge is configured (non-zero even for a single node).
pub fn allows_surge(ds: &DaemonSet) -> bool {
    surge_count(ds, 1).is_ok_and(|n| n > 0)
}

/// The effective limits for one rollout step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RolloutLimits {
    pub max_surge: usize,
    pub max_unavailable: usize,
    pub desired: usize,
}

/// `updatedDesiredNodeCounts`: limits scaled against the desired node count, with the rule that
/// a DaemonSet allowing neither surge nor unavailability (possible through old API objects) may
/// still take one node at a time rather than never update.
pub fn limits(ds: &DaemonSet, desired: usize) -> Result<RolloutLimits, IntOrPercentError> {
    let mut max_unavailable = unavailable_count(ds, desired)?;
    let max_surge = surge_count(ds, desired)?;
    if desired > 0 && max_unavailable == 0 && max_surge == 0 {
        max_unavailable = 1;
    }
    Ok(RolloutLimits { max_surge, max_unavailable, desired })
}

/// What the rolling update step decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RolloutStep {
    /// Old pods to delete: (pod name, node).
    pub deletes: Vec<(String, String)>,
    /// Nodes that get a new (surge) pod.
    pub creates: Vec<String>,
}

/// The inputs of one step: nodes with their placement (sorted by name) and the pods per target
/// node, as they will be once the manage step's actions are done.
pub struct RolloutInput<'a, 'p> {
    pub nodes: &'a [(&'p str, Placement)],
    pub pods: &'a BTreeMap<&'p str, Vec<PodView<'p>>>,
    pub hash: &'a str,
    pub template_generation: Option<i64>,
    pub min_ready_seconds: i32,
    pub now: Timestamp,
    pub limits: RolloutLimits,
}

/// `findUpdatedPodsOnNode`: the node's single new and single old live pod, or None when there
/// are several of either (the manage step prunes those first).
fn new_and_old<'v, 'p>(
    pods: &'v [PodView<'p>],
    hash: &str,
    generation: Option<i64>,
) -> Option<(Option<&'v PodView<'p>>, Option<&'v PodView<'p>>)> {
    let mut new = None;
    let mut old = None;
    for pod in pods.iter().filter(|p| !p.deleting) {
        let slot = if pod.is_updated(hash, generation) { &mut new } else { &mut old };
        if slot.is_some() {
            return None;
        }
        *slot = Some(pod);
    }
    Some((new, old))
}

/// The node keys the algorithm walks: every node with pods plus every desired node, in name
/// order (upstream walks a Go map; sorting makes plans deterministic).
fn walk<'p>(input: &RolloutInput<'_, 'p>) -> Vec<&'p str> {
    let mut keys: Vec<&'p str> = input.pods.keys().copied().collect();
    for (name, placement) in input.nodes {
        if placement.should_run && !input.pods.contains_key(name) {
            keys.push(name);
        }
    }
    keys.sort_unstable();
    keys
}

/// Without surge: delete just enough old pods to stay within maxUnavailable and let the manage
/// step recreate them. Unavailable old pods are always replaced; available ones are candidates
/// while the unavailable count is below the limit.
pub fn without_surge(input: &RolloutInput<'_, '_>) -> RolloutStep {
    let empty = Vec::new();
    let mut unavailable = 0usize;
    let mut replacements = Vec::new();
    let mut candidates = Vec::new();
    for node in walk(input) {
        let pods = input.pods.get(node).unwrap_or(&empty);
        let Some((new, old)) = new_and_old(pods, input.hash, input.template_generation) else {
            unavailable += 1;
            continue;
        };
        match (new, old) {
            (None, None) | (Some(_), Some(_)) => unavailable += 1,
            (Some(new), None) => {
                if !new.is_available(input.min_ready_seconds, input.now) {
                    unavailable += 1;
                }
            }
            (None, Some(old)) => {
                if !old.is_available(input.min_ready_seconds, input.now) {
                    replacements.push((old.name.to_string(), node.to_string()));
                    unavailable += 1;
                } else if unavailable < input.limits.max_unavailable {
                    candidates.push((old.name.to_string(), node.to_string()));
                }
            }
        }
    }
    let room = input.limits.max_unavailable.saturating_sub(unavailable).min(candidates.len());
    replacements.extend(candidates.into_iter().take(room));
    RolloutStep { deletes: replacements, creates: Vec::new() }
}

/// A node named in the pods map does not exist any more; upstream aborts the surge step then
/// and waits for pod garbage collection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("couldn't get node for nodeName {0:?}: node not found")]
pub struct MissingNode(pub String);

/// With surge: create new pods next to available old ones on up to maxSurge nodes (at once on
/// nodes whose old pod is unavailable), delete an old pod once its node's new pod is available,
/// and retire pods on nodes that should no longer run the daemon only while more pods are
/// available than desired (surge users expect no loss of availability).
pub fn with_surge(input: &RolloutInput<'_, '_>) -> Result<RolloutStep, MissingNode> {
    let empty = Vec::new();
    let placements: BTreeMap<&str, Placement> = input.nodes.iter().copied().collect();
    let (min_ready, now) = (input.min_ready_seconds, input.now);
    let mut step = RolloutStep::default();
    let mut should_not_run = Vec::new();
    let mut candidates = Vec::new();
    let mut surging = 0usize;
    let mut available = 0usize;
    for node in walk(input) {
        let pods = input.pods.get(node).unwrap_or(&empty);
        let Some((new, old)) = new_and_old(pods, input.hash, input.template_generation) else {
            surging += 1;
            continue;
        };
        match (old, new) {
            (Some(old), _) if old.is_available(min_ready, now) => available += 1,
            (None, Some(new)) if new.is_available(min_ready, now) => available += 1,
            _ => {}
        }
        let should_run =
            || placements.get(node).map(|p| p.should_run).ok_or_else(|| MissingNode(node.to_string()));
        match (old, new) {
            (None, _) => {}
            (Some(old), None) => {
                let entry = (old.name.to_string(), node.to_string());
                if !old.is_available(min_ready, now) {
                    if should_run()? {
                        step.creates.push(node.to_string());
                    } else {
                        step.deletes.push(entry);
                    }
                } else if !should_run()? {
                    should_not_run.push(entry);
                } else if surging < input.limits.max_surge {
                    candidates.push(node.to_string());
                }
            }
            (Some(old), Some(new)) => {
                if new.is_available(min_ready, now) {
                    step.deletes.push((old.name.to_string(), node.to_string()));
                } else {
                    surging += 1;
                }
            }
        }
    }
    let deletable = available.saturating_sub(input.limits.desired).min(should_not_run.len());
    step.deletes.extend(should_not_run.into_iter().take(deletable));
    let room = input.limits.max_surge.saturating_sub(surging).min(candidates.len());
    step.creates.extend(candidates.into_iter().take(room));
    Ok(step)
}
