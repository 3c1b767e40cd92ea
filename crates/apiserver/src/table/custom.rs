//! Custom resource tables (a port of apiextensions' `tableconvertor`) and the apiserver's default
//! table convertor (NAME, CREATED AT) used for CRDs themselves and any kind without a printer.

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::jsonpath::{JsonPath, go_text};
use super::{Column, Row, descriptions as doc, duration, fields};

/// The printer columns of one served CRD version, parsed once when the version is registered so
/// each request only evaluates paths.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomColumns {
    columns: Vec<CustomColumn>,
}

#[derive(Debug, Clone, PartialEq)]
struct CustomColumn {
    definition: Column,
    path: JsonPath,
}

impl CustomColumns {
    /// Parses a version's `additionalPrinterColumns` (the JSON array, absent when unset).
    ///
    /// As upstream (`serveDefaultColumnsIfEmpty`), a version without columns gets a single Age
    /// column over `.metadata.creationTimestamp`; a version with columns gets exactly those (no
    /// Age is added). As upstream's `tableconvertor.New`, a path that fails to parse drops that
    /// column and every one after it; validation on write keeps this from happening in practice.
    pub fn from_crd_version(additional_printer_columns: Option<&serde_json::Value>) -> Self {
        let specs =
            additional_printer_columns.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        if specs.is_empty() {
            let age = CustomColumn {
                definition: Column::new("Age", "date", doc::OBJECT_META_CREATION_TIMESTAMP),
                path: JsonPath::fields(&["metadata", "creationTimestamp"]),
            };
            return Self { columns: vec![age] };
        }
        let mut columns = Vec::with_capacity(specs.len());
        for spec in specs {
            let json_path = fields::str_at(spec, &["jsonPath"]);
            let path = match JsonPath::parse(json_path) {
                Ok(path) => path,
                Err(error) => {
                    tracing::debug!(%error, "invalid printer column; ignoring it and the columns after it");
                    break;
                }
            };
            let description = match fields::str_at(spec, &["description"]) {
                "" => format!("Custom resource definition column (in JSONPath format): {json_path}"),
                text => text.to_owned(),
            };
            let definition = Column {
                name: fields::str_at(spec, &["name"]).to_owned(),
                kind: fields::str_at(spec, &["type"]).to_owned(),
                format: fields::str_at(spec, &["format"]).to_owned(),
                description,
                priority: i32::try_from(fields::int_at(spec, &["priority"])).unwrap_or_default(),
            };
            columns.push(CustomColumn { definition, path });
        }
        Self { columns }
    }

    /// NAME, then the printer columns in order.
    pub(super) fn columns(&self) -> Vec<Column> {
        let mut columns = vec![Column::object_name()];
        columns.extend(self.columns.iter().map(|c| c.definition.clone()));
        columns
    }

    /// The name, then one cell per column from the first value its path finds (null when none).
    pub(super) fn row(&self, object: &Value, now: Timestamp) -> Row {
        let mut cells = vec![json!(fields::name(object))];
        for column in &self.columns {
            let cell = match column.path.find(object).first() {
                Some(value) => cell_for(&column.definition.kind, value, now),
                None => Value::Null,
            };
            cells.push(cell);
        }
        Row::new(cells)
    }
}

/// `cellForJSONValue`, with "string" columns printed through the JSONPath printer (Go's
/// `fmt.Print`). A value of the wrong type, or of an unknown column type, is a null cell, which
/// kubectl prints as an empty cell.
fn cell_for(kind: &str, value: &Value, now: Timestamp) -> Value {
    if value.is_null() {
        return Value::Null;
    }
    match kind {
        "string" => json!(go_text(value)),
        "integer" => match value {
            Value::Number(n) => json!(n.as_i64().unwrap_or_else(|| fields::as_int(value))),
            _ => Value::Null,
        },
        "number" => value.as_f64().map_or(Value::Null, |f| json!(f)),
        "boolean" => value.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => match value.as_str() {
            // `metav1.Time.UnmarshalQueryParameter`: empty or "null" is the zero time.
            Some("" | "null") => json!(duration::UNKNOWN),
            Some(text) => match text.parse::<Timestamp>() {
                Ok(_) => json!(duration::since(Some(value), now)),
                Err(_) => json!("<invalid>"),
            },
            None => Value::Null,
        },
        _ => Value::Null,
    }
}

/// The default convertor's NAME and CREATED AT columns.
pub(super) fn default_columns() -> Vec<Column> {
    vec![Column::object_name(), Column::new("Created At", "date", doc::OBJECT_META_CREATION_TIMESTAMP)]
}

/// The name and the creation time in RFC 3339 (UTC, whole seconds).
pub(super) fn default_row(object: &Value) -> Row {
    Row::new(vec![json!(fields::name(object)), json!(duration::rfc3339(fields::creation_timestamp(object)))])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn widget() -> Value {
        json!({
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w1", "creationTimestamp": "2024-05-01T10:00:00Z", "labels": {"team": "a"}},
            "spec": {"size": 3, "ratio": 0.5, "enabled": true, "tags": ["x", "y"], "sizeText": "7"},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "lastSync": "2024-05-01T11:59:00Z"},
        })
    }

    fn column(name: &str, kind: &str, path: &str) -> Value {
        json!({"name": name, "type": kind, "jsonPath": path})
    }

    #[test]
    fn version_without_columns_prints_name_and_age() {
        let columns = CustomColumns::from_crd_version(None);
        let defs = columns.columns();
        let names: Vec<&str> = defs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(defs[1].kind, "date");
        assert_eq!(columns.row(&widget(), now()).cells, [json!("w1"), json!("120m")]);
        assert_eq!(CustomColumns::from_crd_version(Some(&json!([]))), columns);
    }

    #[test]
    fn version_with_columns_prints_exactly_those_after_name() {
        let spec = json!([
            column("Size", "integer", ".spec.size"),
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status",
             "description": "Whether it is ready", "priority": 1, "format": "byte"},
        ]);
        let columns = CustomColumns::from_crd_version(Some(&spec));
        let defs = columns.columns();
        let names: Vec<&str> = defs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Name", "Size", "Ready"]);
        assert_eq!(defs[1].description, "Custom resource definition column (in JSONPath format): .spec.size");
        assert_eq!((defs[1].priority, defs[2].priority), (0, 1));
        assert_eq!(defs[2].description, "Whether it is ready");
        assert_eq!(defs[2].format, "byte");
        assert_eq!(columns.row(&widget(), now()).cells, [json!("w1"), json!(3), json!("True")]);
    }

    #[test]
    fn cells_follow_the_column_type() {
        let spec = json!([
            column("Int", "integer", ".spec.ratio"),
            column("Num", "number", ".spec.size"),
            column("Bool", "boolean", ".spec.enabled"),
            column("Tags", "string", ".spec.tags"),
            column("Size", "string", ".spec.size"),
            column("Synced", "date", ".status.lastSync"),
            column("Created", "date", ".metadata.creationTimestamp"),
            column("Label", "string", ".metadata.labels.team"),
        ]);
        let cells = CustomColumns::from_crd_version(Some(&spec)).row(&widget(), now()).cells;
        assert_eq!(
            cells,
            [
                json!("w1"),
                json!(0),
                json!(3.0),
                json!(true),
                json!("[x y]"),
                json!("3"),
                json!("60s"),
                json!("120m"),
                json!("a"),
            ]
        );
    }

    #[test]
    fn wildcard_columns_print_the_first_match() {
        let spec = json!([column("Tag", "string", ".spec.tags[*]")]);
        let cells = CustomColumns::from_crd_version(Some(&spec)).row(&widget(), now()).cells;
        assert_eq!(cells[1], json!("x"));
    }

    #[test]
    fn missing_mistyped_and_bad_dates_print_null_or_invalid() {
        let spec = json!([
            column("Missing", "string", ".spec.nothing"),
            column("NotInt", "integer", ".spec.sizeText"),
            column("NotBool", "boolean", ".spec.size"),
            column("BadDate", "date", ".spec.sizeText"),
            column("Odd", "color", ".spec.size"),
        ]);
        let cells = CustomColumns::from_crd_version(Some(&spec)).row(&widget(), now()).cells;
        assert_eq!(
            cells,
            [json!("w1"), Value::Null, Value::Null, Value::Null, json!("<invalid>"), Value::Null]
        );
    }

    #[test]
    fn an_unparsable_path_drops_it_and_later_columns() {
        let spec = json!([
            column("A", "string", ".spec.size"),
            column("B", "string", "..bad"),
            column("C", "string", ".spec.size"),
        ]);
        let names: Vec<String> =
            CustomColumns::from_crd_version(Some(&spec)).columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "A"]);
    }

    #[test]
    fn default_table_prints_name_and_created_at_in_rfc3339() {
        let names: Vec<String> = default_columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Created At"]);
        assert_eq!(default_columns()[1].kind, "date");
        let crd =
            json!({"metadata": {"name": "widgets.example.com", "creationTimestamp": "2024-05-01T10:00:00Z"}});
        assert_eq!(default_row(&crd).cells, [json!("widgets.example.com"), json!("2024-05-01T10:00:00Z")]);
        assert_eq!(default_row(&json!({})).cells, [json!(""), json!("0001-01-01T00:00:00Z")]);
    }
}
