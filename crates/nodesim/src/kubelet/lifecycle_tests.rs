//! Scenario tests of the kubelet's looks at a pod, with explicit times. Each written status is
//! passed through JSON before the next look, as the API server would store it.

use std::net::Ipv4Addr;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;
use crate::fleet::{Behaviour, FailureRule};
use crate::kubelet::status::{self, Placement};

/// A moment with a fraction of a second, to catch truncation problems.
fn t0() -> Timestamp {
    Timestamp::from_millisecond(1_700_000_000_300).unwrap()
}

fn at(seconds: f64) -> Timestamp {
    after(t0(), Duration::from_secs_f64(seconds))
}

fn placement() -> Placement {
    Placement { host_ip: Ipv4Addr::new(172, 16, 0, 2), pod_ip: Some(Ipv4Addr::new(10, 128, 0, 2)) }
}

fn behaviour() -> CompiledBehaviour {
    behaviour_with(&[])
}

/// Start 1 s, no jitter, ready 2 s later, termination 5 s; failures by image.
fn behaviour_with(failures: &[(&str, FailureMode)]) -> CompiledBehaviour {
    CompiledBehaviour::new(Behaviour {
        start_delay: Duration::from_secs(1),
        start_jitter: Duration::ZERO,
        readiness_delay: Duration::from_secs(2),
        termination_delay: Duration::from_secs(5),
        backoff_scale: 1.0,
        failures: failures.iter().map(|(i, m)| FailureRule { image: (*i).to_owned(), mode: *m }).collect(),
    })
    .unwrap()
}

struct PodBuilder(serde_json::Value);

/// A pod as the API server stores it once bound to `worker-1`.
fn pod(name: &str) -> PodBuilder {
    PodBuilder(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "generation": 1},
        "spec": {
            "nodeName": "worker-1",
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "containers": [{"name": "app", "image": "nginx:1.27"}],
        },
        "status": {
            "phase": "Pending",
            "qosClass": "BestEffort",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2023-11-14T22:13:19Z"}],
        },
    }))
}

impl PodBuilder {
    fn image(mut self, image: &str) -> Self {
        self.0["spec"]["containers"][0]["image"] = json!(image);
        self
    }
    fn restart_policy(mut self, policy: &str) -> Self {
        self.0["spec"]["restartPolicy"] = json!(policy);
        self
    }
    fn init_container(mut self, name: &str, sidecar: bool) -> Self {
        let mut c = json!({"name": name, "image": "busybox:1.36"});
        if sidecar {
            c["restartPolicy"] = json!("Always");
        }
        self.0["spec"]["initContainers"] = json!([c]);
        self
    }
    fn readiness_gate(mut self, condition: &str) -> Self {
        self.0["spec"]["readinessGates"] = json!([{"conditionType": condition}]);
        self
    }
    fn build(self) -> Pod {
        serde_json::from_value(self.0).unwrap()
    }
}

/// The pod after `step` was carried out by the API server (status replaced, as JSON).
fn written(pod: &Pod, step: &Step) -> Pod {
    let mut pod = pod.clone();
    match &step.action {
        Action::WriteStatus(status) => pod.status = Some((**status).clone()),
        Action::Remove { final_status: Some(status) } => pod.status = Some((**status).clone()),
        _ => {}
    }
    serde_json::from_value(serde_json::to_value(&pod).unwrap()).unwrap()
}

fn deleting(pod: &Pod, grace: i64) -> Pod {
    let mut pod = pod.clone();
    pod.metadata.deletion_timestamp = Some(crate::clock::time(at(100.0)));
    pod.metadata.deletion_grace_period_seconds = Some(grace);
    pod
}

/// Steps the pod at each time, applying every write; returns the final pod and all steps.
fn run(pod: Pod, memory: &mut PodMemory, b: &CompiledBehaviour, times: &[f64]) -> (Pod, Vec<Step>) {
    let mut pod = pod;
    let mut steps = Vec::new();
    for &s in times {
        let step = step(&pod, memory, &placement(), b, at(s));
        pod = written(&pod, &step);
        steps.push(step);
    }
    (pod, steps)
}

/// `kubectl get pods` READY, STATUS and RESTARTS, computed as kubectl's printer does.
fn columns(pod: &Pod) -> (String, String, i32) {
    let status = pod.status.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let mut reason = status.reason.clone().or(status.phase.clone()).unwrap_or_default();
    let mut restarts = 0;
    let mut ready = 0;
    let mut initializing = false;
    for (i, c) in status.init_container_statuses.iter().flatten().enumerate() {
        restarts += c.restart_count;
        let state = c.state.clone().unwrap_or_default();
        if state.terminated.as_ref().is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if state.running.is_some()
            && spec
                .init_containers
                .iter()
                .flatten()
                .any(|ic| ic.name == c.name && ic.restart_policy.is_some())
        {
            continue;
        }
        reason = match state.waiting.and_then(|w| w.reason).filter(|r| r != "PodInitializing") {
            Some(r) => format!("Init:{r}"),
            None => format!("Init:{i}/{}", spec.init_containers.as_ref().map_or(0, Vec::len)),
        };
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        for c in status.container_statuses.iter().flatten().rev() {
            restarts += c.restart_count;
            let state = c.state.clone().unwrap_or_default();
            if let Some(r) = state.waiting.and_then(|w| w.reason) {
                reason = r;
            } else if let Some(r) = state.terminated.and_then(|t| t.reason) {
                reason = r;
            } else if c.ready && state.running.is_some() {
                ready += 1;
            }
        }
    }
    if pod.metadata.deletion_timestamp.is_some()
        && !matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
    {
        reason = "Terminating".to_owned();
    }
    (format!("{ready}/{}", spec.containers.len()), reason, restarts)
}

fn condition(pod: &Pod, type_: &str) -> (String, Option<Timestamp>) {
    let c = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition"));
    (c.status.clone(), c.last_transition_time.as_ref().map(|t| t.0))
}

fn reasons_of(step: &Step) -> Vec<&'static str> {
    step.events.iter().map(|e| e.reason).collect()
}

fn whole(seconds: f64) -> Timestamp {
    crate::clock::whole_seconds(at(seconds))
}

#[test]
fn a_bound_pod_shows_container_creating_until_its_start_delay() {
    let mut memory = PodMemory::default();
    let pod = pod("p").build();
    let step = step(&pod, &mut memory, &placement(), &behaviour(), at(0.0));
    let Action::WriteStatus(status) = &step.action else { panic!("{step:?}") };
    assert_eq!(status.phase.as_deref(), Some("Pending"));
    assert_eq!(status.host_ip.as_deref(), Some("172.16.0.2"));
    assert_eq!(status.pod_ip.as_deref(), Some("10.128.0.2"));
    assert_eq!(status.start_time.as_ref().map(|t| t.0), Some(whole(0.0)));
    assert_eq!(step.next, Some(at(1.0)));
    assert_eq!(reasons_of(&step), ["Pulling"]);
    let pod = written(&pod, &step);
    assert_eq!(columns(&pod), ("0/1".into(), "ContainerCreating".into(), 0));
    assert_eq!(condition(&pod, "Initialized").0, "True");
    assert_eq!(condition(&pod, "Ready").0, "False");
    assert_eq!(condition(&pod, "PodScheduled").1.map(|t| t.as_second()), Some(1_699_999_999));
}

#[test]
fn a_pod_runs_after_the_start_delay_and_is_ready_after_the_readiness_delay() {
    let mut memory = PodMemory::default();
    let (pod, steps) = run(pod("p").build(), &mut memory, &behaviour(), &[0.0, 1.0]);
    assert_eq!(reasons_of(&steps[1]), ["Pulled", "Created", "Started"]);
    assert_eq!(
        steps[1].events[0].message,
        "Successfully pulled image \"nginx:1.27\" in 1s (1s including waiting)"
    );
    assert_eq!(steps[1].next, Some(at(3.0)));
    assert_eq!(columns(&pod), ("0/1".into(), "Running".into(), 0));
    let status = pod.status.clone().unwrap();
    let container = &status.container_statuses.unwrap()[0];
    assert_eq!(container.image, "docker.io/library/nginx:1.27");
    assert!(container.image_id.starts_with("docker.io/library/nginx@sha256:"));
    assert!(container.container_id.as_deref().unwrap().starts_with("containerd://"));
    assert_eq!(container.started, Some(true));
    let started_at = container.state.as_ref().unwrap().running.as_ref().unwrap().started_at.clone();
    assert_eq!(started_at.map(|t| t.0), Some(whole(1.0)));

    let (pod, steps) = run(pod, &mut memory, &behaviour(), &[3.0]);
    assert!(steps[0].events.is_empty());
    assert_eq!(steps[0].next, None);
    assert_eq!(columns(&pod), ("1/1".into(), "Running".into(), 0));
    assert_eq!(condition(&pod, "Ready"), ("True".into(), Some(whole(3.0))));
    assert_eq!(condition(&pod, "ContainersReady"), ("True".into(), Some(whole(3.0))));
    assert_eq!(pod.status.as_ref().unwrap().observed_generation, Some(1));

    let again = step(&pod, &mut memory, &placement(), &behaviour(), at(60.0));
    assert_eq!(
        again,
        Step { action: Action::Nothing, events: vec![], next: None },
        "a settled pod is not rewritten"
    );
}

#[test]
fn without_delays_a_pod_is_running_and_ready_in_one_write() {
    let mut memory = PodMemory::default();
    let b = CompiledBehaviour::new(Behaviour::instant()).unwrap();
    let (pod, steps) = run(pod("p").build(), &mut memory, &b, &[0.0]);
    assert_eq!(reasons_of(&steps[0]), ["Pulling", "Pulled", "Created", "Started"]);
    assert_eq!(steps[0].next, None);
    assert_eq!(columns(&pod), ("1/1".into(), "Running".into(), 0));
}

#[test]
fn start_jitter_is_stable_per_pod_and_within_bounds() {
    let b = CompiledBehaviour::new(Behaviour {
        start_delay: Duration::from_secs(1),
        start_jitter: Duration::from_secs(1),
        ..Behaviour::default()
    })
    .unwrap();
    let mut runs = std::collections::BTreeSet::new();
    for name in ["a", "b", "c", "d", "e", "f"] {
        let pod = pod(name).build();
        let t = status::timing(&pod, &b, t0());
        assert_eq!(t, status::timing(&pod, &b, t0()));
        assert!(t.run_at >= at(1.0) && t.run_at < at(2.0));
        runs.insert(t.run_at);
    }
    assert!(runs.len() > 1, "jitter must spread pods");
}

#[test]
fn a_restarted_kubelet_does_not_rewrite_settled_pods() {
    let mut memory = PodMemory::default();
    let b = behaviour();
    let (pod, _) = run(pod("p").build(), &mut memory, &b, &[0.0, 1.0, 3.0]);
    // A new process: empty memory, anchored on the truncated startTime.
    let mut fresh = PodMemory::default();
    let step = step(&pod, &mut fresh, &placement(), &b, at(3600.0));
    assert_eq!(step.action, Action::Nothing);
    assert!(step.events.is_empty());
}

#[test]
fn a_never_ready_image_runs_but_never_becomes_ready() {
    let b = behaviour_with(&[("*:2.1.*", FailureMode::NeverReady)]);
    let mut memory = PodMemory::default();
    let (pod, steps) = run(pod("p").image("app:2.1.0").build(), &mut memory, &b, &[0.0, 1.0, 3.0, 600.0]);
    assert_eq!(steps[1].next, Some(at(3.0)), "woken when the probe would pass");
    assert_eq!(reasons_of(&steps[2]), ["Unhealthy"]);
    assert_eq!(steps[2].action, Action::Nothing);
    assert!(steps[3].events.is_empty(), "Unhealthy is reported once");
    assert_eq!(columns(&pod), ("0/1".into(), "Running".into(), 0));
    assert_eq!(condition(&pod, "Ready").0, "False");
    let ready = pod.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(ready.message.as_deref(), Some("containers with unready status: [app]"));
}

#[test]
fn a_crash_looping_image_restarts_with_growing_count_and_backoff() {
    let b = behaviour_with(&[("app:bad", FailureMode::CrashLoop)]);
    let mut memory = PodMemory::default();
    // Runs: 1..2, 2..3 (immediate restart), back-off 10 s, 13..14, back-off 20 s, 34..35.
    let (pod, steps) = run(pod("p").image("app:bad").build(), &mut memory, &b, &[0.0, 1.0, 2.0]);
    assert_eq!(reasons_of(&steps[2]), ["Pulled", "Created", "Started"]);
    assert_eq!(steps[2].events[0].message, "Container image \"app:bad\" already present on machine");
    assert_eq!(columns(&pod), ("0/1".into(), "Running".into(), 1));
    let (pod, steps) = run(pod, &mut memory, &b, &[3.0]);
    assert_eq!(reasons_of(&steps[0]), ["BackOff"]);
    assert_eq!(
        steps[0].events[0].message,
        "Back-off restarting failed container app in pod p_default(uid-p)"
    );
    assert_eq!(steps[0].next, Some(at(13.0)));
    assert_eq!(columns(&pod), ("0/1".into(), "CrashLoopBackOff".into(), 1));
    assert_eq!(pod.status.as_ref().unwrap().phase.as_deref(), Some("Running"));
    let cs = pod.status.as_ref().unwrap().container_statuses.clone().unwrap().remove(0);
    let waiting = cs.state.unwrap().waiting.unwrap();
    assert_eq!(
        waiting.message.as_deref(),
        Some("back-off 10s restarting failed container=app pod=p_default(uid-p)")
    );
    let last = cs.last_state.unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (1, Some("Error")));
    let (pod, _) = run(pod, &mut memory, &b, &[13.5, 14.0]);
    assert_eq!(columns(&pod), ("0/1".into(), "CrashLoopBackOff".into(), 2));
    let cs = pod.status.as_ref().unwrap().container_statuses.clone().unwrap().remove(0);
    assert!(cs.state.unwrap().waiting.unwrap().message.unwrap().starts_with("back-off 20s"));
}

#[test]
fn a_crash_looping_pod_that_is_never_restarted_fails() {
    let b = behaviour_with(&[("app:bad", FailureMode::CrashLoop)]);
    let mut memory = PodMemory::default();
    let (pod, steps) =
        run(pod("p").image("app:bad").restart_policy("Never").build(), &mut memory, &b, &[0.0, 1.0, 2.0]);
    assert_eq!(pod.status.as_ref().unwrap().phase.as_deref(), Some("Failed"));
    assert_eq!(columns(&pod), ("0/1".into(), "Error".into(), 0));
    assert_eq!(steps[2].next, None);
    let after_failure = step(&pod, &mut memory, &placement(), &b, at(100.0));
    assert_eq!(after_failure, Step::idle(), "finished pods are left alone");
}

#[test]
fn an_unpullable_image_shows_err_image_pull_then_image_pull_back_off() {
    let b = behaviour_with(&[("*:missing", FailureMode::ImagePullBackOff)]);
    let mut memory = PodMemory::default();
    let (pod, steps) = run(pod("p").image("app:missing").build(), &mut memory, &b, &[0.0, 1.0]);
    assert_eq!(reasons_of(&steps[1]), ["Pulling", "Failed", "Failed"]);
    assert!(
        steps[1].events[1]
            .message
            .starts_with("Failed to pull image \"app:missing\": rpc error: code = NotFound")
    );
    assert_eq!(steps[1].events[2].message, "Error: ErrImagePull");
    assert_eq!(columns(&pod), ("0/1".into(), "ErrImagePull".into(), 0));
    assert_eq!(steps[1].next, Some(at(2.0)));
    let (pod, steps) = run(pod, &mut memory, &b, &[2.0]);
    assert_eq!(reasons_of(&steps[0]), ["BackOff", "Failed"]);
    assert_eq!(steps[0].events[1].message, "Error: ImagePullBackOff");
    assert_eq!(columns(&pod), ("0/1".into(), "ImagePullBackOff".into(), 0));
    assert_eq!(pod.status.as_ref().unwrap().phase.as_deref(), Some("Pending"));
    assert_eq!(steps[0].next, Some(at(11.0)), "next pull after 10 s");
    let cs = pod.status.unwrap().container_statuses.unwrap().remove(0);
    assert_eq!(cs.image_id, "", "an image never pulled has no ID");
}

#[test]
fn graceful_deletion_stops_containers_after_the_termination_delay() {
    let b = behaviour();
    let mut memory = PodMemory::default();
    let (pod, _) = run(pod("p").build(), &mut memory, &b, &[0.0, 1.0, 3.0]);
    let pod = deleting(&pod, 30);
    let first = step(&pod, &mut memory, &placement(), &b, at(100.0));
    assert_eq!(first.action, Action::Nothing);
    assert_eq!(reasons_of(&first), ["Killing"]);
    assert_eq!(first.events[0].message, "Stopping container app");
    assert_eq!(first.next, Some(at(105.0)));
    assert_eq!(columns(&pod).1, "Terminating");
    let again = step(&pod, &mut memory, &placement(), &b, at(102.0));
    assert!(again.events.is_empty(), "Killing is recorded once");
    let done = step(&pod, &mut memory, &placement(), &b, at(105.0));
    let Action::Remove { final_status: Some(status) } = &done.action else { panic!("{done:?}") };
    assert_eq!(status.phase.as_deref(), Some("Succeeded"));
    let terminated = status.container_statuses.clone().unwrap()[0].state.clone().unwrap().terminated.unwrap();
    assert_eq!((terminated.exit_code, terminated.reason.as_deref()), (0, Some("Completed")));
    assert_eq!(terminated.finished_at.map(|t| t.0), Some(whole(105.0)));
    let ready = status.conditions.clone().unwrap().into_iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_deref()), ("False", Some("PodCompleted")));
}

#[test]
fn graceful_deletion_honours_a_shorter_grace_period_and_the_cap() {
    let mut b = behaviour().behaviour().clone();
    b.termination_delay = Duration::from_secs(120);
    let b = CompiledBehaviour::new(b).unwrap();
    let mut memory = PodMemory::default();
    let (running, _) = run(pod("p").build(), &mut memory, &b, &[0.0, 1.0]);
    let mut m = memory.clone();
    assert_eq!(step(&deleting(&running, 2), &mut m, &placement(), &b, at(100.0)).next, Some(at(102.0)));
    let mut m = memory.clone();
    assert_eq!(step(&deleting(&running, 3600), &mut m, &placement(), &b, at(100.0)).next, Some(at(130.0)));
}

#[test]
fn a_pod_deleted_before_it_ran_is_removed_at_once() {
    let mut memory = PodMemory::default();
    let (pending, _) = run(pod("p").build(), &mut memory, &behaviour(), &[0.0]);
    let step = step(&deleting(&pending, 30), &mut memory, &placement(), &behaviour(), at(0.5));
    assert_eq!(step.action, Action::Remove { final_status: None });
    assert!(step.events.is_empty());
}

#[test]
fn a_pod_already_ended_with_grace_zero_is_left_to_its_finalizers() {
    let mut memory = PodMemory::default();
    let (running, _) = run(pod("p").build(), &mut memory, &behaviour(), &[0.0, 1.0]);
    let step = step(&deleting(&running, 0), &mut memory, &placement(), &behaviour(), at(200.0));
    assert_eq!(step, Step::idle());
}

#[test]
fn a_pod_without_an_ip_stays_container_creating_and_says_why_once() {
    let mut memory = PodMemory::default();
    let no_ip = Placement { pod_ip: None, ..placement() };
    let pod = pod("p").build();
    let first = step(&pod, &mut memory, &no_ip, &behaviour(), at(0.0));
    assert_eq!(reasons_of(&first), ["Pulling", "FailedCreatePodSandBox"]);
    assert_eq!(first.next, Some(at(10.0)), "retried later");
    let pod = written(&pod, &first);
    assert_eq!(columns(&pod).1, "ContainerCreating");
    assert_eq!(condition(&pod, "PodReadyToStartContainers").0, "False");
    let second = step(&pod, &mut memory, &no_ip, &behaviour(), at(10.0));
    assert!(second.events.is_empty());
}

#[test]
fn init_containers_complete_before_the_app_starts() {
    let mut memory = PodMemory::default();
    let (pod, _) = run(pod("p").init_container("setup", false).build(), &mut memory, &behaviour(), &[0.0]);
    assert_eq!(columns(&pod).1, "Init:0/1");
    assert_eq!(condition(&pod, "Initialized").0, "False");
    let (pod, _) = run(pod, &mut memory, &behaviour(), &[1.0, 3.0]);
    assert_eq!(columns(&pod), ("1/1".into(), "Running".into(), 0));
    assert_eq!(condition(&pod, "Initialized"), ("True".into(), Some(whole(1.0))));
    let init = pod.status.unwrap().init_container_statuses.unwrap().remove(0);
    assert_eq!(init.state.unwrap().terminated.unwrap().reason.as_deref(), Some("Completed"));
}

#[test]
fn sidecars_run_beside_the_app_and_count_for_readiness() {
    let mut memory = PodMemory::default();
    let (pod, _) =
        run(pod("p").init_container("proxy", true).build(), &mut memory, &behaviour(), &[0.0, 1.0, 3.0]);
    assert_eq!(condition(&pod, "Ready").0, "True");
    let sidecar = pod.status.unwrap().init_container_statuses.unwrap().remove(0);
    assert!(sidecar.state.unwrap().running.is_some());
    assert!(sidecar.ready);
}

#[test]
fn readiness_gates_hold_the_pod_unready_until_their_condition_is_true() {
    let mut memory = PodMemory::default();
    let (mut pod, _) =
        run(pod("p").readiness_gate("example.com/lb").build(), &mut memory, &behaviour(), &[0.0, 1.0, 3.0]);
    assert_eq!(condition(&pod, "Ready").0, "False");
    assert_eq!(condition(&pod, "ContainersReady").0, "True");
    let status = pod.status.as_mut().unwrap();
    status.conditions.as_mut().unwrap().push(k8s_openapi::api::core::v1::PodCondition {
        type_: "example.com/lb".into(),
        status: "True".into(),
        ..Default::default()
    });
    let (pod, _) = run(pod, &mut memory, &behaviour(), &[4.0]);
    assert_eq!(condition(&pod, "Ready").0, "True");
    assert_eq!(condition(&pod, "example.com/lb").0, "True", "foreign conditions are kept");
}
