//! A rough scale check, ignored by default: register `EVERYNODE_SCALE_NODES` (default 1,000)
//! instant nodes, bind one pod to each, and print how long registration and readiness took.
//! Run with `cargo test --release -p everynode-nodesim --test scale -- --ignored --nocapture`.
//! Figures go into issue notes, not assertions.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Instant;

use everynode_nodesim::{Behaviour, EventPolicy, Fleet, RunOptions};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use support::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "slow; prints figures"]
async fn a_large_fleet_registers_and_runs_a_pod_per_node() -> anyhow::Result<()> {
    let n: u32 = std::env::var("EVERYNODE_SCALE_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let cluster = cluster().await?;
    let options = RunOptions { events: EventPolicy::None, ..RunOptions::default() };
    let start = Instant::now();
    let mut fleet = Fleet::run(cluster.client.clone(), Fleet::workers(n, Behaviour::instant()), options);
    fleet.registered().await?;
    let registered = start.elapsed();

    let start = Instant::now();
    let client = cluster.client.clone();
    stream::iter(1..=n)
        .map(|i| {
            let client = client.clone();
            async move {
                create_pod(&client, &pod(&format!("p{i}"), Some(&format!("worker-{i}")), "agent:1")).await
            }
        })
        .buffer_unordered(64)
        .try_collect::<Vec<_>>()
        .await?;
    let created = start.elapsed();
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    loop {
        let ready = api.list(&ListParams::default()).await?.items.iter().filter(|p| is_ready(p)).count();
        if ready == n as usize {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let all_ready = start.elapsed();
    println!(
        "{n} nodes: registered in {registered:?}; {n} pods created in {created:?}, all Ready after {all_ready:?}"
    );
    fleet.shutdown().await;
    Ok(())
}
