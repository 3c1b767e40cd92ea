//! What the benchmark watches: nodes Ready, the DaemonSet's status and the writes per resource,
//! read from the store's own watches so that observing adds no load on the API server.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use everynode_apiserver::ApiServer;
use everynode_store::{EventKind, Store, WatchEvent};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The resources whose writes are counted, as (API group, plural).
const COUNTED: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "nodes"),
    ("coordination.k8s.io", "leases"),
    ("", "events"),
    ("apps", "daemonsets"),
    ("apps", "controllerrevisions"),
];

/// The counters of the DaemonSet status that say where a rollout is, as `kubectl rollout
/// status` reads them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rollout {
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `status.desiredNumberScheduled`.
    pub desired: i64,
    /// `status.updatedNumberScheduled`.
    pub updated: i64,
    /// `status.numberAvailable`.
    pub available: i64,
}

impl Rollout {
    fn of(object: &Value) -> Rollout {
        let int = |pointer: &str| object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
        Rollout {
            generation: int("/metadata/generation"),
            observed_generation: int("/status/observedGeneration"),
            desired: int("/status/desiredNumberScheduled"),
            updated: int("/status/updatedNumberScheduled"),
            available: int("/status/numberAvailable"),
        }
    }

    /// Whether the controller has seen generation `at_least` and all `n` nodes run an available
    /// pod of it.
    pub fn complete(&self, at_least: i64, n: i64) -> bool {
        self.generation >= at_least
            && self.observed_generation >= self.generation
            && self.desired == n
            && self.updated == n
            && self.available == n
    }
}

/// Writes per resource so far, and whether a counter missed events (a watch that fell further
/// behind than the store's history and had to re-list).
#[derive(Debug)]
pub struct WriteCounts {
    counts: Vec<(&'static str, AtomicU64)>,
    lossy: AtomicBool,
}

impl WriteCounts {
    /// The counts now, by plural, in [`COUNTED`] order.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        self.counts.iter().map(|(name, count)| (*name, count.load(Ordering::Relaxed))).collect()
    }

    /// Whether some events were missed.
    pub fn lossy(&self) -> bool {
        self.lossy.load(Ordering::Relaxed)
    }
}

/// The running observers; they stop when this is dropped.
pub struct Observer {
    /// How many nodes are Ready.
    pub ready_nodes: watch::Receiver<usize>,
    /// How many node Leases (in `kube-node-lease`) exist.
    pub node_leases: watch::Receiver<usize>,
    /// The watched DaemonSet's rollout counters, once it exists.
    pub daemon_set: watch::Receiver<Option<Rollout>>,
    /// Writes per resource.
    pub writes: Arc<WriteCounts>,
    _tasks: JoinSet<()>,
}

impl Observer {
    /// Starts watching `server`'s store; `daemon_set` is the (namespace, name) to follow.
    pub fn start(server: &ApiServer, daemon_set: (&str, &str)) -> anyhow::Result<Observer> {
        let mut resources = Vec::new();
        for (group, plural) in COUNTED {
            let rt = server
                .registry()
                .lookup(group, "v1", plural)
                .ok_or_else(|| anyhow::anyhow!("the API server does not serve {plural}"))?;
            resources.push((*plural, rt.storage_resource()));
        }
        let writes = Arc::new(WriteCounts {
            counts: resources.iter().map(|(plural, _)| (*plural, AtomicU64::new(0))).collect(),
            lossy: AtomicBool::new(false),
        });
        let (ready_tx, ready_nodes) = watch::channel(0);
        let (leases_tx, node_leases) = watch::channel(0);
        let (ds_tx, ds_rx) = watch::channel(None);
        let (namespace, name) = (daemon_set.0.to_owned(), daemon_set.1.to_owned());
        let mut tasks = JoinSet::new();
        for (index, (plural, storage)) in resources.into_iter().enumerate() {
            let store = server.store().clone();
            let writes = Arc::clone(&writes);
            match plural {
                "nodes" | "leases" => {
                    let (mut tally, sender) = match plural {
                        "nodes" => (Tally::new(node_ready), ready_tx.clone()),
                        _ => (Tally::new(is_node_lease), leases_tx.clone()),
                    };
                    tasks.spawn(follow(store, storage, writes, index, move |change| {
                        tally.apply(change);
                        sender.send_if_modified(|count| std::mem::replace(count, tally.count) != tally.count);
                    }));
                }
                "daemonsets" => {
                    let (namespace, name, ds_tx) = (namespace.clone(), name.clone(), ds_tx.clone());
                    tasks.spawn(follow(store, storage, writes, index, move |change| {
                        let is_it = |o: &Value| {
                            o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(&namespace)
                                && o.pointer("/metadata/name").and_then(Value::as_str) == Some(&name)
                        };
                        let latest = match change {
                            Change::Reset(items) => {
                                Some(items.iter().find(|o| is_it(o)).map(|o| Rollout::of(o)))
                            }
                            Change::Event(event) if is_it(&event.object) => {
                                Some((event.kind != EventKind::Deleted).then(|| Rollout::of(&event.object)))
                            }
                            Change::Event(_) => None,
                        };
                        if let Some(latest) = latest {
                            ds_tx.send_if_modified(|current| std::mem::replace(current, latest) != latest);
                        }
                    }));
                }
                _ => {
                    tasks.spawn(follow(store, storage, writes, index, |_| {}));
                }
            }
        }
        Ok(Observer { ready_nodes, node_leases, daemon_set: ds_rx, writes, _tasks: tasks })
    }
}

/// What a follower sees: the whole list (at the start, and after falling behind), or one write.
enum Change<'a> {
    Reset(&'a [Arc<Value>]),
    Event(&'a WatchEvent),
}

/// Lists and watches `resource` until the store closes, counting its writes in slot `index`.
async fn follow(
    store: Store,
    resource: String,
    writes: Arc<WriteCounts>,
    index: usize,
    mut apply: impl FnMut(Change<'_>) + Send,
) {
    loop {
        let (list, mut watch) = store.list_and_watch(&resource, None);
        apply(Change::Reset(&list.items));
        loop {
            match watch.next().await {
                Some(Ok(event)) => {
                    writes.counts[index].1.fetch_add(1, Ordering::Relaxed);
                    apply(Change::Event(&event));
                }
                // Fell further behind than the history reaches: start over from a list.
                Some(Err(_)) => {
                    writes.lossy.store(true, Ordering::Relaxed);
                    break;
                }
                None => return,
            }
        }
    }
}

/// How many objects of a resource satisfy a test (nodes that are Ready, Leases that are node
/// leases), kept as events arrive: recounting 10,000 objects per event would cost more than the
/// simulation.
struct Tally {
    test: fn(&Value) -> bool,
    /// Whether each object (by namespace and name) passes.
    by_name: HashMap<(String, String), bool>,
    count: usize,
}

impl Tally {
    fn new(test: fn(&Value) -> bool) -> Tally {
        Tally { test, by_name: HashMap::new(), count: 0 }
    }

    fn apply(&mut self, change: Change<'_>) {
        let field = |o: &Value, f: &str| {
            o.get("metadata").and_then(|m| m.get(f)).and_then(Value::as_str).unwrap_or_default().to_owned()
        };
        let name = |o: &Value| (field(o, "namespace"), field(o, "name"));
        match change {
            Change::Reset(items) => {
                self.by_name = items.iter().map(|o| (name(o), (self.test)(o))).collect();
                self.count = self.by_name.values().filter(|r| **r).count();
            }
            Change::Event(event) => {
                let now = event.kind != EventKind::Deleted && (self.test)(&event.object);
                let before = if event.kind == EventKind::Deleted {
                    self.by_name.remove(&name(&event.object))
                } else {
                    self.by_name.insert(name(&event.object), now)
                };
                self.count = self.count + usize::from(now) - usize::from(before.unwrap_or(false));
            }
        }
    }
}

/// Whether a Lease is a node's heartbeat (in `kube-node-lease`).
fn is_node_lease(lease: &Value) -> bool {
    lease.pointer("/metadata/namespace").and_then(Value::as_str) == Some("kube-node-lease")
}

/// Whether a node's `Ready` condition is `True`.
fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_rollout_is_complete_only_once_its_generation_is_observed_everywhere() {
        let ds = |generation: i64, observed: i64, updated: i64, available: i64| {
            Rollout::of(&json!({
                "metadata": {"generation": generation},
                "status": {"observedGeneration": observed, "desiredNumberScheduled": 3,
                           "updatedNumberScheduled": updated, "numberAvailable": available}
            }))
        };
        assert!(ds(2, 2, 3, 3).complete(2, 3));
        assert!(!ds(2, 1, 3, 3).complete(2, 3), "the new generation is not observed yet");
        assert!(!ds(1, 1, 3, 3).complete(2, 3), "the update has not landed yet");
        assert!(!ds(2, 2, 2, 3).complete(2, 3), "a node still runs the old template");
        assert!(!ds(2, 2, 3, 2).complete(2, 3), "a pod is not available");
    }

    #[test]
    fn nodes_count_as_ready_by_their_ready_condition() {
        let node = |status: &str| json!({"status": {"conditions": [{"type": "Ready", "status": status}]}});
        assert!(node_ready(&node("True")));
        assert!(!node_ready(&node("Unknown")));
        assert!(!node_ready(&json!({"metadata": {"name": "n"}})));
    }
}
