//! What `everynode nodes ...` does to a running cluster: add nodes to a pool, fail a node's
//! kubelet and recover it. Each is a plain API write, so it works from any process with a
//! client; the running simulation picks the change up through its watch.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::fleet::{Behaviour, Pool};
use crate::node::object::kubelet_labels;
use crate::node::{FAILED_ANNOTATION, POOL_LABEL, behaviour_annotation, pool_of, pool_spec_annotation};
use crate::runtime::registration;

/// How many node creations run at once.
const CREATE_CONCURRENCY: usize = 32;

/// Why a node operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NodesError {
    /// No node of that name.
    #[error("node {0:?} not found")]
    NotFound(String),
    /// No node carries the pool's label.
    #[error("no node belongs to pool {0:?} (label everynode.io/pool)")]
    UnknownPool(String),
    /// The API call failed (retryable when the API server is unavailable).
    #[error("talking to the API server")]
    Api(#[source] kube::Error),
}

impl From<kube::Error> for NodesError {
    fn from(error: kube::Error) -> Self {
        NodesError::Api(error)
    }
}

/// Adds `count` nodes to `pool`, numbered after the highest existing `<prefix><n>`; returns
/// their names. The running simulation starts simulating them as soon as they appear.
pub async fn add_nodes(client: &Client, pool: &Pool, count: u32) -> Result<Vec<String>, NodesError> {
    let (existing, mut plan) = registration::survey(client).await?;
    let prefix = pool.prefix();
    let highest = existing
        .iter()
        .filter_map(|n| n.name_any().strip_prefix(&prefix).and_then(|rest| rest.parse::<u32>().ok()))
        .max()
        .unwrap_or(0);
    let now = jiff::Timestamp::now();
    let mut names = Vec::new();
    let mut nodes = Vec::new();
    for index in (highest + 1)..=(highest.saturating_add(count)) {
        let name = pool.node_name(index);
        nodes.push(registration::new_node(pool, &name, &mut plan, now));
        names.push(name);
    }
    registration::create_all(client, nodes, CREATE_CONCURRENCY).await?;
    Ok(names)
}

/// Reconstructs pool `name` from one of its nodes (labels, taints, capacity, unschedulable,
/// behaviour, name prefix), for `everynode nodes add --pool P` without the fleet file.
pub async fn find_pool(client: &Client, name: &str) -> Result<Pool, NodesError> {
    let selector = format!("{POOL_LABEL}={name}");
    let nodes =
        Api::<Node>::all(client.clone()).list(&kube::api::ListParams::default().labels(&selector)).await?;
    nodes.items.iter().find_map(pool_from_node).ok_or_else(|| NodesError::UnknownPool(name.to_owned()))
}

/// The pool a node was made from, if it carries a pool label: the template recorded at its
/// registration, or, for nodes registered before templates were recorded, rebuilt from the node
/// itself (which then also copies labels and taints added to it by hand).
pub fn pool_from_node(node: &Node) -> Option<Pool> {
    let name = pool_of(node)?.to_owned();
    let behaviour = behaviour_annotation(node)
        .and_then(|text| serde_json::from_str::<Behaviour>(text).ok())
        .unwrap_or_default();
    let recorded = pool_spec_annotation(node).and_then(|text| {
        let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
        let object = value.as_object_mut()?;
        object.insert("count".to_owned(), json!(0));
        serde_json::from_value::<Pool>(value).ok()
    });
    if let Some(pool) = recorded.filter(|pool| pool.name == name) {
        return Some(Pool { behaviour, ..pool });
    }
    let node_name = node.name_any();
    let prefix = node_name.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned();
    let kubelet = kubelet_labels(&node_name);
    let labels: BTreeMap<String, String> = node
        .labels()
        .iter()
        .filter(|(k, _)| !kubelet.contains_key(*k) && k.as_str() != POOL_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let spec = node.spec.clone().unwrap_or_default();
    let capacity = node
        .status
        .as_ref()
        .and_then(|s| s.capacity.as_ref())
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.0.clone())).collect())
        .unwrap_or_default();
    Some(Pool {
        name,
        count: 0,
        name_prefix: Some(prefix),
        labels,
        taints: spec.taints.unwrap_or_default(),
        capacity,
        unschedulable: spec.unschedulable.unwrap_or(false),
        behaviour,
    })
}

/// Fails node `name`'s kubelet: its lease and status stop being renewed and its pods are no
/// longer updated, as when a machine dies.
pub async fn fail_node(client: &Client, name: &str) -> Result<(), NodesError> {
    set_failed(client, name, Some("true")).await
}

/// Recovers a failed node: it reports Ready again and its pods resume.
pub async fn recover_node(client: &Client, name: &str) -> Result<(), NodesError> {
    set_failed(client, name, None).await
}

async fn set_failed(client: &Client, name: &str, value: Option<&str>) -> Result<(), NodesError> {
    let patch = json!({"metadata": {"annotations": {FAILED_ANNOTATION: value}}});
    match Api::<Node>::all(client.clone()).patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Err(NodesError::NotFound(name.to_owned())),
        Err(e) => Err(NodesError::Api(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;
    use crate::node::object::{NodeAddresses, registration};

    #[test]
    fn a_pool_is_recovered_from_one_of_its_nodes() {
        let fleet = Fleet::default_fleet(3);
        let pool = &fleet.pools[0];
        let node = registration(
            pool,
            "control-plane-1",
            &NodeAddresses { internal_ip: std::net::Ipv4Addr::new(172, 16, 0, 2), pod_cidr: None },
            jiff::Timestamp::from_second(0).unwrap(),
        );
        let rebuilt = pool_from_node(&node).unwrap();
        assert_eq!(rebuilt.name, "control-plane");
        assert_eq!(rebuilt.prefix(), "control-plane-");
        assert_eq!(rebuilt.labels, pool.labels);
        assert_eq!(rebuilt.taints, pool.taints);
        assert_eq!(rebuilt.behaviour, pool.behaviour);
        assert_eq!(rebuilt.capacity, pool.effective_capacity());
    }

    #[test]
    fn a_pool_ignores_labels_and_taints_added_to_its_node_by_hand() {
        let fleet = Fleet::default_fleet(3);
        let pool = &fleet.pools[1];
        let mut node = registration(
            pool,
            "worker-1",
            &NodeAddresses { internal_ip: std::net::Ipv4Addr::new(172, 16, 0, 3), pod_cidr: None },
            jiff::Timestamp::from_second(0).unwrap(),
        );
        node.labels_mut().insert("ssd".to_owned(), "true".to_owned());
        let taint = k8s_openapi::api::core::v1::Taint {
            key: "dedicated".to_owned(),
            value: Some("x".to_owned()),
            effect: "NoExecute".to_owned(),
            time_added: None,
        };
        node.spec.get_or_insert_default().taints = Some(vec![taint]);
        let rebuilt = pool_from_node(&node).unwrap();
        assert_eq!(rebuilt.name, pool.name);
        assert_eq!(rebuilt.prefix(), pool.prefix());
        assert_eq!(rebuilt.labels, pool.labels, "a hand-added label is not part of the pool");
        assert_eq!(rebuilt.taints, pool.taints, "a hand-added taint is not part of the pool");
        assert_eq!(rebuilt.behaviour, pool.behaviour);
    }
}
