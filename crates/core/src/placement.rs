//! Node eligibility: whether a DaemonSet should run on a node (`NodeShouldRunDaemonPod`).

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Node, Taint, Toleration};

use everynode_api::labels::Labels;
use everynode_api::nodeaffinity::{AffinityMismatch, RequiredNodeAffinity};
use everynode_api::taints::{NO_EXECUTE, NO_SCHEDULE, describe_taint, find_untolerated};

use crate::tolerations::daemon_tolerations;

/// The controller's verdict for one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Placement {
    /// A new daemon pod may be placed on the node.
    pub should_run: bool,
    /// An existing daemon pod may stay on the node.
    pub should_continue_running: bool,
}

/// Why a node does not (fully) qualify, for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ineligibility {
    /// The template pins another node (`spec.template.spec.nodeName`).
    NodeNameMismatch { wanted: String },
    /// `nodeSelector` or required node affinity excludes the node.
    Affinity(AffinityMismatch),
    /// A NoSchedule or NoExecute taint is not tolerated. NoSchedule keeps running pods;
    /// NoExecute evicts them.
    UntoleratedTaint { taint: String, evicts: bool },
}

impl std::fmt::Display for Ineligibility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ineligibility::NodeNameMismatch { wanted } => {
                write!(f, "template spec.nodeName pins node {wanted}")
            }
            Ineligibility::Affinity(m) => write!(f, "{m}"),
            Ineligibility::UntoleratedTaint { taint, evicts: true } => {
                write!(f, "taint {taint} is not tolerated (evicts running daemon pods)")
            }
            Ineligibility::UntoleratedTaint { taint, evicts: false } => {
                write!(f, "taint {taint} is not tolerated (running daemon pods may stay)")
            }
        }
    }
}

/// Everything about a DaemonSet that placement needs, parsed once per sync so that judging
/// thousands of nodes only compares labels and taints.
#[derive(Debug, Clone)]
pub struct PlacementRules {
    template_node_name: Option<String>,
    affinity: RequiredNodeAffinity,
    tolerations: Vec<Toleration>,
}

static NO_LABELS: Labels = Labels::new();

fn node_parts(node: &Node) -> (&str, &Labels, &[Taint]) {
    let name = node.metadata.name.as_deref().unwrap_or_default();
    let labels = node.metadata.labels.as_ref().unwrap_or(&NO_LABELS);
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default();
    (name, labels, taints)
}

fn schedule_blocking(t: &Taint) -> bool {
    t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE
}

impl PlacementRules {
    /// Parses the DaemonSet's template: the pod it would create, with the daemon tolerations.
    pub fn new(ds: &DaemonSet) -> Self {
        let spec = ds.spec.template.spec.as_ref();
        let default_spec = Default::default();
        let spec = spec.unwrap_or(&default_spec);
        PlacementRules {
            template_node_name: spec.node_name.clone().filter(|n| !n.is_empty()),
            affinity: RequiredNodeAffinity::from_pod_spec(spec),
            tolerations: daemon_tolerations(spec),
        }
    }

    /// The tolerations the daemon pods carry (template plus defaults).
    pub fn tolerations(&self) -> &[Toleration] {
        &self.tolerations
    }

    /// Judges one node. Resources, host ports, readiness and `spec.unschedulable` are not
    /// considered, exactly as upstream: a daemon belongs on every matching node.
    pub fn placement(&self, node: &Node) -> Placement {
        let (name, labels, taints) = node_parts(node);
        if self.template_node_name.as_deref().is_some_and(|n| n != name) {
            return Placement::default();
        }
        if !self.affinity.matches(name, labels) {
            return Placement::default();
        }
        if find_untolerated(taints, &self.tolerations, schedule_blocking).is_some() {
            let evicted = find_untolerated(taints, &self.tolerations, |t| t.effect == NO_EXECUTE).is_some();
            return Placement { should_run: false, should_continue_running: !evicted };
        }
        Placement { should_run: true, should_continue_running: true }
    }

    /// Every reason the node is not fully eligible (empty when `should_run`).
    pub fn explain(&self, node: &Node) -> Vec<Ineligibility> {
        let (name, labels, taints) = node_parts(node);
        let mut out = Vec::new();
        if let Some(wanted) = self.template_node_name.as_deref().filter(|n| *n != name) {
            out.push(Ineligibility::NodeNameMismatch { wanted: wanted.to_string() });
        }
        out.extend(self.affinity.explain(name, labels).into_iter().map(Ineligibility::Affinity));
        for taint in taints.iter().filter(|t| schedule_blocking(t)) {
            if find_untolerated(std::slice::from_ref(taint), &self.tolerations, |_| true).is_some() {
                out.push(Ineligibility::UntoleratedTaint {
                    taint: describe_taint(taint),
                    evicts: taint.effect == NO_EXECUTE,
                });
            }
        }
        out
    }
}
