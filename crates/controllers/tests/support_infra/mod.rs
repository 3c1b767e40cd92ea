//! Fixtures for the infrastructure controllers' tests (scheduler, node lifecycle, pod GC): an
//! in-process API server, node/pod/lease builders, and polling with a deadline.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

/// Guards every wait so a broken controller fails the test instead of hanging it.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// An API server over an in-memory store and a client on its router (no socket).
pub struct Cluster {
    pub client: Client,
    _server: Option<(ApiServer, tokio::task::JoinHandle<()>)>,
}

pub async fn cluster() -> anyhow::Result<Cluster> {
    let store = Store::open_in_memory(StoreOptions::default())?;
    let server = ApiServer::new(store).await?;
    let background = server.spawn_background();
    let client = Client::new(server.router(), "default");
    Ok(Cluster { client, _server: Some((server, background)) })
}

impl Cluster {
    /// A handle on a cluster someone else keeps alive (for helper tasks).
    pub fn from_client(client: Client) -> Cluster {
        Cluster { client, _server: None }
    }

    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::default_namespaced(self.client.clone())
    }

    pub fn leases(&self) -> Api<Lease> {
        Api::namespaced(self.client.clone(), "kube-node-lease")
    }

    pub async fn create_node(&self, node: NodeBuilder) -> anyhow::Result<Node> {
        Ok(self.nodes().create(&PostParams::default(), &node.build()).await?)
    }

    pub async fn create_pod(&self, pod: PodBuilder) -> anyhow::Result<Pod> {
        Ok(self.pods().create(&PostParams::default(), &pod.build()).await?)
    }

    /// What a kubelet does on each heartbeat: renew the node's Lease.
    pub async fn renew_lease(&self, node: &str) -> anyhow::Result<()> {
        let lease = json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": MicroTime(jiff::Timestamp::now())},
        });
        // Server-side apply is not supported: create, else merge-patch.
        match self.leases().create(&PostParams::default(), &serde_json::from_value(lease.clone())?).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 409 => {
                self.leases().patch(node, &PatchParams::default(), &Patch::Merge(&lease)).await?;
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    /// What a kubelet posts when it is healthy: Ready=True with a fresh heartbeat.
    pub async fn post_ready(&self, node: &str) -> anyhow::Result<()> {
        let now = Time(jiff::Timestamp::now());
        let patch = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
             "lastHeartbeatTime": now, "lastTransitionTime": now},
        ]}});
        self.nodes().patch_status(node, &PatchParams::default(), &Patch::Merge(&patch)).await?;
        Ok(())
    }

    /// Events about the object `name`, with their reason and message.
    pub async fn events_for(&self, name: &str) -> anyhow::Result<Vec<(String, String)>> {
        let events: Api<Event> = Api::all(self.client.clone());
        let list = events.list(&ListParams::default()).await?;
        Ok(list
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect())
    }
}

/// Polls `probe` until it returns `Some`, failing after `PATIENCE` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts `probe` keeps returning `true` for `duration`.
pub async fn holds_for<F, Fut>(what: &str, duration: Duration, mut probe: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + duration;
    while tokio::time::Instant::now() < deadline {
        if !probe().await? {
            bail!("{what} stopped holding");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

pub fn node_name(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref()?.node_name.as_deref()
}

pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

pub fn node_condition<'a>(
    node: &'a Node,
    type_: &str,
) -> Option<&'a k8s_openapi::api::core::v1::NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

pub fn taint_keys(node: &Node) -> Vec<String> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|ts| ts.iter().map(|t| format!("{}:{}", t.key, t.effect)).collect())
        .unwrap_or_default()
}

/// `node("n").label("a", "b").taint("k", "", "NoSchedule").build()`
pub struct NodeBuilder(Value);

pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {},
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        },
    }))
}

impl NodeBuilder {
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.0["metadata"]["labels"][key] = json!(value);
        self
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let taints = self.0["spec"]["taints"].as_array().cloned().unwrap_or_default();
        let mut taints = taints;
        taints.push(json!({"key": key, "value": value, "effect": effect}));
        self.0["spec"]["taints"] = json!(taints);
        self
    }

    pub fn unschedulable(mut self) -> Self {
        self.0["spec"]["unschedulable"] = json!(true);
        self
    }

    pub fn allocatable(mut self, cpu: &str, memory: &str, pods: &str) -> Self {
        let list = json!({"cpu": cpu, "memory": memory, "pods": pods});
        self.0["status"]["capacity"] = list.clone();
        self.0["status"]["allocatable"] = list;
        self
    }

    pub fn ready(mut self) -> Self {
        let now = Time(jiff::Timestamp::now());
        self.0["status"]["conditions"] = json!([
            {"type": "Ready", "status": "True", "reason": "KubeletReady", "lastHeartbeatTime": now, "lastTransitionTime": now},
        ]);
        self
    }

    pub fn build(self) -> Node {
        serde_json::from_value(self.0).expect("node fixture")
    }
}

/// `pod("p").node_selector("a", "b").build()`
pub struct PodBuilder(Value);

pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "test"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
}

impl PodBuilder {
    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.0["spec"]["nodeSelector"][key] = json!(value);
        self
    }

    pub fn toleration(mut self, toleration: Value) -> Self {
        let mut list = self.0["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
        list.push(toleration);
        self.0["spec"]["tolerations"] = json!(list);
        self
    }

    /// A pod as the DaemonSet controller creates it for `node`: pinned by `matchFields` and
    /// carrying the daemon tolerations.
    pub fn daemon_for(mut self, node: &str) -> Self {
        self.0["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
        }}});
        let spec: PodSpec = serde_json::from_value(self.0["spec"].clone()).expect("spec");
        let tolerations = everynode_core::tolerations::daemon_tolerations(&spec);
        self.0["spec"]["tolerations"] = serde_json::to_value(tolerations).expect("tolerations");
        self
    }

    pub fn requests(mut self, cpu: &str, memory: &str) -> Self {
        self.0["spec"]["containers"][0]["resources"] = json!({"requests": {"cpu": cpu, "memory": memory}});
        self
    }

    pub fn bound_to(mut self, node: &str) -> Self {
        self.0["spec"]["nodeName"] = json!(node);
        self
    }

    pub fn build(self) -> Pod {
        serde_json::from_value(self.0).expect("pod fixture")
    }
}

/// Lists pods, failing on API errors.
pub async fn list_pods(cluster: &Cluster) -> anyhow::Result<Vec<Pod>> {
    Ok(cluster.pods().list(&ListParams::default()).await.context("list pods")?.items)
}
