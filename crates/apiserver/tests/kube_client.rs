//! kube-rs against the in-process router: typed CRUD, selectors and paging, watches and
//! watchers, reflectors, patches, conflicts, status, validation, cascading deletion, compaction
//! and pod binding, exactly as a controller built on kube-rs would use them.

#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::pin::pin;
use std::time::Duration;

use anyhow::{Context, bail};
use everynode_apiserver::ApiServer;
use everynode_store::{Store, StoreOptions};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, PartialObjectMeta, Patch, PatchParams, PostParams, ResourceExt,
    WatchEvent, WatchParams,
};
use kube::runtime::{reflector, watcher};
use kube::{Client, Error};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Guards every wait on the server so a broken stream fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(10);

/// A server over an in-memory store and a kube client that calls its router directly (no
/// socket): the router is a `tower::Service` over any `http_body::Body`, kube's included.
async fn serve(options: StoreOptions) -> anyhow::Result<(ApiServer, Client)> {
    let store = Store::open_in_memory(options)?;
    let server = ApiServer::new(store).await?;
    let client = Client::new(server.router(), "default");
    Ok((server, client))
}

async fn client() -> anyhow::Result<Client> {
    Ok(serve(StoreOptions::default()).await?.1)
}

fn from_json<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).expect("fixture must decode")
}

/// A valid DaemonSet selecting `app=<name>`.
fn ds(name: &str) -> DaemonSet {
    from_json(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "agent", "image": "agent:1"}]},
            },
        },
    }))
}

fn pod(name: &str) -> Pod {
    from_json(json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
}

fn image(ds: &DaemonSet) -> Option<String> {
    ds.spec.template.spec.as_ref()?.containers.first()?.image.clone()
}

fn number_ready(ds: &DaemonSet) -> Option<i32> {
    ds.status.as_ref().map(|s| s.number_ready)
}

/// The server's answer when `result` failed with a Status.
fn api_error<T: std::fmt::Debug>(result: Result<T, Error>) -> kube::core::Status {
    match result {
        Err(Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The next item of `stream`, or an error after [`PATIENCE`].
async fn next<S: Stream + Unpin>(stream: &mut S) -> anyhow::Result<S::Item> {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .context("timed out waiting for the stream")?
        .context("the stream ended")
}

/// The server's view, as name -> resourceVersion.
async fn versions(api: &Api<DaemonSet>) -> anyhow::Result<BTreeMap<String, String>> {
    let list = api.list(&ListParams::default()).await?;
    Ok(list.items.iter().map(|d| (d.name_any(), d.resource_version().unwrap_or_default())).collect())
}

#[tokio::test]
async fn daemonsets_round_trip_through_create_get_and_list() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let created = api.create(&PostParams::default(), &ds("fluentd")).await?;
    assert!(created.uid().is_some(), "the server assigns a uid");
    assert!(created.resource_version().is_some(), "the server assigns a resourceVersion");
    assert_eq!(created.namespace().as_deref(), Some("default"));

    let fetched = api.get("fluentd").await?;
    assert_eq!(fetched.uid(), created.uid());
    assert_eq!(image(&fetched).as_deref(), Some("agent:1"));

    let list = api.list(&ListParams::default()).await?;
    assert_eq!(list.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["fluentd"]);
    assert!(list.metadata.resource_version.is_some(), "lists carry a resourceVersion");

    let missing = api_error(api.get("nope").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    let again = api_error(api.create(&PostParams::default(), &ds("fluentd")).await);
    assert_eq!((again.code, again.reason.as_str()), (409, "AlreadyExists"));
    Ok(())
}

#[tokio::test]
async fn lists_filter_by_label_selector() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &ds(name)).await?;
    }
    let only_b = api.list(&ListParams::default().labels("app=b")).await?;
    assert_eq!(only_b.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["b"]);
    let not_b = api.list(&ListParams::default().labels("app notin (b)")).await?;
    assert_eq!(not_b.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["a", "c"]);
    let by_name = api.list(&ListParams::default().fields("metadata.name=c")).await?;
    assert_eq!(by_name.items.iter().map(ResourceExt::name_any).collect::<Vec<_>>(), ["c"]);
    Ok(())
}

#[tokio::test]
async fn lists_page_with_limit_and_continue_tokens() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    for i in 0..7 {
        api.create(&PostParams::default(), &ds(&format!("ds-{i}"))).await?;
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(3);
    let mut pages = 0;
    loop {
        let page = api.list(&params).await?;
        pages += 1;
        assert!(page.items.len() <= 3, "page {pages} has {} items", page.items.len());
        seen.extend(page.items.iter().map(ResourceExt::name_any));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<String> = (0..7).map(|i| format!("ds-{i}")).collect();
    assert_eq!(seen, want);
    Ok(())
}

#[tokio::test]
async fn watch_from_a_list_sees_added_modified_and_deleted() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let rv = api.list(&ListParams::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut events = pin!(api.watch(&WatchParams::default(), &rv).await?);

    api.create(&PostParams::default(), &ds("w")).await?;
    let patch = json!({"metadata": {"labels": {"touched": "yes"}}});
    api.patch("w", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    api.delete("w", &DeleteParams::default()).await?;

    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match next(&mut events).await?? {
            WatchEvent::Added(d) => kinds.push(("ADDED", d.name_any())),
            WatchEvent::Modified(d) => kinds.push(("MODIFIED", d.name_any())),
            WatchEvent::Deleted(d) => kinds.push(("DELETED", d.name_any())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(status) => bail!("watch failed: {status:?}"),
        }
    }
    let w = String::from("w");
    assert_eq!(kinds, [("ADDED", w.clone()), ("MODIFIED", w.clone()), ("DELETED", w)]);
    Ok(())
}

/// Drives a kube-runtime watcher through its initial list and then a create, an update and a
/// delete; `config` picks list-then-watch or a streaming list (`sendInitialEvents`).
async fn watcher_follows_writes(config: watcher::Config) -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    api.create(&PostParams::default(), &ds("before")).await?;
    let mut events = pin!(watcher(api.clone(), config));

    let mut initial = Vec::new();
    loop {
        match next(&mut events).await?? {
            watcher::Event::Init => {}
            watcher::Event::InitApply(d) => initial.push(d.name_any()),
            watcher::Event::InitDone => break,
            other => bail!("unexpected event before InitDone: {other}"),
        }
    }
    assert_eq!(initial, ["before"], "the initial list replays existing objects");

    api.create(&PostParams::default(), &ds("after")).await?;
    let patch = json!({"metadata": {"labels": {"touched": "yes"}}});
    api.patch("after", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    api.delete("before", &DeleteParams::default()).await?;

    let mut seen = Vec::new();
    while seen.len() < 3 {
        match next(&mut events).await?? {
            watcher::Event::Apply(d) => {
                let touched = d.labels().get("touched").is_some();
                seen.push(format!("apply {}{}", d.name_any(), if touched { " (touched)" } else { "" }));
            }
            watcher::Event::Delete(d) => seen.push(format!("delete {}", d.name_any())),
            other => bail!("unexpected event while watching: {other}"),
        }
    }
    assert_eq!(seen, ["apply after", "apply after (touched)", "delete before"]);
    Ok(())
}

#[tokio::test]
async fn watcher_lists_then_sees_applies_and_deletes() -> anyhow::Result<()> {
    watcher_follows_writes(watcher::Config::default()).await
}

#[tokio::test]
async fn streaming_list_watcher_replays_initial_events_then_follows() -> anyhow::Result<()> {
    watcher_follows_writes(watcher::Config::default().streaming_lists()).await
}

#[tokio::test]
async fn reflector_store_converges_to_the_server_state() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    for name in ["keep", "change", "drop"] {
        api.create(&PostParams::default(), &ds(name)).await?;
    }
    let (reader, writer) = reflector::store();
    let mut events = pin!(reflector(writer, watcher(api.clone(), watcher::Config::default())));
    while !matches!(next(&mut events).await??, watcher::Event::InitDone) {}

    api.create(&PostParams::default(), &ds("new")).await?;
    let patch =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}});
    api.patch("change", &PatchParams::default(), &Patch::Strategic(&patch)).await?;
    api.delete("drop", &DeleteParams::default()).await?;

    let want = versions(&api).await?;
    loop {
        let cached: BTreeMap<String, String> =
            reader.state().iter().map(|d| (d.name_any(), d.resource_version().unwrap_or_default())).collect();
        if cached == want {
            break;
        }
        next(&mut events).await??;
    }
    let change = reader.state().into_iter().find(|d| d.name_any() == "change").context("change cached")?;
    assert_eq!(image(&change).as_deref(), Some("agent:2"));
    Ok(())
}

#[tokio::test]
async fn strategic_merge_and_json_patches_all_apply() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let mut created = ds("p");
    created
        .spec
        .template
        .spec
        .as_mut()
        .context("pod spec")?
        .containers
        .push(from_json(json!({"name": "sidecar", "image": "sidecar:1"})));
    api.create(&PostParams::default(), &created).await?;
    let params = PatchParams::default();

    // Strategic: containers merge by name, so the sidecar survives.
    let strategic =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:2"}]}}}});
    let after = api.patch("p", &params, &Patch::Strategic(&strategic)).await?;
    let containers = &after.spec.template.spec.as_ref().context("pod spec")?.containers;
    let images: Vec<_> = containers.iter().map(|c| c.image.clone().unwrap_or_default()).collect();
    assert_eq!(images, ["agent:2", "sidecar:1"], "strategic merge keeps unnamed containers");

    // Merge: lists are replaced; null deletes a key.
    let merge = json!({"metadata": {"labels": {"tier": "node", "app": null}}});
    let after = api.patch("p", &params, &Patch::Merge(&merge)).await?;
    assert_eq!(after.labels().get("tier").map(String::as_str), Some("node"));
    assert!(!after.labels().contains_key("app"), "null removes the label");

    // JSON patch: test-and-set.
    let json_patch: kube_json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/labels/tier", "value": "node"},
        {"op": "add", "path": "/metadata/annotations", "value": {"owner": "team-a"}},
    ]))?;
    let after = api.patch("p", &params, &Patch::Json::<()>(json_patch)).await?;
    assert_eq!(after.annotations().get("owner").map(String::as_str), Some("team-a"));

    let failing: kube_json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/metadata/labels/tier", "value": "other"}]))?;
    let status = api_error(api.patch("p", &params, &Patch::Json::<()>(failing)).await);
    assert_eq!(status.code, 422, "a failed test op is unprocessable, got {status:?}");
    Ok(())
}

#[tokio::test]
async fn replace_with_a_stale_resource_version_is_a_conflict() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let original = api.create(&PostParams::default(), &ds("r")).await?;

    let mut first = original.clone();
    first.labels_mut().insert("edit".into(), "first".into());
    let replaced = api.replace("r", &PostParams::default(), &first).await?;
    assert_ne!(replaced.resource_version(), original.resource_version());

    let mut stale = original;
    stale.labels_mut().insert("edit".into(), "second".into());
    let status = api_error(api.replace("r", &PostParams::default(), &stale).await);
    assert_eq!((status.code, status.reason.as_str()), (409, "Conflict"));
    assert_eq!(api.get("r").await?.labels().get("edit").map(String::as_str), Some("first"));
    Ok(())
}

#[tokio::test]
async fn status_writes_change_only_status_and_plain_writes_only_the_rest() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let created = api.create(&PostParams::default(), &ds("s")).await?;
    let with_image = |d: &DaemonSet, image: &str| -> anyhow::Result<DaemonSet> {
        let mut d = d.clone();
        let pod_spec = d.spec.template.spec.as_mut().context("pod spec")?;
        pod_spec.containers[0].image = Some(image.into());
        Ok(d)
    };

    // replace_status: the status sticks, the spec change in the same body does not.
    let mut body = with_image(&created, "agent:status-put")?;
    body.status.as_mut().context("status")?.number_ready = 3;
    let after = api.replace_status("s", &PostParams::default(), &body).await?;
    assert_eq!((number_ready(&after), image(&after).as_deref()), (Some(3), Some("agent:1")));

    // patch_status: the same with a merge patch.
    let patch = json!({
        "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "agent:status-patch"}]}}},
        "status": {"numberReady": 4},
    });
    let after = api.patch_status("s", &PatchParams::default(), &Patch::Merge(&patch)).await?;
    assert_eq!((number_ready(&after), image(&after).as_deref()), (Some(4), Some("agent:1")));

    // replace: the spec change sticks, the status change does not.
    let mut body = with_image(&after, "agent:2")?;
    body.status.as_mut().context("status")?.number_ready = 9;
    let after = api.replace("s", &PostParams::default(), &body).await?;
    assert_eq!((number_ready(&after), image(&after).as_deref()), (Some(4), Some("agent:2")));
    let stored = api.get("s").await?;
    assert_eq!((number_ready(&stored), image(&stored).as_deref()), (Some(4), Some("agent:2")));
    Ok(())
}

#[tokio::test]
async fn creating_an_invalid_daemonset_is_unprocessable_with_field_causes() -> anyhow::Result<()> {
    let api: Api<DaemonSet> = Api::default_namespaced(client().await?);
    let mut bad = ds("bad");
    // The selector no longer matches the template's labels.
    bad.spec.selector = from_json(json!({"matchLabels": {"app": "other"}}));
    let status = api_error(api.create(&PostParams::default(), &bad).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    let fields: Vec<String> =
        status.details.iter().flat_map(|d| d.causes.iter().map(|c| c.field.clone())).collect();
    assert!(
        fields.iter().any(|f| f == "spec.template.metadata.labels"),
        "causes name the offending field, got {fields:?}"
    );
    assert!(status.message.contains("\"bad\" is invalid"), "message: {}", status.message);
    Ok(())
}

/// The revision of the first DELETED event on `events` (a deleted object carries the deletion's
/// revision as its resourceVersion).
async fn deletion_revision<K, S>(events: &mut S) -> anyhow::Result<u64>
where
    K: kube::Resource,
    S: Stream<Item = Result<WatchEvent<K>, Error>> + Unpin,
{
    loop {
        if let WatchEvent::Deleted(object) = next(events).await?? {
            return Ok(object.resource_version().context("deleted objects carry a revision")?.parse()?);
        }
    }
}

#[tokio::test]
async fn foreground_deletion_removes_the_owned_config_map_before_the_daemonset() -> anyhow::Result<()> {
    let (server, client) = serve(StoreOptions::default()).await?;
    let gc = server.spawn_background();
    let daemonsets: Api<DaemonSet> = Api::default_namespaced(client.clone());
    let config_maps: Api<ConfigMap> = Api::default_namespaced(client);
    let owner = daemonsets.create(&PostParams::default(), &ds("owner")).await?;
    let owned: ConfigMap = from_json(json!({
        "metadata": {
            "name": "owned",
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "DaemonSet", "name": "owner",
                "uid": owner.uid(), "blockOwnerDeletion": true,
            }],
        },
        "data": {"k": "v"},
    }));
    config_maps.create(&PostParams::default(), &owned).await?;

    let rv = daemonsets.list(&ListParams::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut ds_events = pin!(daemonsets.watch(&WatchParams::default(), &rv).await?);
    let mut cm_events = pin!(config_maps.watch(&WatchParams::default(), &rv).await?);

    let answer = daemonsets.delete("owner", &DeleteParams::foreground()).await?;
    let pending = answer.left().context("foreground deletion keeps the owner for now")?;
    assert!(pending.finalizers().iter().any(|f| f == "foregroundDeletion"));

    let cm_deleted = deletion_revision(&mut cm_events).await?;
    let ds_deleted = deletion_revision(&mut ds_events).await?;
    assert!(cm_deleted < ds_deleted, "the dependent ({cm_deleted}) goes before its owner ({ds_deleted})");
    assert_eq!(api_error(daemonsets.get("owner").await).code, 404);
    assert_eq!(api_error(config_maps.get("owned").await).code, 404);
    gc.abort();
    Ok(())
}

#[tokio::test]
async fn watching_from_a_compacted_resource_version_is_gone() -> anyhow::Result<()> {
    let (_server, client) = serve(StoreOptions { history_window: 5, ..Default::default() }).await?;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    for i in 0..20 {
        api.create(&PostParams::default(), &from_json(json!({"metadata": {"name": format!("cm-{i}")}})))
            .await?;
    }
    let mut events = pin!(api.watch(&WatchParams::default(), "1").await?);
    match next(&mut events).await?? {
        WatchEvent::Error(status) => {
            assert_eq!((status.code, status.reason.as_str()), (410, "Expired"), "status: {status:?}")
        }
        other => bail!("expected a 410 error event, got {other:?}"),
    }

    // A recent revision is still in the window.
    let rv = api.list(&ListParams::default()).await?.metadata.resource_version.unwrap_or_default();
    let mut events = pin!(api.watch(&WatchParams::default(), &rv).await?);
    api.create(&PostParams::default(), &from_json(json!({"metadata": {"name": "late"}}))).await?;
    match next(&mut events).await?? {
        WatchEvent::Added(cm) => assert_eq!(cm.name_any(), "late"),
        other => bail!("expected ADDED late, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn binding_assigns_a_pod_to_its_node() -> anyhow::Result<()> {
    let api: Api<Pod> = Api::default_namespaced(client().await?);
    api.create(&PostParams::default(), &pod("web")).await?;
    let binding = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": "web"},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"},
    });
    let answer: Value = api.create_subresource("binding", "web", &PostParams::default(), &binding).await?;
    assert_eq!(answer["status"], "Success", "answer: {answer}");

    let bound = api.get("web").await?;
    assert_eq!(bound.spec.as_ref().and_then(|s| s.node_name.as_deref()), Some("node-1"));
    let scheduled =
        bound.status.iter().flat_map(|s| s.conditions.iter().flatten()).find(|c| c.type_ == "PodScheduled");
    assert_eq!(scheduled.map(|c| c.status.as_str()), Some("True"));

    let again: Result<Value, _> =
        api.create_subresource("binding", "web", &PostParams::default(), &binding).await;
    assert_eq!(api_error(again).code, 409, "a bound pod cannot be bound again");
    Ok(())
}

#[tokio::test]
async fn deleting_a_bound_pod_is_graceful_until_grace_zero() -> anyhow::Result<()> {
    let api: Api<Pod> = Api::default_namespaced(client().await?);
    let mut bound = pod("bound");
    bound.spec.as_mut().context("spec")?.node_name = Some("node-1".into());
    api.create(&PostParams::default(), &bound).await?;

    let answer = api.delete("bound", &DeleteParams::default()).await?;
    let terminating = answer.left().context("a bound pod waits for its kubelet")?;
    assert!(terminating.metadata.deletion_timestamp.is_some());
    let stored = api.get("bound").await?;
    assert!(stored.metadata.deletion_timestamp.is_some(), "the pod stays, marked for deletion");
    assert_eq!(stored.metadata.deletion_grace_period_seconds, Some(30));

    let answer =
        api.delete("bound", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await?;
    assert!(answer.is_right(), "grace 0 removes the pod at once");
    assert_eq!(api_error(api.get("bound").await).code, 404);

    // An unbound pod has nobody to wait for.
    api.create(&PostParams::default(), &pod("pending")).await?;
    assert!(api.delete("pending", &DeleteParams::default()).await?.is_right());
    Ok(())
}

#[tokio::test]
async fn metadata_only_requests_serve_partial_object_metadata() -> anyhow::Result<()> {
    let client = client().await?;
    let api: Api<DaemonSet> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &ds("meta")).await?;

    let one = api.get_metadata("meta").await?;
    assert_eq!(one.metadata.name.as_deref(), Some("meta"));
    let list = api.list_metadata(&ListParams::default()).await?;
    assert_eq!(list.items.iter().map(|m| m.name_any()).collect::<Vec<_>>(), ["meta"]);

    // kube 5's way to watch metadata only.
    let metadata: Api<PartialObjectMeta<DaemonSet>> = Api::default_namespaced(client);
    let mut events = pin!(watcher(metadata, watcher::Config::default()));
    let mut initial = Vec::new();
    loop {
        match next(&mut events).await?? {
            watcher::Event::Init => {}
            watcher::Event::InitApply(m) => initial.push(m.name_any()),
            watcher::Event::InitDone => break,
            other => bail!("unexpected event before InitDone: {other}"),
        }
    }
    assert_eq!(initial, ["meta"]);
    Ok(())
}
