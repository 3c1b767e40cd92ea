//! The scheduler's view of the cluster for one cycle (`framework.NodeInfo` per node): each node
//! with its allocatable resources and what the pods bound (or assumed) to it already use.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, PodSpec, Taint};

use everynode_api::labels::Labels;

use super::resources::{HostPort, Resources, host_ports, node_allocatable, pod_requests};

static NO_LABELS: Labels = Labels::new();

/// What one pod takes from its node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// Effective requests.
    pub requests: Resources,
    /// Host ports bound.
    pub host_ports: Vec<HostPort>,
}

impl PodUsage {
    /// Reads a pod spec.
    pub fn of(spec: &PodSpec) -> PodUsage {
        PodUsage { requests: pod_requests(spec), host_ports: host_ports(spec) }
    }
}

/// One node and its load.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    node: Arc<Node>,
    allocatable: Resources,
    requested: Resources,
    pods: i64,
    used_ports: Vec<HostPort>,
}

impl NodeInfo {
    fn new(node: Arc<Node>) -> NodeInfo {
        let allocatable = node_allocatable(&node);
        NodeInfo { node, allocatable, requested: Resources::default(), pods: 0, used_ports: Vec::new() }
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        self.node.metadata.name.as_deref().unwrap_or_default()
    }

    /// The node's labels.
    pub fn labels(&self) -> &Labels {
        self.node.metadata.labels.as_ref().unwrap_or(&NO_LABELS)
    }

    /// The node's taints.
    pub fn taints(&self) -> &[Taint] {
        self.node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default()
    }

    /// `spec.unschedulable` (cordoned).
    pub fn unschedulable(&self) -> bool {
        self.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
    }

    /// What the node offers.
    pub fn allocatable(&self) -> &Resources {
        &self.allocatable
    }

    /// What its pods request together.
    pub fn requested(&self) -> &Resources {
        &self.requested
    }

    /// How many pods it holds.
    pub fn pod_count(&self) -> i64 {
        self.pods
    }

    /// The host ports its pods bind.
    pub fn used_ports(&self) -> &[HostPort] {
        &self.used_ports
    }

    fn add(&mut self, usage: &PodUsage) {
        self.requested.add(&usage.requests);
        self.pods += 1;
        self.used_ports.extend(usage.host_ports.iter().cloned());
    }

    fn remove(&mut self, usage: &PodUsage) {
        self.requested.sub(&usage.requests);
        self.pods -= 1;
        for port in &usage.host_ports {
            if let Some(i) = self.used_ports.iter().position(|used| used == port) {
                self.used_ports.swap_remove(i);
            }
        }
    }
}

/// Every node, sorted by name so decisions are deterministic.
///
/// The runtime keeps one up to date from pod events (the scheduler cache) rather than building
/// one per scheduling cycle.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    nodes: Vec<NodeInfo>,
    index: Arc<HashMap<String, usize>>,
}

impl Snapshot {
    /// A snapshot of these nodes with nothing on them yet.
    pub fn new(nodes: impl IntoIterator<Item = Arc<Node>>) -> Snapshot {
        let mut infos: Vec<NodeInfo> = nodes.into_iter().map(NodeInfo::new).collect();
        infos.sort_by(|a, b| a.name().cmp(b.name()));
        let index = Arc::new(infos.iter().enumerate().map(|(i, n)| (n.name().to_owned(), i)).collect());
        Snapshot { nodes: infos, index }
    }

    /// Counts a pod on `node` (bound or assumed). Pods on unknown nodes are ignored and reported
    /// with `false`: they use nothing the scheduler could hand out.
    pub fn add_pod(&mut self, node: &str, usage: &PodUsage) -> bool {
        match self.index.get(node) {
            Some(&i) => {
                self.nodes[i].add(usage);
                true
            }
            None => false,
        }
    }

    /// Stops counting a pod counted on `node` with [`add_pod`](Self::add_pod) and this `usage`.
    pub fn remove_pod(&mut self, node: &str, usage: &PodUsage) -> bool {
        match self.index.get(node) {
            Some(&i) => {
                self.nodes[i].remove(usage);
                true
            }
            None => false,
        }
    }

    /// All nodes, by name.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}
