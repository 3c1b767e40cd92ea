//! What to do about one tracked container, decided from a snapshot: the policy's choice, the
//! container's UpdateRequests, its history and the time. No IO: the runtime gathers the
//! snapshot, calls [`decide`] or [`reconcile_request`], and carries the actions out.
//!
//! The order of the checks is the reference workflow's (policy, then interval, then request or
//! apply), with the stickiness Headwind lacks: a rejected image, or one rolled back after it
//! failed, is never proposed again for that container.

use std::time::Duration;

use jiff::Timestamp;

use crate::annotations::{UpdateConfig, interval_remaining};
use crate::history::{HistoryEntry, HistoryKind};
use crate::image::ImageRef;
use crate::policy::{Choice, ChoiceReason};
use crate::request::{Phase, TargetRef, UpdateRequest, UpdateRequestSpec, request_name};

/// Who approved updates that need no approval, as recorded in the history.
pub const AUTO_APPROVER: &str = "auto";

/// How long a proposed update waits for a decision by default.
pub const DEFAULT_REQUEST_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// One tracked container of one DaemonSet, as the runtime sees it now.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    /// The DaemonSet's namespace.
    pub namespace: &'a str,
    /// The DaemonSet's name.
    pub name: &'a str,
    /// The DaemonSet's configuration (from its annotations).
    pub config: &'a UpdateConfig,
    /// The container's name.
    pub container: &'a str,
    /// The container's image as the template spells it.
    pub current_image: &'a str,
    /// The UpdateRequests for this container (any phase).
    pub requests: &'a [&'a UpdateRequest],
    /// The DaemonSet's update history.
    pub history: &'a [HistoryEntry],
    /// When an update was last applied to the DaemonSet.
    pub last_update: Option<Timestamp>,
    /// How long a new request stays open.
    pub request_ttl: Duration,
    /// Now.
    pub now: Timestamp,
}

/// A step for the runtime.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Create an UpdateRequest named `name` (in the DaemonSet's namespace).
    Propose {
        /// The request's name.
        name: String,
        /// What it proposes.
        spec: Box<UpdateRequestSpec>,
        /// Whether an expired request of that name exists and must go first.
        replaces_expired: bool,
    },
    /// Patch the container to `new_image`.
    Apply(Application),
    /// Move a request to `phase` with `message`.
    SetPhase {
        /// The request's name.
        request: String,
        /// Its new phase.
        phase: Phase,
        /// Why, for the status message.
        message: String,
    },
    /// Nothing to do before `until` (the minimum update interval).
    WaitUntil(Timestamp),
}

/// An update to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// The container.
    pub container: String,
    /// The image it runs now (the expected value: the patch is guarded by it).
    pub current_image: String,
    /// The image it moves to.
    pub new_image: String,
    /// The request that carried it, if any.
    pub request: Option<String>,
    /// Who approved it ([`AUTO_APPROVER`] when no approval was required).
    pub approved_by: String,
    /// Why, in words (the change-cause and the notification say it).
    pub reason: String,
}

/// The image `choice` means for a container running `current`: the same repository, spelled
/// as the user spelled it, at the chosen tag. A digest is pinned only when the tag itself did
/// not change (a moved tag under `force`), since that is the only way the template changes.
pub fn new_image(current: &ImageRef, choice: &Choice) -> String {
    match &choice.reason {
        ChoiceReason::DigestMoved { .. } => current.with_tag(&choice.tag, choice.digest.as_deref()),
        _ => current.with_tag(&choice.tag, None),
    }
}

/// What to do now that the policy chose `choice` for the container of `situation`.
pub fn decide(situation: &Situation<'_>, current: &ImageRef, choice: Option<&Choice>) -> Vec<Action> {
    let Some(choice) = choice else { return Vec::new() };
    let new_image = new_image(current, choice);
    if new_image == situation.current_image {
        return Vec::new();
    }
    if blocked(situation, &new_image) {
        return Vec::new();
    }
    let name = request_name(situation.name, situation.container, &choice.tag);
    let mut actions = Vec::new();
    // A newer candidate supersedes requests still waiting for another image.
    for request in situation.requests {
        if request.phase() == Phase::Pending && request.spec.new_image != new_image {
            actions.push(Action::SetPhase {
                request: request.metadata.name.clone().unwrap_or_default(),
                phase: Phase::Expired,
                message: format!("superseded by {new_image}"),
            });
        }
    }
    let existing = situation.requests.iter().find(|r| r.metadata.name.as_deref() == Some(name.as_str()));
    let mut replaces_expired = false;
    if let Some(existing) = existing {
        match existing.phase() {
            Phase::Pending if expired(existing, situation.now) => {
                actions.push(Action::SetPhase {
                    request: name,
                    phase: Phase::Expired,
                    message: "not approved before it expired".to_owned(),
                });
                return actions;
            }
            // Expired earlier: the candidate is still the best, so ask again.
            Phase::Expired => replaces_expired = true,
            // Waiting, approved (reconcile_request applies it) or done: nothing new to ask.
            _ => return actions,
        }
    }
    let remaining =
        interval_remaining(situation.last_update, situation.now, situation.config.min_update_interval);
    if !remaining.is_zero() {
        let until = situation.now.checked_add(remaining).unwrap_or(Timestamp::MAX);
        actions.push(Action::WaitUntil(until));
        return actions;
    }
    let reason = choice.reason.to_string();
    if situation.config.require_approval {
        let expires_at = situation.now.checked_add(situation.request_ttl).unwrap_or(Timestamp::MAX);
        let spec = UpdateRequestSpec {
            target_ref: TargetRef {
                api_version: Some("apps/v1".to_owned()),
                kind: "DaemonSet".to_owned(),
                name: situation.name.to_owned(),
                namespace: Some(situation.namespace.to_owned()),
            },
            container_name: situation.container.to_owned(),
            current_image: Some(situation.current_image.to_owned()),
            new_image,
            policy: Some(situation.config.policy.kind().as_str().to_owned()),
            reason: Some(reason),
            require_approval: Some(true),
            expires_at: Some(expires_at.to_string()),
        };
        actions.push(Action::Propose { name, spec: Box::new(spec), replaces_expired });
    } else {
        actions.push(Action::Apply(Application {
            container: situation.container.to_owned(),
            current_image: situation.current_image.to_owned(),
            new_image,
            request: None,
            approved_by: AUTO_APPROVER.to_owned(),
            reason,
        }));
    }
    actions
}

/// Whether `image` may never be proposed again for the container: a person rejected it, or it
/// was rolled back after failing.
fn blocked(situation: &Situation<'_>, image: &str) -> bool {
    let rejected =
        situation.requests.iter().any(|r| r.phase() == Phase::Rejected && r.spec.new_image == image);
    rejected || rolled_back_from(situation.history, situation.container).any(|from| from == image)
}

/// The images a container was rolled back from, per the history: each rollback entry follows
/// (in time) the update it undid, which sits right after it in the newest-first list.
pub fn rolled_back_from<'a>(
    history: &'a [HistoryEntry],
    container: &'a str,
) -> impl Iterator<Item = &'a str> {
    let mine: Vec<&HistoryEntry> = history.iter().filter(|e| e.container == container).collect();
    let mut from = Vec::new();
    for (i, entry) in mine.iter().enumerate() {
        if entry.kind == Some(HistoryKind::Rollback)
            && let Some(undone) = mine.get(i + 1)
        {
            from.push(undone.image.as_str());
        }
    }
    from.into_iter()
}

fn expired(request: &UpdateRequest, now: Timestamp) -> bool {
    request.expires_at().is_some_and(|at| at <= now)
}

/// What to do about `request` itself: apply it once approved, expire it when its time is up.
/// `running` is the image its container runs now (`None`: the DaemonSet or the container is
/// gone).
pub fn reconcile_request(request: &UpdateRequest, running: Option<&str>, now: Timestamp) -> Vec<Action> {
    let name = request.metadata.name.clone().unwrap_or_default();
    let set = |phase, message: String| vec![Action::SetPhase { request: name.clone(), phase, message }];
    match request.phase() {
        Phase::Pending if expired(request, now) => {
            set(Phase::Expired, "not approved before it expired".to_owned())
        }
        Phase::Approved => {
            let spec = &request.spec;
            let Some(running) = running else {
                return set(
                    Phase::Failed,
                    format!(
                        "{} {} has no container {:?}",
                        spec.target_ref.kind, spec.target_ref.name, spec.container_name
                    ),
                );
            };
            if running == spec.new_image {
                return set(Phase::Completed, format!("{} already runs {running}", spec.container_name));
            }
            if let Some(expected) = &spec.current_image
                && expected != running
            {
                return set(
                    Phase::Failed,
                    format!(
                        "{} now runs {running}, not {expected} as when the update was proposed; not applied",
                        spec.container_name
                    ),
                );
            }
            let approved_by = request
                .status
                .as_ref()
                .and_then(|s| s.approved_by.clone())
                .unwrap_or_else(|| "unknown".to_owned());
            vec![Action::Apply(Application {
                container: spec.container_name.clone(),
                current_image: running.to_owned(),
                new_image: spec.new_image.clone(),
                request: Some(name),
                approved_by,
                reason: spec.reason.clone().unwrap_or_else(|| format!("update to {}", spec.new_image)),
            })]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests;
