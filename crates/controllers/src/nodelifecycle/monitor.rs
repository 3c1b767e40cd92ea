//! One node-health pass (`monitorNodeHealth` plus the two tainting passes), as a decision: given
//! the nodes, their Leases, what was remembered and the time, which node statuses, taints and
//! pods to update.
//!
//! Differences from upstream, on purpose: NoExecute taints follow the Ready condition written in
//! the same pass (upstream acts on it one monitor period later), and tainting is not rate-limited
//! per zone beyond the zero-rate cases in [`super::disruption`].

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::NodeLifecycleOptions;
use super::conditions::mark_unknown;
use super::disruption::{Disruption, zone_key};
use super::health::{NodeHealth, READY, after, ready_condition};
use super::taints::{NoExecute, no_execute_for, reconcile, wanted_no_schedule};

/// What the controller remembers between passes.
#[derive(Debug, Clone, Default)]
pub struct MonitorState {
    /// Per node, by name.
    pub health: HashMap<String, NodeHealth>,
    /// Whether the previous pass found every zone fully disrupted.
    pub fully_disrupted: bool,
}

/// The writes one node needs.
#[derive(Debug, Clone)]
pub struct NodeUpdate {
    /// The node as observed (its resourceVersion guards the writes).
    pub node: Arc<Node>,
    /// New `status.conditions`, when they change.
    pub conditions: Option<Vec<NodeCondition>>,
    /// New `spec.taints`, when they change.
    pub taints: Option<Vec<Taint>>,
    /// Mark the node's Ready pods not ready (`MarkPodsNotReady`).
    pub mark_pods_not_ready: bool,
    /// Ready just went from True to something else (`NodeNotReady` event).
    pub became_not_ready: bool,
}

impl NodeUpdate {
    /// Whether anything is to be done.
    pub fn is_empty(&self) -> bool {
        self.conditions.is_none()
            && self.taints.is_none()
            && !self.mark_pods_not_ready
            && !self.became_not_ready
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }
}

/// The outcome of a pass.
#[derive(Debug, Clone, Default)]
pub struct MonitorPlan {
    /// Nodes with something to do.
    pub updates: Vec<NodeUpdate>,
    /// What to remember for the next pass.
    pub state: MonitorState,
}

struct Observed<'a> {
    node: &'a Arc<Node>,
    health: NodeHealth,
    conditions: Vec<NodeCondition>,
    new_conditions: Option<Vec<NodeCondition>>,
}

impl Observed<'_> {
    fn ready(&self) -> Option<&str> {
        self.conditions.iter().find(|c| c.type_ == READY).map(|c| c.status.as_str())
    }
}

/// Decides one pass. `leases` maps node names to their Lease in `kube-node-lease`.
pub fn decide(
    nodes: &[Arc<Node>],
    leases: &HashMap<String, Arc<Lease>>,
    state: &MonitorState,
    options: &NodeLifecycleOptions,
    now: Timestamp,
) -> MonitorPlan {
    let mut observed: Vec<Observed<'_>> = Vec::with_capacity(nodes.len());
    for node in nodes {
        let name = node.metadata.name.as_deref().unwrap_or_default();
        let mut health =
            NodeHealth::observe(state.health.get(name), node, leases.get(name).map(|l| l.as_ref()), now);
        let grace =
            if ready_condition(node).is_some() { options.grace_period } else { options.startup_grace_period };
        let mut conditions = node.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
        let mut new_conditions = None;
        if now > after(health.probe, grace) {
            let marked = mark_unknown(node, now);
            let new_ready = marked.iter().find(|c| c.type_ == READY);
            // Upstream writes only when the Ready condition itself changes.
            if new_ready != ready_condition(node) {
                health.saw_own_ready(new_ready);
                conditions = marked.clone();
                new_conditions = Some(marked);
            }
        }
        observed.push(Observed { node, health, conditions, new_conditions });
    }

    let disruption = Disruption::compute(
        observed.iter().map(|o| (o.node.as_ref(), o.ready() == Some("True"))),
        options.unhealthy_zone_threshold,
        options.large_cluster_threshold,
    );
    let fully_disrupted = disruption.all_fully_disrupted();

    let mut plan = MonitorPlan::default();
    for mut o in observed {
        let ready = o.ready().map(str::to_owned);
        let node = o.node;
        let unschedulable = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
        let current_taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
        let no_schedule = wanted_no_schedule(&o.conditions, unschedulable);
        let no_execute = if fully_disrupted {
            NoExecute::Clear
        } else {
            no_execute_for(ready.as_deref(), disruption.may_add_no_execute(&zone_key(node)), current_taints)
        };
        let taints = reconcile(current_taints, &no_schedule, no_execute, now);

        let is_ready = ready.as_deref() == Some("True");
        let became_not_ready = o.health.last_ready_status.as_deref() == Some("True") && !is_ready;
        if is_ready {
            o.health.pods_marked_not_ready = false;
        }
        let mark_pods_not_ready = ready.is_some() && !is_ready && !o.health.pods_marked_not_ready;
        o.health.last_ready_status = ready;
        // Leaving master disruption mode: every node gets a fresh grace period.
        if state.fully_disrupted && !fully_disrupted {
            o.health.probe = now;
        }
        let update = NodeUpdate {
            node: node.clone(),
            conditions: o.new_conditions,
            taints,
            mark_pods_not_ready,
            became_not_ready,
        };
        let name = update.name().to_owned();
        if !update.is_empty() {
            plan.updates.push(update);
        }
        plan.state.health.insert(name, o.health);
    }
    plan.state.fully_disrupted = fully_disrupted;
    plan
}

/// The pod's conditions with Ready set to False (`MarkPodsNotReady` via `UpdatePodCondition`),
/// or `None` when it has no Ready condition or it already is False.
pub fn not_ready_conditions(pod: &Pod, now: Timestamp) -> Option<Vec<PodCondition>> {
    let mut conditions = pod.status.as_ref()?.conditions.clone()?;
    let ready = conditions.iter_mut().find(|c| c.type_ == READY)?;
    if ready.status == "False" {
        return None;
    }
    ready.status = "False".to_owned();
    ready.last_transition_time = Some(Time(now));
    Some(conditions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn t(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn node(name: &str, ready: &str, heartbeat: i64) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": t(-1000).to_string(), "resourceVersion": "1"},
                "status": {"conditions": [
                    {"type": "Ready", "status": ready, "lastHeartbeatTime": t(heartbeat).to_string(),
                     "lastTransitionTime": t(-1000).to_string()},
                ]},
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        )
    }

    fn lease(name: &str, renewed: i64) -> (String, Arc<Lease>) {
        let l: Lease = serde_json::from_value(
            json!({"metadata": {"name": name}, "spec": {"renewTime": t(renewed).to_string()}}),
        )
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        (name.to_owned(), Arc::new(l))
    }

    fn options() -> NodeLifecycleOptions {
        NodeLifecycleOptions { grace_period: Duration::from_secs(50), ..NodeLifecycleOptions::default() }
    }

    fn taint_keys(update: &NodeUpdate) -> Vec<String> {
        update.taints.iter().flatten().map(|t| format!("{}:{}", t.key, t.effect)).collect()
    }

    /// Runs passes at the given times with `a` renewing its lease only until `a_stops`, while `b`
    /// keeps renewing; returns the last plan.
    fn passes(times: &[i64], a_stops: i64) -> MonitorPlan {
        let mut state = MonitorState::default();
        let mut plan = MonitorPlan::default();
        for &now in times {
            let nodes = vec![node("a", "True", 0), node("b", "True", 0)];
            let leases: HashMap<String, Arc<Lease>> = [lease("a", now.min(a_stops)), lease("b", now)].into();
            plan = decide(&nodes, &leases, &state, &options(), t(now));
            state = plan.state.clone();
        }
        plan
    }

    // Ported from TestMonitorNodeHealthUpdateStatus / TestMonitorNodeHealthMarkPodsNotReady:
    // a node silent for longer than the grace period goes Unknown, is tainted unreachable, and
    // its pods are marked not ready.
    #[test]
    fn a_silent_node_becomes_unknown_after_the_grace_period() {
        let quiet = passes(&[0, 10, 40], 10);
        assert!(quiet.updates.is_empty(), "within grace: {:?}", quiet.updates);

        let plan = passes(&[0, 10, 40, 61], 10);
        assert_eq!(plan.updates.len(), 1);
        let update = &plan.updates[0];
        assert_eq!(update.name(), "a");
        let ready = update
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .unwrap_or_else(|| panic!("Ready"));
        assert_eq!(ready.status, "Unknown");
        assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
        assert_eq!(
            taint_keys(update),
            ["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"]
        );
        assert!(update.became_not_ready && update.mark_pods_not_ready);
    }

    #[test]
    fn a_renewing_lease_alone_keeps_a_node_healthy() {
        let plan = passes(&[0, 30, 60, 90, 120], 1000);
        assert!(plan.updates.is_empty());
    }

    #[test]
    fn a_node_that_never_posted_status_gets_the_startup_grace_period() {
        let fresh: Arc<Node> = Arc::new(
            serde_json::from_value(
                json!({"metadata": {"name": "new", "creationTimestamp": t(0).to_string()}}),
            )
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        );
        let healthy = node("b", "True", 0);
        let run = |now: i64| {
            let leases: HashMap<String, Arc<Lease>> = [lease("b", now)].into();
            decide(&[fresh.clone(), healthy.clone()], &leases, &MonitorState::default(), &options(), t(now))
        };
        assert!(run(59).updates.is_empty());
        let plan = run(61);
        let ready = plan.updates[0].conditions.iter().flatten().find(|c| c.type_ == "Ready").cloned();
        assert_eq!(ready.and_then(|c| c.reason).as_deref(), Some("NodeStatusNeverUpdated"));
    }

    #[test]
    fn recovery_clears_the_lifecycle_taints() {
        let tainted: Arc<Node> = Arc::new(
            serde_json::from_value(json!({
                "metadata": {"name": "a"},
                "spec": {"taints": [
                    {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"},
                    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
                    {"key": "keep", "effect": "NoExecute"},
                ]},
                "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": t(0).to_string()}]},
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}")),
        );
        let plan = decide(&[tainted], &HashMap::new(), &MonitorState::default(), &options(), t(1));
        assert_eq!(taint_keys(&plan.updates[0]), ["keep:NoExecute"]);
    }

    #[test]
    fn not_ready_nodes_get_not_ready_taints() {
        let n = node("a", "False", 0);
        let ok = node("b", "True", 0);
        let plan = decide(&[n, ok], &HashMap::new(), &MonitorState::default(), &options(), t(1));
        assert_eq!(
            taint_keys(&plan.updates[0]),
            ["node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"]
        );
    }

    // Ported from TestMonitorNodeHealthEvictPodsWithDisruption: when every node is down, no
    // NoExecute taint is added ("master disruption mode").
    #[test]
    fn when_every_node_is_silent_none_gets_a_no_execute_taint() {
        let mut state = MonitorState::default();
        let mut plan = MonitorPlan::default();
        for now in [0, 61] {
            let nodes = vec![node("a", "True", 0), node("b", "True", 0)];
            plan = decide(&nodes, &HashMap::new(), &state, &options(), t(now));
            state = plan.state.clone();
        }
        assert!(state.fully_disrupted);
        for update in &plan.updates {
            assert_eq!(
                taint_keys(update),
                ["node.kubernetes.io/unreachable:NoSchedule"],
                "{}",
                update.name()
            );
        }
    }

    #[test]
    fn a_ready_pod_condition_is_flipped_once() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": [
            {"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"},
        ]}}))
        .unwrap_or_else(|e| panic!("fixture: {e}"));
        let flipped = not_ready_conditions(&pod, t(0)).unwrap_or_default();
        assert_eq!(flipped[0].status, "False");
        assert_eq!(flipped[1].status, "True");
        let again: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": flipped}}))
                .unwrap_or_else(|e| panic!("fixture: {e}"));
        assert_eq!(not_ready_conditions(&again, t(1)), None);
    }
}
