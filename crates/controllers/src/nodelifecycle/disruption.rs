//! Zone disruption (`handleDisruption`, `ComputeZoneState`): when many nodes of a zone fail at
//! once the fault is more likely the network or the control plane than the nodes, so evicting
//! everything would only make it worse.
//!
//! Upstream rate-limits NoExecute tainting per zone (0.1 nodes/s normally); everynode taints at
//! once but keeps the two cases where that rate is zero: a partially disrupted small zone, and
//! every zone fully disrupted ("master disruption mode", where existing NoExecute taints are
//! removed too).

use std::collections::HashMap;

use k8s_openapi::api::core::v1::Node;

/// Nodes with this label never count towards a zone's health.
pub const EXCLUDE_DISRUPTION_LABEL: &str = "node.kubernetes.io/exclude-disruption";

const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
const REGION_LABEL: &str = "topology.kubernetes.io/region";
const BETA_ZONE_LABEL: &str = "failure-domain.beta.kubernetes.io/zone";
const BETA_REGION_LABEL: &str = "failure-domain.beta.kubernetes.io/region";

/// A zone's health (`ZoneState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneState {
    /// Few nodes are unhealthy.
    Normal,
    /// More than two nodes and at least the threshold fraction are unhealthy.
    PartialDisruption,
    /// No node is Ready.
    FullDisruption,
}

/// `nodetopology.GetZoneKey`: region and zone, empty when the node has neither.
pub fn zone_key(node: &Node) -> String {
    let labels = node.metadata.labels.as_ref();
    let get = |stable: &str, beta: &str| {
        labels.and_then(|l| l.get(stable).or_else(|| l.get(beta))).cloned().unwrap_or_default()
    };
    let region = get(REGION_LABEL, BETA_REGION_LABEL);
    let zone = get(ZONE_LABEL, BETA_ZONE_LABEL);
    if region.is_empty() && zone.is_empty() { String::new() } else { format!("{region}:\u{0}:{zone}") }
}

/// `ComputeZoneState`.
pub fn zone_state(ready: usize, not_ready: usize, unhealthy_threshold: f32) -> ZoneState {
    let total = ready + not_ready;
    if ready == 0 && not_ready > 0 {
        ZoneState::FullDisruption
    } else if not_ready > 2 && (not_ready as f32) / (total as f32) >= unhealthy_threshold {
        ZoneState::PartialDisruption
    } else {
        ZoneState::Normal
    }
}

/// The disruption picture of the whole cluster for one pass.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Disruption {
    zones: HashMap<String, (ZoneState, usize)>,
    large_cluster_threshold: usize,
}

impl Disruption {
    /// Classifies zones from each node's Ready status after this pass's status updates.
    pub fn compute<'a>(
        nodes: impl IntoIterator<Item = (&'a Node, bool)>,
        unhealthy_threshold: f32,
        large_cluster_threshold: usize,
    ) -> Disruption {
        let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
        for (node, ready) in nodes {
            if node.metadata.labels.as_ref().is_some_and(|l| l.contains_key(EXCLUDE_DISRUPTION_LABEL)) {
                continue;
            }
            let entry = counts.entry(zone_key(node)).or_default();
            if ready {
                entry.0 += 1;
            } else {
                entry.1 += 1;
            }
        }
        let zones = counts
            .into_iter()
            .map(|(zone, (ready, not_ready))| {
                (zone, (zone_state(ready, not_ready, unhealthy_threshold), ready + not_ready))
            })
            .collect();
        Disruption { zones, large_cluster_threshold }
    }

    /// Every zone is fully disrupted ("master disruption mode"): no NoExecute taints at all.
    pub fn all_fully_disrupted(&self) -> bool {
        !self.zones.is_empty() && self.zones.values().all(|(s, _)| *s == ZoneState::FullDisruption)
    }

    /// Whether a node of this zone may get a new NoExecute taint: not when the zone's eviction
    /// rate would be zero (`ReducedQPSFunc` for a partially disrupted zone of at most
    /// `large_cluster_threshold` nodes).
    pub fn may_add_no_execute(&self, zone: &str) -> bool {
        if self.all_fully_disrupted() {
            return false;
        }
        match self.zones.get(zone) {
            Some((ZoneState::PartialDisruption, size)) => *size > self.large_cluster_threshold,
            _ => true,
        }
    }

    /// The state of a zone, if it has counted nodes.
    pub fn state(&self, zone: &str) -> Option<ZoneState> {
        self.zones.get(zone).map(|(s, _)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, zone: Option<&str>) -> Node {
        let labels = match zone {
            Some(z) => json!({"topology.kubernetes.io/region": "r", "topology.kubernetes.io/zone": z}),
            None => json!({}),
        };
        serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
            .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    // Ported from node_lifecycle_controller_test.go ComputeZoneState expectations.
    #[test]
    fn zone_states_follow_the_thresholds() {
        assert_eq!(zone_state(0, 1, 0.55), ZoneState::FullDisruption);
        assert_eq!(zone_state(1, 2, 0.55), ZoneState::Normal, "two unhealthy nodes are never a disruption");
        assert_eq!(zone_state(2, 3, 0.55), ZoneState::PartialDisruption);
        assert_eq!(zone_state(3, 3, 0.55), ZoneState::Normal);
        assert_eq!(zone_state(0, 0, 0.55), ZoneState::Normal);
    }

    #[test]
    fn zone_keys_combine_region_and_zone() {
        assert_eq!(zone_key(&node("a", Some("z1"))), "r:\u{0}:z1");
        assert_eq!(zone_key(&node("a", None)), "");
    }

    #[test]
    fn all_zones_down_is_master_disruption_mode() {
        let a = node("a", Some("z1"));
        let b = node("b", Some("z2"));
        let d = Disruption::compute([(&a, false), (&b, false)], 0.55, 50);
        assert!(d.all_fully_disrupted());
        assert!(!d.may_add_no_execute("r:\u{0}:z1"));
        let d = Disruption::compute([(&a, false), (&b, true)], 0.55, 50);
        assert!(!d.all_fully_disrupted());
        assert!(
            d.may_add_no_execute("r:\u{0}:z1"),
            "one fully disrupted zone among healthy ones evicts normally"
        );
    }

    #[test]
    fn a_small_partially_disrupted_zone_adds_no_taints() {
        let nodes: Vec<Node> = (0..5).map(|i| node(&format!("n{i}"), None)).collect();
        let states = nodes.iter().enumerate().map(|(i, n)| (n, i < 2));
        let d = Disruption::compute(states, 0.55, 50);
        assert_eq!(d.state(""), Some(ZoneState::PartialDisruption));
        assert!(!d.may_add_no_execute(""));
        let d = Disruption::compute(nodes.iter().enumerate().map(|(i, n)| (n, i < 2)), 0.55, 4);
        assert!(d.may_add_no_execute(""), "large zones keep a (reduced) rate");
    }
}
