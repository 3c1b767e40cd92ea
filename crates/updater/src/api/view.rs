//! How the approval API shows an UpdateRequest: flat, with the facts a person needs to decide,
//! rather than the custom resource's nested shape.

use serde::{Deserialize, Serialize};

use crate::request::{Phase, UpdateRequest};

/// One UpdateRequest as the approval API answers it (and `everynode updates list` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// The request's name.
    pub name: String,
    /// The request's namespace.
    pub namespace: String,
    /// The workload it would update.
    pub target: TargetView,
    /// The container whose image changes.
    pub container: String,
    /// The image the container runs now, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_image: Option<String>,
    /// The image it would run.
    pub new_image: String,
    /// Where the request stands (Pending when it has no status yet).
    pub phase: Phase,
    /// Why it was proposed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Until when it can be decided (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// When it was proposed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Who approved it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<String>,
    /// Who rejected it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<String>,
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_at: Option<String>,
    /// What happened last, in words (for a rejection: the reason given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The workload a request targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetView {
    /// `DaemonSet`.
    pub kind: String,
    /// Its namespace (the request's own unless the request says otherwise).
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl From<&UpdateRequest> for RequestView {
    fn from(request: &UpdateRequest) -> Self {
        let namespace = request.metadata.namespace.clone().unwrap_or_default();
        let spec = &request.spec;
        let status = request.status.clone().unwrap_or_default();
        RequestView {
            name: request.metadata.name.clone().unwrap_or_default(),
            target: TargetView {
                kind: spec.target_ref.kind.clone(),
                namespace: spec.target_ref.namespace.clone().unwrap_or_else(|| namespace.clone()),
                name: spec.target_ref.name.clone(),
            },
            namespace,
            container: spec.container_name.clone(),
            current_image: spec.current_image.clone(),
            new_image: spec.new_image.clone(),
            phase: request.phase(),
            reason: spec.reason.clone(),
            expires_at: spec.expires_at.clone(),
            created_at: request.metadata.creation_timestamp.as_ref().map(|t| t.0.to_string()),
            approved_by: status.approved_by,
            approved_at: status.approved_at,
            rejected_by: status.rejected_by,
            rejected_at: status.rejected_at,
            message: status.message,
        }
    }
}

/// The answer to a list: `{"items": [...]}`, sorted by namespace and name, so the shape can grow
/// (a continue token, say) without breaking clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestList {
    /// The requests.
    pub items: Vec<RequestView>,
}
