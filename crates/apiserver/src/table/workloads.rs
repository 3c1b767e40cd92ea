//! Printers for DaemonSets and their ControllerRevisions (upstream `printDaemonSet`,
//! `printControllerRevision`).

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, Row, descriptions as doc, duration, fields, labels};

/// NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE, and with `-o wide`
/// CONTAINERS IMAGES SELECTOR.
pub(super) fn daemon_set_columns() -> Vec<Column> {
    vec![
        Column::object_name(),
        Column::new("Desired", "integer", doc::DAEMON_SET_STATUS_DESIRED_NUMBER_SCHEDULED),
        Column::new("Current", "integer", doc::DAEMON_SET_STATUS_CURRENT_NUMBER_SCHEDULED),
        Column::new("Ready", "integer", doc::DAEMON_SET_STATUS_NUMBER_READY),
        Column::new("Up-to-date", "integer", doc::DAEMON_SET_STATUS_UPDATED_NUMBER_SCHEDULED),
        Column::new("Available", "integer", doc::DAEMON_SET_STATUS_NUMBER_AVAILABLE),
        Column::new("Node Selector", "string", doc::POD_SPEC_NODE_SELECTOR),
        Column::age(),
        Column::new("Containers", "string", doc::TEMPLATE_CONTAINERS).wide(),
        Column::new("Images", "string", doc::TEMPLATE_IMAGES).wide(),
        Column::new("Selector", "string", doc::DAEMON_SET_SPEC_SELECTOR).wide(),
    ]
}

/// Status counters, the template's node selector, and the template's containers.
pub(super) fn daemon_set_row(object: &Value, now: Timestamp) -> Row {
    let status = |field: &str| json!(fields::int_at(object, &["status", field]));
    let pod_spec = fields::at(object, &["spec", "template", "spec"]).unwrap_or(&Value::Null);
    let (names, images) = layout_container_cells(fields::array_at(pod_spec, &["containers"]));
    Row::new(vec![
        json!(fields::name(object)),
        status("desiredNumberScheduled"),
        status("currentNumberScheduled"),
        status("numberReady"),
        status("updatedNumberScheduled"),
        status("numberAvailable"),
        json!(labels::format_labels(pod_spec.get("nodeSelector"))),
        json!(duration::since(fields::creation_timestamp(object), now)),
        json!(names),
        json!(images),
        json!(labels::format_label_selector(fields::at(object, &["spec", "selector"]))),
    ])
}

/// `layoutContainerCells`: container names and images, each joined with ",".
pub(super) fn layout_container_cells(containers: &[Value]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| fields::str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| fields::str_at(c, &["image"])).collect();
    (names.join(","), images.join(","))
}

/// NAME CONTROLLER REVISION AGE.
pub(super) fn controller_revision_columns() -> Vec<Column> {
    vec![
        Column::object_name(),
        Column::new("Controller", "string", doc::CONTROLLER_REVISION_CONTROLLER),
        // Upstream declares the column as a string but fills it with the int64 revision.
        Column::new("Revision", "string", doc::CONTROLLER_REVISION_REVISION),
        Column::age(),
    ]
}

/// CONTROLLER is the controlling owner as `kind.group/name` in lower case (e.g.
/// `daemonset.apps/fluentd`), or "<none>".
pub(super) fn controller_revision_row(object: &Value, now: Timestamp) -> Row {
    let controller = fields::array_at(object, &["metadata", "ownerReferences"])
        .iter()
        .find(|owner| fields::bool_at(owner, &["controller"]))
        .map_or_else(|| "<none>".to_owned(), controller_name);
    Row::new(vec![
        json!(fields::name(object)),
        json!(controller),
        json!(fields::int_at(object, &["revision"])),
        json!(duration::since(fields::creation_timestamp(object), now)),
    ])
}

/// `formatResourceName(GroupKind, name, withKind=true)` for an owner reference.
fn controller_name(owner: &Value) -> String {
    let kind = fields::str_at(owner, &["kind"]);
    let name = fields::str_at(owner, &["name"]);
    // `schema.ParseGroupVersion`: "v1" has no group, "apps/v1" has group "apps". Upstream fails
    // the whole request on an apiVersion with more than one "/"; we keep the text before it.
    let group = fields::str_at(owner, &["apiVersion"]).split_once('/').map(|(g, _)| g).unwrap_or_default();
    let group_kind = match (group, kind) {
        ("", "") => return name.to_owned(),
        ("", kind) => kind.to_owned(),
        (group, kind) => format!("{kind}.{group}"),
    };
    format!("{}/{name}", group_kind.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn fluentd() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "DaemonSet",
            "metadata": {"name": "fluentd", "namespace": "kube-system", "creationTimestamp": "2024-05-01T11:57:00Z"},
            "spec": {
                "selector": {"matchLabels": {"app": "fluentd"}},
                "template": {"spec": {
                    "nodeSelector": {"kubernetes.io/os": "linux", "disk": "ssd"},
                    "containers": [
                        {"name": "fluentd", "image": "fluentd:v1"},
                        {"name": "sidecar", "image": "busybox"},
                    ],
                }},
            },
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                       "updatedNumberScheduled": 1, "numberAvailable": 2},
        })
    }

    #[test]
    fn daemonset_columns_match_upstream_with_three_wide_ones() {
        let columns = daemon_set_columns();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Desired",
                "Current",
                "Ready",
                "Up-to-date",
                "Available",
                "Node Selector",
                "Age",
                "Containers",
                "Images",
                "Selector"
            ]
        );
        let wide: Vec<&str> = columns.iter().filter(|c| c.priority == 1).map(|c| c.name.as_str()).collect();
        assert_eq!(wide, ["Containers", "Images", "Selector"]);
        assert_eq!(columns[1].kind, "integer");
    }

    #[test]
    fn daemonset_row_prints_counters_selectors_and_containers() {
        let row = daemon_set_row(&fluentd(), now());
        assert_eq!(
            row.cells,
            [
                json!("fluentd"),
                json!(3),
                json!(3),
                json!(2),
                json!(1),
                json!(2),
                json!("disk=ssd,kubernetes.io/os=linux"),
                json!("3m"),
                json!("fluentd,sidecar"),
                json!("fluentd:v1,busybox"),
                json!("app=fluentd"),
            ]
        );
    }

    #[test]
    fn daemonset_without_node_selector_or_status_prints_none_and_zeros() {
        let ds = json!({"metadata": {"name": "bare"}, "spec": {"template": {"spec": {}}}});
        let row = daemon_set_row(&ds, now());
        assert_eq!(row.cells[1..6], [json!(0), json!(0), json!(0), json!(0), json!(0)]);
        assert_eq!(row.cells[6], json!("<none>"));
        assert_eq!(row.cells[7], json!("<unknown>"));
        assert_eq!(row.cells[8..], [json!(""), json!(""), json!("<none>")]);
    }

    #[test]
    fn controller_revision_names_its_controller_with_kind_and_group() {
        let revision = json!({
            "metadata": {"name": "fluentd-5d8f", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "not-controller"},
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "fluentd", "controller": true},
            ]},
            "revision": 4,
        });
        let names: Vec<String> = controller_revision_columns().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Name", "Controller", "Revision", "Age"]);
        let row = controller_revision_row(&revision, now());
        assert_eq!(row.cells[..3], [json!("fluentd-5d8f"), json!("daemonset.apps/fluentd"), json!(4)]);
    }

    #[test]
    fn controller_revision_without_controller_prints_none() {
        let revision = json!({"metadata": {"name": "r", "ownerReferences": [{"kind": "X", "name": "y"}]}});
        assert_eq!(controller_revision_row(&revision, now()).cells[1], json!("<none>"));
    }

    #[test]
    fn core_group_controllers_print_without_a_group() {
        let owner = json!({"apiVersion": "v1", "kind": "ReplicationController", "name": "rc"});
        assert_eq!(controller_name(&owner), "replicationcontroller/rc");
    }
}
