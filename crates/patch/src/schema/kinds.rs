//! The patch tags of the kinds we serve, transcribed from k8s.io/api (core/v1, apps/v1) and
//! apimachinery's ObjectMeta.
//!
//! The tables form a small type graph (a field points at the type of its value, or of its list
//! elements), so a type used in several places — PodSpec in Pods and in DaemonSet templates,
//! Container in containers, initContainers and ephemeralContainers — is written once. Only fields
//! that carry a tag, or lead to one, are listed: everything else is untagged.

use super::{FieldMeta, Schema};

/// The patch metadata of one kind, e.g. DaemonSet.
#[derive(Clone, Copy, Debug)]
pub struct KindSchema {
    root: &'static TypeDef,
}

impl KindSchema {
    /// The kinds with a table of their own.
    pub const KNOWN_KINDS: [&'static str; 10] = [
        "Pod",
        "DaemonSet",
        "Node",
        "ControllerRevision",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Namespace",
        "Event",
        "PodTemplate",
    ];

    /// The schema of a built-in kind (`"DaemonSet"`, `"Pod"`, ...), or `None` for kinds without a
    /// table (custom resources).
    pub fn for_kind(kind: &str) -> Option<Self> {
        let root = match kind {
            "Pod" => &POD,
            "DaemonSet" => &DAEMON_SET,
            "Node" => &NODE,
            "ControllerRevision" => &CONTROLLER_REVISION,
            "ServiceAccount" => &SERVICE_ACCOUNT,
            "Namespace" => &NAMESPACE,
            "PodTemplate" => &POD_TEMPLATE,
            "ConfigMap" | "Secret" | "Event" => &OBJECT,
            _ => return None,
        };
        Some(Self { root })
    }

    /// Only the rules every object shares (`metadata.finalizers` as a set, `ownerReferences` by
    /// uid); every other list is replaced. What custom resources get.
    pub fn generic() -> Self {
        Self { root: &OBJECT }
    }

    /// [`KindSchema::for_kind`], falling back to [`KindSchema::generic`].
    pub fn for_kind_or_generic(kind: &str) -> Self {
        Self::for_kind(kind).unwrap_or_else(Self::generic)
    }
}

impl Schema for KindSchema {
    fn field(&self, path: &[&str]) -> FieldMeta {
        let Some((last, parents)) = path.split_last() else {
            return FieldMeta::DEFAULT;
        };
        let mut ty = self.root;
        for name in parents {
            // A field without a type is an untyped value (a map of strings, a list of
            // primitives): nothing below it is tagged.
            match ty.fields.iter().find(|field| field.name == *name).and_then(|field| field.ty) {
                Some(next) => ty = next,
                None => return FieldMeta::DEFAULT,
            }
        }
        ty.fields
            .iter()
            .find(|field| field.name == *last)
            .map_or(FieldMeta::DEFAULT, |field| field.meta.clone())
    }
}

/// The fields of one Go struct that carry or lead to patch tags.
#[derive(Debug)]
struct TypeDef {
    fields: &'static [Field],
}

/// One struct field: its JSON name, its tags and, for structs and lists of structs, the type
/// of the value or of the elements.
#[derive(Debug)]
struct Field {
    name: &'static str,
    meta: FieldMeta,
    ty: Option<&'static TypeDef>,
}

const fn tagged(name: &'static str, meta: FieldMeta) -> Field {
    Field { name, meta, ty: None }
}

const fn nested(name: &'static str, meta: FieldMeta, ty: &'static TypeDef) -> Field {
    Field { name, meta, ty: Some(ty) }
}

/// Listed for the reader: untagged lists are replaced whole, which is what makes them atomic.
const fn atomic(name: &'static str) -> Field {
    tagged(name, FieldMeta::DEFAULT)
}

static OBJECT_META: TypeDef = TypeDef {
    fields: &[
        tagged("finalizers", FieldMeta::SET),
        tagged("ownerReferences", FieldMeta::merge_by("uid")),
        atomic("managedFields"),
    ],
};

/// ConfigMap, Secret, Event and custom resources: only metadata is tagged.
static OBJECT: TypeDef = TypeDef { fields: &[nested("metadata", FieldMeta::DEFAULT, &OBJECT_META)] };

/// Container and EphemeralContainer (which shares Container's fields).
static CONTAINER: TypeDef = TypeDef {
    fields: &[
        tagged("ports", FieldMeta::merge_by("containerPort")),
        tagged("env", FieldMeta::merge_by("name")),
        tagged("volumeMounts", FieldMeta::merge_by("mountPath")),
        tagged("volumeDevices", FieldMeta::merge_by("devicePath")),
        atomic("args"),
        atomic("command"),
        atomic("envFrom"),
        atomic("resizePolicy"),
    ],
};

static POD_SPEC: TypeDef = TypeDef {
    fields: &[
        tagged("volumes", FieldMeta::merge_by_retaining_keys("name")),
        nested("initContainers", FieldMeta::merge_by("name"), &CONTAINER),
        nested("containers", FieldMeta::merge_by("name"), &CONTAINER),
        nested("ephemeralContainers", FieldMeta::merge_by("name"), &CONTAINER),
        tagged("imagePullSecrets", FieldMeta::merge_by("name")),
        tagged("hostAliases", FieldMeta::merge_by("ip")),
        tagged("topologySpreadConstraints", FieldMeta::merge_by("topologyKey")),
        tagged("resourceClaims", FieldMeta::merge_by_retaining_keys("name")),
        tagged("schedulingGates", FieldMeta::merge_by("name")),
        atomic("tolerations"),
        atomic("readinessGates"),
    ],
};

static POD_STATUS: TypeDef = TypeDef {
    fields: &[
        tagged("conditions", FieldMeta::merge_by("type")),
        tagged("podIPs", FieldMeta::merge_by("ip")),
        tagged("hostIPs", FieldMeta::merge_by("ip")),
        tagged("resourceClaimStatuses", FieldMeta::merge_by_retaining_keys("name")),
        atomic("containerStatuses"),
        atomic("initContainerStatuses"),
        atomic("ephemeralContainerStatuses"),
    ],
};

static POD: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("spec", FieldMeta::DEFAULT, &POD_SPEC),
        nested("status", FieldMeta::DEFAULT, &POD_STATUS),
    ],
};

static POD_TEMPLATE_SPEC: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("spec", FieldMeta::DEFAULT, &POD_SPEC),
    ],
};

static POD_TEMPLATE: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("template", FieldMeta::DEFAULT, &POD_TEMPLATE_SPEC),
    ],
};

static DAEMON_SET_SPEC: TypeDef =
    TypeDef { fields: &[nested("template", FieldMeta::DEFAULT, &POD_TEMPLATE_SPEC)] };

static DAEMON_SET_STATUS: TypeDef = TypeDef { fields: &[tagged("conditions", FieldMeta::merge_by("type"))] };

static DAEMON_SET: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("spec", FieldMeta::DEFAULT, &DAEMON_SET_SPEC),
        nested("status", FieldMeta::DEFAULT, &DAEMON_SET_STATUS),
    ],
};

static NODE_SPEC: TypeDef = TypeDef { fields: &[tagged("podCIDRs", FieldMeta::SET), atomic("taints")] };

static NODE_STATUS: TypeDef = TypeDef {
    fields: &[
        tagged("conditions", FieldMeta::merge_by("type")),
        tagged("addresses", FieldMeta::merge_by("type")),
    ],
};

static NODE: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("spec", FieldMeta::DEFAULT, &NODE_SPEC),
        nested("status", FieldMeta::DEFAULT, &NODE_STATUS),
    ],
};

/// `data` is a RawExtension upstream: opaque, so a patch replaces it rather than reaching into a
/// recorded revision.
static CONTROLLER_REVISION: TypeDef = TypeDef {
    fields: &[nested("metadata", FieldMeta::DEFAULT, &OBJECT_META), tagged("data", FieldMeta::REPLACE)],
};

static SERVICE_ACCOUNT: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        tagged("secrets", FieldMeta::merge_by("name")),
        atomic("imagePullSecrets"),
    ],
};

static NAMESPACE_STATUS: TypeDef = TypeDef { fields: &[tagged("conditions", FieldMeta::merge_by("type"))] };

static NAMESPACE: TypeDef = TypeDef {
    fields: &[
        nested("metadata", FieldMeta::DEFAULT, &OBJECT_META),
        nested("status", FieldMeta::DEFAULT, &NAMESPACE_STATUS),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::PatchStrategy;

    fn merge_key(kind: &str, path: &[&str]) -> Option<String> {
        let schema = KindSchema::for_kind(kind)?;
        schema.field(path).merge_key.map(|key| key.into_owned())
    }

    #[test]
    fn pod_template_containers_merge_by_name_in_daemon_sets_and_pods() {
        assert_eq!(
            merge_key("DaemonSet", &["spec", "template", "spec", "containers"]).as_deref(),
            Some("name")
        );
        assert_eq!(merge_key("Pod", &["spec", "initContainers"]).as_deref(), Some("name"));
    }

    #[test]
    fn container_ports_merge_by_container_port_below_every_container_list() {
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            let path = ["spec", "template", "spec", list, "ports"];
            assert_eq!(merge_key("DaemonSet", &path).as_deref(), Some("containerPort"), "{list}");
        }
    }

    #[test]
    fn volumes_merge_by_name_and_retain_keys() {
        let schema = KindSchema::for_kind_or_generic("DaemonSet");
        let meta = schema.field(&["spec", "template", "spec", "volumes"]);
        assert_eq!(meta, FieldMeta::merge_by_retaining_keys("name"));
    }

    #[test]
    fn tolerations_args_and_command_are_atomic() {
        let schema = KindSchema::for_kind_or_generic("Pod");
        for path in [
            &["spec", "tolerations"][..],
            &["spec", "containers", "args"],
            &["spec", "containers", "command"],
        ] {
            assert_eq!(schema.field(path).strategy, PatchStrategy::Default, "{path:?}");
        }
    }

    #[test]
    fn map_keys_that_look_like_fields_are_not_tagged() {
        // A nodeSelector key named "containers" is data, not the containers field.
        let schema = KindSchema::for_kind_or_generic("Pod");
        assert_eq!(schema.field(&["spec", "nodeSelector", "containers"]), FieldMeta::DEFAULT);
    }

    #[test]
    fn custom_resources_know_only_object_meta() {
        let schema = KindSchema::for_kind_or_generic("UpdateRequest");
        assert_eq!(schema.field(&["metadata", "finalizers"]), FieldMeta::SET);
        assert_eq!(schema.field(&["spec", "containers"]), FieldMeta::DEFAULT);
    }

    #[test]
    fn status_conditions_merge_by_type() {
        for kind in ["Pod", "Node", "DaemonSet", "Namespace"] {
            assert_eq!(merge_key(kind, &["status", "conditions"]).as_deref(), Some("type"), "{kind}");
        }
        assert_eq!(merge_key("Node", &["status", "addresses"]).as_deref(), Some("type"));
    }
}
