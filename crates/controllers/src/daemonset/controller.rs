//! The controller runtime: caches, watch-event handling with expectations, workers.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use everynode_core::backoff::{BackoffEntry, FailedPodBackoff};
use everynode_core::expectations::Expectations;
use everynode_core::{Snapshot, sync};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};

use super::execute::execute;
use super::handlers::{NodeFingerprint, controller_key, key_of, pod_keys, revision_keys};
use super::queue::WorkQueue;
use crate::events::EventRecorder;
use crate::informer::Watch;

/// Why a sync (or the controller) failed. Every variant is retried: the key goes back on the
/// queue with backoff.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An API request failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// Some of a plan's writes failed; the next sync starts from what happened.
    #[error("some writes for DaemonSet {0} failed")]
    Partial(String),
    /// An object could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(#[source] serde_json::Error),
}

/// Tunables.
#[derive(Debug, Clone)]
pub struct Options {
    /// Concurrent syncs (upstream `--concurrent-daemonset-syncs`, default 2).
    pub workers: usize,
    /// Event source component name.
    pub component: String,
}

impl Default for Options {
    fn default() -> Self {
        Options { workers: 2, component: "daemonset-controller".into() }
    }
}

/// State shared by the watch handlers and the workers.
pub(crate) struct Shared {
    pub client: Client,
    pub daemon_sets: Store<DaemonSet>,
    pub pods: Store<Pod>,
    pub nodes: Store<Node>,
    pub revisions: Store<ControllerRevision>,
    pub queue: WorkQueue,
    pub recorder: EventRecorder,
    expectations: Mutex<Expectations>,
    backoff: Mutex<FailedPodBackoff>,
}

impl Shared {
    pub fn expectations(&self) -> MutexGuard<'_, Expectations> {
        self.expectations.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn apply_backoff(&self, entries: &[(String, BackoffEntry)]) {
        if entries.is_empty() {
            return;
        }
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        backoff.apply(entries);
        backoff.gc(jiff::Timestamp::now());
    }

    fn all_keys(&self) -> Vec<String> {
        self.daemon_sets.state().iter().map(|ds| key_of(&ds.metadata)).collect()
    }
}

/// The DaemonSet controller.
pub struct DaemonSetController {
    client: Client,
    options: Options,
    pods: Option<Watch<Pod>>,
}

impl DaemonSetController {
    /// A controller writing through `client`, with its own watches.
    pub fn new(client: Client, options: Options) -> Self {
        DaemonSetController { client, options, pods: None }
    }

    /// Takes its pods from `pods` (a shared watch) rather than its own watch.
    #[must_use]
    pub fn with_pods(mut self, pods: Watch<Pod>) -> Self {
        self.pods = Some(pods);
        self
    }

    /// Runs until the process ends. Watch failures are retried with backoff by the watchers
    /// themselves; sync failures by the queue.
    pub async fn run(self) -> Result<(), Error> {
        let client = self.client;
        let (daemon_sets, ds_writer) = reflector::store::<DaemonSet>();
        let Watch { store: pods, events: pod_events } =
            self.pods.unwrap_or_else(|| Watch::own(Api::<Pod>::all(client.clone())));
        let (nodes, node_writer) = reflector::store::<Node>();
        let (revisions, rev_writer) = reflector::store::<ControllerRevision>();
        let shared = Arc::new(Shared {
            recorder: EventRecorder::new(client.clone(), &self.options.component),
            client: client.clone(),
            daemon_sets,
            pods,
            nodes,
            revisions,
            queue: WorkQueue::new(),
            expectations: Mutex::new(Expectations::default()),
            backoff: Mutex::new(FailedPodBackoff::default()),
        });

        let ds_events = watch(Api::<DaemonSet>::all(client.clone())).reflect(ds_writer);
        let node_events = watch(Api::<Node>::all(client.clone())).reflect(node_writer);
        let rev_events = watch(Api::<ControllerRevision>::all(client.clone())).reflect(rev_writer);
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(drive(ds_events, {
            let shared = Arc::clone(&shared);
            move |event| on_daemon_set(&shared, event)
        }));
        tasks.spawn(drive(pod_events, {
            let shared = Arc::clone(&shared);
            let mut seen = PodSeen::default();
            move |event| on_pod(&shared, &mut seen, event)
        }));
        tasks.spawn(drive(node_events, {
            let shared = Arc::clone(&shared);
            let mut fingerprints = HashMap::new();
            move |event| on_node(&shared, &mut fingerprints, event)
        }));
        tasks.spawn(drive(rev_events, {
            let shared = Arc::clone(&shared);
            move |event| on_revision(&shared, event)
        }));

        // Decide nothing before every cache has been filled once.
        let ready = async {
            let _ = shared.daemon_sets.wait_until_ready().await;
            let _ = shared.pods.wait_until_ready().await;
            let _ = shared.nodes.wait_until_ready().await;
            let _ = shared.revisions.wait_until_ready().await;
        };
        ready.await;
        for key in shared.all_keys() {
            shared.queue.add(&key);
        }
        tracing::info!("daemonset controller caches synced; starting {} workers", self.options.workers);
        for _ in 0..self.options.workers.max(1) {
            let shared = Arc::clone(&shared);
            tasks.spawn(async move { worker(shared).await });
        }
        while tasks.join_next().await.is_some() {}
        Ok(())
    }
}

fn watch<K>(api: Api<K>) -> impl Stream<Item = Result<Event<K>, watcher::Error>> + Send
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    K::DynamicType: Default,
{
    watcher::watcher(api, watcher::Config::default()).default_backoff()
}

/// Feeds a reflected watch stream into a handler until it ends.
async fn drive<K, S, F>(stream: S, mut handle: F)
where
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send,
    F: FnMut(Event<K>) + Send,
{
    futures::pin_mut!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => handle(event),
            Err(error) => tracing::debug!(%error, "watch error (retrying)"),
        }
    }
}

async fn worker(shared: Arc<Shared>) {
    while let Some(key) = shared.queue.next().await {
        match sync_key(&shared, &key).await {
            Ok(requeue) => {
                shared.queue.forget(&key);
                if let Some(after) = requeue {
                    shared.queue.add_after(&key, after);
                }
            }
            Err(error) => {
                tracing::info!(daemonset = key, %error, "sync failed; will retry");
                shared.queue.add_rate_limited(&key);
            }
        }
        shared.queue.done(&key);
    }
}

/// One sync: snapshot, plan, execute.
async fn sync_key(shared: &Shared, key: &str) -> Result<Option<Duration>, Error> {
    let Some((namespace, name)) = key.split_once('/') else { return Ok(None) };
    let Some(ds) = shared.daemon_sets.get(&ObjectRef::new(name).within(namespace)) else {
        shared.expectations().forget(key);
        return Ok(None);
    };
    let nodes = shared.nodes.state();
    let pods: Vec<Arc<Pod>> = shared
        .pods
        .state()
        .into_iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(namespace))
        .collect();
    let revisions: Vec<Arc<ControllerRevision>> = shared
        .revisions
        .state()
        .into_iter()
        .filter(|r| r.metadata.namespace.as_deref() == Some(namespace))
        .collect();
    let now = jiff::Timestamp::now();
    let expectations_satisfied = shared.expectations().satisfied(key, now);
    let backoff = shared.backoff.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let plan = sync(&Snapshot {
        daemon_set: &ds,
        nodes: nodes.iter().map(AsRef::as_ref).collect(),
        pods: pods.iter().map(AsRef::as_ref).collect(),
        revisions: revisions.iter().map(AsRef::as_ref).collect(),
        now,
        expectations_satisfied,
        backoff: &backoff,
    });
    execute(shared, &ds, plan).await
}

fn on_daemon_set(shared: &Shared, event: Event<DaemonSet>) {
    match event {
        Event::Apply(ds) | Event::InitApply(ds) | Event::Delete(ds) => {
            shared.queue.add(&key_of(&ds.metadata))
        }
        Event::Init | Event::InitDone => {}
    }
}

/// Pods already counted against expectations, by uid.
#[derive(Default)]
struct PodSeen {
    created: HashSet<String>,
    deleting: HashSet<String>,
}

fn on_pod(shared: &Shared, seen: &mut PodSeen, event: Event<Pod>) {
    let daemon_sets = shared.daemon_sets.state();
    match event {
        Event::Apply(pod) | Event::InitApply(pod) => {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            let owner = controller_key(&pod.metadata);
            if seen.created.insert(uid.clone())
                && let Some(owner) = &owner
            {
                shared.expectations().creation_observed(owner);
            }
            // A pod that starts terminating counts as deleted (upstream's updatePod).
            if pod.metadata.deletion_timestamp.is_some()
                && seen.deleting.insert(uid)
                && let Some(owner) = &owner
            {
                shared.expectations().deletion_observed(owner);
            }
            for key in pod_keys(&pod, &daemon_sets) {
                shared.queue.add(&key);
            }
        }
        Event::Delete(pod) => {
            let uid = pod.metadata.uid.clone().unwrap_or_default();
            seen.created.remove(&uid);
            if !seen.deleting.remove(&uid)
                && let Some(owner) = controller_key(&pod.metadata)
            {
                shared.expectations().deletion_observed(&owner);
            }
            for key in pod_keys(&pod, &daemon_sets) {
                shared.queue.add(&key);
            }
        }
        Event::Init | Event::InitDone => {}
    }
}

fn on_node(shared: &Shared, fingerprints: &mut HashMap<String, NodeFingerprint>, event: Event<Node>) {
    let changed = match event {
        Event::Apply(node) | Event::InitApply(node) => {
            let name = node.metadata.name.clone().unwrap_or_default();
            let fingerprint = NodeFingerprint::of(&node);
            fingerprints.insert(name, fingerprint.clone()) != Some(fingerprint)
        }
        Event::Delete(node) => {
            fingerprints.remove(node.metadata.name.as_deref().unwrap_or_default());
            true
        }
        Event::Init | Event::InitDone => false,
    };
    if changed {
        for key in shared.all_keys() {
            shared.queue.add(&key);
        }
    }
}

fn on_revision(shared: &Shared, event: Event<ControllerRevision>) {
    let daemon_sets = shared.daemon_sets.state();
    match event {
        Event::Apply(rev) | Event::InitApply(rev) | Event::Delete(rev) => {
            for key in revision_keys(&rev, &daemon_sets) {
                shared.queue.add(&key);
            }
        }
        Event::Init | Event::InitDone => {}
    }
}
