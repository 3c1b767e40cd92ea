//! The approval HTTP API: list UpdateRequests, and approve or reject one, as an authenticated
//! person.
//!
//! Routes (all JSON):
//! - `GET  /api/v1/updaterequests[?namespace=NS]` answers `{"items": [RequestView...]}`;
//! - `GET  /api/v1/updaterequests/{namespace}/{name}` answers one [`RequestView`];
//! - `POST /api/v1/updaterequests/{namespace}/{name}/approve` and `.../reject`, with an optional
//!   body `{"reason": "..."}`, answer the request as stored after the decision.
//!
//! Security by default: the tool we replace served approvals to anyone who could reach the port.
//! Here every route, unknown ones included, first needs `Authorization: Bearer <token>` with a
//! token from [`Tokens`]; without configured tokens every request is refused (401), never let
//! through. The token's user is recorded as `approvedBy`/`rejectedBy`, so nobody can claim to be
//! someone else. Tokens are never logged.
//!
//! Errors are Kubernetes `Status` objects like the webhook routes' (`message`, `reason`, `code`):
//! 401 unauthenticated, 400 malformed input, 404 unknown request, 409 not Pending, expired or
//! changed concurrently, 502 when the Kubernetes API fails.

mod tokens;
mod view;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams};
use serde::Deserialize;

pub use self::tokens::{Tokens, TokensError};
pub use self::view::{RequestList, RequestView, TargetView};
use crate::approval::{self, Decision, DecisionError};
use crate::request::UpdateRequest;

/// Decision bodies hold one short reason; anything bigger is refused (413) before it is read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The `WWW-Authenticate` challenge of every 401 (RFC 6750).
const CHALLENGE: &str = "Bearer realm=\"everynode\"";

/// What the routes share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The Kubernetes client the requests are read and decided through (its identity needs get,
    /// list and patch on `updaterequests` and `updaterequests/status`).
    pub client: Client,
    /// Who may call the API, and as whom.
    pub tokens: Arc<Tokens>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").field("tokens", &self.tokens).finish_non_exhaustive()
    }
}

/// The approval API's routes (see the module docs), every one behind bearer authentication.
pub fn router(state: ApiState) -> Router {
    if state.tokens.is_empty() {
        tracing::warn!("no approval API tokens configured: every approval API request is refused (401)");
    }
    Router::new()
        .route("/api/v1/updaterequests", get(list))
        .route("/api/v1/updaterequests/{namespace}/{name}", get(show))
        .route("/api/v1/updaterequests/{namespace}/{name}/approve", post(approve))
        .route("/api/v1/updaterequests/{namespace}/{name}/reject", post(reject))
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        // Layers wrap everything added before them, the fallback included: nothing is reachable
        // without a token, not even the knowledge of which routes exist.
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// The authenticated caller's identity, put into the request by [`authenticate`].
#[derive(Debug, Clone)]
struct Caller(String);

async fn authenticate(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let refusal = match bearer_token(request.headers()) {
        _ if state.tokens.is_empty() => "no approval API tokens are configured; every request is refused",
        None => "missing bearer token (send Authorization: Bearer <token>)",
        Some(token) => match state.tokens.identify(token) {
            Some(identity) => {
                let caller = Caller(identity.to_owned());
                request.extensions_mut().insert(caller);
                return next.run(request).await;
            }
            None => "invalid bearer token",
        },
    };
    let (method, path) = (request.method(), request.uri().path());
    tracing::warn!(%method, path, refusal, "approval API request refused");
    ApiError::Unauthorized(refusal).into_response()
}

/// The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
}

/// The query of the list route.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    namespace: Option<String>,
}

async fn list(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<RequestList>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let api: Api<UpdateRequest> = match query.namespace.as_deref().filter(|ns| !ns.is_empty()) {
        Some(namespace) => Api::namespaced(state.client.clone(), namespace),
        None => Api::all(state.client.clone()),
    };
    let requests = api.list(&ListParams::default()).await.map_err(ApiError::Kubernetes)?;
    let mut items: Vec<RequestView> = requests.items.iter().map(RequestView::from).collect();
    items.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(Json(RequestList { items }))
}

async fn show(
    State(state): State<ApiState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<RequestView>, ApiError> {
    let Path((namespace, name)) = path.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let api: Api<UpdateRequest> = Api::namespaced(state.client.clone(), &namespace);
    match api.get_opt(&name).await.map_err(ApiError::Kubernetes)? {
        Some(request) => Ok(Json(RequestView::from(&request))),
        None => Err(ApiError::NotFound(format!("updaterequest {namespace}/{name} not found"))),
    }
}

/// The optional body of approve and reject.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    reason: Option<String>,
}

async fn approve(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RequestView>, ApiError> {
    let reason = decision_body(body)?.reason;
    decide(&state, caller, path, Decision::Approve { reason }).await
}

async fn reject(
    State(state): State<ApiState>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RequestView>, ApiError> {
    let reason = decision_body(body)?.reason;
    decide(&state, caller, path, Decision::Reject { reason }).await
}

/// Reads the optional decision body: empty means no reason.
fn decision_body(body: Result<Bytes, BytesRejection>) -> Result<DecisionBody, ApiError> {
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        _ => ApiError::BadRequest(rejection.body_text()),
    })?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DecisionBody::default());
    }
    serde_json::from_slice(&body).map_err(|error| {
        ApiError::BadRequest(format!("invalid body (expected {{\"reason\": \"...\"}}): {error}"))
    })
}

/// Records the decision, then counts and announces it.
async fn decide(
    state: &ApiState,
    Caller(identity): Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    decision: Decision,
) -> Result<Json<RequestView>, ApiError> {
    let Path((namespace, name)) = path.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let now = Timestamp::now();
    let outcome = approval::decide(&state.client, &namespace, &name, &decision, &identity, now).await;
    let request = match outcome {
        Ok(request) => request,
        Err(error) => {
            tracing::info!(namespace, name, identity, %error, "update request decision refused");
            return Err(ApiError::Decision(error));
        }
    };
    // Counting and announcing the decision is the updater's: it sees every decision, made here,
    // with `everynode updates` or with kubectl, and announces each once.
    tracing::info!(namespace, name, identity, decision = decision.past_tense(), "update request decided");
    Ok(Json(RequestView::from(&request)))
}

/// Why an approval API request failed, and the answer for it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No valid bearer token (401, with a `WWW-Authenticate` challenge).
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// The path, query or body is malformed (400).
    #[error("{0}")]
    BadRequest(String),
    /// The body exceeds [`MAX_BODY_BYTES`] (413).
    #[error("request body exceeds {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// No such request or route (404).
    #[error("{0}")]
    NotFound(String),
    /// The decision was refused or could not be recorded (404, 409 or 502 by its kind).
    #[error(transparent)]
    Decision(DecisionError),
    /// The Kubernetes API failed (502). Retryable when transient.
    #[error("the Kubernetes API failed: {0}")]
    Kubernetes(#[source] kube::Error),
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Decision(error) => match error {
                DecisionError::NotFound { .. } => StatusCode::NOT_FOUND,
                DecisionError::NotPending { .. }
                | DecisionError::Expired { .. }
                | DecisionError::Conflict { .. } => StatusCode::CONFLICT,
                DecisionError::NoIdentity => StatusCode::INTERNAL_SERVER_ERROR,
                DecisionError::Api { .. } => StatusCode::BAD_GATEWAY,
            },
            ApiError::Kubernetes(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl IntoResponse for ApiError {
    /// Answers with a Kubernetes `Status`, like every other everynode endpoint.
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = crate::status::failure(status, self.to_string());
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively_and_never_empty() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(bearer_token(&headers("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(&headers("Basic abc")), None);
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&headers("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn unauthorized_answers_carry_a_bearer_challenge() {
        let response = ApiError::Unauthorized("invalid bearer token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], CHALLENGE);
    }

    #[test]
    fn empty_or_json_bodies_give_the_reason() {
        assert_eq!(decision_body(Ok(Bytes::new())).unwrap().reason, None);
        assert_eq!(decision_body(Ok(Bytes::from_static(b" \n"))).unwrap().reason, None);
        let body = decision_body(Ok(Bytes::from_static(br#"{"reason": "breaks the CNI"}"#))).unwrap();
        assert_eq!(body.reason.as_deref(), Some("breaks the CNI"));
        let typo = decision_body(Ok(Bytes::from_static(br#"{"comment": "x"}"#))).unwrap_err();
        assert_eq!(typo.status(), StatusCode::BAD_REQUEST);
    }
}
