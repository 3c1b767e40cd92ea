//! Registering nodes: creating the Node objects of a fleet (or of `everynode nodes add`) with
//! addresses no existing node uses. Idempotent, so a failed attempt is simply run again, and a
//! restart on the same data dir finds its nodes already there.
//!
//! Existing nodes keep their labels, taints and spec (users may have changed them with kubectl);
//! only their behaviour annotation follows the fleet file. Nodes are never deleted here.

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt, stream};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::fleet::{Fleet, Pool};
use crate::network::AddressPlan;
use crate::node::object::{NodeAddresses, behaviour_json, pool_spec_json, registration};
use crate::node::{BEHAVIOUR_ANNOTATION, POOL_SPEC_ANNOTATION, behaviour_annotation, pool_spec_annotation};

/// All nodes of the cluster and an address plan that avoids their addresses.
pub(crate) async fn survey(client: &Client) -> Result<(Vec<Node>, AddressPlan), kube::Error> {
    let nodes = Api::<Node>::all(client.clone()).list(&ListParams::default()).await?.items;
    let mut plan = AddressPlan::default();
    for node in &nodes {
        plan.observe(node);
    }
    Ok((nodes, plan))
}

/// Node `name` of `pool` with fresh addresses from `plan`.
pub(crate) fn new_node(pool: &Pool, name: &str, plan: &mut AddressPlan, now: Timestamp) -> Node {
    let addresses = NodeAddresses {
        internal_ip: plan.node_ip().unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        pod_cidr: plan.pod_cidr(),
    };
    registration(pool, name, &addresses, now)
}

/// Creates `nodes`, `concurrency` at a time; nodes that already exist are fine.
pub(crate) async fn create_all(
    client: &Client,
    nodes: Vec<Node>,
    concurrency: usize,
) -> Result<(), kube::Error> {
    let api: Api<Node> = Api::all(client.clone());
    stream::iter(nodes)
        .map(|node| {
            let api = api.clone();
            async move {
                match api.create(&PostParams::default(), &node).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
                    Err(e) => Err(e),
                }
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(|_| ())
}

/// Registers the fleet's nodes; returns the address plan, which the engine keeps using for
/// nodes created later without addresses.
pub(crate) async fn register(
    client: &Client,
    fleet: &Fleet,
    now: Timestamp,
    concurrency: usize,
) -> Result<AddressPlan, kube::Error> {
    let (existing, mut plan) = survey(client).await?;
    let existing: HashMap<String, Node> = existing.into_iter().map(|n| (n.name_any(), n)).collect();
    let mut creates = Vec::new();
    let mut refreshes = Vec::new();
    for (pool, name) in fleet.nodes() {
        match existing.get(&name) {
            None => creates.push(new_node(pool, &name, &mut plan, now)),
            Some(node) => {
                let behaviour = behaviour_json(&pool.behaviour);
                let spec = pool_spec_json(pool);
                if behaviour_annotation(node) != Some(behaviour.as_str())
                    || pool_spec_annotation(node) != Some(spec.as_str())
                {
                    refreshes.push((name, behaviour, spec));
                }
            }
        }
    }
    let created = creates.len();
    create_all(client, creates, concurrency).await?;
    let api: Api<Node> = Api::all(client.clone());
    for (name, behaviour, spec) in &refreshes {
        let patch = json!({"metadata": {"annotations": {BEHAVIOUR_ANNOTATION: behaviour, POOL_SPEC_ANNOTATION: spec}}});
        match api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    tracing::info!(created, refreshed = refreshes.len(), total = fleet.node_count(), "fleet registered");
    Ok(plan)
}
