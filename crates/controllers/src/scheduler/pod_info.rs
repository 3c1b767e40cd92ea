//! A pending pod, parsed once per scheduling attempt: its node constraints, tolerations and usage,
//! and the NodeAffinity pre-filter (the nodes named by `matchFields metadata.name`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Pod, PodSpec, Toleration};

use everynode_api::nodeaffinity::{OBJECT_NAME_FIELD, RequiredNodeAffinity};

use super::snapshot::PodUsage;

/// Which nodes the NodeAffinity pre-filter leaves to the filters (`PreFilterResult`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Candidates {
    /// Every node.
    All,
    /// Only these (a DaemonSet pod names exactly one).
    Named(BTreeSet<String>),
    /// The terms name disjoint node sets: nothing can match (`pod affinity terms conflict`).
    Conflict,
}

/// The scheduling-relevant parts of a pod.
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    /// nodeSelector plus required node affinity.
    pub affinity: RequiredNodeAffinity,
    /// The pod's tolerations.
    pub tolerations: Vec<Toleration>,
    /// What it would take from a node.
    pub usage: PodUsage,
    /// The pre-filter's verdict.
    pub candidates: Candidates,
    /// `preemptionPolicy: Never`.
    pub never_preempts: bool,
}

/// `NodeAffinity.PreFilter`: when every required term pins `metadata.name In (...)`, only the
/// union of those names can match. A term without such a field requirement admits every node.
fn candidates(spec: &PodSpec) -> Candidates {
    let terms = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| na.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|s| s.node_selector_terms.as_slice())
        .unwrap_or_default();
    if terms.is_empty() {
        return Candidates::All;
    }
    let mut union: BTreeSet<String> = BTreeSet::new();
    for term in terms {
        let mut term_names: Option<BTreeSet<String>> = None;
        for requirement in term.match_fields.iter().flatten() {
            if requirement.key == OBJECT_NAME_FIELD && requirement.operator == "In" {
                let values: BTreeSet<String> = requirement.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => values,
                    Some(previous) => previous.intersection(&values).cloned().collect(),
                });
            }
        }
        match term_names {
            None => return Candidates::All,
            Some(names) => union.extend(names),
        }
    }
    if union.is_empty() { Candidates::Conflict } else { Candidates::Named(union) }
}

impl PodInfo {
    /// Parses a pod.
    pub fn new(pod: &Pod) -> PodInfo {
        let default_spec = PodSpec::default();
        let spec = pod.spec.as_ref().unwrap_or(&default_spec);
        let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        PodInfo {
            key: format!("{namespace}/{name}"),
            affinity: RequiredNodeAffinity::from_pod_spec(spec),
            tolerations: spec.tolerations.clone().unwrap_or_default(),
            usage: PodUsage::of(spec),
            candidates: candidates(spec),
            never_preempts: spec.preemption_policy.as_deref() == Some("Never"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(affinity: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c"}], "affinity": {"nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": affinity}
            }}},
        }))
        .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    fn names(list: &[&str]) -> Candidates {
        Candidates::Named(list.iter().map(|s| s.to_string()).collect())
    }

    // Ported from node_affinity_test.go TestNodeAffinityPreFilter-style cases.
    #[test]
    fn a_daemon_pod_names_its_node() {
        let p =
            pod(json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}]));
        let info = PodInfo::new(&p);
        assert_eq!(info.key, "ns/p");
        assert_eq!(info.candidates, names(&["node-1"]));
    }

    #[test]
    fn terms_are_unioned_and_requirements_intersected() {
        let p = pod(json!([
            {"matchFields": [
                {"key": "metadata.name", "operator": "In", "values": ["a", "b"]},
                {"key": "metadata.name", "operator": "In", "values": ["b", "c"]},
            ]},
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["d"]}]},
        ]));
        assert_eq!(PodInfo::new(&p).candidates, names(&["b", "d"]));
    }

    #[test]
    fn a_term_without_name_fields_admits_every_node() {
        let p = pod(json!([
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]},
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z"]}]},
        ]));
        assert_eq!(PodInfo::new(&p).candidates, Candidates::All);
    }

    #[test]
    fn disjoint_name_requirements_conflict() {
        let p = pod(json!([{"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["a"]},
            {"key": "metadata.name", "operator": "In", "values": ["b"]},
        ]}]));
        assert_eq!(PodInfo::new(&p).candidates, Candidates::Conflict);
    }
}
