//! `ApiError`: every failure a request can meet, rendered as the Kubernetes `Status` kubectl and
//! client-go understand (reason, code, details with field causes).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use everynode_api::FieldError;
use everynode_store::StoreError;
use serde_json::{Value, json};

/// A `Result` whose error is an [`ApiError`].
pub type ApiResult<T> = Result<T, ApiError>;

/// A failed request, as a Kubernetes `Status` (`status: Failure`).
///
/// The constructors mirror apimachinery's `errors.NewXxx` helpers, so messages read as kubectl users
/// know them (`daemonsets.apps "x" not found`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// The HTTP status code (also `Status.code`).
    pub code: u16,
    /// `Status.reason`, e.g. `NotFound`, `Invalid`.
    pub reason: &'static str,
    /// `Status.message`, printed verbatim by kubectl.
    pub message: String,
    /// `Status.details`, when the error concerns one object.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        let mut details = json!({ "name": name, "kind": kind });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        self.details = Some(details);
        self
    }

    /// 404: `<resource>.<group> "<name>" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", qualified(group, resource)))
            .with_details(group, resource, name)
    }

    /// 404 for a path that names no resource.
    pub fn no_route(path: &str) -> Self {
        ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    /// 409: `<resource>.<group> "<name>" already exists`.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 409 Conflict, as for a stale `resourceVersion`.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 422 Invalid with one cause per field error: `<Kind>.<group> "<name>" is invalid: ...`.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let qualified_kind = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        let message = everynode_api::validation::message::status_message(&qualified_kind, name, errors);
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({ "reason": e.kind.cause_type(), "message": e.body(), "field": e.field }))
            .collect();
        let mut error = ApiError::new(422, "Invalid", message).with_details(group, kind, name);
        if let Some(details) = error.details.as_mut() {
            details["causes"] = Value::Array(causes);
        }
        error
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// 403 Forbidden, e.g. for deleting a system namespace.
    pub fn forbidden(group: &str, resource: &str, name: &str, why: &str) -> Self {
        ApiError::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed(verb: &str) -> Self {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({verb})"),
        )
    }

    /// 406 NotAcceptable, for Accept headers we cannot serve (protobuf only).
    pub fn not_acceptable(accept: &str) -> Self {
        ApiError::new(
            406,
            "NotAcceptable",
            format!(
                "only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (not {accept})"
            ),
        )
    }

    /// 410 Gone, for watches and continue tokens older than the retained history.
    pub fn gone(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {limit}"))
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    /// 500 InternalError.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(500, "InternalError", format!("Internal error occurred: {}", message.into()))
    }

    /// 503 ServiceUnavailable, for retryable storage failures.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    /// Maps a store error for an object of `group`/`resource`.
    pub fn from_store(error: StoreError, group: &str, resource: &str) -> Self {
        match error {
            StoreError::NotFound { key } => ApiError::not_found(group, resource, &key.name),
            StoreError::AlreadyExists { key } => ApiError::already_exists(group, resource, &key.name),
            StoreError::Conflict { key, reason, .. } => match reason {
                everynode_store::ConflictReason::ResourceVersion { .. } => ApiError::conflict(
                    group,
                    resource,
                    &key.name,
                    "the object has been modified; please apply your changes to the latest version and try again",
                ),
                uid @ everynode_store::ConflictReason::Uid { .. } => {
                    ApiError::conflict(group, resource, &key.name, &uid.to_string())
                }
            },
            StoreError::TooOldRevision { requested, oldest } => {
                ApiError::gone(format!("too old resource version: {requested} ({oldest})"))
            }
            StoreError::RevisionTooLarge { requested, current } => ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {requested}, current: {current}"),
            ),
            StoreError::InvalidObject { reason, .. } => ApiError::bad_request(reason),
            error @ StoreError::Storage { .. } => ApiError::unavailable(error.to_string()),
            error @ (StoreError::Corrupt(_) | StoreError::Closed) => ApiError::internal(error.to_string()),
        }
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl From<StoreError> for ApiError {
    /// Without a resource to name; handlers prefer [`ApiError::from_store`].
    fn from(error: StoreError) -> Self {
        ApiError::from_store(error, "", "objects")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.status()).unwrap_or_default();
        (code, [(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// `daemonsets.apps`, or `pods` for the core group.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") }
}
