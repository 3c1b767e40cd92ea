//! The resource registry: every kind the server serves, as data. Adding a built-in kind is one
//! entry in [`builtin`]; CRDs add and remove entries at runtime.

mod builtin;

use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value;

use crate::strategy::{CustomStrategy, Strategy};
use crate::table::{CustomColumns, Printer};

pub use builtin::builtin_resources;

/// One served resource (a kind at one group-version).
#[derive(Debug, Clone)]
pub struct ResourceType {
    /// API group, "" for core.
    pub group: String,
    /// Version, e.g. `v1`.
    pub version: String,
    /// Lower-case plural, the URL segment (`daemonsets`).
    pub plural: String,
    /// Lower-case singular (`daemonset`).
    pub singular: String,
    /// `kind` (`DaemonSet`).
    pub kind: String,
    /// Whether objects live in namespaces.
    pub namespaced: bool,
    /// kubectl short names (`ds`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Whether `/status` is served (and the main resource ignores status changes).
    pub status_subresource: bool,
    /// Whether `/binding` is served (pods).
    pub binding_subresource: bool,
    /// The kind's rules.
    pub strategy: Arc<dyn Strategy>,
    /// How `kubectl get` prints it.
    pub printer: Arc<Printer>,
    /// For custom resources: the CRD's name.
    pub crd: Option<String>,
    /// For custom resources: the version's `openAPIV3Schema`.
    pub schema: Option<Value>,
}

impl ResourceType {
    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The store collection: independent of the version, so all versions share the objects.
    pub fn storage_resource(&self) -> String {
        if self.group.is_empty() { self.plural.clone() } else { format!("{}.{}", self.plural, self.group) }
    }

    /// The kind's `List` kind.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Verbs for discovery.
    pub fn verbs(&self) -> Vec<&'static str> {
        vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

/// All served resources. Cheap to clone; clones share the table.
#[derive(Debug, Clone)]
pub struct Registry {
    resources: Arc<RwLock<Vec<Arc<ResourceType>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl Registry {
    /// The built-in resources.
    pub fn new() -> Self {
        let resources = builtin_resources().into_iter().map(Arc::new).collect();
        Registry { resources: Arc::new(RwLock::new(resources)) }
    }

    /// Every resource, in registration order.
    pub fn all(&self) -> Vec<Arc<ResourceType>> {
        self.resources.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The resource served at `group`/`version` under `plural`.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// The resource of `kind` in `group` (any version), for owner lookups and the GC.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
        self.resources
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .cloned()
    }

    /// One entry per storage collection (the first version registered of each).
    pub fn collections(&self) -> Vec<Arc<ResourceType>> {
        let mut seen = std::collections::HashSet::new();
        self.all().into_iter().filter(|r| seen.insert(r.storage_resource())).collect()
    }

    /// Serves (or re-serves, after an update) the versions of a CRD.
    pub fn install_crd(&self, crd: &Value) {
        let name = crate::meta::name(crd).to_owned();
        let mut resources = self.resources.write().unwrap_or_else(PoisonError::into_inner);
        resources.retain(|r| r.crd.as_deref() != Some(name.as_str()));
        if crate::meta::is_deleting(crd) {
            return;
        }
        let spec = |p: &str| crd.pointer(p).and_then(Value::as_str).unwrap_or_default().to_owned();
        let strings = |p: &str| -> Vec<String> {
            crd.pointer(p)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let kind = spec("/spec/names/kind");
        let plural = spec("/spec/names/plural");
        let mut singular = spec("/spec/names/singular");
        if singular.is_empty() {
            singular = kind.to_lowercase();
        }
        let namespaced = spec("/spec/scope") != "Cluster";
        for (version, schema, status, columns) in crate::strategy::custom_served_versions(crd) {
            resources.push(Arc::new(ResourceType {
                group: spec("/spec/group"),
                version,
                plural: plural.clone(),
                singular: singular.clone(),
                kind: kind.clone(),
                namespaced,
                short_names: strings("/spec/names/shortNames"),
                categories: strings("/spec/names/categories"),
                status_subresource: status,
                binding_subresource: false,
                strategy: Arc::new(CustomStrategy::new(&kind, namespaced, schema.clone())),
                printer: Arc::new(Printer::Custom(CustomColumns::from_crd_version(columns.as_ref()))),
                crd: Some(name.clone()),
                schema,
            }));
        }
    }

    /// Stops serving a deleted CRD's resources.
    pub fn remove_crd(&self, name: &str) {
        self.resources
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| r.crd.as_deref() != Some(name));
    }
}
