//! The built-in kinds and their component schemas, generated once from k8s-openapi's schemars
//! implementations and corrected where they differ from the upstream documents.
//!
//! k8s-openapi already names its schemas like upstream (`io.k8s.api.apps.v1.DaemonSetSpec`) and
//! carries upstream's descriptions and `required` lists for nested types, and schemars' OpenAPI 3.0
//! settings already write `$ref`s as `#/components/schemas/<name>` and wrap described refs in
//! `allOf` as upstream does. What it lacks is added here: `x-kubernetes-group-version-kind` on the
//! kinds, the `<Kind>List` schemas the list operations return, upstream's `required` lists for the
//! top-level kinds (k8s-openapi marks every non-`Option` field required, `metadata` included), and
//! the patch and list-type extensions ([`super::field_tags`]).

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Binding, ConfigMap, Event, Namespace, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, ListMeta, ObjectMeta, Patch, Status};
use k8s_openapi::{ListableResource, Resource};
use schemars::JsonSchema;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::error::{OpenApiError, OpenApiResult};
use super::field_tags;
use super::group_version::GroupVersion;
use super::refs::{described_ref, schema_ref};

/// `metav1.ObjectMeta`, which custom resources' `metadata` refers to.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// `metav1.ListMeta`, the `metadata` of every list.
pub const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
/// `metav1.Status`, what deletes of collections answer.
pub const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
/// `metav1.DeleteOptions`, the body of deletes.
pub const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
/// `metav1.Patch`, the (opaque) body of patches.
pub const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The upstream `description` of `apiVersion`, for schemas we write by hand (lists, custom
/// resources); the built-in kinds carry it from k8s-openapi.
pub const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
/// The upstream `description` of `kind`, for the same hand-written schemas.
pub const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
/// The upstream `description` of a list's `metadata`.
const LIST_METADATA_DESCRIPTION: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// One built-in kind: where it is served and what its schemas are called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinKind {
    /// Its group-version.
    pub group_version: GroupVersion,
    /// e.g. `DaemonSet`.
    pub kind: &'static str,
    /// Its component schema, e.g. `io.k8s.api.apps.v1.DaemonSet`.
    pub schema: String,
    /// Its list kind and that kind's component schema (`DaemonSetList`,
    /// `io.k8s.api.apps.v1.DaemonSetList`); `None` for kinds without lists (Binding).
    pub list: Option<(&'static str, String)>,
    /// Upstream's `required` list for the kind's own schema.
    required: &'static [&'static str],
}

/// The component schemas of every built-in kind, and the kinds themselves.
#[derive(Debug, Clone)]
pub struct BuiltinSchemas {
    kinds: Vec<BuiltinKind>,
    definitions: Map<String, Value>,
}

impl BuiltinSchemas {
    /// Generates and corrects the schemas. The work (a few milliseconds) is done once, at startup.
    pub fn generate() -> OpenApiResult<Self> {
        let mut generator = SchemaSettings::openapi3().into_generator();
        // Upstream `required` lists of the top-level kinds; nested types keep k8s-openapi's.
        let kinds = vec![
            listable::<Namespace>(&mut generator, &[]),
            listable::<Node>(&mut generator, &[]),
            listable::<Pod>(&mut generator, &[]),
            listable::<Event>(&mut generator, &["metadata", "involvedObject"]),
            listable::<ConfigMap>(&mut generator, &[]),
            listable::<Secret>(&mut generator, &[]),
            listable::<ServiceAccount>(&mut generator, &[]),
            single::<Binding>(&mut generator, &["target"]),
            listable::<DaemonSet>(&mut generator, &[]),
            listable::<ControllerRevision>(&mut generator, &["revision"]),
            listable::<CustomResourceDefinition>(&mut generator, &["spec"]),
            listable::<Lease>(&mut generator, &[]),
        ];
        // The meta types operations refer to, whether or not a kind reaches them.
        generator.subschema_for::<ObjectMeta>();
        generator.subschema_for::<ListMeta>();
        generator.subschema_for::<Status>();
        generator.subschema_for::<DeleteOptions>();
        generator.subschema_for::<Patch>();
        let mut definitions = generator.take_definitions(true);

        for name in [OBJECT_META, LIST_META, STATUS, DELETE_OPTIONS, PATCH] {
            if !definitions.contains_key(name) {
                return Err(OpenApiError::MissingSchema(name.to_owned()));
            }
        }
        for kind in &kinds {
            let schema = object_mut(&mut definitions, &kind.schema)?;
            if kind.required.is_empty() {
                schema.remove("required");
            } else {
                schema.insert("required".into(), json!(kind.required));
            }
            schema.insert("x-kubernetes-group-version-kind".into(), kind.group_version.gvk_list(kind.kind));
            if let Some((list_kind, list_schema)) = &kind.list {
                let list = list_schema_for(&kind.group_version, list_kind, &kind.schema, kind.kind);
                definitions.insert(list_schema.clone(), list);
            }
        }
        field_tags::apply(&mut definitions)?;
        Ok(BuiltinSchemas { kinds, definitions })
    }

    /// The built-in kind served at `group_version` as `kind`, if there is one.
    pub fn kind(&self, group_version: &GroupVersion, kind: &str) -> Option<&BuiltinKind> {
        self.kinds.iter().find(|known| known.group_version == *group_version && known.kind == kind)
    }

    /// The component schema called `name`.
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.definitions.get(name)
    }
}

/// The schema of a list kind, written as upstream's generator would write `<Kind>List`.
pub fn list_schema_for(
    group_version: &GroupVersion,
    list_kind: &str,
    item_schema: &str,
    item_kind: &str,
) -> Value {
    json!({
        "description": format!("{list_kind} is a list of {item_kind} objects."),
        "type": "object",
        "properties": {
            "apiVersion": { "description": API_VERSION_DESCRIPTION, "type": "string" },
            "items": {
                "description": format!("List of {item_kind} objects."),
                "type": "array",
                "items": schema_ref(item_schema),
            },
            "kind": { "description": KIND_DESCRIPTION, "type": "string" },
            "metadata": described_ref(LIST_META, LIST_METADATA_DESCRIPTION),
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": group_version.gvk_list(list_kind),
    })
}

/// A kind with a list kind (`DaemonSet`, `DaemonSetList`).
fn listable<K: ListableResource + JsonSchema>(
    generator: &mut SchemaGenerator,
    required: &'static [&'static str],
) -> BuiltinKind {
    let mut kind = single::<K>(generator, required);
    let list_schema = match kind.schema.rsplit_once('.') {
        Some((package, _)) => format!("{package}.{}", K::LIST_KIND),
        None => K::LIST_KIND.to_owned(),
    };
    kind.list = Some((K::LIST_KIND, list_schema));
    kind
}

/// A kind without a list kind (`Binding`).
fn single<K: Resource + JsonSchema>(
    generator: &mut SchemaGenerator,
    required: &'static [&'static str],
) -> BuiltinKind {
    generator.subschema_for::<K>();
    BuiltinKind {
        group_version: GroupVersion::new(K::GROUP, K::VERSION),
        kind: K::KIND,
        schema: K::schema_name().into_owned(),
        list: None,
        required,
    }
}

/// The object behind the component schema `name`.
pub fn object_mut<'a>(
    definitions: &'a mut Map<String, Value>,
    name: &str,
) -> OpenApiResult<&'a mut Map<String, Value>> {
    definitions
        .get_mut(name)
        .ok_or_else(|| OpenApiError::MissingSchema(name.to_owned()))?
        .as_object_mut()
        .ok_or_else(|| OpenApiError::NotAnObject(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> BuiltinSchemas {
        BuiltinSchemas::generate().expect("built-in schemas generate")
    }

    #[test]
    fn kinds_carry_their_group_version_kind_as_a_list() {
        let schemas = schemas();
        let daemon_set = schemas.schema("io.k8s.api.apps.v1.DaemonSet").expect("DaemonSet schema");
        assert_eq!(
            daemon_set["x-kubernetes-group-version-kind"],
            json!([{ "group": "apps", "kind": "DaemonSet", "version": "v1" }])
        );
        let pods = schemas.schema("io.k8s.api.core.v1.PodList").expect("PodList schema");
        assert_eq!(pods["x-kubernetes-group-version-kind"][0]["kind"], "PodList");
        assert_eq!(pods["properties"]["items"]["items"], schema_ref("io.k8s.api.core.v1.Pod"));
    }

    #[test]
    fn top_level_required_lists_follow_upstream_not_rust_optionality() {
        let schemas = schemas();
        assert!(schemas.schema("io.k8s.api.apps.v1.DaemonSet").is_some_and(|s| s.get("required").is_none()));
        assert_eq!(
            schemas.schema("io.k8s.api.core.v1.Binding").map(|s| &s["required"]),
            Some(&json!(["target"]))
        );
        // Nested types keep k8s-openapi's lists, which are upstream's.
        assert_eq!(
            schemas.schema("io.k8s.api.apps.v1.DaemonSetSpec").map(|s| &s["required"]),
            Some(&json!(["selector", "template"]))
        );
    }

    #[test]
    fn kinds_are_found_by_group_version_and_kind() {
        let schemas = schemas();
        let crd = schemas.kind(&GroupVersion::new("apiextensions.k8s.io", "v1"), "CustomResourceDefinition");
        assert_eq!(
            crd.map(|kind| kind.schema.as_str()),
            Some("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition")
        );
        assert!(
            schemas.kind(&GroupVersion::new("", "v1"), "Binding").is_some_and(|kind| kind.list.is_none())
        );
        assert!(schemas.kind(&GroupVersion::new("apps", "v1"), "Pod").is_none());
    }
}
