//! The `x-kubernetes-*` extensions upstream puts on fields and types, which k8s-openapi's schemas
//! do not carry: strategic-merge-patch metadata (`x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key`) and list/map topology (`x-kubernetes-list-type`,
//! `x-kubernetes-list-map-keys`, `x-kubernetes-map-type`).
//!
//! Transcribed from the `+patchStrategy`, `+patchMergeKey`, `+listType`, `+listMapKey`,
//! `+mapType` and `+structType` markers of k8s.io/api and apimachinery for the types our kinds
//! reach. The patch tags must agree with everynode-patch's `KindSchema`, which applies patches on
//! the server; a test walks both. Client-side `kubectl apply` reads only the two patch extensions
//! (from the field's own schema, before following its ref); the list-type ones document
//! server-side-apply semantics.

use serde_json::{Map, Value, json};

use super::builtin::object_mut;
use super::error::{OpenApiError, OpenApiResult};

/// The extensions of one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tags {
    /// `x-kubernetes-patch-strategy`: `merge`, `merge,retainKeys` or `replace`.
    pub patch_strategy: Option<&'static str>,
    /// `x-kubernetes-patch-merge-key`: the field identifying list elements in a strategic merge.
    pub patch_merge_key: Option<&'static str>,
    /// `x-kubernetes-list-type`: `atomic`, `set` or `map`.
    pub list_type: Option<&'static str>,
    /// `x-kubernetes-list-map-keys`, for `map` lists.
    pub list_map_keys: &'static [&'static str],
    /// `x-kubernetes-map-type`: `atomic` for maps replaced whole.
    pub map_type: Option<&'static str>,
}

const NONE: Tags =
    Tags { patch_strategy: None, patch_merge_key: None, list_type: None, list_map_keys: &[], map_type: None };

/// `+listType=atomic`: replaced whole by patches and server-side apply.
const ATOMIC: Tags = Tags { list_type: Some("atomic"), ..NONE };

/// `+mapType=atomic`.
const ATOMIC_MAP: Tags = Tags { map_type: Some("atomic"), ..NONE };

/// `+patchStrategy=merge +listType=set`: primitives merged as a set.
const MERGED_SET: Tags = Tags { patch_strategy: Some("merge"), list_type: Some("set"), ..NONE };

/// `+patchStrategy=merge +patchMergeKey=<key> +listType=map +listMapKey=<keys>`.
const fn merged_by(key: &'static str, map_keys: &'static [&'static str]) -> Tags {
    Tags {
        patch_strategy: Some("merge"),
        patch_merge_key: Some(key),
        list_type: Some("map"),
        list_map_keys: map_keys,
        map_type: None,
    }
}

/// [`merged_by`] with `+patchStrategy=merge,retainKeys` (volumes, resource claims).
const fn merged_retaining_keys(key: &'static str) -> Tags {
    Tags { patch_strategy: Some("merge,retainKeys"), ..merged_by(key, &["name"]) }
}

/// Merged by key for patches, yet atomic for server-side apply (`PodStatus.hostIPs`).
const fn merged_by_but_atomic(key: &'static str) -> Tags {
    Tags {
        patch_strategy: Some("merge"),
        patch_merge_key: Some(key),
        list_type: Some("atomic"),
        list_map_keys: &[],
        map_type: None,
    }
}

/// `+listType=map +listMapKey=<keys>` without patch tags (apiextensions types).
const fn keyed(map_keys: &'static [&'static str]) -> Tags {
    Tags { list_type: Some("map"), list_map_keys: map_keys, ..NONE }
}

const BY_NAME: Tags = merged_by("name", &["name"]);
const BY_TYPE: Tags = merged_by("type", &["type"]);

/// Field tags, by component schema and property.
pub const FIELDS: &[(&str, &str, Tags)] = &[
    // apimachinery
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", MERGED_SET),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", merged_by("uid", &["uid"])),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "managedFields", ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchExpressions", ATOMIC),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement", "values", ATOMIC),
    // core/v1 pods
    ("io.k8s.api.core.v1.PodSpec", "volumes", merged_retaining_keys("name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", BY_NAME),
    ("io.k8s.api.core.v1.PodSpec", "containers", BY_NAME),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", BY_NAME),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", BY_NAME),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", merged_by("ip", &["ip"])),
    (
        "io.k8s.api.core.v1.PodSpec",
        "topologySpreadConstraints",
        merged_by("topologyKey", &["topologyKey", "whenUnsatisfiable"]),
    ),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", BY_NAME),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", merged_retaining_keys("name")),
    ("io.k8s.api.core.v1.PodSpec", "tolerations", ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "readinessGates", ATOMIC),
    ("io.k8s.api.core.v1.PodSpec", "nodeSelector", ATOMIC_MAP),
    ("io.k8s.api.core.v1.PodStatus", "conditions", BY_TYPE),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", merged_by("ip", &["ip"])),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", merged_by_but_atomic("ip")),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", merged_retaining_keys("name")),
    ("io.k8s.api.core.v1.PodStatus", "initContainerStatuses", ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "containerStatuses", ATOMIC),
    ("io.k8s.api.core.v1.PodStatus", "ephemeralContainerStatuses", ATOMIC),
    ("io.k8s.api.core.v1.Container", "command", ATOMIC),
    ("io.k8s.api.core.v1.Container", "args", ATOMIC),
    ("io.k8s.api.core.v1.Container", "ports", merged_by("containerPort", &["containerPort", "protocol"])),
    ("io.k8s.api.core.v1.Container", "envFrom", ATOMIC),
    ("io.k8s.api.core.v1.Container", "env", BY_NAME),
    ("io.k8s.api.core.v1.Container", "resizePolicy", ATOMIC),
    ("io.k8s.api.core.v1.Container", "restartPolicyRules", ATOMIC),
    ("io.k8s.api.core.v1.Container", "volumeMounts", merged_by("mountPath", &["mountPath"])),
    ("io.k8s.api.core.v1.Container", "volumeDevices", merged_by("devicePath", &["devicePath"])),
    ("io.k8s.api.core.v1.EphemeralContainer", "command", ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "args", ATOMIC),
    (
        "io.k8s.api.core.v1.EphemeralContainer",
        "ports",
        merged_by("containerPort", &["containerPort", "protocol"]),
    ),
    ("io.k8s.api.core.v1.EphemeralContainer", "envFrom", ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", BY_NAME),
    ("io.k8s.api.core.v1.EphemeralContainer", "resizePolicy", ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "restartPolicyRules", ATOMIC),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", merged_by("mountPath", &["mountPath"])),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", merged_by("devicePath", &["devicePath"])),
    ("io.k8s.api.core.v1.ResourceRequirements", "claims", keyed(&["name"])),
    ("io.k8s.api.core.v1.PodSecurityContext", "supplementalGroups", ATOMIC),
    ("io.k8s.api.core.v1.PodSecurityContext", "sysctls", ATOMIC),
    ("io.k8s.api.core.v1.Capabilities", "add", ATOMIC),
    ("io.k8s.api.core.v1.Capabilities", "drop", ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "nameservers", ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "searches", ATOMIC),
    ("io.k8s.api.core.v1.PodDNSConfig", "options", ATOMIC),
    ("io.k8s.api.core.v1.HostAlias", "hostnames", ATOMIC),
    ("io.k8s.api.core.v1.NodeSelector", "nodeSelectorTerms", ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchExpressions", ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorTerm", "matchFields", ATOMIC),
    ("io.k8s.api.core.v1.NodeSelectorRequirement", "values", ATOMIC),
    ("io.k8s.api.core.v1.NodeAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ("io.k8s.api.core.v1.PodAffinity", "requiredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ("io.k8s.api.core.v1.PodAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ("io.k8s.api.core.v1.PodAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ("io.k8s.api.core.v1.PodAntiAffinity", "preferredDuringSchedulingIgnoredDuringExecution", ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "namespaces", ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "matchLabelKeys", ATOMIC),
    ("io.k8s.api.core.v1.PodAffinityTerm", "mismatchLabelKeys", ATOMIC),
    ("io.k8s.api.core.v1.TopologySpreadConstraint", "matchLabelKeys", ATOMIC),
    ("io.k8s.api.core.v1.ExecAction", "command", ATOMIC),
    ("io.k8s.api.core.v1.HTTPGetAction", "httpHeaders", ATOMIC),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", "items", ATOMIC),
    ("io.k8s.api.core.v1.SecretVolumeSource", "items", ATOMIC),
    ("io.k8s.api.core.v1.ConfigMapProjection", "items", ATOMIC),
    ("io.k8s.api.core.v1.SecretProjection", "items", ATOMIC),
    ("io.k8s.api.core.v1.DownwardAPIVolumeSource", "items", ATOMIC),
    ("io.k8s.api.core.v1.DownwardAPIProjection", "items", ATOMIC),
    ("io.k8s.api.core.v1.ProjectedVolumeSource", "sources", ATOMIC),
    // core/v1 nodes, namespaces, service accounts
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", MERGED_SET),
    ("io.k8s.api.core.v1.NodeSpec", "taints", ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", BY_TYPE),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", BY_TYPE),
    ("io.k8s.api.core.v1.NodeStatus", "images", ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesInUse", ATOMIC),
    ("io.k8s.api.core.v1.NodeStatus", "volumesAttached", ATOMIC),
    ("io.k8s.api.core.v1.NamespaceSpec", "finalizers", ATOMIC),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", BY_TYPE),
    ("io.k8s.api.core.v1.ServiceAccount", "secrets", BY_NAME),
    ("io.k8s.api.core.v1.ServiceAccount", "imagePullSecrets", ATOMIC),
    // apps/v1
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", BY_TYPE),
    // apiextensions.k8s.io/v1
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec",
        "versions",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "conditions",
        keyed(&["type"]),
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus",
        "storedVersions",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "shortNames",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames",
        "categories",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "additionalPrinterColumns",
        ATOMIC,
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion",
        "selectableFields",
        ATOMIC,
    ),
];

/// Types marked `+structType=atomic`: server-side apply replaces them whole. Upstream writes
/// `x-kubernetes-map-type: atomic` on their component schemas.
pub const ATOMIC_STRUCTS: &[&str] = &[
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.api.core.v1.ObjectReference",
    "io.k8s.api.core.v1.LocalObjectReference",
    "io.k8s.api.core.v1.TypedLocalObjectReference",
    "io.k8s.api.core.v1.ConfigMapKeySelector",
    "io.k8s.api.core.v1.SecretKeySelector",
    "io.k8s.api.core.v1.ObjectFieldSelector",
    "io.k8s.api.core.v1.ResourceFieldSelector",
    "io.k8s.api.core.v1.NodeSelector",
    "io.k8s.api.core.v1.NodeSelectorTerm",
];

/// Writes [`FIELDS`] and [`ATOMIC_STRUCTS`] into `definitions`. Fails if a table names a schema
/// or property that is not there, so a k8s-openapi upgrade cannot silently drop a merge key.
pub fn apply(definitions: &mut Map<String, Value>) -> OpenApiResult<()> {
    for (schema, field, tags) in FIELDS {
        let property = object_mut(definitions, schema)?
            .get_mut("properties")
            .and_then(|properties| properties.get_mut(*field))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| OpenApiError::MissingField {
                schema: (*schema).to_owned(),
                field: (*field).to_owned(),
            })?;
        write(property, tags);
    }
    for schema in ATOMIC_STRUCTS {
        object_mut(definitions, schema)?.insert("x-kubernetes-map-type".into(), json!("atomic"));
    }
    Ok(())
}

fn write(property: &mut Map<String, Value>, tags: &Tags) {
    let entries = [
        ("x-kubernetes-patch-strategy", tags.patch_strategy.map(Value::from)),
        ("x-kubernetes-patch-merge-key", tags.patch_merge_key.map(Value::from)),
        ("x-kubernetes-list-type", tags.list_type.map(Value::from)),
        ("x-kubernetes-list-map-keys", (!tags.list_map_keys.is_empty()).then(|| json!(tags.list_map_keys))),
        ("x-kubernetes-map-type", tags.map_type.map(Value::from)),
    ];
    for (key, value) in entries {
        if let Some(value) = value {
            property.insert(key.into(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_fails_on_a_field_the_schemas_lack() {
        let mut definitions = Map::new();
        definitions.insert("io.k8s.api.core.v1.PodSpec".into(), json!({ "properties": {} }));
        let err = apply(&mut definitions).expect_err("a table row names a missing schema or field");
        assert!(matches!(err, OpenApiError::MissingField { .. } | OpenApiError::MissingSchema(_)), "{err}");
    }

    #[test]
    fn write_emits_only_the_tags_that_are_set() {
        let mut property = Map::new();
        write(&mut property, &BY_NAME);
        assert_eq!(
            Value::Object(property),
            json!({
                "x-kubernetes-patch-strategy": "merge",
                "x-kubernetes-patch-merge-key": "name",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
            })
        );
    }

    #[test]
    fn every_merge_key_is_also_a_list_map_key_or_the_list_is_atomic() {
        for (schema, field, tags) in FIELDS {
            if let Some(key) = tags.patch_merge_key {
                let consistent = tags.list_map_keys.contains(&key) || tags.list_type == Some("atomic");
                assert!(consistent, "{schema}.{field}: merge key {key} missing from its list map keys");
            }
        }
    }
}
