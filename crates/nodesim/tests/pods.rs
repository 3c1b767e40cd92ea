//! Pods bound to simulated nodes live as on a real node: ContainerCreating, Running, Ready,
//! injected failures, graceful deletion, Events, and no needless writes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

use std::time::Duration;

use everynode_nodesim::{Behaviour, Fleet, FleetHandle};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::watcher;
use support::*;

async fn running_fleet(cluster: &Cluster, fleet: Fleet) -> anyhow::Result<FleetHandle> {
    let mut handle = Fleet::run(cluster.client.clone(), fleet, fast_options());
    handle.registered().await?;
    Ok(handle)
}

/// A summary of a pod's visible state, for checking the order of states.
fn state(pod: &Pod) -> String {
    let reason = waiting_reason(pod).unwrap_or_default();
    format!(
        "{}/{}/{}",
        phase(pod).unwrap_or_default(),
        reason,
        if is_ready(pod) { "ready" } else { "unready" }
    )
}

#[tokio::test]
async fn a_bound_pod_becomes_running_then_ready_with_pod_and_host_ips() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet_spec = fast_fleet(3);
    // Slow enough to see every state through the watch.
    for pool in &mut fleet_spec.pools {
        pool.behaviour.start_delay = Duration::from_millis(150);
        pool.behaviour.readiness_delay = Duration::from_millis(150);
    }
    let fleet = running_fleet(&cluster, fleet_spec).await?;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let config = watcher::Config::default().fields("metadata.name=web");
    let mut states = watcher(pods.clone(), config).boxed();

    // Bound the way the scheduler binds: POST pods/web/binding.
    create_pod(&cluster.client, &pod("web", None, "nginx:1.27")).await?;
    let binding = Binding {
        metadata: ObjectMeta { name: Some("web".into()), ..ObjectMeta::default() },
        target: ObjectReference {
            kind: Some("Node".into()),
            name: Some("worker-1".into()),
            ..ObjectReference::default()
        },
    };
    let _: serde_json::Value =
        pods.create_subresource("binding", "web", &PostParams::default(), &binding).await?;

    let mut seen = Vec::new();
    let ready = tokio::time::timeout(PATIENCE, async {
        while let Some(event) = states.next().await {
            if let watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) = event? {
                let s = state(&pod);
                if seen.last() != Some(&s) {
                    seen.push(s);
                }
                if is_ready(&pod) {
                    return anyhow::Ok(pod);
                }
            }
        }
        anyhow::bail!("watch ended")
    })
    .await??;
    let position = |s: &str| seen.iter().position(|x| x == s);
    let creating = position("Pending/ContainerCreating/unready").expect("ContainerCreating seen");
    let running = position("Running//unready").expect("Running before Ready seen");
    let ready_at = position("Running//ready").expect("Ready seen");
    assert!(creating < running && running < ready_at, "{seen:?}");

    let status = ready.status.clone().unwrap();
    let node = get_node(&cluster.client, "worker-1").await?.unwrap();
    let internal_ip = node.status.unwrap().addresses.unwrap()[0].address.clone();
    assert_eq!(status.host_ip.as_deref(), Some(internal_ip.as_str()));
    let cidr = node.spec.unwrap().pod_cidr.unwrap();
    let pod_ip = status.pod_ip.clone().unwrap();
    assert_eq!(pod_ip.rsplit_once('.').unwrap().0, cidr.rsplit_once('.').unwrap().0, "{pod_ip} in {cidr}");
    assert!(status.start_time.is_some());
    let container = &status.container_statuses.unwrap()[0];
    assert!(container.ready && container.started == Some(true));
    assert!(container.container_id.as_deref().unwrap().starts_with("containerd://"));

    let reasons = eventually("the kubelet's events are recorded", || async {
        let reasons = event_reasons(&cluster.client, "default", "web").await?;
        Ok(reasons.contains(&"Started".to_owned()).then_some(reasons))
    })
    .await?;
    for reason in ["Pulling", "Pulled", "Created", "Started"] {
        assert!(reasons.contains(&reason.to_owned()), "{reason} missing from {reasons:?}");
    }
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_settled_pod_is_not_written_again() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, fast_fleet(3)).await?;
    create_pod(&cluster.client, &pod("quiet", Some("worker-2"), "nginx:1.27")).await?;
    let ready = eventually("the pod is ready", || async {
        Ok(get_pod(&cluster.client, "quiet").await?.filter(is_ready))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = get_pod(&cluster.client, "quiet").await?.unwrap();
    assert_eq!(ready.metadata.resource_version, later.metadata.resource_version);
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_never_ready_image_runs_but_never_becomes_ready() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, fast_fleet(3)).await?;
    create_pod(&cluster.client, &pod("stuck", Some("worker-1"), "app:never-ready")).await?;
    eventually("the pod runs", || async {
        Ok(get_pod(&cluster.client, "stuck").await?.filter(|p| phase(p).as_deref() == Some("Running")))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pod = get_pod(&cluster.client, "stuck").await?.unwrap();
    assert_eq!(condition(&pod, "Ready").as_deref(), Some("False"));
    assert_eq!(restarts(&pod), 0);
    eventually("the failing probe is reported", || async {
        Ok(event_reasons(&cluster.client, "default", "stuck")
            .await?
            .contains(&"Unhealthy".to_owned())
            .then_some(()))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_crash_looping_image_restarts_with_a_growing_count_and_backs_off() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, fast_fleet(3)).await?;
    create_pod(&cluster.client, &pod("crasher", Some("worker-1"), "app:crash")).await?;
    // Back-offs here are 50 ms, 100 ms, 200 ms, ...
    let pod = eventually("the pod is in CrashLoopBackOff after restarts", || async {
        Ok(get_pod(&cluster.client, "crasher")
            .await?
            .filter(|p| waiting_reason(p).as_deref() == Some("CrashLoopBackOff") && restarts(p) >= 2))
    })
    .await?;
    assert_eq!(phase(&pod).as_deref(), Some("Running"));
    assert!(!is_ready(&pod));
    let last =
        pod.status.unwrap().container_statuses.unwrap()[0].last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    let reasons = event_reasons(&cluster.client, "default", "crasher").await?;
    assert!(reasons.contains(&"BackOff".to_owned()), "{reasons:?}");
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn an_unpullable_image_shows_err_image_pull_then_image_pull_back_off() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet_spec = fast_fleet(3);
    // Keep ErrImagePull visible long enough to be seen by polling.
    for pool in &mut fleet_spec.pools {
        pool.behaviour.backoff_scale = 0.1;
    }
    let fleet = running_fleet(&cluster, fleet_spec).await?;
    create_pod(&cluster.client, &pod("puller", Some("worker-2"), "registry.example/app:missing")).await?;
    eventually("the pull fails", || async {
        Ok(get_pod(&cluster.client, "puller")
            .await?
            .filter(|p| waiting_reason(p).as_deref() == Some("ErrImagePull")))
    })
    .await?;
    let pod = eventually("the pull backs off", || async {
        Ok(get_pod(&cluster.client, "puller")
            .await?
            .filter(|p| waiting_reason(p).as_deref() == Some("ImagePullBackOff")))
    })
    .await?;
    assert_eq!(phase(&pod).as_deref(), Some("Pending"));
    // Events are recorded after the status they describe, so they may trail it a little.
    eventually("Failed and BackOff events", || async {
        let reasons = event_reasons(&cluster.client, "default", "puller").await?;
        Ok((reasons.contains(&"Failed".to_owned()) && reasons.contains(&"BackOff".to_owned())).then_some(()))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn graceful_deletion_completes_after_the_termination_delay() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet_spec = fast_fleet(3);
    for pool in &mut fleet_spec.pools {
        pool.behaviour.termination_delay = Duration::from_millis(300);
    }
    let fleet = running_fleet(&cluster, fleet_spec).await?;
    create_pod(&cluster.client, &pod("leaving", Some("worker-1"), "nginx:1.27")).await?;
    eventually("the pod is ready", || async {
        Ok(get_pod(&cluster.client, "leaving").await?.filter(is_ready))
    })
    .await?;

    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    let started = tokio::time::Instant::now();
    pods.delete("leaving", &DeleteParams::default()).await?;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let terminating = get_pod(&cluster.client, "leaving").await?.expect("still terminating");
    assert!(terminating.metadata.deletion_timestamp.is_some());
    eventually("the pod is gone", || async {
        Ok(get_pod(&cluster.client, "leaving").await?.is_none().then_some(()))
    })
    .await?;
    assert!(started.elapsed() >= Duration::from_millis(300), "went after {:?}", started.elapsed());
    let reasons = event_reasons(&cluster.client, "default", "leaving").await?;
    assert!(reasons.contains(&"Killing".to_owned()), "{reasons:?}");
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pods_on_nodes_with_instant_behaviour_are_ready_in_one_write() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, Fleet::workers(2, Behaviour::instant())).await?;
    let created = create_pod(&cluster.client, &pod("fast", Some("worker-2"), "nginx:1.27")).await?;
    let ready = eventually("the pod is ready", || async {
        Ok(get_pod(&cluster.client, "fast").await?.filter(is_ready))
    })
    .await?;
    let (before, after): (u64, u64) = (
        created.metadata.resource_version.unwrap().parse()?,
        ready.metadata.resource_version.unwrap().parse()?,
    );
    assert!(after > before);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "default");
    pods.delete("fast", &DeleteParams::default()).await?;
    eventually("the pod is gone at once", || async {
        Ok(get_pod(&cluster.client, "fast").await?.is_none().then_some(()))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn pods_make_progress_across_an_api_server_restart() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let mut fleet_spec = fast_fleet(3);
    for pool in &mut fleet_spec.pools {
        pool.behaviour.start_delay = Duration::from_millis(300);
    }
    let fleet = running_fleet(&cluster, fleet_spec).await?;
    create_pod(&cluster.client, &pod("survivor", Some("worker-1"), "nginx:1.27")).await?;
    eventually("the pod is accepted", || async {
        Ok(get_pod(&cluster.client, "survivor")
            .await?
            .filter(|p| waiting_reason(p).as_deref() == Some("ContainerCreating")))
    })
    .await?;
    // Down across the moment the pod should start: its write fails and is retried, and the
    // watches end and re-list.
    cluster.down.send_replace(true);
    tokio::time::sleep(Duration::from_millis(600)).await;
    cluster.down.send_replace(false);
    eventually("the pod is ready after the restart", || async {
        Ok(get_pod(&cluster.client, "survivor").await?.filter(is_ready))
    })
    .await?;
    // A pod created after the restart is seen through the re-listed watch.
    create_pod(&cluster.client, &pod("newcomer", Some("worker-2"), "nginx:1.27")).await?;
    eventually("the new pod is ready", || async {
        Ok(get_pod(&cluster.client, "newcomer").await?.filter(is_ready))
    })
    .await?;
    fleet.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn a_restarted_simulation_resumes_without_rewriting_settled_pods() -> anyhow::Result<()> {
    let cluster = cluster().await?;
    let fleet = running_fleet(&cluster, fast_fleet(3)).await?;
    create_pod(&cluster.client, &pod("steady", Some("worker-1"), "nginx:1.27")).await?;
    let settled = eventually("the pod is ready", || async {
        Ok(get_pod(&cluster.client, "steady").await?.filter(is_ready))
    })
    .await?;
    fleet.shutdown().await;

    // While no kubelet runs, a pod is bound and stays untouched.
    create_pod(&cluster.client, &pod("waiting", Some("worker-2"), "nginx:1.27")).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(get_pod(&cluster.client, "waiting").await?.unwrap().status.unwrap().container_statuses.is_none());

    let fleet = running_fleet(&cluster, fast_fleet(3)).await?;
    eventually("the waiting pod starts", || async {
        Ok(get_pod(&cluster.client, "waiting").await?.filter(is_ready))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = get_pod(&cluster.client, "steady").await?.unwrap();
    assert_eq!(after.metadata.resource_version, settled.metadata.resource_version, "not rewritten");
    fleet.shutdown().await;
    Ok(())
}
