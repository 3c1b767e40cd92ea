//! Whatever the simulated kubelet writes must read back from the API server as what it wrote,
//! or it would write again forever. Drives the pure decisions with explicit times against the
//! real API server, state by state.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use everynode_nodesim::Fleet;
use everynode_nodesim::clock::after;
use everynode_nodesim::fleet::{CompiledBehaviour, default_capacity};
use everynode_nodesim::kubelet::{Action, Placement, PodMemory, step};
use everynode_nodesim::node::object::{NodeAddresses, registration};
use everynode_nodesim::node::status::{STATUS_REPORT_INTERVAL, StatusDecision, decide};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;
use support::*;

fn placement() -> Placement {
    Placement { host_ip: Ipv4Addr::new(172, 16, 0, 2), pod_ip: Some(Ipv4Addr::new(10, 128, 0, 2)) }
}

/// Writes a status as the runtime does: a merge patch with the resourceVersion.
async fn write(
    api: &Api<Pod>,
    pod: &Pod,
    status: &k8s_openapi::api::core::v1::PodStatus,
) -> anyhow::Result<Pod> {
    let patch = json!({"metadata": {"resourceVersion": pod.metadata.resource_version}, "status": status});
    Ok(api
        .patch_status(pod.metadata.name.as_deref().unwrap(), &PatchParams::default(), &Patch::Merge(&patch))
        .await?)
}

#[tokio::test]
async fn every_pod_state_reads_back_as_written() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let api: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let behaviour = CompiledBehaviour::new(fast_behaviour())?;
    let t0 = Timestamp::now();
    let at = |ms: u64| after(t0, Duration::from_millis(ms));
    // Times in ms after acceptance: creating, running, ready, and deep into failure timelines.
    let cases = [
        ("nginx:1.27", vec![0, 40, 70, 5_000]),
        ("app:never-ready", vec![0, 40, 70, 5_000]),
        ("app:crash", vec![0, 40, 45, 60, 80, 120, 500, 3_000, 60_000]),
        ("app:missing", vec![0, 40, 45, 60, 200, 60_000]),
    ];
    for (i, (image, times)) in cases.iter().enumerate() {
        let name = format!("p{i}");
        let mut pod = create_pod(&cluster.client, &pod(&name, Some("n1"), image)).await?;
        let mut memory = PodMemory::default();
        for &ms in times {
            let first = step(&pod, &mut memory, &placement(), &behaviour, at(ms));
            if let Action::WriteStatus(status) = &first.action {
                pod = write(&api, &pod, status).await?;
            }
            let again = step(&pod, &mut memory.clone(), &placement(), &behaviour, at(ms));
            assert_eq!(again.action, Action::Nothing, "{image} at {ms} ms: a second look must not write");
        }
        // Graceful deletion's final status reads back too.
        api.delete(&name, &Default::default()).await?;
        let deleting = api.get(&name).await?;
        let mut m = memory.clone();
        let stop_at = at(100_000);
        step(&deleting, &mut m, &placement(), &behaviour, stop_at);
        let done = step(&deleting, &mut m, &placement(), &behaviour, after(stop_at, Duration::from_secs(1)));
        if let Action::Remove { final_status: Some(status) } = &done.action {
            let written = write(&api, &deleting, status).await?;
            assert_eq!(written.status.as_ref(), Some(&**status), "{image}: final status");
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_registered_node_status_reads_back_as_up_to_date() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let api: Api<Node> = Api::all(cluster.client.clone());
    let fleet = Fleet::default_fleet(2);
    let now = Timestamp::now();
    let addresses =
        NodeAddresses { internal_ip: Ipv4Addr::new(172, 16, 0, 2), pod_cidr: Some("10.128.0.0/24".parse()?) };
    let node = api
        .create(&PostParams::default(), &registration(&fleet.pools[1], "worker-1", &addresses, now))
        .await?;
    let decision = decide(&node, addresses.internal_ip, &default_capacity(), STATUS_REPORT_INTERVAL, now);
    assert!(matches!(decision, StatusDecision::UpToDate { .. }), "{decision:?}");

    // A heartbeat written later reads back as up to date too.
    let later = after(now, Duration::from_secs(600));
    let StatusDecision::Write { patch, .. } =
        decide(&node, addresses.internal_ip, &default_capacity(), STATUS_REPORT_INTERVAL, later)
    else {
        panic!("a heartbeat is due");
    };
    let node = api.patch_status("worker-1", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    let decision = decide(&node, addresses.internal_ip, &default_capacity(), STATUS_REPORT_INTERVAL, later);
    assert!(matches!(decision, StatusDecision::UpToDate { .. }), "{decision:?}");
    Ok(())
}
