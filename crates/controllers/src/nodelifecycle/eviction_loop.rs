//! The taint eviction controller's loop: reflectors on nodes and pods, an [`eviction::decide`]
//! pass whenever NoExecute taints or pods on tainted nodes change or a countdown runs out, and
//! the evictions (a `DisruptionTarget` condition, then a normal graceful delete).
//!
//! [`eviction::decide`]: super::eviction::decide

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition, Taint};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;
use tokio::task::JoinSet;

use super::eviction::{EvictionSchedule, decide, no_execute_taints};
use super::{Error, reasons};
use crate::events::{EventRecorder, EventType, reference};
use crate::informer::Watch;

/// The events' source component, as upstream's.
const COMPONENT: &str = "taint-eviction-controller";

/// Evictions in flight at once.
const MAX_IN_FLIGHT: usize = 32;

/// Events applied before a pass may run.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// Safety-net wake-up when nothing is pending.
const IDLE_WAKE: Duration = Duration::from_secs(60);

/// One watch event (boxed: objects are large and events are moved once).
enum Change {
    Node(Box<watcher::Event<Node>>),
    Pod(Box<watcher::Event<Pod>>),
    Failed(watcher::Error),
}

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or("default"), pod.name_any())
}

fn pod_uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_else(|| pod_key(pod))
}

struct Evictor {
    client: Client,
    recorder: EventRecorder,
    nodes: Store<Node>,
    pods: Store<Pod>,
    synced: [bool; 2],
    /// NoExecute taints of each tainted node, to notice changes.
    tainted: HashMap<String, Vec<Taint>>,
    schedule: EvictionSchedule,
    next_wake: Option<Timestamp>,
    /// Pods whose eviction was sent and not yet seen terminating (so a lagging store does not
    /// evict them twice).
    in_flight: HashSet<String>,
    tasks: JoinSet<(String, bool)>,
    dirty: bool,
}

impl Evictor {
    fn observe(&mut self, change: Change) {
        match change {
            Change::Node(event) => match *event {
                watcher::Event::Apply(node) | watcher::Event::InitApply(node) => {
                    let taints = no_execute_taints(&node);
                    let name = node.name_any();
                    let changed = if taints.is_empty() {
                        self.tainted.remove(&name).is_some()
                    } else {
                        self.tainted.insert(name, taints.clone()).as_ref() != Some(&taints)
                    };
                    self.dirty |= changed;
                }
                watcher::Event::Delete(node) => {
                    self.dirty |= self.tainted.remove(&node.name_any()).is_some();
                }
                watcher::Event::Init => {}
                watcher::Event::InitDone => {
                    self.synced[0] = true;
                    self.dirty = true;
                }
            },
            Change::Pod(event) => match *event {
                watcher::Event::Apply(pod) | watcher::Event::InitApply(pod) => self.observe_pod(&pod, false),
                watcher::Event::Delete(pod) => self.observe_pod(&pod, true),
                watcher::Event::Init => {}
                watcher::Event::InitDone => {
                    self.synced[1] = true;
                    self.dirty = true;
                }
            },
            Change::Failed(error) => {
                tracing::warn!(%error, "taint eviction watch failed; retrying with backoff");
            }
        }
    }

    fn observe_pod(&mut self, pod: &Pod, deleted: bool) {
        if deleted || pod.metadata.deletion_timestamp.is_some() {
            // The eviction (ours or anyone's) has been observed.
            self.in_flight.remove(&pod_uid(pod));
        }
        let on_tainted = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some_and(|n| self.tainted.contains_key(n));
        self.dirty |= on_tainted || self.schedule.contains_key(&pod_uid(pod));
    }

    fn pass(&mut self) {
        self.dirty = false;
        if !self.synced.iter().all(|s| *s) {
            return;
        }
        // The store is the truth; the incremental map only served to notice changes, and may
        // miss deletions that happened while a watch was re-listing.
        self.tainted = self
            .nodes
            .state()
            .iter()
            .filter_map(|n| {
                let taints = no_execute_taints(n);
                (!taints.is_empty()).then(|| (n.name_any(), taints))
            })
            .collect();
        if self.tainted.is_empty() && self.schedule.is_empty() {
            self.next_wake = None;
            return;
        }
        let pods: Vec<Arc<Pod>> = self
            .pods
            .state()
            .into_iter()
            .filter(|p| {
                let on_tainted = p
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .is_some_and(|n| self.tainted.contains_key(n));
                on_tainted || self.schedule.contains_key(&pod_uid(p))
            })
            .collect();
        let plan = decide(&self.tainted, &pods, &self.schedule, Timestamp::now());
        for pod in &plan.cancelled {
            self.recorder.record(
                reference(pod.as_ref()),
                EventType::Normal,
                reasons::TAINT_MANAGER_EVICTION,
                format!("Cancelling deletion of Pod {}", pod_key(pod)),
            );
        }
        for pod in plan.evict {
            if self.tasks.len() >= MAX_IN_FLIGHT {
                // The rest go in a later pass, triggered when a task finishes.
                break;
            }
            if self.in_flight.insert(pod_uid(&pod)) {
                self.tasks.spawn(evict(self.client.clone(), self.recorder.clone(), pod));
            }
        }
        self.schedule = plan.schedule;
        self.next_wake = plan.next_wake;
    }

    fn wait(&self) -> Duration {
        match self.next_wake {
            None => IDLE_WAKE,
            Some(at) => Duration::try_from(at.duration_since(Timestamp::now()))
                .unwrap_or(Duration::ZERO)
                .min(IDLE_WAKE),
        }
    }
}

/// The pod's conditions with `DisruptionTarget=True`, or `None` when it already says so.
fn disruption_conditions(pod: &Pod, now: Timestamp) -> Option<Vec<PodCondition>> {
    let mut conditions = pod.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    let wanted = PodCondition {
        type_: "DisruptionTarget".to_owned(),
        status: "True".to_owned(),
        reason: Some(reasons::DELETION_BY_TAINT_MANAGER.to_owned()),
        message: Some("Taint manager: deleting due to NoExecute taint".to_owned()),
        last_transition_time: Some(Time(now)),
        ..PodCondition::default()
    };
    match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
        Some(c) if c.status == "True" && c.reason == wanted.reason => return None,
        Some(c) => *c = wanted,
        None => conditions.push(wanted),
    }
    Some(conditions)
}

/// `deletePodHandler`: event, condition, graceful delete.
async fn evict(client: Client, recorder: EventRecorder, pod: Arc<Pod>) -> (String, bool) {
    let uid = pod_uid(&pod);
    recorder.record(
        reference(pod.as_ref()),
        EventType::Normal,
        reasons::TAINT_MANAGER_EVICTION,
        format!("Marking for deletion Pod {}", pod_key(&pod)),
    );
    let api: Api<Pod> = Api::namespaced(client, pod.metadata.namespace.as_deref().unwrap_or("default"));
    let name = pod.name_any();
    if let Some(conditions) = disruption_conditions(&pod, Timestamp::now()) {
        let patch = json!({"status": {"conditions": conditions}});
        if let Err(error) = api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            tracing::debug!(pod = %pod_key(&pod), %error, "could not add the DisruptionTarget condition");
        }
    }
    match api.delete(&name, &DeleteParams::default()).await {
        Ok(_) => (uid, true),
        Err(kube::Error::Api(status)) if status.code == 404 => (uid, true),
        Err(error) => {
            tracing::warn!(pod = %pod_key(&pod), %error, "taint eviction failed; retrying");
            (uid, false)
        }
    }
}

/// Runs the taint eviction controller until the future is dropped; failed evictions are
/// retried on the next pass. Returns only when a watch stream ends.
pub async fn run(client: Client) -> Result<(), Error> {
    let pods = Watch::own(Api::<Pod>::all(client.clone()));
    run_with_pods(client, pods).await
}

/// [`run`], with the pods from `pods` (a shared watch) rather than its own watch.
pub async fn run_with_pods(client: Client, pods: Watch<Pod>) -> Result<(), Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let Watch { store: pods, events: pod_events } = pods;
    let node_events = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer)
        .map(|r| r.map_or_else(Change::Failed, |e| Change::Node(Box::new(e))));
    let pod_events = pod_events.map(|r| r.map_or_else(Change::Failed, |e| Change::Pod(Box::new(e))));
    let mut changes = futures::stream::select(node_events, pod_events).boxed();
    let mut evictor = Evictor {
        recorder: EventRecorder::new(client.clone(), COMPONENT),
        client,
        nodes,
        pods,
        synced: [false; 2],
        tainted: HashMap::new(),
        schedule: EvictionSchedule::new(),
        next_wake: None,
        in_flight: HashSet::new(),
        tasks: JoinSet::new(),
        dirty: false,
    };
    loop {
        let wait = evictor.wait();
        tokio::select! {
            change = changes.next() => match change {
                Some(change) => evictor.observe(change),
                None => return Err(Error::WatchEnded),
            },
            Some(done) = evictor.tasks.join_next(), if !evictor.tasks.is_empty() => {
                if let Ok((uid, ok)) = done
                    && !ok
                {
                    evictor.in_flight.remove(&uid);
                }
                evictor.dirty = true;
            }
            () = tokio::time::sleep(wait) => evictor.dirty = true,
        }
        for _ in 0..MAX_EVENTS_PER_BATCH {
            match changes.next().now_or_never() {
                Some(Some(change)) => evictor.observe(change),
                Some(None) => return Err(Error::WatchEnded),
                None => break,
            }
        }
        if evictor.dirty {
            evictor.pass();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disruption_condition_is_added_once() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}}))
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        let conditions = disruption_conditions(&pod, Timestamp::UNIX_EPOCH).unwrap_or_default();
        assert_eq!(conditions[0].reason.as_deref(), Some("DeletionByTaintManager"));
        let marked: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"conditions": conditions}}))
                .unwrap_or_else(|e| panic!("fixture: {e}"));
        assert_eq!(disruption_conditions(&marked, Timestamp::UNIX_EPOCH), None);
    }
}
