//! The axum routes that authenticate registry webhooks and queue the pushes they announce.
//!
//! Security by default: these endpoints change what runs on every node, so they never run
//! unauthenticated. Without a configured secret the routes answer 503 and queue nothing. With one, a
//! request must carry `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>` (or the same
//! value in `X-Signature-256`). Docker Hub cannot sign its webhooks, so `/webhook/dockerhub` alone also
//! accepts `?token=<secret>`; that token travels in the URL and may end up in proxy access logs, which
//! is why no other route accepts it.
//!
//! Order of checks: enabled (503), body size (413), authentication (401), payload (400), queueing
//! (202, or 503 with `Retry-After`). The body is authenticated before it is parsed, so unauthenticated
//! senders cannot probe the parsers. Errors are Kubernetes `Status` objects.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::payload::{ImagePush, PayloadError, WebhookSource};
use super::signature::{self, SignatureError, SigningSecret};
use crate::metrics::{Metrics, WebhookResult};

/// Bodies above this size are refused with 413. Registry envelopes are a few KiB; a megabyte leaves
/// room for large batches while bounding what an unauthenticated sender can make us buffer and hash.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a request may wait for room in the push queue before it is answered 503. Registries retry
/// failed deliveries, so shedding load is better than holding their connections open.
pub const ENQUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Headers that may carry the body signature, in order of preference.
pub const SIGNATURE_HEADERS: [&str; 2] = ["x-hub-signature-256", "x-signature-256"];

/// Seconds a sender should wait before retrying when the queue is full or the updater stops.
const RETRY_AFTER_SECONDS: &str = "5";

/// Everything the webhook routes share: the secret, where pushes go, and the metrics they update.
#[derive(Clone)]
pub struct WebhookState {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    secret: Option<SigningSecret>,
    pushes: mpsc::Sender<ImagePush>,
    metrics: Metrics,
    max_body_bytes: usize,
}

impl WebhookState {
    /// `secret: None` disables the webhooks (every route answers 503) rather than opening them.
    pub fn new(secret: Option<SigningSecret>, pushes: mpsc::Sender<ImagePush>, metrics: Metrics) -> Self {
        WebhookState {
            inner: Arc::new(Inner { secret, pushes, metrics, max_body_bytes: DEFAULT_MAX_BODY_BYTES }),
        }
    }

    /// Overrides the body limit (mainly so tests need not allocate a megabyte).
    pub fn with_max_body_bytes(self, max_body_bytes: usize) -> Self {
        let Inner { secret, pushes, metrics, .. } = Arc::unwrap_or_clone(self.inner);
        WebhookState { inner: Arc::new(Inner { secret, pushes, metrics, max_body_bytes }) }
    }
}

impl std::fmt::Debug for WebhookState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookState")
            .field("enabled", &self.inner.secret.is_some())
            .field("max_body_bytes", &self.inner.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The routes `POST /webhook/dockerhub`, `POST /webhook/registry` and `POST /webhook/generic`.
///
/// Accepted pushes are forwarded to the state's queue and answered `202 {"accepted": n}`.
pub fn router(state: WebhookState) -> Router {
    if state.inner.secret.is_none() {
        tracing::warn!("no webhook secret configured: registry webhooks are disabled and answer 503");
    }
    let limit = state.inner.max_body_bytes;
    let mut router = Router::new();
    for source in WebhookSource::ALL {
        router = router.route(
            source.path(),
            post(move |state: State<WebhookState>, headers: HeaderMap, query, body| {
                handle(source, state, headers, query, body)
            }),
        );
    }
    router.layer(DefaultBodyLimit::max(limit)).with_state(state)
}

/// The only query parameter we read.
#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn handle(
    source: WebhookSource,
    State(state): State<WebhookState>,
    headers: HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let outcome = accept(source, &state, &headers, query, body).await;
    let result = match &outcome {
        Ok(_) => WebhookResult::Accepted,
        Err(err) => err.metric_result(),
    };
    state.inner.metrics.webhook(source.as_str(), result);
    match outcome {
        Ok(accepted) => {
            tracing::info!(source = source.as_str(), accepted, "registry webhook accepted");
            (StatusCode::ACCEPTED, axum::Json(serde_json::json!({ "accepted": accepted }))).into_response()
        }
        Err(err) => {
            tracing::warn!(source = source.as_str(), error = %err, "registry webhook refused");
            err.into_response()
        }
    }
}

async fn accept(
    source: WebhookSource,
    state: &WebhookState,
    headers: &HeaderMap,
    query: Result<Query<TokenQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<usize, WebhookError> {
    let secret = state.inner.secret.as_ref().ok_or(WebhookError::Disabled)?;
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => WebhookError::TooLarge { limit: state.inner.max_body_bytes },
        _ => WebhookError::Body(rejection.body_text()),
    })?;
    let Query(query) = query.map_err(|rejection| WebhookError::Query(rejection.body_text()))?;
    authenticate(source, secret, headers, query.token.as_deref(), &body)?;
    let pushes = source.parse(&body)?;
    enqueue(&state.inner.pushes, pushes).await
}

/// Decides whether a request is authentic. The signature header wins over a query token when both
/// are present, so a signing sender is never judged by the weaker mechanism.
fn authenticate(
    source: WebhookSource,
    secret: &SigningSecret,
    headers: &HeaderMap,
    token: Option<&str>,
    body: &[u8],
) -> Result<(), AuthError> {
    if let Some(value) = SIGNATURE_HEADERS.iter().find_map(|name| headers.get(*name)) {
        let value = value.to_str().map_err(|_| AuthError::Signature(SignatureError::Format))?;
        return signature::verify(secret, body, value).map_err(AuthError::Signature);
    }
    match token {
        None => Err(AuthError::Missing),
        Some(_) if source != WebhookSource::DockerHub => Err(AuthError::TokenNotAllowed),
        Some(token) if signature::token_matches(secret, token) => Ok(()),
        Some(_) => Err(AuthError::BadToken),
    }
}

/// Queues pushes one by one under a single deadline. A batch cut short by the deadline is answered
/// 503 and retried whole by the registry; the pushes already queued then arrive twice, which the
/// update workflow tolerates because proposing the same version again is a no-op.
async fn enqueue(queue: &mpsc::Sender<ImagePush>, pushes: Vec<ImagePush>) -> Result<usize, WebhookError> {
    let count = pushes.len();
    let send_all = async {
        for push in pushes {
            queue.send(push).await.map_err(|_| WebhookError::QueueClosed)?;
        }
        Ok(count)
    };
    tokio::time::timeout(ENQUEUE_TIMEOUT, send_all).await.unwrap_or(Err(WebhookError::QueueFull))
}

/// Why a request failed authentication. The variants are distinct for logs and tests; the response
/// says only what the sender needs to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither a signature header nor (on the Docker Hub route) a token was sent.
    #[error("missing X-Hub-Signature-256 header (sha256=<hex HMAC-SHA256 of the body>)")]
    Missing,
    /// A signature header was sent but does not verify.
    #[error("bad signature: {0}")]
    Signature(#[source] SignatureError),
    /// A `?token=` was sent on a route that requires a signature.
    #[error("the token query parameter is accepted only on /webhook/dockerhub; sign the body instead")]
    TokenNotAllowed,
    /// A `?token=` was sent on the Docker Hub route but does not match.
    #[error("token does not match")]
    BadToken,
}

/// Why a webhook request was refused, and the HTTP answer for it. Only `QueueFull` and `QueueClosed`
/// are worth retrying; every other variant fails again for the same request.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No webhook secret is configured, so the routes are switched off.
    #[error("registry webhooks are disabled: no webhook secret is configured")]
    Disabled,
    /// The request is not authenticated.
    #[error("unauthorized: {0}")]
    Unauthorized(#[from] AuthError),
    /// The body exceeds the configured limit.
    #[error("request body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read.
    #[error("could not read the request body: {0}")]
    Body(String),
    /// The query string is malformed.
    #[error("invalid query string: {0}")]
    Query(String),
    /// The body is not a valid payload for this route.
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// The push queue stayed full for [`ENQUEUE_TIMEOUT`]. Retryable.
    #[error("the update queue is full; retry later")]
    QueueFull,
    /// The consumer of the queue has stopped (the updater is shutting down). Retryable.
    #[error("the updater is shutting down; retry later")]
    QueueClosed,
}

impl WebhookError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebhookError::Disabled | WebhookError::QueueFull | WebhookError::QueueClosed => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebhookError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            WebhookError::Body(_) | WebhookError::Query(_) | WebhookError::Payload(_) => {
                StatusCode::BAD_REQUEST
            }
        }
    }

    fn metric_result(&self) -> WebhookResult {
        match self {
            WebhookError::Disabled => WebhookResult::Disabled,
            WebhookError::Unauthorized(_) => WebhookResult::Unauthorized,
            WebhookError::TooLarge { .. } => WebhookResult::TooLarge,
            WebhookError::Body(_) | WebhookError::Query(_) | WebhookError::Payload(_) => {
                WebhookResult::Invalid
            }
            WebhookError::QueueFull | WebhookError::QueueClosed => WebhookResult::Unavailable,
        }
    }
}

impl IntoResponse for WebhookError {
    /// Answers with a Kubernetes `Status`, like every other everynode endpoint.
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = crate::status::failure(status, self.to_string());
        if matches!(self, WebhookError::QueueFull | WebhookError::QueueClosed) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    const SECRET: &str = "webhook-s3cret";
    const GENERIC: &[u8] = br#"{"image": "prom/node-exporter", "tag": "v1.6.0"}"#;
    const DOCKER_HUB: &[u8] =
        br#"{"push_data": {"tag": "v1.6.0"}, "repository": {"repo_name": "prom/node-exporter"}}"#;

    struct Harness {
        router: Router,
        pushes: mpsc::Receiver<ImagePush>,
        metrics: Metrics,
    }

    fn harness_with(secret: Option<&str>, capacity: usize) -> Harness {
        let (tx, rx) = mpsc::channel(capacity);
        let metrics = Metrics::new();
        let state = WebhookState::new(secret.and_then(SigningSecret::new), tx, metrics.clone());
        Harness { router: router(state), pushes: rx, metrics }
    }

    fn harness() -> Harness {
        harness_with(Some(SECRET), 16)
    }

    fn signed(path: &str, body: &[u8], secret: &str) -> Request<Body> {
        let value = signature::sign(&SigningSecret::new(secret).unwrap(), body);
        Request::post(path).header("x-hub-signature-256", value).body(Body::from(body.to_vec())).unwrap()
    }

    fn unsigned(path: &str, body: &[u8]) -> Request<Body> {
        Request::post(path).body(Body::from(body.to_vec())).unwrap()
    }

    async fn send(router: &Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!("response body is not JSON: {}", String::from_utf8_lossy(&bytes));
        });
        (status, json)
    }

    #[tokio::test]
    async fn generic_push_with_valid_signature_is_queued() {
        let mut h = harness();
        let (status, body) = send(&h.router, signed("/webhook/generic", GENERIC, SECRET)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["accepted"], 1);
        let push = h.pushes.try_recv().unwrap();
        assert_eq!(push.repository, "prom/node-exporter");
        assert_eq!(push.tag.as_deref(), Some("v1.6.0"));
        assert_eq!(push.source, WebhookSource::Generic);
        assert!(
            h.metrics.render().contains(r#"headwind_webhooks_total{source="generic",result="accepted"} 1"#)
        );
    }

    #[tokio::test]
    async fn docker_hub_push_with_valid_signature_is_queued() {
        let mut h = harness();
        let (status, body) = send(&h.router, signed("/webhook/dockerhub", DOCKER_HUB, SECRET)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(h.pushes.try_recv().unwrap().source, WebhookSource::DockerHub);
    }

    #[tokio::test]
    async fn registry_envelope_queues_every_manifest_push() {
        let mut h = harness();
        let event = |tag: &str, media_type: &str| {
            serde_json::json!({
                "action": "push",
                "target": {"mediaType": media_type, "repository": "team/agent", "tag": tag,
                           "digest": "sha256:abcd"},
                "request": {"host": "registry.example.com"}
            })
        };
        let body = serde_json::to_vec(&serde_json::json!({"events": [
            event("1.0.0", "application/vnd.oci.image.manifest.v1+json"),
            event("1.0.1", "application/vnd.docker.distribution.manifest.v2+json"),
            event("", "application/octet-stream"),
        ]}))
        .unwrap();
        let request = Request::post("/webhook/registry")
            .header("content-type", "application/vnd.docker.distribution.events.v1+json")
            .header("x-signature-256", signature::sign(&SigningSecret::new(SECRET).unwrap(), &body))
            .body(Body::from(body))
            .unwrap();
        let (status, body) = send(&h.router, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(body["accepted"], 2);
        assert_eq!(h.pushes.try_recv().unwrap().repository, "registry.example.com/team/agent");
        assert_eq!(h.pushes.try_recv().unwrap().tag.as_deref(), Some("1.0.1"));
    }

    #[tokio::test]
    async fn wrong_signature_is_unauthorized() {
        let mut h = harness();
        let request = Request::post("/webhook/generic")
            .header("x-hub-signature-256", format!("sha256={}", "00".repeat(32)))
            .body(Body::from(GENERIC))
            .unwrap();
        let (status, body) = send(&h.router, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "Unauthorized");
        assert_eq!(body["code"], 401);
        assert!(h.pushes.try_recv().is_err());
        assert!(
            h.metrics
                .render()
                .contains(r#"headwind_webhooks_total{source="generic",result="unauthorized"} 1"#)
        );
    }

    #[tokio::test]
    async fn signature_made_with_another_secret_is_unauthorized() {
        let mut h = harness();
        let (status, body) = send(&h.router, signed("/webhook/generic", GENERIC, "not-the-secret")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body["message"].as_str().unwrap().contains("does not match"), "{body}");
        assert!(h.pushes.try_recv().is_err());
    }

    #[tokio::test]
    async fn signature_over_a_different_body_is_unauthorized() {
        let h = harness();
        let value = signature::sign(&SigningSecret::new(SECRET).unwrap(), DOCKER_HUB);
        let request = Request::post("/webhook/generic")
            .header("x-hub-signature-256", value)
            .body(Body::from(GENERIC))
            .unwrap();
        assert_eq!(send(&h.router, request).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn missing_signature_is_unauthorized_with_a_hint() {
        let h = harness();
        let (status, body) = send(&h.router, unsigned("/webhook/generic", GENERIC)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body["message"].as_str().unwrap().contains("X-Hub-Signature-256"), "{body}");
    }

    #[tokio::test]
    async fn malformed_signature_header_is_unauthorized() {
        let h = harness();
        let request = Request::post("/webhook/generic")
            .header("x-hub-signature-256", "deadbeef")
            .body(Body::from(GENERIC))
            .unwrap();
        let (status, body) = send(&h.router, request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body["message"].as_str().unwrap().contains("sha256=<hex>"), "{body}");
    }

    #[tokio::test]
    async fn query_token_is_accepted_on_docker_hub() {
        let mut h = harness();
        let (status, body) =
            send(&h.router, unsigned("/webhook/dockerhub?token=webhook-s3cret", DOCKER_HUB)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(h.pushes.try_recv().unwrap().tag.as_deref(), Some("v1.6.0"));
    }

    #[tokio::test]
    async fn wrong_query_token_on_docker_hub_is_unauthorized() {
        let mut h = harness();
        let (status, _) = send(&h.router, unsigned("/webhook/dockerhub?token=guess", DOCKER_HUB)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(h.pushes.try_recv().is_err());
    }

    #[tokio::test]
    async fn query_token_is_refused_on_routes_that_can_sign() {
        for path in ["/webhook/generic?token=webhook-s3cret", "/webhook/registry?token=webhook-s3cret"] {
            let h = harness();
            let (status, body) = send(&h.router, unsigned(path, GENERIC)).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(
                body["message"].as_str().unwrap().contains("only on /webhook/dockerhub"),
                "{path}: {body}"
            );
        }
    }

    #[tokio::test]
    async fn malformed_json_is_a_bad_request() {
        let mut h = harness();
        let (status, body) = send(&h.router, signed("/webhook/generic", b"{\"image\": ", SECRET)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["reason"], "BadRequest");
        assert!(body["message"].as_str().unwrap().contains("not valid JSON"), "{body}");
        assert!(h.pushes.try_recv().is_err());
        assert!(
            h.metrics.render().contains(r#"headwind_webhooks_total{source="generic",result="invalid"} 1"#)
        );
    }

    #[tokio::test]
    async fn payload_of_another_source_is_a_bad_request() {
        let h = harness();
        let (status, body) = send(&h.router, signed("/webhook/dockerhub", GENERIC, SECRET)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["message"].as_str().unwrap().contains("repository.repo_name"), "{body}");
    }

    #[tokio::test]
    async fn body_over_the_default_limit_is_payload_too_large() {
        let h = harness();
        let body = vec![b' '; DEFAULT_MAX_BODY_BYTES + 1];
        let (status, body) = send(&h.router, signed("/webhook/generic", &body, SECRET)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["reason"], "RequestEntityTooLarge");
    }

    #[tokio::test]
    async fn configured_body_limit_is_enforced_before_authentication() {
        let (tx, _rx) = mpsc::channel(1);
        let state = WebhookState::new(SigningSecret::new(SECRET), tx, Metrics::new()).with_max_body_bytes(16);
        let (status, _) = send(&router(state), unsigned("/webhook/generic", GENERIC)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn without_a_secret_the_webhooks_are_disabled() {
        let mut h = harness_with(None, 16);
        for source in WebhookSource::ALL {
            let (status, body) = send(&h.router, unsigned(source.path(), GENERIC)).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{source}");
            assert!(body["message"].as_str().unwrap().contains("disabled"), "{body}");
        }
        let (status, _) = send(&h.router, unsigned("/webhook/dockerhub?token=", DOCKER_HUB)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(h.pushes.try_recv().is_err());
    }

    #[tokio::test]
    async fn closed_queue_answers_service_unavailable_with_retry_after() {
        let Harness { router, pushes, .. } = harness();
        drop(pushes);
        let response = router.oneshot(signed("/webhook/generic", GENERIC, SECRET)).await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_AFTER_SECONDS);
    }

    #[tokio::test(start_paused = true)]
    async fn full_queue_answers_service_unavailable_after_the_timeout() {
        let mut h = harness_with(Some(SECRET), 1);
        assert_eq!(
            send(&h.router, signed("/webhook/generic", GENERIC, SECRET)).await.0,
            StatusCode::ACCEPTED
        );
        let (status, body) = send(&h.router, signed("/webhook/generic", GENERIC, SECRET)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body["message"].as_str().unwrap().contains("queue is full"), "{body}");
        assert!(h.pushes.try_recv().is_ok());
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_are_not_served() {
        let h = harness();
        let response = h.router.clone().oneshot(unsigned("/webhook/quay", GENERIC)).await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let get = Request::get("/webhook/generic").body(Body::empty()).unwrap();
        let response = h.router.clone().oneshot(get).await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
