//! Tests of the Pod printer, modelled on upstream `TestPrintPod*` cases.

use super::*;

fn now() -> Timestamp {
    "2024-05-01T12:00:00Z".parse().unwrap()
}

/// A pod fixture: `pod().phase("Running").container(running(true, 0))`.
struct PodFixture(Value);

fn pod() -> PodFixture {
    PodFixture(json!({
        "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:00:00Z"},
        "spec": {"containers": [], "initContainers": []},
        "status": {"containerStatuses": [], "initContainerStatuses": [], "conditions": []},
    }))
}

impl PodFixture {
    fn phase(mut self, phase: &str) -> Self {
        self.0["status"]["phase"] = json!(phase);
        self
    }

    fn reason(mut self, reason: &str) -> Self {
        self.0["status"]["reason"] = json!(reason);
        self
    }

    fn deleting(mut self) -> Self {
        self.0["metadata"]["deletionTimestamp"] = json!("2024-05-01T11:59:00Z");
        self
    }

    fn condition(mut self, kind: &str, status: &str) -> Self {
        push(&mut self.0["status"]["conditions"], json!({"type": kind, "status": status}));
        self
    }

    /// An app container spec plus its status.
    fn container(mut self, status: Value) -> Self {
        let name = format!("c{}", self.0["spec"]["containers"].as_array().map_or(0, Vec::len));
        push(&mut self.0["spec"]["containers"], json!({"name": name}));
        push(&mut self.0["status"]["containerStatuses"], with_name(status, &name));
        self
    }

    /// An init container spec (a sidecar when `sidecar`) plus, when given, its status.
    fn init(mut self, sidecar: bool, status: Option<Value>) -> Self {
        let name = format!("i{}", self.0["spec"]["initContainers"].as_array().map_or(0, Vec::len));
        let mut spec = json!({"name": name});
        if sidecar {
            spec["restartPolicy"] = json!("Always");
        }
        push(&mut self.0["spec"]["initContainers"], spec);
        if let Some(status) = status {
            push(&mut self.0["status"]["initContainerStatuses"], with_name(status, &name));
        }
        self
    }

    fn summary(&self) -> Summary {
        summarize(&self.0)
    }

    fn cells(&self) -> Vec<Value> {
        row(&self.0, now()).cells
    }
}

fn push(list: &mut Value, item: Value) {
    if let Some(items) = list.as_array_mut() {
        items.push(item);
    }
}

fn with_name(mut status: Value, name: &str) -> Value {
    status["name"] = json!(name);
    status
}

fn running(ready: bool, restarts: i64) -> Value {
    json!({"ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": "2024-05-01T11:00:00Z"}}})
}

fn waiting(reason: &str, restarts: i64) -> Value {
    json!({"ready": false, "restartCount": restarts, "state": {"waiting": {"reason": reason}}})
}

fn terminated(reason: &str, exit_code: i64, signal: i64) -> Value {
    json!({"ready": false, "restartCount": 0,
           "state": {"terminated": {"reason": reason, "exitCode": exit_code, "signal": signal}}})
}

fn status_cell(fixture: &PodFixture) -> String {
    fixture.summary().reason
}

#[test]
fn pod_columns_match_upstream_with_four_wide_ones() {
    let columns = columns();
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates"]
    );
    let wide: Vec<bool> = columns.iter().map(|c| c.priority == 1).collect();
    assert_eq!(wide, [false, false, false, false, false, true, true, true, true]);
    assert_eq!(columns[3].kind, "string");
}

#[test]
fn running_pod_counts_ready_containers_and_restarts() {
    let p = pod().phase("Running").container(running(true, 3)).container(running(false, 3));
    assert_eq!(
        p.summary(),
        Summary { ready: 1, total: 2, reason: "Running".into(), restarts: 6, last_restart: None }
    );
}

#[test]
fn waiting_reason_of_the_first_container_wins() {
    let p = pod()
        .phase("Running")
        .container(waiting("CrashLoopBackOff", 0))
        .container(waiting("ImagePullBackOff", 0));
    assert_eq!(status_cell(&p), "CrashLoopBackOff");
}

#[test]
fn terminated_containers_print_reason_signal_or_exit_code() {
    let by_reason = pod().phase("Running").container(terminated("OOMKilled", 137, 0));
    assert_eq!(status_cell(&by_reason), "OOMKilled");
    let by_signal = pod().phase("Running").container(terminated("", 0, 9));
    assert_eq!(status_cell(&by_signal), "Signal:9");
    let by_exit_code = pod().phase("Running").container(terminated("", 2, 0));
    assert_eq!(status_cell(&by_exit_code), "ExitCode:2");
}

#[test]
fn succeeded_pod_prints_completed_and_a_completed_row_condition() {
    let p = pod().phase("Succeeded").container(terminated("Completed", 0, 0));
    assert_eq!(status_cell(&p), "Completed");
    let row = row(&p.0, now());
    assert_eq!(
        row.conditions,
        [json!({"type": "Completed", "status": "True", "reason": "Succeeded",
                "message": "The pod has completed successfully."})]
    );
}

#[test]
fn failed_pod_carries_a_failed_row_condition() {
    let p = pod().phase("Failed").container(terminated("Error", 1, 0));
    assert_eq!(row(&p.0, now()).conditions[0]["reason"], "Failed");
}

#[test]
fn completed_container_beside_a_running_one_reads_running_or_not_ready() {
    let ready = pod()
        .phase("Running")
        .container(terminated("Completed", 0, 0))
        .container(running(true, 0))
        .condition("Ready", "True");
    assert_eq!(status_cell(&ready), "Running");
    let not_ready =
        pod().phase("Running").container(terminated("Completed", 0, 0)).container(running(true, 0));
    assert_eq!(status_cell(&not_ready), "NotReady");
}

#[test]
fn deleted_pod_reads_terminating_unless_finished() {
    let running_pod = pod().phase("Running").container(running(true, 0)).deleting();
    assert_eq!(status_cell(&running_pod), "Terminating");
    let finished = pod().phase("Succeeded").container(terminated("Completed", 0, 0)).deleting();
    assert_eq!(status_cell(&finished), "Completed");
}

#[test]
fn deleted_pod_on_a_lost_node_reads_unknown() {
    let p = pod().phase("Running").reason("NodeLost").container(running(true, 0)).deleting();
    assert_eq!(status_cell(&p), "Unknown");
}

#[test]
fn pod_status_reason_replaces_the_phase() {
    let p = pod().phase("Failed").reason("Evicted");
    assert_eq!(status_cell(&p), "Evicted");
}

#[test]
fn scheduling_gated_pod_says_so() {
    let mut p = pod().phase("Pending");
    push(
        &mut p.0["status"]["conditions"],
        json!({"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}),
    );
    assert_eq!(status_cell(&p), "SchedulingGated");
}

#[test]
fn pending_init_container_prints_its_position() {
    let p = pod()
        .phase("Pending")
        .init(false, Some(terminated("Completed", 0, 0)))
        .init(false, Some(running(false, 0)))
        .init(false, None)
        .container(waiting("PodInitializing", 0));
    assert_eq!(status_cell(&p), "Init:1/3");
}

#[test]
fn pod_initializing_waiting_reason_prints_the_position_too() {
    let p = pod().phase("Pending").init(false, Some(waiting("PodInitializing", 0)));
    assert_eq!(status_cell(&p), "Init:0/1");
}

#[test]
fn failing_init_containers_print_their_reason_signal_or_exit_code() {
    let crash = pod().phase("Pending").init(false, Some(waiting("CrashLoopBackOff", 4)));
    assert_eq!(status_cell(&crash), "Init:CrashLoopBackOff");
    assert_eq!(crash.summary().restarts, 4);
    let error = pod().phase("Pending").init(false, Some(terminated("Error", 1, 0)));
    assert_eq!(status_cell(&error), "Init:Error");
    let signal = pod().phase("Pending").init(false, Some(terminated("", 137, 9)));
    assert_eq!(status_cell(&signal), "Init:Signal:9");
    let exit = pod().phase("Pending").init(false, Some(terminated("", 3, 0)));
    assert_eq!(status_cell(&exit), "Init:ExitCode:3");
}

#[test]
fn started_sidecar_counts_towards_ready_and_total() {
    let mut sidecar = running(true, 2);
    sidecar["started"] = json!(true);
    let p = pod()
        .phase("Running")
        .init(true, Some(sidecar))
        .container(running(true, 1))
        .condition("Initialized", "True");
    assert_eq!(
        p.summary(),
        Summary { ready: 2, total: 2, reason: "Running".into(), restarts: 3, last_restart: None }
    );
}

#[test]
fn sidecar_not_yet_started_keeps_the_pod_initializing() {
    let mut sidecar = running(false, 0);
    sidecar["started"] = json!(false);
    let p = pod().phase("Pending").init(true, Some(sidecar)).container(waiting("PodInitializing", 0));
    let summary = p.summary();
    assert_eq!((summary.ready, summary.total, summary.reason.as_str()), (0, 2, "Init:0/1"));
}

#[test]
fn restarts_show_how_long_ago_the_last_container_terminated() {
    let mut restarted = running(true, 3);
    restarted["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T11:55:00Z"}});
    let mut older = running(true, 1);
    older["lastState"] = json!({"terminated": {"exitCode": 1, "finishedAt": "2024-05-01T10:00:00Z"}});
    let p = pod().phase("Running").container(restarted).container(older);
    assert_eq!(p.cells()[3], json!("4 (5m ago)"));
}

#[test]
fn restarts_without_a_termination_time_print_just_the_count() {
    let p = pod().phase("Running").container(running(true, 2));
    assert_eq!(p.cells()[3], json!("2"));
}

#[test]
fn wide_cells_print_ip_node_nominated_node_and_readiness_gates() {
    let mut p = pod().phase("Running").container(running(true, 0)).condition("example.com/gate", "True");
    p.0["spec"]["nodeName"] = json!("node-1");
    p.0["spec"]["readinessGates"] =
        json!([{"conditionType": "example.com/gate"}, {"conditionType": "example.com/other"}]);
    p.0["status"]["podIPs"] = json!([{"ip": "10.1.0.5"}, {"ip": "fd00::5"}]);
    assert_eq!(
        p.cells(),
        [
            json!("web"),
            json!("1/1"),
            json!("Running"),
            json!("0"),
            json!("60m"),
            json!("10.1.0.5"),
            json!("node-1"),
            json!("<none>"),
            json!("1/2"),
        ]
    );
}

#[test]
fn legacy_pod_ip_is_used_when_pod_ips_is_missing() {
    let mut p = pod();
    p.0["status"]["podIP"] = json!("10.1.0.9");
    assert_eq!(p.cells()[5], json!("10.1.0.9"));
}

#[test]
fn empty_pod_prints_zero_counts_and_none() {
    assert_eq!(
        row(&json!({}), now()).cells,
        [
            json!(""),
            json!("0/0"),
            json!(""),
            json!("0"),
            json!("<unknown>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
            json!("<none>"),
        ]
    );
}
