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
use kube::api::Api;
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
    // Count Ready pods from a watch: listing 10,000 pods repeatedly would cost more than the
    // simulation being measured.
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let mut ready = std::collections::HashSet::new();
    let config = kube::runtime::watcher::Config { page_size: None, ..Default::default() };
    let mut events = kube::runtime::watcher(api, config).boxed();
    while ready.len() < n as usize {
        let event = tokio::time::timeout(std::time::Duration::from_secs(120), events.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("watch ended"))??;
        if let kube::runtime::watcher::Event::Apply(p) | kube::runtime::watcher::Event::InitApply(p) = event
            && is_ready(&p)
        {
            ready.insert(p.metadata.name.clone().unwrap_or_default());
        }
    }
    let all_ready = start.elapsed();
    println!(
        "{n} nodes: registered in {registered:?}; {n} pods created in {created:?}, all Ready after {all_ready:?}"
    );
    // Optionally stay idle to measure the steady cost (leases, heartbeats).
    let idle: u64 = std::env::var("EVERYNODE_SCALE_IDLE_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    if idle > 0 {
        let before = cpu_seconds();
        tokio::time::sleep(std::time::Duration::from_secs(idle)).await;
        let used = cpu_seconds() - before;
        println!("idle {idle} s: {used:.2} CPU-seconds ({:.1}% of one core)", 100.0 * used / idle as f64);
    }
    fleet.shutdown().await;
    Ok(())
}

/// CPU time used by this process so far (Linux), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}
