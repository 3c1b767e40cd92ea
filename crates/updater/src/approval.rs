//! Approving and rejecting an UpdateRequest: the rules, the status a decision writes, and the one
//! guarded write shared by the approval API and `everynode updates`.
//!
//! Rules: only a Pending request (no status yet, or phase Pending) whose `expiresAt` has not
//! passed can be decided. The tool we replace never enforced `expiresAt`, so a week-old request
//! could still be approved; here an expired one is refused and marked Expired on the spot, so
//! the refusal and the stored phase agree.
//!
//! The write is a JSON merge patch of the status subresource carrying the `resourceVersion` that
//! was read, so it applies only to the request as it was judged. If the runtime (or a second
//! approver) changed it in between, the API server answers 409; the request is then read again
//! and judged again once, which turns a race with an expiry into a clear "is Expired" answer.

use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::request::{Phase, UpdateRequest, UpdateRequestStatus};

/// Result alias for [`decide`].
pub type Result<T, E = DecisionError> = std::result::Result<T, E>;

/// How often a decision is judged and written: the first time, plus one retry after a 409, as a
/// person clicking "approve" expects an answer, not a retry loop racing the runtime.
const ATTEMPTS: usize = 2;

/// The message an expired request carries (the runtime writes the same one).
pub const EXPIRED_MESSAGE: &str = "not approved before it expired";

/// What a person decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Apply the update.
    Approve {
        /// Why, if the approver said; becomes `status.message`.
        reason: Option<String>,
    },
    /// Never apply it (and never propose this image again for the container).
    Reject {
        /// Why, if the rejecter said; becomes `status.message`.
        reason: Option<String>,
    },
}

impl Decision {
    /// The decision in the past tense, for messages ("only Pending requests can be approved").
    pub fn past_tense(&self) -> &'static str {
        match self {
            Decision::Approve { .. } => "approved",
            Decision::Reject { .. } => "rejected",
        }
    }

    /// The phase the decision moves a request to.
    pub fn phase(&self) -> Phase {
        match self {
            Decision::Approve { .. } => Phase::Approved,
            Decision::Reject { .. } => Phase::Rejected,
        }
    }

    /// The reason given, if any (blank counts as none).
    pub fn reason(&self) -> Option<&str> {
        let (Decision::Approve { reason } | Decision::Reject { reason }) = self;
        reason.as_deref().map(str::trim).filter(|r| !r.is_empty())
    }
}

/// What to do with a request, judged from a snapshot of it (see [`plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The decision stands: write this status.
    Write(UpdateRequestStatus),
    /// The request expired before anyone decided: write this (Expired) status, then refuse.
    Expire {
        /// The Expired status.
        status: UpdateRequestStatus,
        /// The request's `expiresAt`, as written.
        expires_at: String,
    },
    /// The request was decided already (or finished): refuse, writing nothing.
    Refuse(Phase),
}

/// Judges `decision` by `identity` on `request` at `now`. Pure: [`decide`] does the IO.
///
/// Expiry is checked first among pending requests with the runtime's rule (`expiresAt <= now`),
/// so the two never disagree about whether a request is still open.
pub fn plan(request: &UpdateRequest, decision: &Decision, identity: &str, now: Timestamp) -> Plan {
    let phase = request.phase();
    if phase != Phase::Pending {
        return Plan::Refuse(phase);
    }
    let at = rfc3339(now);
    if request.expires_at().is_some_and(|expires| expires <= now) {
        let status = UpdateRequestStatus {
            phase: Some(Phase::Expired),
            message: Some(EXPIRED_MESSAGE.to_owned()),
            last_updated: Some(at),
            ..UpdateRequestStatus::default()
        };
        let expires_at = request.spec.expires_at.clone().unwrap_or_default();
        return Plan::Expire { status, expires_at };
    }
    let message = match decision.reason() {
        Some(reason) => reason.to_owned(),
        None => format!("{} by {identity}", decision.past_tense()),
    };
    let mut status = UpdateRequestStatus {
        phase: Some(decision.phase()),
        message: Some(message),
        last_updated: Some(at.clone()),
        ..UpdateRequestStatus::default()
    };
    match decision {
        Decision::Approve { .. } => {
            status.approved_by = Some(identity.to_owned());
            status.approved_at = Some(at);
        }
        Decision::Reject { .. } => {
            status.rejected_by = Some(identity.to_owned());
            status.rejected_at = Some(at);
        }
    }
    Plan::Write(status)
}

/// The merge patch that makes the stored status exactly `status`, applied only if the object
/// still has `resource_version` (an absent version writes unconditionally).
///
/// Every status field is present: the ones `status` lacks as `null`, which a merge patch reads
/// as "delete", so no field of an earlier status (a stale `message`, say) survives the write.
pub fn status_patch(resource_version: Option<&str>, status: &UpdateRequestStatus) -> Value {
    let UpdateRequestStatus {
        phase,
        approved_by,
        approved_at,
        rejected_by,
        rejected_at,
        message,
        last_updated,
    } = status;
    let mut patch = json!({
        "status": {
            "phase": phase.map(Phase::as_str),
            "approvedBy": approved_by,
            "approvedAt": approved_at,
            "rejectedBy": rejected_by,
            "rejectedAt": rejected_at,
            "message": message,
            "lastUpdated": last_updated,
        }
    });
    if let Some(version) = resource_version {
        patch["metadata"] = json!({ "resourceVersion": version });
    }
    patch
}

/// `now` to the second, as RFC 3339 (`2025-11-06T10:30:00Z`): what kubectl shows and people type.
pub fn rfc3339(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// Approves or rejects `namespace/name` as `identity` at `now`, returning the request as stored
/// after the write.
///
/// Reads the request, [`plan`]s, and writes the status through the status subresource guarded by
/// the resourceVersion read. A 409 from the API server means the request changed meanwhile: it is
/// read and judged again, once. An expired request is marked Expired and refused.
pub async fn decide(
    client: &Client,
    namespace: &str,
    name: &str,
    decision: &Decision,
    identity: &str,
    now: Timestamp,
) -> Result<UpdateRequest> {
    let key = format!("{namespace}/{name}");
    if identity.trim().is_empty() {
        return Err(DecisionError::NoIdentity);
    }
    let api: Api<UpdateRequest> = Api::namespaced(client.clone(), namespace);
    let api_error = |source| DecisionError::Api { request: key.clone(), source };
    for _ in 0..ATTEMPTS {
        let request = match api.get_opt(name).await.map_err(api_error)? {
            Some(request) => request,
            None => return Err(DecisionError::NotFound { request: key }),
        };
        let (status, expires_at) = match plan(&request, decision, identity, now) {
            Plan::Refuse(phase) => {
                return Err(DecisionError::NotPending {
                    request: key,
                    phase,
                    decision: decision.past_tense(),
                });
            }
            Plan::Write(status) => (status, None),
            Plan::Expire { status, expires_at } => (status, Some(expires_at)),
        };
        let patch = status_patch(request.resource_version().as_deref(), &status);
        match api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(stored) => {
                return match expires_at {
                    None => Ok(stored),
                    Some(expires_at) => Err(DecisionError::Expired {
                        request: key,
                        expires_at,
                        decision: decision.past_tense(),
                        marked: true,
                    }),
                };
            }
            Err(kube::Error::Api(status)) if status.is_conflict() => continue,
            Err(kube::Error::Api(status)) if status.is_not_found() => {
                return Err(DecisionError::NotFound { request: key });
            }
            Err(source) => return Err(api_error(source)),
        }
    }
    Err(DecisionError::Conflict { request: key, decision: decision.past_tense() })
}

/// Why a decision was not recorded. `Conflict` and `Api` are worth retrying; the others fail
/// again for the same request until someone changes it.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// No approver identity was given; a decision must say who made it.
    #[error("a decision needs an identity (approvedBy/rejectedBy); none was given")]
    NoIdentity,
    /// The request does not exist.
    #[error("updaterequest {request} not found")]
    NotFound {
        /// `namespace/name`.
        request: String,
    },
    /// The request was decided already, or has finished.
    #[error("updaterequest {request} is {phase}; only Pending requests can be {decision}")]
    NotPending {
        /// `namespace/name`.
        request: String,
        /// Its phase.
        phase: Phase,
        /// `approved` or `rejected`.
        decision: &'static str,
    },
    /// The request's `expiresAt` has passed.
    #[error("updaterequest {request} expired at {expires_at}; it can no longer be {decision}")]
    Expired {
        /// `namespace/name`.
        request: String,
        /// Its `expiresAt`.
        expires_at: String,
        /// `approved` or `rejected`.
        decision: &'static str,
        /// Whether this call marked it Expired (false: it was marked before).
        marked: bool,
    },
    /// The request changed between reading and writing, twice. Retryable.
    #[error("updaterequest {request} kept changing while it was being {decision}; try again")]
    Conflict {
        /// `namespace/name`.
        request: String,
        /// `approved` or `rejected`.
        decision: &'static str,
    },
    /// The API server could not be reached or refused otherwise (e.g. the CRD is not installed,
    /// or the caller may not patch the status). Retryable when transient.
    #[error("updaterequest {request}: {source}")]
    Api {
        /// `namespace/name`.
        request: String,
        /// What the client reported.
        #[source]
        source: kube::Error,
    },
}

impl DecisionError {
    /// Whether the same call may succeed later without anyone changing the request.
    pub fn is_retryable(&self) -> bool {
        matches!(self, DecisionError::Conflict { .. } | DecisionError::Api { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{TargetRef, UpdateRequestSpec};

    fn request(expires_at: Option<&str>, phase: Option<Phase>) -> UpdateRequest {
        let mut request = UpdateRequest::new(
            "node-exporter-update-v1-6-0",
            UpdateRequestSpec {
                target_ref: TargetRef {
                    api_version: Some("apps/v1".into()),
                    kind: "DaemonSet".into(),
                    name: "node-exporter".into(),
                    namespace: Some("monitoring".into()),
                },
                container_name: "node-exporter".into(),
                current_image: Some("prom/node-exporter:v1.5.0".into()),
                new_image: "prom/node-exporter:v1.6.0".into(),
                policy: Some("minor".into()),
                reason: None,
                require_approval: Some(true),
                expires_at: expires_at.map(str::to_owned),
            },
        );
        request.status = phase.map(|phase| UpdateRequestStatus { phase: Some(phase), ..Default::default() });
        request
    }

    fn now() -> Timestamp {
        "2025-11-06T10:30:00.123456Z".parse().unwrap()
    }

    fn approve() -> Decision {
        Decision::Approve { reason: None }
    }

    #[test]
    fn approving_a_pending_request_records_who_and_when_to_the_second() {
        let plan = plan(&request(Some("2025-11-13T10:30:00Z"), None), &approve(), "alice", now());
        let Plan::Write(status) = plan else { panic!("expected a write, got {plan:?}") };
        assert_eq!(status.phase, Some(Phase::Approved));
        assert_eq!(status.approved_by.as_deref(), Some("alice"));
        assert_eq!(status.approved_at.as_deref(), Some("2025-11-06T10:30:00Z"));
        assert_eq!(status.last_updated.as_deref(), Some("2025-11-06T10:30:00Z"));
        assert_eq!(status.message.as_deref(), Some("approved by alice"));
        assert_eq!(status.rejected_by, None);
    }

    #[test]
    fn rejecting_records_the_reason_as_the_message() {
        let decision = Decision::Reject { reason: Some("  breaks the CNI  ".into()) };
        let plan = plan(&request(None, Some(Phase::Pending)), &decision, "bob", now());
        let Plan::Write(status) = plan else { panic!("expected a write, got {plan:?}") };
        assert_eq!(status.phase, Some(Phase::Rejected));
        assert_eq!(status.rejected_by.as_deref(), Some("bob"));
        assert_eq!(status.rejected_at.as_deref(), Some("2025-11-06T10:30:00Z"));
        assert_eq!(status.message.as_deref(), Some("breaks the CNI"));
        assert_eq!(status.approved_by, None);
    }

    #[test]
    fn a_blank_reason_counts_as_none() {
        let decision = Decision::Reject { reason: Some("   ".into()) };
        let Plan::Write(status) = plan(&request(None, None), &decision, "bob", now()) else { panic!() };
        assert_eq!(status.message.as_deref(), Some("rejected by bob"));
    }

    #[test]
    fn only_pending_requests_can_be_decided() {
        for phase in [Phase::Approved, Phase::Rejected, Phase::Completed, Phase::Failed, Phase::Expired] {
            assert_eq!(plan(&request(None, Some(phase)), &approve(), "alice", now()), Plan::Refuse(phase));
        }
    }

    #[test]
    fn a_request_past_its_expiry_is_expired_instead_of_approved() {
        for expires_at in ["2025-11-06T10:30:00Z", "2025-11-01T00:00:00Z", "next tuesday"] {
            let plan = plan(&request(Some(expires_at), None), &approve(), "alice", now());
            let Plan::Expire { status, expires_at: at } = plan else { panic!("{expires_at}: got {plan:?}") };
            assert_eq!(status.phase, Some(Phase::Expired), "{expires_at}");
            assert_eq!(status.message.as_deref(), Some(EXPIRED_MESSAGE));
            assert_eq!(status.approved_by, None);
            assert_eq!(at, expires_at);
        }
    }

    #[test]
    fn the_status_patch_guards_the_version_and_clears_other_fields() {
        let status = UpdateRequestStatus {
            phase: Some(Phase::Approved),
            approved_by: Some("alice".into()),
            ..Default::default()
        };
        let patch = status_patch(Some("42"), &status);
        assert_eq!(patch["metadata"]["resourceVersion"], "42");
        assert_eq!(patch["status"]["phase"], "Approved");
        assert_eq!(patch["status"]["approvedBy"], "alice");
        assert!(patch["status"].as_object().unwrap().contains_key("rejectedBy"));
        assert_eq!(patch["status"]["rejectedBy"], Value::Null);
        assert!(status_patch(None, &status).get("metadata").is_none());
    }

    #[test]
    fn refusals_say_what_is_wrong_and_whether_to_retry() {
        let error = DecisionError::NotPending {
            request: "monitoring/x".into(),
            phase: Phase::Rejected,
            decision: "approved",
        };
        assert_eq!(
            error.to_string(),
            "updaterequest monitoring/x is Rejected; only Pending requests can be approved"
        );
        assert!(!error.is_retryable());
        assert!(DecisionError::Conflict { request: "a/b".into(), decision: "rejected" }.is_retryable());
    }
}
