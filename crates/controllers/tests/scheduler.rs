//! The scheduler against the in-process API server: DaemonSet-style pods land on their node,
//! nodeSelector, taints and cordons are respected, unschedulable pods say why in upstream's
//! words, and hundreds of pending pods bind quickly and evenly.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support_infra;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use everynode_controllers::scheduler::{self, SchedulerOptions};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support_infra::{Cluster, cluster, condition, eventually, list_pods, node, node_name, pod};

fn start(cluster: &Cluster) -> tokio::task::JoinHandle<()> {
    let options =
        SchedulerOptions::default().with_backoff(Duration::from_millis(50), Duration::from_millis(200));
    let client = cluster.client.clone();
    tokio::spawn(async move {
        if let Err(error) = scheduler::run(client, options).await {
            panic!("scheduler stopped: {error}");
        }
    })
}

async fn wait_bound(cluster: &Cluster, name: &str) -> anyhow::Result<String> {
    eventually(&format!("{name} to be bound"), || async {
        let pod = cluster.pods().get(name).await?;
        Ok(node_name(&pod).map(str::to_owned))
    })
    .await
}

/// The PodScheduled=False message of a pending pod, once the scheduler wrote it.
async fn wait_unschedulable(cluster: &Cluster, name: &str) -> anyhow::Result<String> {
    eventually(&format!("{name} to be reported unschedulable"), || async {
        let pod = cluster.pods().get(name).await?;
        assert_eq!(node_name(&pod), None, "{name} must stay pending");
        Ok(condition(&pod, "PodScheduled")
            .filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
            .and_then(|c| c.message.clone()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_pod_is_bound_to_exactly_the_node_it_names() -> anyhow::Result<()> {
    let c = cluster().await?;
    for name in ["node-a", "node-b", "node-c"] {
        c.create_node(node(name)).await?;
    }
    let _scheduler = start(&c);
    c.create_pod(pod("agent-b").daemon_for("node-b")).await?;
    c.create_pod(pod("agent-c").daemon_for("node-c")).await?;
    assert_eq!(wait_bound(&c, "agent-b").await?, "node-b");
    assert_eq!(wait_bound(&c, "agent-c").await?, "node-c");

    let events = eventually("the Scheduled event", || async {
        let events = c.events_for("agent-b").await?;
        Ok(events.into_iter().find(|(reason, _)| reason == "Scheduled"))
    })
    .await?;
    assert_eq!(events.1, "Successfully assigned default/agent-b to node-b");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daemon_pods_tolerate_cordons_but_not_foreign_taints() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("cordoned").unschedulable()).await?;
    c.create_node(node("control-plane").taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"))
        .await?;
    c.create_node(node("worker")).await?;
    let _scheduler = start(&c);
    c.create_pod(pod("on-cordoned").daemon_for("cordoned")).await?;
    c.create_pod(pod("on-cp").daemon_for("control-plane")).await?;
    assert_eq!(wait_bound(&c, "on-cordoned").await?, "cordoned");
    assert_eq!(
        wait_unschedulable(&c, "on-cp").await?,
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
         2 node(s) didn't satisfy plugin(s) [NodeAffinity]. \
         preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unschedulable_pod_reports_upstreams_message_and_binds_once_a_node_fits() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("cp").taint("node-role.kubernetes.io/control-plane", "", "NoSchedule")).await?;
    c.create_node(node("w1").label("disk", "hdd")).await?;
    c.create_node(node("w2").label("disk", "hdd")).await?;
    let _scheduler = start(&c);
    c.create_pod(pod("fast").node_selector("disk", "ssd")).await?;
    let expected = "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, \
                    2 node(s) didn't match Pod's node affinity/selector. \
                    preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.";
    assert_eq!(wait_unschedulable(&c, "fast").await?, expected);
    let event = eventually("a FailedScheduling event", || async {
        Ok(c.events_for("fast").await?.into_iter().find(|(reason, _)| reason == "FailedScheduling"))
    })
    .await?;
    assert_eq!(event.1, expected);

    // Labelling a node is a cluster change: the pod is retried and bound.
    let patch = json!({"metadata": {"labels": {"disk": "ssd"}}});
    c.nodes().patch("w2", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    assert_eq!(wait_bound(&c, "fast").await?, "w2");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_pods_avoid_cordoned_and_tainted_nodes_and_respect_resources() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("a-cordoned").unschedulable()).await?;
    c.create_node(node("b-tainted").taint("dedicated", "db", "NoExecute")).await?;
    c.create_node(node("c-small").allocatable("1", "1Gi", "110")).await?;
    let _scheduler = start(&c);
    c.create_pod(pod("first").requests("600m", "100Mi")).await?;
    assert_eq!(wait_bound(&c, "first").await?, "c-small");
    c.create_pod(pod("second").requests("600m", "100Mi")).await?;
    assert_eq!(
        wait_unschedulable(&c, "second").await?,
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: db}, \
         1 node(s) were unschedulable. \
         preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
         2 Preemption is not helpful for scheduling."
    );
    // A toleration for the taint lets it in.
    c.create_pod(
        pod("tolerant").requests("600m", "100Mi").toleration(
            json!({"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoExecute"}),
        ),
    )
    .await?;
    assert_eq!(wait_bound(&c, "tolerant").await?, "b-tainted");

    // Deleting the first pod frees the small node for the second.
    c.pods().delete("first", &kube::api::DeleteParams::default().grace_period(0)).await?;
    assert_eq!(wait_bound(&c, "second").await?, "c-small");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_pending_pods_spread_evenly_over_fifty_nodes() -> anyhow::Result<()> {
    let c = cluster().await?;
    for i in 0..50 {
        c.create_node(node(&format!("node-{i:02}"))).await?;
    }
    let creates = (0..500).map(|i| c.create_pod(pod(&format!("web-{i:03}"))));
    for result in futures::future::join_all(creates).await {
        result?;
    }
    let started = Instant::now();
    let _scheduler = start(&c);
    let per_node = eventually("all 500 pods to be bound", || async {
        let pods = list_pods(&c).await?;
        let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
        for p in &pods {
            match node_name(p) {
                Some(n) => *per_node.entry(n.to_owned()).or_default() += 1,
                None => return Ok(None),
            }
        }
        Ok(Some(per_node))
    })
    .await?;
    let elapsed = started.elapsed();
    assert_eq!(per_node.len(), 50, "every node gets pods");
    assert!(per_node.values().all(|n| *n == 10), "fewest-pods scoring spreads evenly: {per_node:?}");
    assert!(elapsed < Duration::from_secs(15), "binding 500 pods took {elapsed:?}");
    eprintln!("bound 500 pods over 50 nodes in {elapsed:?}");
    Ok(())
}

/// A scale measurement, not a pass/fail timing: run with
/// `MEASURE_NODES=10000 cargo test --release -p everynode-controllers --test scheduler -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale measurement; run explicitly in release mode"]
async fn measure_binding_thousands_of_daemon_pods() -> anyhow::Result<()> {
    let nodes: usize = std::env::var("MEASURE_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let c = cluster().await?;
    for chunk in (0..nodes).collect::<Vec<_>>().chunks(100) {
        let creates = chunk.iter().map(|i| c.create_node(node(&format!("node-{i:05}"))));
        for result in futures::future::join_all(creates).await {
            result?;
        }
    }
    for chunk in (0..nodes).collect::<Vec<_>>().chunks(100) {
        let creates = chunk
            .iter()
            .map(|i| c.create_pod(pod(&format!("agent-{i:05}")).daemon_for(&format!("node-{i:05}"))));
        for result in futures::future::join_all(creates).await {
            result?;
        }
    }
    let started = Instant::now();
    let mut options = SchedulerOptions::default();
    if let Some(n) = std::env::var("MEASURE_IN_FLIGHT").ok().and_then(|v| v.parse().ok()) {
        options.max_in_flight = n;
    }
    let client = c.client.clone();
    let _scheduler = tokio::spawn(scheduler::run(client, options));
    eventually("every daemon pod to be bound to its node", || async {
        let pods = list_pods(&c).await?;
        let done = pods.iter().all(|p| {
            let want = p.metadata.name.as_deref().map(|n| n.replace("agent-", "node-"));
            node_name(p).map(str::to_owned) == want
        });
        Ok(done.then_some(()))
    })
    .await?;
    eprintln!("bound {nodes} daemon pods to their nodes in {:?}", started.elapsed());
    Ok(())
}
