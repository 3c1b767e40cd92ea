//! The approval API against the in-process API server: authentication first, then listing,
//! approving and rejecting UpdateRequests, and the refusals that keep decisions honest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};
use everynode_updater::api::{self, ApiState, Tokens};
use everynode_updater::request::{
    CRD_YAML, Phase, TargetRef, UpdateRequest, UpdateRequestSpec, UpdateRequestStatus,
};
use http_body_util::BodyExt;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tower::ServiceExt;

const ALICE: &str = "alice-s3cret-token";
const BOB: &str = "bob-s3cret-token";
const NS: &str = "monitoring";

struct Harness {
    client: Client,
    router: Router,
    _server: ApiServer,
}

async fn harness_with(tokens: Tokens) -> Harness {
    let store = Store::open_in_memory(StoreOptions::default()).unwrap();
    let server = ApiServer::new(store).await.unwrap();
    server.spawn_background();
    let client = Client::new(server.router(), "default");
    install_crd(&client).await;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": NS}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &namespace).await.unwrap();
    let state = ApiState { client: client.clone(), tokens: Arc::new(tokens) };
    Harness { client, router: api::router(state), _server: server }
}

async fn harness() -> Harness {
    harness_with(
        Tokens::parse(&format!("{ALICE},alice@example.com,1001,\"approvers\"\n{BOB},bob\n")).unwrap(),
    )
    .await
}

/// Creates the CRD as shipped and waits until its resource is served.
async fn install_crd(client: &Client) {
    let crd: CustomResourceDefinition = serde_yaml_ng::from_str(CRD_YAML).unwrap();
    Api::<CustomResourceDefinition>::all(client.clone()).create(&PostParams::default(), &crd).await.unwrap();
    let requests: Api<UpdateRequest> = Api::all(client.clone());
    for _ in 0..200 {
        if requests.list(&Default::default()).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the UpdateRequest CRD was never served");
}

/// An UpdateRequest for node-exporter, expiring at `expires_at`, in `phase` (`None`: no status).
async fn create_request(client: &Client, name: &str, expires_at: &str, phase: Option<Phase>) {
    let request = UpdateRequest::new(
        name,
        UpdateRequestSpec {
            target_ref: TargetRef {
                api_version: Some("apps/v1".into()),
                kind: "DaemonSet".into(),
                name: "node-exporter".into(),
                namespace: Some(NS.into()),
            },
            container_name: "node-exporter".into(),
            current_image: Some("prom/node-exporter:v1.5.0".into()),
            new_image: "prom/node-exporter:v1.6.0".into(),
            policy: Some("minor".into()),
            reason: Some("minor update v1.5.0 -> v1.6.0 found by polling".into()),
            require_approval: Some(true),
            expires_at: Some(expires_at.into()),
        },
    );
    let api: Api<UpdateRequest> = Api::namespaced(client.clone(), NS);
    api.create(&PostParams::default(), &request).await.unwrap();
    if let Some(phase) = phase {
        let status = UpdateRequestStatus { phase: Some(phase), ..Default::default() };
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
            .await
            .unwrap();
    }
}

fn tomorrow() -> String {
    (Timestamp::now() + jiff::SignedDuration::from_hours(24)).to_string()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

async fn call(router: &Router, method: Method, path: &str, token: Option<&str>, body: &str) -> Answer {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from(Bytes::from(body.to_owned()))).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer { status, headers, body }
}

async fn get(router: &Router, path: &str) -> Answer {
    call(router, Method::GET, path, Some(ALICE), "").await
}

async fn post(router: &Router, path: &str, token: &str, body: &str) -> Answer {
    call(router, Method::POST, path, Some(token), body).await
}

async fn stored(client: &Client, name: &str) -> UpdateRequest {
    Api::<UpdateRequest>::namespaced(client.clone(), NS).get(name).await.unwrap()
}

#[tokio::test]
async fn requests_without_a_valid_bearer_token_are_refused_with_a_challenge() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    for (case, token) in [("no token", None), ("bad token", Some("guess")), ("prefix", Some("alice-s3cret"))]
    {
        for path in ["/api/v1/updaterequests", "/api/v1/updaterequests/monitoring/r", "/nowhere"] {
            let answer = call(&h.router, Method::GET, path, token, "").await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{case} {path}");
            assert_eq!(answer.headers[header::WWW_AUTHENTICATE], "Bearer realm=\"everynode\"", "{case}");
            assert_eq!(answer.body["reason"], "Unauthorized", "{case}");
        }
        let approve =
            call(&h.router, Method::POST, "/api/v1/updaterequests/monitoring/r/approve", token, "").await;
        assert_eq!(approve.status, StatusCode::UNAUTHORIZED, "{case}");
    }
    assert_eq!(stored(&h.client, "r").await.phase(), Phase::Pending, "nothing was approved");
}

#[tokio::test]
async fn without_configured_tokens_every_request_is_refused() {
    let h = harness_with(Tokens::default()).await;
    for token in [None, Some(""), Some(ALICE)] {
        let answer = call(&h.router, Method::GET, "/api/v1/updaterequests", token, "").await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert!(
            answer.body["message"].as_str().unwrap().contains("no approval API tokens"),
            "{:?}",
            answer.body
        );
    }
}

#[tokio::test]
async fn list_shows_what_a_person_needs_to_decide() {
    let h = harness().await;
    let expires = tomorrow();
    create_request(&h.client, "node-exporter-update-v1-6-0", &expires, None).await;
    create_request(&h.client, "node-exporter-update-v1-5-1", &expires, Some(Phase::Rejected)).await;
    let all = get(&h.router, "/api/v1/updaterequests").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let first = &items[0];
    assert_eq!(first["name"], "node-exporter-update-v1-5-1", "sorted by name");
    assert_eq!(first["phase"], "Rejected");
    let pending = &items[1];
    assert_eq!(pending["namespace"], NS);
    assert_eq!(pending["target"], json!({"kind": "DaemonSet", "namespace": NS, "name": "node-exporter"}));
    assert_eq!(pending["container"], "node-exporter");
    assert_eq!(pending["currentImage"], "prom/node-exporter:v1.5.0");
    assert_eq!(pending["newImage"], "prom/node-exporter:v1.6.0");
    assert_eq!(pending["phase"], "Pending");
    assert_eq!(pending["reason"], "minor update v1.5.0 -> v1.6.0 found by polling");
    assert_eq!(pending["expiresAt"], expires.as_str());
    let elsewhere = get(&h.router, "/api/v1/updaterequests?namespace=default").await;
    assert_eq!(elsewhere.body["items"], json!([]));
    let here = get(&h.router, "/api/v1/updaterequests?namespace=monitoring").await;
    assert_eq!(here.body["items"].as_array().unwrap().len(), 2);
    let one = get(&h.router, "/api/v1/updaterequests/monitoring/node-exporter-update-v1-6-0").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body, *pending);
}

#[tokio::test]
async fn approving_records_the_token_identity_and_the_time() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    let before = Timestamp::now().as_second();
    let answer = post(&h.router, "/api/v1/updaterequests/monitoring/r/approve", ALICE, "").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.body["phase"], "Approved");
    assert_eq!(answer.body["approvedBy"], "alice@example.com");
    let status = stored(&h.client, "r").await.status.unwrap();
    assert_eq!(status.phase, Some(Phase::Approved));
    assert_eq!(status.approved_by.as_deref(), Some("alice@example.com"));
    let at: Timestamp = status.approved_at.as_deref().unwrap().parse().unwrap();
    assert!((before..=Timestamp::now().as_second()).contains(&at.as_second()), "{at}");
    assert_eq!(status.last_updated, status.approved_at);
    assert_eq!(status.message.as_deref(), Some("approved by alice@example.com"));
    assert_eq!(status.rejected_by, None);
}

#[tokio::test]
async fn rejecting_records_the_reason() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), Some(Phase::Pending)).await;
    let body = r#"{"reason": "v1.6.0 breaks our textfile collector"}"#;
    let answer = post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", BOB, body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let status = stored(&h.client, "r").await.status.unwrap();
    assert_eq!(status.phase, Some(Phase::Rejected));
    assert_eq!(status.rejected_by.as_deref(), Some("bob"));
    assert!(status.rejected_at.is_some());
    assert_eq!(status.message.as_deref(), Some("v1.6.0 breaks our textfile collector"));
    assert_eq!(status.approved_by, None);
}

#[tokio::test]
async fn approving_a_rejected_request_is_a_conflict() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    assert_eq!(
        post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", BOB, "").await.status,
        StatusCode::OK
    );
    let answer = post(&h.router, "/api/v1/updaterequests/monitoring/r/approve", ALICE, "").await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(answer.body["reason"], "Conflict");
    assert_eq!(
        answer.body["message"],
        "updaterequest monitoring/r is Rejected; only Pending requests can be approved"
    );
    let status = stored(&h.client, "r").await.status.unwrap();
    assert_eq!((status.phase, status.rejected_by.as_deref()), (Some(Phase::Rejected), Some("bob")));
}

#[tokio::test]
async fn an_expired_request_is_a_conflict_and_becomes_expired() {
    let h = harness().await;
    create_request(&h.client, "r", "2020-01-01T00:00:00Z", None).await;
    let answer = post(&h.router, "/api/v1/updaterequests/monitoring/r/approve", ALICE, "").await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert_eq!(
        answer.body["message"],
        "updaterequest monitoring/r expired at 2020-01-01T00:00:00Z; it can no longer be approved"
    );
    let status = stored(&h.client, "r").await.status.unwrap();
    assert_eq!(status.phase, Some(Phase::Expired));
    assert_eq!(status.approved_by, None);
    let again = post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", ALICE, "").await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.body["message"],
        "updaterequest monitoring/r is Expired; only Pending requests can be rejected"
    );
}

#[tokio::test]
async fn unknown_requests_are_not_found() {
    let h = harness().await;
    let show = get(&h.router, "/api/v1/updaterequests/monitoring/nope").await;
    assert_eq!(show.status, StatusCode::NOT_FOUND);
    assert_eq!(show.body["reason"], "NotFound");
    let approve = post(&h.router, "/api/v1/updaterequests/monitoring/nope/approve", ALICE, "").await;
    assert_eq!(approve.status, StatusCode::NOT_FOUND);
    assert_eq!(approve.body["message"], "updaterequest monitoring/nope not found");
    assert_eq!(get(&h.router, "/api/v1/nowhere").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn malformed_bodies_are_refused_before_anything_is_written() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    let typo =
        post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", BOB, r#"{"comment": "x"}"#).await;
    assert_eq!(typo.status, StatusCode::BAD_REQUEST);
    let huge = format!(r#"{{"reason": "{}"}}"#, "x".repeat(api::MAX_BODY_BYTES));
    let too_large = post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", BOB, &huge).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&h.client, "r").await.phase(), Phase::Pending);
}

/// The README's kubectl way of approving, `kubectl patch updaterequest NAME -n NS
/// --subresource=status --type=merge -p '{"status": {...}}'`, sends this same merge patch.
#[tokio::test]
async fn approving_with_a_kubectl_merge_patch_of_the_status_works_too() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    let patch = json!({"status": {
        "phase": "Approved", "approvedBy": "me@example.com", "approvedAt": "2025-11-06T10:30:00Z"
    }});
    Api::<UpdateRequest>::namespaced(h.client.clone(), NS)
        .patch_status("r", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let shown = get(&h.router, "/api/v1/updaterequests/monitoring/r").await;
    assert_eq!(shown.body["phase"], "Approved");
    assert_eq!(shown.body["approvedBy"], "me@example.com");
    assert_eq!(shown.body["approvedAt"], "2025-11-06T10:30:00Z");
}

#[tokio::test]
async fn of_an_approval_and_a_rejection_racing_exactly_one_wins() {
    let h = harness().await;
    create_request(&h.client, "r", &tomorrow(), None).await;
    let (approve, reject) = tokio::join!(
        post(&h.router, "/api/v1/updaterequests/monitoring/r/approve", ALICE, ""),
        post(&h.router, "/api/v1/updaterequests/monitoring/r/reject", BOB, ""),
    );
    let mut statuses = [approve.status, reject.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT], "{:?} {:?}", approve.body, reject.body);
    let phase = stored(&h.client, "r").await.phase();
    let winner = if approve.status == StatusCode::OK { Phase::Approved } else { Phase::Rejected };
    assert_eq!(phase, winner);
}
