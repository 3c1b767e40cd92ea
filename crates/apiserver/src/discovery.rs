//! Discovery: `/version`, `/api`, `/apis`, the per-group-version resource lists kubectl builds
//! its REST mapping from, health endpoints, and the OpenAPI documents.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::handlers::json_response;
use crate::openapi::Endpoint;
use crate::registry::ResourceType;
use crate::server::ApiServer;

/// The Kubernetes minor version whose API (and kubectl) everynode follows.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "37");

/// `GET /version`.
pub async fn version() -> Response {
    let (major, minor) = KUBERNETES_VERSION;
    let body = json!({
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "gitVersion": format!("v{major}.{minor}.0+everynode-{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "rust",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    });
    json_response(StatusCode::OK, &body, &[])
}

/// `GET /healthz`, `/livez`, `/readyz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /api`.
pub async fn api_versions() -> Response {
    let body = json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    });
    json_response(StatusCode::OK, &body, &[])
}

/// The served versions of each non-core group, in registration order.
fn groups(server: &ApiServer) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rt in server.registry().all() {
        if rt.group.is_empty() {
            continue;
        }
        let versions = groups.entry(rt.group.clone()).or_default();
        if !versions.contains(&rt.version) {
            versions.push(rt.version.clone());
        }
    }
    groups
}

fn group_object(group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({
        "name": group,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `GET /apis`.
pub async fn api_groups(State(server): State<ApiServer>) -> Response {
    let groups: Vec<Value> = groups(&server).iter().map(|(g, vs)| group_object(g, vs)).collect();
    json_response(StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}), &[])
}

/// `GET /apis/<group>`.
pub async fn api_group(State(server): State<ApiServer>, Path(group): Path<String>) -> Response {
    match groups(&server).get(&group) {
        Some(versions) => {
            let mut body = group_object(&group, versions);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            json_response(StatusCode::OK, &body, &[])
        }
        None => ApiError::no_route(&format!("/apis/{group}")).into_response(),
    }
}

fn resource_entries(rt: &ResourceType) -> Vec<Value> {
    let mut main = json!({
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": rt.verbs(),
    });
    if !rt.short_names.is_empty() {
        main["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        main["categories"] = json!(rt.categories);
    }
    let mut entries = vec![main];
    if rt.status_subresource {
        entries.push(json!({"name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get", "patch", "update"]}));
    }
    if rt.binding_subresource {
        entries.push(json!({"name": format!("{}/binding", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": "Binding", "verbs": ["create"]}));
    }
    entries
}

fn resource_list(server: &ApiServer, group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = server
        .registry()
        .all()
        .iter()
        .filter(|rt| rt.group == group && rt.version == version)
        .flat_map(|rt| resource_entries(rt))
        .collect();
    if resources.is_empty() {
        return None;
    }
    let group_version = if group.is_empty() { version.to_owned() } else { format!("{group}/{version}") };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
    )
}

/// `GET /api/v1`.
pub async fn core_resources(State(server): State<ApiServer>) -> Response {
    match resource_list(&server, "", "v1") {
        Some(list) => json_response(StatusCode::OK, &list, &[]),
        None => ApiError::no_route("/api/v1").into_response(),
    }
}

/// `GET /apis/<group>/<version>`.
pub async fn group_resources(
    State(server): State<ApiServer>,
    Path((group, version)): Path<(String, String)>,
) -> Response {
    match resource_list(&server, &group, &version) {
        Some(list) => json_response(StatusCode::OK, &list, &[]),
        None => ApiError::no_route(&format!("/apis/{group}/{version}")).into_response(),
    }
}

fn endpoints(server: &ApiServer) -> Vec<Endpoint> {
    server
        .registry()
        .all()
        .iter()
        .map(|rt| {
            let mut subresources = Vec::new();
            if rt.status_subresource {
                subresources.push("status".to_owned());
            }
            if rt.binding_subresource {
                subresources.push("binding".to_owned());
            }
            Endpoint {
                group: rt.group.clone(),
                version: rt.version.clone(),
                kind: rt.kind.clone(),
                plural: rt.plural.clone(),
                namespaced: rt.namespaced,
                subresources,
                custom_schema: rt.crd.as_ref().map(|_| {
                    rt.schema.clone().unwrap_or_else(
                        || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                    )
                }),
            }
        })
        .collect()
}

/// `GET /openapi/v3`.
pub async fn openapi_index(State(server): State<ApiServer>) -> Response {
    let index = server.inner.openapi.index(&endpoints(&server));
    json_response(StatusCode::OK, &index, &[])
}

/// `GET /openapi/v3/<api/v1 | apis/group/version>`.
pub async fn openapi_document(State(server): State<ApiServer>, Path(path): Path<String>) -> Response {
    match server.inner.openapi.document(path.trim_matches('/'), &endpoints(&server)) {
        // Served from the bytes cached with the document: they are up to 400 KB.
        Some(document) => (
            StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            document.json().to_vec(),
        )
            .into_response(),
        None => ApiError::no_route(&format!("/openapi/v3/{path}")).into_response(),
    }
}

/// `GET /openapi/v2`: an empty document. kubectl uses v3 for everything it can map; it only
/// falls back to v2 (as protobuf) to validate kinds the server does not serve, and then reports
/// upstream's "resource mapping not found" instead of failing to download the document. An empty
/// protobuf message is zero bytes.
pub async fn openapi_v2() -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")],
        Vec::<u8>::new(),
    )
        .into_response()
}
