//! The engine's table of simulated nodes: the latest Node object of each, whether its kubelet
//! is failed, its behaviour, and its addresses (InternalIP, pod network and pod IPs).

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::ResourceExt;

use crate::fleet::validation::validate_behaviour;
use crate::fleet::{Behaviour, CompiledBehaviour, Fleet};
use crate::kubelet::Placement;
use crate::network::{self, AddressPlan, Cidr, PodIps};
use crate::node::{behaviour_annotation, is_failed, is_simulated, pool_of};

/// Annotations that fail to parse are remembered so each is reported once; the cache of good
/// ones is cleared past this size (behaviours are few; this only bounds a pathological churn).
const MAX_CACHED_BEHAVIOURS: usize = 1024;

/// One simulated node.
#[derive(Debug)]
pub(super) struct SimNode {
    /// The latest Node object seen.
    pub node: Node,
    /// Whether its kubelet is failed (`everynode.io/failed: "true"`).
    pub failed: bool,
    /// How its pods behave.
    pub behaviour: Arc<CompiledBehaviour>,
    /// Its InternalIP (allocated here if the node shows none yet).
    pub host_ip: Ipv4Addr,
    /// Its pod IPs (None if no pod network could be found or allocated).
    pub pod_ips: Option<PodIps>,
    /// A pod network allocated here for a node without `spec.podCIDR`, until it is written.
    pub unwritten_cidr: Option<Cidr>,
}

/// What applying a Node object changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NodeChange {
    /// A node new to the simulation.
    Added,
    /// Its failed annotation went away.
    Recovered,
    /// It was annotated failed.
    Failed,
    /// Anything else; says whether its behaviour changed.
    Updated { behaviour_changed: bool },
    /// It was annotated not simulated and left the simulation.
    Left,
}

/// Resolves a node's behaviour: its annotation, else its fleet pool's, else the fleet default.
#[derive(Debug)]
struct Behaviours {
    default: Arc<CompiledBehaviour>,
    pools: HashMap<String, Arc<CompiledBehaviour>>,
    annotations: HashMap<String, Arc<CompiledBehaviour>>,
    rejected: HashSet<String>,
}

impl Behaviours {
    fn new(fleet: &Fleet) -> Behaviours {
        let compile = |b: &Behaviour| Arc::new(CompiledBehaviour::new(b.clone()).unwrap_or_default());
        Behaviours {
            default: compile(&fleet.default_behaviour),
            pools: fleet.pools.iter().map(|p| (p.name.clone(), compile(&p.behaviour))).collect(),
            annotations: HashMap::new(),
            rejected: HashSet::new(),
        }
    }

    fn resolve(&mut self, node: &Node) -> Arc<CompiledBehaviour> {
        if let Some(text) = behaviour_annotation(node) {
            if let Some(b) = self.annotations.get(text) {
                return Arc::clone(b);
            }
            if !self.rejected.contains(text) {
                match parse_behaviour(text) {
                    Ok(b) => {
                        if self.annotations.len() >= MAX_CACHED_BEHAVIOURS {
                            self.annotations.clear();
                        }
                        let b = Arc::new(b);
                        self.annotations.insert(text.to_owned(), Arc::clone(&b));
                        return b;
                    }
                    Err(error) => {
                        tracing::warn!(node = node.name_any(), %error, "ignoring invalid behaviour annotation");
                        self.rejected.insert(text.to_owned());
                    }
                }
            }
        }
        pool_of(node).and_then(|p| self.pools.get(p)).map_or_else(|| Arc::clone(&self.default), Arc::clone)
    }
}

fn parse_behaviour(text: &str) -> Result<CompiledBehaviour, String> {
    let behaviour: Behaviour = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let errors = validate_behaviour(&behaviour, &everynode_api::FieldPath::new("behaviour"));
    if !errors.is_empty() {
        return Err(everynode_api::field::aggregate_message(&errors));
    }
    CompiledBehaviour::new(behaviour).map_err(|e| e.to_string())
}

/// All simulated nodes.
#[derive(Debug)]
pub(super) struct NodeTable {
    nodes: HashMap<String, SimNode>,
    behaviours: Behaviours,
    addresses: AddressPlan,
}

impl NodeTable {
    pub fn new(fleet: &Fleet, addresses: AddressPlan) -> NodeTable {
        NodeTable { nodes: HashMap::new(), behaviours: Behaviours::new(fleet), addresses }
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn get(&self, name: &str) -> Option<&SimNode> {
        self.nodes.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.nodes.keys()
    }

    /// Takes in the latest version of a node. None when the node is not, and was not, simulated.
    pub fn apply(&mut self, node: Node) -> Option<NodeChange> {
        let name = node.name_any();
        if !is_simulated(&node) {
            return self.remove(&name).map(|_| NodeChange::Left);
        }
        self.addresses.observe(&node);
        let failed = is_failed(&node);
        let behaviour = self.behaviours.resolve(&node);
        if let Some(sim) = self.nodes.get_mut(&name) {
            let was_failed = sim.failed;
            let behaviour_changed = !Arc::ptr_eq(&sim.behaviour, &behaviour);
            sim.failed = failed;
            sim.behaviour = behaviour;
            if let Some(ip) = network::internal_ip(&node) {
                sim.host_ip = ip;
            }
            if let Some(cidr) = network::pod_cidr(&node) {
                sim.unwritten_cidr = None;
                if sim.pod_ips.as_ref().is_none_or(|ips| ips.cidr() != cidr) {
                    sim.pod_ips = Some(PodIps::new(cidr));
                }
            }
            sim.node = node;
            return Some(match (was_failed, failed) {
                (true, false) => NodeChange::Recovered,
                (false, true) => NodeChange::Failed,
                _ => NodeChange::Updated { behaviour_changed },
            });
        }
        let host_ip =
            network::internal_ip(&node).or_else(|| self.addresses.node_ip()).unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (cidr, unwritten_cidr) = match network::pod_cidr(&node) {
            Some(cidr) => (Some(cidr), None),
            None => {
                let cidr = self.addresses.pod_cidr();
                (cidr, cidr)
            }
        };
        let sim =
            SimNode { node, failed, behaviour, host_ip, pod_ips: cidr.map(PodIps::new), unwritten_cidr };
        self.nodes.insert(name, sim);
        Some(NodeChange::Added)
    }

    /// Stops simulating a node (deleted, or no longer simulated), freeing its addresses.
    pub fn remove(&mut self, name: &str) -> Option<SimNode> {
        let sim = self.nodes.remove(name)?;
        self.addresses.forget(&sim.node);
        self.addresses
            .release(network::internal_ip(&sim.node).is_none().then_some(sim.host_ip), sim.unwritten_cidr);
        Some(sim)
    }

    /// Where `pod` runs on `node`: the pod keeps the IP its status shows; hostNetwork pods use
    /// the node's; others get one from the node's pod network.
    pub fn placement(&mut self, node: &str, pod: &Pod) -> Option<Placement> {
        let sim = self.nodes.get_mut(node)?;
        let host_network = pod.spec.as_ref().and_then(|s| s.host_network).unwrap_or(false);
        let uid = pod.metadata.uid.as_deref().unwrap_or_default();
        let shown: Option<Ipv4Addr> =
            pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok());
        let pod_ip = if host_network {
            Some(sim.host_ip)
        } else if let Some(ip) = shown {
            if let Some(ips) = sim.pod_ips.as_mut() {
                ips.observe(uid, ip);
            }
            Some(ip)
        } else {
            sim.pod_ips.as_mut().and_then(|ips| ips.assign(uid))
        };
        Some(Placement { host_ip: sim.host_ip, pod_ip })
    }

    /// Marks the IP a pod's status shows as taken (before any new pod is given one).
    pub fn observe_pod_ip(&mut self, node: &str, pod: &Pod) {
        let Some(ips) = self.nodes.get_mut(node).and_then(|sim| sim.pod_ips.as_mut()) else { return };
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok());
        if let (Some(ip), Some(uid)) = (ip, pod.metadata.uid.as_deref()) {
            ips.observe(uid, ip);
        }
    }

    /// Frees a pod's IP.
    pub fn release_pod_ip(&mut self, node: &str, uid: &str) {
        if let Some(ips) = self.nodes.get_mut(node).and_then(|sim| sim.pod_ips.as_mut()) {
            ips.release(uid);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::node::{BEHAVIOUR_ANNOTATION, FAILED_ANNOTATION, SIMULATED_ANNOTATION};

    fn node(value: serde_json::Value) -> Node {
        serde_json::from_value(value).unwrap()
    }

    fn table() -> NodeTable {
        NodeTable::new(&Fleet::default_fleet(3), AddressPlan::default())
    }

    #[test]
    fn nodes_come_and_go_with_their_annotations() {
        let mut t = table();
        assert_eq!(t.apply(node(json!({"metadata": {"name": "a"}}))), Some(NodeChange::Added));
        let failed = json!({"metadata": {"name": "a", "annotations": {FAILED_ANNOTATION: "true"}}});
        assert_eq!(t.apply(node(failed)), Some(NodeChange::Failed));
        assert_eq!(t.apply(node(json!({"metadata": {"name": "a"}}))), Some(NodeChange::Recovered));
        let gone = json!({"metadata": {"name": "a", "annotations": {SIMULATED_ANNOTATION: "false"}}});
        assert_eq!(t.apply(node(gone.clone())), Some(NodeChange::Left));
        assert_eq!(t.apply(node(gone)), None);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn a_node_without_addresses_gets_some_in_memory() {
        let mut t = table();
        t.apply(node(json!({"metadata": {"name": "a"}})));
        let sim = t.get("a").unwrap();
        assert_eq!(sim.host_ip, Ipv4Addr::new(172, 16, 0, 2));
        assert_eq!(sim.unwritten_cidr.unwrap().to_string(), "10.128.0.0/24");
        let written = json!({"metadata": {"name": "a"}, "spec": {"podCIDR": "10.128.0.0/24"}});
        t.apply(node(written));
        assert_eq!(t.get("a").unwrap().unwritten_cidr, None);
    }

    #[test]
    fn behaviours_come_from_the_annotation_then_the_pool_then_the_default() {
        let mut t = table();
        let annotated = json!({"metadata": {"name": "a", "annotations": {BEHAVIOUR_ANNOTATION: "{\"startDelay\":\"7s\"}"}}});
        t.apply(node(annotated));
        assert_eq!(t.get("a").unwrap().behaviour.behaviour().start_delay.as_secs(), 7);
        let bad = json!({"metadata": {"name": "b", "annotations": {BEHAVIOUR_ANNOTATION: "{\"startDelay\":\"7x\"}"}}});
        t.apply(node(bad));
        assert_eq!(t.get("b").unwrap().behaviour.behaviour(), &Behaviour::default());
        let changed = json!({"metadata": {"name": "a", "annotations": {BEHAVIOUR_ANNOTATION: "{\"startDelay\":\"8s\"}"}}});
        assert_eq!(t.apply(node(changed)), Some(NodeChange::Updated { behaviour_changed: true }));
    }

    #[test]
    fn pods_keep_the_ip_they_show_and_host_network_pods_use_the_node_ip() {
        let mut t = table();
        t.apply(node(json!({"metadata": {"name": "a"}, "spec": {"podCIDR": "10.128.7.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": "172.16.0.9"}]}})));
        let shown: Pod =
            serde_json::from_value(json!({"metadata": {"uid": "u1"}, "status": {"podIP": "10.128.7.2"}}))
                .unwrap();
        t.observe_pod_ip("a", &shown);
        let fresh: Pod = serde_json::from_value(json!({"metadata": {"uid": "u2"}})).unwrap();
        assert_eq!(t.placement("a", &fresh).unwrap().pod_ip, Some(Ipv4Addr::new(10, 128, 7, 3)));
        assert_eq!(t.placement("a", &shown).unwrap().pod_ip, Some(Ipv4Addr::new(10, 128, 7, 2)));
        let host: Pod = serde_json::from_value(
            json!({"metadata": {"uid": "u3"}, "spec": {"hostNetwork": true, "containers": []}}),
        )
        .unwrap();
        let p = t.placement("a", &host).unwrap();
        assert_eq!((p.host_ip, p.pod_ip), (Ipv4Addr::new(172, 16, 0, 9), Some(Ipv4Addr::new(172, 16, 0, 9))));
    }
}
