//! The Node object a simulated kubelet registers for a fleet pool member.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, NodeSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{BEHAVIOUR_ANNOTATION, POOL_LABEL, POOL_SPEC_ANNOTATION, status};
use crate::fleet::{Behaviour, Pool};
use crate::network::Cidr;

/// The addresses a new node gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAddresses {
    /// Its InternalIP.
    pub internal_ip: Ipv4Addr,
    /// Its pod network.
    pub pod_cidr: Option<Cidr>,
}

/// The labels every kubelet puts on its node.
pub fn kubelet_labels(name: &str) -> BTreeMap<String, String> {
    [
        ("kubernetes.io/hostname", name),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
        ("beta.kubernetes.io/os", "linux"),
        ("beta.kubernetes.io/arch", "amd64"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// The behaviour annotation's value.
pub fn behaviour_json(behaviour: &Behaviour) -> String {
    // A Behaviour is plain data (strings, numbers, lists); serializing it cannot fail, and if it
    // ever did the node would fall back to the default behaviour, which is harmless.
    serde_json::to_string(behaviour).unwrap_or_default()
}

/// The pool template annotation's value: the pool without its count and behaviour (the
/// behaviour has an annotation of its own, which a fleet file change refreshes), with the
/// capacity its nodes actually get.
pub fn pool_spec_json(pool: &Pool) -> String {
    let template = Pool { capacity: pool.effective_capacity(), ..pool.clone() };
    let mut value = serde_json::to_value(&template).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("count");
        object.remove("behaviour");
    }
    value.to_string()
}

/// Node `name` of `pool`, with the full status a kubelet registers (Ready, capacity, addresses,
/// nodeInfo), the pool's labels and taints, and its behaviour as an annotation.
pub fn registration(pool: &Pool, name: &str, addresses: &NodeAddresses, now: Timestamp) -> Node {
    let mut labels = kubelet_labels(name);
    labels.insert(POOL_LABEL.to_owned(), pool.name.clone());
    labels.extend(pool.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    let annotations: BTreeMap<String, String> = [
        (BEHAVIOUR_ANNOTATION.to_owned(), behaviour_json(&pool.behaviour)),
        (POOL_SPEC_ANNOTATION.to_owned(), pool_spec_json(pool)),
        ("node.alpha.kubernetes.io/ttl".to_owned(), "0".to_owned()),
        ("volumes.kubernetes.io/controller-managed-attach-detach".to_owned(), "true".to_owned()),
    ]
    .into_iter()
    .collect();
    let pod_cidr = addresses.pod_cidr.map(|c| c.to_string());
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: pod_cidr.clone(),
            pod_cidrs: pod_cidr.map(|c| vec![c]),
            provider_id: Some(format!("everynode://{name}")),
            taints: (!pool.taints.is_empty()).then(|| pool.taints.clone()),
            unschedulable: pool.unschedulable.then_some(true),
            ..NodeSpec::default()
        }),
        status: Some(status::registration_status(
            name,
            addresses.internal_ip,
            &pool.effective_capacity(),
            now,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;

    #[test]
    fn a_registered_node_carries_pool_labels_taints_and_behaviour() {
        let fleet = Fleet::default_fleet(3);
        let pool = &fleet.pools[0];
        let addresses = NodeAddresses {
            internal_ip: Ipv4Addr::new(172, 16, 0, 2),
            pod_cidr: Some("10.128.0.0/24".parse().unwrap()),
        };
        let node = registration(pool, "control-plane-1", &addresses, Timestamp::from_second(0).unwrap());
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "control-plane-1");
        assert_eq!(labels[POOL_LABEL], "control-plane");
        assert_eq!(labels["node-role.kubernetes.io/control-plane"], "");
        let spec = node.spec.as_ref().unwrap();
        assert_eq!(spec.taints.as_ref().unwrap()[0].effect, "NoSchedule");
        assert_eq!(spec.pod_cidr.as_deref(), Some("10.128.0.0/24"));
        assert_eq!(spec.unschedulable, None);
        let behaviour: Behaviour =
            serde_json::from_str(&node.metadata.annotations.as_ref().unwrap()[BEHAVIOUR_ANNOTATION]).unwrap();
        assert_eq!(behaviour, pool.behaviour);
        let status = node.status.unwrap();
        assert_eq!(status.node_info.unwrap().kubelet_version, "v1.37.0");
        assert_eq!(status.capacity.unwrap()["pods"].0, "110");
    }
}
