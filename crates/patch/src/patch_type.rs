//! The patch formats a PATCH request can carry, told apart by `Content-Type`.

use std::fmt;

use crate::error::{PatchError, Result};

/// A patch format, one per `Content-Type` the Kubernetes API accepts on PATCH.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchType {
    /// RFC 6902 JSON patch: a list of operations (`application/json-patch+json`).
    Json,
    /// RFC 7396 JSON merge patch (`application/merge-patch+json`); what `kubectl label` and
    /// `kubectl annotate` send.
    Merge,
    /// Kubernetes strategic merge patch (`application/strategic-merge-patch+json`); the default of
    /// `kubectl patch`, and what `kubectl apply`, `set image` and `rollout` send.
    StrategicMerge,
    /// Server-side apply (`application/apply-patch+yaml`); recognised but not implemented yet.
    Apply,
}

impl PatchType {
    /// Every patch type, for listing in discovery and error messages.
    pub const ALL: [PatchType; 4] = [Self::Json, Self::Merge, Self::StrategicMerge, Self::Apply];

    /// The media type that selects this format.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json-patch+json",
            Self::Merge => "application/merge-patch+json",
            Self::StrategicMerge => "application/strategic-merge-patch+json",
            Self::Apply => "application/apply-patch+yaml",
        }
    }

    /// Reads a request's `Content-Type`. Parameters such as `; charset=utf-8` and letter case are
    /// ignored, as HTTP media types are case-insensitive and clients do add a charset.
    pub fn from_content_type(content_type: &str) -> Result<Self> {
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        Self::ALL
            .into_iter()
            .find(|patch_type| patch_type.content_type().eq_ignore_ascii_case(media_type))
            .ok_or_else(|| PatchError::UnsupportedMediaType(content_type.to_owned()))
    }
}

impl fmt::Display for PatchType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Self::Json => "JSON patch",
            Self::Merge => "JSON merge patch",
            Self::StrategicMerge => "strategic merge patch",
            Self::Apply => "server-side apply (application/apply-patch+yaml)",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_round_trip() {
        for patch_type in PatchType::ALL {
            assert_eq!(PatchType::from_content_type(patch_type.content_type()).ok(), Some(patch_type));
        }
    }

    #[test]
    fn content_type_parameters_and_case_are_ignored() {
        let parsed = PatchType::from_content_type("Application/Merge-Patch+JSON; charset=utf-8");
        assert_eq!(parsed.ok(), Some(PatchType::Merge));
    }

    #[test]
    fn unknown_content_type_is_unsupported_media_type() {
        let err = PatchType::from_content_type("application/json").err();
        assert!(matches!(err, Some(PatchError::UnsupportedMediaType(_))), "{err:?}");
        assert_eq!(err.map(|e| e.http_status()), Some(415));
    }
}
