//! The Pod printer: a port of upstream `printPod`, whose READY, STATUS and RESTARTS cells
//! summarise init containers, sidecars (restartable init containers) and app containers.

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;
use serde_json::{Value, json};

use super::{Column, Row, descriptions as doc, duration, fields};

/// `node.NodeUnreachablePodReason`: the pod's node stopped reporting.
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";
/// `v1.PodReasonSchedulingGated`: the pod waits on scheduling gates.
const POD_REASON_SCHEDULING_GATED: &str = "SchedulingGated";

/// NAME READY STATUS RESTARTS AGE, and with `-o wide` IP NODE NOMINATED NODE READINESS GATES.
pub(super) fn columns() -> Vec<Column> {
    vec![
        Column::object_name(),
        Column::new("Ready", "string", doc::POD_READY),
        Column::new("Status", "string", doc::POD_STATUS),
        Column::new("Restarts", "string", doc::POD_RESTARTS),
        Column::age(),
        Column::new("IP", "string", doc::POD_STATUS_POD_IP).wide(),
        Column::new("Node", "string", doc::POD_SPEC_NODE_NAME).wide(),
        Column::new("Nominated Node", "string", doc::POD_STATUS_NOMINATED_NODE_NAME).wide(),
        Column::new("Readiness Gates", "string", doc::POD_SPEC_READINESS_GATES).wide(),
    ]
}

/// One pod row; finished pods also carry upstream's `Completed` row condition.
pub(super) fn row(pod: &Value, now: Timestamp) -> Row {
    let summary = summarize(pod);
    let restarts = match summary.last_restart {
        Some(last) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, duration::age(last, now))
        }
        _ => summary.restarts.to_string(),
    };
    let cells = vec![
        json!(fields::name(pod)),
        json!(format!("{}/{}", summary.ready, summary.total)),
        json!(summary.reason),
        json!(restarts),
        json!(duration::since(fields::creation_timestamp(pod), now)),
        json!(or_none(pod_ip(pod))),
        json!(or_none(fields::str_at(pod, &["spec", "nodeName"]))),
        json!(or_none(fields::str_at(pod, &["status", "nominatedNodeName"]))),
        json!(readiness_gates(pod)),
    ];
    let conditions = match fields::str_at(pod, &["status", "phase"]) {
        "Succeeded" => vec![completed_condition("Succeeded", "The pod has completed successfully.")],
        "Failed" => vec![completed_condition("Failed", "The pod failed.")],
        _ => Vec::new(),
    };
    Row { cells, conditions }
}

/// What the READY, STATUS and RESTARTS cells are computed from.
#[derive(Debug, PartialEq)]
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

/// The STATUS algorithm of upstream `printPod`, in its order:
/// 1. start from the phase (or `status.reason`, or "SchedulingGated");
/// 2. walk init containers in order; the first one that has neither succeeded nor started as a
///    sidecar decides an "Init:..." status and stops the walk;
/// 3. unless still initializing, walk app containers from last to first, so the first container
///    with a waiting or terminated reason wins; a "Completed" pod with a running container reads
///    "Running" or "NotReady" from the Ready condition;
/// 4. a pod being deleted reads "Terminating", or "Unknown" when its node was lost.
///
/// Restarts count init containers while initializing, otherwise sidecars and app containers.
fn summarize(pod: &Value) -> Summary {
    let phase = fields::str_at(pod, &["status", "phase"]);
    let status_reason = fields::str_at(pod, &["status", "reason"]);
    let mut reason = if status_reason.is_empty() { phase } else { status_reason }.to_owned();
    let conditions = fields::array_at(pod, &["status", "conditions"]);
    if conditions.iter().any(|c| {
        fields::str_at(c, &["type"]) == "PodScheduled"
            && fields::str_at(c, &["reason"]) == POD_REASON_SCHEDULING_GATED
    }) {
        reason = POD_REASON_SCHEDULING_GATED.to_owned();
    }

    let init_specs = fields::array_at(pod, &["spec", "initContainers"]);
    // By name, as upstream's map: a later spec with the same name wins.
    let mut restartable: HashMap<&str, bool> = HashMap::new();
    let mut total = fields::array_at(pod, &["spec", "containers"]).len();
    for spec in init_specs {
        let always = fields::str_at(spec, &["restartPolicy"]) == "Always";
        restartable.insert(fields::str_at(spec, &["name"]), always);
        total += usize::from(always);
    }
    let is_restartable = |status: &Value| restartable.get(fields::str_at(status, &["name"])) == Some(&true);

    let mut ready = 0;
    let mut restarts = 0;
    let mut last_restart = None;
    let mut sidecar_restarts = 0;
    let mut last_sidecar_restart = None;
    let mut initializing = false;
    for (i, status) in fields::array_at(pod, &["status", "initContainerStatuses"]).iter().enumerate() {
        let restart_count = fields::int_at(status, &["restartCount"]);
        let finished = last_termination(status);
        restarts += restart_count;
        keep_later(&mut last_restart, finished);
        if is_restartable(status) {
            sidecar_restarts += restart_count;
            keep_later(&mut last_sidecar_restart, finished);
        }
        let terminated = fields::at(status, &["state", "terminated"]).filter(|t| !t.is_null());
        let waiting_reason = fields::str_at(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| fields::int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if is_restartable(status) && fields::bool_at(status, &["started"]) {
            if fields::bool_at(status, &["ready"]) {
                ready += 1;
            }
            continue;
        }
        reason = if let Some(terminated) = terminated {
            // Initialization failed.
            match fields::str_at(terminated, &["reason"]) {
                "" => match fields::int_at(terminated, &["signal"]) {
                    0 => format!("Init:ExitCode:{}", fields::int_at(terminated, &["exitCode"])),
                    signal => format!("Init:Signal:{signal}"),
                },
                why => format!("Init:{why}"),
            }
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            format!("Init:{waiting_reason}")
        } else {
            format!("Init:{i}/{}", init_specs.len())
        };
        initializing = true;
        break;
    }

    if !initializing || has_true_condition(conditions, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for status in fields::array_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += fields::int_at(status, &["restartCount"]);
            keep_later(&mut last_restart, last_termination(status));
            let waiting_reason = fields::str_at(status, &["state", "waiting", "reason"]);
            let terminated = fields::at(status, &["state", "terminated"]).filter(|t| !t.is_null());
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_owned();
            } else if let Some(terminated) = terminated {
                reason = match fields::str_at(terminated, &["reason"]) {
                    "" => match fields::int_at(terminated, &["signal"]) {
                        0 => format!("ExitCode:{}", fields::int_at(terminated, &["exitCode"])),
                        signal => format!("Signal:{signal}"),
                    },
                    why => why.to_owned(),
                };
            } else if fields::bool_at(status, &["ready"]) && fields::is_set(status, &["state", "running"]) {
                has_running = true;
                ready += 1;
            }
        }
        // At least one container still runs: the pod is not really "Completed".
        if reason == "Completed" && has_running {
            reason = if has_true_condition(conditions, "Ready") { "Running" } else { "NotReady" }.to_owned();
        }
    }

    if fields::is_set(pod, &["metadata", "deletionTimestamp"]) {
        if status_reason == NODE_UNREACHABLE_POD_REASON {
            reason = "Unknown".to_owned();
        } else if !matches!(phase, "Succeeded" | "Failed") {
            reason = "Terminating".to_owned();
        }
    }

    Summary { ready, total, reason, restarts, last_restart }
}

/// `lastState.terminated.finishedAt` of a container status, if set.
fn last_termination(status: &Value) -> Option<Timestamp> {
    duration::parse_time(fields::at(status, &["lastState", "terminated", "finishedAt"]))
}

/// Keeps the later of two optional times (upstream's `lastRestartDate.Before(&terminatedDate)`).
fn keep_later(latest: &mut Option<Timestamp>, candidate: Option<Timestamp>) {
    if candidate > *latest {
        *latest = candidate;
    }
}

/// Whether the pod has a condition of this type with status "True".
fn has_true_condition(conditions: &[Value], kind: &str) -> bool {
    conditions
        .iter()
        .any(|c| fields::str_at(c, &["type"]) == kind && fields::str_at(c, &["status"]) == "True")
}

/// The primary pod IP: `podIPs[0]`, or the legacy `podIP` (as the v1 to internal conversion does).
fn pod_ip(pod: &Value) -> &str {
    match fields::array_at(pod, &["status", "podIPs"]).first() {
        Some(first) => fields::str_at(first, &["ip"]),
        None => fields::str_at(pod, &["status", "podIP"]),
    }
}

/// READINESS GATES: "true/total" over the pod's readiness gates, or "<none>".
fn readiness_gates(pod: &Value) -> String {
    let gates = fields::array_at(pod, &["spec", "readinessGates"]);
    if gates.is_empty() {
        return "<none>".to_owned();
    }
    let conditions = fields::array_at(pod, &["status", "conditions"]);
    let passing = gates
        .iter()
        .filter(|gate| {
            let kind = fields::str_at(gate, &["conditionType"]);
            // The first condition of the gate's type decides, as upstream's `break`.
            conditions
                .iter()
                .find(|c| fields::str_at(c, &["type"]) == kind)
                .is_some_and(|c| fields::str_at(c, &["status"]) == "True")
        })
        .count();
    format!("{passing}/{}", gates.len())
}

fn or_none(value: &str) -> &str {
    if value.is_empty() { "<none>" } else { value }
}

/// Upstream's `podSuccessConditions` / `podFailedConditions` row condition.
fn completed_condition(reason: &str, message: &str) -> Value {
    json!({"type": "Completed", "status": "True", "reason": reason, "message": message})
}

#[cfg(test)]
#[path = "pod_tests.rs"]
mod tests;
