//! ControllerRevision history: finding the current revision, creating it, deduplicating and
//! renumbering on rollback, and pruning old revisions (upstream `update.go`).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;

use crate::constants::CONTROLLER_REVISION_HASH_LABEL;
use crate::podbuild::controller_ref;
use crate::revision_data::{revision_data, template_hash};

/// What the history step decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryPlan {
    /// The current revision's hash: the `controller-revision-hash` of up-to-date pods.
    pub hash: String,
    /// The current revision's name.
    pub current_name: String,
    /// A revision to create for the current template.
    pub create: Option<ControllerRevision>,
    /// An existing revision that is current again (a rollback) and must get this number.
    pub renumber: Option<(String, i64)>,
    /// Duplicate revisions of the current template to delete.
    pub delete_duplicates: Vec<String>,
    /// Pods labelled with a deleted duplicate's hash, to relabel with [`HistoryPlan::hash`].
    pub relabel_pods: Vec<String>,
    /// Revisions without a hash label; upstream labels them with their own name.
    pub add_hash_label: Vec<String>,
    /// The new revision's name is taken by a revision with other content: bump
    /// `status.collisionCount` and try again.
    pub collision: bool,
}

/// Whether a revision holds the DaemonSet's current template (upstream `Match`).
pub fn matches_template(ds: &DaemonSet, rev: &ControllerRevision) -> bool {
    rev.data.0 == revision_data(&ds.spec.template)
}

/// The hash label of a revision, falling back to its name as upstream labels unlabelled ones.
pub fn revision_hash(rev: &ControllerRevision) -> &str {
    rev.metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(CONTROLLER_REVISION_HASH_LABEL))
        .map(String::as_str)
        .unwrap_or_else(|| rev.metadata.name.as_deref().unwrap_or_default())
}

/// Builds the revision object for the current template (upstream `snapshot`).
pub fn new_revision(ds: &DaemonSet, hash: &str, number: i64) -> ControllerRevision {
    let template = &ds.spec.template;
    let mut labels: BTreeMap<String, String> =
        template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
    labels.insert(CONTROLLER_REVISION_HASH_LABEL.to_string(), hash.to_string());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(format!("{}-{}", ds.metadata.name.as_deref().unwrap_or_default(), hash)),
            namespace: ds.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: ds.metadata.annotations.clone(),
            owner_references: Some(vec![controller_ref(ds)]),
            ..Default::default()
        },
        data: RawExtension(revision_data(template)),
        revision: Some(number),
    }
}

/// Splits the controlled revisions into current and old, and decides what to write
/// (upstream `constructHistory` + `dedupCurHistories`). `all_in_namespace` is every revision in
/// the namespace, to detect name collisions with revisions we do not control. `pod_hashes` are the
/// (name, hash label) pairs of the DaemonSet's pods, for relabelling after deduplication.
pub fn construct<'a>(
    ds: &DaemonSet,
    controlled: &[&'a ControllerRevision],
    all_in_namespace: &[&ControllerRevision],
    pod_hashes: &[(&str, Option<&str>)],
) -> (HistoryPlan, Vec<&'a ControllerRevision>) {
    let mut plan = HistoryPlan::default();
    let mut current: Vec<&ControllerRevision> = Vec::new();
    let mut old: Vec<&'a ControllerRevision> = Vec::new();
    for rev in controlled {
        let name = rev.metadata.name.clone().unwrap_or_default();
        if !rev.metadata.labels.as_ref().is_some_and(|l| l.contains_key(CONTROLLER_REVISION_HASH_LABEL)) {
            plan.add_hash_label.push(name);
        }
        if matches_template(ds, rev) { current.push(rev) } else { old.push(rev) }
    }
    let next_number = old.iter().filter_map(|r| r.revision).max().unwrap_or(0) + 1;

    if current.is_empty() {
        let spec = &ds.spec;
        let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
        let hash = template_hash(&spec.template, collision_count);
        let candidate = new_revision(ds, &hash, next_number);
        let name = candidate.metadata.name.clone().unwrap_or_default();
        match all_in_namespace.iter().find(|r| r.metadata.name.as_deref() == Some(name.as_str())) {
            // Already there (created by an earlier sync we have not seen the claim of yet).
            Some(existing) if matches_template(ds, existing) => {}
            Some(_) => plan.collision = true,
            None => plan.create = Some(candidate),
        }
        plan.hash = hash;
        plan.current_name = name;
        return (plan, old);
    }

    // Keep the highest-numbered duplicate (the last one on ties, as upstream's `>=` does).
    let mut keep = current[0];
    for rev in &current {
        if rev.revision.unwrap_or(0) >= keep.revision.unwrap_or(0) {
            keep = rev;
        }
    }
    plan.hash = revision_hash(keep).to_string();
    plan.current_name = keep.metadata.name.clone().unwrap_or_default();
    let mut duplicate_hashes = HashSet::new();
    for rev in &current {
        if rev.metadata.name != keep.metadata.name {
            plan.delete_duplicates.push(rev.metadata.name.clone().unwrap_or_default());
            duplicate_hashes.insert(revision_hash(rev));
        }
    }
    // Upstream relabels every pod whose hash differs from the kept one, which would also mark
    // old-revision pods as up to date; only the duplicates' pods are really of this template.
    for (pod, hash) in pod_hashes {
        if hash.is_some_and(|h| duplicate_hashes.contains(h) && h != plan.hash) {
            plan.relabel_pods.push((*pod).to_string());
        }
    }
    if keep.revision.unwrap_or(0) < next_number {
        plan.renumber = Some((plan.current_name.clone(), next_number));
    }
    (plan, old)
}

/// Old revisions to delete so that at most `limit` remain, oldest first, never one whose hash is
/// still carried by a live pod (upstream `cleanupHistory`).
pub fn cleanup(old: &[&ControllerRevision], limit: i32, live_hashes: &HashSet<&str>) -> Vec<String> {
    let limit = usize::try_from(limit.max(0)).unwrap_or(0);
    let mut to_kill = old.len().saturating_sub(limit);
    if to_kill == 0 {
        return Vec::new();
    }
    let mut sorted: Vec<&ControllerRevision> = old.to_vec();
    sorted.sort_by_key(|r| r.revision.unwrap_or(0));
    let mut out = Vec::new();
    for rev in sorted {
        if to_kill == 0 {
            break;
        }
        if live_hashes.contains(revision_hash(rev)) {
            continue;
        }
        out.push(rev.metadata.name.clone().unwrap_or_default());
        to_kill -= 1;
    }
    out
}
