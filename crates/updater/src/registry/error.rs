//! Registry failures, classified by what the poller should do next: retry soon, or wait for a fix.
//!
//! oci-client reports failures in several shapes (a `reqwest` error, a bare status code, an OCI
//! error envelope without its status, spec violations), and some of its messages carry response
//! bodies. We fold them into a few variants that say whether retrying can help, with messages of our
//! own: they name the registry and repository, never credentials or tokens.

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// Longest piece of a registry's response body quoted in an error (bodies can be whole HTML pages).
const MAX_DETAIL: usize = 200;

/// Why a registry call failed.
///
/// Retryable (see [`RegistryError::is_retryable`]): [`Unreachable`](Self::Unreachable),
/// [`RateLimited`](Self::RateLimited), [`Unavailable`](Self::Unavailable). The others need a change
/// somewhere (a secret, the image name, the registry) before a retry can succeed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No HTTP answer: connection refused or reset, DNS, TLS handshake, timeout.
    #[error("registry {registry} could not be reached")]
    Unreachable {
        /// The registry as named in the image.
        registry: String,
        /// The transport error (its message names the URL, which holds no credentials).
        #[source]
        source: reqwest::Error,
    },
    /// 401: credentials are missing, wrong or expired.
    #[error(
        "registry {registry} refused {} for {repository} (401 Unauthorized)",
        if *.with_credentials { "the credentials" } else { "anonymous access" }
    )]
    Unauthorized {
        /// The registry as named in the image.
        registry: String,
        /// The repository path.
        repository: String,
        /// Whether credentials were sent (false: an image pull secret is probably missing).
        with_credentials: bool,
    },
    /// 403: the credentials are valid but may not read this repository.
    #[error("registry {registry} denied access to {repository} (403 Forbidden)")]
    Denied {
        /// The registry as named in the image.
        registry: String,
        /// The repository path.
        repository: String,
    },
    /// 404: no such repository, or no such tag in it.
    #[error("{repository}{} not found in registry {registry}", .tag.as_deref().map(|t| format!(":{t}")).unwrap_or_default())]
    NotFound {
        /// The registry as named in the image.
        registry: String,
        /// The repository path.
        repository: String,
        /// The tag asked for, when the call was about one tag.
        tag: Option<String>,
    },
    /// 429 or `TOOMANYREQUESTS`: Docker Hub's pull limits, for instance.
    #[error("registry {registry} is rate limiting requests (429 Too Many Requests)")]
    RateLimited {
        /// The registry as named in the image.
        registry: String,
    },
    /// 5xx or 408: the registry (or a proxy in front of it) is failing for now.
    #[error("registry {registry} is unavailable (HTTP {status})")]
    Unavailable {
        /// The registry as named in the image.
        registry: String,
        /// The HTTP status.
        status: u16,
    },
    /// An answer that breaks the distribution API: an unexpected status, a body that is not the
    /// promised JSON, a missing digest. Retrying will not change what the registry does.
    #[error("registry {registry} answered unexpectedly: {detail}")]
    Protocol {
        /// The registry as named in the image.
        registry: String,
        /// What was wrong, with at most a short excerpt of the response.
        detail: String,
    },
    /// The tag list did not end within the page budget: a registry that keeps returning new
    /// pages, or a repository far larger than anything worth tracking.
    #[error("tag list of {registry}/{repository} did not end within {pages} pages")]
    TooManyPages {
        /// The registry as named in the image.
        registry: String,
        /// The repository path.
        repository: String,
        /// The page budget that was exhausted.
        pages: usize,
    },
    /// The HTTP client could not be built (TLS configuration, for instance).
    #[error("could not build an HTTP client for registry {registry}")]
    Client {
        /// The registry as named in the image.
        registry: String,
        /// What the HTTP library reported.
        #[source]
        source: reqwest::Error,
    },
}

/// Result of registry calls.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

impl RegistryError {
    /// Whether retrying the same call later can succeed without anyone changing anything:
    /// network trouble, rate limits and server errors are; 401, 403, 404 and protocol errors are not.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::RateLimited { .. } | Self::Unavailable { .. })
    }

    /// The registry the failed call went to, for logs and events.
    pub fn registry(&self) -> &str {
        match self {
            Self::Unreachable { registry, .. }
            | Self::Unauthorized { registry, .. }
            | Self::Denied { registry, .. }
            | Self::NotFound { registry, .. }
            | Self::RateLimited { registry }
            | Self::Unavailable { registry, .. }
            | Self::Protocol { registry, .. }
            | Self::TooManyPages { registry, .. }
            | Self::Client { registry, .. } => registry,
        }
    }
}

/// What a failed call was about, to name it in the error.
pub(crate) struct CallContext<'a> {
    pub registry: &'a str,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub with_credentials: bool,
}

impl CallContext<'_> {
    /// Classifies an oci-client error.
    pub(crate) fn classify(&self, error: OciDistributionError) -> RegistryError {
        match error {
            OciDistributionError::RequestError(source) => match source.status() {
                Some(status) => self.for_status(status.as_u16(), ""),
                None if source.is_builder() => self.protocol(format!("invalid request: {source}")),
                None if source.is_decode() => self.protocol("response body could not be decoded"),
                None => RegistryError::Unreachable { registry: self.registry.to_owned(), source },
            },
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => self.for_status(401, ""),
            OciDistributionError::ServerError { code, message, .. } => self.for_status(code, &message),
            OciDistributionError::RegistryError { envelope, .. } => {
                // The envelope's code stands in for the status oci-client does not keep.
                match envelope.errors.first().map(|e| &e.code) {
                    Some(OciErrorCode::Unauthorized) => self.for_status(401, ""),
                    Some(OciErrorCode::Denied) => self.for_status(403, ""),
                    Some(
                        OciErrorCode::NameUnknown
                        | OciErrorCode::ManifestUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown,
                    ) => self.for_status(404, ""),
                    Some(OciErrorCode::Toomanyrequests) => self.for_status(429, ""),
                    Some(code) => self.protocol(format!("registry error {code:?}")),
                    None => self.protocol("an error response without errors"),
                }
            }
            OciDistributionError::ImageManifestNotFoundError(_) => self.for_status(404, ""),
            OciDistributionError::JsonError(_) => self.protocol("response is not the expected JSON"),
            OciDistributionError::ManifestEncodingError(_) => self.protocol("response is not UTF-8"),
            OciDistributionError::RegistryNoDigestError => self.protocol("no Docker-Content-Digest header"),
            other => self.protocol(truncate(&other.to_string())),
        }
    }

    fn for_status(&self, status: u16, body: &str) -> RegistryError {
        let registry = self.registry.to_owned();
        let repository = self.repository.to_owned();
        match status {
            401 => {
                RegistryError::Unauthorized { registry, repository, with_credentials: self.with_credentials }
            }
            403 => RegistryError::Denied { registry, repository },
            404 => RegistryError::NotFound { registry, repository, tag: self.tag.map(str::to_owned) },
            429 => RegistryError::RateLimited { registry },
            408 | 500..=599 => RegistryError::Unavailable { registry, status },
            _ if body.is_empty() => self.protocol(format!("HTTP {status}")),
            _ => self.protocol(format!("HTTP {status}: {}", truncate(body))),
        }
    }

    fn protocol(&self, detail: impl Into<String>) -> RegistryError {
        RegistryError::Protocol { registry: self.registry.to_owned(), detail: detail.into() }
    }

    pub(crate) fn too_many_pages(&self, pages: usize) -> RegistryError {
        RegistryError::TooManyPages {
            registry: self.registry.to_owned(),
            repository: self.repository.to_owned(),
            pages,
        }
    }
}

fn truncate(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_DETAIL) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_client::errors::{OciEnvelope, OciError};

    fn context(with_credentials: bool) -> CallContext<'static> {
        CallContext {
            registry: "reg.example.com",
            repository: "team/app",
            tag: Some("1.0"),
            with_credentials,
        }
    }

    fn envelope(code: OciErrorCode) -> OciDistributionError {
        OciDistributionError::RegistryError {
            envelope: OciEnvelope {
                errors: vec![OciError { code, message: String::new(), detail: serde_json::Value::Null }],
            },
            url: "http://reg.example.com/v2/team/app/tags/list".into(),
        }
    }

    fn server(code: u16) -> OciDistributionError {
        OciDistributionError::ServerError { code, url: "http://x".into(), message: "<html>".into() }
    }

    #[test]
    fn status_codes_are_classified_by_retryability() {
        let cases =
            [(401, false), (403, false), (404, false), (429, true), (500, true), (503, true), (408, true)];
        for (status, retryable) in cases {
            let error = context(true).classify(server(status));
            assert_eq!(error.is_retryable(), retryable, "HTTP {status}: {error:?}");
        }
        assert!(matches!(context(true).classify(server(418)), RegistryError::Protocol { .. }));
    }

    #[test]
    fn envelope_codes_stand_in_for_the_missing_status() {
        let ctx = context(false);
        assert!(matches!(ctx.classify(envelope(OciErrorCode::NameUnknown)), RegistryError::NotFound { .. }));
        assert!(matches!(
            ctx.classify(envelope(OciErrorCode::ManifestUnknown)),
            RegistryError::NotFound { .. }
        ));
        assert!(matches!(ctx.classify(envelope(OciErrorCode::Denied)), RegistryError::Denied { .. }));
        assert!(matches!(
            ctx.classify(envelope(OciErrorCode::Toomanyrequests)),
            RegistryError::RateLimited { .. }
        ));
        assert!(matches!(
            ctx.classify(envelope(OciErrorCode::Unauthorized)),
            RegistryError::Unauthorized { with_credentials: false, .. }
        ));
        assert!(matches!(ctx.classify(envelope(OciErrorCode::NameInvalid)), RegistryError::Protocol { .. }));
    }

    #[test]
    fn messages_say_whether_credentials_were_sent() {
        let anonymous = context(false).classify(OciDistributionError::UnauthorizedError { url: "u".into() });
        let with_credentials =
            context(true).classify(OciDistributionError::UnauthorizedError { url: "u".into() });
        assert_eq!(
            anonymous.to_string(),
            "registry reg.example.com refused anonymous access for team/app (401 Unauthorized)"
        );
        assert_eq!(
            with_credentials.to_string(),
            "registry reg.example.com refused the credentials for team/app (401 Unauthorized)"
        );
    }

    #[test]
    fn not_found_names_the_tag() {
        let error = context(true).classify(envelope(OciErrorCode::ManifestUnknown));
        assert_eq!(error.to_string(), "team/app:1.0 not found in registry reg.example.com");
    }

    #[test]
    fn long_bodies_are_cut_short() {
        let body = "x".repeat(10_000);
        let error = context(true).classify(OciDistributionError::ServerError {
            code: 302,
            url: "u".into(),
            message: body,
        });
        assert!(error.to_string().len() < 300, "{error}");
    }
}
