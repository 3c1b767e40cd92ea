//! Rolling update scenarios, ported from upstream `pkg/controller/daemon/update_test.go` and the
//! surge cases of `daemon_controller_test.go`, with their exact per-sync create/delete sequences.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use everynode_core::rollout::{RolloutLimits, limits};
use support::*;

fn launched(nodes: usize) -> World {
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, nodes, None);
    w.expect_sync(nodes, 0, 0);
    w.mark_pods_ready();
    w
}

#[test]
fn daemon_set_updates_pods() {
    let mut w = launched(5);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(2)));
    w.set_image("foo2/bar2");
    for (creates, deletes) in [(0, 2), (2, 0)] {
        w.expect_sync(creates, deletes, 0);
    }
    w.mark_pods_ready();
    w.expect_sync(0, 2, 0);
    w.expect_sync(2, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(0, 1, 0);
    w.expect_sync(1, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(0, 0, 0);
    let status = w.ds.status.clone().unwrap();
    assert_eq!(status.updated_number_scheduled, Some(5));
    assert_eq!(status.number_available, Some(5));
}

#[test]
fn daemon_set_updates_pods_with_max_surge() {
    let mut w = launched(5);
    let max_surge = 2;
    w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(max_surge as i32)));
    w.set_image("foo2/bar2");
    w.expect_sync(max_surge, 0, 0);
    w.expect_sync(0, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(max_surge, max_surge, 0);
    w.expect_sync(0, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(5 % max_surge, max_surge, 0);
    w.expect_sync(0, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(0, 5 % max_surge, 0);
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_pods_not_match_taints_with_max_surge() {
    let mut w = World::new(new_daemon_set("foo"));
    let max_surge = 1;
    w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(max_surge as i32)));
    w.ds.spec.template.spec.as_mut().unwrap().tolerations =
        Some(vec![toleration("node-role.kubernetes.io/control-plane", "Exists", "", "")]);
    w.add_nodes(0, 5, None);
    w.taint_node("node-0", taint("node-role.kubernetes.io/control-plane", "", "NoSchedule"));
    w.expect_sync(5, 0, 0);
    w.mark_pods_ready();
    // Roll out a template that no longer tolerates the control-plane taint.
    w.update_template(|t| t.spec.as_mut().unwrap().tolerations = None);
    w.expect_sync(max_surge, 1, 0);
    w.expect_sync(0, 0, 0);
    for _ in 0..3 {
        w.mark_pods_ready();
        w.expect_sync(max_surge, max_surge, 0);
        w.expect_sync(0, 0, 0);
    }
    w.mark_pods_ready();
    w.expect_sync(0, max_surge, 0);
    w.expect_sync(0, 0, 0);
    assert!(w.pods_on("node-0").is_empty(), "the intolerant template leaves the control-plane node");
}

#[test]
fn daemon_set_updates_when_new_pod_is_not_ready() {
    let mut w = launched(5);
    let max_unavailable = 3;
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(max_unavailable)));
    w.set_image("foo2/bar2");
    // New pods are not ready: numUnavailable == maxUnavailable holds the rollout.
    w.expect_sync(0, 3, 0);
    w.expect_sync(3, 0, 0);
    w.expect_sync(0, 0, 0);
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_all_old_pods_not_ready() {
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, 5, None);
    w.expect_sync(5, 0, 0);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(3)));
    w.set_image("foo2/bar2");
    // Every old pod is unavailable, so all are replaced at once, whatever maxUnavailable says.
    w.expect_sync(0, 5, 0);
    w.expect_sync(5, 0, 0);
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_all_old_pods_not_ready_max_surge() {
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, 5, None);
    w.expect_sync(5, 0, 0);
    w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(3)));
    w.set_image("foo2/bar2");
    // All old pods are unavailable, so all are surged at once...
    w.expect_sync(5, 0, 0);
    // ...and then the unready old pods go.
    w.expect_sync(0, 5, 0);
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_no_template_changed() {
    let mut w = launched(5);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(3)));
    // A strategy change alone replaces nothing.
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_save_old_healthy_pods() {
    let mut w = launched(20);
    let max_unavailable = 10;
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(max_unavailable as i32)));
    w.set_image("foo2/bar2");
    w.expect_sync(0, max_unavailable, 0);
    w.expect_sync(max_unavailable, 0, 0);
    // The new pods never become ready: the other ten old, healthy pods stay.
    w.expect_sync(0, 0, 0);
    // A fix is rolled out: the unready pods of the bad revision are replaced first.
    w.set_image("foo2/bar3");
    w.expect_sync(0, max_unavailable, 0);
    w.expect_sync(max_unavailable, 0, 0);
    w.expect_sync(0, 0, 0);
    let old_healthy = w.pods.iter().filter(|p| p.status.as_ref().unwrap().conditions.is_some()).count();
    assert_eq!(old_healthy, 10);
}

#[test]
fn daemon_set_updates_all_old_not_ready_pods_and_new_not_ready_pods() {
    let mut w = launched(100);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(10)));
    w.set_image("foo2/bar2");
    w.expect_sync(0, 10, 0);
    w.expect_sync(10, 0, 0);
    w.expect_sync(0, 0, 0);
    // Every old pod turns unready: they are all replaced, the unready new ones stay.
    let old: Vec<String> = w
        .pods
        .iter()
        .filter(|p| p.status.as_ref().unwrap().conditions.is_some())
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    for name in &old {
        w.mark_pod_not_ready(name);
    }
    w.expect_sync(0, 90, 0);
    w.expect_sync(90, 0, 0);
    w.expect_sync(0, 0, 0);
}

#[test]
fn daemon_set_updates_respect_min_ready_seconds() {
    let mut w = launched(3);
    w.ds.spec.min_ready_seconds = Some(30);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(1)));
    w.set_image("foo2/bar2");
    // Old pods have been ready long enough only once minReadySeconds pass.
    w.advance(SignedDuration::from_secs(31));
    w.expect_sync(0, 1, 0);
    w.expect_sync(1, 0, 0);
    w.mark_pods_ready();
    // Ready, but not yet available: the rollout waits and asks to be woken when it will be.
    let plan = w.expect_sync(0, 0, 0);
    assert_eq!(plan.requeue_after, Some(SignedDuration::from_secs(31)));
    w.advance(SignedDuration::from_secs(31));
    w.expect_sync(0, 1, 0);
}

#[test]
fn on_delete_does_not_roll_until_pods_are_deleted() {
    let mut w = launched(3);
    assert_eq!(w.ds.spec.update_strategy.as_ref().unwrap().type_.as_deref(), Some("OnDelete"));
    w.set_image("foo2/bar2");
    let plan = w.expect_sync(0, 0, 0);
    assert!(plan.history.create.is_some(), "a new revision is recorded anyway");
    assert_eq!(w.ds.status.as_ref().unwrap().updated_number_scheduled, None);
    let victim = w.pods[0].metadata.name.clone().unwrap();
    w.pods.retain(|p| p.metadata.name.as_deref() != Some(victim.as_str()));
    let plan = w.expect_sync(1, 0, 0);
    assert_eq!(
        plan.creates[0].pod.metadata.labels.as_ref().unwrap()["controller-revision-hash"],
        plan.history.hash
    );
}

#[test]
fn surge_deals_with_existing_pods() {
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(1)));
    w.add_nodes(0, 5, None);
    w.add_pods("node-1", &simple_daemon_set_label(), 1);
    w.add_pods("node-2", &simple_daemon_set_label(), 2);
    w.add_pods("node-3", &simple_daemon_set_label(), 5);
    w.add_pods("node-4", &simple_daemon_set_label2(), 2);
    w.expect_sync(2, 5, 0);
}

fn surge_world(now_secs: i64, min_ready: i32) -> World {
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.spec.update_strategy = Some(update_surge(IntOrString::Int(1)));
    w.ds.spec.min_ready_seconds = Some(min_ready);
    w.add_nodes(0, 5, None);
    w.now = Timestamp::from_second(now_secs).unwrap();
    w
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(secs).unwrap()
}

fn deleted(plan: &everynode_core::Plan) -> Vec<String> {
    let mut names: Vec<String> = plan.deletes.iter().map(|d| d.name.clone()).collect();
    names.sort();
    names
}

#[test]
fn surge_preserves_ready_old_pods() {
    let mut w = surge_world(1000, 0);
    let new = w.add_pods("node-1", &simple_daemon_set_label(), 1)[0].clone();
    w.pod_mut(&new).metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(100)));
    let _kept_old = w.add_old_pod("node-1", 50, Some(true));
    let delete_me = w.add_old_pod("node-1", 60, Some(true));
    w.add_pods("node-2", &simple_daemon_set_label(), 1);
    let plan = w.expect_sync(3, 1, 0);
    assert_eq!(deleted(&plan), [delete_me]);
}

#[test]
fn surge_creates_new_pod_when_at_max_surge_and_old_pod_deleted() {
    let mut w = surge_world(1000, 0);
    let new = w.add_pods("node-0", &simple_daemon_set_label(), 1)[0].clone();
    set_ready(w.pod_mut(&new), false, at(100));
    w.add_old_pod("node-0", 50, Some(true));
    for i in 1..5 {
        let old = w.add_old_pod(&format!("node-{i}"), 1, Some(true));
        if i == 4 {
            let pod = w.pod_mut(&old);
            pod.metadata.deletion_grace_period_seconds = Some(30);
            pod.metadata.deletion_timestamp =
                Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(31)));
        }
    }
    // node-4 has only a pod being deleted: it gets a new pod even though surge is used up.
    let plan = w.expect_sync(1, 0, 0);
    assert_eq!(plan.creates[0].node, "node-4");
}

#[test]
fn surge_deletes_unready_old_pods() {
    let mut w = surge_world(1000, 0);
    w.add_pods("node-1", &simple_daemon_set_label(), 1);
    let unready = w.add_old_pod("node-1", 50, Some(false));
    let not_oldest = w.add_old_pod("node-1", 60, Some(true));
    w.add_pods("node-2", &simple_daemon_set_label(), 1);
    let plan = w.expect_sync(3, 2, 0);
    let mut want = vec![unready, not_oldest];
    want.sort();
    assert_eq!(deleted(&plan), want);
}

#[test]
fn surge_preserves_old_ready_with_unsatisfied_min_ready() {
    // 10 s after the new pod went ready, with minReadySeconds 15: not yet available.
    let mut w = surge_world(50 + 10, 15);
    let new = w.add_pods("node-1", &simple_daemon_set_label(), 1)[0].clone();
    w.pod_mut(&new).metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(100)));
    set_ready(w.pod_mut(&new), true, at(50));
    let _old_ready = w.add_old_pod("node-1", 50, Some(true));
    let not_oldest = w.add_old_pod("node-1", 60, Some(true));
    w.add_pods("node-2", &simple_daemon_set_label(), 1);
    let plan = w.expect_sync(3, 1, 0);
    assert_eq!(deleted(&plan), [not_oldest]);
}

#[test]
fn surge_deletes_old_ready_with_satisfied_min_ready() {
    // 20 s after the new pod went ready, with minReadySeconds 15: available.
    let mut w = surge_world(50 + 20, 15);
    let new = w.add_pods("node-1", &simple_daemon_set_label(), 1)[0].clone();
    w.pod_mut(&new).metadata.creation_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(at(100)));
    set_ready(w.pod_mut(&new), true, at(50));
    let old_ready = w.add_old_pod("node-1", 50, Some(true));
    let not_oldest = w.add_old_pod("node-1", 60, Some(true));
    w.add_pods("node-2", &simple_daemon_set_label(), 1);
    let plan = w.expect_sync(3, 2, 0);
    let mut want = vec![old_ready, not_oldest];
    want.sort();
    assert_eq!(deleted(&plan), want);
}

/// upstream `TestGetUnavailableNumbers` (now `updatedDesiredNodeCounts`): limits scale against the
/// desired node count, percentages round up, and 0/0 becomes maxUnavailable 1.
#[test]
fn get_unavailable_numbers() {
    struct Case {
        name: &'static str,
        strategy: k8s_openapi::api::apps::v1::DaemonSetUpdateStrategy,
        desired: usize,
        want: (usize, usize),
    }
    let pct = |s: &str| IntOrString::String(s.to_string());
    let cases = [
        Case {
            name: "no nodes",
            strategy: update_unavailable(IntOrString::Int(0)),
            desired: 0,
            want: (0, 0),
        },
        Case {
            name: "two nodes, maxUnavailable 1",
            strategy: update_unavailable(IntOrString::Int(1)),
            desired: 2,
            want: (0, 1),
        },
        Case {
            name: "two nodes, surge 1",
            strategy: update_surge(IntOrString::Int(1)),
            desired: 2,
            want: (1, 0),
        },
        Case {
            name: "two nodes, maxUnavailable 50%",
            strategy: update_unavailable(pct("50%")),
            desired: 2,
            want: (0, 1),
        },
        Case { name: "two nodes, surge 50%", strategy: update_surge(pct("50%")), desired: 2, want: (1, 0) },
        Case { name: "two nodes, surge 100%", strategy: update_surge(pct("100%")), desired: 2, want: (2, 0) },
        Case {
            name: "three nodes, 50% rounds up to 2",
            strategy: update_unavailable(pct("50%")),
            desired: 3,
            want: (0, 2),
        },
        Case {
            name: "five nodes, 20% is 1",
            strategy: update_unavailable(pct("20%")),
            desired: 5,
            want: (0, 1),
        },
        Case {
            name: "1000 nodes, 10% is 100",
            strategy: update_unavailable(pct("10%")),
            desired: 1000,
            want: (0, 100),
        },
        Case {
            name: "one node, 1% rounds up to 1",
            strategy: update_unavailable(pct("1%")),
            desired: 1,
            want: (0, 1),
        },
        Case {
            name: "0/0 takes one node at a time",
            strategy: update_unavailable(IntOrString::Int(0)),
            desired: 4,
            want: (0, 1),
        },
        Case {
            name: "0%/0% takes one node at a time",
            strategy: update_unavailable(pct("0%")),
            desired: 4,
            want: (0, 1),
        },
        Case { name: "OnDelete has no limits", strategy: on_delete(), desired: 4, want: (0, 1) },
    ];
    for c in cases {
        let mut ds = new_daemon_set("foo");
        ds.spec.update_strategy = Some(c.strategy);
        let got = limits(&ds, c.desired).unwrap();
        assert_eq!(
            got,
            RolloutLimits { max_surge: c.want.0, max_unavailable: c.want.1, desired: c.desired },
            "case: {}",
            c.name
        );
    }
    let mut ds = new_daemon_set("foo");
    ds.spec.update_strategy = Some(update_unavailable(IntOrString::String("5".into())));
    assert!(limits(&ds, 3).is_err(), "a number in a string is not a percentage");
}

#[test]
fn unusable_max_unavailable_is_reported_and_does_not_roll() {
    let mut w = launched(2);
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::String("lots".into())));
    w.set_image("foo2/bar2");
    let plan = w.expect_sync(0, 0, 0);
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
}
