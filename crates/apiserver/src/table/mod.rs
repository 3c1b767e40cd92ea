//! Server-side printing: `meta.k8s.io/v1` Table responses with upstream columns.
//!
//! `kubectl get` asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints whatever
//! columns the server sends; without a Table it falls back to NAME and AGE. This module ports
//! Kubernetes' `pkg/printers/internalversion/printers.go` for the kinds we serve, the
//! apiextensions table convertor for custom resources, and the apiserver's default convertor.
//!
//! Like the upstream apiserver (which always prints with `Wide: true`), every row carries every
//! cell, wide ones included; kubectl hides columns whose `priority` is above 0 unless run with
//! `-o wide`.

mod custom;
mod descriptions;
mod duration;
mod events;
mod fields;
mod jsonpath;
mod labels;
mod node;
mod pod;
mod simple;
mod workloads;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Map, Value, json};

pub use custom::CustomColumns;

/// Which columns and cells to print for a resource: one variant per upstream print handler we
/// port, so the HTTP layer picks the printer from the resource it serves.
#[derive(Debug, Clone, PartialEq)]
pub enum Printer {
    /// `apps/v1` daemonsets.
    DaemonSet,
    /// `v1` pods, with upstream's full STATUS and RESTARTS logic.
    Pod,
    /// `v1` nodes.
    Node,
    /// `apps/v1` controllerrevisions.
    ControllerRevision,
    /// `v1` events.
    Event,
    /// `v1` namespaces.
    Namespace,
    /// `v1` configmaps.
    ConfigMap,
    /// `v1` secrets.
    Secret,
    /// `v1` serviceaccounts.
    ServiceAccount,
    /// `apiextensions.k8s.io/v1` customresourcedefinitions, which upstream prints with the
    /// default convertor (NAME, CREATED AT).
    CustomResourceDefinition,
    /// Custom resources, printed with the served version's `additionalPrinterColumns`.
    Custom(CustomColumns),
    /// Anything else: upstream's default table convertor (NAME, CREATED AT).
    Default,
}

/// How much of each object a row carries in `rows[].object` (the `includeObject` query
/// parameter). kubectl relies on the metadata for `--show-labels`, `-A` and `-L`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object at all.
    None,
    /// A `PartialObjectMetadata` carrying the object's `metadata` (the default).
    #[default]
    Metadata,
    /// The full object.
    Object,
}

impl IncludeObject {
    /// Parses `?includeObject=`; absent or empty means `Metadata`. The error is the message of
    /// upstream's `ValidateTableOptions`, for a 400 Bad Request.
    pub fn parse(s: Option<&str>) -> Result<Self, String> {
        match s.unwrap_or_default() {
            "" | "Metadata" => Ok(Self::Metadata),
            "None" => Ok(Self::None),
            "Object" => Ok(Self::Object),
            other => Err(format!(
                "includeObject: Unsupported value: {other:?}: supported values: \"Metadata\", \"None\", \"Object\""
            )),
        }
    }

    /// The value of `rows[].object` for one object, `None` to leave the field out.
    fn embed(self, object: &Value) -> Option<Value> {
        match self {
            Self::None => None,
            Self::Object => Some(object.clone()),
            Self::Metadata => {
                let metadata = object.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
                Some(json!({
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": metadata,
                }))
            }
        }
    }
}

/// Builds `{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{},"columnDefinitions":[...],"rows":[...]}`.
///
/// `rows[].object` is a `PartialObjectMetadata` for [`IncludeObject::Metadata`], the full object
/// for [`IncludeObject::Object`], and absent for [`IncludeObject::None`]. With
/// `with_columns == false` (`TableOptions.NoHeaders`, used by watch events after the first)
/// `columnDefinitions` is an empty array. The caller fills `metadata.resourceVersion` and
/// `metadata.continue` afterwards.
pub fn render(
    printer: &Printer,
    objects: &[&Value],
    now: Timestamp,
    include: IncludeObject,
    with_columns: bool,
) -> Value {
    let columns: Vec<Value> =
        if with_columns { printer.columns().iter().map(Column::to_json).collect() } else { Vec::new() };
    let rows: Vec<Value> =
        objects.iter().map(|object| printer.row(object, now).into_json(include.embed(object))).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {},
        "columnDefinitions": columns,
        "rows": rows,
    })
}

impl Printer {
    /// The column definitions, in cell order.
    fn columns(&self) -> Vec<Column> {
        match self {
            Self::DaemonSet => workloads::daemon_set_columns(),
            Self::Pod => pod::columns(),
            Self::Node => node::columns(),
            Self::ControllerRevision => workloads::controller_revision_columns(),
            Self::Event => events::columns(),
            Self::Namespace => simple::namespace_columns(),
            Self::ConfigMap => simple::config_map_columns(),
            Self::Secret => simple::secret_columns(),
            Self::ServiceAccount => simple::service_account_columns(),
            Self::CustomResourceDefinition | Self::Default => custom::default_columns(),
            Self::Custom(custom) => custom.columns(),
        }
    }

    /// One row of cells for `object`.
    fn row(&self, object: &Value, now: Timestamp) -> Row {
        match self {
            Self::DaemonSet => workloads::daemon_set_row(object, now),
            Self::Pod => pod::row(object, now),
            Self::Node => node::row(object, now),
            Self::ControllerRevision => workloads::controller_revision_row(object, now),
            Self::Event => events::row(object, now),
            Self::Namespace => simple::namespace_row(object, now),
            Self::ConfigMap => simple::config_map_row(object, now),
            Self::Secret => simple::secret_row(object, now),
            Self::ServiceAccount => simple::service_account_row(object, now),
            Self::CustomResourceDefinition | Self::Default => custom::default_row(object),
            Self::Custom(custom) => custom.row(object, now),
        }
    }
}

/// One `metav1.TableColumnDefinition`. Every field is always serialized, as upstream does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Column {
    name: String,
    kind: String,
    format: String,
    description: String,
    priority: i32,
}

impl Column {
    /// A column with no format and priority 0 (shown without `-o wide`).
    fn new(name: &str, kind: &str, description: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            format: String::new(),
            description: description.to_owned(),
            priority: 0,
        }
    }

    /// The same column shown only with `-o wide`.
    fn wide(self) -> Self {
        Self { priority: 1, ..self }
    }

    /// The NAME column every upstream printer starts with (format "name").
    fn object_name() -> Self {
        Self { format: "name".to_owned(), ..Self::new("Name", "string", descriptions::OBJECT_META_NAME) }
    }

    /// The AGE column of the built-in printers.
    fn age() -> Self {
        Self::new("Age", "string", descriptions::OBJECT_META_CREATION_TIMESTAMP)
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.kind,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// One `metav1.TableRow` before the object is attached.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Row {
    cells: Vec<Value>,
    /// `TableRowCondition`s; upstream only sets them for finished pods.
    conditions: Vec<Value>,
}

impl Row {
    fn new(cells: Vec<Value>) -> Self {
        Self { cells, conditions: Vec::new() }
    }

    fn into_json(self, object: Option<Value>) -> Value {
        let mut row = Map::new();
        row.insert("cells".into(), Value::Array(self.cells));
        if !self.conditions.is_empty() {
            row.insert("conditions".into(), Value::Array(self.conditions));
        }
        if let Some(object) = object {
            row.insert("object".into(), object);
        }
        Value::Object(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn configmap() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "cfg", "namespace": "default", "labels": {"a": "b"},
                         "creationTimestamp": "2024-05-01T11:00:00Z"},
            "data": {"k": "v"},
        })
    }

    #[test]
    fn include_object_defaults_to_metadata_and_rejects_unknown_values() {
        assert_eq!(IncludeObject::parse(None), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("")), Ok(IncludeObject::Metadata));
        assert_eq!(IncludeObject::parse(Some("None")), Ok(IncludeObject::None));
        assert_eq!(IncludeObject::parse(Some("Object")), Ok(IncludeObject::Object));
        let err = IncludeObject::parse(Some("All")).unwrap_err();
        assert!(err.contains("Unsupported value: \"All\""), "{err}");
    }

    #[test]
    fn table_envelope_has_kind_columns_and_rows() {
        let cm = configmap();
        let table = render(&Printer::ConfigMap, &[&cm], now(), IncludeObject::Metadata, true);
        assert_eq!(table["kind"], "Table");
        assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(table["metadata"], json!({}));
        assert_eq!(table["columnDefinitions"][0]["name"], "Name");
        assert_eq!(table["columnDefinitions"][0]["format"], "name");
        assert_eq!(table["columnDefinitions"][1]["format"], "");
        assert_eq!(table["columnDefinitions"][1]["priority"], 0);
        assert_eq!(table["rows"][0]["cells"], json!(["cfg", 1, "60m"]));
        assert!(table["rows"][0].get("conditions").is_none());
    }

    #[test]
    fn metadata_rows_embed_partial_object_metadata() {
        let cm = configmap();
        let table = render(&Printer::ConfigMap, &[&cm], now(), IncludeObject::Metadata, true);
        assert_eq!(
            table["rows"][0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": cm["metadata"]})
        );
    }

    #[test]
    fn object_rows_embed_the_full_object_and_none_rows_embed_nothing() {
        let cm = configmap();
        let full = render(&Printer::ConfigMap, &[&cm], now(), IncludeObject::Object, true);
        assert_eq!(full["rows"][0]["object"], cm);
        let bare = render(&Printer::ConfigMap, &[&cm], now(), IncludeObject::None, true);
        assert!(bare["rows"][0].get("object").is_none());
    }

    #[test]
    fn watch_events_after_the_first_carry_no_column_definitions() {
        let cm = configmap();
        let table = render(&Printer::ConfigMap, &[&cm], now(), IncludeObject::Metadata, false);
        assert_eq!(table["columnDefinitions"], json!([]));
        assert_eq!(table["rows"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn an_empty_list_renders_an_empty_rows_array() {
        let table = render(&Printer::Pod, &[], now(), IncludeObject::Metadata, true);
        assert_eq!(table["rows"], json!([]));
    }

    #[test]
    fn every_printer_has_as_many_cells_as_columns_even_for_an_empty_object() {
        let printers = [
            Printer::DaemonSet,
            Printer::Pod,
            Printer::Node,
            Printer::ControllerRevision,
            Printer::Event,
            Printer::Namespace,
            Printer::ConfigMap,
            Printer::Secret,
            Printer::ServiceAccount,
            Printer::CustomResourceDefinition,
            Printer::Custom(CustomColumns::from_crd_version(None)),
            Printer::Default,
        ];
        for empty in [json!({}), json!(null), json!({"metadata": null, "spec": 3, "status": []})] {
            for printer in &printers {
                let table = render(printer, &[&empty], now(), IncludeObject::Metadata, true);
                let columns = table["columnDefinitions"].as_array().map(Vec::len);
                let cells = table["rows"][0]["cells"].as_array().map(Vec::len);
                assert_eq!(columns, cells, "{printer:?} on {empty}");
            }
        }
    }
}
