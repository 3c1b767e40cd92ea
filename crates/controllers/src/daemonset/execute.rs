//! Carrying out one sync's plan through the API, in upstream's order: ownership changes, history,
//! pod deletes, pod creates (in slow-start batches), revision pruning, status, events.
//!
//! If any write fails the status is not written (the plan assumed success) and the sync returns
//! an error, so the key is retried with backoff and the next plan starts from what really
//! happened.

use std::sync::Arc;
use std::time::Duration;

use everynode_core::constants::reasons;
use everynode_core::plan::{OwnershipChange, Plan};
use everynode_core::slowstart;
use futures::future::join_all;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use super::controller::{Error, Shared};
use super::handlers::key_of;
use crate::events::{EventType, reference};

/// Whether an API error means the object is already gone (fine for deletes).
fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// The owner reference a DaemonSet puts on what it controls.
fn controller_ref(ds: &DaemonSet) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "name": ds.name_any(),
        "uid": ds.metadata.uid.clone().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// Carries out `plan` for `ds`; returns when to sync again.
pub async fn execute(shared: &Shared, ds: &Arc<DaemonSet>, plan: Plan) -> Result<Option<Duration>, Error> {
    let key = key_of(&ds.metadata);
    let namespace = ds.namespace().unwrap_or_default();
    let client = &shared.client;
    for warning in &plan.warnings {
        tracing::warn!(daemonset = key, "{warning}");
    }
    if let Some(stop) = &plan.stop {
        tracing::debug!(daemonset = key, ?stop, "sync stopped early");
    }
    let mut failed = false;

    // Ownership.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let revisions: Api<ControllerRevision> = Api::namespaced(client.clone(), &namespace);
    if !plan.ownership.is_empty() && !can_adopt(client, ds).await {
        // The DaemonSet was deleted or replaced meanwhile: adopting now would attach orphans to
        // an owner that is going away.
        return Ok(None);
    }
    for change in &plan.ownership {
        let result = match change {
            OwnershipChange::AdoptPod { name, uid } => {
                let patch = json!({"metadata": {"ownerReferences": [controller_ref(ds)], "uid": uid}});
                pods.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.map(drop)
            }
            OwnershipChange::ReleasePod { name, uid } => {
                let patch = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": ds.metadata.uid}], "uid": uid}});
                pods.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.map(drop)
            }
            OwnershipChange::AdoptRevision { name, uid } => {
                let patch = json!({"metadata": {"ownerReferences": [controller_ref(ds)], "uid": uid}});
                revisions.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.map(drop)
            }
            OwnershipChange::ReleaseRevision { name, uid } => {
                let patch = json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": ds.metadata.uid}], "uid": uid}});
                revisions.patch(name, &PatchParams::default(), &Patch::Strategic(&patch)).await.map(drop)
            }
        };
        if let Err(error) = result
            && !is_not_found(&error)
        {
            tracing::warn!(daemonset = key, %error, "ownership change failed");
            failed = true;
        }
    }

    // History.
    let history = &plan.history;
    for name in &history.add_hash_label {
        let patch = json!({"metadata": {"labels": {everynode_core::constants::CONTROLLER_REVISION_HASH_LABEL: name}}});
        if let Err(error) = revisions.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await
            && !is_not_found(&error)
        {
            failed = true;
        }
    }
    if let Some(revision) = &history.create {
        // An AlreadyExists here means another writer got in since the cache was filled: the
        // retry sees it (and detects a real hash collision).
        revisions.create(&PostParams::default(), revision).await?;
    }
    if let Some((name, number)) = &history.renumber {
        let patch = json!({"revision": number});
        if let Err(error) = revisions.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            return Err(Error::Kube(error));
        }
    }
    for name in &history.relabel_pods {
        let patch = json!({"metadata": {"labels": {everynode_core::constants::CONTROLLER_REVISION_HASH_LABEL: history.hash}}});
        if let Err(error) = pods.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await
            && !is_not_found(&error)
        {
            failed = true;
        }
    }
    for name in &history.delete_duplicates {
        if let Err(error) = revisions.delete(name, &DeleteParams::default()).await
            && !is_not_found(&error)
        {
            failed = true;
        }
    }

    // Pod deletes and creates, with expectations raised first so the watch events that follow
    // are counted against them.
    if !plan.deletes.is_empty() || !plan.creates.is_empty() {
        shared.expectations().set(&key, plan.creates.len(), plan.deletes.len(), jiff::Timestamp::now());
    }
    let deletes = plan.deletes.iter().map(|delete| {
        let pods = pods.clone();
        async move { (delete, pods.delete(&delete.name, &DeleteParams::default()).await) }
    });
    for (delete, result) in join_all(deletes).await {
        match result {
            Ok(_) => shared.recorder.record(
                reference(ds.as_ref()),
                EventType::Normal,
                reasons::SUCCESSFUL_DELETE,
                format!("Deleted pod: {}", delete.name),
            ),
            Err(error) if is_not_found(&error) => shared.expectations().deletion_observed(&key),
            Err(error) => {
                // The pod stays, so its deletion will never be observed.
                shared.expectations().deletion_observed(&key);
                shared.recorder.record(
                    reference(ds.as_ref()),
                    EventType::Warning,
                    reasons::FAILED_DELETE,
                    format!("Error deleting: {error}"),
                );
                failed = true;
            }
        }
    }
    let mut position = 0;
    let batches = slowstart::batches(plan.creates.len());
    let mut skipped = 0;
    for (index, size) in batches.iter().enumerate() {
        let batch = &plan.creates[position..position + size];
        position += size;
        let creates = batch.iter().map(|create| {
            let pods = pods.clone();
            async move { pods.create(&PostParams::default(), &create.pod).await }
        });
        let mut batch_failed = false;
        for result in join_all(creates).await {
            match result {
                Ok(pod) => shared.recorder.record(
                    reference(ds.as_ref()),
                    EventType::Normal,
                    reasons::SUCCESSFUL_CREATE,
                    format!("Created pod: {}", pod.name_any()),
                ),
                Err(error) => {
                    shared.expectations().creation_observed(&key);
                    shared.recorder.record(
                        reference(ds.as_ref()),
                        EventType::Warning,
                        reasons::FAILED_CREATE,
                        format!("Error creating: {error}"),
                    );
                    batch_failed = true;
                }
            }
        }
        if batch_failed {
            skipped = batches[index + 1..].iter().sum::<usize>();
            failed = true;
            break;
        }
    }
    for _ in 0..skipped {
        shared.expectations().creation_observed(&key);
    }

    // Old revisions beyond the history limit.
    for name in &plan.prune_revisions {
        if let Err(error) = revisions.delete(name, &DeleteParams::default()).await
            && !is_not_found(&error)
        {
            failed = true;
        }
    }

    shared.apply_backoff(&plan.backoff);
    for event in &plan.events {
        let type_ = match event.type_ {
            everynode_core::plan::EventType::Normal => EventType::Normal,
            everynode_core::plan::EventType::Warning => EventType::Warning,
        };
        shared.recorder.record(reference(ds.as_ref()), type_, event.reason, event.message.clone());
    }
    if failed {
        return Err(Error::Partial(key));
    }
    if let Some(status) = plan.status {
        write_status(client, ds, status).await?;
    }
    Ok(plan.requeue_after.map(|d| d.unsigned_abs()))
}

/// Re-reads the DaemonSet from the API (not the cache) before adopting, as upstream's
/// `RecheckDeletionTimestamp`: only a live, same-uid owner adopts.
async fn can_adopt(client: &Client, ds: &DaemonSet) -> bool {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
    match api.get(&ds.name_any()).await {
        Ok(fresh) => fresh.metadata.uid == ds.metadata.uid && fresh.metadata.deletion_timestamp.is_none(),
        Err(_) => false,
    }
}

/// Writes the status, retrying once on a conflict with a fresh copy (upstream's
/// `storeDaemonSetStatus`).
async fn write_status(
    client: &Client,
    ds: &DaemonSet,
    status: k8s_openapi::api::apps::v1::DaemonSetStatus,
) -> Result<(), Error> {
    let api: Api<DaemonSet> = Api::namespaced(client.clone(), &ds.namespace().unwrap_or_default());
    let mut object = ds.clone();
    for attempt in 0..2 {
        object.status = Some(status.clone());
        match api.replace_status(&ds.name_any(), &PostParams::default(), &object).await {
            Ok(_) => return Ok(()),
            Err(error) if is_conflict(&error) && attempt == 0 => {
                object = api.get(&ds.name_any()).await?;
                if object.metadata.uid != ds.metadata.uid {
                    return Ok(());
                }
            }
            Err(error) if is_not_found(&error) => return Ok(()),
            Err(error) => return Err(Error::Kube(error)),
        }
    }
    Ok(())
}
