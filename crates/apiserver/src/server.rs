//! `ApiServer`: shared state, the axum router, bootstrap (system namespaces, CRDs from the store)
//! and serving on a socket.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use everynode_store::{ObjectKey, Store};
use k8s_openapi::jiff::Timestamp;
use serde_json::json;
use tokio::sync::Notify;

use crate::discovery;
use crate::error::ApiError;
use crate::handlers;
use crate::openapi::OpenApi;
use crate::registry::Registry;

/// Namespaces that exist from the start, as on any Kubernetes cluster.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// The largest request body accepted (upstream's limit is 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The API server. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct ApiServer {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub store: Store,
    pub registry: Registry,
    pub openapi: OpenApi,
    /// Woken after deletions and finalizer changes so the garbage collector looks again.
    pub gc_wakeup: Arc<Notify>,
    pub clock: fn() -> Timestamp,
}

impl std::fmt::Debug for ApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiServer").finish_non_exhaustive()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The OpenAPI documents could not be built.
    #[error("building the OpenAPI documents: {0}")]
    OpenApi(String),
    /// Bootstrapping the store failed.
    #[error("bootstrapping the store: {0}")]
    Bootstrap(#[from] ApiError),
}

impl ApiServer {
    /// A server over `store`: creates the system namespaces if missing and serves the CRDs found
    /// in the store.
    pub async fn new(store: Store) -> Result<ApiServer, StartError> {
        let openapi = OpenApi::new().map_err(|e| StartError::OpenApi(e.to_string()))?;
        let server = ApiServer {
            inner: Arc::new(Inner {
                store,
                registry: Registry::new(),
                openapi,
                gc_wakeup: Arc::new(Notify::new()),
                clock: Timestamp::now,
            }),
        };
        server.bootstrap().await?;
        Ok(server)
    }

    async fn bootstrap(&self) -> Result<(), ApiError> {
        let store = &self.inner.store;
        for name in SYSTEM_NAMESPACES {
            let key = ObjectKey::cluster("namespaces", *name);
            if store.get(&key).is_ok() {
                continue;
            }
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            let Some(rt) = self.inner.registry.lookup("", "v1", "namespaces") else { continue };
            match handlers::write::create_object(self, &rt, None, body, false).await {
                Ok(_) | Err(ApiError { code: 409, .. }) => {}
                Err(error) => return Err(error),
            }
        }
        for crd in store.list("customresourcedefinitions.apiextensions.k8s.io", None).items {
            self.inner.registry.install_crd(&crd);
        }
        Ok(())
    }

    /// The store the server writes to.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The resources served.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn now(&self) -> Timestamp {
        (self.inner.clock)()
    }

    /// Asks the garbage collector to look for work.
    pub(crate) fn wake_gc(&self) {
        self.inner.gc_wakeup.notify_one();
    }

    /// The router: discovery, OpenAPI, health, and every resource path.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/version", get(discovery::version))
            .route("/api", get(discovery::api_versions))
            .route("/apis", get(discovery::api_groups))
            .route("/apis/{group}", get(discovery::api_group))
            .route("/api/v1", get(discovery::core_resources))
            .route("/apis/{group}/{version}", get(discovery::group_resources))
            .route("/openapi/v3", get(discovery::openapi_index))
            .route("/openapi/v3/{*path}", get(discovery::openapi_document))
            .route("/openapi/v2", get(discovery::openapi_v2))
            .route("/healthz", get(discovery::healthz))
            .route("/livez", get(discovery::healthz))
            .route("/readyz", get(discovery::healthz))
            .fallback(handlers::resource)
            .with_state(self.clone())
    }

    /// Starts the garbage collector and namespace cleaner; runs until the server is dropped.
    pub fn spawn_background(&self) -> tokio::task::JoinHandle<()> {
        let server = self.clone();
        tokio::spawn(async move { crate::gc::run(server).await })
    }
}
