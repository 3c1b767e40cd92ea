//! Error replies of the updater's HTTP endpoints as Kubernetes `Status` objects, the shape every
//! everynode endpoint answers with, so clients parse one error format.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The `reason` the Kubernetes API gives a status code.
pub fn reason(code: StatusCode) -> &'static str {
    match code {
        StatusCode::BAD_REQUEST => "BadRequest",
        StatusCode::UNAUTHORIZED => "Unauthorized",
        StatusCode::FORBIDDEN => "Forbidden",
        StatusCode::NOT_FOUND => "NotFound",
        StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowed",
        StatusCode::CONFLICT => "Conflict",
        StatusCode::PAYLOAD_TOO_LARGE => "RequestEntityTooLarge",
        StatusCode::UNPROCESSABLE_ENTITY => "Invalid",
        StatusCode::TOO_MANY_REQUESTS => "TooManyRequests",
        StatusCode::SERVICE_UNAVAILABLE => "ServiceUnavailable",
        _ => "InternalError",
    }
}

/// A `Status` reply with `code` and `message`.
pub fn failure(code: StatusCode, message: String) -> Response {
    let body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason(code),
        "code": code.as_u16(),
    });
    (code, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failure_is_a_kubernetes_status() {
        let response = failure(StatusCode::CONFLICT, "taken".to_owned());
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["kind"], "Status");
        assert_eq!(body["reason"], "Conflict");
        assert_eq!(body["code"], 409);
        assert_eq!(body["message"], "taken");
    }
}
