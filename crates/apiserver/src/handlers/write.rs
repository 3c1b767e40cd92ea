//! Writes: create, update (PUT), patch and pod binding, including `dryRun` and `fieldValidation`.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use everynode_patch::PatchType;
use everynode_store::{Preconditions, Revision, StoreError};
use rand::Rng;
use serde_json::{Map, Value, json};

use super::read::{typed, with_type_meta};
use super::{Target, json_response};
use crate::error::{ApiError, ApiResult};
use crate::meta;
use crate::registry::ResourceType;
use crate::request::Query;
use crate::server::ApiServer;
use crate::strategy::Decoded;

/// The alphabet of generated name suffixes (no vowels, so no words; as upstream).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// How unknown fields are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldValidation {
    Strict,
    Warn,
    Ignore,
}

impl FieldValidation {
    fn from_query(query: &Query) -> ApiResult<Self> {
        match query.get("fieldValidation") {
            None | Some("Warn") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported: {other}, valid values are Ignore, Warn, Strict"
            ))),
        }
    }

    /// Strict: 400 listing the fields; Warn: warnings; Ignore: nothing.
    fn apply(self, unknown: &[String]) -> ApiResult<Vec<String>> {
        if unknown.is_empty() {
            return Ok(Vec::new());
        }
        let messages: Vec<String> = unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
        match self {
            FieldValidation::Strict => {
                Err(ApiError::bad_request(format!("strict decoding error: {}", messages.join(", "))))
            }
            FieldValidation::Warn => Ok(messages),
            FieldValidation::Ignore => Ok(Vec::new()),
        }
    }
}

fn generate_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String =
        (0..5).map(|_| char::from(NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())])).collect();
    // Upstream truncates the prefix so the name stays within 63 characters.
    let prefix: String = prefix.chars().take(58).collect();
    format!("{prefix}{suffix}")
}

/// Checks `apiVersion`/`kind` against the resource and fills them in when missing.
fn check_type_meta(rt: &ResourceType, object: &mut Value) -> ApiResult<()> {
    let expected_version = rt.api_version();
    if let Some(v) = object.get("apiVersion").and_then(Value::as_str)
        && v != expected_version
    {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({v}) does not match the expected API version ({expected_version})"
        )));
    }
    if let Some(k) = object.get("kind").and_then(Value::as_str)
        && k != rt.kind
    {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({k}) does not match the expected kind ({})",
            rt.kind
        )));
    }
    object["apiVersion"] = json!(expected_version);
    object["kind"] = json!(rt.kind);
    Ok(())
}

/// Where a decoded body comes from, which decides how a strict decoding error reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyOf {
    /// A create or update body: upstream names the kind, as in `DaemonSet in version "v1"
    /// cannot be handled as a DaemonSet: strict decoding error: ...` (`transformDecodeError`).
    Request,
    /// A patched object: upstream reports the bare `strict decoding error: ...`.
    Patch,
}

/// Decodes a body for `rt`, applying `fieldValidation`.
fn decode(
    rt: &ResourceType,
    mut body: Value,
    validation: FieldValidation,
    body_of: BodyOf,
) -> ApiResult<(Value, Vec<String>)> {
    check_type_meta(rt, &mut body)?;
    let Decoded { mut object, unknown_fields } = rt.strategy.decode(body)?;
    let warnings = validation.apply(&unknown_fields).map_err(|mut error| {
        if body_of == BodyOf::Request {
            let kind = &rt.kind;
            error.message = format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: {}",
                rt.version, error.message
            );
        }
        error
    })?;
    check_type_meta(rt, &mut object)?;
    Ok((object, warnings))
}

fn invalid(rt: &ResourceType, object: &Value, errors: &[everynode_api::FieldError]) -> ApiError {
    ApiError::invalid(&rt.group, &rt.kind, meta::name(object), errors)
}

/// Fills the server-owned metadata of a new object and runs the kind's create rules.
fn prepare_create(
    server: &ApiServer,
    rt: &ResourceType,
    namespace: Option<&str>,
    object: &mut Value,
) -> ApiResult<()> {
    let body_namespace = meta::namespace(object).to_owned();
    let meta = meta::metadata_mut(object);
    if rt.namespaced {
        let Some(namespace) = namespace else {
            return Err(ApiError::bad_request(
                "the namespace of the object must be given in the request path",
            ));
        };
        if !body_namespace.is_empty() && body_namespace != namespace {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        meta.insert("namespace".into(), json!(namespace));
    } else {
        meta.remove("namespace");
    }
    if meta.get("resourceVersion").and_then(Value::as_str).is_some_and(|v| !v.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    meta.remove("resourceVersion");
    let name = meta.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
    if name.is_empty()
        && let Some(prefix) = meta.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty())
    {
        let generated = generate_name(prefix);
        meta.insert("name".into(), json!(generated));
    }
    meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    meta.insert("creationTimestamp".into(), json!(meta::timestamp(server.now())));
    for field in ["deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"] {
        meta.remove(field);
    }
    if rt.strategy.tracks_generation() {
        meta.insert("generation".into(), json!(1));
    } else {
        meta.remove("generation");
    }
    let errors = rt.strategy.create(object);
    if !errors.is_empty() {
        return Err(invalid(rt, object, &errors));
    }
    Ok(())
}

/// Creates `body` as a new object of `rt`; shared by POST and the bootstrap.
pub(crate) async fn create_object(
    server: &ApiServer,
    rt: &std::sync::Arc<ResourceType>,
    namespace: Option<&str>,
    body: Value,
    dry_run: bool,
) -> ApiResult<Arc<Value>> {
    let (mut object, _) = decode(rt, body, FieldValidation::Ignore, BodyOf::Request)?;
    prepare_create(server, rt, namespace, &mut object)?;
    store_new(server, rt, namespace, object, dry_run).await
}

async fn store_new(
    server: &ApiServer,
    rt: &std::sync::Arc<ResourceType>,
    namespace: Option<&str>,
    object: Value,
    dry_run: bool,
) -> ApiResult<Arc<Value>> {
    if let Some(ns) = namespace.filter(|_| rt.namespaced) {
        check_namespace_open(server, ns)?;
    }
    let name = meta::name(&object).to_owned();
    let target = Target {
        rt: std::sync::Arc::clone(rt),
        namespace: namespace.map(str::to_owned),
        name: None,
        subresource: None,
    };
    let key = target.key(&name);
    if dry_run {
        return match server.store().get(&key) {
            Ok(_) => Err(ApiError::already_exists(&rt.group, &rt.plural, &name)),
            Err(_) => Ok(Arc::new(object)),
        };
    }
    let stored = server
        .store()
        .create(&key, object)
        .await
        .map_err(|e| ApiError::from_store(e, &rt.group, &rt.plural))?;
    after_write(server, rt, &stored);
    Ok(typed(rt, stored))
}

/// New objects need an existing namespace that is not being deleted.
fn check_namespace_open(server: &ApiServer, namespace: &str) -> ApiResult<()> {
    let ns = server
        .store()
        .get(&everynode_store::ObjectKey::cluster("namespaces", namespace))
        .map_err(|_| ApiError::not_found("", "namespaces", namespace))?;
    if meta::is_deleting(&ns) {
        return Err(ApiError::forbidden(
            "",
            "namespaces",
            namespace,
            &format!("unable to create new content in namespace {namespace} because it is being terminated"),
        ));
    }
    Ok(())
}

/// Side effects of a committed write: CRDs change what is served.
fn after_write(server: &ApiServer, rt: &ResourceType, stored: &Value) {
    if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
        server.registry().install_crd(stored);
    }
}

/// POST to a collection.
pub async fn create(server: &ApiServer, target: &Target, query: &Query, body: Value) -> ApiResult<Response> {
    let validation = FieldValidation::from_query(query)?;
    let (mut object, warnings) = decode(&target.rt, body, validation, BodyOf::Request)?;
    prepare_create(server, &target.rt, target.namespace.as_deref(), &mut object)?;
    let stored = store_new(server, &target.rt, target.namespace.as_deref(), object, query.dry_run()).await?;
    Ok(json_response(StatusCode::CREATED, &stored, &warnings))
}

/// What an update writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// The object (status carried over when the kind has a status subresource).
    Main,
    /// `/status`: only status (and metadata) change.
    Status,
}

/// Builds the object an update stores from the stored `old` and the requested `new`.
fn prepare_update(
    server: &ApiServer,
    rt: &ResourceType,
    part: Part,
    mut new: Value,
    old: &Value,
) -> ApiResult<Value> {
    // Server-owned metadata comes from the stored object.
    let old_meta = old.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let new_meta = meta::metadata_mut(&mut new);
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(field) {
            Some(v) => {
                new_meta.insert(field.into(), v.clone());
            }
            None => {
                new_meta.remove(field);
            }
        }
    }
    new_meta.remove("managedFields");
    // A deleting object may lose finalizers but not gain new ones.
    let errors = match part {
        Part::Main => {
            if rt.status_subresource {
                match old.get("status") {
                    Some(status) => new["status"] = status.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                }
            }
            let errors = rt.strategy.update(&mut new, old);
            if rt.strategy.tracks_generation() && meta::desired_state(&new) != meta::desired_state(old) {
                let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0) + 1;
                meta::metadata_mut(&mut new).insert("generation".into(), json!(generation));
            }
            errors
        }
        Part::Status => {
            // Everything but metadata and status is the stored object's.
            if let (Value::Object(new_map), Value::Object(old_map)) = (&mut new, old) {
                let keep: Map<String, Value> = old_map
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                new_map.retain(|k, _| matches!(k.as_str(), "metadata" | "status"));
                new_map.extend(keep);
            }
            rt.strategy.status_update(&mut new, old)
        }
    };
    if !errors.is_empty() {
        return Err(invalid(rt, &new, &errors));
    }
    let _ = server;
    Ok(new)
}

fn part_of(target: &Target) -> Part {
    if target.subresource.as_deref() == Some("status") { Part::Status } else { Part::Main }
}

/// Errors from inside a guaranteed update: either the store's or the request's.
fn store_error(rt: &ResourceType) -> impl Fn(StoreError) -> ApiError + '_ {
    move |e| ApiError::from_store(e, &rt.group, &rt.plural)
}

/// Commits an update (or, for `dryRun`, computes it), then finishes deletions whose last
/// finalizer was removed.
async fn commit_update<F>(
    server: &ApiServer,
    target: &Target,
    dry_run: bool,
    mut build: F,
) -> ApiResult<Arc<Value>>
where
    F: FnMut(&Value) -> ApiResult<Value>,
{
    let name = target.name.as_deref().unwrap_or_default();
    let key = target.key(name);
    let rt = &target.rt;
    if dry_run {
        let current = server.store().get(&key).map_err(store_error(rt))?;
        return build(&current).map(Arc::new);
    }
    let result =
        server.store().guaranteed_update(&key, &Preconditions::none(), |current| build(current)).await;
    let stored = match result {
        Ok(stored) => stored,
        Err(error) => return Err(relabel(error, rt)),
    };
    after_write(server, rt, &stored);
    if meta::is_deleting(&stored) && meta::finalizers(&stored).is_empty() && !needs_grace(&stored) {
        let uid = meta::uid(&stored).to_owned();
        let preconditions = Preconditions { uid: Some(uid), ..Preconditions::none() };
        match server.store().delete(&key, preconditions).await {
            Ok(deleted) => {
                after_delete(server, rt, &deleted);
                return Ok(typed(rt, deleted));
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(ApiError::from_store(e, &rt.group, &rt.plural)),
        }
    }
    if meta::is_deleting(&stored) {
        server.wake_gc();
    }
    Ok(typed(rt, stored))
}

/// A terminating pod on a node waits for its kubelet (grace period), even without finalizers.
fn needs_grace(object: &Value) -> bool {
    object.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) > 0
}

/// Store errors inside `guaranteed_update` come back as generic ApiErrors; name the resource.
fn relabel(error: ApiError, rt: &ResourceType) -> ApiError {
    if error.reason == "NotFound" && error.message.starts_with("objects ") {
        let name = error
            .details
            .as_ref()
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return ApiError::not_found(&rt.group, &rt.plural, &name);
    }
    if error.reason == "Conflict" && error.message.contains(" on objects ") {
        let name = error
            .details
            .as_ref()
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        return ApiError::conflict(
            &rt.group,
            &rt.plural,
            &name,
            "the object has been modified; please apply your changes to the latest version and try again",
        );
    }
    error
}

/// Follow-up after an object left the store.
pub(crate) fn after_delete(server: &ApiServer, rt: &ResourceType, deleted: &Value) {
    if rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions" {
        server.registry().remove_crd(meta::name(deleted));
        let plural = deleted.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or_default();
        let group = deleted.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default();
        if !plural.is_empty() {
            tokio::spawn(crate::gc::delete_custom_objects(server.clone(), format!("{plural}.{group}")));
        }
    }
    server.wake_gc();
}

/// Checks an update's `resourceVersion` (optimistic concurrency) against the stored object.
fn check_resource_version(
    rt: &ResourceType,
    name: &str,
    requested: Option<&str>,
    current: &Value,
) -> ApiResult<()> {
    let Some(requested) = requested.filter(|v| !v.is_empty()) else { return Ok(()) };
    let requested: Revision = requested
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {requested:?}")))?;
    let current_rv = everynode_store::object::resource_version(current);
    if current_rv != Some(requested) {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    Ok(())
}

/// PUT an object (or its status).
pub async fn update(server: &ApiServer, target: &Target, query: &Query, body: Value) -> ApiResult<Response> {
    let rt = &target.rt;
    let name = target.name.clone().unwrap_or_default();
    let validation = FieldValidation::from_query(query)?;
    let (object, warnings) = decode(rt, body, validation, BodyOf::Request)?;
    let body_name = meta::name(&object);
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    if let Some(ns) = &target.namespace
        && !meta::namespace(&object).is_empty()
        && meta::namespace(&object) != ns
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let requested_rv = meta::str_field(&object, "resourceVersion").map(str::to_owned);
    let part = part_of(target);
    let stored = commit_update(server, target, query.dry_run(), |current| {
        check_resource_version(rt, &name, requested_rv.as_deref(), current)?;
        prepare_update(server, rt, part, object.clone(), current)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &stored, &warnings))
}

/// PATCH an object (or its status).
pub async fn patch(
    server: &ApiServer,
    target: &Target,
    query: &Query,
    content_type: &str,
    body: &[u8],
) -> ApiResult<Response> {
    let rt = &target.rt;
    let name = target.name.clone().unwrap_or_default();
    let validation = FieldValidation::from_query(query)?;
    let patch_type = PatchType::from_content_type(content_type)
        .map_err(|e| ApiError::unsupported_media_type(e.to_string()))?;
    if patch_type == PatchType::Apply {
        return Err(ApiError::unsupported_media_type(
            "server-side apply (application/apply-patch+yaml) is not supported by everynode yet; use client-side `kubectl apply` (the default) or another patch type",
        ));
    }
    // Custom resources have no strategic-merge metadata, as upstream.
    if patch_type == PatchType::StrategicMerge && rt.crd.is_some() {
        return Err(ApiError::unsupported_media_type(
            "strategic merge patch is not supported for custom resources; use a JSON merge patch (--type merge) or a JSON patch",
        ));
    }
    let part = part_of(target);
    let mut warnings = Vec::new();
    let stored = commit_update(server, target, query.dry_run(), |current| {
        let current = with_type_meta(rt, current);
        let patched = everynode_patch::apply_patch_for_kind(&current, body, patch_type, &rt.kind)
            .map_err(|e| patch_error(rt, &name, e))?;
        if !patched.is_object() {
            return Err(ApiError::bad_request("the patch must leave a JSON object"));
        }
        let requested_rv = meta::str_field(&patched, "resourceVersion").map(str::to_owned);
        if requested_rv.as_deref() != meta::str_field(&current, "resourceVersion") {
            check_resource_version(rt, &name, requested_rv.as_deref(), &current)?;
        }
        let (object, unknown) = decode(rt, patched, validation, BodyOf::Patch)?;
        warnings = unknown;
        prepare_update(server, rt, part, object, &current)
    })
    .await?;
    Ok(json_response(StatusCode::OK, &stored, &warnings))
}

fn patch_error(rt: &ResourceType, name: &str, error: everynode_patch::PatchError) -> ApiError {
    match error.http_status() {
        415 => ApiError::unsupported_media_type(error.to_string()),
        413 => ApiError::too_large(crate::server::MAX_BODY_BYTES),
        422 => ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "{} \"{name}\" is invalid: {error}",
                crate::error::qualified(&rt.group, &rt.plural)
            ),
            details: None,
        },
        _ => ApiError::bad_request(error.to_string()),
    }
}

/// POST pods/<name>/binding.
pub async fn bind(server: &ApiServer, target: &Target, query: &Query, body: Value) -> ApiResult<Response> {
    let now = meta::timestamp(server.now());
    let pod_target = Target { subresource: None, ..target.clone() };
    commit_update(server, &pod_target, query.dry_run(), |current| {
        crate::strategy::bind_pod(current, &body, &now)
    })
    .await?;
    let status =
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
    Ok(json_response(StatusCode::CREATED, &status, &[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_use_the_safe_alphabet() {
        let name = generate_name("fluentd-");
        assert_eq!(name.len(), "fluentd-".len() + 5);
        assert!(name["fluentd-".len()..].bytes().all(|b| NAME_ALPHABET.contains(&b)));
    }

    #[test]
    fn strict_field_validation_lists_every_unknown_field() {
        let error = FieldValidation::Strict.apply(&["spec.foo".into(), "bar".into()]).unwrap_err();
        assert_eq!(error.message, "strict decoding error: unknown field \"spec.foo\", unknown field \"bar\"");
        assert_eq!(FieldValidation::Warn.apply(&["x".into()]).unwrap(), ["unknown field \"x\""]);
        assert!(FieldValidation::Ignore.apply(&["x".into()]).unwrap().is_empty());
    }
}
