//! One container's status as a container runtime and kubelet report it: state, last state,
//! restart count, image and IDs, for a [`ContainerPhase`] of its timeline.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus,
};

use super::image;
use super::timeline::{ContainerPhase, Exit};
use crate::clock::time;
use crate::fingerprint;

/// Reports the containers of one pod.
#[derive(Debug, Clone, Copy)]
pub(super) struct ContainerReporter<'a> {
    /// The pod's uid (container IDs derive from it).
    pub uid: &'a str,
    /// `<name>_<namespace>(<uid>)`, as back-off messages name the pod.
    pub pod_label: &'a str,
}

impl ContainerReporter<'_> {
    /// The status of `container` in `phase`. `creating_reason` is the waiting reason before it
    /// starts (`ContainerCreating`, or `PodInitializing` behind init containers). Timestamps that
    /// `old` already reports for the same state are kept.
    pub fn status(
        &self,
        container: &Container,
        phase: &ContainerPhase,
        creating_reason: &str,
        old: Option<&ContainerStatus>,
    ) -> ContainerStatus {
        let name = container.name.as_str();
        let written = container.image.as_deref().unwrap_or_default();
        let id = |run: u32| Some(container_id(self.uid, name, run));
        let mut status = ContainerStatus {
            name: name.to_owned(),
            image: image::normalize(written),
            started: Some(false),
            last_state: Some(ContainerState::default()),
            ..ContainerStatus::default()
        };
        let created = |status: &mut ContainerStatus, run: u32| {
            status.restart_count = i32::try_from(run).unwrap_or(i32::MAX);
            status.container_id = id(run);
            status.image_id = image::image_id(written);
        };
        match phase {
            ContainerPhase::Creating => status.state = Some(waiting(creating_reason, None)),
            ContainerPhase::Running { started_at, restarts, ready, last_exit } => {
                created(&mut status, *restarts);
                status.state = Some(running(*started_at));
                status.ready = *ready;
                status.started = Some(true);
                if let Some(exit) = last_exit {
                    status.last_state = Some(terminated(exit, id(restarts.saturating_sub(1))));
                }
            }
            ContainerPhase::CrashBackOff { restarts, last_exit, backoff } => {
                created(&mut status, *restarts);
                let message = format!(
                    "back-off {} restarting failed container={name} pod={}",
                    crate::duration::format(Duration::from_secs(backoff.as_secs().max(1))),
                    self.pod_label
                );
                status.state = Some(waiting("CrashLoopBackOff", Some(message)));
                status.last_state = Some(terminated(last_exit, id(*restarts)));
            }
            ContainerPhase::Exited { restarts, exit } => {
                created(&mut status, *restarts);
                status.state = Some(terminated(exit, id(*restarts)));
            }
            ContainerPhase::PullFailed { .. } => {
                status.state = Some(waiting("ErrImagePull", Some(pull_error(written))));
            }
            ContainerPhase::PullBackOff { .. } => {
                let message =
                    format!("Back-off pulling image \"{written}\": ErrImagePull: {}", pull_error(written));
                status.state = Some(waiting("ImagePullBackOff", Some(message)));
            }
        }
        if let Some(old) = old
            && old.restart_count == status.restart_count
            && same_state(old.state.as_ref(), status.state.as_ref())
        {
            status.state = old.state.clone();
            status.last_state = old.last_state.clone().or(status.last_state);
        }
        status
    }
}

/// A container status after the container was stopped at `at` (graceful deletion): a running
/// container exited with 0; one waiting to restart shows its last exit.
pub(super) fn stopped(status: &ContainerStatus, at: Timestamp) -> ContainerStatus {
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
    let mut stopped = ContainerStatus { ready: false, started: Some(false), ..status.clone() };
    if let Some(terminated) = terminated {
        stopped.state = Some(ContainerState { terminated: Some(terminated), ..ContainerState::default() });
    }
    stopped
}

/// The message of a failed pull, as containerd words a missing tag.
pub fn pull_error(image: &str) -> String {
    let reference = image::normalize(image);
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{reference}\": failed to resolve reference \"{reference}\": {reference}: not found"
    )
}

/// A stable container ID for run number `run` of a container.
fn container_id(uid: &str, name: &str, run: u32) -> String {
    format!("containerd://{}", fingerprint::hex(64, &["container", uid, name, &run.to_string()]))
}

fn running(started_at: Timestamp) -> ContainerState {
    ContainerState {
        running: Some(ContainerStateRunning { started_at: Some(time(started_at)) }),
        ..ContainerState::default()
    }
}

fn terminated(exit: &Exit, container_id: Option<String>) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            container_id,
            exit_code: exit.exit_code,
            reason: Some(if exit.exit_code == 0 { "Completed" } else { "Error" }.to_owned()),
            started_at: Some(time(exit.started_at)),
            finished_at: Some(time(exit.finished_at)),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting { reason: Some(reason.to_owned()), message }),
        ..ContainerState::default()
    }
}

/// Whether two states are the same state (running, terminated for the same reason, or waiting
/// for the same reason).
fn same_state(a: Option<&ContainerState>, b: Option<&ContainerState>) -> bool {
    #[derive(PartialEq)]
    enum Kind<'s> {
        Running,
        Terminated(Option<&'s str>),
        Waiting(Option<&'s str>),
    }
    fn kind(s: Option<&ContainerState>) -> Option<Kind<'_>> {
        let s = s?;
        if s.running.is_some() {
            Some(Kind::Running)
        } else if let Some(t) = &s.terminated {
            Some(Kind::Terminated(t.reason.as_deref()))
        } else {
            s.waiting.as_ref().map(|w| Kind::Waiting(w.reason.as_deref()))
        }
    }
    let (a, b) = (kind(a), kind(b));
    a.is_some() && a == b
}
