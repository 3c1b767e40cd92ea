//! The HTTP seam of notifications: a small trait, and its implementation on reqwest.
//!
//! The trait keeps the notifier testable without TLS and lets the binary choose the client. The
//! reqwest client must come from the caller: with the `rustls-no-provider` feature, building any
//! `reqwest::Client` (even one used only for plain `http://`) panics unless a rustls crypto provider
//! has been installed process-wide, which is the binary's job, done once at startup.

use std::error::Error as _;
use std::time::Duration;

use axum::body::Bytes;
use futures::future::BoxFuture;

use super::config::SecretUrl;

/// One POST to send. Cheap to clone, so every retry sends the identical body.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// Destination (a credential; never logged).
    pub url: SecretUrl,
    /// Extra headers; `Content-Type: application/json` is implied.
    pub headers: Vec<(&'static str, String)>,
    /// The JSON body, as signed.
    pub body: Bytes,
}

/// What the receiver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportResponse {
    /// HTTP status code.
    pub status: u16,
    /// `Retry-After`, when given in seconds (the HTTP-date form is ignored).
    pub retry_after: Option<Duration>,
}

/// The request got no answer. The message never contains the URL. Always retryable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Sends notification POSTs.
pub trait Transport: Send + Sync + 'static {
    /// Sends `request` and reports the status. Timeouts are applied by the caller.
    fn post(&self, request: OutgoingRequest)
    -> BoxFuture<'static, Result<TransportResponse, TransportError>>;
}

/// [`Transport`] over a caller-built `reqwest::Client` (see the module docs about TLS).
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: reqwest::Client,
}

impl ReqwestTransport {
    /// Uses `client`, typically the one shared with the registry client.
    pub fn new(client: reqwest::Client) -> Self {
        ReqwestTransport { client }
    }
}

impl Transport for ReqwestTransport {
    fn post(
        &self,
        request: OutgoingRequest,
    ) -> BoxFuture<'static, Result<TransportResponse, TransportError>> {
        let mut builder = self
            .client
            .post(request.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(request.body);
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        Box::pin(async move {
            let response = builder.send().await.map_err(|err| TransportError(describe(err)))?;
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            Ok(TransportResponse { status: response.status().as_u16(), retry_after })
        })
    }
}

/// The error and its causes, without the URL reqwest would otherwise print (it is a credential).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
