//! The Event printer (upstream `printEvent`, `formatEventSource`).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, Row, descriptions as doc, duration, fields};

/// LAST SEEN TYPE REASON OBJECT MESSAGE, and with `-o wide` also SUBOBJECT SOURCE FIRST SEEN
/// COUNT NAME, interleaved in upstream's order.
pub(super) fn columns() -> Vec<Column> {
    vec![
        Column::new("Last Seen", "string", doc::EVENT_LAST_TIMESTAMP),
        Column::new("Type", "string", doc::EVENT_TYPE),
        Column::new("Reason", "string", doc::EVENT_REASON),
        Column::new("Object", "string", doc::EVENT_INVOLVED_OBJECT),
        Column::new("Subobject", "string", doc::OBJECT_REFERENCE_FIELD_PATH).wide(),
        Column::new("Source", "string", doc::EVENT_SOURCE).wide(),
        Column::new("Message", "string", doc::EVENT_MESSAGE),
        Column::new("First Seen", "string", doc::EVENT_FIRST_TIMESTAMP).wide(),
        Column::new("Count", "string", doc::EVENT_COUNT).wide(),
        Column { format: "name".to_owned(), ..Column::new("Name", "string", doc::OBJECT_META_NAME).wide() },
    ]
}

/// One event row. Events written through `events.k8s.io` carry `eventTime` and `series` instead of
/// the legacy timestamps and count, so upstream falls back to those.
pub(super) fn row(object: &Value, now: Timestamp) -> Row {
    let first_seen = match duration::parse_time(object.get("firstTimestamp")) {
        Some(first) => duration::age(first, now),
        None => duration::since(object.get("eventTime"), now),
    };
    let mut last_seen = match duration::parse_time(object.get("lastTimestamp")) {
        Some(last) => duration::age(last, now),
        None => first_seen.clone(),
    };
    let mut count = fields::int_at(object, &["count"]);
    if fields::is_set(object, &["series"]) {
        last_seen = duration::since(fields::at(object, &["series", "lastObservedTime"]), now);
        count = fields::int_at(object, &["series", "count"]);
    } else if count == 0 {
        // Singleton events do not have a count set in the new API.
        count = 1;
    }

    let kind = fields::str_at(object, &["involvedObject", "kind"]).to_lowercase();
    let involved_name = fields::str_at(object, &["involvedObject", "name"]);
    let target = if involved_name.is_empty() { kind } else { format!("{kind}/{involved_name}") };

    Row::new(vec![
        json!(last_seen),
        json!(fields::str_at(object, &["type"])),
        json!(fields::str_at(object, &["reason"])),
        json!(target),
        json!(fields::str_at(object, &["involvedObject", "fieldPath"])),
        json!(format_event_source(object)),
        json!(fields::str_at(object, &["message"]).trim()),
        json!(first_seen),
        json!(count),
        json!(fields::name(object)),
    ])
}

/// `formatEventSource`: "component, host", taking `reportingComponent` / `reportingInstance`
/// when the legacy `source` fields are empty, and dropping the host when there is none.
fn format_event_source(object: &Value) -> String {
    let first_non_empty = |a: &'static [&'static str], b: &'static [&'static str]| {
        let a = fields::str_at(object, a);
        if a.is_empty() { fields::str_at(object, b) } else { a }
    };
    let component = first_non_empty(&["source", "component"], &["reportingComponent"]);
    let instance = first_non_empty(&["source", "host"], &["reportingInstance"]);
    if instance.is_empty() { component.to_owned() } else { format!("{component}, {instance}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn event_columns_match_upstream_order_and_priorities() {
        let columns = columns();
        let shown: Vec<&str> = columns.iter().filter(|c| c.priority == 0).map(|c| c.name.as_str()).collect();
        assert_eq!(shown, ["Last Seen", "Type", "Reason", "Object", "Message"]);
        let wide: Vec<&str> = columns.iter().filter(|c| c.priority == 1).map(|c| c.name.as_str()).collect();
        assert_eq!(wide, ["Subobject", "Source", "First Seen", "Count", "Name"]);
        assert_eq!(columns[9].format, "name");
    }

    #[test]
    fn legacy_event_prints_timestamps_count_and_source() {
        let event = json!({
            "metadata": {"name": "fluentd.17a"},
            "involvedObject": {"kind": "DaemonSet", "name": "fluentd", "fieldPath": ""},
            "reason": "SuccessfulCreate",
            "message": "Created pod: fluentd-abcde\n",
            "type": "Normal",
            "source": {"component": "daemonset-controller"},
            "firstTimestamp": "2024-05-01T11:00:00Z",
            "lastTimestamp": "2024-05-01T11:58:00Z",
            "count": 4,
        });
        assert_eq!(
            row(&event, now()).cells,
            [
                json!("2m"),
                json!("Normal"),
                json!("SuccessfulCreate"),
                json!("daemonset/fluentd"),
                json!(""),
                json!("daemonset-controller"),
                json!("Created pod: fluentd-abcde"),
                json!("60m"),
                json!(4),
                json!("fluentd.17a"),
            ]
        );
    }

    #[test]
    fn new_api_event_uses_event_time_series_and_reporting_fields() {
        let event = json!({
            "metadata": {"name": "e"},
            "involvedObject": {"kind": "Node"},
            "eventTime": "2024-05-01T11:50:00.000000Z",
            "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:00.123456Z"},
            "reportingComponent": "kubelet",
            "reportingInstance": "node-1",
        });
        let cells = row(&event, now()).cells;
        assert_eq!(cells[0], json!("59s"));
        assert_eq!(cells[3], json!("node"));
        assert_eq!(cells[5], json!("kubelet, node-1"));
        assert_eq!(cells[7], json!("10m"));
        assert_eq!(cells[8], json!(7));
    }

    #[test]
    fn singleton_event_without_count_counts_one_and_reuses_first_seen() {
        let event = json!({"metadata": {"name": "e"}, "firstTimestamp": "2024-05-01T11:59:30Z"});
        let cells = row(&event, now()).cells;
        assert_eq!(cells[0], json!("30s"));
        assert_eq!(cells[7], json!("30s"));
        assert_eq!(cells[8], json!(1));
    }

    #[test]
    fn event_without_any_timestamp_prints_unknown() {
        let cells = row(&json!({}), now()).cells;
        assert_eq!(cells[0], json!("<unknown>"));
        assert_eq!(cells[7], json!("<unknown>"));
    }
}
