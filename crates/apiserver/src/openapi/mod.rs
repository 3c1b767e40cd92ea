//! The `/openapi/v3` documents kubectl needs for validation, `kubectl explain` and client-side
//! `kubectl apply`.
//!
//! kubectl fetches the index (`GET /openapi/v3`: `{"paths": {"apis/apps/v1": {"serverRelativeURL":
//! "/openapi/v3/apis/apps/v1?hash=..."}}}`), then the document of the group-version it needs, as
//! JSON. From that document:
//! - `apply`/`create` see a `fieldValidation` query parameter on the kind's PATCH operations, leave
//!   validation to the server and send `fieldValidation=Strict` (without the parameter they fall
//!   back to OpenAPI v2, which they only fetch as protobuf, and fail);
//! - `explain` finds the kind from an operation's `x-kubernetes-group-version-kind`, then the
//!   component schema with the same GVK, and walks properties, `allOf` and `$ref`s;
//! - client-side `apply` reads `x-kubernetes-patch-merge-key`/`-strategy` to build strategic merge
//!   patches, when the PATCH body lists `application/strategic-merge-patch+json`.
//!
//! Built-in schemas come from k8s-openapi's schemars support, generated once in
//! [`OpenApi::new`]; custom resources' come from their CRDs. Documents are cached per
//! group-version and rebuilt only when that group-version's endpoints change.

mod builtin;
mod custom;
mod digest;
mod document;
mod error;
mod field_tags;
mod group_version;
mod operations;
mod parameters;
mod refs;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value, json};

use builtin::BuiltinSchemas;
pub use document::Document;
pub use error::{OpenApiError, OpenApiResult};
pub use group_version::GroupVersion;
pub use refs::dangling_refs;

/// One served resource of a group-version, as the registry describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `""` for the core group.
    pub group: String,
    /// e.g. `v1`.
    pub version: String,
    /// e.g. `DaemonSet`.
    pub kind: String,
    /// The URL segment, e.g. `daemonsets`.
    pub plural: String,
    /// Whether the resource lives in namespaces.
    pub namespaced: bool,
    /// Subresource names, e.g. `status`, `binding`. Those whose kinds are not published here
    /// (`scale`, `eviction`) are left out of the documents.
    pub subresources: Vec<String>,
    /// The CRD version's `schema.openAPIV3Schema`; `None` for built-ins (and schemaless CRDs).
    pub custom_schema: Option<Value>,
}

impl Endpoint {
    fn group_version(&self) -> GroupVersion {
        GroupVersion::new(&self.group, &self.version)
    }
}

/// The OpenAPI v3 documents: built-in schemas generated once, documents cached per group-version.
#[derive(Debug)]
pub struct OpenApi {
    builtin: BuiltinSchemas,
    cache: Mutex<BTreeMap<GroupVersion, Cached>>,
}

/// A built document and the endpoints it was built from (the cache key).
#[derive(Debug)]
struct Cached {
    endpoints: Vec<Endpoint>,
    document: Arc<Document>,
}

impl OpenApi {
    /// Generates the built-in component schemas. Fails only if k8s-openapi's schemas no longer
    /// match the tables here (see [`OpenApiError`]).
    pub fn new() -> OpenApiResult<Self> {
        Ok(OpenApi { builtin: BuiltinSchemas::generate()?, cache: Mutex::new(BTreeMap::new()) })
    }

    /// The index document for these endpoints (built-ins plus current CRDs). Each URL carries the
    /// hex digest of its document's bytes, so clients' caches miss exactly when a document changes.
    pub fn index(&self, endpoints: &[Endpoint]) -> Value {
        let grouped = by_group_version(endpoints);
        let mut paths = Map::new();
        for (group_version, endpoints) in &grouped {
            let document = self.cached(group_version, endpoints);
            let path = group_version.path();
            let url = format!("/openapi/v3/{path}?hash={}", document.hash());
            paths.insert(path, json!({ "serverRelativeURL": url }));
        }
        // Forget group-versions that are no longer served (deleted CRDs).
        self.lock().retain(|group_version, _| grouped.contains_key(group_version));
        json!({ "paths": paths })
    }

    /// The document for `api/v1` or `apis/<group>/<version>`, or `None` if no endpoint has that
    /// group-version. Clones the cached value; the HTTP layer should prefer [`OpenApi::document`],
    /// whose bytes are serialized once.
    pub fn group_version(&self, path: &str, endpoints: &[Endpoint]) -> Option<Value> {
        self.document(path, endpoints).map(|document| document.value().clone())
    }

    /// Like [`OpenApi::group_version`], but shares the cached document: its serialized bytes and
    /// their hash (to compare with a request's `?hash=`).
    pub fn document(&self, path: &str, endpoints: &[Endpoint]) -> Option<Arc<Document>> {
        let group_version = GroupVersion::from_path(path)?;
        let mut served: Vec<&Endpoint> =
            endpoints.iter().filter(|endpoint| endpoint.group_version() == group_version).collect();
        if served.is_empty() {
            return None;
        }
        sort(&mut served);
        Some(self.cached(&group_version, &served))
    }

    /// The cached document of `group_version` if it was built from these same endpoints, else a
    /// freshly built (and cached) one. `endpoints` must be sorted with [`sort`].
    fn cached(&self, group_version: &GroupVersion, endpoints: &[&Endpoint]) -> Arc<Document> {
        let hit = self
            .lock()
            .get(group_version)
            .filter(|cached| cached.endpoints.iter().eq(endpoints.iter().copied()))
            .map(|cached| Arc::clone(&cached.document));
        if let Some(document) = hit {
            return document;
        }
        // Built outside the lock: a CRD document takes a moment, and racing builders of the same
        // group-version produce identical documents.
        let document = Arc::new(document::build(&self.builtin, group_version, endpoints));
        let endpoints = endpoints.iter().map(|endpoint| (*endpoint).clone()).collect();
        self.lock().insert(group_version.clone(), Cached { endpoints, document: Arc::clone(&document) });
        document
    }

    /// The cache holds only complete entries (each inserted whole), so a panic elsewhere while
    /// the lock was held cannot have left it inconsistent: a poisoned lock is safe to use.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<GroupVersion, Cached>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Endpoints grouped by group-version, each group sorted with [`sort`].
fn by_group_version(endpoints: &[Endpoint]) -> BTreeMap<GroupVersion, Vec<&Endpoint>> {
    let mut grouped: BTreeMap<GroupVersion, Vec<&Endpoint>> = BTreeMap::new();
    for endpoint in endpoints {
        grouped.entry(endpoint.group_version()).or_default().push(endpoint);
    }
    grouped.values_mut().for_each(|endpoints| sort(endpoints));
    grouped
}

/// A canonical order, so the cache recognizes the same endpoints listed in another order.
fn sort(endpoints: &mut [&Endpoint]) {
    endpoints.sort_by(|a, b| (&a.kind, &a.plural).cmp(&(&b.kind, &b.plural)));
}
