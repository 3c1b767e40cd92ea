//! The pod status a kubelet reports at a given moment: phase, conditions, container statuses and
//! addresses, shaped like the real kubelet's so `kubectl get pods` prints `ContainerCreating`,
//! `Running`, `1/1`, `CrashLoopBackOff`, `ImagePullBackOff` and restart counts correctly.
//!
//! Timestamps already reported are kept when the state they belong to has not changed: after a
//! restart, the simulation re-derives its timeline from `status.startTime`, which lost its
//! fraction of a second, and must not rewrite every pod for a one-second difference.

use std::net::Ipv4Addr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
};

use super::image;
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
    let initialized = now >= timing.run_at;
    let (sidecars, init_jobs): (Vec<&Container>, Vec<&Container>) =
        spec.init_containers.iter().flatten().partition(|c| c.restart_policy.as_deref() == Some("Always"));
    let waiting_reason = if init_jobs.is_empty() { "ContainerCreating" } else { "PodInitializing" };

    let mut containers = Vec::new();
    let mut statuses = Vec::new();
    for container in &spec.containers {
        let image = container.image.clone().unwrap_or_default();
        let failure = behaviour.failure_for(&image);
        let position = container_at(failure, &timing, restarts_allowed, now);
        next = earliest(next, position.next);
        let old = find(observed.container_statuses.as_deref(), &container.name);
        statuses.push(container_status(
            &container.name,
            &image,
            &position.phase,
            uid,
            &pod_label,
            waiting_reason,
            old,
        ));
        containers.push(ContainerLife { name: container.name.clone(), image, failure, position });
    }
    let mut init_statuses = Vec::new();
    for container in spec.init_containers.iter().flatten() {
        let image = container.image.clone().unwrap_or_default();
        let old = find(observed.init_container_statuses.as_deref(), &container.name);
        let phase = if sidecars.iter().any(|s| s.name == container.name) {
            let position = container_at(None, &timing, true, now);
            next = earliest(next, position.next);
            position.phase
        } else if initialized {
            // Init containers finish the moment they start (their failures are not simulated).
            let exit = Exit { started_at: timing.run_at, finished_at: timing.run_at, exit_code: 0 };
            ContainerPhase::Exited { restarts: 0, exit }
        } else {
            ContainerPhase::Creating
        };
        let mut status =
            container_status(&container.name, &image, &phase, uid, &pod_label, "PodInitializing", old);
        if !sidecars.iter().any(|s| s.name == container.name) && initialized {
            status.ready = true;
        }
        init_statuses.push(status);
    }

    let all: Vec<&ContainerStatus> =
        statuses.iter().chain(init_statuses.iter().filter(|s| is_sidecar(&sidecars, s))).collect();
    let unready: Vec<&str> = all.iter().filter(|s| !s.ready).map(|s| s.name.as_str()).collect();
    let containers_ready = unready.is_empty();
    let gates_pending: Vec<&str> = spec
        .readiness_gates
        .iter()
        .flatten()
        .map(|g| g.condition_type.as_str())
        .filter(|gate| !observed.conditions.iter().flatten().any(|c| c.type_ == *gate && c.status == "True"))
        .collect();
    let ready_since = timing.ready_at();
    let observed_conditions = observed.conditions.as_deref().unwrap_or_default();
    let generation = pod.metadata.generation;
    let unready_message = format!("containers with unready status: [{}]", unready.join(" "));
    let mut conditions = vec![
        condition(
            READY_TO_START,
            placement.pod_ip.is_some(),
            None,
            None,
            accepted_at,
            observed_conditions,
            generation,
        ),
        if initialized || init_jobs.is_empty() {
            let since = if init_jobs.is_empty() { accepted_at } else { timing.run_at };
            condition(INITIALIZED, true, None, None, since, observed_conditions, generation)
        } else {
            let names: Vec<&str> = init_jobs.iter().map(|c| c.name.as_str()).collect();
            condition(
                INITIALIZED,
                false,
                Some("ContainersNotInitialized"),
                Some(format!("containers with incomplete status: [{}]", names.join(" "))),
                accepted_at,
                observed_conditions,
                generation,
            )
        },
    ];
    let ready_condition = if !containers_ready {
        condition(
            READY,
            false,
            Some("ContainersNotReady"),
            Some(unready_message.clone()),
            accepted_at,
            observed_conditions,
            generation,
        )
    } else if let Some(gate) = gates_pending.first() {
        condition(
            READY,
            false,
            Some("ReadinessGatesNotReady"),
            Some(format!("corresponding condition of pod readiness gate \"{gate}\" does not exist.")),
            ready_since,
            observed_conditions,
            generation,
        )
    } else {
        condition(READY, true, None, None, ready_since, observed_conditions, generation)
    };
    conditions.push(ready_condition);
    conditions.push(if containers_ready {
        condition(CONTAINERS_READY, true, None, None, ready_since, observed_conditions, generation)
    } else {
        condition(
            CONTAINERS_READY,
            false,
            Some("ContainersNotReady"),
            Some(unready_message),
            accepted_at,
            observed_conditions,
            generation,
        )
    });
    conditions.push(
        observed_conditions
            .iter()
            .find(|c| c.type_ == POD_SCHEDULED)
            .cloned()
            .unwrap_or_else(|| condition(POD_SCHEDULED, true, None, None, accepted_at, &[], None)),
    );
    keep_foreign_conditions(&mut conditions, observed_conditions);

    let phase = phase(&containers, initialized || init_jobs.is_empty(), restarts_allowed);
    let host_ip = placement.host_ip.to_string();
    let status = PodStatus {
        phase: Some(phase.to_owned()),
        conditions: Some(conditions),
        container_statuses: Some(statuses),
        init_container_statuses: (!init_statuses.is_empty()).then_some(init_statuses),
        host_ip: Some(host_ip.clone()),
        host_ips: Some(vec![HostIP { ip: host_ip }]),
        pod_ip: placement.pod_ip.map(|ip| ip.to_string()),
        pod_ips: placement.pod_ip.map(|ip| vec![PodIP { ip: ip.to_string() }]),
        start_time: Some(observed.start_time.clone().unwrap_or_else(|| time(accepted_at))),
        observed_generation: generation,
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
    let observed_conditions = observed.conditions.as_deref().unwrap_or_default();
    let generation = pod.metadata.generation;
    let mut conditions = vec![
        condition(READY_TO_START, false, None, None, done_at, observed_conditions, generation),
        observed_conditions
            .iter()
            .find(|c| c.type_ == INITIALIZED)
            .cloned()
            .unwrap_or_else(|| condition(INITIALIZED, true, None, None, done_at, &[], generation)),
        condition(READY, false, Some("PodCompleted"), None, done_at, observed_conditions, generation),
        condition(
            CONTAINERS_READY,
            false,
            Some("PodCompleted"),
            None,
            done_at,
            observed_conditions,
            generation,
        ),
    ];
    if let Some(scheduled) = observed_conditions.iter().find(|c| c.type_ == POD_SCHEDULED) {
        conditions.push(scheduled.clone());
    }
    keep_foreign_conditions(&mut conditions, observed_conditions);
    PodStatus {
        phase: Some(if succeeded { "Succeeded" } else { "Failed" }.to_owned()),
        conditions: Some(conditions),
        container_statuses,
        init_container_statuses: stop(&observed.init_container_statuses),
        observed_generation: generation,
        ..observed.clone()
    }
}

/// A container status after the container was stopped at `at`.
fn stopped(status: &ContainerStatus, at: Timestamp) -> ContainerStatus {
    let state = status.state.clone().unwrap_or_default();
    let terminated = if let Some(running) = &state.running {
        Some(ContainerStateTerminated {
            container_id: status.container_id.clone(),
            exit_code: 0,
            reason: Some("Completed".to_owned()),
            started_at: running.started_at.clone(),
            finished_at: Some(time(at)),
            ..ContainerStateTerminated::default()
        })
    } else if state.waiting.is_some() {
        status.last_state.as_ref().and_then(|s| s.terminated.clone())
    } else {
        state.terminated.clone()
    };
    match terminated {
        Some(terminated) => ContainerStatus {
            ready: false,
            started: Some(false),
            state: Some(ContainerState { terminated: Some(terminated), ..ContainerState::default() }),
            ..status.clone()
        },
        None => ContainerStatus { ready: false, started: Some(false), ..status.clone() },
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

fn is_sidecar(sidecars: &[&Container], status: &ContainerStatus) -> bool {
    sidecars.iter().any(|c| c.name == status.name)
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A stable container ID for run number `restarts` of a container.
fn container_id(uid: &str, name: &str, restarts: u32) -> String {
    format!("containerd://{}", fingerprint::hex(64, &["container", uid, name, &restarts.to_string()]))
}

fn terminated(exit: &Exit, id: String) -> ContainerStateTerminated {
    ContainerStateTerminated {
        container_id: Some(id),
        exit_code: exit.exit_code,
        reason: Some(if exit.exit_code == 0 { "Completed" } else { "Error" }.to_owned()),
        started_at: Some(time(exit.started_at)),
        finished_at: Some(time(exit.finished_at)),
        ..ContainerStateTerminated::default()
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.to_owned()), message }),
        ..ContainerState::default()
    }
}

/// The message of a failed pull, as containerd words a missing tag.
pub fn pull_error(image: &str) -> String {
    let reference = image::normalize(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {reference}: not found"
    )
}

/// A container's status for `phase`, keeping the timestamps `old` already reported for the same
/// state.
fn container_status(
    name: &str,
    image: &str,
    phase: &ContainerPhase,
    uid: &str,
    pod_label: &str,
    creating_reason: &str,
    old: Option<&ContainerStatus>,
) -> ContainerStatus {
    let no_last_state = Some(ContainerState::default());
    let last = |exit: &Option<Exit>, restarts: u32| match exit {
        Some(exit) => Some(ContainerState {
            terminated: Some(terminated(exit, container_id(uid, name, restarts.saturating_sub(1)))),
            ..ContainerState::default()
        }),
        None => no_last_state.clone(),
    };
    let (state, last_state, restarts, ready, started, created) = match phase {
        ContainerPhase::Creating => {
            (waiting(creating_reason, None), no_last_state.clone(), 0, false, false, None)
        }
        ContainerPhase::Running { started_at, restarts, ready, last_exit } => (
            ContainerState {
                running: Some(ContainerStateRunning { started_at: Some(time(*started_at)) }),
                ..ContainerState::default()
            },
            last(last_exit, *restarts),
            *restarts,
            *ready,
            true,
            Some(*restarts),
        ),
        ContainerPhase::CrashBackOff { restarts, last_exit, backoff } => (
            waiting(
                "CrashLoopBackOff",
                Some(format!(
                    "back-off {} restarting failed container={name} pod={pod_label}",
                    crate::duration::format(std::time::Duration::from_secs(backoff.as_secs().max(1)))
                )),
            ),
            Some(ContainerState {
                terminated: Some(terminated(last_exit, container_id(uid, name, *restarts))),
                ..ContainerState::default()
            }),
            *restarts,
            false,
            false,
            Some(*restarts),
        ),
        ContainerPhase::Exited { restarts, exit } => (
            ContainerState {
                terminated: Some(terminated(exit, container_id(uid, name, *restarts))),
                ..ContainerState::default()
            },
            no_last_state.clone(),
            *restarts,
            false,
            false,
            Some(*restarts),
        ),
        ContainerPhase::PullFailed { .. } => {
            (waiting("ErrImagePull", Some(pull_error(image))), no_last_state.clone(), 0, false, false, None)
        }
        ContainerPhase::PullBackOff { .. } => (
            waiting(
                "ImagePullBackOff",
                Some(format!("Back-off pulling image \"{image}\": ErrImagePull: {}", pull_error(image))),
            ),
            no_last_state.clone(),
            0,
            false,
            false,
            None,
        ),
    };
    let restart_count = i32::try_from(restarts).unwrap_or(i32::MAX);
    let mut status = ContainerStatus {
        name: name.to_owned(),
        image: image::normalize(image),
        image_id: if created.is_some() { image::image_id(image) } else { String::new() },
        container_id: created.map(|r| container_id(uid, name, r)),
        ready,
        restart_count,
        started: Some(started),
        state: Some(state),
        last_state,
        ..ContainerStatus::default()
    };
    if let Some(old) = old
        && old.restart_count == restart_count
        && same_state(old.state.as_ref(), status.state.as_ref())
    {
        status.state = old.state.clone();
        status.last_state = old.last_state.clone().or(status.last_state);
    }
    status
}

/// Whether two states are the same state (running, terminated, or waiting for the same reason).
fn same_state(a: Option<&ContainerState>, b: Option<&ContainerState>) -> bool {
    let kind = |s: Option<&ContainerState>| -> Option<(u8, Option<String>)> {
        let s = s?;
        if s.running.is_some() {
            Some((0, None))
        } else if let Some(t) = &s.terminated {
            Some((1, t.reason.clone()))
        } else {
            s.waiting.as_ref().map(|w| (2, w.reason.clone()))
        }
    };
    kind(a).is_some() && kind(a) == kind(b)
}

/// A condition; its `lastTransitionTime` is the observed one while the status is unchanged, else
/// `since`.
fn condition(
    type_: &str,
    status: bool,
    reason: Option<&str>,
    message: Option<String>,
    since: Timestamp,
    observed: &[PodCondition],
    generation: Option<i64>,
) -> PodCondition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = observed
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
        observed_generation: generation,
    }
}

/// Conditions the kubelet does not own (readiness gates, `DisruptionTarget`) are kept as they are.
fn keep_foreign_conditions(conditions: &mut Vec<PodCondition>, observed: &[PodCondition]) {
    for c in observed {
        if !conditions.iter().any(|mine| mine.type_ == c.type_) {
            conditions.push(c.clone());
        }
    }
}
