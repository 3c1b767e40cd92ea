//! Health-gated automatic rollback, DaemonSet-aware: after an update, the rollout is checked at
//! intervals until it completes or `rollback-timeout` passes; `health-check-retries`
//! consecutive failed checks put the previous image back.
//!
//! What makes a check fair to a DaemonSet:
//! - Nothing is judged until the controller has seen the update (`observedGeneration` at least
//!   the generation our patch produced): before that, the status describes the old template.
//! - Only pods of the new revision (their `controller-revision-hash`) are looked at: old pods
//!   crash-looping for their own reasons are not the new image's fault.
//! - A check fails on new pods in CrashLoopBackOff or failing to pull, on their restarts
//!   growing, or on the rollout making no progress while new pods sit unready. A rollout held
//!   back by maxUnavailable with healthy new pods is slow, not failing.
//!
//! The watch lives in an annotation on the DaemonSet ([`WATCH_ANNOTATION`]), so a restarted
//! updater carries on where it was.

use std::num::NonZeroU32;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The annotation holding the rollouts being watched (a JSON array of [`Watch`]).
pub const WATCH_ANNOTATION: &str = "everynode.io/rollout-watch";

/// Waiting reasons of a container that will not start on its own.
const FAILING_REASONS: [&str; 7] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// One container's update being watched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watch {
    /// The container updated.
    pub container: String,
    /// The image to go back to.
    pub previous_image: String,
    /// The image being rolled out.
    pub new_image: String,
    /// When the update was applied (RFC 3339).
    #[serde(with = "rfc3339")]
    pub started_at: Timestamp,
    /// The DaemonSet's generation right after the update.
    pub generation: i64,
    /// Consecutive failed checks so far.
    #[serde(default)]
    pub failed_checks: u32,
    /// The rollout's progress at the last check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_progress: Option<Progress>,
    /// The new pods' restarts, summed, at the last check.
    #[serde(default)]
    pub last_restarts: u64,
    /// The UpdateRequest that carried the update, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
}

mod rfc3339 {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(timestamp: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(timestamp)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The DaemonSet status counters that say how far a rollout got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// `updatedNumberScheduled`.
    pub updated: i64,
    /// `numberAvailable`.
    pub available: i64,
    /// `numberReady`.
    pub ready: i64,
}

/// What the runtime saw of the DaemonSet and its new pods at a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// `metadata.generation`.
    pub generation: i64,
    /// `status.observedGeneration`.
    pub observed_generation: i64,
    /// `status.desiredNumberScheduled`.
    pub desired: i64,
    /// The progress counters.
    pub progress: Progress,
    /// Whether the DaemonSet updates pods only when they are deleted.
    pub on_delete: bool,
    /// The pods of the newest revision.
    pub new_pods: Vec<PodHealth>,
}

/// One new-revision pod, as a health check sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodHealth {
    /// The pod's name.
    pub name: String,
    /// Whether its Ready condition is True.
    pub ready: bool,
    /// A container's waiting reason, if one is waiting.
    pub waiting_reason: Option<String>,
    /// Its containers' restarts, summed.
    pub restarts: u64,
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The controller has not observed the update yet: nothing judged.
    NotObserved,
    /// Checked; keep watching with the updated watch. `failure` says why the check failed.
    Continue {
        /// The watch to store.
        watch: Watch,
        /// Why this check failed, if it did.
        failure: Option<String>,
    },
    /// The rollout completed: every desired pod is updated and available.
    Succeeded,
    /// Put the previous image back.
    RollBack {
        /// Why, in words.
        reason: String,
    },
    /// The watch is over without completion or failure (OnDelete, or a slow but healthy
    /// rollout at `rollback-timeout`).
    Ended {
        /// What was seen last.
        message: String,
    },
}

/// One health check of `watch` against `seen`, at `now`.
pub fn check(
    watch: &Watch,
    seen: &Observation,
    retries: NonZeroU32,
    timeout: Duration,
    now: Timestamp,
) -> Step {
    let deadline_passed = now.duration_since(watch.started_at).as_secs_f64() >= timeout.as_secs_f64();
    if seen.generation > watch.generation {
        // The DaemonSet changed again after our update (a person, or another update): the
        // rollout being watched is no longer the one in progress.
        return Step::Ended {
            message: format!("the DaemonSet changed after the update (generation {})", seen.generation),
        };
    }
    if seen.observed_generation < watch.generation {
        return if deadline_passed {
            Step::Ended { message: "the DaemonSet controller never observed the update".to_owned() }
        } else {
            Step::NotObserved
        };
    }
    let progress = seen.progress;
    let complete = progress.updated >= seen.desired && progress.available >= seen.desired;
    let failure = failure(watch, seen);
    if complete && failure.is_none() {
        return Step::Succeeded;
    }
    let failed_checks = if failure.is_some() { watch.failed_checks.saturating_add(1) } else { 0 };
    if let Some(reason) = &failure
        && failed_checks >= retries.get()
    {
        return Step::RollBack { reason: format!("{reason} ({failed_checks} failed health checks)") };
    }
    if deadline_passed {
        let message = match &failure {
            Some(reason) => {
                format!("monitoring ended after {} s; the last check failed: {reason}", timeout.as_secs())
            }
            None if seen.on_delete => format!(
                "monitoring ended after {} s; OnDelete: {} of {} pods updated, none failing",
                timeout.as_secs(),
                progress.updated,
                seen.desired
            ),
            None => format!(
                "monitoring ended after {} s with the rollout healthy but incomplete: {} of {} updated, {} available",
                timeout.as_secs(),
                progress.updated,
                seen.desired,
                progress.available
            ),
        };
        return Step::Ended { message };
    }
    let restarts = seen.new_pods.iter().map(|p| p.restarts).sum();
    let watch =
        Watch { failed_checks, last_progress: Some(progress), last_restarts: restarts, ..watch.clone() };
    Step::Continue { watch, failure }
}

/// Why this check fails, if it does.
fn failure(watch: &Watch, seen: &Observation) -> Option<String> {
    if let Some(pod) = seen
        .new_pods
        .iter()
        .find(|p| p.waiting_reason.as_deref().is_some_and(|r| FAILING_REASONS.contains(&r)))
    {
        let failing = seen
            .new_pods
            .iter()
            .filter(|p| p.waiting_reason.as_deref().is_some_and(|r| FAILING_REASONS.contains(&r)))
            .count();
        return Some(format!(
            "{failing} new pod(s) failing, e.g. {} in {}",
            pod.name,
            pod.waiting_reason.as_deref().unwrap_or_default()
        ));
    }
    let restarts: u64 = seen.new_pods.iter().map(|p| p.restarts).sum();
    if restarts > watch.last_restarts {
        return Some(format!("new pods restarted {} more time(s)", restarts - watch.last_restarts));
    }
    let unready = seen.new_pods.iter().filter(|p| !p.ready).count();
    let stalled = watch.last_progress == Some(seen.progress);
    if stalled && unready > 0 && !seen.on_delete {
        return Some(format!(
            "no progress since the last check ({} of {} updated, {} available) with {unready} new pod(s) not ready",
            seen.progress.updated, seen.desired, seen.progress.available
        ));
    }
    None
}

/// Reads the watch annotation; an unreadable one is dropped (an updater will not act on
/// state it cannot read), which the caller logs.
pub fn read_watches(annotation: Option<&str>) -> Result<Vec<Watch>, serde_json::Error> {
    match annotation {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text),
    }
}

/// The watch annotation's value, `None` when nothing is watched (the annotation is removed).
pub fn render_watches(watches: &[Watch]) -> Option<String> {
    if watches.is_empty() {
        return None;
    }
    serde_json::to_string(watches).ok()
}

#[cfg(test)]
mod tests;
