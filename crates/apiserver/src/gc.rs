//! The garbage collector: cascading deletion through `ownerReferences` (background, foreground,
//! orphan), namespace cleanup, and the removal of custom resources whose CRD is gone.
//!
//! It runs as one task beside the handlers. Each pass scans the in-memory store (cheap: reads
//! never wait for writes) and acts through the same delete path as the REST API, so finalizers
//! and pod grace periods are honoured. Passes run when a delete wakes it and every few seconds,
//! so nothing is missed after a restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use everynode_store::{ObjectKey, Preconditions, StoreError};
use serde_json::Value;

use crate::handlers::Target;
use crate::handlers::delete::{
    DeleteOptions, FOREGROUND_FINALIZER, NAMESPACE_FINALIZER, ORPHAN_FINALIZER, Propagation, delete_one,
};
use crate::meta;
use crate::registry::ResourceType;
use crate::server::ApiServer;

/// A pass also runs this often without being woken.
const RESYNC: Duration = Duration::from_secs(5);

/// How long a burst of deletions may settle into one pass.
const SETTLE: Duration = Duration::from_millis(20);

/// After a pass, the next one waits at least this many times as long as the pass took. A pass
/// scans every object, and a rolling update wakes the collector with every pod it deletes, so
/// back-to-back passes took a third of the CPU on 10,000 nodes; paced, the collector takes at
/// most 1/(1 + PACE) of a core, and a cascade waits about ten passes' time (10,000 nodes: a
/// pass takes ~10 ms). On small clusters a pass takes well under a millisecond and [`SETTLE`]
/// decides.
const PACE: u32 = 9;

/// Runs passes until the process ends.
pub async fn run(server: ApiServer) {
    let wakeup = Arc::clone(&server.inner.gc_wakeup);
    loop {
        let started = std::time::Instant::now();
        pass(&server).await;
        let took = started.elapsed();
        let _ = tokio::time::timeout(RESYNC, wakeup.notified()).await;
        tokio::time::sleep(SETTLE.max(took.saturating_mul(PACE))).await;
    }
}

/// One garbage-collection pass; returns how many writes it made (for tests).
pub async fn pass(server: &ApiServer) -> usize {
    let mut writes = 0;
    let collections = server.registry().collections();
    for rt in &collections {
        let items = server.store().list(&rt.storage_resource(), None).items;
        let mut owners = Owners::new();
        for object in &items {
            if meta::is_deleting(object) {
                writes += finish_owner(server, &collections, rt, object).await;
            } else if !meta::owner_references(object).is_empty() {
                writes += collect_dependent(server, rt, object, &mut owners).await;
            }
        }
    }
    writes
}

/// The owners looked up during one pass over one collection, by (apiVersion, kind, namespace,
/// name, uid): a DaemonSet's 10,000 pods share one owner, looked up once. An owner deleted
/// later in the pass is seen by the next pass, which its deletion wakes.
type Owners<'a> = HashMap<[&'a str; 5], Option<bool>>;

fn key_of(rt: &ResourceType, object: &Value) -> ObjectKey {
    if rt.namespaced {
        ObjectKey::namespaced(rt.storage_resource(), meta::namespace(object), meta::name(object))
    } else {
        ObjectKey::cluster(rt.storage_resource(), meta::name(object))
    }
}

fn target(rt: &Arc<ResourceType>, object: &Value) -> Target {
    Target {
        rt: Arc::clone(rt),
        namespace: Some(meta::namespace(object).to_owned()).filter(|n| !n.is_empty()),
        name: Some(meta::name(object).to_owned()),
        subresource: None,
    }
}

/// Deletes `object` as a client would, with `propagation`; a vanished object is fine.
async fn delete(
    server: &ApiServer,
    rt: &Arc<ResourceType>,
    object: &Value,
    propagation: Propagation,
) -> usize {
    let options = DeleteOptions {
        propagation: Some(propagation),
        uid: Some(meta::uid(object).to_owned()),
        ..Default::default()
    };
    match delete_one(server, &target(rt, object), meta::name(object), &options).await {
        Ok(_) => 1,
        Err(error) => {
            if error.code != 404 && error.code != 409 {
                tracing::warn!(name = meta::name(object), resource = rt.plural, %error, "garbage collector could not delete");
            }
            0
        }
    }
}

/// The dependents of `owner` (objects with an ownerReference to its uid).
fn dependents(
    server: &ApiServer,
    collections: &[Arc<ResourceType>],
    owner: &Value,
) -> Vec<(Arc<ResourceType>, Arc<Value>)> {
    let uid = meta::uid(owner);
    let mut out = Vec::new();
    for rt in collections {
        let namespace = Some(meta::namespace(owner)).filter(|ns| !ns.is_empty() && rt.namespaced);
        for object in server.store().list(&rt.storage_resource(), namespace).items {
            if meta::owner_references(&object)
                .iter()
                .any(|r| r.get("uid").and_then(Value::as_str) == Some(uid))
            {
                out.push((Arc::clone(rt), object));
            }
        }
    }
    out
}

/// Progress for an object that is being deleted: run its finalizers' work.
async fn finish_owner(
    server: &ApiServer,
    collections: &[Arc<ResourceType>],
    rt: &Arc<ResourceType>,
    object: &Value,
) -> usize {
    let finalizers = meta::finalizers(object);
    let mut writes = 0;
    if rt.group.is_empty() && rt.plural == "namespaces" {
        return clean_namespace(server, collections, rt, object).await;
    }
    if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
        let uid = meta::uid(object).to_owned();
        for (dep_rt, dependent) in dependents(server, collections, object) {
            writes += drop_owner_refs(server, &dep_rt, &dependent, std::slice::from_ref(&uid)).await;
        }
        writes += remove_finalizer(server, rt, object, ORPHAN_FINALIZER).await;
    } else if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
        let dependents = dependents(server, collections, object);
        if dependents.is_empty() {
            writes += remove_finalizer(server, rt, object, FOREGROUND_FINALIZER).await;
        }
        for (dep_rt, dependent) in dependents {
            if !meta::is_deleting(&dependent) {
                writes += delete(server, &dep_rt, &dependent, Propagation::Foreground).await;
            }
        }
    }
    writes
}

/// Deletes a terminating namespace's content, then the namespace itself.
async fn clean_namespace(
    server: &ApiServer,
    collections: &[Arc<ResourceType>],
    rt: &Arc<ResourceType>,
    ns: &Value,
) -> usize {
    let name = meta::name(ns);
    let mut remaining = 0;
    let mut writes = 0;
    for collection in collections.iter().filter(|c| c.namespaced) {
        for object in server.store().list(&collection.storage_resource(), Some(name)).items {
            remaining += 1;
            if !meta::is_deleting(&object) {
                writes += delete(server, collection, &object, Propagation::Background).await;
            }
        }
    }
    if remaining > 0 {
        return writes;
    }
    let key = key_of(rt, ns);
    let result = server
        .store()
        .guaranteed_update(&key, &Preconditions::none(), |current: &Value| -> Result<Value, StoreError> {
            let mut updated = current.clone();
            if let Some(Value::Array(finalizers)) = updated.pointer_mut("/spec/finalizers") {
                finalizers.retain(|f| f != NAMESPACE_FINALIZER);
            }
            Ok(updated)
        })
        .await;
    if let Ok(updated) = result
        && meta::finalizers(&updated).is_empty()
    {
        let preconditions =
            Preconditions { uid: Some(meta::uid(&updated).to_owned()), ..Preconditions::none() };
        if server.store().delete(&key, preconditions).await.is_ok() {
            writes += 1;
        }
    }
    writes + 1
}

/// Removes a finalizer; the last one gone completes the deletion.
async fn remove_finalizer(
    server: &ApiServer,
    rt: &Arc<ResourceType>,
    object: &Value,
    finalizer: &str,
) -> usize {
    let key = key_of(rt, object);
    let uid = meta::uid(object).to_owned();
    let preconditions = Preconditions { uid: Some(uid.clone()), ..Preconditions::none() };
    let result = server
        .store()
        .guaranteed_update(&key, &preconditions, |current: &Value| -> Result<Value, StoreError> {
            let mut updated = current.clone();
            let finalizers: Vec<String> =
                meta::finalizers(current).into_iter().filter(|f| f != finalizer).collect();
            meta::set_finalizers(&mut updated, &finalizers);
            Ok(updated)
        })
        .await;
    let Ok(updated) = result else { return 0 };
    let grace = updated.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0);
    if meta::finalizers(&updated).is_empty() && grace == 0 {
        let preconditions = Preconditions { uid: Some(uid), ..Preconditions::none() };
        if let Ok(deleted) = server.store().delete(&key, preconditions).await {
            crate::handlers::write::after_delete(server, rt, &deleted);
        }
    }
    1
}

/// Removes the ownerReferences with these uids from `object`.
async fn drop_owner_refs(
    server: &ApiServer,
    rt: &Arc<ResourceType>,
    object: &Value,
    uids: &[String],
) -> usize {
    let key = key_of(rt, object);
    let preconditions = Preconditions { uid: Some(meta::uid(object).to_owned()), ..Preconditions::none() };
    let result = server
        .store()
        .guaranteed_update(&key, &preconditions, |current: &Value| -> Result<Value, StoreError> {
            let mut updated = current.clone();
            let m = meta::metadata_mut(&mut updated);
            if let Some(Value::Array(refs)) = m.get_mut("ownerReferences") {
                refs.retain(|r| {
                    !r.get("uid").and_then(Value::as_str).is_some_and(|u| uids.iter().any(|x| x == u))
                });
                if refs.is_empty() {
                    m.remove("ownerReferences");
                }
            }
            Ok(updated)
        })
        .await;
    usize::from(result.is_ok())
}

/// Whether the owner a reference names still exists (same uid). `None` when the reference names
/// a kind this server does not serve: such references are left alone, as upstream does.
fn owner_exists(
    server: &ApiServer,
    dependent_rt: &ResourceType,
    dependent: &Value,
    reference: &Value,
) -> Option<bool> {
    let api_version = reference.get("apiVersion").and_then(Value::as_str)?;
    let kind = reference.get("kind").and_then(Value::as_str)?;
    let name = reference.get("name").and_then(Value::as_str)?;
    let uid = reference.get("uid").and_then(Value::as_str)?;
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let owner_rt = server.registry().by_kind(group, kind)?;
    let key = if owner_rt.namespaced {
        if !dependent_rt.namespaced {
            // A cluster-scoped dependent cannot have a namespaced owner.
            return Some(false);
        }
        ObjectKey::namespaced(owner_rt.storage_resource(), meta::namespace(dependent), name)
    } else {
        ObjectKey::cluster(owner_rt.storage_resource(), name)
    };
    match server.store().get(&key) {
        Ok(owner) => Some(meta::uid(&owner) == uid),
        Err(_) => Some(false),
    }
}

/// Deletes a dependent whose owners are all gone (or all being deleted in the foreground), or
/// drops the references to the vanished ones if some owner remains.
async fn collect_dependent<'a>(
    server: &ApiServer,
    rt: &Arc<ResourceType>,
    object: &'a Value,
    owners: &mut Owners<'a>,
) -> usize {
    let refs = meta::owner_references(object);
    let mut dangling = Vec::new();
    let mut alive = 0;
    for reference in refs.iter().copied() {
        let field = |name: &str| reference.get(name).and_then(Value::as_str).unwrap_or_default();
        let owner =
            [field("apiVersion"), field("kind"), meta::namespace(object), field("name"), field("uid")];
        let exists = *owners.entry(owner).or_insert_with(|| owner_exists(server, rt, object, reference));
        match exists {
            Some(true) => alive += 1,
            Some(false) => {
                if let Some(uid) = reference.get("uid").and_then(Value::as_str) {
                    dangling.push(uid.to_owned());
                }
            }
            None => alive += 1,
        }
    }
    if dangling.is_empty() {
        return 0;
    }
    if alive == 0 {
        delete(server, rt, object, Propagation::Background).await
    } else {
        drop_owner_refs(server, rt, object, &dangling).await
    }
}

/// Deletes every stored object of a CRD that is gone (its resources are no longer served, so
/// nothing else would ever remove them).
pub async fn delete_custom_objects(server: ApiServer, storage_resource: String) {
    for object in server.store().list(&storage_resource, None).items {
        let key = if meta::namespace(&object).is_empty() {
            ObjectKey::cluster(storage_resource.clone(), meta::name(&object))
        } else {
            ObjectKey::namespaced(storage_resource.clone(), meta::namespace(&object), meta::name(&object))
        };
        let _ = server.store().delete(&key, Preconditions::none()).await;
    }
}
