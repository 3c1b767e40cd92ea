//! The pod status a kubelet reports at a given moment: phase, conditions, container statuses and
//! addresses, shaped like the real kubelet's so `kubectl get pods` prints `ContainerCreating`,
//! `Running`, `1/1`, `CrashLoopBackOff`, `ImagePullBackOff` and restart counts correctly.
//!
//! Timestamps already reported are kept when the state they belong to has not changed: after a
//! restart, the simulation re-derives its timeline from `status.startTime`, which lost its
//! fraction of a second, and must not rewrite every pod for a one-second difference.

use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus};

use super::container_status::{ContainerReporter, stopped};
use super::timeline::{ContainerPhase, Exit, Position, Timing, container_at};
use crate::clock::{after, time};
use crate::fingerprint;
use crate::fleet::{CompiledBehaviour, FailureMode};

/// Condition types, in the order the kubelet lists them.
pub const READY_TO_START: &str = "PodReadyToStartContainers";
/// All init containers finished.
pub const INITIALIZED: &str = "Initialized";
/// The pod serves traffic.
pub const READY: &str = "Ready";
/// All containers are ready.
pub const CONTAINERS_READY: &str = "ContainersReady";
/// The pod is bound to a node.
pub const POD_SCHEDULED: &str = "PodScheduled";

/// Where the pod runs: the node's address and the pod's own (None while the pod network has no
/// free address, which keeps the pod in `ContainerCreating`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The node's InternalIP.
    pub host_ip: Ipv4Addr,
    /// The pod's IP (the node's for `hostNetwork` pods).
    pub pod_ip: Option<Ipv4Addr>,
}

/// One main container's place in its life, for describing changes as Events.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLife {
    /// The container's name.
    pub name: String,
    /// Its image as written in the pod.
    pub image: String,
    /// Its injected failure.
    pub failure: Option<FailureMode>,
    /// Where it is.
    pub position: Position,
}

/// The status to report now, and when it changes next.
#[derive(Debug, Clone, PartialEq)]
pub struct Live {
    /// The whole status (fields the kubelet does not own are copied from the observed one).
    pub status: PodStatus,
    /// The main containers' positions.
    pub containers: Vec<ContainerLife>,
    /// When the first container was (or will be) running.
    pub timing: Timing,
    /// When anything changes next.
    pub next: Option<Timestamp>,
}

/// How long a pod without a free pod IP waits before trying again.
const SANDBOX_RETRY: std::time::Duration = std::time::Duration::from_secs(10);

/// When a pod accepted at `accepted_at` first runs: after the start delay and its own share of
/// the jitter (picked from its uid, so it is stable across restarts).
pub fn timing(pod: &Pod, behaviour: &CompiledBehaviour, accepted_at: Timestamp) -> Timing {
    let b = behaviour.behaviour();
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let jitter = fingerprint::fraction_of(b.start_jitter, &["jitter", uid]);
    Timing {
        run_at: after(accepted_at, b.start_delay + jitter),
        readiness_delay: b.readiness_delay,
        backoff_scale: b.backoff_scale,
    }
}

/// The status of a running (not terminating) pod at `now`.
pub fn live_status(
    pod: &Pod,
    observed: &PodStatus,
    placement: &Placement,
    behaviour: &CompiledBehaviour,
    accepted_at: Timestamp,
    now: Timestamp,
) -> Live {
    let spec = pod.spec.clone().unwrap_or_default();
    let mut timing = timing(pod, behaviour, accepted_at);
    let mut next: Option<Timestamp> = None;
    if placement.pod_ip.is_none() {
        // No sandbox without an address: nothing starts; look again later.
        timing.run_at = Timestamp::MAX;
        next = Some(after(now, SANDBOX_RETRY));
    }
    let restarts_allowed = spec.restart_policy.as_deref() != Some("Never");
    let uid = pod.metadata.uid.as_deref().unwrap_or_default();
    let pod_label = format!(
        "{}_{}({uid})",
        pod.metadata.name.as_deref().unwrap_or_default(),
        pod.metadata.namespace.as_deref().unwrap_or_default()
    );
    let reporter = ContainerReporter { uid, pod_label: &pod_label };
    let started = now >= timing.run_at;
    let is_sidecar = |c: &Container| c.restart_policy.as_deref() == Some("Always");
    let init_jobs: Vec<&str> =
        spec.init_containers.iter().flatten().filter(|c| !is_sidecar(c)).map(|c| c.name.as_str()).collect();
    let creating_reason = if init_jobs.is_empty() { "ContainerCreating" } else { "PodInitializing" };

    let mut containers = Vec::new();
    let mut statuses = Vec::new();
    for container in &spec.containers {
        let image = container.image.clone().unwrap_or_default();
        let failure = behaviour.failure_for(&image);
        let position = container_at(failure, &timing, restarts_allowed, now);
        next = earliest(next, position.next);
        let old = find(observed.container_statuses.as_deref(), &container.name);
        statuses.push(reporter.status(container, &position.phase, creating_reason, old));
        containers.push(ContainerLife { name: container.name.clone(), image, failure, position });
    }
    // Sidecars run and get ready like the app; other init containers finish the moment they
    // start (their failures are not simulated).
    let mut init_statuses = Vec::new();
    let mut unready: Vec<&str> = statuses.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    for container in spec.init_containers.iter().flatten() {
        let old = find(observed.init_container_statuses.as_deref(), &container.name);
        let phase = if is_sidecar(container) {
            let position = container_at(None, &timing, true, now);
            next = earliest(next, position.next);
            position.phase
        } else if started {
            let exit = Exit { started_at: timing.run_at, finished_at: timing.run_at, exit_code: 0 };
            ContainerPhase::Exited { restarts: 0, exit }
        } else {
            ContainerPhase::Creating
        };
        let mut status = reporter.status(container, &phase, "PodInitializing", old);
        if is_sidecar(container) {
            if !status.ready {
                unready.push(container.name.as_str());
            }
        } else {
            // A completed init container reports ready, as the kubelet's do.
            status.ready = started;
        }
        init_statuses.push(status);
    }

    let initialized = started || init_jobs.is_empty();
    let conditions = Conditions { observed: observed.conditions.as_deref().unwrap_or_default(), pod };
    let containers_ready = unready.is_empty();
    let unready_message = format!("containers with unready status: [{}]", unready.join(" "));
    let ready_since = timing.ready_at();
    let mut list = vec![
        if placement.pod_ip.is_some() {
            conditions.met(READY_TO_START, accepted_at)
        } else {
            conditions.unmet(READY_TO_START, None, None, accepted_at)
        },
        if !initialized {
            let message = format!("containers with incomplete status: [{}]", init_jobs.join(" "));
            conditions.unmet(INITIALIZED, Some("ContainersNotInitialized"), Some(message), accepted_at)
        } else if init_jobs.is_empty() {
            conditions.met(INITIALIZED, accepted_at)
        } else {
            conditions.met(INITIALIZED, timing.run_at)
        },
    ];
    let pending_gate = spec
        .readiness_gates
        .iter()
        .flatten()
        .map(|g| g.condition_type.as_str())
        .find(|gate| !conditions.observed.iter().any(|c| c.type_ == *gate && c.status == "True"));
    if !containers_ready {
        let reason = Some("ContainersNotReady");
        list.push(conditions.unmet(READY, reason, Some(unready_message.clone()), accepted_at));
        list.push(conditions.unmet(CONTAINERS_READY, reason, Some(unready_message), accepted_at));
    } else {
        list.push(match pending_gate {
            Some(gate) => conditions.unmet(
                READY,
                Some("ReadinessGatesNotReady"),
                Some(format!("corresponding condition of pod readiness gate \"{gate}\" does not exist.")),
                ready_since,
            ),
            None => conditions.met(READY, ready_since),
        });
        list.push(conditions.met(CONTAINERS_READY, ready_since));
    }
    list.push(conditions.kept_or_met(POD_SCHEDULED, accepted_at));
    conditions.keep_foreign(&mut list);

    let host_ip = placement.host_ip.to_string();
    let status = PodStatus {
        phase: Some(phase(&containers, initialized, restarts_allowed).to_owned()),
        conditions: Some(list),
        container_statuses: Some(statuses),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        host_ip: Some(host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: host_ip }]),
        pod_ip: placement.pod_ip.map(|ip| ip.to_string()),
        pod_ips: placement.pod_ip.map(|ip| vec![PodIP { ip: ip.to_string() }]),
        start_time: Some(observed.start_time.clone().unwrap_or_else(|| time(accepted_at))),
        observed_generation: pod.metadata.generation,
        ..observed.clone()
    };
    Live { status, containers, timing, next }
}

/// The status once every container has stopped at `done_at` during graceful deletion: running
/// containers terminated (exit 0, `Completed`), the pod in a terminal phase and no longer Ready,
/// as kubelets since 1.27 report before the pod is removed.
pub fn final_status(pod: &Pod, observed: &PodStatus, done_at: Timestamp) -> PodStatus {
    let stop = |statuses: &Option<Vec<ContainerStatus>>| -> Option<Vec<ContainerStatus>> {
        statuses.as_ref().map(|list| list.iter().map(|s| stopped(s, done_at)).collect())
    };
    let container_statuses = stop(&observed.container_statuses);
    let succeeded = container_statuses
        .iter()
        .flatten()
        .all(|s| s.state.as_ref().and_then(|st| st.terminated.as_ref()).is_some_and(|t| t.exit_code == 0));
    let conditions = Conditions { observed: observed.conditions.as_deref().unwrap_or_default(), pod };
    let completed = Some("PodCompleted");
    let mut list = vec![
        conditions.unmet(READY_TO_START, None, None, done_at),
        conditions.kept_or_met(INITIALIZED, done_at),
        conditions.unmet(READY, completed, None, done_at),
        conditions.unmet(CONTAINERS_READY, completed, None, done_at),
        conditions.kept_or_met(POD_SCHEDULED, done_at),
    ];
    conditions.keep_foreign(&mut list);
    PodStatus {
        phase: Some(if succeeded { "Succeeded" } else { "Failed" }.to_owned()),
        conditions: Some(list),
        container_statuses,
        init_container_statuses: stop(&observed.init_container_statuses),
        observed_generation: pod.metadata.generation,
        ..observed.clone()
    }
}

/// Builds the kubelet's pod conditions; a condition keeps the observed `lastTransitionTime` while
/// its status is unchanged, else it changed at `since`.
struct Conditions<'a> {
    observed: &'a [PodCondition],
    pod: &'a Pod,
}

impl Conditions<'_> {
    fn met(&self, type_: &str, since: Timestamp) -> PodCondition {
        self.condition(type_, "True", None, None, since)
    }

    fn unmet(
        &self,
        type_: &str,
        reason: Option<&str>,
        message: Option<String>,
        since: Timestamp,
    ) -> PodCondition {
        self.condition(type_, "False", reason, message, since)
    }

    /// The observed condition as it is, or a met one since `since` (PodScheduled is the
    /// scheduler's, but the kubelet adds it for pods created with `nodeName`).
    fn kept_or_met(&self, type_: &str, since: Timestamp) -> PodCondition {
        self.observed.iter().find(|c| c.type_ == type_).cloned().unwrap_or_else(|| self.met(type_, since))
    }

    /// Conditions the kubelet does not own (readiness gates, `DisruptionTarget`) stay as they are.
    fn keep_foreign(&self, list: &mut Vec<PodCondition>) {
        for c in self.observed {
            if !list.iter().any(|mine| mine.type_ == c.type_) {
                list.push(c.clone());
            }
        }
    }

    fn condition(
        &self,
        type_: &str,
        status: &str,
        reason: Option<&str>,
        message: Option<String>,
        since: Timestamp,
    ) -> PodCondition {
        let last_transition_time = self
            .observed
            .iter()
            .find(|c| c.type_ == type_ && c.status == status)
            .and_then(|c| c.last_transition_time.clone())
            .unwrap_or_else(|| time(since));
        PodCondition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.map(str::to_owned),
            message,
            last_transition_time: Some(last_transition_time),
            last_probe_time: None,
            observed_generation: self.pod.metadata.generation,
        }
    }
}

/// Upstream's `getPhase`: containers that never started keep the pod Pending; running ones make
/// it Running; stopped ones are Running while they will be restarted, else terminal.
fn phase(containers: &[ContainerLife], initialized: bool, restarts_allowed: bool) -> &'static str {
    if !initialized {
        return "Pending";
    }
    let (mut waiting, mut running, mut stopped, mut failed) = (0, 0, 0, 0);
    for c in containers {
        match c.position.phase {
            ContainerPhase::Creating
            | ContainerPhase::PullFailed { .. }
            | ContainerPhase::PullBackOff { .. } => waiting += 1,
            ContainerPhase::Running { .. } => running += 1,
            ContainerPhase::CrashBackOff { .. } => stopped += 1,
            ContainerPhase::Exited { exit, .. } => {
                stopped += 1;
                if exit.exit_code != 0 {
                    failed += 1;
                }
            }
        }
    }
    match () {
        () if waiting > 0 => "Pending",
        () if running > 0 => "Running",
        () if stopped > 0 && restarts_allowed => "Running",
        () if stopped > 0 && failed == 0 => "Succeeded",
        () if stopped > 0 => "Failed",
        () => "Pending",
    }
}

fn find<'a>(statuses: Option<&'a [ContainerStatus]>, name: &str) -> Option<&'a ContainerStatus> {
    statuses?.iter().find(|s| s.name == name)
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
