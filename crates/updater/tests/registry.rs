//! The registry client against a real registry (Debian's `docker-registry`, distribution 2.8).
//!
//! Each test starts its own registry on a free loopback port (plain HTTP, as the client does for
//! loopback hosts). A missing binary fails the tests with a pointer to scripts/test.sh.

mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use everynode_updater::registry::{
    Auth, Credentials, OciRegistry, PullSecret, RegistryConfig, RegistryError, RegistryImage, TagSource,
    lookup,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};
use support::registry::{TestRegistry, install_crypto_provider};

fn client() -> OciRegistry {
    OciRegistry::new(RegistryConfig::default())
}

fn basic(username: &str, password: &str) -> Auth {
    Auth::Basic(Credentials::new(username, password))
}

#[tokio::test]
async fn all_tags_are_listed_when_there_are_more_than_a_page() -> anyhow::Result<()> {
    let registry = TestRegistry::start().await?;
    let want: BTreeSet<String> = (0..120).map(|i| format!("1.{}.{}", i / 10, i % 10)).collect();
    registry.push_tags("team/app", &want, "v1").await?;
    let client = OciRegistry::new(RegistryConfig { page_size: 50, ..RegistryConfig::default() });

    let tags = client.list_tags(&RegistryImage::new(&registry.host(), "team/app"), &Auth::Anonymous).await?;

    assert_eq!(tags.len(), 120, "each tag once");
    assert_eq!(tags.into_iter().collect::<BTreeSet<_>>(), want);
    Ok(())
}

/// Distribution 2.8 ignores `n` and `last`, so paging proper is checked against a stand-in that
/// honours them as the spec says: this proves the parameters oci-client sends and the stop rule.
#[tokio::test]
async fn paginating_registry_is_read_page_by_page() -> anyhow::Result<()> {
    install_crypto_provider();
    let all: Vec<String> = (0..120).map(|i| format!("t{i:03}")).collect();
    let (host, requests) = paginating_registry(all.clone()).await?;
    let client = OciRegistry::new(RegistryConfig { page_size: 50, ..RegistryConfig::default() });

    let tags = client.list_tags(&RegistryImage::new(&host, "team/app"), &Auth::Anonymous).await?;

    assert_eq!(tags, all);
    let requests = requests.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.clone();
    assert_eq!(
        requests,
        [
            (Some("50".to_owned()), None),
            (Some("50".to_owned()), Some("t049".to_owned())),
            (Some("50".to_owned()), Some("t099".to_owned())),
        ],
        "(n, last) of each tags/list request"
    );
    Ok(())
}

type Requests = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

/// Serves `/v2/<name>/tags/list` over `tags` (sorted) with `n` and `last` as the OCI spec defines
/// them, recording each request's parameters.
async fn paginating_registry(tags: Vec<String>) -> anyhow::Result<(String, Requests)> {
    async fn tags_list(
        State((tags, requests)): State<(Arc<Vec<String>>, Requests)>,
        Path(path): Path<String>,
        Query(query): Query<HashMap<String, String>>,
    ) -> Json<Value> {
        let (n, last) = (query.get("n").cloned(), query.get("last").cloned());
        if let Ok(mut requests) = requests.lock() {
            requests.push((n.clone(), last.clone()));
        }
        let n = n.and_then(|n| n.parse().ok()).unwrap_or(usize::MAX);
        let page: Vec<&String> =
            tags.iter().filter(|tag| last.as_ref().is_none_or(|last| *tag > last)).take(n).collect();
        let name = path.trim_end_matches("/tags/list");
        Json(json!({ "name": name, "tags": page }))
    }
    let requests = Requests::default();
    let app = Router::new()
        .route("/v2/", get(|| async { Json(json!({})) }))
        .route("/v2/{*path}", get(tags_list))
        .with_state((Arc::new(tags), requests.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = listener.local_addr()?.to_string();
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((host, requests))
}

#[tokio::test]
async fn basic_auth_with_the_right_credentials_reads_tags_and_digests() -> anyhow::Result<()> {
    let registry = TestRegistry::start_with_user("alice", "s3cret-pw").await?;
    let digest = registry.push_tags("private/app", ["1.0", "1.1"], "v1").await?;
    let image = RegistryImage::new(&registry.host(), "private/app");
    let auth = basic("alice", "s3cret-pw");

    let mut tags = client().list_tags(&image, &auth).await?;
    tags.sort();

    assert_eq!(tags, ["1.0", "1.1"]);
    assert_eq!(client().digest(&image, "1.1", &auth).await?, digest);
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_a_non_retryable_unauthorized_error() -> anyhow::Result<()> {
    let registry = TestRegistry::start_with_user("alice", "s3cret-pw").await?;
    registry.push_image("private/app", "1.0", "v1").await?;
    let image = RegistryImage::new(&registry.host(), "private/app");
    let auth = basic("alice", "wrong-pw");

    for error in [
        client().list_tags(&image, &auth).await.err().context("listing with a wrong password")?,
        client().digest(&image, "1.0", &auth).await.err().context("digest with a wrong password")?,
    ] {
        assert!(matches!(error, RegistryError::Unauthorized { with_credentials: true, .. }), "{error:?}");
        assert!(!error.is_retryable());
        let message = format!("{error} {error:?}");
        assert!(message.contains("401"), "{message}");
        assert!(!message.contains("wrong-pw") && !message.contains("s3cret"), "leaks a password: {message}");
    }
    Ok(())
}

#[tokio::test]
async fn anonymous_access_to_a_private_registry_is_refused() -> anyhow::Result<()> {
    let registry = TestRegistry::start_with_user("alice", "s3cret-pw").await?;
    registry.push_image("private/app", "1.0", "v1").await?;
    let image = RegistryImage::new(&registry.host(), "private/app");

    let error = client().list_tags(&image, &Auth::Anonymous).await.err().context("anonymous listing")?;

    assert!(matches!(error, RegistryError::Unauthorized { with_credentials: false, .. }), "{error:?}");
    assert!(!error.is_retryable());
    Ok(())
}

/// oci-client keeps the first credentials it sees per registry for its whole life; the client
/// must not inherit that, or a fixed (or rotated) secret would never take effect.
#[tokio::test]
async fn credentials_can_change_between_calls_on_one_client() -> anyhow::Result<()> {
    let registry = TestRegistry::start_with_user("alice", "s3cret-pw").await?;
    registry.push_image("private/app", "1.0", "v1").await?;
    let image = RegistryImage::new(&registry.host(), "private/app");
    let client = client();

    let wrong = client.list_tags(&image, &basic("alice", "old-pw")).await;
    let right = client.list_tags(&image, &basic("alice", "s3cret-pw")).await;
    let anonymous = client.list_tags(&image, &Auth::Anonymous).await;

    assert!(matches!(wrong, Err(RegistryError::Unauthorized { .. })), "{wrong:?}");
    assert_eq!(right?, ["1.0"]);
    assert!(matches!(anonymous, Err(RegistryError::Unauthorized { .. })), "{anonymous:?}");
    Ok(())
}

#[tokio::test]
async fn pull_secret_credentials_reach_the_registry() -> anyhow::Result<()> {
    let registry = TestRegistry::start_with_user("alice", "s3cret-pw").await?;
    registry.push_image("private/app", "2.0", "v2").await?;
    let config = json!({ "auths": { format!("http://{}", registry.host()): {
        "username": "alice", "password": "s3cret-pw"
    } } });
    let secret = Secret {
        type_: Some("kubernetes.io/dockerconfigjson".into()),
        data: Some(BTreeMap::from([(".dockerconfigjson".to_owned(), ByteString(config.to_string().into()))])),
        ..Secret::default()
    };
    let secrets = [PullSecret::from_secret(&secret)?];

    let auth = Auth::from(lookup(&secrets, &registry.host(), "private/app"));
    let tags = client().list_tags(&RegistryImage::new(&registry.host(), "private/app"), &auth).await?;

    assert_eq!(tags, ["2.0"]);
    Ok(())
}

#[tokio::test]
async fn digest_changes_when_a_tag_is_re_pushed() -> anyhow::Result<()> {
    let registry = TestRegistry::start().await?;
    let image = RegistryImage::new(&registry.host(), "team/app");
    let first = registry.push_image("team/app", "latest", "build 1").await?;
    let before = client().digest(&image, "latest", &Auth::Anonymous).await?;

    let second = registry.push_image("team/app", "latest", "build 2").await?;
    let after = client().digest(&image, "latest", &Auth::Anonymous).await?;

    assert_eq!(before, first);
    assert_eq!(after, second);
    assert_ne!(before, after, "re-pushing different content moves the tag");
    assert!(after.starts_with("sha256:") && after.len() == 71, "{after}");
    Ok(())
}

#[tokio::test]
async fn missing_repository_or_tag_is_a_non_retryable_not_found() -> anyhow::Result<()> {
    let registry = TestRegistry::start().await?;
    registry.push_image("team/app", "1.0", "v1").await?;
    let missing_repository = RegistryImage::new(&registry.host(), "team/nope");
    let image = RegistryImage::new(&registry.host(), "team/app");

    let no_repository =
        client().list_tags(&missing_repository, &Auth::Anonymous).await.err().context("list")?;
    let no_tag = client().digest(&image, "9.9", &Auth::Anonymous).await.err().context("digest")?;

    assert!(matches!(no_repository, RegistryError::NotFound { tag: None, .. }), "{no_repository:?}");
    assert!(matches!(&no_tag, RegistryError::NotFound { tag: Some(tag), .. } if tag == "9.9"), "{no_tag:?}");
    assert!(!no_repository.is_retryable() && !no_tag.is_retryable());
    Ok(())
}

#[tokio::test]
async fn stopped_registry_is_a_retryable_error() -> anyhow::Result<()> {
    let mut registry = TestRegistry::start().await?;
    registry.push_image("team/app", "1.0", "v1").await?;
    let image = RegistryImage::new(&registry.host(), "team/app");
    let client = client();
    assert_eq!(client.list_tags(&image, &Auth::Anonymous).await?, ["1.0"], "reachable before the stop");

    registry.stop();
    let listing = client.list_tags(&image, &Auth::Anonymous).await.err().context("list after stop")?;
    let digest = client.digest(&image, "1.0", &Auth::Anonymous).await.err().context("digest after stop")?;

    for error in [listing, digest] {
        assert!(matches!(error, RegistryError::Unreachable { .. }), "{error:?}");
        assert!(error.is_retryable());
    }
    Ok(())
}

/// Registries that hand out bearer tokens (Docker Hub, GHCR, Harbor) are reached with the pull
/// secret's username and password traded for a token at the realm the registry names; this
/// stand-in is such a registry, checking both steps.
#[tokio::test]
async fn token_registries_trade_the_pull_secret_for_a_bearer_token() -> anyhow::Result<()> {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Response};

    install_crypto_provider();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let host = listener.local_addr()?.to_string();
    let realm = format!("http://{host}/token");
    // "robot:s3cret", as a registry's Basic header carries it.
    let expected_basic = format!("Basic {}", "cm9ib3Q6czNjcmV0");
    let challenge = move |realm: &str| {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        let value = format!(r#"Bearer realm="{realm}",service="stand-in",scope="repository:team/app:pull""#);
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let tokens_issued = Arc::new(Mutex::new(0_u32));
    let issued = tokens_issued.clone();
    let ping_realm = realm.clone();
    let list_realm = realm.clone();
    let app = Router::new()
        .route("/v2/", get(move || async move { challenge(&ping_realm) }))
        .route(
            "/token",
            get(move |headers: HeaderMap, Query(query): Query<HashMap<String, String>>| async move {
                let authorized =
                    headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(&expected_basic);
                if !authorized || query.get("service").map(String::as_str) != Some("stand-in") {
                    return StatusCode::UNAUTHORIZED.into_response();
                }
                if let Ok(mut count) = issued.lock() {
                    *count += 1;
                }
                Json(json!({"token": "tok-123", "expires_in": 300})).into_response()
            }),
        )
        .route(
            "/v2/team/app/tags/list",
            get(move |headers: HeaderMap| async move {
                let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
                let response: Response = if bearer == Some("Bearer tok-123") {
                    Json(json!({"name": "team/app", "tags": ["1.0.0", "1.1.0"]})).into_response()
                } else {
                    challenge(&list_realm)
                };
                response
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let image = RegistryImage::new(&host, "team/app");
    let tags = client().list_tags(&image, &basic("robot", "s3cret")).await?;
    assert_eq!(tags, ["1.0.0", "1.1.0"]);
    assert!(*tokens_issued.lock().map_err(|_| anyhow::anyhow!("poisoned"))? >= 1, "a token was issued");

    let refused = client().list_tags(&image, &basic("robot", "wrong")).await;
    assert!(
        matches!(&refused, Err(error) if !error.is_retryable()),
        "wrong credentials are a non-retryable error: {refused:?}"
    );
    Ok(())
}
