//! The public API against the built-in endpoints and a CRD, plus the two walks kubectl makes over
//! a document — `explain`'s field lookup and `apply`'s patch-metadata lookup — redone in Rust so
//! the documents are checked the way kubectl reads them.

use everynode_patch::{FieldMeta, KindSchema, PatchStrategy, Schema};

use super::*;

fn endpoint(group: &str, kind: &str, plural: &str, namespaced: bool, subresources: &[&str]) -> Endpoint {
    Endpoint {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        namespaced,
        subresources: subresources.iter().map(|name| (*name).to_owned()).collect(),
        custom_schema: None,
    }
}

/// What the registry serves (see `registry/builtin.rs`).
fn builtin_endpoints() -> Vec<Endpoint> {
    vec![
        endpoint("", "Namespace", "namespaces", false, &["status"]),
        endpoint("", "Node", "nodes", false, &["status"]),
        endpoint("", "Pod", "pods", true, &["status", "binding"]),
        endpoint("", "Event", "events", true, &[]),
        endpoint("", "ConfigMap", "configmaps", true, &[]),
        endpoint("", "Secret", "secrets", true, &[]),
        endpoint("", "ServiceAccount", "serviceaccounts", true, &[]),
        endpoint("apps", "DaemonSet", "daemonsets", true, &["status"]),
        endpoint("apps", "ControllerRevision", "controllerrevisions", true, &[]),
        endpoint(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
            &["status"],
        ),
    ]
}

fn crontabs(cron_spec_description: &str) -> Endpoint {
    Endpoint {
        custom_schema: Some(json!({
            "type": "object",
            "description": "CronTab runs a command on a schedule.",
            "properties": {
                "spec": {
                    "type": "object",
                    "properties": {
                        "cronSpec": { "type": "string", "description": cron_spec_description },
                        "replicas": { "type": "integer" },
                    },
                    "required": ["cronSpec"],
                },
            },
        })),
        ..endpoint("stable.example.com", "CronTab", "crontabs", true, &["status", "scale"])
    }
}

fn all_endpoints() -> Vec<Endpoint> {
    let mut endpoints = builtin_endpoints();
    endpoints.push(crontabs("The cron schedule."));
    endpoints
}

fn openapi() -> OpenApi {
    OpenApi::new().expect("the built-in schemas generate")
}

fn document(openapi: &OpenApi, path: &str) -> Value {
    openapi.group_version(path, &all_endpoints()).unwrap_or_else(|| panic!("no document for {path}"))
}

fn schema<'a>(document: &'a Value, name: &str) -> &'a Value {
    document
        .pointer(&format!("/components/schemas/{}", name.replace('~', "~0").replace('/', "~1")))
        .unwrap_or(&Value::Null)
}

const GROUP_VERSIONS: [&str; 4] =
    ["api/v1", "apis/apps/v1", "apis/apiextensions.k8s.io/v1", "apis/stable.example.com/v1"];

#[test]
fn index_lists_every_served_group_version_with_a_hashed_url() {
    let index = openapi().index(&all_endpoints());
    let paths = index["paths"].as_object().expect("paths");
    assert_eq!(paths.keys().map(String::as_str).collect::<Vec<_>>(), {
        let mut sorted = GROUP_VERSIONS.to_vec();
        sorted.sort_unstable();
        sorted
    });
    let url = paths["apis/apps/v1"]["serverRelativeURL"].as_str().expect("serverRelativeURL");
    let hash = url.strip_prefix("/openapi/v3/apis/apps/v1?hash=").expect("URL under /openapi/v3");
    assert!(hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{url}");
}

#[test]
fn index_hashes_are_the_digests_of_the_served_bytes_and_change_with_the_crd() {
    let openapi = openapi();
    let before = openapi.index(&all_endpoints());
    let served = openapi.document("apis/stable.example.com/v1", &all_endpoints()).expect("CRD document");
    let url = before["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].as_str().unwrap_or_default();
    assert!(url.ends_with(&format!("?hash={}", digest::hex_digest(served.json()))));
    assert_eq!(openapi.index(&all_endpoints()), before, "hashes are stable");

    let mut changed = builtin_endpoints();
    changed.push(crontabs("The schedule, in cron format."));
    let after = openapi.index(&changed);
    assert_ne!(after["paths"]["apis/stable.example.com/v1"], before["paths"]["apis/stable.example.com/v1"]);
    assert_eq!(after["paths"]["apis/apps/v1"], before["paths"]["apis/apps/v1"]);
}

#[test]
fn documents_are_cached_until_their_endpoints_change() {
    let openapi = openapi();
    let first = openapi.document("apis/apps/v1", &all_endpoints()).expect("apps/v1");
    let mut reordered = all_endpoints();
    reordered.reverse();
    let second = openapi.document("apis/apps/v1", &reordered).expect("apps/v1");
    assert!(Arc::ptr_eq(&first, &second));
    let mut fewer = all_endpoints();
    fewer.retain(|endpoint| endpoint.kind != "ControllerRevision");
    let third = openapi.document("apis/apps/v1", &fewer).expect("apps/v1");
    assert!(!Arc::ptr_eq(&first, &third));
    assert!(schema(third.value(), "io.k8s.api.apps.v1.ControllerRevision").is_null());
}

#[test]
fn group_versions_nobody_serves_have_no_document() {
    let openapi = openapi();
    assert!(openapi.group_version("apis/batch/v1", &all_endpoints()).is_none());
    assert!(openapi.group_version("apis/apps", &all_endpoints()).is_none());
    assert!(openapi.group_version("apis/stable.example.com/v1", &builtin_endpoints()).is_none());
}

#[test]
fn every_ref_in_every_document_resolves_within_it() {
    let openapi = openapi();
    for path in GROUP_VERSIONS {
        let document = document(&openapi, path);
        assert_eq!(dangling_refs(&document), Vec::<String>::new(), "{path}");
        assert_eq!(document["openapi"], "3.0.0");
    }
}

#[test]
fn apps_document_describes_daemon_sets_with_their_gvk() {
    let document = document(&openapi(), "apis/apps/v1");
    let daemon_set = schema(&document, "io.k8s.api.apps.v1.DaemonSet");
    assert_eq!(
        daemon_set["x-kubernetes-group-version-kind"],
        json!([{ "group": "apps", "kind": "DaemonSet", "version": "v1" }])
    );
    let update_strategy =
        &schema(&document, "io.k8s.api.apps.v1.DaemonSetSpec")["properties"]["updateStrategy"];
    assert!(update_strategy["description"].as_str().is_some_and(|text| text.contains("update strategy")));
    // The pod template's schemas come along, so the document stands alone.
    assert!(!schema(&document, "io.k8s.api.core.v1.PodSpec").is_null());
    assert!(schema(&document, "io.k8s.api.core.v1.Pod").is_null());
}

#[test]
fn pod_spec_containers_merge_by_name() {
    for path in ["api/v1", "apis/apps/v1"] {
        let document = document(&openapi(), path);
        let containers = &schema(&document, "io.k8s.api.core.v1.PodSpec")["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name", "{path}");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge", "{path}");
        assert_eq!(containers["x-kubernetes-list-type"], "map", "{path}");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]), "{path}");
    }
}

#[test]
fn every_operation_carries_a_gvk_and_every_write_accepts_field_validation() {
    let openapi = openapi();
    for path in GROUP_VERSIONS {
        let document = document(&openapi, path);
        for (url, item) in document["paths"].as_object().into_iter().flatten() {
            for method in ["get", "put", "post", "patch", "delete"] {
                let Some(operation) = item.get(method) else { continue };
                assert!(operation["x-kubernetes-group-version-kind"].is_object(), "{method} {url}");
                assert!(operation["x-kubernetes-action"].is_string(), "{method} {url}");
                if matches!(method, "put" | "post" | "patch") {
                    let parameters = operation["parameters"].as_array().into_iter().flatten();
                    let validated =
                        parameters.into_iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query");
                    assert!(validated, "{method} {url} lacks fieldValidation");
                }
            }
        }
    }
}

#[test]
fn crd_document_exposes_the_open_api_v3_schema() {
    let document = document(&openapi(), "apis/stable.example.com/v1");
    let crontab = schema(&document, "com.example.stable.v1.CronTab");
    assert_eq!(crontab["description"], "CronTab runs a command on a schedule.");
    assert_eq!(crontab["properties"]["spec"]["properties"]["cronSpec"]["description"], "The cron schedule.");
    assert_eq!(
        crontab["x-kubernetes-group-version-kind"],
        json!([{ "group": "stable.example.com", "kind": "CronTab", "version": "v1" }])
    );
    assert!(!schema(&document, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").is_null());
    assert!(!schema(&document, "com.example.stable.v1.CronTabList").is_null());
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status"));
    // `scale` takes autoscaling/v1 Scale, which is not published: no operation refers to it.
    assert!(!paths.keys().any(|url| url.ends_with("/scale")));
    let patch = &paths["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
    assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_none());
}

#[test]
fn built_in_patches_are_strategic() {
    let document = document(&openapi(), "apis/apps/v1");
    let patch = &document["paths"]["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]["patch"];
    assert!(patch["requestBody"]["content"].get("application/strategic-merge-patch+json").is_some());
}

#[test]
fn pods_binding_subresource_takes_a_binding() {
    let document = document(&openapi(), "api/v1");
    let binding = &document["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/binding"]["post"];
    assert_eq!(
        binding["x-kubernetes-group-version-kind"],
        json!({ "group": "", "kind": "Binding", "version": "v1" })
    );
    assert_eq!(schema(&document, "io.k8s.api.core.v1.Binding")["required"], json!(["target"]));
}

/// What `kubectl explain <plural>.<field path>` prints, reduced to the field's description and the
/// names of the fields below it. Mirrors `explain/v2/templates/plaintext.tmpl`: the GVK comes from
/// an operation on the resource's list or item path, the schema is the component carrying that
/// GVK, and fields are followed through `$ref`, `items`, `additionalProperties` and `allOf`.
struct Explained {
    description: String,
    fields: Vec<String>,
}

fn explain(document: &Value, prefix: &str, plural: &str, field_path: &[&str]) -> Option<Explained> {
    let candidates = [
        format!("{prefix}/{plural}"),
        format!("{prefix}/{plural}/{{name}}"),
        format!("{prefix}/namespaces/{{namespace}}/{plural}"),
        format!("{prefix}/namespaces/{{namespace}}/{plural}/{{name}}"),
    ];
    let gvk = candidates.iter().find_map(|path| {
        let item = document["paths"].get(path)?;
        ["get", "post", "put", "patch", "delete"]
            .iter()
            .find_map(|method| item.get(*method)?.get("x-kubernetes-group-version-kind"))
    })?;
    let kind_schema = document["components"]["schemas"].as_object()?.values().find(|schema| {
        schema["x-kubernetes-group-version-kind"].as_array().is_some_and(|gvks| gvks.contains(gvk))
    })?;
    let mut field = None;
    let resolved = walk(document, kind_schema, field_path, &mut field, 0)?;
    let description = match field {
        Some(field) => field["description"].as_str().unwrap_or_default().to_owned(),
        None => resolved["description"].as_str().unwrap_or_default().to_owned(),
    };
    let mut fields = Vec::new();
    collect_fields(document, resolved, &mut fields, 0);
    Some(Explained { description, fields })
}

fn resolve<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str().and_then(|target| target.strip_prefix("#/components/schemas/")) {
        Some(name) => &document["components"]["schemas"][name],
        None => schema,
    }
}

fn walk<'a>(
    document: &'a Value,
    schema: &'a Value,
    path: &[&str],
    field: &mut Option<&'a Value>,
    depth: usize,
) -> Option<&'a Value> {
    if depth > 32 {
        return None;
    }
    let resolved = resolve(document, schema);
    let Some((first, rest)) = path.split_first() else { return Some(resolved) };
    if let Some(property) = resolved["properties"].get(*first) {
        if rest.is_empty() {
            *field = Some(property);
        }
        return walk(document, property, rest, field, depth + 1);
    }
    if let Some(items) = resolved.get("items") {
        return walk(document, items, path, field, depth + 1);
    }
    if let Some(values) = resolved.get("additionalProperties").filter(|values| values.is_object()) {
        return walk(document, values, path, field, depth + 1);
    }
    resolved["allOf"]
        .as_array()?
        .iter()
        .find_map(|alternative| walk(document, alternative, path, field, depth + 1))
}

fn collect_fields(document: &Value, schema: &Value, out: &mut Vec<String>, depth: usize) {
    if depth > 8 {
        return;
    }
    let resolved = resolve(document, schema);
    out.extend(
        resolved["properties"].as_object().into_iter().flat_map(|properties| properties.keys().cloned()),
    );
    for alternative in resolved["allOf"].as_array().into_iter().flatten() {
        collect_fields(document, alternative, out, depth + 1);
    }
    if let Some(items) = resolved.get("items") {
        collect_fields(document, items, out, depth + 1);
    }
}

#[test]
fn explain_daemonset_spec_update_strategy_prints_its_fields() {
    let document = document(&openapi(), "apis/apps/v1");
    let explained =
        explain(&document, "/apis/apps/v1", "daemonsets", &["spec", "updateStrategy"]).expect("explained");
    assert_eq!(explained.description, "An update strategy to replace existing DaemonSet pods with new pods.");
    assert_eq!(explained.fields, ["rollingUpdate", "type"]);
}

#[test]
fn explain_pods_spec_containers_prints_container_fields() {
    let document = document(&openapi(), "api/v1");
    let explained = explain(&document, "/api/v1", "pods", &["spec", "containers"]).expect("explained");
    assert!(
        explained.description.starts_with("List of containers belonging to the pod."),
        "{}",
        explained.description
    );
    for field in ["image", "name", "ports", "env", "volumeMounts"] {
        assert!(
            explained.fields.iter().any(|known| known == field),
            "missing {field}: {:?}",
            explained.fields
        );
    }
}

#[test]
fn explain_finds_custom_resource_fields() {
    let document = document(&openapi(), "apis/stable.example.com/v1");
    let explained = explain(&document, "/apis/stable.example.com/v1", "crontabs", &["spec", "cronSpec"])
        .expect("explained");
    assert_eq!(explained.description, "The cron schedule.");
    let metadata =
        explain(&document, "/apis/stable.example.com/v1", "crontabs", &["metadata"]).expect("explained");
    assert!(metadata.fields.iter().any(|field| field == "labels"));
}

/// The patch metadata kubectl's client-side apply finds at `path` below the kind schema `root`.
/// Mirrors apimachinery's `PatchMetaFromOpenAPIV3`: the extensions are read from the property
/// itself; then lists step into `items`, and `allOf[0]` and `$ref` are followed.
fn patch_meta(document: &Value, root: &str, path: &[&str]) -> Option<(Option<String>, Option<String>)> {
    let mut schema = schema(document, root);
    let (last, parents) = path.split_last()?;
    for name in parents {
        let mut next = schema["properties"].get(*name)?;
        if let Some(items) = next.get("items") {
            next = items;
        }
        if let Some(first) = next["allOf"].get(0) {
            next = first;
        }
        schema = resolve(document, next);
    }
    let property = schema["properties"].get(*last)?;
    let text = |key: &str| property[key].as_str().map(str::to_owned);
    Some((text("x-kubernetes-patch-strategy"), text("x-kubernetes-patch-merge-key")))
}

#[test]
fn client_side_apply_finds_merge_keys_through_the_daemon_set_template() {
    let document = document(&openapi(), "apis/apps/v1");
    let root = "io.k8s.api.apps.v1.DaemonSet";
    let meta =
        |path: &[&str]| patch_meta(&document, root, path).unwrap_or_else(|| panic!("no field {path:?}"));
    let merge = |key: &str| (Some("merge".to_owned()), Some(key.to_owned()));
    assert_eq!(meta(&["spec", "template", "spec", "containers"]), merge("name"));
    assert_eq!(meta(&["spec", "template", "spec", "containers", "ports"]), merge("containerPort"));
    assert_eq!(
        meta(&["spec", "template", "spec", "volumes"]),
        (Some("merge,retainKeys".into()), Some("name".into()))
    );
    assert_eq!(meta(&["metadata", "ownerReferences"]), merge("uid"));
    assert_eq!(meta(&["spec", "template", "spec", "tolerations"]), (None, None));
}

/// The (strategy, merge key) pair everynode-patch applies, in the extension's spelling.
fn expected(field: &FieldMeta) -> (Option<String>, Option<String>) {
    let strategy = match (field.strategy, field.retain_keys) {
        (PatchStrategy::Default, _) => None,
        (PatchStrategy::Merge, false) => Some("merge".to_owned()),
        (PatchStrategy::Merge, true) => Some("merge,retainKeys".to_owned()),
        (PatchStrategy::Replace, _) => Some("replace".to_owned()),
    };
    (strategy, field.merge_key.as_ref().map(|key| key.to_string()))
}

/// Where everynode-patch's tables stop short of upstream: they treat volumes as untyped, so the
/// ObjectMeta of an ephemeral volume's claim template merges its finalizers and ownerReferences
/// as plain lists on the server. The published (upstream) tags are right; the table should learn
/// them.
const KNOWN_GAPS: &[&str] = &["volumes.ephemeral.volumeClaimTemplate.metadata."];

/// Walks every property below `schema` (to `depth` levels, stopping at cycles) and compares its
/// patch extensions with what `kind` says for the same path.
fn compare(
    document: &Value,
    kind: &KindSchema,
    schema: &Value,
    path: &mut Vec<String>,
    stack: &mut Vec<String>,
    mismatches: &mut Vec<String>,
) {
    if path.len() >= 8 {
        return;
    }
    for (name, property) in resolve(document, schema)["properties"].as_object().into_iter().flatten() {
        path.push(name.clone());
        let segments: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = |key: &str| property[key].as_str().map(str::to_owned);
        let published = (text("x-kubernetes-patch-strategy"), text("x-kubernetes-patch-merge-key"));
        // ControllerRevision.data: upstream tags nothing; everynode-patch replaces the opaque
        // RawExtension whole, which is what an untagged object would do for a client anyway.
        let exempt = segments == ["data"] && expected(&kind.field(&segments)).0.as_deref() == Some("replace")
            || KNOWN_GAPS.iter().any(|gap| segments.join(".").contains(gap));
        if published != expected(&kind.field(&segments)) && !exempt {
            mismatches.push(format!(
                "{}: published {published:?}, applied {:?}",
                segments.join("."),
                expected(&kind.field(&segments))
            ));
        }
        let mut next = property.get("items").unwrap_or(property);
        if let Some(first) = next["allOf"].get(0) {
            next = first;
        }
        if let Some(target) = next["$ref"].as_str().filter(|target| !stack.iter().any(|seen| seen == target))
        {
            stack.push(target.to_owned());
            compare(document, kind, next, path, stack, mismatches);
            stack.pop();
        }
        path.pop();
    }
}

#[test]
fn published_patch_metadata_agrees_with_what_the_server_applies() {
    let openapi = openapi();
    let endpoints = all_endpoints();
    for endpoint in builtin_endpoints() {
        let Some(kind) = KindSchema::for_kind(&endpoint.kind) else { continue };
        let document = openapi
            .group_version(&GroupVersion::new(&endpoint.group, &endpoint.version).path(), &endpoints)
            .expect("document");
        let root = openapi
            .builtin
            .kind(&GroupVersion::new(&endpoint.group, &endpoint.version), &endpoint.kind)
            .expect("built-in kind");
        let mut mismatches = Vec::new();
        compare(
            &document,
            &kind,
            schema(&document, &root.schema),
            &mut Vec::new(),
            &mut vec![root.schema.clone()],
            &mut mismatches,
        );
        assert!(mismatches.is_empty(), "{}: {mismatches:#?}", endpoint.kind);
    }
}
