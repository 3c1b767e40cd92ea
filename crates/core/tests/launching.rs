//! Launching, selecting, tainting and failure scenarios, ported from upstream
//! `pkg/controller/daemon/daemon_controller_test.go` (test names kept in snake case).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeCondition, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    NodeStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::SignedDuration;

use everynode_core::backoff::backoff_key;
use everynode_core::constants::reasons;
use everynode_core::plan::Stop;
use everynode_core::pod::target_node_name;
use everynode_core::slowstart;
use support::*;

fn world_for(strategy: &k8s_openapi::api::apps::v1::DaemonSetUpdateStrategy) -> World {
    let mut ds = new_daemon_set("foo");
    ds.spec.update_strategy = Some(strategy.clone());
    World::new(ds)
}

fn template_spec(w: &mut World) -> &mut k8s_openapi::api::core::v1::PodSpec {
    w.ds.spec.template.spec.as_mut().unwrap()
}

fn node_condition(type_: &str, status: &str) -> NodeStatus {
    NodeStatus {
        conditions: Some(vec![NodeCondition {
            type_: type_.into(),
            status: status.into(),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

#[test]
fn simple_daemon_set_launches_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 5, None);
        w.expect_sync(5, 0, 0);
    }
}

#[test]
fn simple_daemon_set_schedule_daemon_set_pods_launches_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 5, None);
        let plan = w.expect_sync(5, 0, 0);
        let mut targets: Vec<String> = Vec::new();
        for c in &plan.creates {
            let spec = c.pod.spec.as_ref().unwrap();
            assert_eq!(spec.node_name, None, "daemon pods are bound by the scheduler, not the controller");
            let terms = &spec
                .affinity
                .as_ref()
                .unwrap()
                .node_affinity
                .as_ref()
                .unwrap()
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .unwrap()
                .node_selector_terms;
            assert_eq!(terms.len(), 1);
            let field = &terms[0].match_fields.as_ref().unwrap()[0];
            assert_eq!((field.key.as_str(), field.operator.as_str()), ("metadata.name", "In"));
            assert_eq!(target_node_name(&c.pod), Some(c.node.as_str()));
            targets.push(c.node.clone());
        }
        targets.sort();
        assert_eq!(targets, ["node-0", "node-1", "node-2", "node-3", "node-4"]);
    }
}

#[test]
fn simple_daemon_set_pod_create_errors() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        let create_limit = 10;
        w.add_nodes(0, create_limit * 10, None);
        let mut plan = w.plan();
        assert_eq!(plan.creates.len(), 100);
        // Carry out the creates in slow-start batches against an API that accepts only 10.
        let mut accepted = 0;
        let outcome = slowstart::run(plan.creates.len(), |_| {
            accepted += 1;
            accepted <= create_limit
        });
        let mut expected_limit = 0;
        let mut pass = 0;
        while expected_limit <= create_limit {
            expected_limit += 1 << pass;
            pass += 1;
        }
        assert!(outcome.attempted <= expected_limit, "{outcome:?} attempted more than {expected_limit}");
        assert!(outcome.skipped > 0);
        plan.creates.truncate(create_limit);
        plan.status = None; // a runtime whose actions failed does not write the planned status
        w.apply(&plan);
        // The runtime recomputes the status from what really happened: a status-only sync.
        w.expectations_satisfied = false;
        let status = w.plan().status.unwrap();
        assert_eq!(status.desired_number_scheduled, 100);
        assert_eq!(status.current_number_scheduled, 10);
        assert_eq!(status.updated_number_scheduled, Some(10));
        // Once the failures are accounted for, the next sync plans the 90 missing pods.
        w.expectations_satisfied = true;
        w.expect_sync(90, 0, 0);
    }
}

#[test]
fn simple_daemon_set_updates_status_after_launching_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 5, None);
        let plan = w.expect_sync(5, 0, 0);
        // The single sync already reports the pods it just created.
        assert_eq!(plan.status.unwrap().current_number_scheduled, 5);
    }
}

#[test]
fn no_nodes_does_nothing() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn one_node_daemon_launches_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn not_ready_node_daemon_does_launch_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.node_mut("node-0").status = Some(node_condition("Ready", "False"));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn insufficient_capacity_node_daemon_does_not_unschedule_running_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        // A non-daemon pod using the node's capacity: daemons ignore resources.
        w.add_pod("node-0", &labels(&[("app", "hog")]), false);
        w.expect_sync(1, 0, 0);
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn network_unavailable_node_daemon_launches_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.node_mut("node-0").status = Some(node_condition("NetworkUnavailable", "True"));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn network_unavailable_taint_is_tolerated_only_by_host_network_daemons() {
    for host_network in [false, true] {
        let mut w = world_for(&rolling_update());
        template_spec(&mut w).host_network = Some(host_network);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("node.kubernetes.io/network-unavailable", "", "NoSchedule"));
        w.expect_sync(usize::from(host_network), 0, 0);
    }
}

#[test]
fn dont_do_anything_if_being_deleted() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.ds.metadata.deletion_timestamp = Some(Time(t0()));
        w.add_nodes(0, 4, None);
        let plan = w.expect_sync(0, 0, 0);
        assert_eq!(plan.stop, Some(Stop::BeingDeleted));
        assert_eq!(plan.status, None, "no status is written while the DaemonSet is being deleted");
    }
}

#[test]
fn port_conflict_with_same_daemon_pod_does_not_delete_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).containers[0].ports = Some(vec![k8s_openapi::api::core::v1::ContainerPort {
            container_port: 4567,
            host_port: Some(4567),
            ..Default::default()
        }]);
        w.add_nodes(0, 1, None);
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn pod_is_not_deleted_by_daemonset_with_empty_label_selector() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.ds.spec.selector = Default::default();
        w.add_nodes(0, 1, None);
        w.add_pod("node-0", &labels(&[("bang", "boom")]), false);
        let plan = w.expect_sync(0, 0, 1);
        assert_eq!(plan.events[0].reason, reasons::SELECTING_ALL);
        assert_eq!(plan.stop, Some(Stop::SelectingAll));
    }
}

#[test]
fn deals_with_existing_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 5, None);
        w.add_pods("node-1", &simple_daemon_set_label(), 1);
        w.add_pods("node-2", &simple_daemon_set_label(), 2);
        w.add_pods("node-3", &simple_daemon_set_label(), 5);
        let released = w.add_pods("node-4", &simple_daemon_set_label2(), 2);
        let plan = w.expect_sync(2, 5, 0);
        // Owned pods the selector no longer matches are released, not deleted.
        assert_eq!(plan.ownership.len(), 2);
        for name in released {
            assert!(w.owner_refs(&name).is_empty(), "{name} keeps no controller reference");
        }
    }
}

#[test]
fn deals_with_existing_pods_keeps_the_oldest_pod_on_a_node() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 1, None);
    let pods = w.add_pods("node-0", &simple_daemon_set_label(), 3);
    let plan = w.expect_sync(0, 2, 0);
    let deleted: Vec<&str> = plan.deletes.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(deleted, [pods[1].as_str(), pods[2].as_str()]);
}

#[test]
fn selector_daemon_launches_pods() {
    let mut w = world_for(&on_delete());
    template_spec(&mut w).node_selector = Some(simple_node_label());
    w.add_nodes(0, 4, None);
    w.add_nodes(4, 3, Some(&simple_node_label()));
    w.expect_sync(3, 0, 0);
}

#[test]
fn selector_daemon_deletes_unselected_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_selector = Some(simple_node_label());
        w.add_nodes(0, 5, None);
        w.add_nodes(5, 5, Some(&simple_node_label()));
        w.add_pods("node-0", &simple_daemon_set_label2(), 2);
        w.add_pods("node-1", &simple_daemon_set_label(), 3);
        w.add_pods("node-1", &simple_daemon_set_label2(), 1);
        w.add_pods("node-4", &simple_daemon_set_label(), 1);
        w.expect_sync(5, 4, 0);
    }
}

#[test]
fn selector_daemon_deals_with_existing_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_selector = Some(simple_node_label());
        w.add_nodes(0, 5, None);
        w.add_nodes(5, 5, Some(&simple_node_label()));
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.add_pods("node-1", &simple_daemon_set_label(), 3);
        w.add_pods("node-1", &simple_daemon_set_label2(), 2);
        w.add_pods("node-2", &simple_daemon_set_label(), 4);
        w.add_pods("node-6", &simple_daemon_set_label(), 13);
        w.add_pods("node-7", &simple_daemon_set_label2(), 4);
        w.add_pods("node-9", &simple_daemon_set_label(), 1);
        w.add_pods("node-9", &simple_daemon_set_label2(), 1);
        w.expect_sync(3, 20, 0);
    }
}

#[test]
fn bad_selector_daemon_does_nothing() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_selector = Some(simple_node_label2());
        w.add_nodes(0, 4, None);
        w.add_nodes(4, 3, Some(&simple_node_label()));
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn name_daemon_set_launches_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_name = Some("node-0".into());
        w.add_nodes(0, 5, None);
        let plan = w.expect_sync(1, 0, 0);
        assert_eq!(plan.creates[0].node, "node-0");
    }
}

#[test]
fn bad_name_daemon_set_does_nothing() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_name = Some("node-10".into());
        w.add_nodes(0, 5, None);
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn name_and_selector_daemon_set_launches_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_selector = Some(simple_node_label());
        template_spec(&mut w).node_name = Some("node-6".into());
        w.add_nodes(0, 4, None);
        w.add_nodes(4, 3, Some(&simple_node_label()));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn inconsistent_name_selector_daemon_set_does_nothing() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).node_selector = Some(simple_node_label());
        template_spec(&mut w).node_name = Some("node-0".into());
        w.add_nodes(0, 4, None);
        w.add_nodes(4, 3, Some(&simple_node_label()));
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn node_affinity_daemon_launches_pods() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: vec![NodeSelectorTerm {
                        match_expressions: Some(vec![NodeSelectorRequirement {
                            key: "color".into(),
                            operator: "In".into(),
                            values: Some(vec!["blue".into()]),
                        }]),
                        match_fields: None,
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        w.add_nodes(0, 4, None);
        w.add_nodes(4, 3, Some(&simple_node_label()));
        let plan = w.expect_sync(3, 0, 0);
        // The created pods carry only the node-pinning term.
        for c in &plan.creates {
            let terms = &c
                .pod
                .spec
                .as_ref()
                .unwrap()
                .affinity
                .as_ref()
                .unwrap()
                .node_affinity
                .as_ref()
                .unwrap()
                .required_during_scheduling_ignored_during_execution
                .as_ref()
                .unwrap()
                .node_selector_terms;
            assert_eq!(terms.len(), 1);
            assert!(terms[0].match_expressions.is_none());
        }
    }
}

#[test]
fn number_ready_status() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 2, Some(&simple_node_label()));
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.add_pods("node-1", &simple_daemon_set_label(), 1);
        w.expect_sync(0, 0, 0);
        assert_eq!(w.ds.status.as_ref().unwrap().number_ready, 0);
        w.mark_pods_ready();
        w.expect_sync(0, 0, 0);
        let status = w.ds.status.as_ref().unwrap();
        assert_eq!(status.number_ready, 2);
        assert_eq!(status.number_available, Some(2));
        assert_eq!(status.updated_number_scheduled, Some(2));
    }
}

#[test]
fn observed_generation() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.ds.metadata.generation = Some(1);
        w.add_nodes(0, 1, Some(&simple_node_label()));
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.expect_sync(0, 0, 0);
        assert_eq!(w.ds.status.as_ref().unwrap().observed_generation, Some(1));
    }
}

#[test]
fn status_is_refreshed_but_generation_not_observed_while_expectations_are_pending() {
    let mut w = world_for(&rolling_update());
    w.ds.metadata.generation = Some(3);
    w.add_nodes(0, 3, None);
    w.add_pods("node-0", &simple_daemon_set_label(), 1);
    w.expectations_satisfied = false;
    let plan = w.expect_sync(0, 0, 0);
    let status = plan.status.unwrap();
    assert_eq!(status.current_number_scheduled, 1);
    assert_eq!(status.observed_generation, None);
}

#[test]
fn unchanged_status_is_not_written_again() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 2, None);
    w.expect_sync(2, 0, 0);
    assert!(w.plan().status.is_none(), "nothing changed since the last write");
}

#[test]
fn daemon_kill_failed_pods() {
    struct Case {
        failed: usize,
        normal: usize,
        creates: usize,
        deletes: usize,
        events: usize,
        name: &'static str,
    }
    let cases = [
        Case { failed: 0, normal: 1, creates: 0, deletes: 0, events: 0, name: "normal (do nothing)" },
        Case { failed: 0, normal: 0, creates: 1, deletes: 0, events: 0, name: "no pods (create 1)" },
        Case {
            failed: 1,
            normal: 0,
            creates: 0,
            deletes: 1,
            events: 1,
            name: "1 failed pod (kill 1), 0 normal pod (create 0; will create in the next sync)",
        },
        Case {
            failed: 1,
            normal: 3,
            creates: 0,
            deletes: 3,
            events: 1,
            name: "1 failed pod (kill 1), 3 normal pods (kill 2)",
        },
    ];
    for c in cases {
        for s in update_strategies() {
            let mut w = world_for(&s);
            w.add_nodes(0, 1, None);
            w.add_failed_pods("node-0", &simple_daemon_set_label(), c.failed);
            w.add_pods("node-0", &simple_daemon_set_label(), c.normal);
            let (counts, _) = w.sync();
            assert_eq!(
                (counts.creates, counts.deletes, counts.events),
                (c.creates, c.deletes, c.events),
                "case: {}",
                c.name
            );
        }
    }
}

#[test]
fn daemon_kill_failed_pods_backoff() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        let failed = w.add_failed_pods("node-0", &simple_daemon_set_label(), 1);
        let key = backoff_key("uid-foo", 0, "node-0");
        // The first sync deletes the pod and starts the backoff.
        let plan = w.plan();
        assert_eq!((plan.deletes.len(), plan.events.len()), (1, 1));
        assert_eq!(plan.events[0].reason, reasons::FAILED_DAEMON_POD);
        assert_eq!(
            plan.events[0].message,
            format!("Found failed daemon pod default/{} on node node-0, will try to kill it", failed[0])
        );
        w.backoff.apply(&plan.backoff);
        let initial = w.backoff.get(&key).unwrap().delay;
        assert!(initial > SignedDuration::ZERO);
        // The delete did not happen (the kubelet is slow); an immediate sync is held back.
        let plan = w.plan();
        assert_eq!((plan.creates.len(), plan.deletes.len(), plan.events.len()), (0, 0, 0));
        assert_eq!(plan.requeue_after, Some(initial), "requeue when the backoff ends");
        assert_eq!(w.backoff.get(&key).unwrap().delay, initial, "waiting does not raise the delay");
        w.advance(initial - SignedDuration::from_nanos(1));
        assert!(w.backoff.in_backoff(&key, w.now));
        w.advance(SignedDuration::from_nanos(1));
        assert!(!w.backoff.in_backoff(&key, w.now));
        let plan = w.plan();
        assert_eq!(
            (plan.deletes.len(), plan.events.len()),
            (1, 1),
            "after the backoff the pod is deleted again"
        );
        assert_eq!(plan.backoff[0].1.delay, initial * 2);
    }
}

#[test]
fn succeeded_daemon_pods_are_deleted_without_backoff() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 1, None);
    let names = w.add_pods("node-0", &simple_daemon_set_label(), 1);
    w.pod_mut(&names[0]).status.as_mut().unwrap().phase = Some("Succeeded".into());
    let plan = w.expect_sync(0, 1, 1);
    assert_eq!(plan.events[0].reason, reasons::SUCCEEDED_DAEMON_POD);
    assert!(plan.backoff.is_empty());
    w.expect_sync(1, 0, 0);
}

#[test]
fn no_schedule_tainted_doesnt_evict_running_intolerant_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"));
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.expect_sync(0, 0, 0);
        assert_eq!(
            w.ds.status.as_ref().unwrap().number_misscheduled,
            1,
            "a pod on a node it should not start on"
        );
    }
}

#[test]
fn no_execute_tainted_does_evict_running_intolerant_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("dedicated", "db", "NoExecute"));
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.expect_sync(0, 1, 0);
    }
}

#[test]
fn tainted_node_daemon_does_not_launch_intolerant_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("dedicated", "db", "NoSchedule"));
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn tainted_node_daemon_launches_tolerate_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        template_spec(&mut w).tolerations = Some(vec![toleration("dedicated", "Equal", "db", "NoSchedule")]);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("dedicated", "db", "NoSchedule"));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn prefer_no_schedule_taints_are_ignored() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 1, None);
    w.taint_node("node-0", taint("dedicated", "db", "PreferNoSchedule"));
    w.expect_sync(1, 0, 0);
}

#[test]
fn not_ready_node_daemon_launches_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("node.kubernetes.io/not-ready", "", "NoExecute"));
        w.node_mut("node-0").status = Some(node_condition("Ready", "False"));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn unreachable_node_daemon_launches_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.taint_node("node-0", taint("node.kubernetes.io/unreachable", "", "NoExecute"));
        w.node_mut("node-0").status = Some(node_condition("Ready", "Unknown"));
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn not_ready_no_schedule_taint_counts_as_misscheduled() {
    // The default tolerations cover not-ready NoExecute only: NoSchedule keeps running pods but
    // does not start new ones, the source of upstream's famous misscheduled counts.
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 2, None);
    w.taint_node("node-0", taint("node.kubernetes.io/not-ready", "", "NoSchedule"));
    w.add_pods("node-0", &simple_daemon_set_label(), 1);
    w.expect_sync(1, 0, 0);
    let status = w.ds.status.as_ref().unwrap();
    assert_eq!((status.desired_number_scheduled, status.number_misscheduled), (1, 1));
}

#[test]
fn daemon_set_respects_termination() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, Some(&simple_node_label()));
        let names = w.add_pods("node-0", &simple_daemon_set_label(), 1);
        w.pod_mut(&names[0]).metadata.deletion_timestamp = Some(Time(t0()));
        w.expect_sync(0, 0, 0);
    }
}

#[test]
fn taint_pressure_node_daemon_launches_pod() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        for key in ["disk-pressure", "memory-pressure", "pid-pressure", "unschedulable"] {
            w.taint_node("node-0", taint(&format!("node.kubernetes.io/{key}"), "", "NoSchedule"));
        }
        w.node_mut("node-0").spec.as_mut().unwrap().unschedulable = Some(true);
        w.expect_sync(1, 0, 0);
    }
}

#[test]
fn delete_unscheduled_pod_for_not_existing_node() {
    for s in update_strategies() {
        let mut w = world_for(&s);
        w.add_nodes(0, 1, None);
        w.add_pods("node-0", &simple_daemon_set_label(), 1);
        // Bound to a node that vanished: left to pod garbage collection.
        w.add_pods("node-1", &simple_daemon_set_label(), 1);
        // Aimed at a node that vanished and never bound: ours to delete.
        let unscheduled = w.add_unscheduled_pod("node-2", &simple_daemon_set_label());
        let plan = w.expect_sync(0, 1, 0);
        assert_eq!(plan.deletes[0].name, unscheduled);
    }
}

#[test]
fn orphan_pods_matching_the_selector_are_adopted_and_count() {
    // OnDelete: the orphan has no revision hash, so a rolling update would replace it.
    let mut w = world_for(&on_delete());
    w.add_nodes(0, 2, None);
    let orphan = w.add_pod("node-0", &simple_daemon_set_label(), false);
    let plan = w.expect_sync(1, 0, 0);
    assert_eq!(plan.creates[0].node, "node-1", "the adopted orphan serves node-0");
    assert_eq!(w.owner_refs(&orphan)[0].uid, "uid-foo");
    assert_eq!(w.owner_refs(&orphan)[0].controller, Some(true));
}

#[test]
fn pods_of_another_controller_are_ignored() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 1, None);
    let theirs = w.add_pod("node-0", &simple_daemon_set_label(), false);
    w.pod_mut(&theirs).metadata.owner_references =
        Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "other".into(),
            uid: "other-uid".into(),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
    let plan = w.expect_sync(1, 0, 0);
    assert!(plan.ownership.is_empty());
}

#[test]
fn creates_and_deletes_are_capped_at_burst_replicas() {
    let mut w = world_for(&rolling_update());
    w.add_nodes(0, 300, None);
    w.expect_sync(250, 0, 0);
    w.expect_sync(50, 0, 0);
    w.expect_sync(0, 0, 0);
}
