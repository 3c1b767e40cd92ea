//! Every node of the cluster is simulated, whoever created it; nodes can fail and recover; a
//! deleted node is no longer simulated and its pods are left to the pod garbage collector.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use everynode_nodesim::node::SIMULATED_ANNOTATION;
use everynode_nodesim::node::lease::LEASE_NAMESPACE;
use everynode_nodesim::{Fleet, FleetHandle, fail_node, recover_node};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

async fn running_fleet(cluster: &Cluster, nodes: u32) -> anyhow::Result<FleetHandle> {
    let mut handle = Fleet::run(cluster.client.clone(), fast_fleet(nodes), fast_options());
    handle.registered().await?;
    Ok(handle)
}

async fn renew_time(client: &Client, node: &str) -> anyhow::Result<Option<Timestamp>> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), LEASE_NAMESPACE);
    Ok(leases.get_opt(node).await?.and_then(|l| l.spec).and_then(|s| s.renew_time).map(|t| t.0))
}

fn node(value: serde_json::Value) -> Node {
    serde_json::from_value(value).expect("fixture node")
}

#[tokio::test]
async fn a_node_created_with_kubectl_gets_simulated() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, 1).await?;
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    nodes
        .create(
            &PostParams::default(),
            &node(json!({"metadata": {"name": "by-hand", "labels": {"ssd": "true"}}})),
        )
        .await?;

    let simulated = eventually("the node reports Ready with its machine facts", || async {
        Ok(get_node(&cluster.client, "by-hand").await?.filter(|n| {
            node_ready(n).as_deref() == Some("True")
                && n.spec.as_ref().and_then(|s| s.pod_cidr.as_ref()).is_some()
                && n.status.as_ref().and_then(|s| s.node_info.as_ref()).is_some()
        }))
    })
    .await?;
    let status = simulated.status.unwrap();
    assert_eq!(status.node_info.unwrap().kubelet_version, "v1.37.0");
    assert!(status.addresses.unwrap().iter().any(|a| a.type_ == "InternalIP"));
    assert_eq!(status.capacity.unwrap()["cpu"].0, "4");
    assert_eq!(simulated.metadata.labels.clone().unwrap()["ssd"], "true", "the user's labels are kept");
    eventually("it has a lease", || async { renew_time(&cluster.client, "by-hand").await }).await?;
    // Filled in once: what was written reads back as up to date, so the node is not rewritten.
    let settled = get_node(&cluster.client, "by-hand").await?.unwrap().metadata.resource_version;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get_node(&cluster.client, "by-hand").await?.unwrap().metadata.resource_version, settled);

    create_pod(&cluster.client, &pod("on-hand", Some("by-hand"), "nginx:1.27")).await?;
    let pod = eventually("its pod becomes ready", || async {
        Ok(get_pod(&cluster.client, "on-hand").await?.filter(is_ready))
    })
    .await?;
    let cidr = simulated.spec.unwrap().pod_cidr.unwrap();
    let ip = pod.status.unwrap().pod_ip.unwrap();
    assert_eq!(ip.rsplit_once('.').unwrap().0, cidr.rsplit_once('.').unwrap().0);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_node_annotated_not_simulated_is_left_alone() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, 1).await?;
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    let real = node(json!({"metadata": {"name": "real", "annotations": {SIMULATED_ANNOTATION: "false"}}}));
    nodes.create(&PostParams::default(), &real).await?;
    create_pod(&cluster.client, &pod("on-real", Some("real"), "nginx:1.27")).await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(get_node(&cluster.client, "real").await?.unwrap().status.and_then(|s| s.conditions).is_none());
    assert_eq!(renew_time(&cluster.client, "real").await?, None);
    let pod = get_pod(&cluster.client, "on-real").await?.unwrap();
    assert!(pod.status.unwrap().container_statuses.is_none(), "no kubelet touched the pod");
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_failed_node_stops_renewing_its_lease_and_recovers() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, 3).await?;
    eventually("worker-1 has a lease", || async { renew_time(&cluster.client, "worker-1").await }).await?;

    fail_node(&cluster.client, "worker-1").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = renew_time(&cluster.client, "worker-1").await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(renew_time(&cluster.client, "worker-1").await?, stopped, "renewals stop (interval 50 ms)");
    assert!(renew_time(&cluster.client, "worker-2").await? > stopped, "other nodes go on");

    // Its pods no longer progress.
    create_pod(&cluster.client, &pod("orphaned", Some("worker-1"), "nginx:1.27")).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pod = get_pod(&cluster.client, "orphaned").await?.unwrap();
    assert!(pod.status.unwrap().container_statuses.is_none());

    // The node lifecycle controller notices and marks it Unknown.
    let unknown = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
        "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": "2020-01-01T00:00:00Z",
        "lastTransitionTime": "2020-01-01T00:00:00Z"}]}});
    Api::<Node>::all(cluster.client.clone())
        .patch_status("worker-1", &PatchParams::default(), &Patch::Merge(&unknown))
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        node_ready(&get_node(&cluster.client, "worker-1").await?.unwrap()).as_deref(),
        Some("Unknown")
    );

    recover_node(&cluster.client, "worker-1").await?;
    eventually("the node is Ready again", || async {
        Ok(get_node(&cluster.client, "worker-1").await?.filter(|n| node_ready(n).as_deref() == Some("True")))
    })
    .await?;
    eventually("the lease is renewed again", || async {
        Ok(renew_time(&cluster.client, "worker-1").await?.filter(|t| Some(*t) > stopped))
    })
    .await?;
    eventually("its pod becomes ready", || async {
        Ok(get_pod(&cluster.client, "orphaned").await?.filter(is_ready))
    })
    .await?;
    assert!(matches!(
        fail_node(&cluster.client, "nope").await,
        Err(everynode_nodesim::NodesError::NotFound(_))
    ));
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_deleted_node_stops_being_simulated_and_its_pods_are_left_alone() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, 3).await?;
    create_pod(&cluster.client, &pod("stranded", Some("worker-2"), "nginx:1.27")).await?;
    eventually("the pod is ready", || async {
        Ok(get_pod(&cluster.client, "stranded").await?.filter(is_ready))
    })
    .await?;

    let nodes: Api<Node> = Api::all(cluster.client.clone());
    nodes.delete("worker-2", &DeleteParams::default()).await?;
    eventually("the node is gone", || async {
        Ok(get_node(&cluster.client, "worker-2").await?.is_none().then_some(()))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let renewed = renew_time(&cluster.client, "worker-2").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        renew_time(&cluster.client, "worker-2").await?,
        renewed,
        "no more renewals (or no lease at all)"
    );

    // Its pod stays as it was: Ready, and a deletion is not carried out by anyone.
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let before = pods.get("stranded").await?;
    assert!(is_ready(&before));
    pods.delete("stranded", &DeleteParams::default()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = pods.get_opt("stranded").await?.expect("no kubelet removes it");
    assert!(after.metadata.deletion_timestamp.is_some());

    // A node of the same name coming back is simulated afresh.
    nodes.create(&PostParams::default(), &node(json!({"metadata": {"name": "worker-2"}}))).await?;
    eventually("the new worker-2 is Ready", || async {
        Ok(get_node(&cluster.client, "worker-2").await?.filter(|n| node_ready(n).as_deref() == Some("True")))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}
