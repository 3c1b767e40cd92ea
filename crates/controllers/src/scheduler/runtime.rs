//! The scheduler's loop: reflectors on nodes and pods, a scheduling cycle over every pending pod
//! whenever something relevant changed, and bounded concurrent API calls (bindings and
//! unschedulable reports) whose results feed back into the next cycle.
//!
//! Invariants: a pod chosen for a node is *assumed* there (counted in every later snapshot) from
//! the moment it is decided until the pod store shows it bound, or the binding fails, so
//! concurrent bindings never oversubscribe a node; the pod store is never re-listed per pod.
//! The [`Cache`] and the pending set follow the pod events; they are rebuilt from the stores
//! when the pods are re-listed (a re-list has no events for the pods that went meanwhile).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Binding, Node, ObjectReference, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::task::JoinSet;

use super::cache::{Cache, Counted};
use super::decide::{Decision, schedule};
use super::pod_info::PodInfo;
use super::queue::{Failure, Retries};
use super::snapshot::PodUsage;
use super::{Error, SchedulerOptions, reasons};
use crate::events::{EventRecorder, EventType, reference};
use crate::informer::Watch;

/// How many watch events are applied before a cycle runs, so a burst of pod creations is
/// scheduled in a few large cycles rather than one cycle per pod.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// How long to sleep when nothing is due; only a safety net, every change wakes the loop.
const IDLE_WAKE: Duration = Duration::from_secs(60);

/// One watch event (boxed: objects are large and events are moved once).
enum Change {
    Node(Box<watcher::Event<Node>>),
    Pod(Box<watcher::Event<Pod>>),
    Failed(watcher::Error),
}

/// An API call to make.
enum Job {
    Bind { pod: Arc<Pod>, node: String },
    Report { pod: Arc<Pod>, message: String },
}

/// What a finished job reports back.
enum JobResult {
    Bound { uid: String },
    BindFailed { uid: String, pod_generation: i64, gone: bool },
    Reported,
}

struct Assumed {
    node: String,
    usage: PodUsage,
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_else(|| pod.name_any())
}

fn bound_node(pod: &Pod) -> Option<&str> {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).filter(|n| !n.is_empty())
}

fn terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// A hash of everything about a node that can change a filter's verdict; status heartbeats
/// must not count, or every heartbeat would retry every unschedulable pod.
fn node_fingerprint(node: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    node.metadata.labels.hash(&mut h);
    let spec = node.spec.as_ref();
    spec.and_then(|s| s.unschedulable).hash(&mut h);
    for t in spec.and_then(|s| s.taints.as_ref()).into_iter().flatten() {
        (&t.key, &t.value, &t.effect).hash(&mut h);
    }
    for (k, q) in node.status.as_ref().and_then(|s| s.allocatable.as_ref()).into_iter().flatten() {
        (k, &q.0).hash(&mut h);
    }
    h.finish()
}

struct Scheduler {
    options: SchedulerOptions,
    client: Client,
    recorder: EventRecorder,
    nodes: Store<Node>,
    pods: Store<Pod>,
    nodes_synced: bool,
    pods_synced: bool,
    /// Between a pod watch's `Init` and `InitDone`.
    pods_listing: bool,
    /// Bumped whenever a change could make an unschedulable pod schedulable.
    cluster_generation: u64,
    node_fingerprints: HashMap<String, u64>,
    /// Every node with what its pods use; `None` after a node change that matters to a filter
    /// (see [`node_fingerprint`]) or a pod re-list, until the next cycle rebuilds it.
    cache: Option<Cache>,
    /// The pods that want scheduling (assumed ones included), by uid.
    pending: HashMap<String, ObjectRef<Pod>>,
    assumed: HashMap<String, Assumed>,
    retries: Retries,
    next_start: usize,
    dirty: bool,
    jobs: VecDeque<Job>,
    tasks: JoinSet<JobResult>,
}

impl Scheduler {
    fn is_ours(&self, pod: &Pod) -> bool {
        let name = pod.spec.as_ref().and_then(|s| s.scheduler_name.as_deref()).unwrap_or_default();
        name.is_empty() || name == self.options.scheduler_name
    }

    fn wants_scheduling(&self, pod: &Pod) -> bool {
        let gated =
            pod.spec.as_ref().and_then(|s| s.scheduling_gates.as_ref()).is_some_and(|g| !g.is_empty());
        bound_node(pod).is_none()
            && pod.metadata.deletion_timestamp.is_none()
            && !terminal(pod)
            && !gated
            && self.is_ours(pod)
    }

    fn bump(&mut self) {
        self.cluster_generation += 1;
        self.dirty = true;
    }

    fn observe(&mut self, change: Change) {
        match change {
            Change::Node(event) => self.observe_node(*event),
            Change::Pod(event) => self.observe_pod(*event),
            Change::Failed(error) => {
                tracing::warn!(%error, "scheduler watch failed; retrying with backoff");
            }
        }
    }

    fn observe_node(&mut self, event: watcher::Event<Node>) {
        match event {
            watcher::Event::Apply(node) | watcher::Event::InitApply(node) => {
                let fingerprint = node_fingerprint(&node);
                if self.node_fingerprints.insert(node.name_any(), fingerprint) != Some(fingerprint) {
                    self.cache = None;
                    self.bump();
                }
            }
            watcher::Event::Delete(node) => {
                self.node_fingerprints.remove(&node.name_any());
                self.cache = None;
                self.bump();
            }
            watcher::Event::Init => {}
            watcher::Event::InitDone => {
                self.nodes_synced = true;
                self.cache = None;
                self.bump();
            }
        }
    }

    /// What `pod` adds to the cache: its usage on its node while bound and not finished, or
    /// while assumed and still pending; what each cycle's snapshot counted.
    fn counted(&self, uid: &str, pod: &Pod) -> Option<Counted> {
        match bound_node(pod) {
            Some(_) if terminal(pod) => None,
            Some(node) => Some(Counted {
                node: node.to_owned(),
                usage: pod.spec.as_ref().map(PodUsage::of).unwrap_or_default(),
                assumed: false,
            }),
            None if self.wants_scheduling(pod) => self.assumed.get(uid).map(|a| Counted {
                node: a.node.clone(),
                usage: a.usage.clone(),
                assumed: true,
            }),
            None => None,
        }
    }

    /// Brings the pending set and the cache up to date with the latest version of a pod (`None`:
    /// deleted).
    fn track(&mut self, uid: &str, pod: Option<&Pod>) {
        match pod.filter(|p| self.wants_scheduling(p)) {
            Some(pod) => {
                self.pending.insert(uid.to_owned(), ObjectRef::from_obj(pod));
            }
            None => {
                self.pending.remove(uid);
            }
        }
        if self.cache.is_some() {
            let counted = pod.and_then(|p| self.counted(uid, p));
            if let Some(cache) = &mut self.cache {
                cache.set(uid, counted);
            }
        }
    }

    /// The pending set from the pod store, after a (re-)list.
    fn rebuild_pending(&mut self) {
        self.pending = self
            .pods
            .state()
            .iter()
            .filter(|p| self.wants_scheduling(p))
            .map(|p| (uid(p), ObjectRef::from_obj(p.as_ref())))
            .collect();
    }

    fn observe_pod(&mut self, event: watcher::Event<Pod>) {
        match event {
            watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => {
                let uid = uid(&pod);
                if bound_node(&pod).is_some() {
                    self.assumed.remove(&uid);
                    self.retries.forget(&uid);
                    if terminal(&pod) {
                        // A finished pod no longer holds resources.
                        self.bump();
                    }
                } else if self.wants_scheduling(&pod) && !self.assumed.contains_key(&uid) {
                    self.dirty = true;
                }
                // During a (re-)list the store keeps the old pods until `InitDone`, which rebuilds.
                if !self.pods_listing {
                    self.track(&uid, Some(&pod));
                }
            }
            watcher::Event::Delete(pod) => {
                let uid = uid(&pod);
                self.assumed.remove(&uid);
                self.retries.forget(&uid);
                if bound_node(&pod).is_some() {
                    self.bump();
                }
                self.track(&uid, None);
            }
            watcher::Event::Init => {
                self.pods_listing = true;
            }
            watcher::Event::InitDone => {
                self.pods_synced = true;
                self.pods_listing = false;
                self.rebuild_pending();
                self.cache = None;
                self.dirty = true;
            }
        }
    }

    /// The cache as of the stores (the pods bound or assumed on every node).
    fn build_cache(&self) -> Cache {
        let pods = self.pods.state();
        let counted = pods.iter().filter_map(|pod| {
            let uid = uid(pod);
            self.counted(&uid, pod).map(|counted| (uid, counted))
        });
        Cache::build(self.nodes.state(), counted)
    }

    /// One pass over every pending pod, against the cache.
    fn cycle(&mut self, now: Timestamp) {
        self.dirty = false;
        if !(self.nodes_synced && self.pods_synced) {
            return;
        }
        let mut pending: Vec<(String, Arc<Pod>)> = self
            .pending
            .iter()
            .filter(|(uid, _)| !self.assumed.contains_key(*uid))
            .filter_map(|(uid, pod)| Some((uid.clone(), self.pods.get(pod)?)))
            // A shared cache may be ahead of the events: a pod bound meanwhile is not pending.
            .filter(|(_, pod)| self.wants_scheduling(pod))
            .collect();
        self.retries.retain(|uid| self.pending.contains_key(uid) && !self.assumed.contains_key(uid));
        // Nothing to place (a fleet registering, pods changing status): rebuilding the cache, a
        // pass over every node and pod, would be for nothing.
        let due = |(uid, pod): &(String, Arc<Pod>)| {
            self.retries.is_ready(uid, pod.metadata.generation.unwrap_or(0), self.cluster_generation, now)
        };
        if !pending.iter().any(due) {
            return;
        }
        let mut cache = match self.cache.take() {
            Some(cache) => cache,
            None => self.build_cache(),
        };
        // PrioritySort: higher priority first, then older pods.
        pending.sort_by(|(_, a), (_, b)| {
            let priority = |p: &Pod| p.spec.as_ref().and_then(|s| s.priority).unwrap_or(0);
            priority(b)
                .cmp(&priority(a))
                .then_with(|| a.metadata.creation_timestamp.cmp(&b.metadata.creation_timestamp))
                .then_with(|| a.name_any().cmp(&b.name_any()))
        });
        let mut scheduled = 0usize;
        for (uid, pod) in pending {
            let generation = pod.metadata.generation.unwrap_or(0);
            if !self.retries.is_ready(&uid, generation, self.cluster_generation, now) {
                continue;
            }
            let info = PodInfo::new(&pod);
            let outcome = schedule(&info, cache.snapshot(), self.next_start);
            self.next_start = outcome.next_start;
            match outcome.decision {
                Decision::Bind { node } => {
                    cache.assume(&uid, &node, &info.usage);
                    self.assumed.insert(uid, Assumed { node: node.clone(), usage: info.usage });
                    self.jobs.push_back(Job::Bind { pod, node });
                    scheduled += 1;
                }
                Decision::Unschedulable(fit_error) => {
                    tracing::debug!(pod = %info.key, reason = %fit_error, "pod is unschedulable");
                    self.retries.record(
                        &uid,
                        Failure::Unschedulable,
                        generation,
                        self.cluster_generation,
                        now,
                    );
                    self.jobs.push_back(Job::Report { pod, message: fit_error.to_string() });
                }
            }
        }
        self.cache = Some(cache);
        if scheduled > 0 {
            tracing::debug!(scheduled, "scheduling cycle assigned pods");
        }
    }

    fn finish(&mut self, result: Result<JobResult, tokio::task::JoinError>, now: Timestamp) {
        match result {
            Ok(JobResult::Bound { uid }) => self.retries.forget(&uid),
            Ok(JobResult::BindFailed { uid, pod_generation, gone }) => {
                self.assumed.remove(&uid);
                if let Some(cache) = &mut self.cache {
                    cache.forget_assumed(&uid);
                }
                if gone {
                    self.retries.forget(&uid);
                } else {
                    self.retries.record(
                        &uid,
                        Failure::BindError,
                        pod_generation,
                        self.cluster_generation,
                        now,
                    );
                }
                // The node it was assumed on has room again.
                self.bump();
            }
            Ok(JobResult::Reported) => {}
            Err(error) => tracing::warn!(%error, "scheduler task failed"),
        }
    }

    fn spawn_jobs(&mut self) {
        while self.tasks.len() < self.options.max_in_flight.max(1) {
            let Some(job) = self.jobs.pop_front() else { break };
            let client = self.client.clone();
            let recorder = self.recorder.clone();
            match job {
                Job::Bind { pod, node } => {
                    self.tasks.spawn(bind(client, recorder, pod, node));
                }
                Job::Report { pod, message } => {
                    self.tasks.spawn(report(client, recorder, pod, message));
                }
            }
        }
    }

    fn next_wake(&self, now: Timestamp) -> Duration {
        let Some(due) = self.retries.next_due(self.cluster_generation) else { return IDLE_WAKE };
        let wait = due.duration_since(now);
        Duration::try_from(wait).unwrap_or(Duration::ZERO).min(IDLE_WAKE)
    }
}

/// Runs the scheduler until the future is dropped. Errors from the API are logged and retried
/// (watches re-list with backoff; failed bindings back off per pod); it only returns when a watch
/// stream ends, which kube's watchers never do on their own.
pub async fn run(client: Client, options: SchedulerOptions) -> Result<(), Error> {
    let pods = Watch::own(Api::<Pod>::all(client.clone()));
    run_with_pods(client, options, pods).await
}

/// [`run`], with the pods from `pods` (a shared watch) rather than its own watch.
pub async fn run_with_pods(client: Client, options: SchedulerOptions, pods: Watch<Pod>) -> Result<(), Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let Watch { store: pods, events: pod_events } = pods;
    let node_events = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer)
        .map(|r| r.map_or_else(Change::Failed, |e| Change::Node(Box::new(e))));
    let pod_events = pod_events.map(|r| r.map_or_else(Change::Failed, |e| Change::Pod(Box::new(e))));
    let mut changes = futures::stream::select(node_events, pod_events).boxed();
    let recorder = EventRecorder::new(client.clone(), &options.scheduler_name);
    let mut scheduler = Scheduler {
        retries: Retries::new(options.retry),
        options,
        client,
        recorder,
        nodes,
        pods,
        nodes_synced: false,
        pods_synced: false,
        pods_listing: false,
        cluster_generation: 0,
        node_fingerprints: HashMap::new(),
        cache: None,
        pending: HashMap::new(),
        assumed: HashMap::new(),
        next_start: 0,
        dirty: false,
        jobs: VecDeque::new(),
        tasks: JoinSet::new(),
    };
    loop {
        let wake = scheduler.next_wake(Timestamp::now());
        tokio::select! {
            change = changes.next() => match change {
                Some(change) => scheduler.observe(change),
                None => return Err(Error::WatchEnded),
            },
            Some(result) = scheduler.tasks.join_next(), if !scheduler.tasks.is_empty() => {
                scheduler.finish(result, Timestamp::now());
            }
            () = tokio::time::sleep(wake) => scheduler.dirty = true,
        }
        for _ in 0..MAX_EVENTS_PER_BATCH {
            match changes.next().now_or_never() {
                Some(Some(change)) => scheduler.observe(change),
                Some(None) => return Err(Error::WatchEnded),
                None => break,
            }
        }
        while let Some(result) = scheduler.tasks.try_join_next() {
            scheduler.finish(result, Timestamp::now());
        }
        if scheduler.dirty {
            scheduler.cycle(Timestamp::now());
        }
        scheduler.spawn_jobs();
    }
}

fn api_for(client: Client, pod: &Pod) -> Api<Pod> {
    Api::namespaced(client, pod.metadata.namespace.as_deref().unwrap_or("default"))
}

fn status_code(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// POSTs the binding and records `Scheduled`.
async fn bind(client: Client, recorder: EventRecorder, pod: Arc<Pod>, node: String) -> JobResult {
    let name = pod.name_any();
    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let binding = Binding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.clone()),
            uid: pod.metadata.uid.clone(),
            ..ObjectMeta::default()
        },
        target: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("Node".to_owned()),
            name: Some(node.clone()),
            ..ObjectReference::default()
        },
    };
    let api = api_for(client, &pod);
    let result: Result<serde_json::Value, kube::Error> =
        api.create_subresource("binding", &name, &PostParams::default(), &binding).await;
    match result {
        Ok(_) => {
            recorder.record(
                reference(pod.as_ref()),
                EventType::Normal,
                reasons::SCHEDULED,
                format!("Successfully assigned {namespace}/{name} to {node}"),
            );
            JobResult::Bound { uid: uid(&pod) }
        }
        Err(error) => {
            // 404: the pod is gone. Anything else (409: bound by someone else or being deleted,
            // as the store will soon show) backs off, so a lagging store cannot cause a storm.
            let code = status_code(&error);
            let gone = code == Some(404);
            match code {
                Some(404 | 409) => {
                    tracing::debug!(pod = %format!("{namespace}/{name}"), %node, %error, "binding refused")
                }
                _ => tracing::warn!(pod = %format!("{namespace}/{name}"), %node, %error, "binding failed"),
            }
            JobResult::BindFailed {
                uid: uid(&pod),
                pod_generation: pod.metadata.generation.unwrap_or(0),
                gone,
            }
        }
    }
}

/// The `PodScheduled=False` condition for `message`, keeping the transition time of an existing
/// False condition. `None` when the pod already says exactly this.
pub(super) fn unschedulable_conditions(
    pod: &Pod,
    message: &str,
    now: Timestamp,
) -> Option<Vec<PodCondition>> {
    let mut conditions = pod.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let existing = conditions.iter().position(|c| c.type_ == "PodScheduled");
    let current = existing.map(|i| &conditions[i]);
    if current.is_some_and(|c| {
        c.status == "False"
            && c.reason.as_deref() == Some(reasons::UNSCHEDULABLE)
            && c.message.as_deref() == Some(message)
    }) {
        return None;
    }
    let transition = current
        .filter(|c| c.status == "False")
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    let condition = PodCondition {
        type_: "PodScheduled".to_owned(),
        status: "False".to_owned(),
        reason: Some(reasons::UNSCHEDULABLE.to_owned()),
        message: Some(message.to_owned()),
        last_transition_time: Some(transition),
        ..PodCondition::default()
    };
    match existing {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
    Some(conditions)
}

/// Records `FailedScheduling` and sets `PodScheduled=False` when it says something new.
async fn report(client: Client, recorder: EventRecorder, pod: Arc<Pod>, message: String) -> JobResult {
    recorder.record(reference(pod.as_ref()), EventType::Warning, reasons::FAILED_SCHEDULING, message.clone());
    if let Some(conditions) = unschedulable_conditions(&pod, &message, Timestamp::now()) {
        let patch = json!({"status": {"conditions": conditions}});
        let api = api_for(client, &pod);
        if let Err(error) =
            api.patch_status(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await
            && status_code(&error) != Some(404)
        {
            tracing::warn!(pod = %pod.name_any(), %error, "could not set PodScheduled=False");
        }
    }
    JobResult::Reported
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(conditions: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": conditions}}))
            .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn the_unschedulable_condition_is_written_only_when_it_changes() {
        let now = Timestamp::UNIX_EPOCH;
        let fresh = unschedulable_conditions(&pod(json!([])), "no", now).unwrap_or_default();
        assert_eq!(fresh.len(), 1);
        assert_eq!(fresh[0].reason.as_deref(), Some("Unschedulable"));
        let same = pod(serde_json::to_value(&fresh).unwrap_or_default());
        assert_eq!(unschedulable_conditions(&same, "no", now), None);
        let changed = unschedulable_conditions(&same, "other", now).unwrap_or_default();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].message.as_deref(), Some("other"));
    }

    #[test]
    fn heartbeats_do_not_change_a_node_fingerprint() {
        let node = |heartbeat: &str, taint: &str| -> Node {
            serde_json::from_value(json!({
                "metadata": {"name": "n", "labels": {"a": "b"}},
                "spec": {"taints": [{"key": taint, "effect": "NoSchedule"}]},
                "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": heartbeat}]},
            }))
            .unwrap_or_else(|e| panic!("fixture: {e}"))
        };
        let a = node_fingerprint(&node("2024-01-01T00:00:00Z", "x"));
        assert_eq!(a, node_fingerprint(&node("2024-01-01T00:00:10Z", "x")));
        assert_ne!(a, node_fingerprint(&node("2024-01-01T00:00:00Z", "y")));
    }
}
