//! Integration tests against the in-process router (no socket): the API semantics kubectl and
//! client-go rely on, request by request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    server: ApiServer,
    router: Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    async fn new() -> Api {
        Api::with_options(StoreOptions::default()).await
    }

    async fn with_options(options: StoreOptions) -> Api {
        let store = Store::open_in_memory(options).unwrap();
        let server = ApiServer::new(store).await.unwrap();
        Api { router: server.router(), server }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        content_type: &str,
        accept: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if !content_type.is_empty() {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        if !accept.is_empty() {
            request = request.header(header::ACCEPT, accept);
        }
        let response = self.router.clone().oneshot(request.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.call(Method::GET, uri, "", "", Vec::new()).await
    }

    async fn post(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::POST, uri, "application/json", "", body.to_string().into_bytes()).await
    }

    async fn put(&self, uri: &str, body: Value) -> Reply {
        self.call(Method::PUT, uri, "application/json", "", body.to_string().into_bytes()).await
    }

    async fn patch(&self, uri: &str, content_type: &str, body: Value) -> Reply {
        self.call(Method::PATCH, uri, content_type, "", body.to_string().into_bytes()).await
    }

    async fn delete(&self, uri: &str) -> Reply {
        self.call(Method::DELETE, uri, "", "", Vec::new()).await
    }
}

const DS: &str = "/apis/apps/v1/namespaces/default/daemonsets";
const CM: &str = "/api/v1/namespaces/default/configmaps";

fn ds(name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]}}
        }
    })
}

fn cm(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}, "data": {"k": "v"}})
}

#[tokio::test]
async fn system_namespaces_exist_from_the_start() {
    let api = Api::new().await;
    let list = api.get("/api/v1/namespaces").await;
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    assert!(list.body["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap() >= 4);
}

#[tokio::test]
async fn create_fills_server_metadata_and_generate_name() {
    let api = Api::new().await;
    let mut body = ds("x");
    body["metadata"] = json!({"generateName": "fluentd-", "labels": {"app": "x"}});
    let created = api.post(DS, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let meta = &created.body["metadata"];
    let name = meta["name"].as_str().unwrap();
    assert!(name.starts_with("fluentd-") && name.len() == "fluentd-".len() + 5, "{name}");
    assert_eq!(meta["namespace"], "default");
    assert_eq!(meta["generation"], 1);
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created.body["status"]["numberReady"], 0);
}

#[tokio::test]
async fn creating_a_duplicate_is_409_already_exists() {
    let api = Api::new().await;
    assert_eq!(api.post(DS, ds("x")).await.status, StatusCode::CREATED);
    let again = api.post(DS, ds("x")).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.body["reason"], "AlreadyExists");
    assert_eq!(again.body["message"], "daemonsets.apps \"x\" already exists");
}

#[tokio::test]
async fn missing_objects_and_namespaces_are_404() {
    let api = Api::new().await;
    let missing = api.get(&format!("{DS}/nope")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["message"], "daemonsets.apps \"nope\" not found");
    assert_eq!(missing.body["details"]["kind"], "daemonsets");
    let no_ns = api.post("/apis/apps/v1/namespaces/ghost/daemonsets", ds("x")).await;
    assert_eq!(no_ns.status, StatusCode::NOT_FOUND);
    assert_eq!(no_ns.body["message"], "namespaces \"ghost\" not found");
    assert_eq!(api.get("/apis/apps/v1/namespaces/default/widgets").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn invalid_daemonset_is_422_with_field_causes() {
    let api = Api::new().await;
    let mut body = ds("x");
    body["spec"]["template"]["metadata"]["labels"]["app"] = json!("other");
    let reply = api.post(DS, body).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["reason"], "Invalid");
    assert_eq!(
        reply.body["message"],
        "DaemonSet.apps \"x\" is invalid: spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"
    );
    assert_eq!(reply.body["details"]["causes"][0]["field"], "spec.template.metadata.labels");
    assert_eq!(reply.body["details"]["causes"][0]["reason"], "FieldValueInvalid");
}

#[tokio::test]
async fn malformed_bodies_are_400_and_huge_ones_413() {
    let api = Api::new().await;
    let bad = api.call(Method::POST, DS, "application/json", "", b"{not json".to_vec()).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["kind"], "Status");
    let wrong_type = api.post(DS, json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x"}, "spec": {"minReadySeconds": "soon"}})).await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_type.body["message"]
            .as_str()
            .unwrap()
            .starts_with("DaemonSet in version \"v1\" cannot be handled as a DaemonSet")
    );
    let huge = vec![b' '; 4 * 1024 * 1024];
    let too_large = api.call(Method::POST, DS, "application/json", "", huge).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    let protobuf = api.call(Method::POST, DS, "application/vnd.kubernetes.protobuf", "", b"x".to_vec()).await;
    assert_eq!(protobuf.status, StatusCode::BAD_REQUEST);
    let wrong_kind =
        api.post(DS, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})).await;
    assert_eq!(wrong_kind.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn strict_field_validation_rejects_unknown_fields_and_warn_reports_them() {
    let api = Api::new().await;
    let mut body = ds("x");
    body["spec"]["bogus"] = json!(1);
    let strict = api.post(&format!("{DS}?fieldValidation=Strict"), body.clone()).await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        strict.body["message"],
        "DaemonSet in version \"v1\" cannot be handled as a DaemonSet: strict decoding error: unknown field \"spec.bogus\""
    );
    let warn = api.post(&format!("{DS}?fieldValidation=Warn"), body).await;
    assert_eq!(warn.status, StatusCode::CREATED);
    let warning = warn.headers.get(header::WARNING).unwrap().to_str().unwrap();
    assert_eq!(warning, "299 - \"unknown field \\\"spec.bogus\\\"\"");
    assert!(warn.body["spec"].get("bogus").is_none());
}

#[tokio::test]
async fn dry_run_validates_without_persisting() {
    let api = Api::new().await;
    let before = api.server.store().current_revision();
    let created = api.post(&format!("{DS}?dryRun=All"), ds("x")).await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.body["metadata"]["name"], "x");
    assert_eq!(api.get(&format!("{DS}/x")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(api.server.store().current_revision(), before);
}

#[tokio::test]
async fn stale_update_is_409_and_fresh_update_bumps_generation_only_for_spec_changes() {
    let api = Api::new().await;
    let created = api.post(DS, ds("x")).await.body;
    let mut fresh = created.clone();
    fresh["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:1.28");
    let updated = api.put(&format!("{DS}/x"), fresh).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(updated.body["metadata"]["generation"], 2);
    assert_eq!(updated.body["metadata"]["annotations"]["deprecated.daemonset.template.generation"], "2");
    let mut stale = created.clone();
    stale["metadata"]["labels"]["extra"] = json!("1");
    let conflict = api.put(&format!("{DS}/x"), stale).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(conflict.body["reason"], "Conflict");
    assert_eq!(
        conflict.body["message"],
        "Operation cannot be fulfilled on daemonsets.apps \"x\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let mut labels_only = updated.body.clone();
    labels_only["metadata"]["labels"]["extra"] = json!("1");
    let relabeled = api.put(&format!("{DS}/x"), labels_only).await;
    assert_eq!(relabeled.body["metadata"]["generation"], 2);
}

#[tokio::test]
async fn status_changes_only_through_the_status_subresource() {
    let api = Api::new().await;
    let created = api.post(DS, ds("x")).await.body;
    let mut body = created.clone();
    body["status"]["numberReady"] = json!(3);
    body["spec"]["minReadySeconds"] = json!(9);
    let main = api.put(&format!("{DS}/x"), body.clone()).await;
    assert_eq!(main.body["status"]["numberReady"], 0, "status ignored on the main resource");
    assert_eq!(main.body["spec"]["minReadySeconds"], 9);
    let patched = api
        .patch(
            &format!("{DS}/x/status"),
            "application/merge-patch+json",
            json!({"status": {"numberReady": 3}, "spec": {"minReadySeconds": 1}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["status"]["numberReady"], 3);
    assert_eq!(patched.body["spec"]["minReadySeconds"], 9, "spec ignored on /status");
    assert_eq!(patched.body["metadata"]["generation"], 2);
}

#[tokio::test]
async fn patches_of_every_type_apply_and_server_side_apply_is_415() {
    let api = Api::new().await;
    api.post(DS, ds("x")).await;
    let uri = format!("{DS}/x");
    let smp = api
        .patch(&uri, "application/strategic-merge-patch+json", json!({"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "c"}], "containers": [{"name": "c", "image": "nginx:1.29"}]}}}}))
        .await;
    assert_eq!(smp.status, StatusCode::OK, "{}", smp.text);
    assert_eq!(smp.body["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.29");
    let merge =
        api.patch(&uri, "application/merge-patch+json", json!({"metadata": {"labels": {"team": "a"}}})).await;
    assert_eq!(merge.body["metadata"]["labels"]["team"], "a");
    let json_patch = api
        .patch(
            &uri,
            "application/json-patch+json",
            json!([{"op": "add", "path": "/spec/minReadySeconds", "value": 5}]),
        )
        .await;
    assert_eq!(json_patch.body["spec"]["minReadySeconds"], 5);
    let apply = api.call(Method::PATCH, &uri, "application/apply-patch+yaml", "", b"spec: {}".to_vec()).await;
    assert_eq!(apply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(apply.body["message"].as_str().unwrap().contains("server-side apply"));
    let selector = api
        .patch(
            &uri,
            "application/merge-patch+json",
            json!({"spec": {"selector": {"matchLabels": {"app": "y"}}}}),
        )
        .await;
    assert_eq!(selector.status, StatusCode::UNPROCESSABLE_ENTITY, "selector is immutable");
    let missing = api.patch(&format!("{DS}/nope"), "application/merge-patch+json", json!({})).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.body["message"], "daemonsets.apps \"nope\" not found");
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_and_bad_ones_are_400() {
    let api = Api::new().await;
    api.post(CM, cm("a", json!({"tier": "web", "env": "prod"}))).await;
    api.post(CM, cm("b", json!({"tier": "db", "env": "prod"}))).await;
    api.post(CM, cm("c", json!({"tier": "web"}))).await;
    let names = |reply: &Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&api.get(&format!("{CM}?labelSelector=tier%3Dweb")).await), ["a", "c"]);
    assert_eq!(names(&api.get(&format!("{CM}?labelSelector=tier%20in%20(db),env")).await), ["b"]);
    assert_eq!(names(&api.get(&format!("{CM}?labelSelector=!env")).await), ["c"]);
    assert_eq!(names(&api.get(&format!("{CM}?fieldSelector=metadata.name%21%3Da")).await), ["b", "c"]);
    let bad = api.get(&format!("{CM}?labelSelector=tier%20in%20")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unsupported = api.get(&format!("{CM}?fieldSelector=spec.nodeName%3Dx")).await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
    assert!(unsupported.body["message"].as_str().unwrap().contains("spec.nodeName"), "{}", unsupported.text);
}

#[tokio::test]
async fn limit_and_continue_page_through_a_collection() {
    let api = Api::new().await;
    for i in 0..5 {
        api.post(CM, cm(&format!("cm-{i}"), json!({}))).await;
    }
    let first = api.get(&format!("{CM}?limit=2")).await.body;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    let token = first["metadata"]["continue"].as_str().unwrap();
    let second = api.get(&format!("{CM}?limit=2&continue={token}")).await.body;
    assert_eq!(second["items"][0]["metadata"]["name"], "cm-2");
    let token = second["metadata"]["continue"].as_str().unwrap();
    let last = api.get(&format!("{CM}?limit=2&continue={token}")).await.body;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert!(last["metadata"].get("continue").is_none());
    assert_eq!(api.get(&format!("{CM}?continue=zz")).await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tables_are_served_when_kubectl_asks_for_them() {
    let api = Api::new().await;
    api.post(DS, ds("x")).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let table = api.call(Method::GET, &format!("{DS}?limit=500"), "", accept, Vec::new()).await.body;
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        columns[..9],
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers"
        ]
    );
    assert_eq!(table["rows"][0]["cells"][0], "x");
    assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    assert!(table["metadata"]["resourceVersion"].is_string());
    let protobuf_only =
        api.call(Method::GET, DS, "", "application/vnd.kubernetes.protobuf", Vec::new()).await;
    assert_eq!(protobuf_only.status, StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn watch_from_a_revision_streams_later_events_and_ends_at_the_timeout() {
    let api = Api::new().await;
    let created = api.post(CM, cm("a", json!({}))).await.body;
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    api.patch(&format!("{CM}/a"), "application/merge-patch+json", json!({"data": {"k": "w"}})).await;
    api.delete(&format!("{CM}/a")).await;
    let watch = api.get(&format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1")).await;
    let events: Vec<Value> = watch.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["MODIFIED", "DELETED"]);
    assert_eq!(events[0]["object"]["data"]["k"], "w");
    assert_eq!(events[1]["object"]["kind"], "ConfigMap");
}

#[tokio::test]
async fn watch_without_a_revision_starts_with_the_current_objects() {
    let api = Api::new().await;
    api.post(CM, cm("a", json!({"x": "1"}))).await;
    api.post(CM, cm("b", json!({}))).await;
    let watch = api.get(&format!("{CM}?watch=1&timeoutSeconds=1&labelSelector=x")).await;
    let events: Vec<Value> = watch.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["object"]["metadata"]["name"].as_str()),
        (Some("ADDED"), Some("a"))
    );
}

#[tokio::test]
async fn send_initial_events_ends_with_the_initial_events_end_bookmark() {
    let api = Api::new().await;
    api.post(CM, cm("a", json!({}))).await;
    let uri = format!(
        "{CM}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
    );
    let watch = api.get(&uri).await;
    let events: Vec<Value> = watch.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "BOOKMARK"]);
    assert_eq!(events[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(
        events[1]["object"]["metadata"]["resourceVersion"],
        api.server.store().current_revision().to_string()
    );
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_410_gone() {
    let api = Api::with_options(StoreOptions { history_window: 3, ..StoreOptions::default() }).await;
    for i in 0..10 {
        api.post(CM, cm(&format!("c{i}"), json!({}))).await;
    }
    let watch = api.get(&format!("{CM}?watch=true&resourceVersion=1&timeoutSeconds=1")).await;
    assert_eq!(watch.status, StatusCode::OK);
    let event: Value = serde_json::from_str(watch.text.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
}

#[tokio::test]
async fn kube_rs_style_queries_with_empty_pairs_are_accepted() {
    let api = Api::new().await;
    let reply = api.get(&format!("{CM}?&limit=1")).await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let api = Api::new().await;
    let mut body = cm("a", json!({}));
    body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    api.post(CM, body).await;
    let deleted = api.delete(&format!("{CM}/a")).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string(), "{}", deleted.text);
    let still = api.get(&format!("{CM}/a")).await;
    assert_eq!(still.status, StatusCode::OK);
    let cleared = api
        .patch(&format!("{CM}/a"), "application/merge-patch+json", json!({"metadata": {"finalizers": null}}))
        .await;
    assert_eq!(cleared.status, StatusCode::OK, "{}", cleared.text);
    assert_eq!(api.get(&format!("{CM}/a")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_preconditions_guard_against_recreated_objects() {
    let api = Api::new().await;
    api.post(CM, cm("a", json!({}))).await;
    let body =
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "not-it"}}).to_string();
    let reply = api.call(Method::DELETE, &format!("{CM}/a"), "application/json", "", body.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(
        reply.body["message"].as_str().unwrap().contains("Precondition failed: UID in precondition: not-it")
    );
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

fn owned_cm(name: &str, owner: &Value) -> Value {
    let mut body = cm(name, json!({}));
    body["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "apps/v1", "kind": "DaemonSet", "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
        "controller": true, "blockOwnerDeletion": true
    }]);
    body
}

#[tokio::test]
async fn background_deletion_removes_dependents_after_the_owner() {
    let api = Api::new().await;
    let _gc = api.server.spawn_background();
    let owner = api.post(DS, ds("x")).await.body;
    api.post(CM, owned_cm("dep", &owner)).await;
    let reply = api.delete(&format!("{DS}/x")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(api.get(&format!("{DS}/x")).await.status, StatusCode::NOT_FOUND);
    eventually("the dependent to be collected", || async {
        api.get(&format!("{CM}/dep")).await.status == StatusCode::NOT_FOUND
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_owner_references() {
    let api = Api::new().await;
    let _gc = api.server.spawn_background();
    let owner = api.post(DS, ds("x")).await.body;
    api.post(CM, owned_cm("dep", &owner)).await;
    api.delete(&format!("{DS}/x?propagationPolicy=Orphan")).await;
    eventually("the owner to go", || async {
        api.get(&format!("{DS}/x")).await.status == StatusCode::NOT_FOUND
    })
    .await;
    let dep = api.get(&format!("{CM}/dep")).await;
    assert_eq!(dep.status, StatusCode::OK);
    assert!(dep.body["metadata"].get("ownerReferences").is_none(), "{}", dep.text);
}

#[tokio::test]
async fn foreground_deletion_keeps_the_owner_until_dependents_are_gone() {
    let api = Api::new().await;
    let owner = api.post(DS, ds("x")).await.body;
    api.post(CM, owned_cm("dep", &owner)).await;
    let body = json!({"propagationPolicy": "Foreground"}).to_string();
    let reply = api.call(Method::DELETE, &format!("{DS}/x"), "application/json", "", body.into_bytes()).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert_eq!(reply.body["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // Without the collector running, the owner waits.
    assert_eq!(api.get(&format!("{DS}/x")).await.status, StatusCode::OK);
    let _gc = api.server.spawn_background();
    eventually("the owner to go after its dependent", || async {
        api.get(&format!("{DS}/x")).await.status == StatusCode::NOT_FOUND
    })
    .await;
    assert_eq!(api.get(&format!("{CM}/dep")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content_then_itself() {
    let api = Api::new().await;
    let _gc = api.server.spawn_background();
    api.post(
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await;
    api.post("/api/v1/namespaces/team/configmaps", cm("a", json!({}))).await;
    let reply = api.delete("/api/v1/namespaces/team").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["status"]["phase"], "Terminating");
    let refused = api.post("/api/v1/namespaces/team/configmaps", cm("b", json!({}))).await;
    assert!(
        refused.status == StatusCode::FORBIDDEN || refused.status == StatusCode::NOT_FOUND,
        "{}",
        refused.text
    );
    eventually("the namespace to go", || async {
        api.get("/api/v1/namespaces/team").await.status == StatusCode::NOT_FOUND
    })
    .await;
    assert_eq!(api.get("/api/v1/namespaces/team/configmaps/a").await.status, StatusCode::NOT_FOUND);
    let protected = api.delete("/api/v1/namespaces/default").await;
    assert_eq!(protected.status, StatusCode::FORBIDDEN);
    assert_eq!(
        protected.body["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[tokio::test]
async fn pods_bind_once_and_bound_pods_terminate_gracefully() {
    let api = Api::new().await;
    let pods = "/api/v1/namespaces/default/pods";
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}});
    assert_eq!(api.post(pods, pod).await.status, StatusCode::CREATED);
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}});
    assert_eq!(api.post(&format!("{pods}/p/binding"), binding.clone()).await.status, StatusCode::CREATED);
    assert_eq!(api.get(&format!("{pods}/p")).await.body["spec"]["nodeName"], "n1");
    assert_eq!(api.post(&format!("{pods}/p/binding"), binding).await.status, StatusCode::CONFLICT);
    let on_node = api.get(&format!("{pods}?fieldSelector=spec.nodeName%3Dn1")).await;
    assert_eq!(on_node.body["items"].as_array().unwrap().len(), 1);
    let deleting = api.delete(&format!("{pods}/p")).await;
    assert_eq!(deleting.status, StatusCode::OK);
    assert_eq!(deleting.body["metadata"]["deletionGracePeriodSeconds"], 30);
    assert_eq!(api.get(&format!("{pods}/p")).await.status, StatusCode::OK, "waits for its kubelet");
    api.delete(&format!("{pods}/p?gracePeriodSeconds=0")).await;
    assert_eq!(api.get(&format!("{pods}/p")).await.status, StatusCode::NOT_FOUND);
}

fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "required": ["size"], "properties": {"size": {"type": "integer"}}},
                    "status": {"type": "object", "properties": {"phase": {"type": "string"}}}
                }}}}]
        }
    })
}

#[tokio::test]
async fn custom_resources_are_served_while_their_crd_exists() {
    let api = Api::new().await;
    let created = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["status"]["conditions"][1]["type"], "Established");
    let discovery = api.get("/apis/example.com/v1").await;
    assert_eq!(discovery.body["resources"][0]["name"], "widgets");
    assert_eq!(discovery.body["resources"][0]["shortNames"], json!(["wd"]));
    let widgets = "/apis/example.com/v1/namespaces/default/widgets";
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"size": 3, "color": "red"}});
    let made = api.post(widgets, widget).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert!(made.body["spec"].get("color").is_none(), "pruned");
    let invalid = api.post(widgets, json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "v"}, "spec": {"size": "big"}})).await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(invalid.body["details"]["causes"][0]["field"], "spec.size");
    let status = api
        .patch(
            &format!("{widgets}/w/status"),
            "application/merge-patch+json",
            json!({"status": {"phase": "Ready"}}),
        )
        .await;
    assert_eq!(status.body["status"]["phase"], "Ready");
    let smp = api
        .patch(
            &format!("{widgets}/w"),
            "application/strategic-merge-patch+json",
            json!({"spec": {"size": 4}}),
        )
        .await;
    assert_eq!(smp.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    api.delete("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").await;
    assert_eq!(api.get(widgets).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn discovery_lists_groups_resources_and_subresources() {
    let api = Api::new().await;
    let groups = api.get("/apis").await.body;
    let names: Vec<&str> =
        groups["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"apps") && names.contains(&"apiextensions.k8s.io"), "{names:?}");
    let apps = api.get("/apis/apps/v1").await.body;
    let resources: Vec<&str> =
        apps["resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(resources, ["daemonsets", "daemonsets/status", "controllerrevisions"]);
    assert_eq!(apps["resources"][0]["shortNames"], json!(["ds"]));
    assert_eq!(apps["resources"][0]["categories"], json!(["all"]));
    let core = api.get("/api/v1").await.body;
    assert!(core["resources"].as_array().unwrap().iter().any(|r| r["name"] == "pods/binding"));
    assert_eq!(api.get("/version").await.body["major"], "1");
    let index = api.get("/openapi/v3").await.body;
    assert!(
        index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap()
            .starts_with("/openapi/v3/apis/apps/v1?hash=")
    );
}

#[tokio::test]
async fn leases_are_served_with_an_openapi_document() {
    let api = Api::new().await;
    let leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node-1"},
        "spec": {"holderIdentity": "node-1", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}});
    let created = api.post(leases, lease).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let doc = api.get("/openapi/v3/apis/coordination.k8s.io/v1").await.body;
    assert_eq!(
        doc["components"]["schemas"]["io.k8s.api.coordination.v1.Lease"]["x-kubernetes-group-version-kind"]
            [0]["kind"],
        "Lease"
    );
    assert!(everynode_apiserver::openapi::dangling_refs(&doc).is_empty());
}

#[tokio::test]
async fn objects_leaving_a_watched_selection_are_deleted_and_entering_ones_added() {
    let api = Api::new().await;
    let created = api.post(CM, cm("a", json!({"tier": "web"}))).await.body;
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    api.patch(
        &format!("{CM}/a"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"tier": "db"}}}),
    )
    .await;
    api.patch(&format!("{CM}/a"), "application/merge-patch+json", json!({"data": {"k": "2"}})).await;
    api.patch(
        &format!("{CM}/a"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"tier": "web"}}}),
    )
    .await;
    let watch = api
        .get(&format!("{CM}?watch=true&resourceVersion={rv}&timeoutSeconds=1&labelSelector=tier%3Dweb"))
        .await;
    let types: Vec<String> = watch
        .text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types, ["DELETED", "ADDED"]);
}

#[tokio::test]
async fn deleting_a_pod_that_other_writers_keep_changing_still_succeeds() {
    let api = Api::new().await;
    let pods = "/api/v1/namespaces/default/pods";
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]}});
    assert_eq!(api.post(pods, pod).await.status, StatusCode::CREATED);
    let writers: Vec<_> = (0..20)
        .map(|i| {
            let router = api.router.clone();
            tokio::spawn(async move {
                let body = json!({"metadata": {"annotations": {"n": i.to_string()}}}).to_string();
                let request = Request::builder()
                    .method(Method::PATCH)
                    .uri("/api/v1/namespaces/default/pods/p")
                    .header(header::CONTENT_TYPE, "application/merge-patch+json")
                    .body(Body::from(body))
                    .unwrap();
                router.oneshot(request).await.unwrap().status()
            })
        })
        .collect();
    let deleted = api.delete(&format!("{pods}/p")).await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert!(deleted.body["metadata"]["deletionTimestamp"].is_string());
    for writer in writers {
        writer.await.unwrap();
    }
}

#[tokio::test]
async fn objects_created_while_paging_reach_the_client_through_the_watch() {
    let api = Api::new().await;
    for name in ["b", "d", "f"] {
        api.post(CM, cm(name, json!({}))).await;
    }
    let first = api.get(&format!("{CM}?limit=2")).await.body;
    let list_rv = first["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    // Sorts before the page boundary ("d"): the second page cannot contain it.
    api.post(CM, cm("a", json!({}))).await;
    let token = first["metadata"]["continue"].as_str().unwrap();
    let second = api.get(&format!("{CM}?limit=2&continue={token}")).await.body;
    assert_eq!(
        second["metadata"]["resourceVersion"], list_rv,
        "every page reports the first page's revision"
    );
    let watch = api.get(&format!("{CM}?watch=true&resourceVersion={list_rv}&timeoutSeconds=1")).await;
    let added: Vec<String> = watch
        .text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(added, ["a"]);
}

#[tokio::test]
async fn continue_tokens_expire_with_the_history() {
    let api = Api::with_options(StoreOptions { history_window: 3, ..StoreOptions::default() }).await;
    for i in 0..3 {
        api.post(CM, cm(&format!("c{i}"), json!({}))).await;
    }
    let first = api.get(&format!("{CM}?limit=1")).await.body;
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    for i in 3..10 {
        api.post(CM, cm(&format!("c{i}"), json!({}))).await;
    }
    let expired = api.get(&format!("{CM}?limit=1&continue={token}")).await;
    assert_eq!(expired.status, StatusCode::GONE);
}
