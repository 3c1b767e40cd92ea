//! Node lifecycle against the in-process API server, with real time and short grace periods: a
//! node whose kubelet goes silent becomes Unknown and unreachable-tainted, its intolerant pods
//! are evicted while daemon pods stay, and it recovers when the kubelet returns;
//! `tolerationSeconds` delays eviction.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support_infra;

use std::time::{Duration, Instant};

use everynode_controllers::nodelifecycle::{self, NodeLifecycleOptions};
use kube::api::{Patch, PatchParams};
use serde_json::json;
use support_infra::{
    Cluster, cluster, condition, eventually, holds_for, node, node_condition, pod, taint_keys,
};

const UNREACHABLE_TAINTS: [&str; 2] =
    ["node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"];

fn options() -> NodeLifecycleOptions {
    NodeLifecycleOptions {
        monitor_period: Duration::from_millis(50),
        grace_period: Duration::from_millis(400),
        startup_grace_period: Duration::from_millis(400),
        ..NodeLifecycleOptions::default()
    }
}

fn start(cluster: &Cluster, options: NodeLifecycleOptions) -> tokio::task::JoinHandle<()> {
    let client = cluster.client.clone();
    tokio::spawn(async move {
        if let Err(error) = nodelifecycle::run(client, options).await {
            panic!("node lifecycle stopped: {error}");
        }
    })
}

/// A kubelet's heartbeat: posts Ready once, then renews the node's Lease every 50 ms.
fn kubelet(cluster: &Cluster, node: &str) -> tokio::task::JoinHandle<()> {
    let client = cluster.client.clone();
    let node = node.to_owned();
    tokio::spawn(async move {
        let c = support_infra::Cluster::from_client(client);
        let _ = c.post_ready(&node).await;
        loop {
            let _ = c.renew_lease(&node).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

/// A running, Ready pod bound to `node`.
async fn running_pod(c: &Cluster, builder: support_infra::PodBuilder, name: &str) -> anyhow::Result<()> {
    c.create_pod(builder).await?;
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"},
    ]}});
    c.pods().patch_status(name, &PatchParams::default(), &Patch::Merge(&status)).await?;
    Ok(())
}

async fn wait_taints(c: &Cluster, name: &str, want: &[&str]) -> anyhow::Result<()> {
    eventually(&format!("{name} to have taints {want:?}"), || async {
        let n = c.nodes().get(name).await?;
        let mut have = taint_keys(&n);
        have.sort();
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        Ok((have == want).then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_goes_unknown_and_unreachable_then_recovers() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("a").ready()).await?;
    c.create_node(node("b").ready()).await?;
    let kubelet_a = kubelet(&c, "a");
    let _kubelet_b = kubelet(&c, "b");
    let _controller = start(&c, options());

    holds_for("a healthy node stays untainted", Duration::from_millis(800), || async {
        Ok(taint_keys(&c.nodes().get("a").await?).is_empty())
    })
    .await?;

    let silenced = Instant::now();
    kubelet_a.abort();
    wait_taints(&c, "a", &UNREACHABLE_TAINTS).await?;
    assert!(silenced.elapsed() >= Duration::from_millis(350), "not before the grace period");
    let a = c.nodes().get("a").await?;
    let ready = node_condition(&a, "Ready").expect("Ready");
    assert_eq!(ready.status, "Unknown");
    assert_eq!(ready.reason.as_deref(), Some("NodeStatusUnknown"));
    assert_eq!(ready.message.as_deref(), Some("Kubelet stopped posting node status."));
    let memory = node_condition(&a, "MemoryPressure").expect("MemoryPressure");
    assert_eq!(
        (memory.status.as_str(), memory.reason.as_deref()),
        ("Unknown", Some("NodeStatusNeverUpdated"))
    );
    let no_execute = a
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .and_then(|ts| ts.iter().find(|t| t.effect == "NoExecute"));
    assert!(no_execute.and_then(|t| t.time_added.as_ref()).is_some(), "NoExecute taints carry timeAdded");
    assert!(taint_keys(&c.nodes().get("b").await?).is_empty(), "the healthy node is untouched");

    let events = eventually("a NodeNotReady event", || async {
        Ok(c.events_for("a").await?.into_iter().find(|(reason, _)| reason == "NodeNotReady"))
    })
    .await?;
    assert_eq!(events.1, "Node a status is now: NodeNotReady");

    // The kubelet comes back: it renews its Lease and posts Ready=True; the taints go.
    let _kubelet_a = kubelet(&c, "a");
    wait_taints(&c, "a", &[]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_execute_eviction_deletes_intolerant_pods_but_keeps_daemon_pods() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("a").ready()).await?;
    c.create_node(node("b").ready()).await?;
    let kubelet_a = kubelet(&c, "a");
    let _kubelet_b = kubelet(&c, "b");
    running_pod(&c, pod("web").bound_to("a"), "web").await?;
    running_pod(&c, pod("agent").daemon_for("a").bound_to("a"), "agent").await?;
    running_pod(&c, pod("web-b").bound_to("b"), "web-b").await?;
    let _controller = start(&c, options());

    kubelet_a.abort();
    wait_taints(&c, "a", &UNREACHABLE_TAINTS).await?;
    eventually("web to be evicted", || async {
        let web = c.pods().get_opt("web").await?;
        Ok(web.is_none_or(|p| p.metadata.deletion_timestamp.is_some()).then_some(()))
    })
    .await?;
    let event = eventually("the eviction event", || async {
        Ok(c.events_for("web").await?.into_iter().find(|(reason, _)| reason == "TaintManagerEviction"))
    })
    .await?;
    assert_eq!(event.1, "Marking for deletion Pod default/web");

    // Pods on the unreachable node are marked not ready; the daemon pod stays.
    let agent = eventually("agent to be marked not ready", || async {
        let agent = c.pods().get("agent").await?;
        Ok(condition(&agent, "Ready").is_some_and(|r| r.status == "False").then_some(agent))
    })
    .await?;
    assert!(agent.metadata.deletion_timestamp.is_none());
    holds_for("the daemon pod and the other node's pod stay", Duration::from_millis(600), || async {
        let agent = c.pods().get("agent").await?;
        let web_b = c.pods().get("web-b").await?;
        Ok(agent.metadata.deletion_timestamp.is_none()
            && web_b.metadata.deletion_timestamp.is_none()
            && condition(&web_b, "Ready").is_some_and(|r| r.status == "True"))
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toleration_seconds_delay_eviction() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("n").ready()).await?;
    running_pod(&c, pod("intolerant").bound_to("n"), "intolerant").await?;
    let brief =
        json!({"key": "maintenance", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 1});
    running_pod(&c, pod("brief").toleration(brief).bound_to("n"), "brief").await?;
    let forever = json!({"key": "maintenance", "operator": "Exists", "effect": "NoExecute"});
    running_pod(&c, pod("forever").toleration(forever).bound_to("n"), "forever").await?;
    let client = c.client.clone();
    let _eviction = tokio::spawn(async move {
        let _ = nodelifecycle::run_taint_eviction(client).await;
    });

    // `kubectl taint nodes n maintenance=now:NoExecute`
    let tainted = Instant::now();
    let patch = json!({"spec": {"taints": [{"key": "maintenance", "value": "now", "effect": "NoExecute"}]}});
    c.nodes().patch("n", &PatchParams::default(), &Patch::Merge(&patch)).await?;

    let terminating = |name: &'static str| {
        let c = &c;
        move || async move {
            let p = c.pods().get_opt(name).await?;
            Ok(p.is_none_or(|p| p.metadata.deletion_timestamp.is_some()).then_some(()))
        }
    };
    eventually("the intolerant pod to be evicted at once", terminating("intolerant")).await?;
    assert!(
        tainted.elapsed() < Duration::from_millis(900),
        "immediate eviction took {:?}",
        tainted.elapsed()
    );
    assert!(c.pods().get("brief").await?.metadata.deletion_timestamp.is_none(), "brief is still tolerated");
    eventually("the briefly tolerating pod to be evicted", terminating("brief")).await?;
    assert!(tainted.elapsed() >= Duration::from_secs(1), "evicted after {:?}", tainted.elapsed());
    assert!(c.pods().get("forever").await?.metadata.deletion_timestamp.is_none());
    let disruption = condition(&c.pods().get("brief").await?, "DisruptionTarget").cloned();
    assert_eq!(disruption.and_then(|d| d.reason).as_deref(), Some("DeletionByTaintManager"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_node_goes_silent_nothing_is_evicted() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("a").ready()).await?;
    c.create_node(node("b").ready()).await?;
    running_pod(&c, pod("web").bound_to("a"), "web").await?;
    let _controller = start(&c, options());
    // No kubelets: after the grace period both are Unknown, but the cluster is fully disrupted.
    for name in ["a", "b"] {
        wait_taints(&c, name, &["node.kubernetes.io/unreachable:NoSchedule"]).await?;
    }
    holds_for("master disruption mode keeps pods", Duration::from_millis(500), || async {
        Ok(c.pods().get("web").await?.metadata.deletion_timestamp.is_none()
            && taint_keys(&c.nodes().get("a").await?) == ["node.kubernetes.io/unreachable:NoSchedule"])
    })
    .await?;
    Ok(())
}
