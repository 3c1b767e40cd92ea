//! Registry push payloads, parsed into the pushes they announce (pure: bytes in, pushes out).
//!
//! Each source has its own parser and the caller picks it from the request path: guessing the format
//! from the body would let one registry's payload be read with another's rules. A push always names a
//! repository and at least one of a tag and a digest; anything else is rejected with an error that names
//! the offending field, because a registry operator reads that error in the registry's webhook log.
//!
//! Images stay plain strings here (`repository` as it appears in the payload, plus the registry host
//! when the payload says which registry it came from): normalising `nginx` into
//! `docker.io/library/nginx` is the image module's concern.

use std::fmt;

use serde::Deserialize;

/// Result alias for payload parsing.
pub type Result<T, E = PayloadError> = std::result::Result<T, E>;

/// Which kind of sender a payload comes from; chosen by the request path, never by the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookSource {
    /// Docker Hub repository webhooks (`push_data` + `repository`).
    DockerHub,
    /// CNCF distribution (`registry:2`, Harbor, GitLab...) notification envelopes.
    Registry,
    /// Anything else, e.g. a CI job: `{"image": "repo/name", "tag": "1.2.3"}`.
    Generic,
}

impl WebhookSource {
    /// Every source, in routing order.
    pub const ALL: [WebhookSource; 3] =
        [WebhookSource::DockerHub, WebhookSource::Registry, WebhookSource::Generic];

    /// The stable lowercase name used in paths, metric labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookSource::DockerHub => "dockerhub",
            WebhookSource::Registry => "registry",
            WebhookSource::Generic => "generic",
        }
    }

    /// The path a sender of this kind posts to.
    pub fn path(self) -> &'static str {
        match self {
            WebhookSource::DockerHub => "/webhook/dockerhub",
            WebhookSource::Registry => "/webhook/registry",
            WebhookSource::Generic => "/webhook/generic",
        }
    }

    /// Parses a body with this source's rules.
    pub fn parse(self, body: &[u8]) -> Result<Vec<ImagePush>> {
        match self {
            WebhookSource::DockerHub => parse_docker_hub(body),
            WebhookSource::Registry => parse_registry_events(body),
            WebhookSource::Generic => parse_generic(body),
        }
    }
}

impl fmt::Display for WebhookSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One image version a registry says was pushed: the unit the update workflow reacts to.
///
/// Invariant: `tag` and `digest` are never both `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePush {
    /// Repository as the payload names it, prefixed with the registry host when the payload carries one
    /// that is not Docker Hub (`registry.example.com:5000/team/agent`, `prom/node-exporter`).
    pub repository: String,
    /// The pushed tag; `None` when the manifest was pushed by digest only (e.g. the per-platform
    /// manifests of a multi-arch image).
    pub tag: Option<String>,
    /// The manifest digest (`sha256:...`) when the payload states it; lets same-tag rebuilds be told
    /// apart.
    pub digest: Option<String>,
    /// Where the push was announced, for metrics and logs.
    pub source: WebhookSource,
}

/// Why a payload was rejected. None of these is retryable: the same body fails the same way.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The body is not JSON, or a field has the wrong JSON type.
    #[error("payload is not valid JSON for this webhook: {0}")]
    Json(#[source] serde_json::Error),
    /// A field the format requires is absent or empty.
    #[error("payload is missing required field `{0}`")]
    MissingField(String),
    /// A field is present but its value cannot be an image reference part.
    #[error("payload field `{field}` is invalid: {reason}")]
    InvalidField {
        /// Path of the field in the payload, e.g. `events[0].target.tag`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Docker Hub media types are irrelevant; these are the manifest media types of the distribution spec
/// and OCI. Blob pushes (layers, configs) arrive as events too and must not look like image updates.
const MANIFEST_MEDIA_TYPES: [&str; 6] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Hosts under which Docker Hub serves images. Images from there are written without a host, the way
/// workloads usually spell them.
const DOCKER_HUB_HOSTS: [&str; 4] =
    ["docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"];

/// Limits from the distribution reference grammar: a repository path is at most 255 characters and a
/// tag at most 128.
const MAX_REPOSITORY_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

#[derive(Deserialize)]
struct DockerHubPayload {
    push_data: Option<DockerHubPushData>,
    repository: Option<DockerHubRepository>,
}

#[derive(Deserialize)]
struct DockerHubPushData {
    tag: Option<String>,
}

#[derive(Deserialize)]
struct DockerHubRepository {
    repo_name: Option<String>,
}

/// Parses a Docker Hub repository webhook. Docker Hub announces exactly one tag per call and never a
/// digest.
pub fn parse_docker_hub(body: &[u8]) -> Result<Vec<ImagePush>> {
    let payload: DockerHubPayload = serde_json::from_slice(body).map_err(PayloadError::Json)?;
    let repository = payload
        .repository
        .and_then(|r| r.repo_name)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| PayloadError::MissingField("repository.repo_name".into()))?;
    let tag = payload
        .push_data
        .and_then(|p| p.tag)
        .filter(|tag| !tag.is_empty())
        .ok_or_else(|| PayloadError::MissingField("push_data.tag".into()))?;
    validate_repository("repository.repo_name", &repository)?;
    validate_tag("push_data.tag", &tag)?;
    Ok(vec![ImagePush { repository, tag: Some(tag), digest: None, source: WebhookSource::DockerHub }])
}

#[derive(Deserialize)]
struct RegistryEnvelope {
    events: Option<Vec<RegistryEvent>>,
}

#[derive(Deserialize)]
struct RegistryEvent {
    action: Option<String>,
    target: Option<RegistryTarget>,
    request: Option<RegistryRequest>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegistryTarget {
    media_type: Option<String>,
    repository: Option<String>,
    tag: Option<String>,
    digest: Option<String>,
}

#[derive(Deserialize)]
struct RegistryRequest {
    host: Option<String>,
}

/// Parses a distribution notification envelope (`application/vnd.docker.distribution.events.v1+json`).
///
/// Only manifest pushes become pushes: pulls, deletes and blob uploads are skipped silently, since a
/// registry sends them on the same endpoint and rejecting them would make it retry forever. An envelope
/// with no relevant event is therefore valid and yields no pushes.
pub fn parse_registry_events(body: &[u8]) -> Result<Vec<ImagePush>> {
    let envelope: RegistryEnvelope = serde_json::from_slice(body).map_err(PayloadError::Json)?;
    let events = envelope.events.ok_or_else(|| PayloadError::MissingField("events".into()))?;
    let mut pushes = Vec::new();
    for (index, event) in events.into_iter().enumerate() {
        if event.action.as_deref() != Some("push") {
            continue;
        }
        let Some(target) = event.target else {
            return Err(PayloadError::MissingField(format!("events[{index}].target")));
        };
        let is_manifest =
            target.media_type.as_deref().is_some_and(|media_type| MANIFEST_MEDIA_TYPES.contains(&media_type));
        if !is_manifest {
            continue;
        }
        let field = |name: &str| format!("events[{index}].target.{name}");
        let path = target
            .repository
            .filter(|r| !r.is_empty())
            .ok_or_else(|| PayloadError::MissingField(field("repository")))?;
        let tag = target.tag.filter(|t| !t.is_empty());
        let digest = target.digest.filter(|d| !d.is_empty());
        if tag.is_none() && digest.is_none() {
            return Err(PayloadError::MissingField(field("tag")));
        }
        let host = event.request.and_then(|r| r.host).map(|h| h.to_ascii_lowercase());
        let repository = match host.as_deref() {
            Some(host) if !host.is_empty() && !DOCKER_HUB_HOSTS.contains(&host) => format!("{host}/{path}"),
            _ => path,
        };
        validate_repository(&field("repository"), &repository)?;
        if let Some(tag) = &tag {
            validate_tag(&field("tag"), tag)?;
        }
        if let Some(digest) = &digest {
            validate_digest(&field("digest"), digest)?;
        }
        pushes.push(ImagePush { repository, tag, digest, source: WebhookSource::Registry });
    }
    Ok(pushes)
}

#[derive(Deserialize)]
struct GenericPayload {
    image: Option<String>,
    tag: Option<String>,
    digest: Option<String>,
}

/// Parses the generic form: `{"image": "repo/name", "tag": "1.2.3"}`, where the image may also carry
/// the tag (`repo/name:1.2.3`) or a digest (`repo/name@sha256:...`), and `digest` may be given apart.
///
/// A tag or digest given both ways must agree: silently preferring one would update to a version the
/// sender did not mean.
pub fn parse_generic(body: &[u8]) -> Result<Vec<ImagePush>> {
    let payload: GenericPayload = serde_json::from_slice(body).map_err(PayloadError::Json)?;
    let image =
        payload.image.filter(|i| !i.is_empty()).ok_or_else(|| PayloadError::MissingField("image".into()))?;
    let reference = split_reference(&image);
    let tag = merge_part("tag", reference.tag, payload.tag.filter(|t| !t.is_empty()))?;
    let digest = merge_part("digest", reference.digest, payload.digest.filter(|d| !d.is_empty()))?;
    if tag.is_none() && digest.is_none() {
        return Err(PayloadError::MissingField("tag".into()));
    }
    validate_repository("image", reference.repository)?;
    if let Some(tag) = &tag {
        validate_tag("tag", tag)?;
    }
    if let Some(digest) = &digest {
        validate_digest("digest", digest)?;
    }
    Ok(vec![ImagePush {
        repository: reference.repository.to_owned(),
        tag,
        digest,
        source: WebhookSource::Generic,
    }])
}

/// The parts of `repo[:tag][@digest]`, borrowed from the input.
struct Reference<'a> {
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Splits an image reference. The tag separator is the last `:` after the last `/`, so a registry port
/// (`host:5000/name`) is never taken for a tag.
fn split_reference(image: &str) -> Reference<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_segment_start = name.rfind('/').map_or(0, |slash| slash + 1);
    match name[last_segment_start..].rfind(':') {
        Some(colon) => {
            let colon = last_segment_start + colon;
            Reference { repository: &name[..colon], tag: Some(&name[colon + 1..]), digest }
        }
        None => Reference { repository: name, tag: None, digest },
    }
}

/// Combines a reference part embedded in `image` with the same part given as its own field.
fn merge_part(field: &str, embedded: Option<&str>, explicit: Option<String>) -> Result<Option<String>> {
    match (embedded, explicit) {
        (Some(embedded), Some(explicit)) if embedded != explicit => Err(PayloadError::InvalidField {
            field: field.to_owned(),
            reason: format!("`{explicit}` contradicts `{embedded}` given in `image`"),
        }),
        (Some(embedded), _) => Ok(Some(embedded.to_owned())),
        (None, explicit) => Ok(explicit),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> PayloadError {
    PayloadError::InvalidField { field: field.to_owned(), reason: reason.into() }
}

/// A deliberately narrow check: the characters a repository path (with optional `host[:port]/`) can
/// contain. It keeps whitespace, quotes and control characters out of annotations, object names and
/// chat messages downstream; full normalisation happens in the image module.
fn validate_repository(field: &str, repository: &str) -> Result<()> {
    if repository.is_empty() {
        return Err(PayloadError::MissingField(field.to_owned()));
    }
    if repository.len() > MAX_REPOSITORY_LEN {
        return Err(invalid(field, format!("longer than {MAX_REPOSITORY_LEN} characters")));
    }
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/:".contains(c);
    if let Some(bad) = repository.chars().find(|c| !allowed(*c)) {
        return Err(invalid(field, format!("character {bad:?} cannot appear in a repository name")));
    }
    if repository.starts_with('/') || repository.ends_with('/') || repository.contains("//") {
        return Err(invalid(field, "empty path component"));
    }
    Ok(())
}

/// Tag grammar from the distribution reference: `[\w][\w.-]{0,127}`.
fn validate_tag(field: &str, tag: &str) -> Result<()> {
    if tag.len() > MAX_TAG_LEN {
        return Err(invalid(field, format!("longer than {MAX_TAG_LEN} characters")));
    }
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    let first_ok = chars.next().is_some_and(word);
    if !first_ok || !chars.all(|c| word(c) || c == '.' || c == '-') {
        return Err(invalid(field, format!("`{}` is not a valid tag", tag.escape_debug())));
    }
    Ok(())
}

/// Digest grammar from the OCI image spec: `algorithm:encoded`.
fn validate_digest(field: &str, digest: &str) -> Result<()> {
    let valid = digest.split_once(':').is_some_and(|(algorithm, encoded)| {
        !algorithm.is_empty()
            && !encoded.is_empty()
            && algorithm.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c))
            && encoded.chars().all(|c| c.is_ascii_alphanumeric() || "=_-".contains(c))
    });
    if valid {
        Ok(())
    } else {
        Err(invalid(field, format!("`{}` is not a valid digest", digest.escape_debug())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b";

    fn push(repository: &str, tag: Option<&str>, digest: Option<&str>, source: WebhookSource) -> ImagePush {
        ImagePush {
            repository: repository.into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            source,
        }
    }

    fn registry_event(action: &str, media_type: &str, tag: Option<&str>, host: &str) -> serde_json::Value {
        serde_json::json!({
            "id": "asdf-asdf-asdf-asdf-0",
            "timestamp": "2025-11-06T10:30:00Z",
            "action": action,
            "target": {
                "mediaType": media_type,
                "size": 708,
                "digest": DIGEST,
                "length": 708,
                "repository": "team/agent",
                "url": "https://registry.example.com/v2/team/agent/manifests/sha256:6c3c",
                "tag": tag,
            },
            "request": {"id": "req-1", "addr": "10.0.0.1:5000", "host": host, "method": "PUT"},
            "actor": {},
            "source": {"addr": "registry:5000", "instanceID": "1"},
        })
    }

    fn envelope(events: Vec<serde_json::Value>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap()
    }

    #[test]
    fn docker_hub_push_names_repo_and_tag() {
        let body = br#"{
            "callback_url": "https://registry.hub.docker.com/u/prom/node-exporter/hook/abc/",
            "push_data": {"pushed_at": 1417566161, "pusher": "ci", "tag": "v1.6.0"},
            "repository": {"name": "node-exporter", "namespace": "prom", "repo_name": "prom/node-exporter",
                           "is_private": false, "status": "Active"}
        }"#;
        let pushes = parse_docker_hub(body).unwrap();
        assert_eq!(pushes, vec![push("prom/node-exporter", Some("v1.6.0"), None, WebhookSource::DockerHub)]);
    }

    #[test]
    fn docker_hub_push_without_tag_names_the_missing_field() {
        let body = br#"{"push_data": {}, "repository": {"repo_name": "prom/node-exporter"}}"#;
        let err = parse_docker_hub(body).unwrap_err();
        assert!(matches!(&err, PayloadError::MissingField(f) if f == "push_data.tag"), "{err}");
    }

    #[test]
    fn docker_hub_push_without_repository_is_rejected() {
        let err = parse_docker_hub(br#"{"push_data": {"tag": "1.0"}}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::MissingField(f) if f == "repository.repo_name"), "{err}");
    }

    #[test]
    fn registry_manifest_push_is_prefixed_with_the_registry_host() {
        let body = envelope(vec![registry_event(
            "push",
            "application/vnd.docker.distribution.manifest.v2+json",
            Some("1.2.3"),
            "registry.example.com:5000",
        )]);
        let pushes = parse_registry_events(&body).unwrap();
        assert_eq!(
            pushes,
            vec![push(
                "registry.example.com:5000/team/agent",
                Some("1.2.3"),
                Some(DIGEST),
                WebhookSource::Registry
            )]
        );
    }

    #[test]
    fn registry_push_from_docker_hub_host_keeps_the_short_name() {
        let body = envelope(vec![registry_event(
            "push",
            "application/vnd.oci.image.index.v1+json",
            Some("1.2.3"),
            "registry-1.docker.io",
        )]);
        assert_eq!(parse_registry_events(&body).unwrap()[0].repository, "team/agent");
    }

    #[test]
    fn registry_pulls_deletes_and_blob_pushes_are_skipped() {
        let body = envelope(vec![
            registry_event("pull", "application/vnd.oci.image.manifest.v1+json", Some("1.2.3"), "r.io"),
            registry_event("delete", "application/vnd.oci.image.manifest.v1+json", Some("1.2.3"), "r.io"),
            registry_event("push", "application/vnd.docker.image.rootfs.diff.tar.gzip", None, "r.io"),
            registry_event("push", "application/octet-stream", None, "r.io"),
        ]);
        assert_eq!(parse_registry_events(&body).unwrap(), vec![]);
    }

    #[test]
    fn registry_push_by_digest_has_no_tag() {
        let body = envelope(vec![registry_event(
            "push",
            "application/vnd.oci.image.manifest.v1+json",
            None,
            "r.io",
        )]);
        assert_eq!(
            parse_registry_events(&body).unwrap(),
            vec![push("r.io/team/agent", None, Some(DIGEST), WebhookSource::Registry)]
        );
    }

    #[test]
    fn registry_envelope_without_events_is_rejected() {
        let err = parse_registry_events(br#"{"event": []}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::MissingField(f) if f == "events"), "{err}");
    }

    #[test]
    fn registry_event_with_bad_tag_names_its_index() {
        let body = envelope(vec![
            registry_event("push", "application/vnd.oci.image.manifest.v1+json", Some("1.0"), "r.io"),
            registry_event("push", "application/vnd.oci.image.manifest.v1+json", Some("1.0 ; rm"), "r.io"),
        ]);
        let err = parse_registry_events(&body).unwrap_err();
        assert!(
            matches!(&err, PayloadError::InvalidField { field, .. } if field == "events[1].target.tag"),
            "{err}"
        );
    }

    #[test]
    fn generic_payload_accepts_separate_tag() {
        let pushes = parse_generic(br#"{"image": "repo/name", "tag": "1.2.3"}"#).unwrap();
        assert_eq!(pushes, vec![push("repo/name", Some("1.2.3"), None, WebhookSource::Generic)]);
    }

    #[test]
    fn generic_payload_accepts_tag_inside_image() {
        let pushes = parse_generic(br#"{"image": "registry.example.com:5000/repo/name:1.2.3"}"#).unwrap();
        assert_eq!(
            pushes,
            vec![push("registry.example.com:5000/repo/name", Some("1.2.3"), None, WebhookSource::Generic)]
        );
    }

    #[test]
    fn generic_payload_accepts_digest_inside_image() {
        let body = format!(r#"{{"image": "repo/name:1.2.3@{DIGEST}"}}"#);
        let pushes = parse_generic(body.as_bytes()).unwrap();
        assert_eq!(pushes, vec![push("repo/name", Some("1.2.3"), Some(DIGEST), WebhookSource::Generic)]);
    }

    #[test]
    fn generic_payload_port_is_not_a_tag() {
        let err = parse_generic(br#"{"image": "registry.example.com:5000/repo/name"}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::MissingField(f) if f == "tag"), "{err}");
    }

    #[test]
    fn generic_payload_with_contradicting_tags_is_rejected() {
        let err = parse_generic(br#"{"image": "repo/name:1.2.3", "tag": "1.2.4"}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::InvalidField { field, .. } if field == "tag"), "{err}");
    }

    #[test]
    fn generic_payload_rejects_uppercase_repository() {
        let err = parse_generic(br#"{"image": "Repo/Name", "tag": "1"}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::InvalidField { field, .. } if field == "image"), "{err}");
    }

    #[test]
    fn generic_payload_rejects_malformed_digest() {
        let err = parse_generic(br#"{"image": "repo/name", "digest": "sha256"}"#).unwrap_err();
        assert!(matches!(&err, PayloadError::InvalidField { field, .. } if field == "digest"), "{err}");
    }

    #[test]
    fn malformed_json_is_a_json_error_for_every_source() {
        for source in WebhookSource::ALL {
            let err = source.parse(b"{not json").unwrap_err();
            assert!(matches!(err, PayloadError::Json(_)), "{source}: {err}");
        }
    }

    #[test]
    fn wrong_json_type_is_a_json_error() {
        let err = parse_generic(br#"{"image": 42}"#).unwrap_err();
        assert!(matches!(err, PayloadError::Json(_)), "{err}");
    }

    #[test]
    fn tag_grammar_matches_the_distribution_reference() {
        for good in ["latest", "v1.2.3", "1.25", "1.2.3-alpine", "_x", "A_b.c-d"] {
            assert!(validate_tag("tag", good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(129);
        for bad in ["", "-x", ".x", "a b", "a/b", "a:b", too_long.as_str()] {
            assert!(validate_tag("tag", bad).is_err(), "{bad}");
        }
    }
}
