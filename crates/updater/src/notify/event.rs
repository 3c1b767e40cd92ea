//! What happened to a workload's image, in the one shape every notification channel renders from.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// The stages of an update that users want to hear about.
///
/// The serde and [`EventKind::as_str`] spelling (`update_applied`, ...) is the `event` field of the
/// generic webhook, the `X-Everynode-Event` header and the names used in channel `events` filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum EventKind {
    /// A newer image allowed by the policy was found.
    #[serde(rename = "update_detected")]
    UpdateDetected,
    /// An UpdateRequest was created and waits for approval.
    #[serde(rename = "update_request_created")]
    RequestCreated,
    /// Someone approved an UpdateRequest.
    #[serde(rename = "update_approved")]
    Approved,
    /// Someone rejected an UpdateRequest.
    #[serde(rename = "update_rejected")]
    Rejected,
    /// The new image was written to the workload; the rollout has started.
    #[serde(rename = "update_applied")]
    Applied,
    /// The update could not be applied.
    #[serde(rename = "update_failed")]
    Failed,
    /// The rollout failed its health checks and the previous image is being restored.
    #[serde(rename = "rollback_triggered")]
    RollbackTriggered,
    /// The previous image is back in the workload.
    #[serde(rename = "rollback_completed")]
    RollbackCompleted,
}

/// How alarming an event is; chat renderers pick colours and wording from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Nothing to do.
    Info,
    /// All went as planned.
    Good,
    /// Someone should look (an approval is waiting, a rollback is running).
    Warning,
    /// Something failed or was refused.
    Attention,
}

impl EventKind {
    /// Every kind, in workflow order.
    pub const ALL: [EventKind; 8] = [
        EventKind::UpdateDetected,
        EventKind::RequestCreated,
        EventKind::Approved,
        EventKind::Rejected,
        EventKind::Applied,
        EventKind::Failed,
        EventKind::RollbackTriggered,
        EventKind::RollbackCompleted,
    ];

    /// The stable machine name (matches the serde spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::UpdateDetected => "update_detected",
            EventKind::RequestCreated => "update_request_created",
            EventKind::Approved => "update_approved",
            EventKind::Rejected => "update_rejected",
            EventKind::Applied => "update_applied",
            EventKind::Failed => "update_failed",
            EventKind::RollbackTriggered => "rollback_triggered",
            EventKind::RollbackCompleted => "rollback_completed",
        }
    }

    /// A short human title for chat headers.
    pub fn title(self) -> &'static str {
        match self {
            EventKind::UpdateDetected => "Image update detected",
            EventKind::RequestCreated => "Image update awaiting approval",
            EventKind::Approved => "Image update approved",
            EventKind::Rejected => "Image update rejected",
            EventKind::Applied => "Image update applied",
            EventKind::Failed => "Image update failed",
            EventKind::RollbackTriggered => "Rollback triggered",
            EventKind::RollbackCompleted => "Rollback completed",
        }
    }

    /// How alarming this kind of event is.
    pub fn severity(self) -> Severity {
        match self {
            EventKind::UpdateDetected => Severity::Info,
            EventKind::Approved | EventKind::Applied | EventKind::RollbackCompleted => Severity::Good,
            EventKind::RequestCreated | EventKind::RollbackTriggered => Severity::Warning,
            EventKind::Rejected | EventKind::Failed => Severity::Attention,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event name that is not one of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown notification event `{0}`")]
pub struct UnknownEventKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownEventKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownEventKind(s.to_owned()))
    }
}

/// The workload an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// `DaemonSet` for everything this crate updates today.
    pub kind: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub name: String,
}

impl Workload {
    /// A DaemonSet reference, the common case.
    pub fn daemon_set(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Workload { kind: "DaemonSet".to_owned(), namespace: namespace.into(), name: name.into() }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// One notification: the input of every renderer, carrying all the facts any channel shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationEvent {
    /// What happened.
    pub kind: EventKind,
    /// To which workload.
    pub workload: Workload,
    /// The container whose image changes.
    pub container: String,
    /// The image before the change (for rollbacks: the image being rolled back from).
    pub current_image: String,
    /// The image after the change (for rollbacks: the image restored).
    pub new_image: String,
    /// The UpdateRequest behind the change, when approval was involved.
    pub update_request: Option<String>,
    /// Who approved or rejected it.
    pub actor: Option<String>,
    /// Free text: the failure reason, the rollback cause, a rejection comment.
    pub message: Option<String>,
    /// When it happened (not when it was delivered, so retries send identical bodies).
    pub timestamp: jiff::Timestamp,
}

impl NotificationEvent {
    /// A one-line summary, used as the chat fallback text (push notifications, screen readers).
    pub fn summary(&self) -> String {
        format!(
            "{}: {}, container {}: {} -> {}",
            self.kind.title(),
            self.workload,
            self.container,
            self.current_image,
            self.new_image
        )
    }

    /// For an update awaiting approval, how to act on it, as text.
    ///
    /// Deliberately not a button or link: the tool we replace put an "Approve" button in chat that
    /// issued a GET against a POST-only endpoint, and a link that approves on GET would let any
    /// link preview or crawler approve updates. Approving stays an authenticated, deliberate action.
    pub fn approval_hint(&self) -> Option<String> {
        if self.kind != EventKind::RequestCreated {
            return None;
        }
        let request = self.update_request.as_deref()?;
        Some(format!(
            "Review it with `kubectl -n {ns} get updaterequest {request} -o yaml`, then approve or reject \
             it through the everynode approval API.",
            ns = self.workload.namespace
        ))
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// The event the renderer tests share: node-exporter updated after an approval.
    pub(crate) fn applied() -> NotificationEvent {
        NotificationEvent {
            kind: EventKind::Applied,
            workload: Workload::daemon_set("monitoring", "node-exporter"),
            container: "node-exporter".into(),
            current_image: "prom/node-exporter:v1.5.0".into(),
            new_image: "prom/node-exporter:v1.6.0".into(),
            update_request: Some("node-exporter-v1-6-0".into()),
            actor: Some("admin@example.com".into()),
            message: None,
            timestamp: "2025-11-06T10:30:00Z".parse().unwrap(),
        }
    }

    pub(crate) fn with_kind(kind: EventKind) -> NotificationEvent {
        NotificationEvent { kind, ..applied() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip_through_from_str_and_serde() {
        for kind in EventKind::ALL {
            assert_eq!(kind.as_str().parse::<EventKind>(), Ok(kind));
            let json = format!("\"{kind}\"");
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), kind);
        }
        assert!("applied".parse::<EventKind>().is_err());
    }

    #[test]
    fn summary_names_workload_container_and_images() {
        assert_eq!(
            fixtures::applied().summary(),
            "Image update applied: DaemonSet monitoring/node-exporter, container node-exporter: \
             prom/node-exporter:v1.5.0 -> prom/node-exporter:v1.6.0"
        );
    }

    #[test]
    fn approval_hint_only_for_created_requests() {
        let created = fixtures::with_kind(EventKind::RequestCreated);
        let hint = created.approval_hint().unwrap();
        assert!(hint.contains("kubectl -n monitoring get updaterequest node-exporter-v1-6-0"), "{hint}");
        assert_eq!(fixtures::applied().approval_hint(), None);
    }
}
