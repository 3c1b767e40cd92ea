//! The generic REST handlers: one entry point resolves the path against the registry and
//! dispatches by method; each verb lives in its own module.

pub mod delete;
pub mod read;
pub mod watch;
pub mod write;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};
use crate::registry::ResourceType;
use crate::request::{Query, ResourcePath};
use crate::server::{ApiServer, MAX_BODY_BYTES};

/// A resolved resource request.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource.
    pub rt: Arc<ResourceType>,
    /// The namespace for namespaced resources (None: all namespaces, for lists and watches).
    pub namespace: Option<String>,
    /// The object name.
    pub name: Option<String>,
    /// The subresource.
    pub subresource: Option<String>,
}

impl Target {
    /// The store key of the named object.
    pub fn key(&self, name: &str) -> everynode_store::ObjectKey {
        match (&self.namespace, self.rt.namespaced) {
            (Some(ns), true) => everynode_store::ObjectKey::namespaced(self.rt.storage_resource(), ns, name),
            _ => everynode_store::ObjectKey::cluster(self.rt.storage_resource(), name),
        }
    }
}

/// How the client wants objects rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain JSON objects.
    Json,
    /// `meta.k8s.io/v1` Tables.
    Table,
    /// `meta.k8s.io/v1` PartialObjectMetadata (kube-rs metadata watchers).
    Metadata,
}

impl Format {
    /// Reads the Accept header: a Table if it is offered first among what we serve, JSON for
    /// JSON, YAML-less wildcards and protobuf-with-JSON-fallback; 406 for protobuf only.
    pub fn negotiate(headers: &HeaderMap) -> ApiResult<Format> {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return Ok(Format::Json);
        };
        for part in accept.split(',') {
            let part = part.trim();
            let media = part.split(';').next().unwrap_or_default().trim();
            match media {
                "application/json" if part.contains("as=Table") => return Ok(Format::Table),
                "application/json" if part.contains("as=PartialObjectMetadata") => {
                    return Ok(Format::Metadata);
                }
                "application/json" | "*/*" | "application/*" | "application/yaml" | "" => {
                    // `as=PartialObjectMetadata` and other conversions are not served; JSON it is.
                    if part.contains("as=") && !part.contains("as=Table") {
                        continue;
                    }
                    return Ok(Format::Json);
                }
                _ => continue,
            }
        }
        Err(ApiError::not_acceptable(accept))
    }
}

/// The fallback handler for every `/api/...` and `/apis/...` resource path.
pub async fn resource(State(server): State<ApiServer>, request: Request) -> Response {
    match dispatch(server, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn dispatch(server: ApiServer, request: Request) -> ApiResult<Response> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let query = Query::parse(parts.uri.query());
    let Some(resource_path) = ResourcePath::parse(&path) else {
        return Err(ApiError::no_route(&path));
    };
    let Some(rt) =
        server.registry().lookup(&resource_path.group, &resource_path.version, &resource_path.resource)
    else {
        return Err(ApiError::no_route(&path));
    };
    if resource_path.namespace.is_some() && !rt.namespaced {
        return Err(ApiError::no_route(&path));
    }
    let subresource_ok = match resource_path.subresource.as_deref() {
        None => true,
        Some("status") => rt.status_subresource,
        Some("binding") => rt.binding_subresource,
        Some("finalize") => rt.plural == "namespaces",
        Some(_) => false,
    };
    if !subresource_ok {
        return Err(ApiError::no_route(&path));
    }
    let target = Target {
        namespace: if rt.namespaced { resource_path.namespace.clone() } else { None },
        rt,
        name: resource_path.name.clone(),
        subresource: resource_path.subresource.clone(),
    };
    let headers = parts.headers;
    let watch = resource_path.watch_prefix || query.flag("watch");
    match (parts.method, target.name.is_some()) {
        (Method::GET, true) if watch => watch::watch(server, target, query, &headers).await,
        (Method::GET, true) => read::get(&server, &target, &query, &headers),
        (Method::GET, false) if watch => watch::watch(server, target, query, &headers).await,
        (Method::GET, false) => read::list(&server, &target, &query, &headers),
        (Method::POST, false) => {
            let body = read_body(body, &headers).await?;
            write::create(&server, &target, &query, body).await
        }
        (Method::POST, true) if target.subresource.as_deref() == Some("binding") => {
            let body = read_body(body, &headers).await?;
            write::bind(&server, &target, &query, body).await
        }
        (Method::PUT, true) => {
            let body = read_body(body, &headers).await?;
            write::update(&server, &target, &query, body).await
        }
        (Method::PATCH, true) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = read_raw_body(body).await?;
            write::patch(&server, &target, &query, &content_type, &body).await
        }
        (Method::DELETE, true) => {
            let body = read_raw_body(body).await?;
            delete::delete(&server, &target, &query, &body).await
        }
        (Method::DELETE, false) => {
            let body = read_raw_body(body).await?;
            delete::delete_collection(&server, &target, &query, &body).await
        }
        (method, _) => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// Reads the body up to [`MAX_BODY_BYTES`].
pub(crate) async fn read_raw_body(body: Body) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| ApiError::too_large(MAX_BODY_BYTES))
}

/// Reads and parses a JSON, YAML or protobuf object body.
async fn read_body(body: Body, headers: &HeaderMap) -> ApiResult<Value> {
    let bytes = read_raw_body(body).await?;
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    parse_body(&bytes, content_type)
}

/// Parses a request body as its content type says.
pub(crate) fn parse_body(bytes: &[u8], content_type: &str) -> ApiResult<Value> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    let value: Value = match media {
        "application/json" | "" | "*/*" => serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml_ng::from_slice(bytes).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?
        }
        crate::protobuf::MEDIA_TYPE => crate::protobuf::decode_object(bytes).map_err(|e| match e {
            crate::protobuf::DecodeError::UnsupportedKind { .. } => {
                ApiError::unsupported_media_type(e.to_string())
            }
            e => ApiError::bad_request(format!("couldn't decode the protobuf body: {e}")),
        })?,
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "the body of the request was in an unknown format ({other}) - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
            )));
        }
    };
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    Ok(value)
}

/// The PartialObjectMetadata of an object.
pub(crate) fn partial_metadata(object: &Value) -> Value {
    serde_json::json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or_else(|| serde_json::json!({})),
    })
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, value: &Value, warnings: &[String]) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = (status, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    for warning in warnings {
        let text = format!("299 - {}", serde_json::Value::String(warning.clone()));
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}
