//! A fleet registers its nodes as kubelets would (labels, taints, conditions, capacity,
//! addresses, nodeInfo, leases), again idempotently after a restart, and grows with `add_nodes`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use everynode_nodesim::node::lease::LEASE_NAMESPACE;
use everynode_nodesim::{Fleet, add_nodes, find_pool};
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use support::*;

#[tokio::test]
async fn a_fleet_registers_its_nodes_with_labels_taints_conditions_and_leases() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet = Fleet::run(cluster.client.clone(), fast_fleet(3), fast_options());
    fleet.registered().await?;
    assert_eq!(node_names(&cluster.client).await?, ["control-plane-1", "worker-1", "worker-2"]);

    let cp = get_node(&cluster.client, "control-plane-1").await?.expect("registered");
    let labels = cp.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubernetes.io/hostname"], "control-plane-1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["node-role.kubernetes.io/control-plane"], "");
    let taints = cp.spec.as_ref().unwrap().taints.clone().unwrap();
    assert_eq!(
        (taints[0].key.as_str(), taints[0].effect.as_str()),
        ("node-role.kubernetes.io/control-plane", "NoSchedule")
    );

    let worker = get_node(&cluster.client, "worker-1").await?.expect("registered");
    assert!(worker.spec.as_ref().unwrap().taints.is_none());
    let status = worker.status.clone().unwrap();
    let conditions = status.conditions.unwrap();
    for (type_, want) in
        [("Ready", "True"), ("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False")]
    {
        let c = conditions.iter().find(|c| c.type_ == type_).unwrap_or_else(|| panic!("no {type_}"));
        assert_eq!(c.status, want, "{type_}");
    }
    assert_eq!(status.capacity.unwrap()["pods"].0, "110");
    assert_eq!(status.allocatable.unwrap()["memory"].0, "16Gi");
    let addresses = status.addresses.unwrap();
    assert!(addresses.iter().any(|a| a.type_ == "InternalIP" && a.address.starts_with("172.16.")));
    assert!(addresses.iter().any(|a| a.type_ == "Hostname" && a.address == "worker-1"));
    let info = status.node_info.unwrap();
    assert_eq!(info.kubelet_version, "v1.37.0");
    assert_eq!((info.operating_system.as_str(), info.architecture.as_str()), ("linux", "amd64"));
    assert!(info.container_runtime_version.starts_with("containerd://"));

    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), LEASE_NAMESPACE);
    let lease =
        eventually("worker-1 has a lease", || async { Ok(leases.get_opt("worker-1").await?) }).await?;
    let spec = lease.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("worker-1"));
    assert_eq!(spec.lease_duration_seconds, Some(40));
    let first = spec.renew_time.unwrap().0;
    eventually("the lease is renewed", || async {
        let renewed = leases.get("worker-1").await?.spec.and_then(|s| s.renew_time).map(|t| t.0);
        Ok(renewed.filter(|t| *t > first))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn registering_again_after_a_restart_creates_nothing_new() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet = Fleet::run(cluster.client.clone(), fast_fleet(3), fast_options());
    fleet.registered().await?;
    let before = get_node(&cluster.client, "worker-1").await?.unwrap();
    fleet.shutdown().await;

    let mut fleet = Fleet::run(cluster.client.clone(), fast_fleet(3), fast_options());
    fleet.registered().await?;
    assert_eq!(node_names(&cluster.client).await?, ["control-plane-1", "worker-1", "worker-2"]);
    let after = get_node(&cluster.client, "worker-1").await?.unwrap();
    assert_eq!(before.metadata.uid, after.metadata.uid, "the node was kept, not recreated");
    assert_eq!(before.spec.unwrap().pod_cidr, after.spec.unwrap().pod_cidr);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn added_nodes_continue_the_pool_numbering_and_are_simulated() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet_spec = fast_fleet(3);
    let mut fleet = Fleet::run(cluster.client.clone(), fleet_spec.clone(), fast_options());
    fleet.registered().await?;

    let added = add_nodes(&cluster.client, pool(&fleet_spec, "workers"), 2).await?;
    assert_eq!(added, ["worker-3", "worker-4"]);
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), LEASE_NAMESPACE);
    eventually("worker-4 has a lease", || async { Ok(leases.get_opt("worker-4").await?) }).await?;
    let ips: Vec<String> =
        futures::future::try_join_all(["worker-1", "worker-2", "worker-3", "worker-4"].map(|n| {
            let client = cluster.client.clone();
            async move {
                let node = get_node(&client, n).await?.expect("exists");
                anyhow::Ok(node.spec.unwrap().pod_cidr.unwrap())
            }
        }))
        .await?;
    let distinct: std::collections::BTreeSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), 4, "every node has its own pod network: {ips:?}");

    // The CLI can rebuild the pool from the cluster when it has no fleet file.
    let rebuilt = find_pool(&cluster.client, "workers").await?;
    assert_eq!(rebuilt.prefix(), "worker-");
    assert_eq!(rebuilt.behaviour, fast_behaviour());
    assert_eq!(add_nodes(&cluster.client, &rebuilt, 1).await?, ["worker-5"]);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn registration_waits_for_an_unreachable_api_server() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    cluster.down.send_replace(true);
    let mut fleet = Fleet::run(cluster.client.clone(), fast_fleet(2), fast_options());
    let early = tokio::time::timeout(Duration::from_millis(300), fleet.registered()).await;
    assert!(early.is_err(), "cannot register while the server is down");
    cluster.down.send_replace(false);
    tokio::time::timeout(PATIENCE, fleet.registered()).await??;
    assert_eq!(node_names(&cluster.client).await?, ["control-plane-1", "worker-1"]);
    fleet.shutdown().await;
    Ok(())
}
