//! GET of one object and of collections: selectors, pagination and Table output.

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
    match Format::negotiate(headers)? {
        Format::Json => Ok(json_response(StatusCode::OK, &object, &[])),
        Format::Metadata => Ok(json_response(StatusCode::OK, &super::partial_metadata(&object), &[])),
        Format::Table => {
            let include = IncludeObject::parse(query.get("includeObject")).map_err(ApiError::bad_request)?;
            let mut table = table::render(&target.rt.printer, &[&object], server.now(), include, true);
            table["metadata"] = json!({"resourceVersion": crate::meta::str_field(&object, "resourceVersion").unwrap_or_default()});
            Ok(json_response(StatusCode::OK, &table, &[]))
        }
    }
}

/// Objects are stored with the apiVersion they were written with; serve them as the requested
/// version (all versions of a kind share one schema here).
pub(crate) fn with_type_meta(rt: &ResourceType, object: &Value) -> Value {
    let mut object = object.clone();
    if let Value::Object(map) = &mut object {
        map.insert("apiVersion".into(), Value::String(rt.api_version()));
        map.insert("kind".into(), Value::String(rt.kind.clone()));
    }
    object
}

/// A pagination position: the (namespace, name) of the last item served.
fn encode_continue(namespace: &str, name: &str) -> String {
    let raw = format!("{namespace}/{name}");
    raw.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_continue(token: &str) -> ApiResult<(String, String)> {
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
    let (namespace, name) = text.split_once('/').ok_or_else(bad)?;
    Ok((namespace.to_owned(), name.to_owned()))
}

/// GET a collection.
///
/// Pages (`limit`/`continue`) are cut from the current state in key order; a page after a write
/// reflects that write (upstream serves later pages from the first page's snapshot while it is
/// in the history; clients cannot tell the difference except under concurrent writes).
pub fn list(server: &ApiServer, target: &Target, query: &Query, headers: &HeaderMap) -> ApiResult<Response> {
    let format = Format::negotiate(headers)?;
    let filter = Filter::from_query(&target.rt, query)?;
    let limit = query.int("limit").map_err(ApiError::bad_request)?.filter(|l| *l > 0);
    let start = query.get("continue").map(decode_continue).transpose()?;
    let snapshot = server.store().list(&target.rt.storage_resource(), target.namespace.as_deref());
    let mut items: Vec<&Arc<Value>> = snapshot
        .items
        .iter()
        .filter(|o| match &start {
            Some((ns, name)) => {
                (crate::meta::namespace(o), crate::meta::name(o)) > (ns.as_str(), name.as_str())
            }
            None => true,
        })
        .filter(|o| filter.matches(o))
        .collect();
    let mut list_meta = json!({"resourceVersion": snapshot.revision.to_string()});
    if let Some(limit) = limit.and_then(|l| usize::try_from(l).ok())
        && items.len() > limit
    {
        let remaining = items.len() - limit;
        items.truncate(limit);
        if let Some(last) = items.last() {
            list_meta["continue"] =
                json!(encode_continue(crate::meta::namespace(last), crate::meta::name(last)));
            list_meta["remainingItemCount"] = json!(remaining);
        }
    }
    let objects: Vec<Value> = items.iter().map(|o| with_type_meta(&target.rt, o)).collect();
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
        let token = encode_continue("default", "pod-7");
        assert_eq!(decode_continue(&token).unwrap(), ("default".to_owned(), "pod-7".to_owned()));
        assert!(decode_continue("zz").is_err());
        assert!(decode_continue("abc").is_err());
    }
}
