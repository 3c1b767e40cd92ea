//! The updater's runtime against the in-process API server, with a registry stand-in: what the
//! headwind.sh annotations promise happens to the DaemonSet and its UpdateRequests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};
use everynode_updater::metrics::Metrics;
use everynode_updater::notify::{Notifier, NotifyConfig, Transport};
use everynode_updater::registry::{Auth, RegistryError, RegistryImage, TagSource};
use everynode_updater::request::{CRD_YAML, Phase, UpdateRequest};
use everynode_updater::runtime::{Options, Updater};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// Tags by repository (`docker.io/prom/node-exporter`), changeable during a test.
#[derive(Clone, Default)]
struct FakeRegistry {
    tags: Arc<Mutex<HashMap<String, Vec<String>>>>,
    polls: Arc<Mutex<u32>>,
}

impl FakeRegistry {
    fn set(&self, repository: &str, tags: &[&str]) {
        self.tags
            .lock()
            .unwrap()
            .insert(repository.to_owned(), tags.iter().map(|t| (*t).to_owned()).collect());
    }
}

impl TagSource for FakeRegistry {
    async fn list_tags(&self, image: &RegistryImage, _auth: &Auth) -> Result<Vec<String>, RegistryError> {
        *self.polls.lock().unwrap() += 1;
        let key = format!("{}/{}", image.registry(), image.repository());
        Ok(self.tags.lock().unwrap().get(&key).cloned().unwrap_or_default())
    }

    async fn digest(
        &self,
        _image: &RegistryImage,
        _tag: &str,
        _auth: &Auth,
    ) -> Result<String, RegistryError> {
        Ok("sha256:0000000000000000000000000000000000000000000000000000000000000000".to_owned())
    }
}

use everynode_updater::notify::transport::{OutgoingRequest, TransportError, TransportResponse};

/// Records the generic webhook's notification bodies instead of sending them.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<serde_json::Value>>>);

impl Transport for Recorder {
    fn post(
        &self,
        request: OutgoingRequest,
    ) -> futures::future::BoxFuture<'static, Result<TransportResponse, TransportError>> {
        self.0.lock().unwrap().push(serde_json::from_slice(&request.body).unwrap());
        Box::pin(async { Ok(TransportResponse { status: 200, retry_after: None }) })
    }
}

impl Recorder {
    /// The `event` field of every notification so far.
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().iter().map(|n| n["event"].as_str().unwrap_or_default().to_owned()).collect()
    }
}

struct Cluster {
    client: Client,
    registry: FakeRegistry,
    metrics: Metrics,
    notified: Recorder,
    _server: ApiServer,
}

async fn cluster() -> Cluster {
    cluster_with(Options::default()).await
}

/// A cluster whose updater runs with `options` (its timings made fast for tests).
async fn cluster_with(options: Options) -> Cluster {
    let store = Store::open_in_memory(StoreOptions::default()).unwrap();
    let server = ApiServer::new(store).await.unwrap();
    server.spawn_background();
    let client = Client::new(server.router(), "default");
    let crd: CustomResourceDefinition = serde_yaml_ng::from_str(CRD_YAML).unwrap();
    Api::<CustomResourceDefinition>::all(client.clone()).create(&PostParams::default(), &crd).await.unwrap();
    let registry = FakeRegistry::default();
    let metrics = Metrics::new();
    let options = Options {
        tick: Duration::from_millis(50),
        polling_interval: Duration::from_millis(200),
        health_check_interval: Duration::from_millis(100),
        ..options
    };
    let notified = Recorder::default();
    let config = NotifyConfig::from_json(br#"{"webhook": {"url": "http://hooks.test/everynode"}}"#).unwrap();
    let notifier = Arc::new(Notifier::new(&config, notified.clone()));
    let updater = Updater::new(client.clone(), registry.clone(), notifier, metrics.clone(), options);
    let (_pushes, received) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let _keep_the_channel_open = _pushes;
        let _ = updater.run(received).await;
    });
    Cluster { client, registry, metrics, notified, _server: server }
}

fn daemon_set(name: &str, image: &str, annotations: serde_json::Value) -> DaemonSet {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": name, "image": image}]}}
        }
    }))
    .unwrap()
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..200 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn image_of(ds: &DaemonSet) -> String {
    ds.spec.template.spec.as_ref().unwrap().containers[0].image.clone().unwrap()
}

async fn requests(client: &Client) -> Vec<UpdateRequest> {
    Api::<UpdateRequest>::namespaced(client.clone(), "default")
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minor_policy_without_approval_moves_to_the_highest_allowed_tag_and_records_it() {
    let cluster = cluster().await;
    cluster.registry.set(
        "docker.io/prom/node-exporter",
        &["v1.4.0", "v1.7.0", "v1.6.1", "v2.0.0", "v1.8.0-rc.1", "latest"],
    );
    let annotations = json!({
        "headwind.sh/policy": "minor",
        "headwind.sh/require-approval": "false",
        "headwind.sh/event-source": "polling",
    });
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &daemon_set("node-exporter", "prom/node-exporter:v1.5.0", annotations),
    )
    .await
    .unwrap();
    let ds = eventually("the update", || async {
        let ds = api.get("node-exporter").await.unwrap();
        (image_of(&ds) != "prom/node-exporter:v1.5.0").then_some(ds)
    })
    .await;
    assert_eq!(image_of(&ds), "prom/node-exporter:v1.7.0");
    let annotations = ds.annotations();
    let last_update: jiff::Timestamp = annotations["headwind.sh/last-update"].parse().expect("RFC 3339");
    assert!(jiff::Timestamp::now().duration_since(last_update).as_secs() < 60);
    let history: serde_json::Value =
        serde_json::from_str(&annotations["headwind.sh/update-history"]).unwrap();
    assert_eq!(history[0]["container"], "node-exporter");
    assert_eq!(history[0]["image"], "prom/node-exporter:v1.7.0");
    assert_eq!(history[0]["approvedBy"], "auto");
    assert!(annotations["kubernetes.io/change-cause"].contains("v1.5.0 -> prom/node-exporter:v1.7.0"));
    assert!(requests(&cluster.client).await.is_empty(), "no approval, no UpdateRequest");

    // The minimum interval (300 s by default) holds the next one back.
    cluster.registry.set("docker.io/prom/node-exporter", &["v1.7.0", "v1.9.0"]);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(image_of(&api.get("node-exporter").await.unwrap()), "prom/node-exporter:v1.7.0");
    let rendered = cluster.metrics.render();
    assert!(rendered.contains("headwind_updates_applied_total{kind=\"DaemonSet\"} 1"), "{rendered}");
    assert!(rendered.contains("headwind_daemonsets_watched 1"), "{rendered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_needing_approval_waits_for_it_and_a_rejection_sticks() {
    let cluster = cluster().await;
    cluster.registry.set("docker.io/fluent/fluent-bit", &["2.0.0", "2.0.3", "2.0.2", "2.1.0"]);
    let annotations = json!({
        "headwind.sh/policy": "patch",
        "headwind.sh/require-approval": "true",
        "headwind.sh/event-source": "polling",
        "headwind.sh/min-update-interval": "0",
    });
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(&PostParams::default(), &daemon_set("fluent-bit", "fluent/fluent-bit:2.0.0", annotations))
        .await
        .unwrap();
    let request = eventually("an UpdateRequest", || async {
        requests(&cluster.client)
            .await
            .into_iter()
            .find(|r| r.phase() == Phase::Pending && r.status.is_some())
    })
    .await;
    assert_eq!(request.name_any(), "fluent-bit-update-2-0-3");
    assert_eq!(request.spec.new_image, "fluent/fluent-bit:2.0.3");
    assert_eq!(request.spec.current_image.as_deref(), Some("fluent/fluent-bit:2.0.0"));
    assert_eq!(request.spec.target_ref.kind, "DaemonSet");
    assert!(request.spec.expires_at.is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        image_of(&api.get("fluent-bit").await.unwrap()),
        "fluent/fluent-bit:2.0.0",
        "nothing before approval"
    );

    // Approve as kubectl would: a merge patch of the status subresource.
    let urs: Api<UpdateRequest> = Api::namespaced(cluster.client.clone(), "default");
    let approve = json!({"status": {"phase": "Approved", "approvedBy": "alice@example.com", "approvedAt": jiff::Timestamp::now().to_string()}});
    urs.patch_status("fluent-bit-update-2-0-3", &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .unwrap();
    let ds = eventually("the approved update", || async {
        let ds = api.get("fluent-bit").await.unwrap();
        (image_of(&ds) == "fluent/fluent-bit:2.0.3").then_some(ds)
    })
    .await;
    let history: serde_json::Value =
        serde_json::from_str(&ds.annotations()["headwind.sh/update-history"]).unwrap();
    assert_eq!(history[0]["approvedBy"], "alice@example.com");
    assert_eq!(history[0]["updateRequestName"], "fluent-bit-update-2-0-3");
    eventually("the request Completed", || async {
        (urs.get("fluent-bit-update-2-0-3").await.unwrap().phase() == Phase::Completed).then_some(())
    })
    .await;
    // A decision made with kubectl is counted and announced like one made through the API.
    eventually("the notifications", || async {
        let events = cluster.notified.events();
        (events.len() >= 4).then_some(()).filter(|()| {
            events == ["update_detected", "update_request_created", "update_approved", "update_applied"]
        })
    })
    .await;
    let approved = cluster.notified.0.lock().unwrap()[2].clone();
    assert_eq!(approved["actor"], "alice@example.com");
    assert_eq!(approved["updateRequest"], "fluent-bit-update-2-0-3");
    let rendered = cluster.metrics.render();
    assert!(rendered.contains("headwind_approvals_total{decision=\"approved\"} 1"), "{rendered}");

    // A new patch release is proposed; rejecting it is final.
    cluster.registry.set("docker.io/fluent/fluent-bit", &["2.0.3", "2.0.4"]);
    eventually("the next request", || async {
        urs.get_opt("fluent-bit-update-2-0-4").await.unwrap().filter(|r| r.status.is_some())
    })
    .await;
    let reject =
        json!({"status": {"phase": "Rejected", "rejectedBy": "bob@example.com", "message": "known bug"}});
    urs.patch_status("fluent-bit-update-2-0-4", &PatchParams::default(), &Patch::Merge(&reject))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = urs.get("fluent-bit-update-2-0-4").await.unwrap();
    assert_eq!(after.phase(), Phase::Rejected, "the rejection stays");
    assert!(
        cluster.notified.events().contains(&"update_rejected".to_owned()),
        "{:?}",
        cluster.notified.events()
    );
    assert_eq!(requests(&cluster.client).await.len(), 2, "nothing re-proposed");
    assert_eq!(image_of(&api.get("fluent-bit").await.unwrap()), "fluent/fluent-bit:2.0.3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_glob_policy_ignores_tags_outside_its_pattern() {
    let cluster = cluster().await;
    cluster.registry.set(
        "docker.io/falcosecurity/falco",
        &["0.34.0-stable", "0.35.0", "0.36.0-rc1", "0.35.1-stable", "0.37.0-debug"],
    );
    let annotations = json!({
        "headwind.sh/policy": "glob",
        "headwind.sh/pattern": "*-stable",
        "headwind.sh/require-approval": "false",
        "headwind.sh/event-source": "polling",
    });
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &daemon_set("falco", "falcosecurity/falco:0.34.0-stable", annotations),
    )
    .await
    .unwrap();
    let ds = eventually("the update", || async {
        let ds = api.get("falco").await.unwrap();
        (image_of(&ds) != "falcosecurity/falco:0.34.0-stable").then_some(ds)
    })
    .await;
    assert_eq!(image_of(&ds), "falcosecurity/falco:0.35.1-stable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_annotations_skip_the_daemonset_with_an_event() {
    let cluster = cluster().await;
    cluster.registry.set("docker.io/library/nginx", &["1.25.0", "1.26.0"]);
    let annotations = json!({
        "headwind.sh/policy": "minor",
        "headwind.sh/require-approval": "maybe",
        "headwind.sh/event-source": "polling",
    });
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(&PostParams::default(), &daemon_set("web", "nginx:1.25.0", annotations)).await.unwrap();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(cluster.client.clone(), "default");
    let event = eventually("an InvalidUpdateConfig event", || async {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("InvalidUpdateConfig"))
    })
    .await;
    assert!(event.message.unwrap_or_default().contains("headwind.sh/require-approval"));
    assert_eq!(image_of(&api.get("web").await.unwrap()), "nginx:1.25.0");
    assert_eq!(*cluster.registry.polls.lock().unwrap(), 0, "a skipped DaemonSet is not polled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_for_other_kinds_are_left_to_their_own_updater() {
    let cluster = cluster().await;
    let urs: Api<UpdateRequest> = Api::namespaced(cluster.client.clone(), "default");
    let request: UpdateRequest = serde_json::from_value(json!({
        "apiVersion": "headwind.sh/v1alpha1", "kind": "UpdateRequest",
        "metadata": {"name": "web-update-1-26-0", "namespace": "default"},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "default"},
            "containerName": "web", "currentImage": "nginx:1.25.0", "newImage": "nginx:1.26.0"
        }
    }))
    .unwrap();
    urs.create(&PostParams::default(), &request).await.unwrap();
    let approve = json!({"status": {"phase": "Approved", "approvedBy": "carol"}});
    urs.patch_status("web-update-1-26-0", &PatchParams::default(), &Patch::Merge(&approve)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(urs.get("web-update-1-26-0").await.unwrap().phase(), Phase::Approved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_event_source_applies_without_the_annotation_and_typos_are_reported() {
    use everynode_updater::annotations::EventSource;
    let cluster =
        cluster_with(Options { default_event_source: EventSource::Both, ..Options::default() }).await;
    cluster.registry.set("docker.io/prom/node-exporter", &["v1.5.0", "v1.6.0"]);
    // The seed's node-exporter annotations, plus a misspelt key.
    let annotations = json!({
        "headwind.sh/policy": "minor",
        "headwind.sh/require-approval": "false",
        "headwind.sh/min-update-interval": "43200",
        "headwind.sh/auto-rollbak": "true",
    });
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(
        &PostParams::default(),
        &daemon_set("node-exporter", "prom/node-exporter:v1.5.0", annotations),
    )
    .await
    .unwrap();
    eventually("the polled update", || async {
        (image_of(&api.get("node-exporter").await.unwrap()) == "prom/node-exporter:v1.6.0").then_some(())
    })
    .await;
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(cluster.client.clone(), "default");
    let event = eventually("an UnknownUpdateAnnotation event", || async {
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|e| e.reason.as_deref() == Some("UnknownUpdateAnnotation"))
    })
    .await;
    assert!(event.message.unwrap_or_default().contains("headwind.sh/auto-rollbak"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_on_delete_the_template_changes_and_the_request_says_pods_follow_when_deleted() {
    let cluster = cluster().await;
    cluster.registry.set("docker.io/calico/node", &["v3.25.0", "v3.25.1"]);
    let annotations = json!({
        "headwind.sh/policy": "patch",
        "headwind.sh/event-source": "polling",
        "headwind.sh/min-update-interval": "0",
    });
    let mut ds = daemon_set("calico-node", "calico/node:v3.25.0", annotations);
    ds.spec.update_strategy = Some(serde_json::from_value(json!({"type": "OnDelete"})).unwrap());
    let api: Api<DaemonSet> = Api::namespaced(cluster.client.clone(), "default");
    api.create(&PostParams::default(), &ds).await.unwrap();
    let urs: Api<UpdateRequest> = Api::namespaced(cluster.client.clone(), "default");
    eventually("the request", || async {
        urs.get_opt("calico-node-update-v3-25-1").await.unwrap().filter(|r| r.status.is_some())
    })
    .await;
    let approve = json!({"status": {"phase": "Approved", "approvedBy": "netops"}});
    urs.patch_status("calico-node-update-v3-25-1", &PatchParams::default(), &Patch::Merge(&approve))
        .await
        .unwrap();
    let done = eventually("the request Completed", || async {
        urs.get("calico-node-update-v3-25-1").await.ok().filter(|r| r.phase() == Phase::Completed)
    })
    .await;
    let message = done.status.unwrap().message.unwrap_or_default();
    assert!(message.contains("OnDelete: pods change only when deleted"), "{message}");
    assert_eq!(image_of(&api.get("calico-node").await.unwrap()), "calico/node:v3.25.1");
}
