//! Printers for kinds whose cells are a name, a phase or a count, and an age: namespaces,
//! configmaps, secrets and serviceaccounts (upstream `printNamespace`, `printConfigMap`,
//! `printSecret`, `printServiceAccount`).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, Row, descriptions as doc, duration, fields};

/// NAME STATUS AGE.
pub(super) fn namespace_columns() -> Vec<Column> {
    vec![Column::object_name(), Column::new("Status", "string", doc::NAMESPACE_STATUS), Column::age()]
}

/// The namespace's phase as stored ("" when unset).
pub(super) fn namespace_row(object: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(fields::name(object)),
        json!(fields::str_at(object, &["status", "phase"])),
        json!(duration::since(fields::creation_timestamp(object), now)),
    ])
}

/// NAME DATA AGE.
pub(super) fn config_map_columns() -> Vec<Column> {
    vec![Column::object_name(), Column::new("Data", "string", doc::CONFIG_MAP_DATA), Column::age()]
}

/// DATA counts `data` and `binaryData` keys together.
pub(super) fn config_map_row(object: &Value, now: Timestamp) -> Row {
    let data = fields::len_at(object, &["data"]) + fields::len_at(object, &["binaryData"]);
    Row::new(vec![
        json!(fields::name(object)),
        json!(data),
        json!(duration::since(fields::creation_timestamp(object), now)),
    ])
}

/// NAME TYPE DATA AGE.
pub(super) fn secret_columns() -> Vec<Column> {
    vec![
        Column::object_name(),
        Column::new("Type", "string", doc::SECRET_TYPE),
        Column::new("Data", "string", doc::SECRET_DATA),
        Column::age(),
    ]
}

/// DATA counts `data` keys; `stringData` is write-only and merged into `data` on write.
pub(super) fn secret_row(object: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(fields::name(object)),
        json!(fields::str_at(object, &["type"])),
        json!(fields::len_at(object, &["data"])),
        json!(duration::since(fields::creation_timestamp(object), now)),
    ])
}

/// NAME SECRETS AGE.
pub(super) fn service_account_columns() -> Vec<Column> {
    vec![Column::object_name(), Column::new("Secrets", "string", doc::SERVICE_ACCOUNT_SECRETS), Column::age()]
}

/// SECRETS counts the `secrets` references.
pub(super) fn service_account_row(object: &Value, now: Timestamp) -> Row {
    Row::new(vec![
        json!(fields::name(object)),
        json!(fields::len_at(object, &["secrets"])),
        json!(duration::since(fields::creation_timestamp(object), now)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn names(columns: &[Column]) -> Vec<&str> {
        columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn namespace_prints_its_phase() {
        let ns = json!({"metadata": {"name": "kube-system", "creationTimestamp": "2024-04-29T12:00:00Z"},
                        "status": {"phase": "Active"}});
        assert_eq!(names(&namespace_columns()), ["Name", "Status", "Age"]);
        assert_eq!(namespace_row(&ns, now()).cells, [json!("kube-system"), json!("Active"), json!("2d")]);
    }

    #[test]
    fn configmap_data_counts_text_and_binary_keys() {
        let cm =
            json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(names(&config_map_columns()), ["Name", "Data", "Age"]);
        assert_eq!(config_map_row(&cm, now()).cells, [json!("c"), json!(3), json!("<unknown>")]);
    }

    #[test]
    fn secret_prints_type_and_data_count() {
        let secret =
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"password": "aHVudGVyMg=="}});
        assert_eq!(names(&secret_columns()), ["Name", "Type", "Data", "Age"]);
        assert_eq!(secret_row(&secret, now()).cells[1..3], [json!("Opaque"), json!(1)]);
        let bare = json!({"metadata": {"name": "s"}});
        assert_eq!(secret_row(&bare, now()).cells[1..3], [json!(""), json!(0)]);
    }

    #[test]
    fn serviceaccount_counts_secret_references() {
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "a"}, {"name": "b"}]});
        assert_eq!(names(&service_account_columns()), ["Name", "Secrets", "Age"]);
        assert_eq!(service_account_row(&sa, now()).cells[1], json!(2));
    }
}
