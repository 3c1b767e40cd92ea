//! The node health monitor's loop: reflectors on nodes and node Leases; a [`decide`] pass every
//! monitor period and whenever a node's cordon or condition statuses change; the plan's writes
//! carried out with bounded concurrency.
//!
//! Pods are listed only in the passes that mark a node's pods not ready. Keeping a reflector on
//! every pod for that rare moment cost a copy of every pod and the decoding of every pod write
//! (5% of the CPU of a 10,000-node rollout).
//!
//! Every write is guarded by the node's resourceVersion, so a kubelet posting status at the same
//! moment wins and the next pass decides again from what it wrote.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::monitor::{MonitorState, NodeUpdate, decide, not_ready_conditions};
use super::{Error, NODE_LEASE_NAMESPACE, NodeLifecycleOptions, reasons};
use crate::events::{EventRecorder, EventType, reference};

/// The events' source component, as upstream's.
const COMPONENT: &str = "node-controller";

/// Node writes in flight at once during a pass.
const MAX_IN_FLIGHT: usize = 16;

/// Events applied before a pass may run.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// A pass called for by a node change waits, after the previous pass, at least this many times
/// as long as that pass took. A pass looks at every node (about 25 ms for 10,000), and while a
/// large fleet registers every batch of new nodes is a change: unpaced, the monitor spent a
/// core on back-to-back passes. Paced, it takes at most 1/(1 + PACE) of one, and on small
/// clusters, where a pass takes well under a millisecond, reacts as fast as before.
const PACE: u32 = 4;

/// One watch event (boxed: objects are large and events are moved once). Leases only matter
/// through their store, so their events carry nothing but "the initial list is done".
enum Change {
    Node(Box<watcher::Event<Node>>),
    LeasesSynced,
    Other,
    Failed(watcher::Error),
}

fn synced_or_other<K>(result: Result<watcher::Event<K>, watcher::Error>, synced: Change) -> Change {
    match result {
        Ok(watcher::Event::InitDone) => synced,
        Ok(_) => Change::Other,
        Err(error) => Change::Failed(error),
    }
}

/// The parts of a node whose change calls for an immediate pass (cordon, condition statuses);
/// heartbeats alone wait for the next period.
fn node_fingerprint(node: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node.spec.as_ref().and_then(|s| s.unschedulable).hash(&mut h);
    for c in node.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
        (&c.type_, &c.status).hash(&mut h);
    }
    for t in node.spec.as_ref().and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        (&t.key, &t.effect).hash(&mut h);
    }
    h.finish()
}

struct Monitor {
    options: NodeLifecycleOptions,
    client: Client,
    recorder: EventRecorder,
    nodes: Store<Node>,
    leases: Store<Lease>,
    synced: [bool; 2],
    fingerprints: HashMap<String, u64>,
    state: MonitorState,
    dirty: bool,
}

impl Monitor {
    fn observe(&mut self, change: Change) {
        match change {
            Change::Node(event) => match *event {
                watcher::Event::Apply(node) | watcher::Event::InitApply(node) => {
                    let fingerprint = node_fingerprint(&node);
                    if self.fingerprints.insert(node.name_any(), fingerprint) != Some(fingerprint) {
                        self.dirty = true;
                    }
                }
                watcher::Event::Delete(node) => {
                    self.fingerprints.remove(&node.name_any());
                }
                watcher::Event::Init => {}
                watcher::Event::InitDone => {
                    self.synced[0] = true;
                    self.dirty = true;
                }
            },
            Change::LeasesSynced => self.synced[1] = true,
            Change::Other => {}
            Change::Failed(error) => {
                tracing::warn!(%error, "node lifecycle watch failed; retrying with backoff");
            }
        }
    }

    async fn pass(&mut self) {
        self.dirty = false;
        if !self.synced.iter().all(|s| *s) {
            return;
        }
        let now = Timestamp::now();
        let nodes = self.nodes.state();
        let leases: HashMap<String, Arc<Lease>> = self
            .leases
            .state()
            .into_iter()
            .filter(|l| l.metadata.namespace.as_deref() == Some(NODE_LEASE_NAMESPACE))
            .map(|l| (l.name_any(), l))
            .collect();
        let plan = decide(&nodes, &leases, &self.state, &self.options, now);
        self.state = plan.state;
        if plan.updates.is_empty() {
            return;
        }
        // `None`: the pods could not be listed, so no node's pods count as marked.
        let mut pods_by_node: Option<HashMap<String, Vec<Pod>>> = Some(HashMap::new());
        if plan.updates.iter().any(|u| u.mark_pods_not_ready) {
            pods_by_node = match Api::<Pod>::all(self.client.clone()).list(&ListParams::default()).await {
                Ok(list) => Some(list.items.into_iter().fold(HashMap::new(), |mut by_node, pod| {
                    if let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.clone()) {
                        by_node.entry(node).or_insert_with(Vec::new).push(pod);
                    }
                    by_node
                })),
                Err(error) => {
                    tracing::warn!(%error, "listing pods to mark not ready failed; the next pass retries");
                    None
                }
            };
        }
        let work = plan.updates.into_iter().map(|update| {
            let pods = pods_by_node.as_mut().map(|by_node| by_node.remove(update.name()).unwrap_or_default());
            apply(self.client.clone(), self.recorder.clone(), update, pods, now)
        });
        let results: Vec<(String, bool)> =
            futures::stream::iter(work).buffer_unordered(MAX_IN_FLIGHT).collect().await;
        for (node, marked) in results {
            if marked && let Some(health) = self.state.health.get_mut(&node) {
                health.pods_marked_not_ready = true;
            }
        }
    }
}

fn log_failure(node: &str, what: &str, error: &kube::Error) {
    match error {
        kube::Error::Api(status) if status.code == 409 || status.code == 404 => {
            tracing::debug!(node, what, %error, "node changed meanwhile; the next pass retries");
        }
        _ => tracing::warn!(node, what, %error, "node lifecycle write failed; the next pass retries"),
    }
}

/// Carries out one node's update; returns whether its pods were all marked not ready. `pods` are
/// the node's pods, `None` when they could not be listed.
async fn apply(
    client: Client,
    recorder: EventRecorder,
    update: NodeUpdate,
    pods: Option<Vec<Pod>>,
    now: Timestamp,
) -> (String, bool) {
    let name = update.name().to_owned();
    let nodes: Api<Node> = Api::all(client.clone());
    let mut resource_version = update.node.metadata.resource_version.clone();
    if let Some(conditions) = &update.conditions {
        let patch =
            json!({"metadata": {"resourceVersion": resource_version}, "status": {"conditions": conditions}});
        match nodes.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(written) => resource_version = written.metadata.resource_version,
            Err(error) => {
                log_failure(&name, "status", &error);
                return (name, false);
            }
        }
    }
    if let Some(taints) = &update.taints {
        let patch = json!({"metadata": {"resourceVersion": resource_version}, "spec": {"taints": taints}});
        if let Err(error) = nodes.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            log_failure(&name, "taints", &error);
        }
    }
    if update.became_not_ready {
        recorder.record(
            reference(update.node.as_ref()),
            EventType::Normal,
            reasons::NODE_NOT_READY,
            format!("Node {name} status is now: {}", reasons::NODE_NOT_READY),
        );
    }
    let Some(pods) = pods.filter(|_| update.mark_pods_not_ready) else {
        return (name, false);
    };
    let mut all_marked = true;
    for pod in pods {
        let Some(conditions) = not_ready_conditions(&pod, now) else { continue };
        let api: Api<Pod> =
            Api::namespaced(client.clone(), pod.metadata.namespace.as_deref().unwrap_or("default"));
        let patch = json!({
            "metadata": {"resourceVersion": pod.metadata.resource_version},
            "status": {"conditions": conditions},
        });
        match api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => recorder.record(
                reference(&pod),
                EventType::Warning,
                reasons::NODE_NOT_READY,
                "Node is not ready",
            ),
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => {
                log_failure(&name, "pod readiness", &error);
                all_marked = false;
            }
        }
    }
    (name, all_marked)
}

/// Runs the node health monitor until the future is dropped; API errors are logged and retried
/// on the next pass. Returns only when a watch stream ends.
pub async fn run(client: Client, options: NodeLifecycleOptions) -> Result<(), Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let (leases, lease_writer) = reflector::store::<Lease>();
    let node_events = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer)
        .map(|r| r.map_or_else(Change::Failed, |e| Change::Node(Box::new(e))));
    let lease_events =
        watcher(Api::<Lease>::namespaced(client.clone(), NODE_LEASE_NAMESPACE), watcher::Config::default())
            .default_backoff()
            .reflect(lease_writer)
            .map(|r| synced_or_other(r, Change::LeasesSynced));
    let mut changes = futures::stream::select(node_events, lease_events).boxed();
    let mut ticks = tokio::time::interval(options.monitor_period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut monitor = Monitor {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        options,
        client,
        nodes,
        leases,
        synced: [false; 2],
        fingerprints: HashMap::new(),
        state: MonitorState::default(),
        dirty: false,
    };
    // The earliest time the next pass may run (see PACE).
    let mut next_pass = tokio::time::Instant::now();
    loop {
        let paced = monitor.dirty.then_some(next_pass);
        tokio::select! {
            change = changes.next() => match change {
                Some(change) => monitor.observe(change),
                None => return Err(Error::WatchEnded),
            },
            _ = ticks.tick() => monitor.dirty = true,
            () = tokio::time::sleep_until(paced.unwrap_or(next_pass)), if paced.is_some() => {}
        }
        for _ in 0..MAX_EVENTS_PER_BATCH {
            match changes.next().now_or_never() {
                Some(Some(change)) => monitor.observe(change),
                Some(None) => return Err(Error::WatchEnded),
                None => break,
            }
        }
        let started = tokio::time::Instant::now();
        if monitor.dirty && started >= next_pass {
            monitor.pass().await;
            let ended = tokio::time::Instant::now();
            next_pass = ended + (ended - started).saturating_mul(PACE);
        }
    }
}
