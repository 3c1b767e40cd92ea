//! The pod GC loop: reflectors on pods and nodes, a [`decide`] pass every period, and the
//! force deletions (mark the pod Failed, with a `DisruptionTarget` condition for orphans, then
//! delete with a zero grace period).

use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::decide::{Quarantine, decide};
use super::{Error, PodGcOptions, reasons};
use crate::informer::Watch;

/// Deletions in flight at once.
const MAX_IN_FLIGHT: usize = 32;

/// Events applied per loop iteration before the timer is looked at again.
const MAX_EVENTS_PER_BATCH: usize = 4096;

/// What a watch event means here: pods and nodes only matter through their stores.
enum Change {
    NodesSynced,
    PodsSynced,
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

fn pod_key(pod: &Pod) -> String {
    format!("{}/{}", pod.metadata.namespace.as_deref().unwrap_or("default"), pod.name_any())
}

/// The status that marks a pod Failed before it is force-deleted (so a pod whose kubelet is
/// gone does not stay Running forever in anyone's records), or `None` when it already finished.
fn failed_status(pod: &Pod, condition: Option<(&str, &str)>, now: Timestamp) -> Option<serde_json::Value> {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    if matches!(phase, Some("Succeeded" | "Failed")) {
        return None;
    }
    let mut conditions = pod.status.as_ref().and_then(|s| s.conditions.clone()).unwrap_or_default();
    if let Some((reason, message)) = condition {
        let wanted = PodCondition {
            type_: "DisruptionTarget".to_owned(),
            status: "True".to_owned(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
            last_transition_time: Some(Time(now)),
            ..PodCondition::default()
        };
        match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
            Some(existing) => *existing = wanted,
            None => conditions.push(wanted),
        }
    }
    Some(json!({"status": {"phase": "Failed", "conditions": conditions}}))
}

/// Why a pod is collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    Terminated,
    OutOfService,
    Orphaned,
    UnscheduledTerminating,
}

impl Why {
    fn describe(self) -> &'static str {
        match self {
            Why::Terminated => "terminated pods over the threshold",
            Why::OutOfService => "terminating on an out-of-service node",
            Why::Orphaned => "orphaned: its node no longer exists",
            Why::UnscheduledTerminating => "terminating and never scheduled",
        }
    }

    /// The `DisruptionTarget` condition upstream adds (only for orphans).
    fn condition(self) -> Option<(&'static str, &'static str)> {
        (self == Why::Orphaned).then_some((reasons::DELETION_BY_POD_GC, "PodGC: node no longer exists"))
    }
}

/// `markFailedAndDeletePodWithCondition`.
async fn force_delete(client: Client, pod: Arc<Pod>, why: Why) {
    let condition = why.condition();
    let why = why.describe();
    let api: Api<Pod> = Api::namespaced(client, pod.metadata.namespace.as_deref().unwrap_or("default"));
    let name = pod.name_any();
    tracing::info!(pod = %pod_key(&pod), why, "PodGC is force deleting Pod");
    if let Some(status) = failed_status(&pod, condition, Timestamp::now()) {
        match api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status)).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => return,
            Err(error) => {
                tracing::warn!(pod = %pod_key(&pod), %error, "could not mark the pod Failed; retrying next pass");
                return;
            }
        }
    }
    match api.delete(&name, &DeleteParams::default().grace_period(0)).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(error) => {
            tracing::warn!(pod = %pod_key(&pod), %error, "force deletion failed; retrying next pass")
        }
    }
}

/// `checkIfNodeExists`: `Some(false)` only on a definite 404.
async fn node_exists(client: &Client, name: &str) -> Option<bool> {
    let api: Api<Node> = Api::all(client.clone());
    match api.get_opt(name).await {
        Ok(found) => Some(found.is_some()),
        Err(error) => {
            tracing::warn!(node = name, %error, "could not check whether the node exists");
            None
        }
    }
}

struct Collector {
    options: PodGcOptions,
    client: Client,
    nodes: Store<Node>,
    pods: Store<Pod>,
    synced: [bool; 2],
    quarantine: Quarantine,
}

impl Collector {
    fn observe(&mut self, change: Change) {
        match change {
            Change::NodesSynced => self.synced[0] = true,
            Change::PodsSynced => self.synced[1] = true,
            Change::Other => {}
            Change::Failed(error) => {
                tracing::warn!(%error, "pod GC watch failed; retrying with backoff");
            }
        }
    }

    async fn pass(&mut self) {
        if !self.synced.iter().all(|s| *s) {
            return;
        }
        let plan = decide(
            &self.pods.state(),
            &self.nodes.state(),
            &self.quarantine,
            self.options.quarantine,
            self.options.terminated_pod_threshold,
            Timestamp::now(),
        );
        self.quarantine = plan.quarantine;
        let mut work: Vec<(Arc<Pod>, Why)> = Vec::new();
        work.extend(plan.terminated.into_iter().map(|p| (p, Why::Terminated)));
        work.extend(plan.out_of_service.into_iter().map(|p| (p, Why::OutOfService)));
        for (node, pods) in plan.orphans {
            if node_exists(&self.client, &node).await != Some(false) {
                continue;
            }
            work.extend(pods.into_iter().map(|p| (p, Why::Orphaned)));
            // Gone for good: no need to keep counting; new pods on it start a new quarantine.
            self.quarantine.remove(&node);
        }
        work.extend(plan.unscheduled_terminating.into_iter().map(|p| (p, Why::UnscheduledTerminating)));
        if work.is_empty() {
            return;
        }
        let client = self.client.clone();
        futures::stream::iter(work)
            .map(|(pod, why)| force_delete(client.clone(), pod, why))
            .buffer_unordered(MAX_IN_FLIGHT)
            .collect::<Vec<()>>()
            .await;
    }
}

/// Runs pod GC until the future is dropped; failures are retried on the next pass. Returns only
/// when a watch stream ends.
pub async fn run(client: Client, options: PodGcOptions) -> Result<(), Error> {
    let pods = Watch::own(Api::<Pod>::all(client.clone()));
    run_with_pods(client, options, pods).await
}

/// [`run`], with the pods from `pods` (a shared watch) rather than its own watch.
pub async fn run_with_pods(client: Client, options: PodGcOptions, pods: Watch<Pod>) -> Result<(), Error> {
    let (nodes, node_writer) = reflector::store::<Node>();
    let Watch { store: pods, events: pod_events } = pods;
    let node_events = watcher(Api::<Node>::all(client.clone()), watcher::Config::default())
        .default_backoff()
        .reflect(node_writer)
        .map(|r| synced_or_other(r, Change::NodesSynced));
    let pod_events = pod_events.map(|r| synced_or_other(r, Change::PodsSynced));
    let mut changes = futures::stream::select(node_events, pod_events).boxed();
    let mut ticks = tokio::time::interval(options.period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut collector =
        Collector { options, client, nodes, pods, synced: [false; 2], quarantine: Quarantine::new() };
    loop {
        let mut due = false;
        tokio::select! {
            change = changes.next() => match change {
                Some(change) => collector.observe(change),
                None => return Err(Error::WatchEnded),
            },
            _ = ticks.tick() => due = true,
        }
        for _ in 0..MAX_EVENTS_PER_BATCH {
            match changes.next().now_or_never() {
                Some(Some(change)) => collector.observe(change),
                Some(None) => return Err(Error::WatchEnded),
                None => break,
            }
        }
        if due {
            collector.pass().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(phase: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": {"phase": phase}}))
            .unwrap_or_else(|e| panic!("fixture: {e}"))
    }

    #[test]
    fn running_pods_are_marked_failed_with_the_orphan_condition() {
        let status = failed_status(
            &pod("Running"),
            Some(("DeletionByPodGC", "PodGC: node no longer exists")),
            Timestamp::UNIX_EPOCH,
        )
        .unwrap_or_default();
        assert_eq!(status["status"]["phase"], "Failed");
        assert_eq!(status["status"]["conditions"][0]["reason"], "DeletionByPodGC");
        assert_eq!(failed_status(&pod("Succeeded"), None, Timestamp::UNIX_EPOCH), None);
    }
}
