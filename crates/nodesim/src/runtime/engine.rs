//! The engine: one task that registers the fleet, then turns watch events and due timers into
//! looks at pods and nodes, and looks into writes.
//!
//! Invariants: a key (pod, lease, node status) has at most one write in flight; a key that
//! changes meanwhile is marked dirty and looked at again when the write ends. Every look starts
//! from the latest object known (a write's response counts), so a late watch event of an older
//! version changes nothing.

use std::collections::{HashMap, HashSet};
use std::pin::pin;
use std::time::Duration;

use everynode_controllers::events::{EventRecorder, EventType, reference};
use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, ObjectReference, Pod};
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::sync::{oneshot, watch};

use super::nodes::{NodeChange, NodeTable};
use super::pods::{PodKey, PodTable, REASSERT_AFTER, status_print};
use super::queue::TimerQueue;
use super::ready::{Lane, ReadyQueue};
use super::writes::{Outcome, PodMeta, PodResult, Work};
use super::{EventPolicy, Registration, RunOptions, registration};
use crate::clock::{Clock, after, until};
use crate::fleet::{Fleet, default_capacity};
use crate::kubelet::events::{NODE_READY, PodEvent};
use crate::kubelet::{self, Action};
use crate::network::AddressPlan;
use crate::node::{schedule, status};

/// Looks made per turn of the loop before watch events and write results get their turn, so a
/// re-list of 10,000 pods does not stall the loop.
const LOOKS_PER_TURN: usize = 512;
/// The first retry of a failed write; doubled per failure.
const FIRST_RETRY: Duration = Duration::from_millis(200);
/// The longest wait between retries.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// The kind name of lease writes in [`schedule`].
const LEASE_SLOT: &str = "lease";
/// How long the loop sleeps when nothing at all is scheduled.
const IDLE: Duration = Duration::from_secs(3600);

/// What is due.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Task {
    Pod(PodKey),
    Lease(String),
    NodeStatus(String),
}

/// Registers the fleet (retrying until it succeeds), then runs the engine until `shutdown`.
pub(super) async fn run(
    client: Client,
    fleet: Fleet,
    options: RunOptions,
    mut shutdown: oneshot::Receiver<()>,
    registered: watch::Sender<Registration>,
) {
    let mut failures = 0;
    let plan = loop {
        let attempt =
            registration::register(&client, &fleet, options.clock.now(), options.max_concurrent_writes);
        tokio::select! {
            _ = &mut shutdown => return,
            result = attempt => match result {
                Ok(plan) => break plan,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, "registering the fleet failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        () = tokio::time::sleep(retry_delay(failures)) => {}
                    }
                }
            }
        }
    };
    let _ = registered.send(Registration::Done);
    Engine::new(client, &fleet, options, plan).run(shutdown).await;
}

fn retry_delay(failures: u32) -> Duration {
    FIRST_RETRY.saturating_mul(1 << failures.saturating_sub(1).min(16)).min(MAX_RETRY)
}

struct Engine {
    client: Client,
    options: RunOptions,
    clock: Clock,
    recorder: Option<EventRecorder>,
    nodes: NodeTable,
    pods: PodTable,
    queue: TimerQueue<Task>,
    ready: ReadyQueue<Task>,
    busy: HashSet<Task>,
    dirty: HashSet<Task>,
    failures: HashMap<Task, u32>,
    in_flight: FuturesUnordered<BoxFuture<'static, Outcome>>,
    /// During a pod (re)list: the pods listed so far. Pods are not looked at until the list is
    /// complete, so every pod IP already in use is known before any new one is handed out.
    pods_listing: Option<HashSet<PodKey>>,
    /// During a node (re)list: the nodes listed so far.
    nodes_listing: Option<HashSet<String>>,
}

impl Engine {
    fn new(client: Client, fleet: &Fleet, options: RunOptions, plan: AddressPlan) -> Engine {
        let recorder =
            (options.events != EventPolicy::None).then(|| EventRecorder::new(client.clone(), "kubelet"));
        Engine {
            client,
            clock: options.clock.clone(),
            options,
            recorder,
            nodes: NodeTable::new(fleet, plan),
            pods: PodTable::default(),
            queue: TimerQueue::default(),
            ready: ReadyQueue::default(),
            busy: HashSet::new(),
            dirty: HashSet::new(),
            failures: HashMap::new(),
            in_flight: FuturesUnordered::new(),
            pods_listing: None,
            nodes_listing: None,
        }
    }

    async fn run(mut self, mut shutdown: oneshot::Receiver<()>) {
        // One watch over every bound pod and one over every node, for the whole fleet.
        let pod_config = Self::watch_config().fields("spec.nodeName!=");
        let mut pods = pin!(watcher(Api::<Pod>::all(self.client.clone()), pod_config).default_backoff());
        let mut nodes =
            pin!(watcher(Api::<Node>::all(self.client.clone()), Self::watch_config()).default_backoff());
        loop {
            self.start_ready();
            let sleep = tokio::time::sleep(self.wake_in());
            tokio::select! {
                _ = &mut shutdown => break,
                Some(event) = nodes.next() => self.on_node_event(event),
                Some(event) = pods.next() => self.on_pod_event(event),
                Some(outcome) = self.in_flight.next(), if !self.in_flight.is_empty() => self.on_outcome(outcome),
                () = sleep => self.collect_due(),
            }
        }
        tracing::debug!(nodes = self.nodes.len(), pods = self.pods.len(), "node simulation stopped");
    }

    /// Lists are read in one page. Later pages of a paginated list are only consistent with the
    /// first on API servers that serve them from the first page's snapshot (etcd-backed ones);
    /// on others, an object created between two pages whose key sorts before the page boundary
    /// is in neither the list nor the watch that follows it, and its pod would never start. One
    /// page is one snapshot everywhere; 10,000 pods are a few tens of MB, once per (re)list.
    fn watch_config() -> watcher::Config {
        watcher::Config { page_size: None, ..watcher::Config::default() }
    }

    /// How long to sleep: not at all while looks are waiting and writes may start, else until
    /// the earliest timer.
    fn wake_in(&self) -> Duration {
        if !self.ready.is_empty() && self.in_flight.len() < self.options.max_concurrent_writes {
            return Duration::ZERO;
        }
        self.queue.next_deadline().map_or(IDLE, |at| until(self.clock.now(), at))
    }

    fn collect_due(&mut self) {
        let now = self.clock.now();
        while let Some(task) = self.queue.pop_due(now) {
            self.push_ready(task);
        }
    }

    fn push_ready(&mut self, task: Task) {
        let lane = if matches!(task, Task::Pod(_)) { Lane::Pods } else { Lane::Nodes };
        self.ready.push(task, lane);
    }

    fn start_ready(&mut self) {
        for _ in 0..LOOKS_PER_TURN {
            if self.in_flight.len() >= self.options.max_concurrent_writes {
                return;
            }
            let Some(task) = self.ready.pop() else { return };
            self.look(task);
        }
    }

    /// Decides about one task and starts its write, if any.
    fn look(&mut self, task: Task) {
        if self.busy.contains(&task) {
            self.dirty.insert(task);
            return;
        }
        let now = self.clock.now();
        let work = match &task {
            Task::Pod(key) => self.look_at_pod(key, now),
            Task::Lease(node) => self.look_at_lease(node, now),
            Task::NodeStatus(node) => self.look_at_node_status(node, now),
        };
        if let Some(work) = work {
            self.busy.insert(task);
            self.in_flight.push(work.execute(self.client.clone()));
        }
    }

    fn look_at_pod(&mut self, key: &PodKey, now: Timestamp) -> Option<Work> {
        let entry = self.pods.get_mut(key)?;
        let sim = self.nodes.get(&entry.node)?;
        if sim.failed {
            return None;
        }
        let behaviour = std::sync::Arc::clone(&sim.behaviour);
        let placement = self.nodes.placement(&entry.node, &entry.pod)?;
        let step = kubelet::step(&entry.pod, &mut entry.memory, &placement, &behaviour, now);
        let task = Task::Pod(key.clone());
        match step.next {
            Some(at) => self.queue.schedule(task, at),
            None => self.queue.cancel(&task),
        }
        let mut meta = PodMeta {
            uid: entry.uid.clone(),
            status_print: None,
            events: step.events,
            reference: reference(&entry.pod),
        };
        let resource_version = entry.pod.metadata.resource_version.clone();
        match step.action {
            Action::Nothing => {
                record(&self.recorder, self.options.events, &meta.reference, &meta.events);
                None
            }
            Action::WriteStatus(status) => {
                let print = status_print(&status);
                if entry.repeats_last_write(print, now) {
                    tracing::debug!(
                        pod = key.name,
                        "status unchanged since the last write; not repeated yet"
                    );
                    self.queue.schedule_no_later_than(Task::Pod(key.clone()), after(now, REASSERT_AFTER));
                    return None;
                }
                meta.status_print = Some(print);
                Some(Work::PodStatus { key: key.clone(), status, resource_version, meta })
            }
            Action::Remove { final_status } => {
                Some(Work::RemovePod { key: key.clone(), final_status, resource_version, meta })
            }
        }
    }

    fn look_at_lease(&mut self, node: &str, now: Timestamp) -> Option<Work> {
        let sim = self.nodes.get(node).filter(|sim| !sim.failed)?;
        Some(Work::RenewLease {
            node: node.to_owned(),
            uid: sim.node.metadata.uid.clone(),
            at: now,
            duration_seconds: self.options.lease_duration_seconds,
        })
    }

    fn look_at_node_status(&mut self, node: &str, now: Timestamp) -> Option<Work> {
        let sim = self.nodes.get(node).filter(|sim| !sim.failed)?;
        let decision = status::decide(
            &sim.node,
            sim.host_ip,
            &default_capacity(),
            self.options.node_status_report_interval,
            now,
        );
        let spec_patch = sim
            .unwritten_cidr
            .map(|c| json!({"spec": {"podCIDR": c.to_string(), "podCIDRs": [c.to_string()]}}));
        match decision {
            status::StatusDecision::UpToDate { next } => {
                self.queue.schedule(Task::NodeStatus(node.to_owned()), next);
                spec_patch.map(|patch| Work::NodeStatus {
                    node: node.to_owned(),
                    spec_patch: Some(patch),
                    status_patch: None,
                    becomes_ready: false,
                })
            }
            status::StatusDecision::Write { patch, becomes_ready, why } => {
                tracing::debug!(node, why, "writing node status");
                Some(Work::NodeStatus {
                    node: node.to_owned(),
                    spec_patch,
                    status_patch: Some(patch),
                    becomes_ready,
                })
            }
        }
    }

    fn on_outcome(&mut self, outcome: Outcome) {
        let now = self.clock.now();
        let task = match outcome {
            Outcome::Pod { key, result, meta } => {
                let task = Task::Pod(key.clone());
                self.busy.remove(&task);
                match result {
                    PodResult::Written(pod) => {
                        self.failures.remove(&task);
                        if let (Some(entry), Some(print)) = (self.pods.get_mut(&key), meta.status_print) {
                            entry.wrote(print, now);
                        }
                        record(&self.recorder, self.options.events, &meta.reference, &meta.events);
                        // The next look was scheduled with the decision; the echo of this write
                        // on the watch changes nothing.
                        self.pods.apply(*pod);
                    }
                    PodResult::Conflict(Some(pod)) => {
                        self.pods.apply(*pod);
                        self.push_ready(task.clone());
                    }
                    PodResult::Conflict(None) | PodResult::Gone => self.forget_pod(&key),
                    PodResult::Removed => {
                        // The watch reports the deletion; looking again now would delete twice.
                        self.failures.remove(&task);
                        record(&self.recorder, self.options.events, &meta.reference, &meta.events);
                        self.dirty.remove(&task);
                        return;
                    }
                    PodResult::Failed(error) => {
                        tracing::warn!(pod = key.name, namespace = key.namespace, %error, "pod write failed; retrying");
                        self.retry_later(task.clone(), now);
                    }
                }
                task
            }
            Outcome::Lease { node, at, result } => {
                let task = Task::Lease(node.clone());
                self.busy.remove(&task);
                match result {
                    Ok(()) => {
                        self.failures.remove(&task);
                        let next = schedule::after_write(&node, LEASE_SLOT, at, self.lease_interval());
                        self.queue.schedule(task.clone(), next);
                    }
                    Err(error) => {
                        tracing::warn!(node, %error, "lease renewal failed; retrying");
                        self.retry_later(task.clone(), now);
                    }
                }
                task
            }
            Outcome::NodeStatus { node, result, becomes_ready } => {
                let task = Task::NodeStatus(node.clone());
                self.busy.remove(&task);
                match result {
                    Ok(Some(written)) => {
                        self.failures.remove(&task);
                        if becomes_ready {
                            let event =
                                PodEvent::normal(NODE_READY, format!("Node {node} status is now: NodeReady"));
                            record(
                                &self.recorder,
                                self.options.events,
                                &reference(written.as_ref()),
                                &[event],
                            );
                        }
                        self.apply_node(*written);
                    }
                    Ok(None) => self.drop_node(&node),
                    Err(error) => {
                        tracing::warn!(node, %error, "node status write failed; retrying");
                        self.retry_later(task.clone(), now);
                    }
                }
                task
            }
        };
        if self.dirty.remove(&task) {
            self.push_ready(task);
        }
    }

    fn retry_later(&mut self, task: Task, now: Timestamp) {
        let failures = self.failures.entry(task.clone()).or_insert(0);
        *failures += 1;
        let delay = retry_delay(*failures);
        self.queue.schedule(task, after(now, delay));
    }

    fn lease_interval(&self) -> Duration {
        schedule::lease_interval(
            self.nodes.len(),
            self.options.lease_renew_interval,
            self.options.max_lease_renewals_per_second,
            Duration::from_secs(u64::try_from(self.options.lease_duration_seconds).unwrap_or(40)),
        )
    }

    fn on_pod_event(&mut self, event: Result<watcher::Event<Pod>, watcher::Error>) {
        match event {
            Err(error) => tracing::warn!(%error, "pod watch failed; re-listing"),
            Ok(watcher::Event::Init) => self.pods_listing = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(pod)) => {
                if let Some(listed) = self.pods_listing.as_mut() {
                    listed.insert(PodKey::of(&pod));
                }
                self.apply_pod(pod, false);
            }
            Ok(watcher::Event::InitDone) => {
                let listed = self.pods_listing.take().unwrap_or_default();
                let gone: Vec<PodKey> = self.pods.keys().filter(|k| !listed.contains(*k)).cloned().collect();
                for key in &gone {
                    self.forget_pod(key);
                }
                let all: Vec<PodKey> = self.pods.keys().cloned().collect();
                for key in all {
                    self.push_ready(Task::Pod(key));
                }
            }
            Ok(watcher::Event::Apply(pod)) => self.apply_pod(pod, true),
            Ok(watcher::Event::Delete(pod)) => self.forget_pod(&PodKey::of(&pod)),
        }
    }

    fn apply_pod(&mut self, pod: Pod, look_now: bool) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        self.nodes.observe_pod_ip(&node, &pod);
        let Some(applied) = self.pods.apply(pod) else { return };
        if let Some(old) = applied.replaced {
            self.nodes.release_pod_ip(&old.node, &old.uid);
        }
        if applied.newer && look_now {
            self.push_ready(Task::Pod(applied.key));
        }
    }

    fn forget_pod(&mut self, key: &PodKey) {
        if let Some(entry) = self.pods.remove(key) {
            self.nodes.release_pod_ip(&entry.node, &entry.uid);
        }
        let task = Task::Pod(key.clone());
        self.queue.cancel(&task);
        self.failures.remove(&task);
    }

    fn on_node_event(&mut self, event: Result<watcher::Event<Node>, watcher::Error>) {
        match event {
            Err(error) => tracing::warn!(%error, "node watch failed; re-listing"),
            Ok(watcher::Event::Init) => self.nodes_listing = Some(HashSet::new()),
            Ok(watcher::Event::InitApply(node)) => {
                if let Some(listed) = self.nodes_listing.as_mut() {
                    listed.insert(node.name_any());
                }
                self.apply_node(node);
            }
            Ok(watcher::Event::InitDone) => {
                let listed = self.nodes_listing.take().unwrap_or_default();
                let gone: Vec<String> =
                    self.nodes.names().filter(|n| !listed.contains(*n)).cloned().collect();
                for name in gone {
                    self.drop_node(&name);
                }
            }
            Ok(watcher::Event::Apply(node)) => self.apply_node(node),
            Ok(watcher::Event::Delete(node)) => self.drop_node(&node.name_any()),
        }
    }

    fn apply_node(&mut self, node: Node) {
        let name = node.name_any();
        let Some(change) = self.nodes.apply(node) else { return };
        let failed = self.nodes.get(&name).is_some_and(|sim| sim.failed);
        match change {
            NodeChange::Added | NodeChange::Recovered if !failed => {
                tracing::debug!(node = name, ?change, "simulating node");
                if change == NodeChange::Recovered {
                    self.push_ready(Task::Lease(name.clone()));
                } else {
                    // New nodes renew in their slot within the first interval: registering
                    // 10,000 nodes must not mean 10,000 lease writes at once (their status was
                    // just written, which is a heartbeat too).
                    let first =
                        schedule::next_slot(&name, LEASE_SLOT, self.clock.now(), self.lease_interval());
                    self.queue.schedule_no_later_than(Task::Lease(name.clone()), first);
                }
                self.push_ready(Task::NodeStatus(name.clone()));
                self.look_at_pods_on(&name);
            }
            NodeChange::Added | NodeChange::Recovered => {}
            NodeChange::Failed => {
                tracing::info!(node = name, "node failed: its kubelet stops");
                self.stop_tasks_of(&name);
            }
            NodeChange::Left => {
                tracing::info!(node = name, "node left the simulation");
                self.stop_tasks_of(&name);
            }
            NodeChange::Updated { behaviour_changed } => {
                if !failed {
                    self.push_ready(Task::NodeStatus(name.clone()));
                    if behaviour_changed {
                        self.look_at_pods_on(&name);
                    }
                }
            }
        }
    }

    /// Stops simulating a deleted node. Its pods are left as they are: removing pods of deleted
    /// nodes is the pod garbage collector's job.
    fn drop_node(&mut self, name: &str) {
        if self.nodes.remove(name).is_some() {
            tracing::info!(node = name, "node deleted; no longer simulated");
        }
        self.stop_tasks_of(name);
    }

    fn stop_tasks_of(&mut self, node: &str) {
        for task in [Task::Lease(node.to_owned()), Task::NodeStatus(node.to_owned())] {
            self.queue.cancel(&task);
            self.failures.remove(&task);
        }
        for key in self.pods.on_node(node) {
            self.queue.cancel(&Task::Pod(key));
        }
    }

    fn look_at_pods_on(&mut self, node: &str) {
        if self.pods_listing.is_some() {
            return; // looked at once the list is complete
        }
        for key in self.pods.on_node(node) {
            self.push_ready(Task::Pod(key));
        }
    }
}

/// Records events as the policy allows; never waits.
fn record(
    recorder: &Option<EventRecorder>,
    policy: EventPolicy,
    regarding: &ObjectReference,
    events: &[PodEvent],
) {
    let Some(recorder) = recorder else { return };
    for event in events {
        if policy == EventPolicy::WarningsOnly && event.type_ != EventType::Warning {
            continue;
        }
        recorder.record(regarding.clone(), event.type_, event.reason, event.message.clone());
    }
}
