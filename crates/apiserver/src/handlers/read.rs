//! GET of one object and of collections: selectors, pagination and Table output.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use everynode_api::fields::FieldSelector;
use everynode_api::labels::Selector;
use serde_json::{Value, json};

use super::{Format, Target, json_response};
use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceType;
use crate::request::Query;
use crate::server::ApiServer;
use crate::table::{self, IncludeObject};

/// Label and field selectors of a list, watch or deletecollection.
#[derive(Debug, Clone)]
pub struct Filter {
    labels: Selector,
    fields: FieldSelector,
    rt: Arc<ResourceType>,
}

impl Filter {
    /// Parses `labelSelector` and `fieldSelector`, rejecting field labels the kind lacks.
    pub fn from_query(rt: &Arc<ResourceType>, query: &Query) -> ApiResult<Filter> {
        let labels = Selector::parse(query.get("labelSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let fields = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default())
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mut supported = vec!["metadata.name"];
        if rt.namespaced {
            supported.push("metadata.namespace");
        }
        supported.extend_from_slice(rt.strategy.field_labels());
        fields.check_supported(&supported).map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok(Filter { labels, fields, rt: Arc::clone(rt) })
    }

    /// Whether the object passes both selectors.
    pub fn matches(&self, object: &Value) -> bool {
        if !self.labels.is_everything() && !self.labels.matches(&crate::meta::labels(object)) {
            return false;
        }
        if self.fields.is_empty() {
            return true;
        }
        self.fields.matches(|label| match label {
            "metadata.name" => Some(crate::meta::name(object).to_owned()),
            "metadata.namespace" => Some(crate::meta::namespace(object).to_owned()),
            other => self.rt.strategy.field_value(object, other),
        })
    }
}

/// GET one object.
pub fn get(server: &ApiServer, target: &Target, query: &Query, headers: &HeaderMap) -> ApiResult<Response> {
    let name = target.name.as_deref().unwrap_or_default();
    let object = server
        .store()
        .get(&target.key(name))
        .map_err(|e| ApiError::from_store(e, &target.rt.group, &target.rt.plural))?;
    let object = with_type_meta(&target.rt, &object);
    let object: &Value = &object;
    match Format::negotiate(headers)? {
        Format::Json => Ok(json_response(StatusCode::OK, object, &[])),
        Format::Metadata => Ok(json_response(StatusCode::OK, &super::partial_metadata(object), &[])),
        Format::Table => {
            let include = IncludeObject::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
            let mut table = table::render(&target.rt.printer, &[object], server.now(), include, true);
            table["metadata"] = json!({"resourceVersion": crate::meta::str_field(object, "resourceVersion").unwrap_or_default()});
            Ok(json_response(StatusCode::OK, &table, &[]))
        }
    }
}

/// Objects are stored with the apiVersion they were written with; serve them as the requested
/// version (all versions of a kind share one schema here).
///
/// Borrowed when the object already says the requested apiVersion and kind, as objects written
/// through this version do: a deep copy of a pod per response was 4% of the CPU of
/// `everynode bench rollout --nodes 10000`.
pub(crate) fn with_type_meta<'a>(rt: &ResourceType, object: &'a Value) -> Cow<'a, Value> {
    if has_type_meta(rt, object) {
        return Cow::Borrowed(object);
    }
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".into(), Value::String(rt.api_version()));
        map.insert("kind".into(), Value::String(rt.kind.clone()));
    }
    Cow::Owned(object)
}

/// [`with_type_meta`] for a stored object: the same object when it needs no change.
pub(crate) fn typed(rt: &ResourceType, object: Arc<Value>) -> Arc<Value> {
    match with_type_meta(rt, &object) {
        Cow::Borrowed(_) => object,
        Cow::Owned(typed) => Arc::new(typed),
    }
}

/// Whether `object` already says the apiVersion and kind `rt` serves.
pub(crate) fn has_type_meta(rt: &ResourceType, object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some(rt.kind.as_str())
        && object.get("apiVersion").and_then(Value::as_str).is_some_and(|v| match v.split_once('/') {
            Some((group, version)) => group == rt.group && version == rt.version,
            None => rt.group.is_empty() && v == rt.version,
        })
}

/// A pagination position: the revision of the first page and the (namespace, name) of the last
/// item served.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Continue {
    revision: everynode_store::Revision,
    namespace: String,
    name: String,
}

fn encode_continue(position: &Continue) -> String {
    let raw = format!("{}/{}/{}", position.revision, position.namespace, position.name);
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> ApiResult<Continue> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    if !token.len().is_multiple_of(2) {
        return Err(bad());
    }
    let bytes: Result<Vec<u8>, _> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2).unwrap_or("zz"), 16))
        .collect();
    let text = String::from_utf8(bytes.map_err(|_| bad())?).map_err(|_| bad())?;
    let mut parts = text.splitn(3, '/');
    let (Some(revision), Some(namespace), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    Ok(Continue {
        revision: revision.parse().map_err(|_| bad())?,
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    })
}

/// GET a collection.
///
/// Pages (`limit`/`continue`) are cut from the current state in key order, and every page reports
/// the first page's revision as the list's `resourceVersion`. A client that watches from there
/// (as every reflector does) replays each write made while it paged, so an object created
/// between two pages behind the page boundary still reaches it; without that it would be in
/// neither the list nor the watch. Upstream serves later pages from the first page's snapshot;
/// the client ends in the same state either way. Once that revision has left the watch history,
/// the token has expired (410), as upstream's does after compaction, and the client re-lists.
pub fn list(server: &ApiServer, target: &Target, query: &Query, headers: &HeaderMap) -> ApiResult<Response> {
    let format = Format::negotiate(headers)?;
    let filter = Filter::from_query(&target.rt, query)?;
    let limit = query.int("limit").map_err(ApiError::bad_request)?.filter(|l| *l > 0);
    let start = query.get("continue").map(decode_continue).transpose()?;
    if let Some(start) = &start
        && start.revision < server.store().oldest_revision()
    {
        return Err(ApiError::gone(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ));
    }
    let snapshot = server.store().list(&target.rt.storage_resource(), target.namespace.as_deref());
    let list_revision = start.as_ref().map_or(snapshot.revision, |s| s.revision);
    let mut items: Vec<&Arc<Value>> = snapshot
        .items
        .iter()
        .filter(|o| match &start {
            Some(start) => {
                (crate::meta::namespace(o), crate::meta::name(o))
                    > (start.namespace.as_str(), start.name.as_str())
            }
            None => true,
        })
        .filter(|o| filter.matches(o))
        .collect();
    let mut list_meta = json!({"resourceVersion": list_revision.to_string()});
    if let Some(limit) = limit.and_then(|l| usize::try_from(l).ok())
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            let position = Continue {
                revision: list_revision,
                namespace: crate::meta::namespace(last).to_owned(),
                name: crate::meta::name(last).to_owned(),
            };
            list_meta["continue"] = json!(encode_continue(&position));
            list_meta["remainingItemCount"] = json!(remaining);
        }
    }
    let objects: Vec<Value> = items.iter().map(|o| with_type_meta(&target.rt, o).into_owned()).collect();
    match format {
        Format::Json => {
            let list = json!({
                "kind": target.rt.list_kind(),
                "apiVersion": target.rt.api_version(),
                "metadata": list_meta,
                "items": objects,
            });
            Ok(json_response(StatusCode::OK, &list, &[]))
        }
        Format::Metadata => {
            let items: Vec<Value> = objects.iter().map(super::partial_metadata).collect();
            let list = json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": list_meta,
                "items": items,
            });
            Ok(json_response(StatusCode::OK, &list, &[]))
        }
        Format::Table => {
            let include = IncludeObject::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
            let refs: Vec<&Value> = objects.iter().collect();
            let mut table = table::render(&target.rt.printer, &refs, server.now(), include, true);
            table["metadata"] = list_meta;
            Ok(json_response(StatusCode::OK, &table, &[]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let position = Continue {
            revision: everynode_store::Revision::new(42),
            namespace: "default".into(),
            name: "pod-7".into(),
        };
        assert_eq!(decode_continue(&encode_continue(&position)).unwrap(), position);
        assert!(decode_continue("zz").is_err());
        assert!(decode_continue("abc").is_err());
    }
}
