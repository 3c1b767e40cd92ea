//! DELETE of one object and of collections: preconditions, grace periods, finalizers and
//! propagation policies (the garbage collector does the cascading).

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use everynode_store::{Preconditions, StoreError};
use serde_json::{Value, json};

use super::read::{Filter, typed};
use super::write::after_delete;
use super::{Target, json_response};
use crate::error::{ApiError, ApiResult};
use crate::meta;
use crate::request::Query;
use crate::server::ApiServer;
use crate::strategy::PodStrategy;

/// Finalizer the garbage collector removes once dependents are orphaned.
pub const ORPHAN_FINALIZER: &str = "orphan";
/// Finalizer the garbage collector removes once dependents are deleted.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// Finalizer of namespaces, removed once their content is gone.
pub const NAMESPACE_FINALIZER: &str = "kubernetes";

/// Namespaces that may never be deleted.
const PROTECTED_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public"];

/// How dependents are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Propagation {
    /// Delete the owner now, the dependents afterwards.
    Background,
    /// Delete the dependents first, keeping the owner until they are gone.
    Foreground,
    /// Keep the dependents, removing their owner references.
    Orphan,
}

/// `DeleteOptions` from the body and the query.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteOptions {
    pub grace_period: Option<i64>,
    pub propagation: Option<Propagation>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    fn parse(query: &Query, body: &[u8]) -> ApiResult<DeleteOptions> {
        let mut options = DeleteOptions { dry_run: query.dry_run(), ..Default::default() };
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("invalid DeleteOptions: {e}")))?
        };
        options.grace_period = body.get("gracePeriodSeconds").and_then(Value::as_i64);
        if let Some(grace) = query.int("gracePeriodSeconds").map_err(ApiError::bad_request)? {
            options.grace_period = Some(grace);
        }
        let policy = query
            .get("propagationPolicy")
            .map(str::to_owned)
            .or_else(|| body.get("propagationPolicy").and_then(Value::as_str).map(str::to_owned));
        options.propagation = match policy.as_deref() {
            None => None,
            Some("Background") => Some(Propagation::Background),
            Some("Foreground") => Some(Propagation::Foreground),
            Some("Orphan") => Some(Propagation::Orphan),
            Some(other) => {
                return Err(ApiError::invalid(
                    "",
                    "DeleteOptions",
                    "",
                    &[everynode_api::FieldError::not_supported(
                        &everynode_api::FieldPath::new("propagationPolicy"),
                        everynode_api::BadValue::Str(other.to_owned()),
                        &["Foreground", "Background", "Orphan"],
                    )],
                ));
            }
        };
        let orphan = query
            .get("orphanDependents")
            .map(|v| v == "true")
            .or_else(|| body.get("orphanDependents").and_then(Value::as_bool));
        if options.propagation.is_none() {
            options.propagation =
                orphan.map(|o| if o { Propagation::Orphan } else { Propagation::Background });
        }
        options.uid = body.pointer("/preconditions/uid").and_then(Value::as_str).map(str::to_owned);
        options.resource_version =
            body.pointer("/preconditions/resourceVersion").and_then(Value::as_str).map(str::to_owned);
        if body.get("dryRun").and_then(Value::as_array).is_some_and(|d| d.iter().any(|v| v == "All")) {
            options.dry_run = true;
        }
        Ok(options)
    }
}

/// The outcome of deleting one object.
pub(crate) enum Outcome {
    /// Removed from the store.
    Deleted(Arc<Value>),
    /// Marked for deletion; finalizers or a grace period hold it.
    Pending(Arc<Value>),
}

/// How often a delete re-reads and retries after another write got in between its read and its
/// write (as upstream's GuaranteedUpdate does); only sustained contention on one object exhausts it.
const DELETE_ATTEMPTS: usize = 16;

/// Deletes (or marks for deletion) one object; also used by the garbage collector.
pub(crate) async fn delete_one(
    server: &ApiServer,
    target: &Target,
    name: &str,
    options: &DeleteOptions,
) -> ApiResult<Outcome> {
    for _ in 1..DELETE_ATTEMPTS {
        if let Some(outcome) = delete_once(server, target, name, options).await? {
            return Ok(outcome);
        }
    }
    delete_once(server, target, name, options).await?.ok_or_else(|| {
        ApiError::conflict(
            &target.rt.group,
            &target.rt.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    })
}

/// One attempt of [`delete_one`]; `None` when another write changed the object between the read
/// and the write.
async fn delete_once(
    server: &ApiServer,
    target: &Target,
    name: &str,
    options: &DeleteOptions,
) -> ApiResult<Option<Outcome>> {
    let rt = &target.rt;
    let key = target.key(name);
    let store_error = |e| ApiError::from_store(e, &rt.group, &rt.plural);
    let current = server.store().get(&key).map_err(store_error)?;
    if let Some(uid) = &options.uid
        && uid != meta::uid(&current)
    {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta::uid(&current)
            ),
        ));
    }
    if let Some(rv) = &options.resource_version
        && Some(rv.as_str()) != meta::str_field(&current, "resourceVersion")
    {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            &format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                meta::str_field(&current, "resourceVersion").unwrap_or_default()
            ),
        ));
    }
    let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
    if is_namespace && PROTECTED_NAMESPACES.contains(&name) {
        return Err(ApiError::forbidden("", "namespaces", name, "this namespace may not be deleted"));
    }
    let grace = if rt.group.is_empty() && rt.plural == "pods" {
        PodStrategy::grace_period(&current, options.grace_period)
    } else {
        0
    };
    let mut finalizers = meta::finalizers(&current);
    match options.propagation {
        Some(Propagation::Orphan) => add_once(&mut finalizers, ORPHAN_FINALIZER),
        Some(Propagation::Foreground) => add_once(&mut finalizers, FOREGROUND_FINALIZER),
        Some(Propagation::Background) => {
            finalizers.retain(|f| f != ORPHAN_FINALIZER && f != FOREGROUND_FINALIZER)
        }
        None => {}
    }
    let namespace_finalizers = is_namespace
        && current.pointer("/spec/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
    let already_deleting = meta::is_deleting(&current);
    let current_grace = current.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64);
    // A second delete of a terminating pod may shorten its grace period; zero ends it now.
    let finish_now = finalizers.is_empty()
        && !namespace_finalizers
        && (grace == 0 || (already_deleting && current_grace == Some(0)));
    if finish_now {
        if options.dry_run {
            return Ok(Some(Outcome::Deleted(typed(rt, current))));
        }
        let preconditions =
            Preconditions { uid: Some(meta::uid(&current).to_owned()), ..Preconditions::none() };
        let deleted = server.store().delete(&key, preconditions).await.map_err(store_error)?;
        after_delete(server, rt, &deleted);
        return Ok(Some(Outcome::Deleted(typed(rt, deleted))));
    }
    let now = server.now();
    let mut updated = current.as_ref().clone();
    {
        let m = meta::metadata_mut(&mut updated);
        let shorter = current_grace.is_none_or(|g| grace < g);
        if !already_deleting || shorter {
            let at = now.checked_add(k8s_openapi::jiff::SignedDuration::from_secs(grace)).unwrap_or(now);
            m.insert("deletionTimestamp".into(), json!(meta::timestamp(at)));
            m.insert("deletionGracePeriodSeconds".into(), json!(grace));
        }
    }
    meta::set_finalizers(&mut updated, &finalizers);
    if is_namespace {
        updated["status"] = json!({"phase": "Terminating"});
    }
    if options.dry_run {
        return Ok(Some(Outcome::Pending(typed(rt, Arc::new(updated)))));
    }
    if updated == *current {
        return Ok(Some(Outcome::Pending(typed(rt, current))));
    }
    let revision = everynode_store::object::resource_version(&current);
    let stored = match server.store().update(&key, updated, revision).await {
        Ok(stored) => stored,
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(other) => return Err(store_error(other)),
    };
    server.wake_gc();
    Ok(Some(Outcome::Pending(typed(rt, stored))))
}

fn add_once(finalizers: &mut Vec<String>, finalizer: &str) {
    if !finalizers.iter().any(|f| f == finalizer) {
        finalizers.push(finalizer.to_owned());
    }
}

/// DELETE one object.
pub async fn delete(server: &ApiServer, target: &Target, query: &Query, body: &[u8]) -> ApiResult<Response> {
    let options = DeleteOptions::parse(query, body)?;
    let name = target.name.clone().unwrap_or_default();
    match delete_one(server, target, &name, &options).await? {
        Outcome::Deleted(object) => {
            if target.rt.crd.is_some() {
                return Ok(json_response(StatusCode::OK, &object, &[]));
            }
            let rt = &target.rt;
            let mut details = json!({"name": name, "kind": rt.plural, "uid": meta::uid(&object)});
            if !rt.group.is_empty() {
                details["group"] = json!(rt.group);
            }
            let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details});
            Ok(json_response(StatusCode::OK, &status, &[]))
        }
        Outcome::Pending(object) => {
            let code =
                if matches!(options.propagation, Some(Propagation::Foreground | Propagation::Background)) {
                    StatusCode::ACCEPTED
                } else {
                    StatusCode::OK
                };
            Ok(json_response(code, &object, &[]))
        }
    }
}

/// DELETE a collection: every object the selectors match, each as a single delete would.
pub async fn delete_collection(
    server: &ApiServer,
    target: &Target,
    query: &Query,
    body: &[u8],
) -> ApiResult<Response> {
    let options = DeleteOptions::parse(query, body)?;
    let filter = Filter::from_query(&target.rt, query)?;
    let snapshot = server.store().list(&target.rt.storage_resource(), target.namespace.as_deref());
    let mut items = Vec::new();
    for object in snapshot.items.iter().filter(|o| filter.matches(o)) {
        let one = Target {
            namespace: Some(meta::namespace(object).to_owned()).filter(|n| !n.is_empty()),
            ..target.clone()
        };
        match delete_one(server, &one, meta::name(object), &options).await {
            Ok(Outcome::Deleted(o) | Outcome::Pending(o)) => items.push(Value::clone(&o)),
            Err(ApiError { code: 404, .. }) => {}
            Err(error) => return Err(error),
        }
    }
    let list = json!({
        "kind": target.rt.list_kind(),
        "apiVersion": target.rt.api_version(),
        "metadata": {"resourceVersion": server.store().current_revision().to_string()},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list, &[]))
}
