//! Protobuf request bodies as kubectl 1.37 sends them (captured with `kubectl -v=9`; see
//! fixtures/protobuf/README.md): each decodes to exactly the JSON kubectl prints for the same
//! object with `--dry-run=client -o json`, and creates that object through the router.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use everynode_apiserver::ApiServer;
use everynode_apiserver::protobuf::{MEDIA_TYPE, decode_object};
use everynode_store::{Store, StoreOptions};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A captured kubectl request and where kubectl sent it.
struct Capture {
    /// The fixture's file stem.
    name: &'static str,
    /// The collection kubectl POSTed to.
    path: &'static str,
}

/// In creation order: the namespace first, since the others live in it.
const CAPTURES: &[Capture] = &[
    Capture { name: "namespace", path: "/api/v1/namespaces" },
    Capture { name: "configmap", path: "/api/v1/namespaces/scratch/configmaps" },
    Capture { name: "configmap-binary", path: "/api/v1/namespaces/scratch/configmaps" },
    Capture { name: "configmap-save-config", path: "/api/v1/namespaces/scratch/configmaps" },
    Capture { name: "secret-generic", path: "/api/v1/namespaces/scratch/secrets" },
    Capture { name: "secret-docker-registry", path: "/api/v1/namespaces/scratch/secrets" },
    Capture { name: "serviceaccount", path: "/api/v1/namespaces/scratch/serviceaccounts" },
];

fn fixture(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/protobuf").join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn expected_json(capture: &Capture) -> Value {
    serde_json::from_slice(&fixture(&format!("{}.json", capture.name))).unwrap()
}

async fn post(server: &ApiServer, path: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{path}?fieldManager=kubectl-create&fieldValidation=Strict"))
        .header(header::CONTENT_TYPE, content_type)
        .header(header::ACCEPT, "application/vnd.kubernetes.protobuf,application/json")
        .body(Body::from(body))
        .unwrap();
    let response = server.router().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn server() -> ApiServer {
    ApiServer::new(Store::open_in_memory(StoreOptions::default()).unwrap()).await.unwrap()
}

#[test]
fn kubectl_protobuf_bodies_decode_to_the_json_kubectl_would_send() {
    for capture in CAPTURES {
        let decoded = decode_object(&fixture(&format!("{}.bin", capture.name)))
            .unwrap_or_else(|e| panic!("{}: {e}", capture.name));
        assert_eq!(decoded, expected_json(capture), "{}", capture.name);
    }
}

#[tokio::test]
async fn kubectl_create_bodies_in_protobuf_create_the_objects() {
    let server = server().await;
    for capture in CAPTURES {
        let (status, created) =
            post(&server, capture.path, MEDIA_TYPE, fixture(&format!("{}.bin", capture.name))).await;
        assert_eq!(status, StatusCode::CREATED, "{}: {created}", capture.name);
        let want = expected_json(capture);
        assert_eq!(created["kind"], want["kind"], "{}", capture.name);
        assert_eq!(created["metadata"]["name"], want["metadata"]["name"], "{}", capture.name);
        for field in ["data", "binaryData", "type", "metadata.annotations"] {
            let pointer = format!("/{}", field.replace('.', "/"));
            if let Some(wanted) = want.pointer(&pointer) {
                assert_eq!(created.pointer(&pointer), Some(wanted), "{}: {field}", capture.name);
            }
        }
        assert!(created["metadata"]["uid"].is_string(), "{}: {created}", capture.name);
    }
}

#[tokio::test]
async fn a_protobuf_body_of_a_kind_without_a_table_is_415_naming_the_kind() {
    let server = server().await;
    // runtime.Unknown{typeMeta: {apiVersion: apps/v1, kind: DaemonSet}}.
    let body = b"k8s\x00\n\x14\n\x07apps/v1\x12\x09DaemonSet".to_vec();
    let (status, reply) =
        post(&server, "/apis/apps/v1/namespaces/default/daemonsets", MEDIA_TYPE, body).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{reply}");
    assert_eq!(reply["reason"], "UnsupportedMediaType");
    let message = reply["message"].as_str().unwrap();
    assert!(message.contains("not apps/v1 DaemonSet"), "{message}");
    assert!(message.contains("--dry-run=client -o yaml | kubectl apply -f -"), "{message}");
}

#[tokio::test]
async fn a_malformed_protobuf_body_is_400_saying_where() {
    let server = server().await;
    let mut body = fixture("configmap.bin");
    // Cut inside the ConfigMap's data.
    body.truncate(body.len() - 12);
    let (status, reply) = post(&server, "/api/v1/namespaces/default/configmaps", MEDIA_TYPE, body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{reply}");
    assert_eq!(
        reply["message"], "couldn't decode the protobuf body: Unknown.raw: unexpected end of input",
        "{reply}"
    );
}
