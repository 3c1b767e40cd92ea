//! Reading tags and manifest digests from registries: the [`TagSource`] seam and its oci-client implementation.
//!
//! The poller only needs two calls (every tag of a repository, and the digest a tag points to), so
//! the seam is that small and tests of the poller use an in-memory fake. [`OciRegistry`] implements
//! it over `oci_client::Client`, adding what that client leaves to its callers:
//!
//! - **Every page of tags** (see `paging`), where Headwind read only the first.
//! - **Credentials per call.** An `oci_client::Client` keeps the first credentials it sees for a
//!   registry for its whole life (and caches a basic-auth "token" forever), so one client cannot
//!   serve two pull secrets for the same registry, nor a rotated password. We keep one client per
//!   distinct [`Auth`], in a small bounded map.
//! - **Plain HTTP** for loopback registries and a configured list (oci-client's choice is per
//!   client, so it is part of the map key too).
//! - **Docker Hub's real endpoint** (`registry-1.docker.io`) and its `library/` namespace.
//! - **Errors classified** for the backoff (see `error`).
//!
//! Building an HTTP client needs a process-wide rustls crypto provider: the crate is compiled with
//! `rustls-no-provider`, and reqwest panics without one, even for plain-HTTP registries. The binary
//! installs ring's provider at start-up (`rustls::crypto::ring::default_provider().install_default()`).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::auth::Credentials;
use super::error::{CallContext, RegistryError, Result};
use super::paging::{Next, TagPages};

/// Docker Hub as image references name it.
const DOCKER_HUB: &str = "docker.io";
/// Other names of Docker Hub in image references.
const DOCKER_HUB_ALIASES: [&str; 2] = ["index.docker.io", "registry-1.docker.io"];
/// Where Docker Hub's distribution API answers (`docker.io` itself does not serve `/v2/`).
const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";
/// Docker Hub's namespace of official images: `nginx` is `library/nginx`.
const OFFICIAL_NAMESPACE: &str = "library";

/// Tags asked for per page: 100 because several registries (Quay among them) cap `n` at 100, and a
/// page cut short by a cap would look like the last one (see `paging`).
pub const DEFAULT_PAGE_SIZE: usize = 100;
/// Pages read before giving up on a tag list: 100,000 tags at the default page size, far more than
/// any repository worth tracking, while still ending a registry that never stops paging.
pub const DEFAULT_MAX_PAGES: usize = 1000;
/// Distinct credentials kept with a live client. Each holds a connection pool and a token cache;
/// past this (many rotations, many secrets) the map is cleared rather than grown.
const MAX_CLIENTS: usize = 64;

/// A repository in a registry, named as image references name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryImage {
    registry: String,
    repository: String,
}

impl RegistryImage {
    /// The repository `repository` on `registry` (`host[:port]`). Docker Hub's spellings
    /// (`docker.io`, `index.docker.io`, `registry-1.docker.io`, or an empty host) become `docker.io`,
    /// and its one-component repositories get the `library/` namespace, as `docker pull` does.
    pub fn new(registry: &str, repository: &str) -> Self {
        let registry = registry.trim().to_ascii_lowercase();
        let repository = repository.trim_matches('/');
        if registry.is_empty() || registry == DOCKER_HUB || DOCKER_HUB_ALIASES.contains(&registry.as_str()) {
            let repository = if repository.contains('/') {
                repository.to_owned()
            } else {
                format!("{OFFICIAL_NAMESPACE}/{repository}")
            };
            return Self { registry: DOCKER_HUB.to_owned(), repository };
        }
        Self { registry, repository: repository.to_owned() }
    }

    /// The registry as image references name it (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The host serving the distribution API for this registry.
    pub fn endpoint(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_ENDPOINT } else { &self.registry }
    }

    fn reference(&self, tag: &str) -> Reference {
        Reference::with_tag(self.endpoint().to_owned(), self.repository.clone(), tag.to_owned())
    }
}

impl fmt::Display for RegistryImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)
    }
}

/// How to authenticate to a registry. Bearer-token exchanges (Docker Hub, GHCR, Harbor) start from
/// either; oci-client performs them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Auth {
    /// No credentials: public images.
    #[default]
    Anonymous,
    /// A username and password, from an image pull secret.
    Basic(Credentials),
}

impl From<Option<&Credentials>> for Auth {
    fn from(credentials: Option<&Credentials>) -> Self {
        credentials.map_or(Self::Anonymous, |c| Self::Basic(c.clone()))
    }
}

impl From<Option<Credentials>> for Auth {
    fn from(credentials: Option<Credentials>) -> Self {
        credentials.map_or(Self::Anonymous, Self::Basic)
    }
}

impl Auth {
    fn to_oci(&self) -> RegistryAuth {
        match self {
            Self::Anonymous => RegistryAuth::Anonymous,
            Self::Basic(c) => RegistryAuth::Basic(c.username.clone(), c.password().to_owned()),
        }
    }
}

/// What the update poller needs from a registry. A seam, so the poller can be tested with a fake.
pub trait TagSource: Send + Sync {
    /// Every tag of the repository, across all pages, each once, in the registry's order (which is
    /// not necessarily sorted: choosing a tag is the policy's job).
    fn list_tags(
        &self,
        image: &RegistryImage,
        auth: &Auth,
    ) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The digest (`sha256:...`) of the manifest `tag` points to now: for a multi-platform image,
    /// the index's digest, as the kubelet resolves it. A change means the tag was re-pushed.
    fn digest(
        &self,
        image: &RegistryImage,
        tag: &str,
        auth: &Auth,
    ) -> impl Future<Output = Result<String>> + Send;
}

/// How [`OciRegistry`] reaches registries.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries reached over plain HTTP besides loopback ones: `host:port` entries match exactly,
    /// bare `host` entries match every port. (Like Docker's `insecure-registries`.)
    pub insecure_registries: Vec<String>,
    /// `n` for tag list pages.
    pub page_size: usize,
    /// Pages read before a tag list counts as endless.
    pub max_pages: usize,
    /// Limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Limit for each read from a connection: oci-client has no overall request timeout, so this
    /// is what ends a registry that stops answering mid-response.
    pub read_timeout: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            insecure_registries: Vec::new(),
            page_size: DEFAULT_PAGE_SIZE,
            max_pages: DEFAULT_MAX_PAGES,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl RegistryConfig {
    /// Whether `registry` (`host[:port]`) is reached over plain HTTP: loopback hosts always (a
    /// registry on the node itself, as in tests and kind clusters), others when configured.
    pub fn is_plain_http(&self, registry: &str) -> bool {
        let host = host_of(registry);
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        loopback
            || self
                .insecure_registries
                .iter()
                .any(|entry| entry.eq_ignore_ascii_case(registry) || entry.eq_ignore_ascii_case(host))
    }
}

/// `host:port` -> `host`; `[::1]:5000` -> `[::1]`.
fn host_of(registry: &str) -> &str {
    if let Some(end) = registry.rfind(']') {
        return &registry[..=end];
    }
    registry.split_once(':').map_or(registry, |(host, _)| host)
}

/// [`TagSource`] over the distribution API, through oci-client.
pub struct OciRegistry {
    config: RegistryConfig,
    /// One oci-client per (credentials, scheme); see the module docs for why not a single client.
    clients: Mutex<HashMap<ClientKey, Client>>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    auth: Auth,
    plain_http: bool,
}

impl OciRegistry {
    /// A registry client. HTTP clients are built lazily, on the first call that needs each one;
    /// a rustls crypto provider must be installed by then (see the module docs).
    pub fn new(config: RegistryConfig) -> Self {
        Self { config, clients: Mutex::new(HashMap::new()) }
    }

    /// The configuration in force.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    fn client(&self, image: &RegistryImage, auth: &Auth) -> Result<Client> {
        let key = ClientKey { auth: auth.clone(), plain_http: self.config.is_plain_http(image.endpoint()) };
        // A poisoned lock only means another call panicked while holding it; the map stays valid.
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let config = ClientConfig {
            protocol: if key.plain_http { ClientProtocol::Http } else { ClientProtocol::Https },
            connect_timeout: Some(self.config.connect_timeout),
            read_timeout: Some(self.config.read_timeout),
            user_agent: concat!("everynode-updater/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        // `Client::new` would swallow a build error and fall back to a default client (which
        // panics in reqwest without a crypto provider); `try_from` reports it.
        let client = Client::try_from(config).map_err(|error| match error {
            oci_client::errors::OciDistributionError::RequestError(source) => {
                RegistryError::Client { registry: image.registry.clone(), source }
            }
            other => RegistryError::Protocol { registry: image.registry.clone(), detail: other.to_string() },
        })?;
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(key, client.clone());
        Ok(client)
    }
}

fn context<'a>(image: &'a RegistryImage, tag: Option<&'a str>, auth: &Auth) -> CallContext<'a> {
    CallContext {
        registry: &image.registry,
        repository: &image.repository,
        tag,
        with_credentials: matches!(auth, Auth::Basic(_)),
    }
}

impl TagSource for OciRegistry {
    #[tracing::instrument(level = "debug", skip_all, fields(registry = %image.registry, repository = %image.repository))]
    async fn list_tags(&self, image: &RegistryImage, auth: &Auth) -> Result<Vec<String>> {
        let client = self.client(image, auth)?;
        let ctx = context(image, None, auth);
        // The tag of the reference is not part of the tags/list URL.
        let reference = image.reference("latest");
        let oci_auth = auth.to_oci();
        let mut pages = TagPages::new(self.config.page_size, self.config.max_pages);
        let mut last: Option<String> = None;
        let mut requests = 0usize;
        loop {
            requests += 1;
            let page = client
                .list_tags(&reference, &oci_auth, Some(pages.page_size()), last.as_deref())
                .await
                .map_err(|error| ctx.classify(error))?;
            match pages.accept(page.tags) {
                Ok(Next::Fetch { last: next }) => last = Some(next),
                Ok(Next::Done) => break,
                Err(exhausted) => return Err(ctx.too_many_pages(exhausted.pages)),
            }
        }
        let tags = pages.into_tags();
        tracing::debug!(requests, tags = tags.len(), "listed tags");
        Ok(tags)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(registry = %image.registry, repository = %image.repository, tag = %tag))]
    async fn digest(&self, image: &RegistryImage, tag: &str, auth: &Auth) -> Result<String> {
        let client = self.client(image, auth)?;
        client
            .fetch_manifest_digest(&image.reference(tag), &auth.to_oci())
            .await
            .map_err(|error| context(image, Some(tag), auth).classify(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_spellings_become_docker_io_with_the_library_namespace() {
        for registry in ["docker.io", "index.docker.io", "registry-1.docker.io", "", "Docker.IO"] {
            let image = RegistryImage::new(registry, "nginx");
            assert_eq!(image.registry(), "docker.io", "{registry:?}");
            assert_eq!(image.repository(), "library/nginx", "{registry:?}");
            assert_eq!(image.endpoint(), "registry-1.docker.io", "{registry:?}");
        }
        assert_eq!(RegistryImage::new("docker.io", "prom/node-exporter").repository(), "prom/node-exporter");
    }

    #[test]
    fn other_registries_are_their_own_endpoint() {
        let image = RegistryImage::new("ghcr.io", "org/app");
        assert_eq!(image.endpoint(), "ghcr.io");
        assert_eq!(image.repository(), "org/app");
        assert_eq!(RegistryImage::new("quay.io", "single").repository(), "single");
        assert_eq!(image.to_string(), "ghcr.io/org/app");
    }

    #[test]
    fn loopback_registries_use_plain_http() {
        let config = RegistryConfig::default();
        for registry in
            ["127.0.0.1:5000", "127.0.0.1", "127.1.2.3:80", "localhost:5000", "LOCALHOST", "[::1]:5000"]
        {
            assert!(config.is_plain_http(registry), "{registry}");
        }
        for registry in
            ["ghcr.io", "registry-1.docker.io", "10.0.0.1:5000", "localhost.example.com", "[::2]:5000"]
        {
            assert!(!config.is_plain_http(registry), "{registry}");
        }
    }

    #[test]
    fn configured_insecure_registries_use_plain_http() {
        let config = RegistryConfig {
            insecure_registries: vec!["registry.lan:5000".into(), "mirror.lan".into()],
            ..RegistryConfig::default()
        };
        assert!(config.is_plain_http("registry.lan:5000"));
        assert!(!config.is_plain_http("registry.lan:5001"));
        assert!(!config.is_plain_http("registry.lan"));
        assert!(config.is_plain_http("mirror.lan"));
        assert!(config.is_plain_http("mirror.lan:8080"));
    }

    #[test]
    fn auth_debug_output_redacts_the_password() {
        let auth = Auth::from(Some(Credentials::new("bob", "hunter2")));
        let printed = format!("{auth:?}");
        assert!(printed.contains("bob") && !printed.contains("hunter2"), "{printed}");
        assert_eq!(Auth::from(None::<Credentials>), Auth::Anonymous);
    }
}
