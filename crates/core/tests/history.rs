//! ControllerRevision history: creation, rollback renumbering, dedup, collisions and cleanup
//! (upstream `TestControlledHistories` and the history parts of update_test.go).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use everynode_core::constants::CONTROLLER_REVISION_HASH_LABEL;
use support::*;

fn revisions(w: &World) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> =
        w.revisions.iter().map(|r| (r.metadata.name.clone().unwrap(), r.revision.unwrap())).collect();
    out.sort_by_key(|(_, n)| *n);
    out
}

#[test]
fn first_sync_records_revision_one_owned_by_the_daemon_set() {
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.metadata.annotations = Some(labels(&[("kubernetes.io/change-cause", "initial")]));
    w.add_nodes(0, 2, None);
    let plan = w.expect_sync(2, 0, 0);
    let rev = plan.history.create.clone().unwrap();
    assert_eq!(rev.metadata.name.as_deref(), Some(format!("foo-{}", plan.history.hash).as_str()));
    assert_eq!(rev.revision, Some(1));
    assert_eq!(rev.metadata.labels.as_ref().unwrap()[CONTROLLER_REVISION_HASH_LABEL], plan.history.hash);
    assert_eq!(rev.metadata.labels.as_ref().unwrap()["name"], "simple-daemon");
    assert_eq!(rev.metadata.annotations.as_ref().unwrap()["kubernetes.io/change-cause"], "initial");
    let owner = &rev.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("DaemonSet", "uid-foo", Some(true))
    );
    let data = serde_json::to_string(&rev.data.0).unwrap();
    assert!(data.starts_with(r#"{"spec":{"template":{"$patch":"replace","metadata":{"labels":"#), "{data}");
    for c in &plan.creates {
        assert_eq!(
            c.pod.metadata.labels.as_ref().unwrap()[CONTROLLER_REVISION_HASH_LABEL],
            plan.history.hash
        );
    }
}

#[test]
fn template_changes_add_revisions_and_rollback_renumbers_the_old_one() {
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.spec.revision_history_limit = Some(10);
    w.add_nodes(0, 1, None);
    w.sync();
    let first = revisions(&w)[0].0.clone();
    w.set_image("foo/bar:2");
    w.sync();
    assert_eq!(revisions(&w).len(), 2);
    // Back to the first template (kubectl rollout undo): no new revision, revision 1 becomes 3.
    w.set_image("foo/bar");
    let plan = w.plan();
    assert!(plan.history.create.is_none());
    assert_eq!(plan.history.renumber, Some((first.clone(), 3)));
    w.apply(&plan);
    assert_eq!(revisions(&w).last().unwrap(), &(first, 3));
}

#[test]
fn rollback_does_not_restart_pods_of_the_restored_revision() {
    // e2e "should rollback without unnecessary restarts": pods still on the old template keep
    // running after a rollback to it.
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.spec.update_strategy = Some(update_unavailable(IntOrString::Int(1)));
    w.add_nodes(0, 3, None);
    w.expect_sync(3, 0, 0);
    w.mark_pods_ready();
    w.set_image("foo/bar:broken");
    w.expect_sync(0, 1, 0);
    w.expect_sync(1, 0, 0);
    // The new pod never becomes ready; roll back.
    w.set_image("foo/bar");
    let plan = w.expect_sync(0, 1, 0);
    assert!(plan.deletes[0].name.starts_with("foo-"), "only the broken pod is replaced");
    w.expect_sync(1, 0, 0);
    w.mark_pods_ready();
    w.expect_sync(0, 0, 0);
    assert_eq!(w.ds.status.as_ref().unwrap().updated_number_scheduled, Some(3));
}

#[test]
fn cleanup_keeps_revision_history_limit_and_revisions_with_live_pods() {
    let mut w = World::new(new_daemon_set("foo"));
    w.ds.spec.revision_history_limit = Some(2);
    w.add_nodes(0, 1, None);
    w.sync();
    let first = revisions(&w)[0].0.clone();
    // OnDelete: the pod stays on revision 1 while the template changes four times.
    for i in 2..=5 {
        w.set_image(&format!("foo/bar:{i}"));
        w.sync();
    }
    let revs = revisions(&w);
    // Two old revisions are kept besides the current one; revision 1 is one of them because a
    // pod still runs it, so the oldest unused ones (2, 3) went.
    assert!(revs.iter().any(|(n, _)| *n == first), "revision 1 is spared: a pod still runs it");
    assert_eq!(revs.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 4, 5]);
}

#[test]
fn duplicate_current_revisions_are_deduplicated_keeping_the_newest() {
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, 1, None);
    w.sync();
    let mut dup = w.revisions[0].clone();
    dup.metadata.name = Some("foo-duplicate".into());
    dup.metadata.labels.as_mut().unwrap().insert(CONTROLLER_REVISION_HASH_LABEL.into(), "dup".into());
    dup.revision = Some(7);
    w.revisions.push(dup);
    let pod = w.pods[0].metadata.name.clone().unwrap();
    w.pod_mut(&pod)
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert(CONTROLLER_REVISION_HASH_LABEL.into(), "dup".into());
    let original = w.revisions[0].metadata.name.clone().unwrap();
    let plan = w.plan();
    assert_eq!(plan.history.current_name, "foo-duplicate");
    assert_eq!(plan.history.delete_duplicates, [original]);
    assert!(plan.history.relabel_pods.is_empty(), "the pod already carries the kept hash");
}

#[test]
fn hash_collision_bumps_collision_count_and_changes_the_name() {
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, 1, None);
    let hash = w.plan().history.hash;
    // Someone else's revision already holds our name, with other content.
    let mut squatter = everynode_core::history::new_revision(&w.ds, &hash, 1);
    squatter.data = k8s_openapi::apimachinery::pkg::runtime::RawExtension(serde_json::json!({"spec": {}}));
    squatter.metadata.owner_references = None;
    squatter.metadata.labels = Some(labels(&[("unrelated", "yes")]));
    w.revisions.push(squatter);
    let plan = w.expect_sync(0, 0, 0);
    assert!(plan.history.collision);
    assert_eq!(w.ds.status.as_ref().unwrap().collision_count, Some(1));
    let plan = w.expect_sync(1, 0, 0);
    assert_ne!(plan.history.hash, hash, "the collision count changes the hash");
}

#[test]
fn controlled_histories() {
    // upstream TestControlledHistories: orphans matching the selector are adopted, owned ones
    // no longer matching are released, others' are ignored.
    let mut w = World::new(new_daemon_set("foo"));
    w.add_nodes(0, 1, None);
    w.sync();
    let mut orphan = w.revisions[0].clone();
    orphan.metadata.name = Some("foo-orphan".into());
    orphan.metadata.owner_references = None;
    orphan.revision = Some(0);
    orphan.data =
        k8s_openapi::apimachinery::pkg::runtime::RawExtension(serde_json::json!({"spec": {"old": true}}));
    let mut stray = orphan.clone();
    stray.metadata.name = Some("foo-stray".into());
    stray.metadata.labels = Some(labels(&[("other", "label")]));
    stray.metadata.owner_references = w.revisions[0].metadata.owner_references.clone();
    let mut foreign = orphan.clone();
    foreign.metadata.name = Some("bar-1".into());
    foreign.metadata.owner_references =
        Some(vec![k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            name: "bar".into(),
            uid: "uid-bar".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }]);
    w.revisions.extend([orphan, stray, foreign]);
    use everynode_core::plan::OwnershipChange::*;
    let plan = w.plan();
    let mut changes: Vec<String> = plan
        .ownership
        .iter()
        .map(|c| match c {
            AdoptRevision { name, .. } => format!("adopt {name}"),
            ReleaseRevision { name, .. } => format!("release {name}"),
            other => format!("{other:?}"),
        })
        .collect();
    changes.sort();
    assert_eq!(changes, ["adopt foo-orphan", "release foo-stray"]);
}
