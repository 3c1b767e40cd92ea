//! The Node printer (upstream `printNode`, `findNodeRoles`, `getNodeInternalIP`).

use std::collections::BTreeSet;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, Row, descriptions as doc, duration, fields};

/// Label prefix whose suffix names a role: `node-role.kubernetes.io/control-plane: ""`.
const LABEL_NODE_ROLE_PREFIX: &str = "node-role.kubernetes.io/";
/// Older label whose value names a role: `kubernetes.io/role: master`.
const NODE_LABEL_ROLE: &str = "kubernetes.io/role";

/// NAME STATUS ROLES AGE VERSION, and with `-o wide` INTERNAL-IP EXTERNAL-IP OS-IMAGE
/// KERNEL-VERSION CONTAINER-RUNTIME.
pub(super) fn columns() -> Vec<Column> {
    vec![
        Column::object_name(),
        Column::new("Status", "string", doc::NODE_STATUS),
        Column::new("Roles", "string", doc::NODE_ROLES),
        Column::age(),
        Column::new("Version", "string", doc::NODE_SYSTEM_INFO_KUBELET_VERSION),
        Column::new("Internal-IP", "string", doc::NODE_STATUS_ADDRESSES).wide(),
        Column::new("External-IP", "string", doc::NODE_STATUS_ADDRESSES).wide(),
        Column::new("OS-Image", "string", doc::NODE_SYSTEM_INFO_OS_IMAGE).wide(),
        Column::new("Kernel-Version", "string", doc::NODE_SYSTEM_INFO_KERNEL_VERSION).wide(),
        Column::new("Container-Runtime", "string", doc::NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION).wide(),
    ]
}

/// One node row.
pub(super) fn row(object: &Value, now: Timestamp) -> Row {
    let roles = find_node_roles(object);
    let roles = if roles.is_empty() { "<none>".to_owned() } else { roles.join(",") };
    let node_info = |field: &str| {
        let value = fields::str_at(object, &["status", "nodeInfo", field]);
        if value.is_empty() { "<unknown>" } else { value }
    };
    Row::new(vec![
        json!(fields::name(object)),
        json!(status(object)),
        json!(roles),
        json!(duration::since(fields::creation_timestamp(object), now)),
        json!(fields::str_at(object, &["status", "nodeInfo", "kubeletVersion"])),
        json!(first_address(object, "InternalIP")),
        json!(first_address(object, "ExternalIP")),
        json!(node_info("osImage")),
        json!(node_info("kernelVersion")),
        json!(node_info("containerRuntimeVersion")),
    ])
}

/// "Ready" or "NotReady" from the Ready condition ("Unknown" without one), plus
/// ",SchedulingDisabled" for a cordoned node. Only the Ready condition counts, as upstream.
fn status(object: &Value) -> String {
    // Upstream fills a map by condition type, so the last Ready condition wins.
    let ready = fields::array_at(object, &["status", "conditions"])
        .iter()
        .rfind(|c| fields::str_at(c, &["type"]) == "Ready");
    let mut status = match ready {
        Some(c) if fields::str_at(c, &["status"]) == "True" => "Ready".to_owned(),
        Some(_) => "NotReady".to_owned(),
        None => "Unknown".to_owned(),
    };
    if fields::bool_at(object, &["spec", "unschedulable"]) {
        status.push_str(",SchedulingDisabled");
    }
    status
}

/// `findNodeRoles`: sorted, de-duplicated roles from `node-role.kubernetes.io/<role>` label keys
/// and non-empty `kubernetes.io/role` values.
fn find_node_roles(object: &Value) -> Vec<String> {
    let mut roles = BTreeSet::new();
    let labels = fields::at(object, &["metadata", "labels"]).and_then(Value::as_object);
    for (key, value) in labels.into_iter().flatten() {
        if let Some(role) = key.strip_prefix(LABEL_NODE_ROLE_PREFIX) {
            if !role.is_empty() {
                roles.insert(role.to_owned());
            }
        } else if key == NODE_LABEL_ROLE {
            let role = value.as_str().unwrap_or_default();
            if !role.is_empty() {
                roles.insert(role.to_owned());
            }
        }
    }
    roles.into_iter().collect()
}

/// The first `status.addresses` entry of the given type, or "<none>".
fn first_address<'a>(object: &'a Value, kind: &str) -> &'a str {
    fields::array_at(object, &["status", "addresses"])
        .iter()
        .find(|a| fields::str_at(a, &["type"]) == kind)
        .map_or("<none>", |a| fields::str_at(a, &["address"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    fn node(labels: Value, conditions: Value, unschedulable: bool) -> Value {
        json!({
            "metadata": {"name": "n1", "labels": labels, "creationTimestamp": "2024-04-30T12:00:00Z"},
            "spec": {"unschedulable": unschedulable},
            "status": {
                "conditions": conditions,
                "addresses": [
                    {"type": "Hostname", "address": "n1"},
                    {"type": "InternalIP", "address": "10.0.0.1"},
                    {"type": "InternalIP", "address": "10.0.0.2"},
                ],
                "nodeInfo": {"kubeletVersion": "v1.31.0", "osImage": "Debian", "kernelVersion": "6.1"},
            },
        })
    }

    fn ready(status: &str) -> Value {
        json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": status}])
    }

    #[test]
    fn node_columns_match_upstream_with_five_wide_ones() {
        let columns = columns();
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Name",
                "Status",
                "Roles",
                "Age",
                "Version",
                "Internal-IP",
                "External-IP",
                "OS-Image",
                "Kernel-Version",
                "Container-Runtime"
            ]
        );
        assert!(columns[5..].iter().all(|c| c.priority == 1));
        assert!(columns[..5].iter().all(|c| c.priority == 0));
    }

    #[test]
    fn ready_node_prints_ready() {
        assert_eq!(status(&node(json!({}), ready("True"), false)), "Ready");
    }

    #[test]
    fn cordoned_ready_node_prints_scheduling_disabled() {
        assert_eq!(status(&node(json!({}), ready("True"), true)), "Ready,SchedulingDisabled");
    }

    #[test]
    fn not_ready_or_unknown_ready_condition_prints_not_ready() {
        assert_eq!(status(&node(json!({}), ready("False"), false)), "NotReady");
        assert_eq!(status(&node(json!({}), ready("Unknown"), false)), "NotReady");
    }

    #[test]
    fn node_without_ready_condition_prints_unknown() {
        assert_eq!(status(&node(json!({}), json!([]), false)), "Unknown");
        assert_eq!(status(&node(json!({}), json!([]), true)), "Unknown,SchedulingDisabled");
    }

    #[test]
    fn roles_come_from_both_role_labels_sorted_and_deduplicated() {
        let labels = json!({
            "node-role.kubernetes.io/worker": "",
            "node-role.kubernetes.io/control-plane": "",
            "kubernetes.io/role": "worker",
            "node-role.kubernetes.io/": "",
            "kubernetes.io/hostname": "n1",
        });
        let row = row(&node(labels, ready("True"), false), now());
        assert_eq!(row.cells[2], json!("control-plane,worker"));
    }

    #[test]
    fn node_without_roles_prints_none() {
        let row = row(&node(json!({"kubernetes.io/role": ""}), ready("True"), false), now());
        assert_eq!(row.cells[2], json!("<none>"));
    }

    #[test]
    fn wide_cells_use_first_addresses_and_unknown_for_missing_info() {
        let row = row(&node(json!({}), ready("True"), false), now());
        assert_eq!(
            row.cells,
            [
                json!("n1"),
                json!("Ready"),
                json!("<none>"),
                json!("24h"),
                json!("v1.31.0"),
                json!("10.0.0.1"),
                json!("<none>"),
                json!("Debian"),
                json!("6.1"),
                json!("<unknown>"),
            ]
        );
    }
}
