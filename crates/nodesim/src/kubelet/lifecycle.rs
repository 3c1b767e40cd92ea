//! One look of the simulated kubelet at one pod: from the pod, what the kubelet remembers about
//! it, where it runs, the node's behaviour and `now`, decide what to write, which Events to
//! record and when to look again. No IO; the runtime executes the [`Step`].
//!
//! The pod's life is anchored on the moment the kubelet accepted it (remembered in memory, or
//! `status.startTime` after a restart), so every look is a pure function of time and the same
//! look twice writes nothing the second time.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};

use super::container_status::pull_error;
use super::events::{self as reasons, PodEvent};
use super::status::{Live, Placement, final_status, live_status};
use super::timeline::ContainerPhase;
use crate::clock::{after, until};
use crate::fleet::{CompiledBehaviour, FailureMode};

/// Graceful deletion never takes longer than this, whatever the pod's grace period: a rehearsal
/// should not wait an hour for `terminationGracePeriodSeconds: 3600`.
pub const MAX_TERMINATION: Duration = Duration::from_secs(30);

/// The API server's default grace period, for pods that somehow lack one.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// What the kubelet remembers about a pod between looks. In memory only: after a restart it
/// starts empty and is rebuilt from the pod's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodMemory {
    /// When the kubelet first saw the pod bound to its node.
    pub accepted_at: Option<Timestamp>,
    /// When the kubelet first saw the pod being deleted (its containers were told to stop).
    pub stop_requested_at: Option<Timestamp>,
    /// Whether the failing readiness probe of a never-ready container was reported.
    pub unready_reported: bool,
    /// Whether the missing pod IP was reported.
    pub sandbox_failure_reported: bool,
}

/// What to do after a look.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing to write.
    Nothing,
    /// Write this status (`pods/status`).
    WriteStatus(Box<PodStatus>),
    /// The containers have stopped: write the final status if there is one, then delete the pod
    /// with grace period 0.
    Remove {
        /// The terminal status to report first (none when nothing was running).
        final_status: Option<Box<PodStatus>>,
    },
}

/// The outcome of one look.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The write to make.
    pub action: Action,
    /// Events to record once the write succeeded.
    pub events: Vec<PodEvent>,
    /// When to look again (besides when the pod changes).
    pub next: Option<Timestamp>,
}

impl Step {
    fn idle() -> Step {
        Step { action: Action::Nothing, events: Vec::new(), next: None }
    }
}

/// Looks at `pod`, bound to a simulated node with `behaviour`, at `now`.
pub fn step(
    pod: &Pod,
    memory: &mut PodMemory,
    placement: &Placement,
    behaviour: &CompiledBehaviour,
    now: Timestamp,
) -> Step {
    let observed = pod.status.clone().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        return terminate(pod, &observed, memory, behaviour, now);
    }
    if matches!(observed.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return Step::idle();
    }
    let accepted_at =
        *memory.accepted_at.get_or_insert_with(|| observed.start_time.as_ref().map_or(now, |t| t.0));
    let live = live_status(pod, &observed, placement, behaviour, accepted_at, now);
    let mut events = transitions(pod, &observed, &live, accepted_at);
    let never_ready_running = live.containers.iter().any(|c| {
        c.failure == Some(FailureMode::NeverReady)
            && matches!(c.position.phase, ContainerPhase::Running { .. })
    });
    if never_ready_running && !memory.unready_reported && now >= live.timing.ready_at() {
        memory.unready_reported = true;
        events.push(PodEvent::warning(
            reasons::UNHEALTHY,
            "Readiness probe failed: HTTP probe failed with statuscode: 503",
        ));
    }
    if placement.pod_ip.is_none() && !memory.sandbox_failure_reported {
        memory.sandbox_failure_reported = true;
        events.push(PodEvent::warning(
            reasons::FAILED_CREATE_POD_SANDBOX,
            "Failed to create pod sandbox: plugin type=\"bridge\" failed (add): failed to allocate for range 0: no IP addresses available in range set",
        ));
    }
    let action =
        if live.status == observed { Action::Nothing } else { Action::WriteStatus(Box::new(live.status)) };
    Step { action, events, next: live.next }
}

/// Graceful deletion: containers get `min(terminationDelay, grace period, 30 s)` to stop, then the
/// pod is reported terminal and removed.
fn terminate(
    pod: &Pod,
    observed: &PodStatus,
    memory: &mut PodMemory,
    behaviour: &CompiledBehaviour,
    now: Timestamp,
) -> Step {
    // Grace 0 means someone (we, or `kubectl delete --force`) already ended the pod; it only
    // waits for finalizers now.
    if pod.metadata.deletion_grace_period_seconds == Some(0) {
        return Step::idle();
    }
    let first_look = memory.stop_requested_at.is_none();
    let requested = *memory.stop_requested_at.get_or_insert(now);
    let running: Vec<&ContainerStatus> = observed
        .container_statuses
        .iter()
        .flatten()
        .filter(|s| s.state.as_ref().is_some_and(|st| st.running.is_some()))
        .collect();
    let grace_seconds = pod
        .metadata
        .deletion_grace_period_seconds
        .or_else(|| pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds))
        .unwrap_or(DEFAULT_GRACE_SECONDS)
        .max(0);
    let grace = Duration::from_secs(grace_seconds.unsigned_abs());
    let takes = if running.is_empty() {
        Duration::ZERO
    } else {
        behaviour.behaviour().termination_delay.min(grace).min(MAX_TERMINATION)
    };
    let events = if first_look {
        running
            .iter()
            .map(|c| PodEvent::normal(reasons::KILLING, format!("Stopping container {}", c.name)))
            .collect()
    } else {
        Vec::new()
    };
    let done_at = after(requested, takes);
    if now < done_at {
        return Step { action: Action::Nothing, events, next: Some(done_at) };
    }
    // Containers that stop at once need no separate terminal status: it would be deleted in the
    // same breath, and skipping it halves the writes of a large rolling update.
    let final_status = (!takes.is_zero()).then(|| Box::new(final_status(pod, observed, done_at)));
    Step { action: Action::Remove { final_status }, events, next: None }
}

/// Events for the container state changes between what was reported and what is reported now.
/// Deriving them from the status (not from memory) means a restart does not repeat them.
fn transitions(pod: &Pod, observed: &PodStatus, live: &Live, accepted_at: Timestamp) -> Vec<PodEvent> {
    let mut events = Vec::new();
    let pull_time = Duration::from_millis(
        u64::try_from(until(accepted_at, live.timing.run_at).as_millis()).unwrap_or(u64::MAX),
    );
    let pull_time = crate::duration::format(pull_time);
    for c in &live.containers {
        let old = observed.container_statuses.iter().flatten().find(|s| s.name == c.name);
        let old_reason = old.and_then(waiting_reason);
        let old_restarts = old.map_or(0, |s| s.restart_count);
        let image = &c.image;
        match c.position.phase {
            ContainerPhase::Creating => {
                if old.is_none() {
                    events.push(PodEvent::normal(reasons::PULLING, format!("Pulling image \"{image}\"")));
                }
            }
            ContainerPhase::Running { restarts, .. } => {
                let restarts = i32::try_from(restarts).unwrap_or(i32::MAX);
                let first_start = matches!(old_reason, Some("ContainerCreating" | "PodInitializing"));
                if old.is_none() || first_start {
                    if old.is_none() {
                        events.push(PodEvent::normal(reasons::PULLING, format!("Pulling image \"{image}\"")));
                    }
                    events.push(PodEvent::normal(
                        reasons::PULLED,
                        format!("Successfully pulled image \"{image}\" in {pull_time} ({pull_time} including waiting)"),
                    ));
                } else if old_restarts < restarts {
                    events.push(PodEvent::normal(
                        reasons::PULLED,
                        format!("Container image \"{image}\" already present on machine"),
                    ));
                } else {
                    continue;
                }
                events.push(PodEvent::normal(reasons::CREATED, format!("Created container: {}", c.name)));
                events.push(PodEvent::normal(reasons::STARTED, format!("Started container {}", c.name)));
            }
            ContainerPhase::CrashBackOff { restarts, .. } => {
                let restarts = i32::try_from(restarts).unwrap_or(i32::MAX);
                if old_reason != Some("CrashLoopBackOff") || old_restarts != restarts {
                    events.push(PodEvent::warning(
                        reasons::BACK_OFF,
                        format!(
                            "Back-off restarting failed container {} in pod {}_{}({})",
                            c.name,
                            pod.metadata.name.as_deref().unwrap_or_default(),
                            pod.metadata.namespace.as_deref().unwrap_or_default(),
                            pod.metadata.uid.as_deref().unwrap_or_default(),
                        ),
                    ));
                }
            }
            ContainerPhase::PullFailed { .. } => {
                if old_reason != Some("ErrImagePull") {
                    events.push(PodEvent::normal(reasons::PULLING, format!("Pulling image \"{image}\"")));
                    events.push(PodEvent::warning(
                        reasons::FAILED,
                        format!("Failed to pull image \"{image}\": {}", pull_error(image)),
                    ));
                    events.push(PodEvent::warning(reasons::FAILED, "Error: ErrImagePull"));
                }
            }
            ContainerPhase::PullBackOff { .. } => {
                if old_reason != Some("ImagePullBackOff") {
                    events.push(PodEvent::normal(
                        reasons::BACK_OFF,
                        format!("Back-off pulling image \"{image}\""),
                    ));
                    events.push(PodEvent::warning(reasons::FAILED, "Error: ImagePullBackOff"));
                }
            }
            ContainerPhase::Exited { .. } => {}
        }
    }
    events
}

fn waiting_reason(status: &ContainerStatus) -> Option<&str> {
    status.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
