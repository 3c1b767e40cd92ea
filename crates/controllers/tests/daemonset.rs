//! The DaemonSet controller against the in-process API server: pods appear on eligible nodes,
//! follow labels, roll on template changes and record revisions. A tiny stand-in kubelet marks
//! pods Running and Ready so rollouts can progress.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use everynode_apiserver::ApiServer;
use everynode_controllers::daemonset::{DaemonSetController, Options};
use everynode_store::{Store, StoreOptions};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

struct Cluster {
    client: Client,
    _server: ApiServer,
}

async fn cluster() -> Cluster {
    let store = Store::open_in_memory(StoreOptions::default()).unwrap();
    let server = ApiServer::new(store).await.unwrap();
    server.spawn_background();
    let client = Client::new(server.router(), "default");
    let controller = DaemonSetController::new(client.clone(), Options::default());
    tokio::spawn(controller.run());
    Cluster { client, _server: server }
}

async fn add_node(client: &Client, name: &str, labels: serde_json::Value) {
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}
    }))
    .unwrap();
    Api::<Node>::all(client.clone()).create(&PostParams::default(), &node).await.unwrap();
}

fn daemon_set(name: &str, image: &str, max_unavailable: i32) -> DaemonSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": image}]}}
        }
    }))
    .unwrap()
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn pods(client: &Client, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), "default")
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .unwrap()
        .items
}

/// The node a daemon pod is pinned to (its matchFields affinity).
fn target_node(pod: &Pod) -> String {
    let affinity = serde_json::to_value(&pod.spec.as_ref().unwrap().affinity).unwrap();
    affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]["matchFields"][0]
        ["values"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Binds and readies every pending pod, as a scheduler and kubelet would.
async fn kubelet(client: Client) {
    let api = Api::<Pod>::namespaced(client.clone(), "default");
    loop {
        for pod in api.list(&ListParams::default()).await.unwrap().items {
            let name = pod.name_any();
            if pod.metadata.deletion_timestamp.is_some() {
                let _ = api
                    .delete(&name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
                    .await;
                continue;
            }
            let ready = pod
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready"));
            if ready {
                continue;
            }
            let node = target_node(&pod);
            if pod.spec.as_ref().unwrap().node_name.is_none() {
                let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name}, "target": {"kind": "Node", "name": node}});
                let _ = api
                    .create_subresource::<serde_json::Value, serde_json::Value>(
                        "binding",
                        &name,
                        &PostParams::default(),
                        &binding,
                    )
                    .await;
            }
            let status = json!({"status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}
            ]}});
            let _ = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn simple_daemon_set_launches_one_pod_per_node() {
    let c = cluster().await;
    for i in 1..=3 {
        add_node(&c.client, &format!("node-{i}"), json!({})).await;
    }
    let ds_api = Api::<DaemonSet>::namespaced(c.client.clone(), "default");
    ds_api.create(&PostParams::default(), &daemon_set("agent", "agent:1", 1)).await.unwrap();
    eventually("three pods", || async { pods(&c.client, "agent").await.len() == 3 }).await;
    let mut nodes: Vec<String> = pods(&c.client, "agent").await.iter().map(target_node).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"]);
    for pod in pods(&c.client, "agent").await {
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!((owner.kind.as_str(), owner.controller), ("DaemonSet", Some(true)));
        assert!(pod.labels().contains_key("controller-revision-hash"));
        assert_eq!(pod.labels()["pod-template-generation"], "1");
    }
    eventually("status to count them", || async {
        let ds = ds_api.get("agent").await.unwrap();
        let status = ds.status.unwrap_or_default();
        status.desired_number_scheduled == 3
            && status.current_number_scheduled == 3
            && status.observed_generation == Some(1)
    })
    .await;
    let revisions = Api::<ControllerRevision>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(revisions.items.len(), 1);
    assert_eq!(revisions.items[0].revision, Some(1));
}

#[tokio::test]
async fn node_selector_follows_node_labels() {
    let c = cluster().await;
    add_node(&c.client, "a", json!({})).await;
    add_node(&c.client, "b", json!({})).await;
    let mut ds = daemon_set("ssd", "x:1", 1);
    ds.spec.template.spec.as_mut().unwrap().node_selector =
        Some([("ssd".to_owned(), "true".to_owned())].into());
    Api::<DaemonSet>::namespaced(c.client.clone(), "default")
        .create(&PostParams::default(), &ds)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pods(&c.client, "ssd").await.is_empty());
    let nodes = Api::<Node>::all(c.client.clone());
    nodes
        .patch("b", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"ssd": "true"}}})))
        .await
        .unwrap();
    eventually("a pod on b", || async {
        pods(&c.client, "ssd").await.iter().map(target_node).collect::<Vec<_>>() == ["b"]
    })
    .await;
    nodes
        .patch("b", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"ssd": null}}})))
        .await
        .unwrap();
    eventually("the pod to go", || async {
        pods(&c.client, "ssd").await.iter().all(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
}

#[tokio::test]
async fn rolling_update_replaces_every_pod_with_the_new_template() {
    let c = cluster().await;
    tokio::spawn(kubelet(c.client.clone()));
    for i in 1..=4 {
        add_node(&c.client, &format!("node-{i}"), json!({})).await;
    }
    let ds_api = Api::<DaemonSet>::namespaced(c.client.clone(), "default");
    ds_api.create(&PostParams::default(), &daemon_set("roll", "img:1", 1)).await.unwrap();
    eventually("four ready pods", || async {
        let ds = ds_api.get("roll").await.unwrap();
        ds.status.is_some_and(|s| s.number_ready == 4)
    })
    .await;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}});
    ds_api.patch("roll", &PatchParams::default(), &Patch::Strategic(&patch)).await.unwrap();
    eventually("every pod on img:2 and the status to say so", || async {
        let ds = ds_api.get("roll").await.unwrap();
        let live: Vec<Pod> = pods(&c.client, "roll")
            .await
            .into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let images: Vec<String> =
            live.iter().map(|p| p.spec.as_ref().unwrap().containers[0].image.clone().unwrap()).collect();
        let status = ds.status.unwrap_or_default();
        images.len() == 4
            && images.iter().all(|i| i == "img:2")
            && status.updated_number_scheduled == Some(4)
            && status.number_available == Some(4)
    })
    .await;
    let revisions = Api::<ControllerRevision>::namespaced(c.client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap();
    let mut numbers: Vec<i64> = revisions.items.iter().filter_map(|r| r.revision).collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2]);
}

#[tokio::test]
async fn deleting_the_daemon_set_removes_its_pods() {
    let c = cluster().await;
    add_node(&c.client, "n", json!({})).await;
    let ds_api = Api::<DaemonSet>::namespaced(c.client.clone(), "default");
    ds_api.create(&PostParams::default(), &daemon_set("gone", "x:1", 1)).await.unwrap();
    eventually("a pod", || async { pods(&c.client, "gone").await.len() == 1 }).await;
    ds_api.delete("gone", &DeleteParams::default()).await.unwrap();
    eventually("the pod to go", || async { pods(&c.client, "gone").await.is_empty() }).await;
}
