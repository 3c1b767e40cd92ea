//! One sync of one DaemonSet: from a snapshot of the world to a [`Plan`] (upstream
//! `syncDaemonSet`). Pure: the same snapshot always gives the same plan.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use everynode_api::labels::Selector;

use crate::backoff::FailedPodBackoff;
use crate::claim::{Claim, Claimant, claim};
use crate::constants::{BURST_REPLICAS, TEMPLATE_GENERATION_ANNOTATION, reasons};
use crate::history;
use crate::manage::{ManageInput, manage};
use crate::placement::{Placement, PlacementRules};
use crate::plan::{DeleteReason, EventType, OwnershipChange, Plan, PlannedEvent, PodCreate, PodDelete, Stop};
use crate::pod::{PodView, target_node_name};
use crate::podbuild::new_daemon_pod;
use crate::rollout::{self, RolloutInput, allows_surge, is_rolling_update};
use crate::status::{count, next_status};

/// What a sync looks at. Pods and revisions are everything in the DaemonSet's namespace; the
/// sync works out which are its own.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    pub daemon_set: &'a DaemonSet,
    pub nodes: Vec<&'a Node>,
    pub pods: Vec<&'a Pod>,
    pub revisions: Vec<&'a ControllerRevision>,
    pub now: Timestamp,
    /// The creates and deletes of earlier syncs have all been observed (see
    /// [`crate::expectations`]). When not, the sync only refreshes the status.
    pub expectations_satisfied: bool,
    pub backoff: &'a FailedPodBackoff,
}

/// The DaemonSet's template generation annotation (`util.GetTemplateGeneration`); unparsable
/// values count as absent, as upstream treats the parse error.
pub fn template_generation(ds: &DaemonSet) -> Option<i64> {
    ds.metadata.annotations.as_ref()?.get(TEMPLATE_GENERATION_ANNOTATION)?.parse().ok()
}

fn is_empty_selector(ds: &DaemonSet) -> bool {
    let s = &ds.spec.selector;
    s.match_labels.as_ref().is_none_or(|m| m.is_empty())
        && s.match_expressions.as_ref().is_none_or(|e| e.is_empty())
}

/// Plans one sync.
pub fn sync(s: &Snapshot<'_>) -> Plan {
    let ds = s.daemon_set;
    let mut plan = Plan::default();
    let spec = &ds.spec;
    if is_empty_selector(ds) {
        plan.events.push(PlannedEvent {
            type_: EventType::Warning,
            reason: reasons::SELECTING_ALL,
            message: "This daemon set is selecting all pods. A non-empty selector is required.".to_string(),
        });
        plan.stop = Some(Stop::SelectingAll);
        return plan;
    }
    // While the DaemonSet is being deleted, garbage collection may already have removed or
    // orphaned its revisions, so a status computed now could be wrong: write nothing.
    if ds.metadata.deletion_timestamp.is_some() {
        plan.stop = Some(Stop::BeingDeleted);
        return plan;
    }
    let selector = match Selector::from_label_selector(Some(&spec.selector)) {
        Ok(sel) => sel,
        Err(e) => {
            plan.stop = Some(Stop::InvalidSelector(e.message));
            return plan;
        }
    };
    let owner = Claimant {
        uid: ds.metadata.uid.as_deref().unwrap_or_default(),
        namespace: ds.metadata.namespace.as_deref().unwrap_or_default(),
        deleting: false,
        selector: &selector,
    };

    // Claim pods and revisions.
    let mut own_pods: Vec<&Pod> = Vec::new();
    // Names and uids are copied only for ownership changes: every pod in the namespace passes
    // here on every sync.
    let name_uid =
        |meta: &ObjectMeta| (meta.name.clone().unwrap_or_default(), meta.uid.clone().unwrap_or_default());
    for pod in &s.pods {
        match claim(&pod.metadata, owner) {
            Claim::Owned => own_pods.push(pod),
            Claim::Adopt => {
                let (name, uid) = name_uid(&pod.metadata);
                plan.ownership.push(OwnershipChange::AdoptPod { name, uid });
                own_pods.push(pod);
            }
            Claim::Release => {
                let (name, uid) = name_uid(&pod.metadata);
                plan.ownership.push(OwnershipChange::ReleasePod { name, uid });
            }
            Claim::Ignore => {}
        }
    }
    let mut own_revisions: Vec<&ControllerRevision> = Vec::new();
    for rev in &s.revisions {
        match claim(&rev.metadata, owner) {
            Claim::Owned => own_revisions.push(rev),
            Claim::Adopt => {
                let (name, uid) = name_uid(&rev.metadata);
                plan.ownership.push(OwnershipChange::AdoptRevision { name, uid });
                own_revisions.push(rev);
            }
            Claim::Release => {
                let (name, uid) = name_uid(&rev.metadata);
                plan.ownership.push(OwnershipChange::ReleaseRevision { name, uid });
            }
            Claim::Ignore => {}
        }
    }

    // History: which revision is current.
    let pod_hashes: Vec<(&str, Option<&str>)> = own_pods
        .iter()
        .map(|p| {
            let hash = p
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(crate::constants::CONTROLLER_REVISION_HASH_LABEL));
            (p.metadata.name.as_deref().unwrap_or_default(), hash.map(String::as_str))
        })
        .collect();
    let (history_plan, old_revisions) = history::construct(ds, &own_revisions, &s.revisions, &pod_hashes);
    plan.history = history_plan;
    if plan.history.collision {
        let mut status = ds.status.clone().unwrap_or_default();
        status.collision_count = Some(status.collision_count.unwrap_or(0) + 1);
        plan.status = Some(status);
        plan.requeue_within(SignedDuration::ZERO);
        return plan;
    }
    let hash = plan.history.hash.clone();
    let generation = template_generation(ds);
    let generation_label = generation.map(|g| g.to_string());

    // The world as the algorithms see it.
    let rules = PlacementRules::new(ds);
    let mut nodes: Vec<(&str, Placement)> = s
        .nodes
        .iter()
        .map(|n| (n.metadata.name.as_deref().unwrap_or_default(), rules.placement(n)))
        .collect();
    nodes.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut by_node: BTreeMap<&str, Vec<PodView<'_>>> = BTreeMap::new();
    for pod in &own_pods {
        let Some(node) = target_node_name(pod) else { continue };
        let view = PodView::of(pod, node);
        // Terminal pods already being deleted (kept by a finalizer, or waiting for the kubelet
        // or pod GC) need nothing more from the controller.
        if view.phase.is_terminal() && view.deleting {
            continue;
        }
        by_node.entry(node).or_default().push(view);
    }
    let min_ready = spec.min_ready_seconds.unwrap_or(0);

    if s.expectations_satisfied {
        let surge = allows_surge(ds);
        let target = Target {
            ds,
            nodes: &nodes,
            hash: &hash,
            generation,
            generation_label: generation_label.as_deref(),
            now: s.now,
        };
        let step = manage(&ManageInput {
            namespace: owner.namespace,
            ds_uid: owner.uid,
            observed_generation: ds.status.as_ref().and_then(|st| st.observed_generation).unwrap_or(0),
            nodes: &nodes,
            pods: &by_node,
            hash: &hash,
            surge,
            min_ready_seconds: min_ready,
            backoff: s.backoff,
            now: s.now,
        });
        plan.events.extend(step.events);
        plan.backoff.extend(step.backoff);
        if let Some(wait) = step.retry_after {
            plan.requeue_within(wait);
        }
        target.apply(&mut plan, &mut by_node, step.creates, step.deletes, DeleteReason::Manage);

        if is_rolling_update(ds) {
            let desired = nodes.iter().filter(|(_, p)| p.should_run).count();
            match rollout::limits(ds, desired) {
                Err(e) => plan.warnings.push(format!("couldn't get unavailable numbers: {e}")),
                Ok(limits) => {
                    let input = RolloutInput {
                        nodes: &nodes,
                        pods: &by_node,
                        hash: &hash,
                        template_generation: generation,
                        min_ready_seconds: min_ready,
                        now: s.now,
                        limits,
                    };
                    let step = if limits.max_surge == 0 {
                        Ok(rollout::without_surge(&input))
                    } else {
                        rollout::with_surge(&input)
                    };
                    match step {
                        Ok(step) => target.apply(
                            &mut plan,
                            &mut by_node,
                            step.creates,
                            step.deletes,
                            DeleteReason::Rollout,
                        ),
                        Err(e) => plan.warnings.push(e.to_string()),
                    }
                }
            }
        }

        // Prune history, sparing every revision a pod still runs.
        let mut live: HashSet<&str> = own_pods
            .iter()
            .filter_map(|p| p.metadata.labels.as_ref()?.get(crate::constants::CONTROLLER_REVISION_HASH_LABEL))
            .map(String::as_str)
            .collect();
        live.insert(&hash);
        let limit = spec.revision_history_limit.unwrap_or(10);
        plan.prune_revisions = history::cleanup(&old_revisions, limit, &live);
    }

    plan.counts = count(&nodes, &by_node, &hash, generation, min_ready, s.now);
    plan.status = next_status(ds, plan.counts, s.expectations_satisfied);
    if min_ready > 0 {
        let soonest = by_node.values().flatten().filter_map(|p| p.available_at(min_ready, s.now)).min();
        if let Some(at) = soonest {
            // Availability needs the delay to have passed strictly; timestamps have whole seconds.
            plan.requeue_within(at.duration_since(s.now) + SignedDuration::from_secs(1));
        }
    }
    plan
}

/// What the creates and deletes of one sync are made against: the DaemonSet, the nodes and the
/// current revision, fixed for the whole sync.
struct Target<'s, 'p> {
    ds: &'s DaemonSet,
    nodes: &'s [(&'p str, Placement)],
    hash: &'p str,
    generation: Option<i64>,
    generation_label: Option<&'p str>,
    now: Timestamp,
}

impl<'p> Target<'_, 'p> {
    /// Adds creates and deletes to the plan (each capped at [`BURST_REPLICAS`] per step, as
    /// upstream caps each `syncNodes` call) and to the working view, so later steps see their
    /// effect.
    fn apply(
        &self,
        plan: &mut Plan,
        by_node: &mut BTreeMap<&'p str, Vec<PodView<'p>>>,
        creates: Vec<String>,
        deletes: Vec<(String, String)>,
        reason: DeleteReason,
    ) {
        for (name, node) in deletes.into_iter().take(BURST_REPLICAS) {
            if let Some(views) = by_node.get_mut(node.as_str())
                && let Some(view) = views.iter_mut().find(|v| v.name == name)
            {
                view.deleting = true;
            }
            plan.deletes.push(PodDelete { name, node, reason });
        }
        for node in creates.into_iter().take(BURST_REPLICAS) {
            let Ok(i) = self.nodes.binary_search_by(|(n, _)| (*n).cmp(node.as_str())) else { continue };
            let node_name = self.nodes[i].0;
            let view = PodView::planned(node_name, self.hash, self.generation_label, self.now);
            by_node.entry(node_name).or_default().push(view);
            let pod = new_daemon_pod(self.ds, node_name, self.hash, self.generation);
            plan.creates.push(PodCreate { pod, node });
        }
    }
}
