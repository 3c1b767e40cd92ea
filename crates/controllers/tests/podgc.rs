//! Pod GC against the in-process API server: pods (running or terminating) on a deleted node
//! are force-deleted once the quarantine has passed; pods on live nodes are kept.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support_infra;

use std::time::{Duration, Instant};

use everynode_controllers::podgc::{self, PodGcOptions};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use support_infra::{cluster, eventually, node, pod};

const QUARANTINE: Duration = Duration::from_millis(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_on_a_deleted_node_are_force_deleted_after_the_quarantine() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_node(node("doomed")).await?;
    c.create_node(node("alive")).await?;
    c.create_pod(pod("orphan").bound_to("doomed")).await?;
    c.create_pod(pod("leaving").bound_to("doomed")).await?;
    c.create_pod(pod("kept").bound_to("alive")).await?;
    let running = json!({"status": {"phase": "Running"}});
    for name in ["orphan", "leaving", "kept"] {
        c.pods().patch_status(name, &PatchParams::default(), &Patch::Merge(&running)).await?;
    }
    // A graceful delete of a bound pod waits for its kubelet, which will never come.
    c.pods().delete("leaving", &DeleteParams::default()).await?;
    assert!(c.pods().get("leaving").await?.metadata.deletion_timestamp.is_some());

    let options =
        PodGcOptions { period: Duration::from_millis(50), quarantine: QUARANTINE, ..PodGcOptions::default() };
    let client = c.client.clone();
    let _gc = tokio::spawn(async move {
        let _ = podgc::run(client, options).await;
    });

    tokio::time::sleep(Duration::from_millis(300)).await;
    let deleted = Instant::now();
    c.nodes().delete("doomed", &DeleteParams::default()).await?;

    eventually("both pods on the deleted node to be gone", || async {
        let orphan = c.pods().get_opt("orphan").await?;
        let leaving = c.pods().get_opt("leaving").await?;
        Ok((orphan.is_none() && leaving.is_none()).then_some(()))
    })
    .await?;
    let waited = deleted.elapsed();
    assert!(waited >= QUARANTINE, "deleted after only {waited:?}");
    assert!(c.pods().get_opt("kept").await?.is_some(), "pods on live nodes stay");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_comes_back_within_the_quarantine_keeps_its_pods() -> anyhow::Result<()> {
    let c = cluster().await?;
    c.create_pod(pod("early").bound_to("late-node")).await?;
    let options =
        PodGcOptions { period: Duration::from_millis(50), quarantine: QUARANTINE, ..PodGcOptions::default() };
    let client = c.client.clone();
    let _gc = tokio::spawn(async move {
        let _ = podgc::run(client, options).await;
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.create_node(node("late-node")).await?;
    tokio::time::sleep(QUARANTINE * 2).await;
    assert!(c.pods().get_opt("early").await?.is_some());
    Ok(())
}
