//! The generic webhook: a stable JSON document plus HMAC signature headers (pure).
//!
//! # Verifying a delivery (receiver side)
//!
//! Each POST carries:
//! - `X-Everynode-Signature: sha256=<hex>`: HMAC-SHA256 keyed with the shared secret over the raw
//!   request body, exactly as received (verify before parsing; re-serialised JSON will not match);
//! - `X-Everynode-Event: <event>`: the event name, e.g. `update_applied`, for routing without parsing;
//! - `X-Everynode-Timestamp: <RFC 3339>`: when the event happened, a convenience copy of the body's
//!   `timestamp`.
//!
//! Compute `HMAC-SHA256(secret, body)`, hex-encode it, and compare it with the header value after
//! `sha256=` using a constant-time comparison (`hmac.compare_digest` in Python,
//! `crypto.timingSafeEqual` in Node, `Mac::verify_slice` in Rust). Only the body is signed, so take the
//! time from the body's `timestamp` and reject deliveries older than your replay window. Retries send
//! the identical body and signature, so a receiver can deduplicate on the body.
//!
//! Without a configured secret no signature header is sent; receivers should then refuse the delivery.

use serde_json::{Value, json};

use super::event::NotificationEvent;
use crate::webhook::signature::{self, SigningSecret};

/// Header carrying `sha256=<hex HMAC-SHA256(secret, body)>`.
pub const SIGNATURE_HEADER: &str = "X-Everynode-Signature";
/// Header carrying the event name.
pub const EVENT_HEADER: &str = "X-Everynode-Event";
/// Header carrying the event time (RFC 3339), unsigned.
pub const TIMESTAMP_HEADER: &str = "X-Everynode-Timestamp";

/// Renders `event` as the generic webhook document. Absent optional facts are `null` rather than
/// missing, so every event has the same shape.
pub fn render(event: &NotificationEvent) -> Value {
    json!({
        "event": event.kind.as_str(),
        "title": event.kind.title(),
        "workload": {
            "kind": event.workload.kind,
            "namespace": event.workload.namespace,
            "name": event.workload.name,
        },
        "container": event.container,
        "currentImage": event.current_image,
        "newImage": event.new_image,
        "updateRequest": event.update_request,
        "actor": event.actor,
        "message": event.message,
        "timestamp": event.timestamp.to_string(),
    })
}

/// The headers for one delivery of `body` (the exact bytes that will be sent).
pub fn headers(
    event: &NotificationEvent,
    body: &[u8],
    secret: Option<&SigningSecret>,
) -> Vec<(&'static str, String)> {
    let mut headers =
        vec![(EVENT_HEADER, event.kind.as_str().to_owned()), (TIMESTAMP_HEADER, event.timestamp.to_string())];
    if let Some(secret) = secret {
        headers.push((SIGNATURE_HEADER, signature::sign(secret, body)));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::event::{EventKind, fixtures};

    #[test]
    fn document_has_the_documented_fields() {
        let document = render(&fixtures::applied());
        assert_eq!(
            document,
            json!({
                "event": "update_applied",
                "title": "Image update applied",
                "workload": {"kind": "DaemonSet", "namespace": "monitoring", "name": "node-exporter"},
                "container": "node-exporter",
                "currentImage": "prom/node-exporter:v1.5.0",
                "newImage": "prom/node-exporter:v1.6.0",
                "updateRequest": "node-exporter-v1-6-0",
                "actor": "admin@example.com",
                "message": null,
                "timestamp": "2025-11-06T10:30:00Z",
            })
        );
    }

    #[test]
    fn absent_facts_are_null() {
        let mut event = fixtures::with_kind(EventKind::UpdateDetected);
        event.update_request = None;
        event.actor = None;
        let document = render(&event);
        assert_eq!(document["event"], "update_detected");
        assert!(document["updateRequest"].is_null() && document["actor"].is_null());
    }

    #[test]
    fn signature_header_verifies_over_the_exact_body() {
        let secret = SigningSecret::new("hook-secret").unwrap();
        let event = fixtures::applied();
        let body = render(&event).to_string();
        let headers = headers(&event, body.as_bytes(), Some(&secret));
        let get = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get(EVENT_HEADER), Some("update_applied"));
        assert_eq!(get(TIMESTAMP_HEADER), Some("2025-11-06T10:30:00Z"));
        let value = get(SIGNATURE_HEADER).unwrap();
        assert!(signature::verify(&secret, body.as_bytes(), value).is_ok());
        assert!(signature::verify(&secret, format!("{body} ").as_bytes(), value).is_err());
    }

    #[test]
    fn no_signature_header_without_a_secret() {
        let event = fixtures::applied();
        let headers = headers(&event, b"{}", None);
        assert!(headers.iter().all(|(name, _)| *name != SIGNATURE_HEADER));
    }
}
