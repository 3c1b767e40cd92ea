//! Shared fixtures: an in-process API server (optionally behind a switch that takes it "down"),
//! fast fleets, pod builders and patient waits.

#![allow(dead_code, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use everynode_apiserver::ApiServer;
use everynode_nodesim::{Behaviour, EventPolicy, FailureMode, FailureRule, Fleet, Pool, RunOptions};
use everynode_store::{Store, StoreOptions};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::watch;

/// Every wait gives up after this, so a broken simulation fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// An in-process cluster: an API server over an in-memory store and a client of it (no socket).
pub struct Cluster {
    pub client: Client,
    pub server: ApiServer,
    /// Takes the API server "down" (`true`): requests fail with 503 and open watches end, as
    /// when it restarts.
    pub down: watch::Sender<bool>,
}

pub async fn cluster() -> anyhow::Result<Cluster> {
    let store = Store::open_in_memory(StoreOptions::default())?;
    let server = ApiServer::new(store).await?;
    let _gc = server.spawn_background();
    let (down, down_rx) = watch::channel(false);
    let client = Client::new(Switch { router: server.router(), down: down_rx }, "default");
    Ok(Cluster { client, server, down })
}

/// The router behind an on/off switch.
#[derive(Clone)]
struct Switch {
    router: axum::Router,
    down: watch::Receiver<bool>,
}

impl<B> tower::Service<http::Request<B>> for Switch
where
    axum::Router:
        tower::Service<http::Request<B>, Response = http::Response<axum::body::Body>, Error = Infallible>,
    <axum::Router as tower::Service<http::Request<B>>>::Future: Send + 'static,
{
    type Response = http::Response<axum::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tower::Service::<http::Request<B>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if *self.down.borrow() {
            return Box::pin(async { Ok(unavailable()) });
        }
        let response = self.router.call(request);
        let mut down = self.down.clone();
        Box::pin(async move {
            let response = response.await?;
            let (parts, body) = response.into_parts();
            // Open responses (watches) end when the server goes down.
            let ended = async move {
                let _ = down.wait_for(|d| *d).await;
            };
            let stream = body.into_data_stream().take_until(Box::pin(ended));
            Ok(http::Response::from_parts(parts, axum::body::Body::from_stream(stream)))
        })
    }
}

fn unavailable() -> http::Response<axum::body::Body> {
    let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503,
        "reason": "ServiceUnavailable", "message": "the server is restarting"});
    let mut response = http::Response::new(axum::body::Body::from(status.to_string()));
    *response.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    response
}

/// Options that make a simulation fast enough for tests.
pub fn fast_options() -> RunOptions {
    RunOptions {
        lease_renew_interval: Duration::from_millis(50),
        events: EventPolicy::All,
        ..RunOptions::default()
    }
}

/// 30 ms to start, 30 ms more to be ready, 100 ms to stop; failure timings 200 times faster
/// (crash-loop back-offs of 50 ms, 100 ms, ...). Images `*:never-ready`, `*:crash` and
/// `*:missing` fail.
pub fn fast_behaviour() -> Behaviour {
    Behaviour {
        start_delay: Duration::from_millis(30),
        start_jitter: Duration::ZERO,
        readiness_delay: Duration::from_millis(30),
        termination_delay: Duration::from_millis(100),
        backoff_scale: 0.005,
        failures: vec![
            FailureRule { image: "*:never-ready".into(), mode: FailureMode::NeverReady },
            FailureRule { image: "*:crash".into(), mode: FailureMode::CrashLoop },
            FailureRule { image: "*:missing".into(), mode: FailureMode::ImagePullBackOff },
        ],
    }
}

/// The default fleet of `n` nodes with [`fast_behaviour`].
pub fn fast_fleet(n: u32) -> Fleet {
    let mut fleet = Fleet::default_fleet(n);
    for pool in &mut fleet.pools {
        pool.behaviour = fast_behaviour();
    }
    fleet.default_behaviour = fast_behaviour();
    fleet
}

/// The pool named `name` of `fleet`.
pub fn pool<'a>(fleet: &'a Fleet, name: &str) -> &'a Pool {
    fleet.pool(name).expect("pool exists")
}

/// A pod in `default` running `image`, bound to `node` if given.
pub fn pod(name: &str, node: Option<&str>, image: &str) -> Pod {
    let mut value = json!({
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": image}]},
    });
    if let Some(node) = node {
        value["spec"]["nodeName"] = json!(node);
    }
    serde_json::from_value(value).expect("fixture pod")
}

pub async fn create_pod(client: &Client, pod: &Pod) -> anyhow::Result<Pod> {
    Ok(Api::<Pod>::namespaced(client.clone(), "default").create(&PostParams::default(), pod).await?)
}

/// Polls `check` every 10 ms until it returns `Some`, failing after [`PATIENCE`] with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut last_error = None;
    loop {
        match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(error) => last_error = Some(error),
        }
        if tokio::time::Instant::now() > deadline {
            match last_error {
                Some(error) => return Err(error).context(format!("timed out waiting until {what}")),
                None => bail!("timed out waiting until {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn get_pod(client: &Client, name: &str) -> anyhow::Result<Option<Pod>> {
    Ok(Api::<Pod>::namespaced(client.clone(), "default").get_opt(name).await?)
}

pub async fn get_node(client: &Client, name: &str) -> anyhow::Result<Option<Node>> {
    Ok(Api::<Node>::all(client.clone()).get_opt(name).await?)
}

/// The waiting reason of the pod's first container.
pub fn waiting_reason(pod: &Pod) -> Option<String> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .first()?
        .state
        .as_ref()?
        .waiting
        .as_ref()?
        .reason
        .clone()
}

/// The restart count of the pod's first container.
pub fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .map_or(0, |c| c.restart_count)
}

/// The status of condition `type_`, if present.
pub fn condition(pod: &Pod, type_: &str) -> Option<String> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_).map(|c| c.status.clone())
}

pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").as_deref() == Some("True")
}

pub fn phase(pod: &Pod) -> Option<String> {
    pod.status.as_ref()?.phase.clone()
}

/// The Ready condition status of a node.
pub fn node_ready(node: &Node) -> Option<String> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready").map(|c| c.status.clone())
}

/// The reasons of the Events about the object named `name`.
pub async fn event_reasons(client: &Client, namespace: &str, name: &str) -> anyhow::Result<Vec<String>> {
    let events = Api::<Event>::namespaced(client.clone(), namespace).list(&ListParams::default()).await?;
    Ok(events
        .items
        .into_iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .filter_map(|e| e.reason)
        .collect())
}

/// The names of all nodes.
pub async fn node_names(client: &Client) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    names.sort();
    Ok(names)
}
